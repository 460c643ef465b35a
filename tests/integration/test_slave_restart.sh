#!/usr/bin/env bash
# A memory manager dies (kill -9) and starts again at once on its still
# running hypervisor, while another node's guest holds pages of its home
# and it holds pages of other homes. The earlier manager's books died with
# it: the new one must not register as if nothing were out. It drops its
# claims on other homes, recovers (members drop its pages, other homes
# take theirs back by census), takes all its own pages back, and registers.
# In the end the hypervisors show every page owned once and the master's
# audit is balanced; the guests never read wrong data. Five quick restarts
# in a row end the same way.
. "$(dirname "$0")/lib.sh"

make_cluster 3
# node2 small (256 pages), node3 big (4096): node2's guest borrows node3's.
sed -i 's/tmem_pages = 2048;/tmem_pages = 256;/; s/tmem_pages = 3072;/tmem_pages = 4096;/' "$CONF"
echo 'policy = { first_tier = "greedy-remote"; reserve_pages = 512; grant_batch = 512; };' >> "$CONF"
start_master
for n in node1 node2 node3; do start_node $n; done
wait_until 20 "3 nodes active" all_active 3

# node3 borrows a little first (so it holds pages of other homes), then
# node2 borrows from node3.
echo "20 2" > "$T/phases3"
"$GUEST_BIN" --socket "$T/$CLUSTER-node3-guest.sock" --vm 3 --ram 1 \
    --workload "phases:$T/phases3" --seed 3 --pool ephemeral > "$T/warm3.out" 2> "$T/warm3.log" ||
    fail "node3's warm-up guest failed"
echo "12 3" > "$T/phases2"
"$GUEST_BIN" --socket "$T/$CLUSTER-node2-guest.sock" --vm 1 --ram 1 \
    --workload "phases:$T/phases2" --seed 5 --pool ephemeral > "$T/warm2.out" 2> "$T/warm2.log" ||
    fail "node2's warm-up guest failed"
hold_guest node2 2 2000 ephemeral
tkm --node node3 stats > "$T/s3.txt"
grep -Eq '^lent_to 2 [1-9]' "$T/s3.txt" || fail "node3 lent nothing to node2: $(cat "$T/s3.txt")"

restart_node3() {
    kill -9 "${PID_OF[node3]}"
    wait "${PID_OF[node3]}" 2>/dev/null || true
    start_slave node3
}

restart_node3
wait_until 30 "node3 recovered and active again" all_active 3
grep -q "an earlier memory manager of this hypervisor left pages out" "$T/node3.log" ||
    fail "the new memory manager did not notice the pages left out"
# Every page of every home owned exactly once, read off the hypervisors.
wait_until 30 "hypervisors balanced (node3's pages all back or held once)" \
    hv_audit 1:1024 2:256 3:4096
ctl_audit 30
tkm --node node3 stats | grep -Eq '^lent_to 2 [1-9]' &&
    tkm --node node2 stats | grep -q '^owned_home 3 0' && fail "node3 still lists pages lent to node2 that node2 dropped"

# Five quick restarts in a row.
for i in 1 2 3 4 5; do restart_node3; sleep 0.3; done
wait_until 40 "node3 active after five restarts" all_active 3
wait_until 40 "hypervisors balanced after five restarts" hv_audit 1:1024 2:256 3:4096
ctl_audit 30

hold_check
kill -0 "${PID_OF[hv-node3]}" || fail "node3's hypervisor died"
pass "slave restarts on a running hypervisor: nothing leaked, audit balanced"
