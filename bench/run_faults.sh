#!/usr/bin/env bash
# bench/run_faults: vmca-run's fault service rate (pages per second fetched
# back from the node's tmem through userfaultfd, their victims put and the
# pages read ahead got in batches) beside the raw 4 KiB page-copy rate and the same reads with all
# memory local and with the evicted pages in a local file (--store file),
# then both stores again with the pages read in a scattered order,
# all measured in the same run. A standalone vmca-hv (no
# master: its VMs have no target), so every put succeeds locally.
#   bench/run_faults.sh [BUILD_DIR] [MIB] [LOCAL_MIB]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
MIB=${2:-64} LOCAL=${3:-16} PASSES=2
POOL=65536
. "$(dirname "$0")/standalone_hv.sh"

local_line=$("$build/bench/bench_run_faults" "$MIB" "$PASSES")
run_line=$("$build/tools/vmca-run" --config "$dir/c.conf" --node n1 --local-mib "$LOCAL" -- \
           "$build/bench/bench_run_faults" "$MIB" "$PASSES" 2> "$dir/run.err")
counters=$(grep 'vmca-run: pid=' "$dir/run.err")
file_line=$("$build/tools/vmca-run" --store file --local-mib "$LOCAL" -- \
            "$build/bench/bench_run_faults" "$MIB" "$PASSES" 2> "$dir/file.err")
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
fault_rate=$(field "$run_line" pages_per_s)
raw=$(field "$run_line" raw_copy_pages_per_s)
all_local=$(field "$local_line" pages_per_s)
echo "run_faults: ${MIB} MiB read $PASSES times with $LOCAL MiB resident"
echo "  fault service (tmem, batched gets+puts): $fault_rate pages/s"
echo "  raw 4 KiB page copy, same run:            $raw pages/s  (faults at $(awk -v a="$fault_rate" -v b="$raw" 'BEGIN{printf "%.4f", a / b}') of it)"
file_rate=$(field "$file_line" pages_per_s)
echo "  the same faults, local file store:        $file_rate pages/s  (tmem at $(awk -v a="$fault_rate" -v b="$file_rate" 'BEGIN{printf "%.2f", a / b}') of it)"
echo "  the same reads, all memory local:        $all_local pages/s"
# The same pages in a scattered order: no stream to read ahead, every
# fault a round trip of its own (as sort's, sqlite3's and redis's mostly).
rnd=$("$build/tools/vmca-run" --config "$dir/c.conf" --node n1 --local-mib "$LOCAL" -- \
      "$build/bench/bench_run_faults" "$MIB" "$PASSES" 0 random 2> /dev/null)
rnd_file=$("$build/tools/vmca-run" --store file --local-mib "$LOCAL" -- \
           "$build/bench/bench_run_faults" "$MIB" "$PASSES" 0 random 2> /dev/null)
rnd_rate=$(field "$rnd" pages_per_s) rnd_file_rate=$(field "$rnd_file" pages_per_s)
echo "  scattered order, tmem:                    $rnd_rate pages/s"
echo "  scattered order, local file store:        $rnd_file_rate pages/s  (tmem at $(awk -v a="$rnd_rate" -v b="$rnd_file_rate" 'BEGIN{printf "%.2f", a / b}') of it)"
echo "  $counters"
# The same with the pages in another node's memory (a cluster of its own).
bash "$(dirname "$0")/run_faults_remote.sh" "$build"
