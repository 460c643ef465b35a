#!/usr/bin/env bash
# A slave presenting another node's certificate is refused and logged; a
# certificate from a foreign CA fails the TLS handshake; the real nodes keep
# their connections throughout.
. "$(dirname "$0")/lib.sh"

make_cluster 4
start_master
for n in node1 node2 node3; do start_node $n; done
wait_until 20 "3 nodes active" all_active 3
before=$(node_field node1 stats_count)

# node4 with node2's certificate: identity differs from the claimed node.
LOG_AS=imposter4 start_slave node4 --cert "$T/certs/node2.crt" --key "$T/certs/node2.key"
# node1 (already connected) impersonated with node3's certificate (on
# another peer port: the real node1 holds its own). The imposters of running
# nodes come from another machine, as far as this one can tell: a copy of
# the configuration elsewhere (the real slave's lock file is beside $CONF)
# and no hypervisor (the real one has its memory manager).
pick_ports 2
mkdir "$T/elsewhere"
cp "$CONF" "$T/elsewhere/cluster.conf"
ln -s "$T/certs" "$T/elsewhere/certs"
ELSEWHERE=(--config "$T/elsewhere/cluster.conf" --tkm-socket "$T/elsewhere/no-hv.sock")
LOG_AS=imposter1 start_slave node1 --cert "$T/certs/node3.crt" --key "$T/certs/node3.key" \
    --port "${PORTS[0]}" "${ELSEWHERE[@]}"
wait_until 10 "master refuses node4's claim" \
    grep -q "certificate identity 'node2' differs from 'node4'" "$T/master.log"
wait_until 10 "master refuses the node1 imposter" \
    grep -q "certificate identity 'node3' differs from 'node1'" "$T/master.log"

# A certificate signed by another CA never gets past TLS.
"$VMCA_SOURCE/scripts/gen-certs.sh" --out "$T/rogue" node3 >/dev/null
LOG_AS=rogue3 start_slave node3 --cert "$T/rogue/node3.crt" --key "$T/rogue/node3.key" \
    --port "${PORTS[1]}" "${ELSEWHERE[@]}"
wait_until 10 "rogue CA refused" grep -q "TLS error" "$T/master.log"

sleep 1
[ "$(node_field node4 state)" = inactive ] || fail "node4 became $(node_field node4 state)"
all_active 3 || fail "a real node lost its state: $(status_json)"
grep -q "node 1 disconnected\|node 1 reconnected" "$T/master.log" && fail "node1's connection was disturbed"
grep -q "node 3 disconnected\|node 3 reconnected" "$T/master.log" && fail "node3's connection was disturbed"
after=$(node_field node1 stats_count)
[ "$after" -gt "$before" ] || fail "node1 statistics stopped ($before -> $after)"
pass "imposters refused, real nodes undisturbed ($before -> $after statistics from node1)"
