#!/usr/bin/env bash
# The demo: a throw-away CA and node certificates, one master and three
# nodes (emulated hypervisor vmca-hv + memory manager vmca-slave each) on
# loopback from config/demo.conf, the node table shown as the nodes
# register, a block of node3's pages granted to node1 by hand over TKM, then
# a clean shutdown of everything.
#   scripts/demo.sh [BUILD_DIR]     (make demo runs it)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
run=$build/demo
conf=$run/demo.conf
pids=()
slaves=()

# Slaves first: SIGTERM makes each leave the cluster cleanly (its pages come
# back, others' pages go home), which needs the master and the hypervisors.
stop_all() {
    for p in "${slaves[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in $(seq 100); do
        alive=0
        for p in "${slaves[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.2
    done
    for p in "${slaves[@]}"; do kill -TERM "$p" 2>/dev/null || true; done  # a second: at once
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap 'stop_all' EXIT

rm -rf "$run"
mkdir -p "$run"
cp "$src/config/demo.conf" "$conf"
for port in $(grep -o 'port = [0-9]*' "$conf" | awk '{print $3}'); do
    if ss -Htln "sport = :$port" | grep -q .; then
        echo "demo: port $port (from config/demo.conf) is in use; stop what uses it" >&2
        exit 1
    fi
done
echo "== certificates"
"$src/scripts/gen-certs.sh" --config "$conf"

echo "== starting the master (node1) and three nodes (vmca-hv + vmca-slave); logs in $run/*.log"
"$build/master/vmca-master" --config "$conf" > "$run/master.log" 2>&1 &
pids+=($!)
sleep 0.3
for n in node1 node2 node3; do
    "$build/hv-ext/vmca-hv" --config "$conf" --node "$n" > "$run/hv-$n.log" 2>&1 &
    pids+=($!)
    sleep 0.2
    "$build/slave/vmca-slave" --config "$conf" --node "$n" > "$run/$n.log" 2>&1 &
    pids+=($!)
    slaves+=($!)
    sleep 0.7
    echo "== node table after starting $n"
    "$build/tools/vmcactl" --config "$conf" status
done
for _ in $(seq 50); do
    active=$("$build/tools/vmcactl" --config "$conf" status | grep -c ' active ' || true)
    [ "$active" -eq 3 ] && break
    sleep 0.2
done
sleep 1.2
echo "== node table with every node registered"
"$build/tools/vmcactl" --config "$conf" status
echo "== the same for scripts (vmcactl --json status)"
"$build/tools/vmcactl" --config "$conf" --json status
[ "$active" -eq 3 ] || { echo "demo: only $active of 3 nodes became active" >&2; exit 1; }

echo "== ownership by hand over TKM: node3's hypervisor gives 4096 pages for node1"
tkm="$build/tools/vmca-tkm --config $conf"
blocks=$($tkm --node node3 request 4096 1 | tail -n 1)
echo "   blocks: $blocks"
$tkm --node node1 enable 3 1
$tkm --node node1 grant 3 $blocks | head -n 1
sleep 2.2   # hypervisor -> slave -> master: up to two statistics intervals
"$build/tools/vmcactl" --config "$conf" status
echo "== the master's audit: every page owned once in all (node1 uses none of the"
echo "   4096 it took: free pages of another home go back to it after a few quiet periods)"
"$build/tools/vmcactl" --config "$conf" --wait 5 audit
grep -h "surplus pages of node 3" "$build/demo/node1.log" | sed 's/^/   /' || true

echo "== shutting down: each node leaves the cluster cleanly, then everything stops"
stop_all
pids=()
slaves=()
grep -h "left the cluster" "$run"/node*.log | sed 's/^[^ ]* /   /' || true
for n in node1 node2 node3; do
    grep -q "left the cluster: 65536 of 65536 own pages back" "$run/$n.log" ||
        { echo "demo: $n did not leave with all its pages" >&2; exit 1; }
done
for f in master node1 node2 node3 hv-node1 hv-node2 hv-node3; do
    grep -q "stopped" "$run/$f.log" || { echo "demo: $f did not stop cleanly" >&2; exit 1; }
done
[ ! -e "$run/demo-master.sock" ] || { echo "demo: admin socket left behind" >&2; exit 1; }
ls /dev/shm 2>/dev/null | grep -q '^vmca-demo-' && { echo "demo: fabric segments left behind" >&2; exit 1; }
echo "demo: all processes stopped cleanly"
