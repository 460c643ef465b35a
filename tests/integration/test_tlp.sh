#!/usr/bin/env bash
# The first tier's tlp policy (thesis Algorithm 8) with real daemons: a guest
# under pressure on node2 fails puts, so node2's slave raises the VM's target,
# sends it to the hypervisor (Mem-Limit) and asks the master for what the
# target needs beyond the pages node2 owns; the pages come from donors and
# the guest's puts reach them. The target the hypervisor enforces never sums
# above the pages the node owns (I6), and at rest every page is owned once.
# Another policy that sets targets runs the same checks with POLICY_GROUP
# (its policy group) and POLICY_ASKS (what its Grant-Any log line says):
# test_demand_share.sh.
. "$(dirname "$0")/lib.sh"

POLICY_GROUP=${POLICY_GROUP:-'policy = { first_tier = "tlp"; tlp_percent = 25; tlp_threshold = 64; reserve_pages = 512; };'}
POLICY_ASKS=${POLICY_ASKS:-"targets above the pages owned"}
POLICY_NAME=$(sed -n 's/.*first_tier = "\([^"]*\)".*/\1/p' <<< "$POLICY_GROUP")
pressure_cluster "$POLICY_GROUP"

# targets_within LIMIT: read from node2's hypervisor, 0 when the targets set
# sum to at most LIMIT (pages, or "owned": I6), 1 when above, 2 while no
# target is set.
targets_within() {
    tkm --node node2 stats | awk -v limit="$1" '
        /^owned=/ { split($1, a, "="); owned = a[2] }
        /^vm / { split($4, t, "="); if (t[2] != "18446744073709551615") { sum += t[2]; set++ } }
        END { if (!set) exit 2; exit !(sum <= (limit == "owned" ? owned : limit)) }'
}

# sample_while PID SECONDS WHAT CHECK...: runs CHECK every SECONDS while PID
# runs; fails the test (WHAT) when it returns 1, counts in SAMPLES the runs
# that returned 0.
sample_while() {
    local pid=$1 every=$2 what=$3 rc
    shift 3
    SAMPLES=0
    while kill -0 "$pid" 2>/dev/null; do
        rc=0
        "$@" || rc=$?
        [ $rc -eq 1 ] && fail "$what: $(tkm --node node2 stats)"
        [ $rc -eq 0 ] && SAMPLES=$((SAMPLES + 1))
        sleep "$every"
    done
}

echo "16 6" > "$T/phases"
"$GUEST_BIN" --socket "$T/$CLUSTER-node2-guest.sock" --vm 1 --ram 1 \
    --workload "phases:$T/phases" --seed 11 > "$T/guest.out" 2> "$T/guest.log" &
guest=$!
# While the guest runs: sample I6 a few times.
# within_and_remote: targets_within owned, and notes (while the guest
# runs: afterwards free borrowed pages go home) that node2 owns remote pages.
within_and_remote() {
    owns_remote node2 && touch "$T/remote_seen"
    targets_within owned
}
sample_while $guest 0.5 "node2's targets sum above the pages it owns" within_and_remote
checks=$SAMPLES
wait $guest || fail "the guest failed: $(cat "$T/guest.log")"
cat "$T/guest.out"
grep -q 'mismatches=0' "$T/guest.out" || fail "the guest saw wrong data"
[ $checks -gt 0 ] || fail "node2's hypervisor never had a target set"
remote=$(sed -n 's/.*puts_remote=\([0-9]*\).*/\1/p' "$T/guest.out")
[ "$remote" -gt 0 ] || fail "no put landed in a remote page"
grep -q "$POLICY_ASKS" "$T/node2.log" || fail "$POLICY_NAME never asked for pages"
grep -q "forwarded" "$T/master.log" || fail "the master forwarded nothing"
[ -e "$T/remote_seen" ] || fail "node2 never owned remote pages while its guest ran"

# The operator caps node2's VMs at 100 pages (Mem-Limit through the
# master): a VM under pressure (whose target would grow by 64 pages a
# period) keeps a target within the cap for its whole run; 0 lifts the cap.
"$CTL_BIN" --config "$CONF" mem-limit node2 100 | grep -q "mem-limit of node2: 100" ||
    fail "vmcactl mem-limit node2 100 was not accepted"
echo "16 4" > "$T/phases2"
"$GUEST_BIN" --socket "$T/$CLUSTER-node2-guest.sock" --vm 2 --ram 1 \
    --workload "phases:$T/phases2" --seed 12 > "$T/guest2.out" 2> "$T/guest2.log" &
guest=$!
sample_while $guest 0.3 "node2's targets sum above the 100-page cap" targets_within 100
capped=$SAMPLES
wait $guest || fail "the second guest failed: $(cat "$T/guest2.log")"
[ $capped -ge 3 ] || fail "node2's VM target was seen only $capped times"
grep -q 'mismatches=0' "$T/guest2.out" || fail "the second guest saw wrong data"
grep -q "mem-limit: at most 100 pages" "$T/node2.log" || fail "node2 did not log the cap"
"$CTL_BIN" --config "$CONF" mem-limit 2 0 | grep -q "no cap" || fail "lifting the cap failed"
rc=0
"$CTL_BIN" --config "$CONF" mem-limit node9 5 2> "$T/ml.err" || rc=$?
[ $rc -eq 5 ] && grep -q "no node 'node9'" "$T/ml.err" || fail "mem-limit of an unknown node: rc $rc, $(cat "$T/ml.err")"
wait_until 15 "ownership audit balanced at rest" hv_audit 1:1024 2:256 3:4096 4:4096
ctl_audit 15
pass "$POLICY_NAME: target within owned in $checks samples, $remote puts reached remote pages, audit balanced"
