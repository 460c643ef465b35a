#!/usr/bin/env bash
# Surplus returns with real daemons: a guest on node2 (256 pages of its
# own) under memory pressure makes node2 gather pages of other homes
# through Grant-Any (its puts reach them). Once the guest has exited,
# node2 needs none of them: its slave gives the free pages of each other
# home back to that home (a Surplus hypercall, then a Grant to the home,
# acknowledged), with no operator, and at rest every home owns all its own
# pages again.
. "$(dirname "$0")/lib.sh"

pressure_cluster

# home_only NODE_ID PAGES: the node's hypervisor owns exactly its own PAGES
# pages and nothing of any other home.
home_only() {
    tkm --node "node$1" stats | awk -v id="$1" -v pages="$2" '
        /^owned_home/ { if ($2 == id) own = $3; else if ($3 > 0) other = 1 }
        END { exit !(own == pages && !other) }'
}
all_home() { home_only 1 1024 && home_only 2 256 && home_only 3 4096 && home_only 4 4096; }

# 16 MiB working set, 1 MiB of RAM, random accesses for 6 seconds.
echo "16 6" > "$T/phases"
"$GUEST_BIN" --socket "$T/$CLUSTER-node2-guest.sock" --vm 1 --ram 1 \
    --workload "phases:$T/phases" --seed 7 > "$T/guest.out" 2> "$T/guest.log" ||
    fail "the guest failed: $(tail -n 3 "$T/guest.log")"
cat "$T/guest.out"
grep -q 'mismatches=0' "$T/guest.out" || fail "the guest saw wrong data"
remote=$(sed -n 's/.*puts_remote=\([0-9]*\).*/\1/p' "$T/guest.out")
[ "$remote" -gt 0 ] || fail "node2 gathered no pages of other homes (no remote put)"
grep -q "forwarded" "$T/master.log" || fail "the master forwarded nothing"

# The guest is gone: within a generous timeout every page is at its home.
wait_until 60 "every home owns all its own pages again" all_home
grep -q "giving back .* surplus pages of node" "$T/node2.log" ||
    fail "node2 did not log its surplus returns"
grep -Eq "grant [0-9]+ acknowledged by node (1|3|4)" "$T/node2.log" ||
    fail "no home acknowledged node2's returns"
ctl_audit 15
pass "after the guest exited, node2 gave back every page of other homes; audit balanced"
