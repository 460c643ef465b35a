#!/usr/bin/env bash
# Two nodes' vmca-hv on one machine. Node A (node1) is granted a block homed
# at node B (node2); guests on A put pages that land in B's segment. Then B's
# hypervisor is killed and restarted (a node crash: new generation). A's gets
# of those pages fail cleanly — ephemeral: a miss; persistent: the VM fails —
# and never return stale data; A's claims on B's earlier life are dropped.
. "$(dirname "$0")/lib.sh"

make_cluster 2
# A small node A (256 pages), a bigger node B.
sed -i 's/tmem_pages = 1024;/tmem_pages = 256;/; s/tmem_pages = 2048;/tmem_pages = 4096;/' "$CONF"
start_hv node1
start_hv node2

# No slaves run here: open both nodes' memory to remote access by hand.
tkm --node node1 enable 1 1
tkm --node node2 enable 2 1
# B gives 512 pages for A; A accepts them once B is enabled.
tkm --node node2 request 512 1 > "$T/req.txt"
grep -q '^pages=512$' "$T/req.txt" || fail "request: $(cat "$T/req.txt")"
blocks=$(tail -n 1 "$T/req.txt")
tkm --node node1 grant 2 $blocks | grep -q "bounced" || fail "a disabled home's block was not bounced"
# A bounced block is handed back to its home (owner table): A can no longer
# take it, B takes it back.
tkm --node node1 enable 2 1
tkm --node node1 grant 2 $blocks | grep -q "rejected" || fail "A took a block it had bounced"
tkm --node node2 grant 1 $blocks | grep -q '^accepted=512$' || fail "B did not take its bounced block back"
tkm --node node2 request 512 1 > "$T/req.txt"
blocks=$(tail -n 1 "$T/req.txt")
tkm --node node1 grant 2 $blocks > "$T/grant.txt"
grep -q '^accepted=512$' "$T/grant.txt" || fail "grant: $(cat "$T/grant.txt")"
tkm --node node1 stats > "$T/stats1.txt"
grep -q '^owned_home 2 512$' "$T/stats1.txt" || fail "A does not own B's block: $(cat "$T/stats1.txt")"

# Two guests on A with 1 MiB of RAM each touch 600 pages: 344 pages each go
# to tmem; 256 fit in A's own pages, the rest land in B's segment.
gsock=$T/$CLUSTER-node1-guest.sock
# The ephemeral guest first: it takes A's own 256 pages and 88 of B's; the
# persistent one then lands entirely in B's memory.
"$GUEST_BIN" --socket "$gsock" --vm 2 --ram 1 --workload hold:600 --pool ephemeral \
    > "$T/guest2.out" 2> "$T/guest2.log" &
G2=$!
PIDS+=($G2)
wait_until 20 "the ephemeral guest holding its pages" \
    bash -c "grep -q holding '$T/guest2.out' '$T/guest2.log' 2>/dev/null"
"$GUEST_BIN" --socket "$gsock" --vm 1 --ram 1 --workload hold:600 --pool persistent \
    > "$T/guest1.out" 2> "$T/guest1.log" &
G1=$!
PIDS+=($G1)
wait_until 20 "the persistent guest holding its pages" \
    bash -c "grep -q holding '$T/guest1.out' '$T/guest1.log' 2>/dev/null"
tkm --node node1 stats > "$T/stats2.txt"
used=$(sed -n 's/.* used=\([0-9]*\) .*/\1/p' "$T/stats2.txt" | head -n 1)
[ "$used" -eq 688 ] || fail "expected 688 pages in tmem on A, saw $used"

# Node B crashes and comes back: new generation, empty segment.
gen_before=$(tkm --node node2 stats | sed -n 's/.*generation=\([0-9]*\).*/\1/p')
kill -9 "${PID_OF[hv-node2]}"
wait "${PID_OF[hv-node2]}" 2>/dev/null || true
start_hv node2
tkm --node node2 enable 2 1
gen_after=$(tkm --node node2 stats | sed -n 's/.*generation=\([0-9]*\).*/\1/p')
[ "$gen_after" -gt "$gen_before" ] || fail "B's generation did not change ($gen_before -> $gen_after)"

# A drops what lived in B's earlier life and keeps the rest: the ephemeral
# guest's 256 pages in A's own memory are still there.
wait_until 10 "A holding only the ephemeral guest's 256 pages of its own memory" \
    bash -c "$(declare -f tkm); TKM_BIN='$TKM_BIN' CONF='$CONF'; tkm --node node1 stats | grep -q '^vm 2 used=256 '"

# The guests read everything back.
kill -USR1 $G1 $G2
rc1=0; wait $G1 || rc1=$?
rc2=0; wait $G2 || rc2=$?
cat "$T/guest1.out" "$T/guest2.out"
grep -q 'mismatches=0' "$T/guest2.out" || fail "ephemeral guest saw wrong data"
[ "$rc2" -eq 0 ] || fail "ephemeral guest exited $rc2"
misses=$(sed -n 's/.*gets_miss=\([0-9]*\).*/\1/p' "$T/guest2.out")
[ "$misses" -gt 0 ] || fail "ephemeral guest had no misses although B restarted"
# (With ephemeral eviction its read-back may verify nothing: each page it
# puts while reading in order evicts its oldest, the next one it reads. Its
# local pages surviving is checked above, before the read-back.)
[ "$rc1" -eq 3 ] || fail "persistent guest exited $rc1, expected 3 (VM failed)"
grep -qi "fail" "$T/guest1.log" || fail "persistent guest did not say it failed"
grep -q 'mismatches=[1-9]' "$T/guest1.out" "$T/guest1.log" && fail "persistent guest saw wrong data"
grep -q "VM 1 disconnected after failing" "$T/hv-node1.log" || fail "A's hypervisor did not report VM 1 failed"

# A's claims on B's earlier life are void: A's hypervisor drops them by
# itself (and Invalidate(B) would too); nothing of B's old life is left.
tkm --node node1 invalidate 2 > "$T/inv.txt" || fail "invalidate: $(cat "$T/inv.txt")"
tkm --node node1 stats | grep -q '^owned_home 2 ' && fail "A still owns pages of B"
pass "B's restart: ephemeral misses ($misses), persistent VM failed, no stale data, invalidate clean"
