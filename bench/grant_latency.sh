#!/usr/bin/env bash
# bench/grant_latency: a real master, two real donor nodes (vmca-hv +
# vmca-slave) and a requester node whose memory manager is the benchmark
# itself (bench_grant_latency, with the node's real vmca-hv), on loopback
# TLS. Prints p50/p99 of Grant-Any -> blocks usable next to three one-way
# TLS hops through two relay processes, measured in the same run, round by
# round.   bench/grant_latency.sh [BUILD_DIR]
set -euo pipefail
export VMCA_BUILD=$(cd "${1:-build}" && pwd)
export VMCA_SOURCE=$(cd "$(dirname "$0")/.." && pwd)
export VMCA_LOG_LEVEL=info   # the daemons' default: no per-grant log lines
. "$VMCA_SOURCE/tests/integration/lib.sh"

make_cluster 3
# Donors big enough for 1000 requests of 16 pages above the reserve.
sed -i 's/tmem_pages = 1024;/tmem_pages = 65536L;/; s/tmem_pages = 2048;/tmem_pages = 65536L;/' "$CONF"
start_master
start_node node1
start_node node2
start_hv node3
wait_until 20 "donors active" all_active 2
pick_ports 2   # the floor's two relays
"$VMCA_BUILD/bench/bench_grant_latency" "$CONF" node3 "${PORTS[0]}" 1000 16
