#!/usr/bin/env bash
# Command lines and configurations that are wrong get a precise error and a
# non-zero exit before anything starts; --help tells the truth.
. "$(dirname "$0")/lib.sh"

make_cluster 2
"$MASTER_BIN" --help | grep -q -- "--config FILE" || fail "master --help"
"$SLAVE_BIN" --help | grep -q -- "--node NAME" || fail "slave --help"
"$CTL_BIN" --help | grep -q "status" || fail "vmcactl --help"
"$CTL_BIN" --help | grep -q "audit" || fail "vmcactl --help does not name audit"

expect() {   # expect CODE PATTERN CMD...
    local code=$1 pat=$2 rc=0
    shift 2
    "$@" > "$T/out.txt" 2>&1 || rc=$?
    [ "$rc" -eq "$code" ] || fail "'$*' exited $rc, expected $code: $(cat "$T/out.txt")"
    grep -q -- "$pat" "$T/out.txt" || fail "'$*' did not say '$pat': $(cat "$T/out.txt")"
}
expect 2 "--config is required" "$MASTER_BIN"
expect 2 "unrecognized option" "$MASTER_BIN" --bogus
expect 2 "unknown level 'loud'" "$MASTER_BIN" --config "$CONF" --log-level loud
expect 2 "--config and --node are required" "$SLAVE_BIN" --config "$CONF"
expect 1 "no node named 'node9'" "$SLAVE_BIN" --config "$CONF" --node node9
expect 2 "unknown command 'frobnicate'" "$CTL_BIN" --config "$CONF" frobnicate
expect 1 "cannot reach the master" "$CTL_BIN" --config "$CONF" status
expect 1 "cannot reach the master" "$CTL_BIN" --config "$CONF" audit
expect 2 "--wait: expected seconds in 0..86400, got 'soon'" "$CTL_BIN" --config "$CONF" --wait soon audit
expect 2 "--wait: expected seconds in 0..86400, got '-1'" "$CTL_BIN" --config "$CONF" --wait -1 audit
expect 2 "--wait applies to audit only" "$CTL_BIN" --config "$CONF" --wait 3 status
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
pass "bad command lines and configurations refused precisely"
