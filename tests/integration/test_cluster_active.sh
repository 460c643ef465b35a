#!/usr/bin/env bash
# Master + 3 slaves on loopback over mutual TLS reach Active, and vmcactl
# status (JSON and table) shows it; Statistics keep flowing.
. "$(dirname "$0")/lib.sh"

make_cluster 3
start_master
for n in node1 node2 node3; do start_node $n; done
wait_until 20 "3 nodes active" all_active 3
json=$(status_json)
echo "$json"
for n in node1 node2 node3; do
    [ "$(node_field $n state)" = active ] || fail "$n not active"
    [ "$(node_field $n connected)" = true ] || fail "$n not connected"
done
[ "$(node_field node2 total_pages)" = 2048 ] || fail "node2 total_pages is not its tmem size"
# The figures come from the hypervisor: take 100 pages away from node2's
# hypervisor (for node3) and the master sees node2 own 100 fewer.
tkm --node node2 request 100 3 > "$T/request.txt"
grep -q "^pages=100" "$T/request.txt" || fail "request: $(cat "$T/request.txt")"
wait_until 10 "master sees node2's hypervisor figures" \
    field_is node2 total_pages 1948
c1=$(node_field node3 stats_count)
sleep 1
c2=$(node_field node3 stats_count)
[ "$c2" -gt "$c1" ] || fail "statistics not flowing ($c1 -> $c2)"
"$CTL_BIN" --config "$CONF" status | tee "$T/table.txt"
grep -Eq '^2 +node2 +active +yes' "$T/table.txt" || fail "table does not show node2 active"
grep -q "registered: now active" "$T/node2.log" || fail "node2 did not log its activation"
pass "3 nodes active, statistics flowing ($c1 -> $c2)"
