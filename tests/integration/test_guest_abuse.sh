#!/usr/bin/env bash
# A guest must never take down its hypervisor. One vmca-hv; a normal guest
# holds pages in tmem while a rogue guest (tests/integration/rogue_guest.c)
# passes an unsealed memfd and shrinks it after the hello (vmca-hv used to
# die with SIGBUS), a regular file, a write-sealed memfd, three descriptors,
# a descriptor on a batch, out-of-range slots and pools, an oversized batch,
# never reads its replies, and floods the socket with connections. After each,
# vmca-hv is alive; its log names every refusal; the normal guest's pages
# come back verified and a new guest runs to the end.
. "$(dirname "$0")/lib.sh"

ROGUE=$VMCA_BUILD/tests/rogue_guest
make_cluster 1
start_hv node1
gsock=$T/$CLUSTER-node1-guest.sock
HVLOG=$T/hv-node1.log

"$GUEST_BIN" --socket "$gsock" --vm 1 --ram 1 --workload hold:600 \
    > "$T/guest1.out" 2> "$T/guest1.log" &
G1=$!
PIDS+=($G1)
wait_until 20 "the normal guest holding its pages" grep -q holding "$T/guest1.out"

hv_alive() { kill -0 "${PID_OF[hv-node1]}" 2>/dev/null || fail "vmca-hv died after: $1"; }

# rogue MODE [ARGS...] LOGGED: runs the rogue guest (it must see the answer
# the protocol gives), then checks vmca-hv is alive and logged LOGGED.
rogue() {
    local logged=${*: -1} rc=0
    "$ROGUE" "$gsock" "${@:1:$#-1}" > "$T/rogue.out" 2>&1 || rc=$?
    hv_alive "rogue $1 ($(cat "$T/rogue.out"))"
    [ $rc -eq 0 ] || fail "rogue $1: $(cat "$T/rogue.out")"
    wait_until 10 "vmca-hv logging '$logged'" grep -qF -- "$logged" "$HVLOG"
    echo "rogue $1: $(tr '\n' ' ' < "$T/rogue.out")"
}

rogue shrink "hello of VM 9000 refused: the page buffer lacks the seal F_SEAL_SHRINK"
rogue regular "$T/buffer.file" "hello of VM 9000 refused: the page buffer"
rogue writeseal "hello of VM 9000 refused: the page buffer is sealed against writing"
rogue fds "hello of VM 9000 refused: 3 descriptors passed, expected one"
rogue extra-fd "VM 9000 disconnected"
rogue bad-ops "VM 9000 disconnected: message larger than the protocol allows"
rogue noread "VM 9000 disconnected: cannot answer the guest: its socket is full"

# More connections than vmca-hv takes: the guest already connected counts.
max=$(sed -n 's/.*guests at .* (at most \([0-9]*\)).*/\1/p' "$HVLOG" | head -n 1)
[ -n "$max" ] || fail "vmca-hv did not log its guest limit"
closed_before=$(grep -c "guest connection closed: closed by the guest" "$HVLOG" || true)
rogue flood $((max + 5)) 6 "refused a connection: $max guests connected, at most $max"
# vmca-hv has seen every accepted flood connection go before a new guest comes.
wait_until 30 "vmca-hv closing the flood's connections" bash -c \
    "[ \$(grep -c 'guest connection closed: closed by the guest' '$HVLOG') -ge $((closed_before + max - 1)) ]"

kill -USR1 $G1
rc=0
wait $G1 || rc=$?
[ $rc -eq 0 ] || fail "the normal guest failed ($rc): $(cat "$T/guest1.out" "$T/guest1.log")"
grep -q "mismatches=0" "$T/guest1.out" || fail "guest 1: $(cat "$T/guest1.out")"
"$GUEST_BIN" --socket "$gsock" --vm 2 --ram 1 --workload usemem:2 --loops 1 \
    > "$T/guest2.out" 2> "$T/guest2.log" || fail "a new guest failed: $(cat "$T/guest2.out" "$T/guest2.log")"
hv_alive "the normal guests"
grep -q "SIGBUS\|Bus error" "$HVLOG" && fail "vmca-hv logged a bus error"
pass "vmca-hv survived every rogue guest; the normal guests' checks passed"
