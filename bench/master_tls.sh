#!/usr/bin/env bash
# bench/master_tls: a real vmca-master with 500 slaves over mutual TLS at
# 1 Hz (one process plays the slaves, each with its own certificate).
#   bench/master_tls.sh [BUILD_DIR [SLAVES]]
set -euo pipefail
export VMCA_BUILD=$(cd "${1:-build}" && pwd)
export VMCA_SOURCE=$(cd "$(dirname "$0")/.." && pwd)
SLAVES=${2:-500}
. "$VMCA_SOURCE/tests/integration/lib.sh"
make_cluster $((SLAVES + 1))
start_master
sleep 0.5
"$VMCA_BUILD/bench/bench_master_tls" "$CONF" "${PID_OF[master]}" 10
