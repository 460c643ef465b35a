#!/usr/bin/env bash
# Runs every benchmark; each prints its figure next to a baseline measured in
# the same run (this machine is shared and noisy, so ratios, not absolutes).
#   scripts/bench.sh [BUILD_DIR]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
for b in "$build"/bench/bench_*; do
    case "$b" in *guest_inproc|*grant_latency|*master_tls|*run_faults) continue ;; esac  # scripts below
    echo "== $(basename "$b")"
    "$b"
done
echo "== grant_latency"
bash "$src/bench/grant_latency.sh" "$build"
echo "== master_tls (500 slaves over TLS)"
bash "$src/bench/master_tls.sh" "$build" 500
if [ -x "$src/bench/guest_path.sh" ]; then
    echo "== guest_path"
    bash "$src/bench/guest_path.sh" "$build"
fi
echo "== run_faults"
bash "$src/bench/run_faults.sh" "$build"
echo "== run_programs (sort, python3, sqlite3, redis at 25 % and 50 % of their footprint)"
bash "$src/bench/run_programs.sh" "$build"
