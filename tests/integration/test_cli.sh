#!/usr/bin/env bash
# Command lines and configurations that are wrong get a precise error and a
# non-zero exit before anything starts; --help tells the truth.
. "$(dirname "$0")/lib.sh"

make_cluster 2
"$MASTER_BIN" --help | grep -q -- "--config FILE" || fail "master --help"
"$SLAVE_BIN" --help | grep -q -- "--node NAME" || fail "slave --help"
"$CTL_BIN" --help | grep -q "status" || fail "vmcactl --help"
"$CTL_BIN" --help | grep -q "audit" || fail "vmcactl --help does not name audit"

expect 2 "--config is required" "$MASTER_BIN"
expect 2 "unrecognized option" "$MASTER_BIN" --bogus
expect 2 "unknown level 'loud'" "$MASTER_BIN" --config "$CONF" --log-level loud
expect 2 "--config and --node are required" "$SLAVE_BIN" --config "$CONF"
expect 1 "no node named 'node9'" "$SLAVE_BIN" --config "$CONF" --node node9

# --tkm-backend chooses emu or xen. This machine is no Xen host's control
# domain, so a slave with xen stops at start saying so, before it binds a
# port or reaches for the master (none runs here).
"$SLAVE_BIN" --help | grep -q -- "--tkm-backend B" || fail "slave --help does not name --tkm-backend"
expect 2 "--tkm-backend: expected emu or xen, got 'kvm'" "$SLAVE_BIN" --config "$CONF" --node node1 --tkm-backend kvm
if "$SLAVE_BIN" --help | grep -q "Built into this program: emu, xen"; then
    expect 2 "--tkm-socket applies to --tkm-backend emu only" \
        "$SLAVE_BIN" --config "$CONF" --node node1 --tkm-backend xen --tkm-socket "$T/x.sock"
    if [ -e /proc/xen/privcmd ] || [ -e /dev/xen/privcmd ]; then
        echo "SKIP: a Xen control interface exists here: the start failure is not checked"
    else
        expect 1 "cannot open the Xen control interface: " \
            "$SLAVE_BIN" --config "$CONF" --node node1 --tkm-backend xen
        grep -q "TLS\|connected\|listen" "$T/out.txt" && fail "the xen slave went on: $(cat "$T/out.txt")"
    fi
else
    expect 2 "--tkm-backend xen: not built into this program" \
        "$SLAVE_BIN" --config "$CONF" --node node1 --tkm-backend xen
fi
expect 2 "unknown command 'frobnicate'" "$CTL_BIN" --config "$CONF" frobnicate
expect 1 "cannot reach the master" "$CTL_BIN" --config "$CONF" status
expect 1 "cannot reach the master" "$CTL_BIN" --config "$CONF" audit
expect 2 "--wait: expected seconds in 0..86400, got 'soon'" "$CTL_BIN" --config "$CONF" --wait soon audit
expect 2 "--wait: expected seconds in 0..86400, got '-1'" "$CTL_BIN" --config "$CONF" --wait -1 audit
expect 2 "--wait applies to audit, leave and join only" "$CTL_BIN" --config "$CONF" --wait 3 status
expect 2 "mem-limit takes NODE PAGES" "$CTL_BIN" --config "$CONF" mem-limit node2
expect 2 "PAGES must be a number of pages, got '-5'" "$CTL_BIN" --config "$CONF" mem-limit node2 -5
expect 2 "status takes no arguments" "$CTL_BIN" --config "$CONF" status now

# vmca-tkm: every usage error exits 2 with its message, before connecting
# (no hypervisor runs here) and without leaking (LeakSanitizer in build-asan).
expect 2 "grant: 'junk' is not a block HOME:INDEX/ORDER" "$TKM_BIN" --config "$CONF" --node node1 grant 2 junk
expect 2 "grant: '1:0' is not a block" "$TKM_BIN" --config "$CONF" --node node1 grant 2 1:0/0 1:0
expect 2 "grant: FROM must be a node id, got 'x'" "$TKM_BIN" --config "$CONF" --node node1 grant x 1:0/0
expect 2 "mem-limit: expected VM PAGES pairs, got '1 ...'" "$TKM_BIN" --config "$CONF" --node node1 mem-limit 1 many
expect 2 "request: expected PAGES and a node id TO" "$TKM_BIN" --config "$CONF" --node node1 request 5 0
expect 2 "enable: expected HOME and 0 or 1" "$TKM_BIN" --config "$CONF" --node node1 enable 1 2
expect 2 "expected a node id, got 'me'" "$TKM_BIN" --config "$CONF" --node node1 owned me
expect 2 "unknown command or wrong arguments: 'grant'" "$TKM_BIN" --config "$CONF" --node node1 grant 2
expect 2 "no node named 'node9'" "$TKM_BIN" --config "$CONF" --node node9 stats
expect 2 "expected a command" "$TKM_BIN" --config "$CONF" --node node1
expect 1 "cannot connect to" "$TKM_BIN" --config "$CONF" --node node1 grant 2 1:0/0

sed 's/address = "127.0.0.1"; port = '"${PORTS[2]}"'/address = "127.0.0.-1"; port = '"${PORTS[2]}"'/' "$CONF" > "$T/badaddr.conf"
expect 1 "badaddr.conf:6: nodes.\[1\].address: expected an IPv4 literal of four numbers in 0..255, got \"127.0.0.-1\"" "$SLAVE_BIN" --config "$T/badaddr.conf" --node node1

sed 's/port = '"$MASTER_PORT"'/port = 99999/' "$CONF" > "$T/bad.conf"
expect 1 "bad.conf:2: master.port" "$MASTER_BIN" --config "$T/bad.conf"
rm "$T/certs/node2.key"
expect 1 "node2.key" "$SLAVE_BIN" --config "$CONF" --node node2
# Every program names itself and the version with -V and --version.
version=$(sed -n 's/^project(vmca VERSION \([0-9.]*\).*/\1/p' "$VMCA_SOURCE/CMakeLists.txt")
[ -n "$version" ] || fail "no project version in CMakeLists.txt"
for b in "$MASTER_BIN" "$SLAVE_BIN" "$HV_BIN" "$GUEST_BIN" "$TKM_BIN" "$CTL_BIN" "$VMCA_BUILD/tools/vmca-sim"; do
    for v in -V --version; do
        [ "$("$b" $v)" = "$(basename "$b") $version" ] || fail "$b $v says '$("$b" $v)'"
    done
done

# vmca-guest finds its node's guest socket from the configuration.
expect 2 "no node named 'node9'" "$GUEST_BIN" --config "$CONF" --node node9 --vm 1 --ram 1 --workload hold:1
expect 2 "--config FILE and --node NAME go together" "$GUEST_BIN" --node node1 --vm 1 --ram 1 --workload hold:1
expect 2 "not both" "$GUEST_BIN" --socket x --config "$CONF" --node node1 --vm 1 --ram 1 --workload hold:1
expect 1 "$CLUSTER-node1-guest.sock" "$GUEST_BIN" --config "$CONF" --node node1 --vm 1 --ram 1 --workload hold:1
pass "bad command lines and configurations refused precisely"
