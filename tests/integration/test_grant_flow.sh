#!/usr/bin/env bash
# The grant flow with real daemons: a guest under memory pressure on node2
# (small tmem) makes its slave send Grant-Any; the master forwards to donors
# (sorted by free pages, keeping the reserve); donors' hypervisors release
# blocks that travel peer-to-peer over TLS (Grant/Grant-Ack) into node2's
# hypervisor, and the guest's later puts land in remote pages. At rest,
# an audit over every hypervisor finds each page owned exactly once.
. "$(dirname "$0")/lib.sh"

pressure_cluster

# 16 MiB working set, 1 MiB of RAM, random accesses for 6 seconds.
echo "16 6" > "$T/phases"
"$GUEST_BIN" --socket "$T/$CLUSTER-node2-guest.sock" --vm 1 --ram 1 \
    --workload "phases:$T/phases" --seed 7 > "$T/guest.out" 2> "$T/guest.log" &
guest=$!
# While the guest runs (afterwards its node gives free borrowed pages back).
wait_until 30 "node2 owning pages of another home" owns_remote node2
wait $guest || fail "the guest failed: $(cat "$T/guest.log")"
cat "$T/guest.out"
grep -q 'mismatches=0' "$T/guest.out" || fail "the guest saw wrong data"
remote=$(sed -n 's/.*puts_remote=\([0-9]*\).*/\1/p' "$T/guest.out")
[ "$remote" -gt 0 ] || fail "no put landed in a remote page"
grep -q "forwarded" "$T/master.log" || fail "the master forwarded nothing"
grep -q "acknowledged by node 2" "$T/node3.log" "$T/node4.log" || fail "no donor got a Grant-Ack"

# Audit: with nothing in transit, every home's pages are owned exactly once,
# read from the hypervisors and from the master (vmcactl audit).
wait_until 15 "ownership audit balanced at rest" hv_audit 1:1024 2:256 3:4096 4:4096
ctl_audit 15
pass "guest's puts reached remote pages ($remote); audit: every page owned once"
