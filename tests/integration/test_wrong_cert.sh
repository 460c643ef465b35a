#!/usr/bin/env bash
# A client presenting another node's certificate is refused and logged; a
# certificate from a foreign CA fails the TLS handshake; the real nodes keep
# their connections throughout. The imposters are vmca-rogue clients (a
# second vmca-slave on this machine would be stopped earlier, by the node's
# lock or its hypervisor: test_single_manager.sh).
. "$(dirname "$0")/lib.sh"

ROGUE_BIN=$VMCA_BUILD/tests/vmca-rogue
make_cluster 4
start_master
for n in node1 node2 node3; do start_node $n; done
wait_until 20 "3 nodes active" all_active 3
before=$(node_field node1 stats_count)

rogue() { "$ROGUE_BIN" --config "$CONF" --wait 300 "$@"; }
# node4 with node2's certificate: identity differs from the claimed node.
rogue --node node4 --cert "$T/certs/node2.crt" --key "$T/certs/node2.key" register \
    > "$T/imposter4.log" 2>&1 || true
# node1 (connected) impersonated with node3's certificate.
rogue --node node1 --cert "$T/certs/node3.crt" --key "$T/certs/node3.key" \
    statistics --state active > "$T/imposter1.log" 2>&1 || true
wait_until 10 "master refuses node4's claim" \
    grep -q "certificate identity 'node2' differs from 'node4'" "$T/master.log"
wait_until 10 "master refuses the node1 imposter" \
    grep -q "certificate identity 'node3' differs from 'node1'" "$T/master.log"

# A certificate signed by another CA never gets past TLS.
"$VMCA_SOURCE/scripts/gen-certs.sh" --out "$T/rogue" node3 >/dev/null
rogue --node node3 --cert "$T/rogue/node3.crt" --key "$T/rogue/node3.key" register \
    > "$T/rogue3.log" 2>&1 || true
wait_until 10 "rogue CA refused" grep -q "TLS error" "$T/master.log"

sleep 1
[ "$(node_field node4 state)" = inactive ] || fail "node4 became $(node_field node4 state)"
all_active 3 || fail "a real node lost its state: $(status_json)"
grep -q "node 1 disconnected\|node 1 reconnected" "$T/master.log" && fail "node1's connection was disturbed"
grep -q "node 3 disconnected\|node 3 reconnected" "$T/master.log" && fail "node3's connection was disturbed"
after=$(node_field node1 stats_count)
[ "$after" -gt "$before" ] || fail "node1 statistics stopped ($before -> $after)"
pass "imposters refused, real nodes undisturbed ($before -> $after statistics from node1)"
