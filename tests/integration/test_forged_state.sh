#!/usr/bin/env bash
# State forged by a member (issue 9, item 4): a 5-node configuration with
# node5 never started. A client holding node5's certificate (vmca-rogue)
# sends Statistics claiming Active, then Leave-Req, then Grant-Any, after the
# master's table rebuild window: node5 stays Inactive, no member is told to
# accept its pages, the master logs each refusal once, and the cluster's
# audit stays balanced.
. "$(dirname "$0")/lib.sh"
ROGUE_BIN=$VMCA_BUILD/tests/vmca-rogue

make_cluster 5
start_master
for n in node1 node2 node3 node4; do start_node $n; done
wait_until 20 "4 nodes active" all_active 4
# A restarted master adopts nodes from their own word only while it rebuilds
# its table; this one is past that.
wait_until 20 "the master's rebuild window is over" \
    grep -q "table rebuild window over" "$T/master.log"
ctl_audit 15 > /dev/null

# One life of node5 throughout (refusals are logged once per life and reason).
rogue() { "$ROGUE_BIN" --config "$CONF" --node node5 --incarnation 42 "$@"; }
rogue statistics --state active --count 3 > "$T/rogue-stats.out" 2>&1 ||
    fail "rogue statistics: $(cat "$T/rogue-stats.out")"
state=$(node_field node5 state)
[ "$state" = inactive ] || fail "node5 is $state after forged statistics (active), not inactive"
rogue leave-req > "$T/rogue-leave.out" 2>&1 || fail "rogue leave-req: $(cat "$T/rogue-leave.out")"
state=$(node_field node5 state)
[ "$state" = inactive ] || fail "node5 is $state after a forged leave-req, not inactive"
rogue statistics --state leaving > "$T/rogue-stats2.out" 2>&1 ||
    fail "rogue statistics leaving: $(cat "$T/rogue-stats2.out")"
rogue grant-any 100 > "$T/rogue-ga.out" 2>&1 || fail "rogue grant-any: $(cat "$T/rogue-ga.out")"
cat "$T"/rogue-*.out
grep -q "sent statistics" "$T/rogue-stats.out" || fail "the rogue sent no statistics"

state=$(node_field node5 state)
[ "$state" = inactive ] || fail "node5 is $state after forged statistics and leave-req, not inactive"
grep -q "refused statistics from node5 (node 5): node is not a member" "$T/master.log" ||
    fail "the master did not log its refusal of node5's statistics"
grep -q "refused leave-req from node5 (node 5): node is not a member" "$T/master.log" ||
    fail "the master did not log its refusal of node5's leave-req"
grep -q "refused grant-any from node5" "$T/master.log" ||
    fail "the master did not log its refusal of node5's grant-any"
[ "$(grep -c "refused statistics from node5" "$T/master.log")" -eq 1 ] ||
    fail "the refusal of node5's statistics was logged more than once"
grep -q "node 5 (node5)" "$T/master.log" && fail "the master changed node5's state: $(grep "node 5 (node5)" "$T/master.log")"
grep -q "received enable-node" "$T"/rogue-*.out && fail "the rogue was told it is enabled"
for n in node1 node2 node3 node4; do
    grep -q "accepting pages of node 5" "$T/$n.log" && fail "$n was told to accept node5's pages"
done
grep -q "inactive -> leaving" "$T/master.log" && fail "a leave started"

ctl_audit 15
state=$(node_field node5 state)
[ "$state" = inactive ] || fail "node5 is $state at the end"
pass "forged statistics, leave-req and grant-any from never-started node5 were refused; it stayed inactive"
