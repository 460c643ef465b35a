#!/usr/bin/env bash
# Start-up mistakes stop a daemon at once with a message that names what is
# wrong (each would otherwise show as endless retries or a raw OpenSSL
# error): another node's certificate, a certificate from another CA, a
# certificate file that is missing (with how to make one), and a port in
# use, naming the setting and whether a vMCA process holds it.
. "$(dirname "$0")/lib.sh"

make_cluster 4
start_master
start_node node3
wait_until 10 "master listening" grep -q "listening on" "$T/master.log"

# expect_exit RC PATTERN LOG CMD...: CMD exits RC and LOG then holds PATTERN.
expect_exit() {
    local want=$1 pattern=$2 log=$3 rc=0
    shift 3
    timeout 20 "$@" >> "$log" 2>&1 || rc=$?
    [ "$rc" -eq "$want" ] || fail "$* exited $rc, expected $want: $(tail -3 "$log")"
    grep -q -- "$pattern" "$log" || fail "$*: no '$pattern' in: $(tail -3 "$log")"
}

expect_exit 1 "TLS: the certificate is for 'node3' (its CN), not for 'node2'" "$T/cert.log" \
    "$SLAVE_BIN" --config "$CONF" --node node2 --cert "$T/certs/node3.crt" --key "$T/certs/node3.key"
"$VMCA_SOURCE/scripts/gen-certs.sh" --out "$T/other" node2 >/dev/null
expect_exit 1 "TLS: the certificate of 'node2' is not signed by the cluster CA" "$T/ca.log" \
    "$SLAVE_BIN" --config "$CONF" --node node2 --cert "$T/other/node2.crt" --key "$T/other/node2.key"

# Node2's peer port given node3's (which node3's slave holds).
expect_exit 1 "--port ${PORTS[3]}: .*in use.*another vMCA process holds it (vmca-slave, pid ${PID_OF[node3]})" \
    "$T/port.log" "$SLAVE_BIN" --config "$CONF" --node node2 --port "${PORTS[3]}"
# Node4's configured port held by something else.
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); print("up", flush=True); time.sleep(60)' \
    "${PORTS[4]}" > "$T/holder.out" &
PIDS+=($!)
holder=$!
wait_until 10 "port holder up" grep -q up "$T/holder.out"
expect_exit 1 "nodes.\[3\].port = ${PORTS[4]} (node4's peer port) in $CONF: .*in use.*python3 (pid $holder) holds it, not a vMCA process" \
    "$T/port4.log" "$SLAVE_BIN" --config "$CONF" --node node4
# A second master on the same configuration.
expect_exit 1 "master.port = $MASTER_PORT in $CONF: .*in use.*another vMCA process holds it (vmca-master, pid ${PID_OF[master]})" \
    "$T/master2.log" "$MASTER_BIN" --config "$CONF" --admin-socket "$T/admin2.sock"

# A missing certificate: the configuration is refused with how to make one.
mv "$T/certs/node4.crt" "$T/node4.crt.away"
expect_exit 1 "nodes.\[3\].cert: expected a readable file, got \"$T/certs/node4.crt\" (no such file; the cluster's CA and node certificates are made by scripts/gen-certs.sh --config $CONF)" \
    "$T/missing.log" "$SLAVE_BIN" --config "$CONF" --node node4
pass "start-up errors named: wrong node's certificate, foreign CA, ports in use (vMCA or not), missing certificate"
