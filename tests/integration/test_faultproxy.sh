#!/usr/bin/env bash
# tools/vmca-faultproxy (scripts/vmca-chaos's delay and throttle): bytes
# are relayed both ways byte-identical and in order, with no fault, with a
# delay and with a throttle; faults change at run time (SIGHUP re-reads the
# control file); under a throttle no accounting window relays more than its
# cap (the proxy's own window lines, whose bytes must add up to what was
# relayed); every delayed chunk was held at least the delay; a bad control
# file or command line is refused precisely and changes nothing. Two
# listen/target pairs (one link's relays) share one throttle.
. "$(dirname "$0")/lib.sh"
FP=$VMCA_BUILD/tools/vmca-faultproxy
pick_ports 3
ECHO_PORT=${PORTS[0]} PROXY_PORT=${PORTS[1]} PROXY2_PORT=${PORTS[2]}

# The target: echoes every byte back on each connection.
python3 - "$ECHO_PORT" > "$T/echo.log" 2>&1 <<'PY' &
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
def serve(c):
    while True:
        b = c.recv(65536)
        if not b: break
        c.sendall(b)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
PIDS+=($!)

: > "$T/control"
"$FP" --listen "127.0.0.1:$PROXY_PORT" --to "127.0.0.1:$ECHO_PORT" --control "$T/control" \
    --listen "127.0.0.1:$PROXY2_PORT" --to "127.0.0.1:$ECHO_PORT" --window-ms 50 > "$T/proxy.log" 2> "$T/proxy.err" &
FP_PID=$!
PIDS+=($FP_PID)
wait_until 10 "the proxy listening" grep -q "listening on 127.0.0.1:$PROXY2_PORT" "$T/proxy.log"

# roundtrip NAME BYTES [PORT]: sends BYTES random bytes in chunks of random
# sizes (while reading the echo), checks the echo is byte-identical.
roundtrip() {
    head -c "$2" /dev/urandom > "$T/$1.sent"
    python3 - "${3:-$PROXY_PORT}" "$T/$1.sent" "$T/$1.got" <<'PY' || fail "$1: the client failed"
import random, socket, sys, threading
data = open(sys.argv[2], "rb").read()
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def send():
    i, r = 0, random.Random(1)
    while i < len(data):
        n = r.randint(1, 4096); c.sendall(data[i:i + n]); i += n
threading.Thread(target=send, daemon=True).start()
got = bytearray()
c.settimeout(120)
while len(got) < len(data):
    b = c.recv(65536)
    if not b: break
    got += b
c.close()
open(sys.argv[3], "wb").write(got)
PY
    cmp -s "$T/$1.sent" "$T/$1.got" || fail "$1: the echo through the proxy differs from what was sent ($(wc -c < "$T/$1.got") of $2 bytes)"
}
more_than() { [ "$(grep -c -- "$1" "$T/proxy.log")" -gt "$2" ]; }  # WHAT N: lines
# setfaults CONTENT: writes the control file and SIGHUPs the proxy; waits
# for its settings line.
setfaults() {
    local before
    before=$(grep -c ' settings ' "$T/proxy.log" || true)
    printf '%s\n' "$@" > "$T/control"
    kill -HUP $FP_PID
    wait_until 10 "the proxy taking the control file" more_than ' settings ' "$before"
}
stats() { # KEY: from a fresh stats line
    local n
    n=$(grep -c ' stats ' "$T/proxy.log" || true)
    kill -USR1 $FP_PID
    wait_until 10 "a stats line" more_than ' stats ' "$n"
    grep ' stats ' "$T/proxy.log" | tail -n 1 | grep -o " $1=[0-9-]*" | cut -d= -f2
}

roundtrip plain 300000
[ "$(stats bytes)" = 600000 ] || fail "plain: the proxy counted $(stats bytes) bytes, expected 600000 (both ways)"
[ "$(stats delayed_chunks)" = 0 ] || fail "plain: chunks delayed without a delay"
pass "plain relay: 300000 bytes each way, byte-identical"

setfaults "delay_ms 150" "# a comment"
grep -q "settings delay_ms=150 throttle_bps=0" "$T/proxy.log" || fail "no settings line for the delay"
roundtrip delayed 100000
dc=$(stats delayed_chunks) mh=$(stats min_hold_ms)
[ "$dc" -gt 0 ] || fail "delay: no chunk was delayed"
[ "$mh" -ge 150 ] || fail "delay: a delayed chunk was held $mh ms, less than the 150 ms delay"
pass "delay 150 ms: $dc chunks each held >= 150 ms (least $mh ms), echo byte-identical and in order"

setfaults "throttle_bps 200000"
mark=$(wc -l < "$T/proxy.log")
roundtrip throttled 100000 &
rt=$!
roundtrip throttled2 50000 "$PROXY2_PORT"
wait $rt || exit 1
setfaults "throttle_bps 0"   # closes the last throttled window
tail -n +"$((mark + 1))" "$T/proxy.log" | grep '^t=[0-9]* window [0-9]* bytes ' > "$T/windows.txt" || fail "throttle: no window lines"
# cap = 200000 B/s * 50 ms = 10000 bytes a window.
awk '$5 > $7 { bad++ } $7 != 10000 { cap++ } { sum += $5; n++ }
     END { if (bad || cap) { print "over-cap " bad+0 " wrong-cap " cap+0; exit 1 }
           print n, sum }' "$T/windows.txt" > "$T/wsum.txt" ||
    fail "throttle: windows over their cap: $(cat "$T/wsum.txt"); $(head -n 5 "$T/windows.txt")"
read -r nwin wsum < "$T/wsum.txt"
[ "$wsum" = 300000 ] || fail "throttle: the windows relayed $wsum bytes, expected 300000"
[ "$nwin" -ge 30 ] || fail "throttle: 300000 bytes in $nwin windows of at most 10000 bytes"
[ "$(stats windows_over_cap)" = 0 ] || fail "the proxy counts windows over their cap"
pass "throttle 200000 B/s over two relays at once: $nwin windows of 50 ms, none above 10000 bytes, together all 300000 bytes"

# A bad control file: refused with its line, faults unchanged.
printf 'delay_ms 10\nthrotle_bps 5\n' > "$T/control"
kill -HUP $FP_PID
wait_until 10 "the bad setting refused" grep -q "unknown setting 'throtle_bps'" "$T/proxy.err"
grep -q "control:2: unknown setting 'throtle_bps' (expected delay_ms or throttle_bps)" "$T/proxy.err" ||
    fail "the error does not name the line: $(cat "$T/proxy.err")"
printf 'delay_ms 70000\n' > "$T/control"
kill -HUP $FP_PID
wait_until 10 "delay_ms 70000 refused" grep -q "delay_ms: expected 0..60000, got '70000'" "$T/proxy.err"
[ "$(grep ' settings ' "$T/proxy.log" | tail -n 1 | cut -d' ' -f3-)" = "delay_ms=0 throttle_bps=0" ] ||
    fail "a refused control file changed the faults: $(grep ' settings ' "$T/proxy.log" | tail -n 1)"
roundtrip after 20000
pass "bad control files refused with their line; the faults stay"

kill -TERM $FP_PID
wait $FP_PID || fail "the proxy exited $? at SIGTERM"
grep -q " stats conns=5 " "$T/proxy.log" || fail "the proxy did not count 5 connections: $(tail -n 1 "$T/proxy.log")"

expect 2 "--listen: expected ADDR:PORT" "$FP" --listen nowhere --to "127.0.0.1:$ECHO_PORT"
expect 2 "--to: expected ADDR:PORT" "$FP" --listen "127.0.0.1:$PROXY_PORT" --to 127.0.0.1
expect 2 "--window-ms: expected milliseconds in 10..10000, got '5'" "$FP" --listen "127.0.0.1:$PROXY_PORT" --to "127.0.0.1:$ECHO_PORT" --window-ms 5
expect 2 "--listen and --to are required" "$FP" --to "127.0.0.1:$ECHO_PORT"
expect 2 "2 --listen but 1 --to: give them in pairs" "$FP" --listen "127.0.0.1:$PROXY_PORT" --listen "127.0.0.1:$PROXY2_PORT" --to "127.0.0.1:$ECHO_PORT"
printf 'delay_ms -1\n' > "$T/control"
expect 1 "control:1: delay_ms: expected 0..60000, got '-1'" "$FP" --listen "127.0.0.1:$PROXY_PORT" --to "127.0.0.1:$ECHO_PORT" --control "$T/control"
expect 1 "cannot read" "$FP" --listen "127.0.0.1:$PROXY_PORT" --to "127.0.0.1:$ECHO_PORT" --control "$T/nope"
pass "vmca-faultproxy: relays byte-identical, delays and throttles within its caps, faults change at run time"
