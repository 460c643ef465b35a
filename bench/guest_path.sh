#!/usr/bin/env bash
# bench/guest_path: vmca-guest -> vmca-hv (Unix socket, batches of up to 256
# ops, page data in a shared buffer) against the in-process figure measured
# in the same run: the same guest workload code driving libhvx directly
# (bench_guest_inproc). Target: the socket path reaches at least 0.3 of the
# in-process tmem operations per second.
#   bench/guest_path.sh [BUILD_DIR]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
RAM_MB=32 USEMEM_MB=256 LOOPS=3 POOL=262144
. "$(dirname "$0")/standalone_hv.sh"

ops() {  # tmem operations in a vmca-guest statistics line
    tr ' ' '\n' | awk -F= '$1=="puts"||$1=="gets"||$1=="flushes"{s+=$2} END{print s}'
}
best_sock=0 best_in=0
for round in 1 2 3; do
    t0=$(date +%s%N)
    out=$("$build/tools/vmca-guest" --socket "$dir/$cluster-n1-guest.sock" --vm "$round" \
          --ram $RAM_MB --workload usemem:$USEMEM_MB --loops $LOOPS)
    t1=$(date +%s%N)
    n=$(echo "$out" | ops)
    sock=$(awk -v n="$n" -v ns=$((t1 - t0)) 'BEGIN{printf "%.0f", n / (ns / 1e9)}')
    echo "$out" | grep -q "mismatches=0" || { echo "guest_path: guest saw wrong data"; exit 1; }
    in_out=$("$build/bench/bench_guest_inproc" $RAM_MB $USEMEM_MB $LOOPS $POOL)
    n_in=$(echo "$in_out" | head -n 1 | ops)
    s_in=$(echo "$in_out" | sed -n 's/^inproc_seconds=//p')
    inproc=$(awk -v n="$n_in" -v s="$s_in" 'BEGIN{printf "%.0f", n / s}')
    [ "$sock" -gt "$best_sock" ] && best_sock=$sock
    [ "$inproc" -gt "$best_in" ] && best_in=$inproc
done
meta=$("$build/tools/vmca-tkm" --socket "$dir/$cluster-n1-tkm.sock" stats | head -n 1)
ratio=$(awk -v a="$best_sock" -v b="$best_in" 'BEGIN{printf "%.2f", a / b}')
verdict=$(awk -v r="$ratio" 'BEGIN{print (r >= 0.3) ? "PASS" : "MISS"}')
echo "guest_path: usemem:${USEMEM_MB} with ${RAM_MB} MiB of guest RAM, $LOOPS loops, best of 3"
echo "in-process (libhvx called directly):   $best_in tmem ops/s"
echo "vmca-guest -> vmca-hv (socket, batched): $best_sock tmem ops/s"
echo "ratio $ratio (target >= 0.30: $verdict)"
echo "$meta" | tr ' ' '\n' | awk -F= '$1=="owned"{o=$2} $1=="metadata_bytes"{m=$2}
    END{printf "vmca-hv metadata: %.2f bytes per managed page (%d bytes, %d pages)\n", m/o, m, o}'
