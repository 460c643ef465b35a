#!/usr/bin/env bash
# A leave with the master down: node2's slave, sent SIGTERM while the
# master is gone, says what it waits for, gives up after --leave-timeout
# with a clear message and exit status 3; a second signal stops another
# slave at once, also with status 3. A connection the master's port
# refuses is reported as refused, not as closed by the peer. And a clean
# leave (node4's, with the master up) leaves no TLS error in any log.
. "$(dirname "$0")/lib.sh"

make_cluster 4
start_master
start_node node1
start_hv node2
start_slave node2 --leave-timeout 3
start_node node3
start_node node4
wait_until 20 "every node active" all_active 4

# A clean leave first: node4 goes with the master up.
kill -TERM "${PID_OF[node4]}"
timeout 30 tail --pid="${PID_OF[node4]}" -f /dev/null || fail "node4 did not finish its leave"
rc=0
wait "${PID_OF[node4]}" || rc=$?
[ "$rc" -eq 0 ] || fail "node4's clean leave exited $rc"
sleep 0.5
if grep -h "TLS error" "$T"/*.log; then fail "a clean leave logged a TLS error"; fi
grep -q "node 4 disconnected.*closed by peer" "$T/master.log" ||
    fail "the master did not log node4's close as a close: $(grep 'node 4 disconnected' "$T/master.log")"

kill -9 "${PID_OF[master]}"
wait_until 10 "node2 sees the master gone" grep -q "lost the master" "$T/node2.log"
wait_until 10 "node2 retries the master" grep -q "cannot reach the master.*cannot connect: Connection refused" "$T/node2.log"
grep "cannot reach the master" "$T/node2.log" | grep -q "closed by peer" &&
    fail "a refused connection was logged as closed by the peer"

# The leave gives up after 3 s with what it waited for, exit status 3.
start=$SECONDS
kill -TERM "${PID_OF[node2]}"
timeout 20 tail --pid="${PID_OF[node2]}" -f /dev/null || fail "node2 did not give up its leave"
rc=0
wait "${PID_OF[node2]}" || rc=$?
[ "$rc" -eq 3 ] || fail "node2's unfinished leave exited $rc, expected 3"
grep -q "the leave did not finish in 3 s: waiting for the master's Leave-Notify.*(the master is not reachable); exiting without a clean leave" "$T/node2.log" ||
    fail "no clear outcome in node2's log: $(tail -5 "$T/node2.log")"
grep -q "stopped without a clean leave" "$T/node2.log" || fail "node2's last line does not say so"

# A second signal stops node3 at once (its leave would wait up to 60 s).
kill -TERM "${PID_OF[node3]}"
wait_until 10 "node3 leaving" grep -q "leaving the cluster" "$T/node3.log"
kill -TERM "${PID_OF[node3]}"
timeout 10 tail --pid="${PID_OF[node3]}" -f /dev/null || fail "node3 ignored the second signal"
rc=0
wait "${PID_OF[node3]}" || rc=$?
[ "$rc" -eq 3 ] || fail "node3 stopped by a second signal exited $rc, expected 3"
grep -q "second stop signal: exiting at once without a clean leave" "$T/node3.log" ||
    fail "node3 did not say why it stopped"
pass "leave with the master down: gave up after 3 s (status 3); second signal: status 3; refused connections named; clean close without TLS errors"
