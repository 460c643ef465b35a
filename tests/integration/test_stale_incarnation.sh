#!/usr/bin/env bash
# A memory manager restarted with a stale incarnation (vmca-slave
# --incarnation, as a node whose clock went back would present): the master
# must not take it for the life it knows. With nothing of the node out, the
# Register from a member with another incarnation recovers the node
# ("restarted without leaving", docs/protocol.md); the node then registers
# a new life and is Active; the audit is balanced. A bad --incarnation,
# --master-at or --peer-at is refused before anything starts.
. "$(dirname "$0")/lib.sh"
make_cluster 2
start_master
for n in node1 node2; do start_node $n; done
wait_until 20 "2 nodes active" all_active 2

inc=$(grep -o 'starting, incarnation [0-9]*' "$T/node2.log" | tail -n 1 | awk '{print $3}')
[ -n "$inc" ] || fail "node2 logged no incarnation"
stale=$((inc - 1000000000))
mline=$(wc -l < "$T/master.log")
kill -9 "${PID_OF[node2]}"
wait "${PID_OF[node2]}" 2>/dev/null || true
start_slave node2 --incarnation "$stale"
wait_until 20 "node2 restarted with the stale incarnation" grep -q "starting, incarnation $stale (given by --incarnation)" "$T/node2.log"
after() { tail -n +"$((mline + 1))" "$T/master.log"; }
recovered() { after | grep -q "node 2 (node2) restarted without leaving: active -> recovery"; }
wait_until 20 "the master recovering node2's last life" recovered
registered() { after | grep -q "node 2 (node2) registered: inactive -> active"; }
wait_until 30 "node2 registering a new life" registered
# Recovery, then the new life, in that order.
[ "$(after | grep -n 'node 2 (node2) restarted without leaving' | head -n 1 | cut -d: -f1)" -lt \
  "$(after | grep -n 'node 2 (node2) registered' | tail -n 1 | cut -d: -f1)" ] ||
    fail "node2 registered before the master recovered its last life"
wait_until 20 "2 nodes active again" all_active 2
ctl_audit || fail "the audit is not balanced after the stale restart"
pass "a slave restarted with a stale incarnation: recovered as a restarted node, then a new life, audit balanced"

expect 2 "--incarnation: expected a number in 1..18446744073709551615, got '0'" "$SLAVE_BIN" --config "$CONF" --node node2 --incarnation 0
expect 2 "got '18446744073709551616'" "$SLAVE_BIN" --config "$CONF" --node node2 --incarnation 18446744073709551616
expect 2 "got '12x'" "$SLAVE_BIN" --config "$CONF" --node node2 --incarnation 12x
expect 2 "--master-at: expected ADDR:PORT (IPv6: \[ADDR\]:PORT) with PORT in 1..65535, got '::1:80'" "$SLAVE_BIN" --config "$CONF" --node node2 --master-at ::1:80
expect 2 "got '127.0.0.1'" "$SLAVE_BIN" --config "$CONF" --node node2 --master-at 127.0.0.1
expect 2 "--peer-at: expected NAME=ADDR:PORT" "$SLAVE_BIN" --config "$CONF" --node node2 --peer-at node1:127.0.0.1:80
expect 2 "--peer-at: expected NAME=ADDR:PORT" "$SLAVE_BIN" --config "$CONF" --node node2 --peer-at =127.0.0.1:80
expect 1 "--peer-at node9=...: no node of that name" "$SLAVE_BIN" --config "$CONF" --node node2 --peer-at node9=127.0.0.1:80
expect 1 "--peer-at node2=...: that is this node (--node), not a peer" "$SLAVE_BIN" --config "$CONF" --node node2 --peer-at node2=127.0.0.1:80
pass "bad --incarnation, --master-at and --peer-at refused"
