#!/usr/bin/env bash
# scripts/vmca-cluster (issue 12, item 1): up, status and down twice in a
# row on loopback, each down leaving no process, segment, socket, lock file
# or run dir; up when up and down when down say so; a failed up (a port
# taken; a node's certificate broken) undoes itself and names what failed;
# with network namespaces too when this machine allows them.
. "$(dirname "$0")/lib.sh"
VC=$VMCA_SOURCE/scripts/vmca-cluster
make_cluster 3
rm -rf "$T/certs"                          # up makes them
RUN=$T/$CLUSTER-run
vc() { "$VC" "$1" --config "$CONF" --build "$VMCA_BUILD" --leave-timeout 20 "${@:2}"; }
trap 'rc=$?; "$VC" down --config "$CONF" > /dev/null 2>&1; (exit $rc); cleanup' EXIT

# nothing_left: no process reading $CONF or the run dir, no segment of the
# cluster, no socket or lock file beside the configuration, no run dir, no
# namespace.
nothing_left() {
    local p
    for p in /proc/[0-9]*; do
        { tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null | grep -q -- "--config \($CONF\|$RUN/cluster.conf\)" &&
            fail "$1: a process is left: $(tr '\0' ' ' < "$p/cmdline")"
    done
    ls /dev/shm | grep -q "^vmca-$CLUSTER-" && fail "$1: segments left: $(ls /dev/shm | grep "^vmca-$CLUSTER-")"
    ls "$T" | grep -q '\.sock$\|\.lock$' && fail "$1: sockets or locks left: $(ls "$T")"
    [ ! -e "$RUN" ] || fail "$1: the run dir is left"
    ip netns list 2>/dev/null | grep -q "^vmca-$CLUSTER-" && fail "$1: namespaces left"
    ip link show 2>/dev/null | grep -q "vb-$(printf %s "$CLUSTER" | cksum | awk '{printf "%08x", $1}')" &&
        fail "$1: the bridge is left"
    return 0
}

cycle() { # ROUND [--netns]
    vc up "${@:2}" > "$T/up.txt" 2>&1 || fail "round $1: up failed: $(cat "$T/up.txt")"
    grep -q "all 3 nodes active" "$T/up.txt" || fail "round $1: up did not say every node is active"
    grep -q "^3 *node3 *active" "$T/up.txt" || fail "round $1: up printed no node table: $(cat "$T/up.txt")"
    vc status > "$T/status.txt" 2>&1 || fail "round $1: status failed"
    [ "$(grep -c ' running$' "$T/status.txt")" -eq 7 ] || fail "round $1: status does not show 7 processes running: $(cat "$T/status.txt")"
    grep -q "node3 *active" "$T/status.txt" || fail "round $1: status did not show the master's table"
    expect 0 "already up" vc up "${@:2}"
    vc down > "$T/down.txt" 2>&1 || fail "round $1: down failed: $(cat "$T/down.txt")"
    [ "$(grep -c 'left the cluster' "$T/down.txt")" -eq 3 ] || fail "round $1: not every node left cleanly: $(cat "$T/down.txt")"
    nothing_left "round $1"
    expect 0 "nothing to do" vc down
    pass "round $1${2:+ ($2)}: up, status, up again, down, down again; nothing left"
}
cycle 1
[ -s "$T/certs/node2.crt" ] || fail "up made no certificates"
cycle 2

# A port taken: refused before anything starts, naming the setting.
python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(60)' "${PORTS[2]}" &
PIDS+=($!)
port_taken() { ! port_free "$1"; }
wait_until 5 "the port taken" port_taken "${PORTS[2]}"
expect 1 "node node2 (nodes: port = ${PORTS[2]}) is in use" vc up
nothing_left "port taken"
kill "${PIDS[-1]}"
wait_until 5 "the port free" port_free "${PORTS[2]}"
pass "a taken port is named and nothing starts"

# node3's certificate broken: its slave fails after the others started;
# everything is undone and the slave is named with its log.
cp "$T/certs/node3.crt" "$T/node3.crt.good"
echo garbage > "$T/certs/node3.crt"
expect 1 "vmca-slave of node3 exited with status 1" vc up
grep -q "up failed: stopping and removing" "$T/out.txt" || fail "the failed up did not say it undoes itself"
nothing_left "failed up"
cp "$T/node3.crt.good" "$T/certs/node3.crt"
pass "a failed up (node3's certificate) undid itself and named the slave"

expect 2 "unknown argument '--bogus'" "$VC" up --config "$CONF" --bogus
expect 2 "give a command" "$VC" --config "$CONF"
expect 2 "--timeout: expected seconds" "$VC" up --config "$CONF" --timeout x

if ip netns add "vmca-probe-$$" 2>/dev/null; then
    ip netns del "vmca-probe-$$"
    cycle 3 --netns
    cycle 4 --netns
else
    echo "SKIP: network namespaces are not available here (--netns not tested)"
fi
