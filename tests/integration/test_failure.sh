#!/usr/bin/env bash
# A node is killed (hypervisor and slave, SIGKILL) while another holds its
# pages: the master notices (no connection, no statistics for the failure
# timeout), fences it, has every node invalidate its pages, and finishes the
# recovery; the guest holding pages there sees misses, never wrong data; the
# node comes back, registers anew and is Active; the master is also killed
# and restarted in the middle, and at the end every page is owned once.
. "$(dirname "$0")/lib.sh"

make_cluster 4
# node3 is the big donor (node1 and node4 can spare 512 pages each above the
# reserve), so node2's guest surely keeps pages in node3's memory.
sed -i 's/tmem_pages = 2048;/tmem_pages = 256;/; s/tmem_pages = 3072;/tmem_pages = 4096;/; s/tmem_pages = 4096; location = \[0, 0, 4\]/tmem_pages = 1024; location = [0, 0, 4]/' "$CONF"
grep -q 'tmem_pages = 1024; location = \[0, 0, 4\]' "$CONF" || fail "test set-up: node4 not resized"
# Lent pages stay where they are (no surplus returns): node3 keeps what it
# borrowed, free, until it dies, and its homes must get it back through
# the census; test_surplus_return.sh covers the returns.
echo 'policy = { first_tier = "greedy-remote"; reserve_pages = 512; grant_batch = 1024;
  surplus_quiet_periods = 0; };' >> "$CONF"
start_master
for n in node1 node2 node3 node4; do start_node $n; done
wait_until 20 "4 nodes active" all_active 4

# node3 borrows first (24 MiB working set > its 16 MiB): when it dies, those
# pages must come back to their homes through the census.
echo "24 3" > "$T/phases3"
"$GUEST_BIN" --socket "$T/$CLUSTER-node3-guest.sock" --vm 3 --ram 1 \
    --workload "phases:$T/phases3" --seed 9 --pool ephemeral > "$T/warm3.out" 2> "$T/warm3.log" ||
    fail "node3's warm-up guest failed"
tkm --node node3 stats | grep -Eq '^owned_home (1|2|4) [1-9]' || fail "node3 borrowed nothing"
# Then node2 borrows, mostly from node3 (the richest donor now).
gsock=$T/$CLUSTER-node2-guest.sock
echo "16 4" > "$T/phases"
"$GUEST_BIN" --socket "$gsock" --vm 1 --ram 1 --workload "phases:$T/phases" --seed 5 \
    --pool ephemeral > "$T/warm.out" 2> "$T/warm.log" || fail "warm-up guest failed"
tkm --node node2 stats | grep -Eq '^owned_home 3 [1-9]' || fail "node2 holds no pages of node3"

"$GUEST_BIN" --socket "$gsock" --vm 2 --ram 1 --workload hold:3000 --pool ephemeral \
    > "$T/hold.out" 2> "$T/hold.log" &
G=$!
PIDS+=($G)
wait_until 20 "guest holding" grep -q holding "$T/hold.out" "$T/hold.log"

# The master dies too, and comes back while node3 is down.
kill -9 "${PID_OF[master]}"
kill -9 "${PID_OF[node3]}" "${PID_OF[hv-node3]}"
sleep 0.5
start_master
wait_until 20 "the master recovers node3" grep -q "node 3 (node3) recovered" "$T/master.log"
grep -q "node 3 fenced" "$T/master.log" || fail "node3 was not fenced"
grep -q "invalidated node 3" "$T/hv-node2.log" || fail "node2's hypervisor did not invalidate node3"
tkm --node node2 stats | grep -q '^owned_home 3 ' && fail "node2 still owns pages of node3"
wait_until 15 "a home took back pages node3 held" \
    grep -Eq "census: [1-9][0-9]* pages of this node taken back" "$T"/hv-node*.log

# node3 reboots: a fresh registration.
start_node node3
wait_until 20 "4 nodes active again" all_active 4
# The census's follow-up (20 statistics intervals later) is the master's to
# ask, with every member; no home runs it by itself.
wait_until 15 "the master asks a home for its follow-up census" \
    grep -q "owes a census (a recovery's, a given-up one or a follow-up)" "$T/master.log"

kill -USR1 $G
grc=0
wait $G || grc=$?
cat "$T/hold.out"
[ "$grc" -eq 0 ] || fail "the guest exited $grc: $(tail -n 3 "$T/hold.log")"
grep -q 'mismatches=0' "$T/hold.out" || fail "the guest read wrong data"
misses=$(sed -n 's/.*gets_miss=\([0-9]*\).*/\1/p' "$T/hold.out")
[ "$misses" -gt 0 ] || fail "no page was lost with node3, yet it held some"

wait_until 15 "ownership audit balanced at rest" hv_audit 1:1024 2:256 3:4096 4:1024
ctl_audit 15
pass "node3 failed, was fenced and recovered, came back; guest: $misses misses, no wrong data"
