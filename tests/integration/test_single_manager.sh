#!/usr/bin/env bash
# One memory manager per node identity and per hypervisor, one hypervisor
# per node. A second vmca-slave of a running node exits 1 naming the first
# (its lock file); one that gets past the lock (another configuration
# directory) is refused by the hypervisor and exits 1; a second vmca-hv
# exits 1 before touching the first one's fabric segment. The first pair
# keeps working (node Active, no Recovery, its guest's pages verified), and
# after kill -9 of the first slave a new one starts and takes the node.
. "$(dirname "$0")/lib.sh"

make_cluster 2
start_master
start_node node1
start_node node2
wait_until 20 "2 nodes active" all_active 2
pick_ports 2   # peer ports for the would-be second slaves
SPARE=("${PORTS[@]}")
gsock=$T/$CLUSTER-node1-guest.sock
"$GUEST_BIN" --socket "$gsock" --vm 1 --ram 1 --workload hold:400 \
    > "$T/guest1.out" 2> "$T/guest1.log" &
G1=$!
PIDS+=($G1)
wait_until 20 "the guest holding its pages" grep -q holding "$T/guest1.out"

# expect_refused LOG PATTERN CMD...: CMD exits 1 and says PATTERN (one
# that is not refused would run on: it is stopped after 30 s and fails).
expect_refused() {
    local log=$1 pat=$2 rc=0
    shift 2
    timeout 30 "$@" > "$T/$log.log" 2>&1 || rc=$?
    [ $rc -eq 1 ] || fail "'$*' exited $rc, expected 1: $(tail -n 5 "$T/$log.log")"
    grep -qF -- "$pat" "$T/$log.log" || fail "'$*' did not say '$pat': $(tail -n 5 "$T/$log.log")"
}

slave1=${PID_OF[node1]}
expect_refused slave-second \
    "vmca-slave: node node1 of cluster $CLUSTER already has a vmca-slave (pid $slave1, lock $T/$CLUSTER-node1-slave.lock)" \
    "$SLAVE_BIN" --config "$CONF" --node node1 --port "${SPARE[0]}"
expect_refused hv-second \
    "vmca-hv: node node1 of cluster $CLUSTER already has a vmca-hv (pid ${PID_OF[hv-node1]}, lock $T/$CLUSTER-node1-hv.lock)" \
    "$HV_BIN" --config "$CONF" --node node1 --guest-socket "$T/g2.sock" --tkm-socket "$T/t2.sock"

# The same node from a copy of the configuration elsewhere: another lock
# file, the same hypervisor, which has its memory manager already. It
# never gets as far as the master (it connects only once its hypervisor
# took it): the real node1's connection is not replaced.
mkdir "$T/alt"
cp "$CONF" "$T/alt/cluster.conf"
ln -s "$T/certs" "$T/alt/certs"
expect_refused slave-alt "refused this memory manager: node node1 already has a memory manager (pid $slave1)" \
    "$SLAVE_BIN" --config "$T/alt/cluster.conf" --node node1 --port "${SPARE[1]}" \
    --tkm-socket "$T/$CLUSTER-node1-tkm.sock"
grep -q "refused a second memory manager" "$T/hv-node1.log" || fail "vmca-hv did not log the refusal"
grep -q "node 1 disconnected\|node 1 reconnected" "$T/master.log" &&
    fail "the refused slave reached the master: node1's connection was replaced"

kill -0 "$slave1" && kill -0 "${PID_OF[hv-node1]}" || fail "the first slave or hypervisor died"
[ "$(node_field node1 state)" = active ] || fail "node1 is $(node_field node1 state)"
grep -qi "recover" "$T/master.log" && fail "the master started a Recovery: $(grep -i recover "$T/master.log")"
kill -USR1 $G1
rc=0
wait $G1 || rc=$?
[ $rc -eq 0 ] || fail "node1's guest failed ($rc): $(cat "$T/guest1.out" "$T/guest1.log")"

# The first slave dies hard: the lock and the hypervisor's role go with it.
kill -9 "$slave1"
wait "$slave1" 2>/dev/null || true
LOG_AS=node1-new start_slave node1
wait_until 20 "the new slave taking node1's hypervisor" \
    grep -q "connected to the hypervisor" "$T/node1-new.log"
wait_until 30 "node1 active again" field_is node1 state active
kill -0 "${PID_OF[node1-new]}" || fail "the new slave exited: $(tail -n 5 "$T/node1-new.log")"
pass "second slave and hypervisor refused, first pair undisturbed, a new slave after kill -9"
