#!/usr/bin/env bash
# A node leaves cleanly while another holds its pages: node2 pulls pages
# from node3/node4 through the grant flow and a guest fills them; node3's
# slave gets SIGTERM: Leave-Req, Force-Return(3) to all, node2 migrates the
# guest's pages off node3's memory and returns node3's pages, node3 exits
# with all its pages back after Leave-Notify, and the guest still reads
# every page back intact.
. "$(dirname "$0")/lib.sh"

pressure_cluster

gsock=$T/$CLUSTER-node2-guest.sock
echo "16 4" > "$T/phases"
"$GUEST_BIN" --socket "$gsock" --vm 1 --ram 1 --workload "phases:$T/phases" --seed 3 \
    > "$T/warm.out" 2> "$T/warm.log" || fail "warm-up guest failed: $(cat "$T/warm.log")"
owned3() { tkm --node node2 stats | awk '$1=="owned_home" && $2==3 {print $3}'; }
[ "${owned3:-0}" ] && [ "$(owned3)" -gt 0 ] 2>/dev/null || fail "node2 holds no pages of node3"

# A guest that keeps 2744 pages in tmem, many of them in node3's memory.
"$GUEST_BIN" --socket "$gsock" --vm 2 --ram 1 --workload hold:3000 \
    > "$T/hold.out" 2> "$T/hold.log" &
G=$!
PIDS+=($G)
wait_until 20 "guest holding" grep -q holding "$T/hold.out" "$T/hold.log"
grep -q 'puts_failed=0' "$T/hold.out" "$T/hold.log" 2>/dev/null || true

kill -TERM "${PID_OF[node3]}"
rc=0
timeout 30 tail --pid="${PID_OF[node3]}" -f /dev/null || fail "node3 did not exit after leaving"
wait "${PID_OF[node3]}" || rc=$?
[ "$rc" -eq 0 ] || fail "node3's slave exited $rc"
grep -q "left the cluster: 4096 of 4096 own pages back" "$T/node3.log" ||
    fail "node3 did not get all its pages back"
grep -q "node 3 (node3) left" "$T/master.log" || fail "the master did not finish node3's leave"
[ "$(node_field node3 state)" = inactive ] || fail "node3 is $(node_field node3 state)"
tkm --node node2 stats | grep -q '^owned_home 3 ' && fail "node2 still owns pages of node3"

kill -USR1 $G
grc=0
wait $G || grc=$?
cat "$T/hold.out"
[ "$grc" -eq 0 ] || fail "the guest exited $grc: $(tail -n 3 "$T/hold.log")"
grep -q 'mismatches=0' "$T/hold.out" || fail "the guest read wrong data"
grep -q 'gets_lost=0' "$T/hold.out" || fail "the guest lost pages"
pass "node3 left with every page back; node2's guest kept all its data"
