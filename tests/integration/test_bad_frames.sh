#!/usr/bin/env bash
# Garbage on the master's port, an oversize frame and a malformed frame over
# real TLS each close only their own connection: the master keeps serving and
# the 3 nodes stay connected and active.
. "$(dirname "$0")/lib.sh"

make_cluster 3
start_master
for n in node1 node2 node3; do start_node $n; done
wait_until 20 "3 nodes active" all_active 3

# tls_send FILE: connect as node3 (a valid certificate) and send FILE's bytes.
tls_send() {
    timeout 10 openssl s_client -quiet -ign_eof -tls1_3 -connect 127.0.0.1:$MASTER_PORT \
        -cert "$T/certs/node3.crt" -key "$T/certs/node3.key" -CAfile "$T/certs/ca.crt" \
        < "$1" > /dev/null 2>&1 || true
}

# 1. Random bytes, no TLS at all.
head -c 4096 /dev/urandom > "$T/random.bin"
timeout 5 bash -c "cat '$T/random.bin' > /dev/tcp/127.0.0.1/$MASTER_PORT" 2>/dev/null || true
wait_until 10 "random bytes refused" grep -q "TLS error" "$T/master.log"

# 2. An oversize frame header over a valid TLS session.
printf '\xff\xff\xff\x00' > "$T/oversize.bin"
tls_send "$T/oversize.bin"
wait_until 10 "oversize frame refused" \
    grep -q "frame of 4294967040 bytes exceeds maximum 1048576" "$T/master.log"

# 3. A frame of 64 bytes that is not a protobuf Envelope.
{ printf '\x00\x00\x00\x40'; printf '\xff%.0s' $(seq 64); } > "$T/garbage.bin"
tls_send "$T/garbage.bin"
wait_until 10 "malformed frame refused" grep -q "malformed envelope" "$T/master.log"

# 4. A truncated frame: the header promises more than ever arrives.
{ printf '\x00\x00\x01\x00'; printf 'x%.0s' $(seq 10); } > "$T/truncated.bin"
tls_send "$T/truncated.bin"

kill -0 "${PID_OF[master]}" || fail "master died"
sleep 1
all_active 3 || fail "nodes disturbed: $(status_json)"
grep -q "node [0-9] disconnected" "$T/master.log" && fail "a real node was disconnected"
pass "garbage, oversize, malformed and truncated frames closed only their own connection"
