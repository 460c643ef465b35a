#!/usr/bin/env bash
# kill -9 the master and start it again: the slaves (not restarted) reconnect
# and the new master rebuilds its node table from them.
. "$(dirname "$0")/lib.sh"

make_cluster 3
start_master
for n in node1 node2 node3; do start_node $n; done
wait_until 20 "3 nodes active" all_active 3

kill -9 "${PID_OF[master]}"
wait "${PID_OF[master]}" 2>/dev/null || true
for n in node1 node2 node3; do
    wait_until 10 "$n notices the master is gone" grep -q "lost the master" "$T/$n.log"
done
sleep 1   # let the slaves fail a reconnect or two
start_master
wait_until 20 "3 nodes active after the master restart" all_active 3
for n in node1 node2 node3; do
    kill -0 "${PID_OF[$n]}" || fail "slave $n died"
done
# Each node is rebuilt from its own statistics or, first, from a peer's; a
# live node is never mistaken for a failed one.
rebuilt=$(grep -c "table rebuilt\|is a member by" "$T/master.log" || true)
[ "$rebuilt" -ge 3 ] || fail "expected 3 nodes rebuilt from statistics, saw $rebuilt"
grep -q -- "-> recovery" "$T/master.log" && fail "the restarted master recovered a live node"
pass "master restarted, all 3 slaves active again without restarting them"
