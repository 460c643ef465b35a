#!/usr/bin/env bash
# A hung node is declared failed (issue 9, item 1), on real processes:
#  1. node3's vmca-slave stopped (SIGSTOP) with its connections open for
#     longer than the failure timeout: the master declares it failed (its
#     Statistics stopped) and fences it; SIGCONT: it learns it was declared
#     failed and rejoins as a new life;
#  2. node2's vmca-hv stopped (SIGSTOP): its slave stops vouching for it (no
#     Statistics), the master declares node2 failed; SIGCONT: the hypervisor
#     finds itself fenced and the node rejoins;
#  3. node4's vmca-hv killed (SIGKILL): its slave stops vouching, the master
#     declares node4 failed, and the audit says what is down rather than a
#     leak; the hypervisor restarted: node4 rejoins.
# Each ends with every node active and the audit balanced.
. "$(dirname "$0")/lib.sh"

make_cluster 4
start_master
for n in node1 node2 node3 node4; do start_node $n; done
wait_until 20 "4 nodes active" all_active 4
ctl_audit 15 > /dev/null

state_is_not() { [ "$(node_field "$1" state 2>/dev/null)" != "$2" ]; }

# 1. A stopped slave.
kill -STOP "${PID_OF[node3]}"
wait_until 20 "the master declares the stopped node3 failed" \
    grep -q "node 3 (node3) failed (connection open, but no statistics)" "$T/master.log"
state_is_not node3 active || fail "node3 still active in vmcactl status while stopped"
[ "$(node_field node3 connected)" = true ] || fail "node3's connection was not open (the case under test)"
grep -q "node 3 fenced" "$T/master.log" || fail "node3 was not fenced"
kill -CONT "${PID_OF[node3]}"
wait_until 20 "node3 learns it was declared failed" \
    grep -q "declared failed by the master" "$T/node3.log"
wait_until 30 "4 nodes active again after node3 resumed" all_active 4
ctl_audit 30
pass "a stopped slave was declared failed and rejoined"

# 2. A stopped hypervisor.
kill -STOP "${PID_OF[hv-node2]}"
wait_until 20 "the master declares node2 failed" \
    grep -q "node 2 (node2) failed (connection open, but no statistics)" "$T/master.log"
grep -q "hypervisor silent for" "$T/node2.log" ||
    fail "node2's slave did not say it stopped vouching for its hung hypervisor"
state_is_not node2 active || fail "node2 still active while its hypervisor is stopped"
kill -CONT "${PID_OF[hv-node2]}"
wait_until 20 "node2 learns it was declared failed" \
    grep -q "declared failed by the master" "$T/node2.log"
wait_until 30 "4 nodes active again after node2's hypervisor resumed" all_active 4
ctl_audit 30
pass "a stopped hypervisor's node was declared failed and rejoined"

# 3. A killed hypervisor.
# audit_names_node4: the audit names node4 as down (its output and exit
# status kept in $T/audit-down.txt and $T/audit-down.rc).
audit_names_node4() {
    local rc=0
    "$CTL_BIN" --config "$CONF" audit > "$T/audit-down.txt" 2>&1 || rc=$?
    echo "$rc" > "$T/audit-down.rc"
    grep -Eq 'home 4: node4 (failed|silent|not connected)' "$T/audit-down.txt"
}
kill -9 "${PID_OF[hv-node4]}"
wait_until 20 "the audit names node4 as down" audit_names_node4
grep -q "hypervisor down: no statistics" "$T/node4.log" ||
    fail "node4's slave did not say it stopped vouching for its dead hypervisor"
cat "$T/audit-down.txt"
[ "$(cat "$T/audit-down.rc")" -eq 4 ] ||
    fail "audit exit status $(cat "$T/audit-down.rc") while node4 is down (expected 4, not at rest)"
grep -q "missing" "$T/audit-down.txt" && fail "the audit reports a missing home while node4 is down"
wait_until 20 "the master declares node4 failed" grep -q "node 4 (node4) failed" "$T/master.log"
state_is_not node4 active || fail "node4 still active with its hypervisor dead"
start_hv node4
wait_until 30 "4 nodes active again after node4's hypervisor restarted" all_active 4
ctl_audit 30
pass "a killed hypervisor's node was declared failed, the audit named it, and it rejoined"
