#!/usr/bin/env bash
# scripts/vmca-chaos (issue 12, item 3): a short seeded run against a
# 4-node cluster (in network namespaces when this machine allows them, so
# partitions are injected too) passes every check; the same seed prints the
# same injection schedule, and another seed another one.
. "$(dirname "$0")/lib.sh"
CHAOS=$VMCA_SOURCE/scripts/vmca-chaos
make_cluster 4
trap 'rc=$?; "$VMCA_SOURCE/scripts/vmca-cluster" down --config "$CONF" > /dev/null 2>&1; (exit $rc); cleanup' EXIT
netns=()
if ip netns add "vmca-probe-$$" 2>/dev/null; then ip netns del "vmca-probe-$$"; netns=(--netns)
else echo "SKIP (part): no network namespaces here: no partitions injected"; fi
chaos() { "$CHAOS" --config "$CONF" --build "$VMCA_BUILD" --duration 30 "${netns[@]}" "$@"; }

chaos --seed 5 --schedule > "$T/sched5.txt"
chaos --seed 6 --schedule > "$T/sched6.txt"
[ -s "$T/sched5.txt" ] || fail "seed 5 gave no schedule"
cmp -s "$T/sched5.txt" "$T/sched6.txt" && fail "seeds 5 and 6 gave the same schedule"

rc=0
chaos --seed 5 > "$T/chaos.txt" 2>&1 || rc=$?
cat "$T/chaos.txt"
[ $rc -eq 0 ] || fail "vmca-chaos --seed 5 exited $rc"
grep '^schedule:' "$T/chaos.txt" | cmp -s - "$T/sched5.txt" ||
    fail "the run's schedule differs from --schedule's for the same seed"
[ "$(grep -c '^t=[0-9]* [a-z-]* node[0-9]' "$T/chaos.txt")" -ge "$(wc -l < "$T/sched5.txt")" ] ||
    fail "fewer injections reported than scheduled"
for what in "every node active again" "guest runs" "vmcactl audit balanced" "clean down" "nothing left"; do
    grep -q "^verified: .*$what" "$T/chaos.txt" || fail "the run did not verify: $what"
done
grep -q VIOLATION "$T/chaos.txt" && fail "a violation was reported with exit 0"
expect 2 "--seed: expected a non-negative integer" "$CHAOS" --config "$CONF" --seed x --duration 30
expect 2 "--duration: expected seconds in 10..3600" "$CHAOS" --config "$CONF" --seed 1 --duration 5
pass "seeded chaos run passed its checks; the schedule repeats with its seed"
