#!/usr/bin/env bash
# vmcactl against a real cluster: every command, for people and with --json
# (parsed by python3), options after the command, $VMCA_CONFIG; a per-VM cap
# (mem-set) that a VM under pressure never passes while its uncapped
# neighbour's target does; a leave asked by the operator that ends with the
# node inactive and its slave still up, then join; and the error paths:
# master down, unknown node, operations the node's state forbids, bad
# arguments (each with its exit status).
. "$(dirname "$0")/lib.sh"

ctl() { "$CTL_BIN" --config "$CONF" "$@"; }
# json EXPR: reads a JSON document on stdin and fails unless the python3
# expression EXPR (over `d`) is true.
json() { python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(0 if eval("(" + sys.argv[1] + ")") else 1)' "$1"; }

POLICY='policy = { first_tier = "tlp"; tlp_percent = 25; tlp_threshold = 64; reserve_pages = 512; };'
make_cluster 4
sed -i 's/tmem_pages = 2048;/tmem_pages = 256;/; s/tmem_pages = 3072;/tmem_pages = 4096;/' "$CONF"
echo "$POLICY" >> "$CONF"

# ---- before the master runs: bad usage (2), then the master down (1)
expect 2 "mem-set: VM must be a number (a VM id), got 'x'" ctl mem-set node2 x 5
expect 2 "mem-set: PAGES must be a number of pages, got '-1'" ctl mem-set node2 1 -1
expect 2 "mem-set takes NODE VM PAGES" ctl mem-set node2 1
expect 2 "leave takes NODE" ctl leave
expect 2 "vms takes at most a NODE" ctl vms node1 node2
expect 2 "unknown option '--frob'" ctl status --frob
expect 2 "option '--wait' needs a value" ctl leave node2 --wait
expect 2 "--wait applies to audit, leave and join only" ctl nodes --wait 3
expect 2 "give one of --config or --socket, not both" ctl --socket "$T/x.sock" status
expect 2 "give --config FILE or --socket PATH (or set VMCA_CONFIG)" env -u VMCA_CONFIG "$CTL_BIN" status
expect 2 "from \$VMCA_CONFIG" env VMCA_CONFIG="$T/missing.conf" "$CTL_BIN" status
for cmd in status nodes vms stats audit "leave node2" "join node2" "mem-limit node2 5" \
           "mem-set node2 1 5"; do
    # shellcheck disable=SC2086
    expect 1 "cannot reach the master at $T/admin.sock: is vmca-master running?" ctl $cmd
done

start_master
for n in node1 node2 node3 node4; do start_node $n; done
wait_until 20 "4 nodes active" all_active 4

# ---- status, nodes, stats: options after the command, $VMCA_CONFIG
VMCA_CONFIG=$CONF "$CTL_BIN" status --json | json 'len(d["nodes"]) == 4 and
    all(n["state"] == "active" for n in d["nodes"])' || fail "status --json (VMCA_CONFIG)"
VMCA_CONFIG=$CONF "$CTL_BIN" status | grep -q "^2 *node2 *active" || fail "status via \$VMCA_CONFIG"
ctl nodes -j | json 'd["page_size"] == 4096 and
    [n["capacity_pages"] for n in d["nodes"]] == [1024, 256, 4096, 4096] and
    [n["capacity_mib"] for n in d["nodes"]] == [4.0, 1.0, 16.0, 16.0] and
    all(n["free_pages"] <= n["owned_pages"] and abs(n["owned_mib"] - n["owned_pages"] / 256) < 0.001
        for n in d["nodes"])' || fail "nodes --json: $(ctl nodes --json)"
ctl nodes | grep -q "^3 *node3 *active *yes *4096 (16.0)" || fail "nodes table: $(ctl nodes)"
ctl stats --json | json 'd["members"] == 4 and d["active"] == 4 and d["capacity"] == 9472 and
    d["page_size"] == 4096' || fail "stats --json: $(ctl stats --json)"
ctl stats | grep -q "^capacity *9472$" || fail "stats: $(ctl stats)"

# ---- errors of a running master: unknown node (5), the node's state (6), range (2)
for cmd in "leave node9" "join node9" "vms node9" "mem-set node9 1 5" "mem-limit node9 5"; do
    # shellcheck disable=SC2086
    expect 5 "no node 'node9' in the configuration (known: node1, node2, node3, node4)" ctl $cmd
done
expect 6 "node 2 (node2) is active, not inactive" ctl join node2
expect 2 "99999999 pages is more than the cluster's 9472" ctl mem-set node2 1 99999999

# ---- mem-set: VM 1 on node2 capped at 40 pages, VM 2 not; both under
# pressure (16 MB working sets in 1 MB of RAM): VM 1's target stays within
# the cap while VM 2's grows past it (tlp grows a failing VM's target).
ctl mem-set node2 1 40 --json | json 'd == {"node": "node2", "vm": 1, "cap": 40}' ||
    fail "mem-set --json"
ctl vms node2 --json | json 'any(v["vm"] == 1 and v["cap"] == 40 and not v["reported"]
    for v in d["vms"])' || fail "the cap of a VM not running yet: $(ctl vms node2)"
echo "16 6" > "$T/phases"
for vm in 1 2; do
    "$GUEST_BIN" --config "$CONF" --node node2 --vm $vm --ram 1 --workload "phases:$T/phases" \
        --seed $vm > "$T/guest$vm.out" 2> "$T/guest$vm.log" &
    PIDS+=($!)
    eval "guest$vm=$!"
done
# target_of VM: VM's target on node2's hypervisor ("-" while none is set).
target_of() {
    tkm --node node2 stats | awk -v vm="$1" '$1 == "vm" && $2 == vm {
        split($4, t, "="); print (t[2] == "18446744073709551615" ? "-" : t[2]) }'
}
samples=0
above=0
while kill -0 "$guest1" 2>/dev/null && kill -0 "$guest2" 2>/dev/null; do
    t1=$(target_of 1)
    t2=$(target_of 2)
    if [[ $t1 =~ ^[0-9]+$ ]]; then
        [ "$t1" -le 40 ] || fail "VM 1's target $t1 passed its 40-page cap"
        samples=$((samples + 1))
    fi
    [[ $t2 =~ ^[0-9]+$ ]] && [ "$t2" -gt 40 ] && above=$((above + 1))
    if [ $((samples % 4)) -eq 1 ]; then ctl vms node2 --json > "$T/vms.json"; fi
    sleep 0.3
done
wait "$guest1" || fail "guest 1 failed: $(cat "$T/guest1.log")"
wait "$guest2" || fail "guest 2 failed: $(cat "$T/guest2.log")"
grep -q 'mismatches=0' "$T/guest1.out" && grep -q 'mismatches=0' "$T/guest2.out" ||
    fail "a guest saw wrong data"
[ $samples -ge 3 ] || fail "VM 1's target was seen only $samples times"
[ $above -ge 1 ] || fail "VM 2's target never grew past 40 pages: no pressure, the cap proves nothing"
grep -q "vm-limits: VM 1 at most 40 pages" "$T/node2.log" || fail "node2 did not log the cap"
json 'any(v["vm"] == 1 and v["cap"] == 40 and v["reported"] and v["target"] is not None and
    v["target"] <= 40 for v in d["vms"]) and any(v["vm"] == 2 and v["cap"] is None
    for v in d["vms"])' < "$T/vms.json" || fail "vms --json while the guests ran: $(cat "$T/vms.json")"
ctl vms | grep -q "^2 *node2 *1 " || fail "vms table: $(ctl vms)"
ctl stats --json | json 'd["grants_forwarded"] > 0 and d["pages_forwarded"] > 0' ||
    fail "no grant forwarded for the guests' pressure: $(ctl stats)"
ctl mem-set node2 1 0 | grep -q "mem-set of VM 1 on node2: no cap" || fail "lifting the cap"
ctl mem-limit node2 0 --json | json 'd == {"node": "node2", "mem_limit": None}' ||
    fail "mem-limit --json"
ctl_audit 20

# ---- leave node3 (asked by the operator): it ends inactive, its slave runs on
# (node3 has a VM cap, which the master sends again when it registers anew)
ctl mem-set node3 5 77 > /dev/null || fail "mem-set node3 5 77"
wait_until 10 "node3 took the cap" grep -q "vm-limits: VM 5 at most 77 pages" "$T/node3.log"
slave3=${PID_OF[node3]}
ctl leave node3 --wait 60 > "$T/leave.out" 2>&1 || fail "leave node3: $(cat "$T/leave.out")"
cat "$T/leave.out"
grep -q "^leave node3: left the cluster: inactive" "$T/leave.out" || fail "no final progress line"
[ "$(node_field node3 state)" = inactive ] || fail "node3 is not inactive after its leave"
grep -q "node 3 (node3) left: leaving -> inactive" "$T/master.log" || fail "the master did not log the leave"
kill -0 "$slave3" || fail "node3's slave exited after an operator's leave"
expect 6 "node 3 (node3) is inactive, not active" ctl leave node3
expect 6 "node 3 (node3) is inactive, not active" ctl mem-set node3 1 5
ctl_audit 20

# ---- join node3: registers again (a new life), active
ctl --json join node3 > "$T/join.json" 2> "$T/join.err" || fail "join node3: $(cat "$T/join.err")"
json 'd["node"] == "node3" and d["state"] == "active" and d["done"]' < "$T/join.json" ||
    fail "join --json: $(cat "$T/join.json")"
grep -q "^join node3: joined: active" "$T/join.err" || fail "join progress: $(cat "$T/join.err")"
wait_until 20 "4 nodes active again" all_active 4
[ "$(grep -c "vm-limits: VM 5 at most 77 pages" "$T/node3.log")" -ge 2 ] ||
    fail "node3 did not get its VM cap again when it registered anew"

# ---- leave --json; then join with no slave running (6)
ctl leave node4 --json > "$T/leave4.json" || fail "leave node4 --json"
json 'd["node"] == "node4" and d["state"] == "inactive" and d["done"]' < "$T/leave4.json" ||
    fail "leave --json: $(cat "$T/leave4.json")"
kill -TERM "${PID_OF[node4]}"
wait "${PID_OF[node4]}" || fail "node4's slave, stopped while inactive, exited $?"
wait_until 10 "node4's slave disconnected" field_is node4 connected false
expect 6 "no vmca-slave of node 4 (node4) is connected to the master: start one on its machine" ctl join node4
ctl stats -j | json 'd["members"] == 3' || fail "stats after node4 left: $(ctl stats)"
ctl_audit 20

# ---- the master goes away
kill -TERM "${PID_OF[master]}"
wait "${PID_OF[master]}" || true
expect 1 "cannot reach the master at $T/admin.sock: is vmca-master running?" ctl nodes --json
pass "vmcactl: every command and its errors; mem-set held VM 1 within 40 pages in $samples samples while VM 2 grew past it; leave and join"
