#!/usr/bin/env bash
# The first tier's tlp policy (thesis Algorithm 8) with real daemons: a guest
# under pressure on node2 fails puts, so node2's slave raises the VM's target,
# sends it to the hypervisor (Mem-Limit) and asks the master for what the
# target needs beyond the pages node2 owns; the pages come from donors and
# the guest's puts reach them. The target the hypervisor enforces never sums
# above the pages the node owns (I6), and at rest every page is owned once.
. "$(dirname "$0")/lib.sh"

pressure_cluster 'policy = { first_tier = "tlp"; tlp_percent = 25; tlp_threshold = 64; reserve_pages = 512; };'

# I6 on node2, read from its hypervisor: every set target within what it owns.
targets_within_owned() {
    tkm --node node2 stats | awk '
        /^owned=/ { split($1, a, "="); owned = a[2] }
        /^vm / { split($3, t, "="); if (t[2] != "18446744073709551615") { sum += t[2]; set++ } }
        END { if (!set) exit 2; exit !(sum <= owned) }'
}

echo "16 6" > "$T/phases"
"$GUEST_BIN" --socket "$T/$CLUSTER-node2-guest.sock" --vm 1 --ram 1 \
    --workload "phases:$T/phases" --seed 11 > "$T/guest.out" 2> "$T/guest.log" &
guest=$!
# While the guest runs: sample I6 a few times.
checks=0
while kill -0 $guest 2>/dev/null; do
    rc=0
    targets_within_owned || rc=$?
    [ $rc -eq 1 ] && fail "node2's targets sum above the pages it owns: $(tkm --node node2 stats)"
    [ $rc -eq 0 ] && checks=$((checks + 1))
    sleep 0.5
done
wait $guest || fail "the guest failed: $(cat "$T/guest.log")"
cat "$T/guest.out"
grep -q 'mismatches=0' "$T/guest.out" || fail "the guest saw wrong data"
[ $checks -gt 0 ] || fail "node2's hypervisor never had a target set"
remote=$(sed -n 's/.*puts_remote=\([0-9]*\).*/\1/p' "$T/guest.out")
[ "$remote" -gt 0 ] || fail "no put landed in a remote page"
grep -q "targets above the pages owned" "$T/node2.log" || fail "tlp never asked for pages"
grep -q "forwarded" "$T/master.log" || fail "the master forwarded nothing"
tkm --node node2 stats > "$T/a.txt"
grep -Eq '^owned_home (3|4) [1-9]' "$T/a.txt" || fail "node2 owns no remote pages: $(cat "$T/a.txt")"

wait_until 15 "ownership audit balanced at rest" hv_audit 1:1024 2:256 3:4096 4:4096
ctl_audit 15
pass "tlp: target within owned in $checks samples, $remote puts reached remote pages, audit balanced"
