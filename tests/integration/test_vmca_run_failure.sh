# vmca-run through a node failure without replication: a program whose
# evicted pages partly live in another node's memory (a persistent pool)
# loses that node; vmca-hv fails the VM and the program is stopped with a
# clear message (status 3) instead of ever reading data it did not write.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vmca_run_lib.sh"

RUN=$VMCA_BUILD/tools/vmca-run
lending_cluster 16384   # node1 has 1024 pages of its own; node2 lends

hold_program "$T/hold.py" 3
"$RUN" --config "$CONF" --node node1 --vm 77 --local-mib 4 -- python3 "$T/hold.py" "$T" \
    > "$T/hold.out" 2> "$T/hold.err" &
P=$!
PIDS+=($P)
# Passes re-put every page they evict; node2's grants arrive meanwhile.
for p in pass1 pass2 pass3; do
    wait_until 60 "the program waits for $p" grep -qx "$p" "$T/hold.out"
    touch "$T/$p"
    if tkm --node node1 stats | grep -Eq '^owned_home 2 [1-9]'; then break; fi
done
wait_until 30 "node1 uses pages of node2" owns_remote node1
tkm --node node1 stats | grep '^vm 77' || fail "VM 77 is not on node1"

kill -9 "${PID_OF[node2]}" "${PID_OF[hv-node2]}"
wait_until 20 "node1 invalidated node2" grep -q "invalidated node 2" "$T/hv-node1.log"
for p in pass1 pass2 pass3; do touch "$T/$p"; done
rc=0
wait "$P" || rc=$?
[ "$rc" -eq 3 ] || fail "the program exited $rc, expected 3 (VM failed): $(cat "$T/hold.out" "$T/hold.err")"
grep -q "VM failed" "$T/hold.err" || fail "no 'VM failed' message: $(cat "$T/hold.err")"
cat "$T/hold.err"
pass "node2 killed while holding VM 77's pages: the program stopped with status 3, no wrong data"
