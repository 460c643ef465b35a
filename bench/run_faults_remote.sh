#!/usr/bin/env bash
# bench/run_faults_remote: vmca-run's fault service rate when the pages live
# in another node's memory. A real cluster on loopback TLS (master, two
# nodes): node1's own tmem is small (1024 pages), node2 lends (32768), the
# greedy-remote policy; bench_run_faults on node1 evicts far more than
# node1 holds. Warm-up passes let node2's grants arrive; the timed passes
# are printed beside the raw 4 KiB page copy measured in the same process,
# with the share of the gets that node2 served.
#   bench/run_faults_remote.sh [BUILD_DIR] [MIB] [LOCAL_MIB]
set -euo pipefail
export VMCA_BUILD=$(cd "${1:-build}" && pwd)
export VMCA_SOURCE=$(cd "$(dirname "$0")/.." && pwd)
export VMCA_LOG_LEVEL=info
MIB=${2:-32} LOCAL=${3:-8}
. "$VMCA_SOURCE/tests/integration/lib.sh"
. "$VMCA_SOURCE/tests/integration/vmca_run_lib.sh"
lending_cluster 32768L
line=$("$VMCA_BUILD/tools/vmca-run" --config "$CONF" --node node1 --local-mib "$LOCAL" -- \
       "$VMCA_BUILD/bench/bench_run_faults" "$MIB" 3 3 2> "$T/run.err")
counters=$(grep 'vmca-run: pid=' "$T/run.err")
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
rate=$(field "$line" pages_per_s) raw=$(field "$line" raw_copy_pages_per_s)
gets=$(field "$counters" gets) remote=$(field "$counters" gets_remote)
disk=$(field "$counters" disk_reads)
echo "run_faults_remote: ${MIB} MiB read 3 times (after 3 untimed) with $LOCAL MiB resident on node1, node2 lending"
echo "  fault service, pages mostly on node2:   $rate pages/s  (all 6 passes: $remote of $gets gets from node2, $disk pages from the file)"
echo "  raw 4 KiB page copy, same run:          $raw pages/s  (faults at $(awk -v a="$rate" -v b="$raw" 'BEGIN{printf "%.4f", a / b}') of it)"
echo "  $counters"
