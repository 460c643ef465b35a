#!/usr/bin/env bash
# vmca-run through a node failure with replicas = 2: a program whose evicted
# pages live in other nodes' memory (a persistent pool, each remote page kept
# twice on two nodes of different boards) loses one of those nodes to
# SIGKILL between two passes over its memory; it keeps running, its later
# passes read every page back (the surviving copies serve the gets, each page
# checked against its checksum) and its output is the plain run's.
# Without replication the same loss stops the program with status 3
# (test_vmca_run_failure.sh).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vmca_run_lib.sh"

RUN=$VMCA_BUILD/tools/vmca-run
make_cluster 4
# Each node on a board of its own (location [0, i, i]), so a second copy may
# go to any other node; node1 (the program's) keeps its 1024 pages of tmem,
# the others are rich alike, so node1 borrows from them.
sed -i 's/location = \[0, [01], \([0-9]\)\]/location = [0, \1, \1]/
        s/tmem_pages = \(2048\|3072\|4096\);/tmem_pages = 4608;/' "$CONF"
[ "$(grep -c 'tmem_pages = 4608;' "$CONF")" -eq 3 ] || fail "test set-up: nodes 2-4 not changed"
echo 'replicas = 2;' >> "$CONF"
greedy_remote
start_master
for n in node1 node2 node3 node4; do start_node $n; done
wait_until 20 "4 nodes active" all_active 4

# Three 6 MiB arrays (4608 pages, 4 MiB resident), six passes over them.
hold_program "$T/hold.py" 6
mkdir "$T/plain"
for p in 1 2 3 4 5 6; do touch "$T/plain/pass$p"; done
python3 "$T/hold.py" "$T/plain" > "$T/plain.out" || fail "the plain run failed"

"$RUN" --config "$CONF" --node node1 --vm 77 --local-mib 4 -- python3 "$T/hold.py" "$T" \
    > "$T/hold.out" 2> "$T/hold.err" &
P=$!
PIDS+=($P)
replicated() {
    grep 'replication:' "$T/hv-node1.log" | tail -n 1 | grep -Eq ' [1-9][0-9]* replica pages, 0 under'
}
# The first passes re-put every page they evict; node1's grants arrive meanwhile.
done_passes=0
for p in 1 2 3; do
    wait_until 60 "the program waits for pass$p" grep -qx "pass$p" "$T/hold.out"
    touch "$T/pass$p"
    done_passes=$p
    owns_remote node1 && replicated && break
done
wait_until 60 "the program waits for pass$((done_passes + 1))" grep -qx "pass$((done_passes + 1))" "$T/hold.out"
wait_until 30 "node1 uses remote pages" owns_remote node1
wait_until 30 "node1 keeps two copies of every remote page" replicated
# The victim: the node that holds most of node1's pages.
victim=$(tkm --node node1 stats | awk '/^owned_home/ && $2 != 1 && $3 > max { max = $3; v = $2 }
                                       END { print v }')
[ -n "$victim" ] || fail "node1 holds no remote pages: $(tkm --node node1 stats)"
held=$(tkm --node node1 stats | awk -v v="$victim" '/^owned_home/ && $2 == v { print $3 }')
before=$(grep 'replication:' "$T/hv-node1.log" | tail -n 1) || before=

kill -9 "${PID_OF[node$victim]}" "${PID_OF[hv-node$victim]}"
wait_until 20 "node1 invalidated node$victim" grep -q "invalidated node $victim" "$T/hv-node1.log"
for p in 1 2 3 4 5 6; do touch "$T/pass$p"; done
rc=0
wait "$P" || rc=$?
[ "$rc" -eq 0 ] || fail "the program exited $rc after node$victim's loss: $(tail -n 3 "$T/hold.err")"
cmp -s "$T/plain.out" "$T/hold.out" ||
    fail "output differs from the plain run: $(diff "$T/plain.out" "$T/hold.out" | head -5)"
line=$(grep 'vmca-run: pid=' "$T/hold.err") || fail "no counter line: $(cat "$T/hold.err")"
c() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
[ "$(c gets_remote)" -gt 0 ] || fail "no page came back from another node: $line"
[ "$(c verified)" -eq $(($(c gets) + $(c disk_reads))) ] || fail "not every page was verified: $line"
[ "$(c resident_max)" -le "$(c budget_pages)" ] || fail "resident above the budget: $line"
pass "node$victim (holding $held of node1's pages) killed between passes $done_passes and $((done_passes + 1)): the program ran on, output as the plain run's; before: ${before#*replication: }; $(c gets_remote) gets from other nodes"
