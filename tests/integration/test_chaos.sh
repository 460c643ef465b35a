#!/usr/bin/env bash
# scripts/vmca-chaos (issue 12, item 3): a short seeded run against a
# 4-node cluster (in network namespaces when this machine allows them, so
# partitions are injected too) passes every check, with a delay and a
# throttle of the link node's peer links through vmca-faultproxy and a
# slave restarted with a stale incarnation among its injections; the same
# seed prints the same injection schedule, and another seed another one.
. "$(dirname "$0")/lib.sh"
CHAOS=$VMCA_SOURCE/scripts/vmca-chaos
make_cluster 4
trap 'rc=$?; "$VMCA_SOURCE/scripts/vmca-cluster" down --config "$CONF" > /dev/null 2>&1; (exit $rc); cleanup' EXIT
netns=()
if ip netns add "vmca-probe-$$" 2>/dev/null; then ip netns del "vmca-probe-$$"; netns=(--netns)
else echo "SKIP (part): no network namespaces here: no partitions injected"; fi
chaos() { "$CHAOS" --config "$CONF" --build "$VMCA_BUILD" --duration 30 "${netns[@]}" "$@"; }

# The first seed whose schedule (of every kind) has a delay, a throttle and
# a stale restart (the schedule is the seed's alone: nothing runs for it).
seed=
for s in $(seq 1 200); do
    chaos --seed "$s" --schedule > "$T/sched.txt"
    grep -q ' delay ' "$T/sched.txt" && grep -q ' throttle ' "$T/sched.txt" &&
        grep -q ' stale-restart ' "$T/sched.txt" && { seed=$s; break; }
done
[ -n "$seed" ] || fail "no seed in 1..200 schedules a delay, a throttle and a stale restart in 30 s"
chaos --seed "$seed" --schedule > "$T/sched1.txt"
chaos --seed $((seed + 1)) --schedule > "$T/sched2.txt"
cmp -s "$T/sched.txt" "$T/sched1.txt" || fail "seed $seed gave two schedules"
cmp -s "$T/sched1.txt" "$T/sched2.txt" && fail "seeds $seed and $((seed + 1)) gave the same schedule"

rc=0
chaos --seed "$seed" > "$T/chaos.txt" 2>&1 || rc=$?
cat "$T/chaos.txt"
[ $rc -eq 0 ] || fail "vmca-chaos --seed $seed exited $rc"
grep '^schedule:' "$T/chaos.txt" | cmp -s - "$T/sched1.txt" ||
    fail "the run's schedule differs from --schedule's for the same seed"
[ "$(grep -c '^t=[0-9]* [a-z-]* node[0-9]' "$T/chaos.txt")" -ge "$(wc -l < "$T/sched1.txt")" ] ||
    fail "fewer injections reported than scheduled"
for what in "every node active again" "guest runs" "vmcactl audit balanced" "clean down" "nothing left" \
            "stale-restart node[0-9] .*registered" "link proxy of node[0-9]: .* [1-9][0-9]* chunks held .* [1-9][0-9]* windows, none above its cap"; do
    grep -q "^verified: .*$what" "$T/chaos.txt" || fail "the run did not verify: $what"
done
grep -q '^t=[0-9]* delay node[0-9]: [0-9]* ms on all its links' "$T/chaos.txt" || fail "no delay injected"
grep -q '^t=[0-9]* throttle node[0-9]: [0-9]* bytes/s on all its links' "$T/chaos.txt" || fail "no throttle injected"
grep -q '^t=[0-9]* stale-restart node[0-9]: .* with the stale incarnation [0-9]*' "$T/chaos.txt" || fail "no stale restart"
grep -q VIOLATION "$T/chaos.txt" && fail "a violation was reported with exit 0"
expect 2 "--seed: expected a non-negative integer" "$CHAOS" --config "$CONF" --seed x --duration 30
expect 2 "--duration: expected seconds in 10..3600" "$CHAOS" --config "$CONF" --seed 1 --duration 5
expect 2 "--kinds: unknown kind 'slow'" "$CHAOS" --config "$CONF" --seed 1 --duration 10 --kinds delay,slow
expect 2 "--kinds: partition needs --netns" "$CHAOS" --config "$CONF" --seed 1 --duration 10 --kinds partition
pass "seeded chaos run (seed $seed: delay, throttle, stale restart among its injections) passed its checks; the schedule repeats with its seed"
