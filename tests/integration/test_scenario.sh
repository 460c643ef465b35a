#!/usr/bin/env bash
# The whole story in one 4-node run (A = node2, B = node3, C = node4):
# a guest under pressure on A ends up with pages homed at B and C; B leaves
# cleanly while A holds its pages (A returns them, B exits with all its
# pages, A's guest keeps its data); the master is killed and restarted in
# the middle; C is killed with SIGKILL while A holds its pages, is detected,
# fenced and recovered; after the census every page of every live node is
# owned exactly once (audit over every node's ownership) and A's guest never
# read wrong data.
. "$(dirname "$0")/lib.sh"

pressure_cluster

gsock=$T/$CLUSTER-node2-guest.sock
echo "24 4" > "$T/phases"
"$GUEST_BIN" --socket "$gsock" --vm 1 --ram 1 --workload "phases:$T/phases" --seed 11 \
    --pool ephemeral > "$T/warm.out" 2> "$T/warm.log" || fail "warm-up guest failed"
tkm --node node2 stats > "$T/a1.txt"
grep -Eq '^owned_home 3 [1-9]' "$T/a1.txt" || fail "A holds no pages of B: $(cat "$T/a1.txt")"
grep -Eq '^owned_home 4 [1-9]' "$T/a1.txt" || fail "A holds no pages of C: $(cat "$T/a1.txt")"

# A guest keeps pages in tmem (in B's and C's memory among others).
"$GUEST_BIN" --socket "$gsock" --vm 2 --ram 1 --workload hold:4000 --pool ephemeral \
    > "$T/hold.out" 2> "$T/hold.log" &
G=$!
PIDS+=($G)
wait_until 20 "guest holding" grep -q holding "$T/hold.out" "$T/hold.log"

# B leaves while A holds its pages.
kill -TERM "${PID_OF[node3]}"
timeout 30 tail --pid="${PID_OF[node3]}" -f /dev/null || fail "B did not finish leaving"
rc=0
wait "${PID_OF[node3]}" || rc=$?
[ "$rc" -eq 0 ] || fail "B's slave exited $rc"
grep -q "left the cluster: 4096 of 4096 own pages back" "$T/node3.log" || fail "B lost pages"

# The master dies and comes back.
kill -9 "${PID_OF[master]}"
sleep 0.3
start_master
wait_until 20 "A and C active under the new master" bash -c \
    "[ \"\$(\"$CTL_BIN\" --config '$CONF' --json status 2>/dev/null | grep -o '\"state\":\"active\"' | wc -l)\" -ge 3 ]"

# C is killed while A holds its pages.
tkm --node node2 stats | grep -Eq '^owned_home 4 [1-9]' || fail "A no longer holds pages of C"
kill -9 "${PID_OF[node4]}" "${PID_OF[hv-node4]}"
wait_until 30 "C detected, fenced and recovered" grep -q "node 4 (node4) recovered" "$T/master.log"
grep -q "node 4 fenced" "$T/master.log" || fail "C was not fenced"
tkm --node node2 stats | grep -q '^owned_home 4 ' && fail "A still owns pages of C"

kill -USR1 $G
grc=0
wait $G || grc=$?
cat "$T/hold.out"
[ "$grc" -eq 0 ] || fail "A's guest exited $grc"
grep -q 'mismatches=0' "$T/hold.out" || fail "A's guest read wrong data"

# Audit of the live nodes' hypervisors (node1..node3; B left and runs only
# its hypervisor, which owns all of B's pages): every page owned exactly
# once; and the master's own audit from the members' statistics.
wait_until 20 "audit balanced after the census" hv_audit 1:1024 2:256 3:4096
ctl_audit 20
pass "pressure, leave, master restart, SIGKILL + fence + recovery + census: audit clean"
