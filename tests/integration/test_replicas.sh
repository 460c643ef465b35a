#!/usr/bin/env bash
# replicas = 2: a persistent-pool guest on node2 keeps its remote pages
# twice, on two other nodes of different boards; one of them (node3) is
# killed with SIGKILL while the guest holds its pages; the guest never
# stops and reads every page back right (no miss, no EIO, no wrong data);
# node2's hypervisor serves the gets from the surviving copies and, once
# node3 is fenced and the census has run, restores two copies (its log's
# replication figures: under-replicated back to 0); the audit balances.
. "$(dirname "$0")/lib.sh"

make_cluster 4
# Each node on a board of its own (location [0, i, i]), so a second copy may
# go to any other node; node2 has little memory of its own (its guest's pages
# are remote) and the others are rich alike, so node2 borrows from all three
# and, after node3's loss, still holds free pages for new second copies.
sed -i 's/location = \[0, [01], \([0-9]\)\]/location = [0, \1, \1]/
        s/tmem_pages = 1024;/tmem_pages = 5120;/; s/tmem_pages = 2048;/tmem_pages = 256;/
        s/tmem_pages = 3072;/tmem_pages = 4608;/' "$CONF"
grep -q 'tmem_pages = 5120; location = \[0, 1, 1\]' "$CONF" || fail "test set-up: node1 not changed"
echo 'replicas = 2;' >> "$CONF"
echo 'policy = { first_tier = "greedy-remote"; reserve_pages = 256; grant_batch = 1024;
  surplus_quiet_periods = 0; };' >> "$CONF"
start_master
for n in node1 node2 node3 node4; do start_node $n; done
wait_until 20 "4 nodes active" all_active 4

gsock=$T/$CLUSTER-node2-guest.sock
# A warm-up guest makes node2 borrow (greedy-remote grants on failed puts;
# persistent ones, since ephemeral puts evict instead of failing) before
# the guest under test puts its pages.
echo "12 3" > "$T/phases"
"$GUEST_BIN" --socket "$gsock" --vm 1 --ram 1 --workload "phases:$T/phases" --seed 5 \
    --pool persistent > "$T/warm.out" 2> "$T/warm.log" || fail "warm-up guest failed"
owns() { tkm --node node2 stats | grep -Eq "^owned_home $1 [1-9]"; }
wait_until 10 "node2 borrowed from node1, node3 and node4" sh -c \
    "$(declare -f tkm owns); TKM_BIN='$TKM_BIN' CONF='$CONF'; owns 1 && owns 3 && owns 4"
hold_guest node2 2 1500 persistent
replication() { grep 'replication:' "$T/hv-node2.log" | tail -n 1; }
wait_until 10 "node2 keeps replica pages" \
    sh -c "grep 'replication:' '$T/hv-node2.log' | tail -n 1 | grep -Eq ' [1-9][0-9]* replica pages, 0 under'"
before=$(replication)

kill -9 "${PID_OF[node3]}" "${PID_OF[hv-node3]}"
wait_until 20 "the master recovers node3" grep -q "node 3 (node3) recovered" "$T/master.log"
grep -q "invalidated node 3" "$T/hv-node2.log" || fail "node2's hypervisor did not invalidate node3"
# Its copies there were lost: counted under-replicated, or already restored
# within the same statistics period.
sed -n '/invalidated node 3/,$p' "$T/hv-node2.log" | grep 'replication:' |
    grep -Eq ' [1-9][0-9]* (under-replicated|copies restored)' ||
    fail "node2 lost no second copy with node3, yet it held some"
wait_until 30 "two copies of every page again" \
    sh -c "grep 'replication:' '$T/hv-node2.log' | tail -n 1 | grep -Eq ' [1-9][0-9]* replica pages, 0 under'"
after=$(replication)
kill -0 "$HOLD_PID" 2>/dev/null || fail "the guest stopped: $(tail -n 3 "$T/hold.log")"

hold_check
grep -q 'gets_miss=0 ' "$T/hold.out" || fail "the guest missed pages"
grep -q 'gets_lost=0 ' "$T/hold.out" || fail "the guest lost pages"
ctl_audit 20
pass "node3 killed; every page read back right; before: ${before#*replication: }; after: ${after#*replication: }"
