#!/usr/bin/env bash
# A member sends grants of blocks it does not hold (issue 9): with node4's
# certificate, a Grant to node2 of node1's block, and a "return" to node3 of
# node3's block that node2 holds; then the same "return" in the name of the
# holder itself (node2's certificate) while node2's hypervisor still uses
# the block. Each is refused by the receiving hypervisor (the owner table
# does not name the receiver). Then node3's guest fills node3's memory and
# node2's guest reads its pages back: no VM reads data it did not write,
# every page is owned once, every daemon is still alive.
. "$(dirname "$0")/lib.sh"

ROGUE_BIN=$VMCA_BUILD/tests/vmca-rogue
[ -x "$ROGUE_BIN" ] || fail "no $ROGUE_BIN"
# node2 small (256 pages), node3 and node4 big (4096): node2 borrows.
pressure_cluster

echo "12 3" > "$T/phases"
"$GUEST_BIN" --socket "$T/$CLUSTER-node2-guest.sock" --vm 1 --ram 1 \
    --workload "phases:$T/phases" --seed 5 --pool ephemeral > "$T/warm.out" 2> "$T/warm.log" ||
    fail "warm-up guest failed"
hold_guest node2 2 1500 persistent
# A block of node3's that node2 holds (and probably uses).
tkm --node node2 owned 3 > "$T/owned3.txt"
held=$(tail -n 1 "$T/owned3.txt" | awk '{print $1}')
case "$held" in 3:*/*) ;; *) fail "node2 holds no block of node3: $(cat "$T/owned3.txt")" ;; esac

rogue() { "$ROGUE_BIN" --config "$CONF" --wait 300 "$@"; }
# node4 gives away node1's block.
rogue --node node4 --to node2 grant --xfer 77 1:0/4 > "$T/r1.txt" || fail "rogue 1: $(cat "$T/r1.txt")"
# node4 "returns" node3's block that node2 holds.
rogue --node node4 --to node3 grant --xfer 78 "$held" > "$T/r2.txt" || fail "rogue 2: $(cat "$T/r2.txt")"
# In the holder's own name: node2's hypervisor did not give it up.
rogue --node node2 --to node3 grant --xfer 79 "$held" > "$T/r3.txt" || fail "rogue 3: $(cat "$T/r3.txt")"
wait_until 10 "node2's hypervisor rejected node1's block" \
    grep -q "grant 77 from node 4: 1 of 1 blocks rejected by the hypervisor" "$T/node2.log"
wait_until 10 "node3's hypervisor rejected the forged returns" \
    grep -q "grant 79 from node 2: 1 of 1 blocks rejected by the hypervisor" "$T/node3.log"
grep -q "grant 78 from node 4: 1 of 1 blocks rejected by the hypervisor\|refused grant 78" "$T/node3.log" ||
    fail "node3 did not refuse grant 78"
tkm --node node2 stats | grep -q '^owned_home 1 ' && fail "node2 took node1's block"
tkm --node node2 owned 3 | grep -q "$held" || fail "node2 lost the block node3 took back"

# node3's own guest fills node3's memory; node2's guest reads its pages.
"$GUEST_BIN" --socket "$T/$CLUSTER-node3-guest.sock" --vm 3 --ram 1 \
    --workload "phases:$T/phases" --seed 8 --pool ephemeral > "$T/fill3.out" 2> "$T/fill3.log" ||
    fail "node3's guest failed: $(tail -n 3 "$T/fill3.log")"
grep -q 'mismatches=0' "$T/fill3.out" || fail "node3's guest read data it did not write"
hold_check

wait_until 20 "every page owned once (hypervisors)" hv_audit 1:1024 2:256 3:4096 4:4096
ctl_audit 20
all_active 4 || fail "a node lost its state: $(status_json)"
for p in master hv-node1 hv-node2 hv-node3 hv-node4 node1 node2 node3 node4; do
    kill -0 "${PID_OF[$p]}" || fail "$p died"
done
pass "forged grants and returns refused; no wrong data; every page owned once"
