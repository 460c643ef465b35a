#!/usr/bin/env bash
# bench/run_programs: real programs (sort, python3, sqlite3, redis-server
# driven by redis-benchmark) under vmca-run with a local budget of 25 % and
# 50 % of their footprint, their evicted pages in the node's tmem (a
# standalone vmca-hv: every put lands locally) and, the disk baseline, in a
# local file (--store file); run times as ratios to the same program with
# all memory local (a plain run), all in one run. The footprint is the pages
# a program touches (its zero fills with a budget that holds everything).
# Every run's output is compared with the plain run's, and the arena's
# resident size is sampled from /proc (the process stopped for each
# reading) and printed beside the budget. Each time is the best of REPEAT
# runs (default 2).
#   bench/run_programs.sh [BUILD_DIR] [PROGRAMS...]   (default: sort python3 sqlite3 redis)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
shift || true
progs=("$@")
[ ${#progs[@]} -gt 0 ] || progs=(sort python3 sqlite3 redis)
src=$(cd "$(dirname "$0")/.." && pwd)
POOL=131072
. "$src/bench/standalone_hv.sh"
. "$src/tests/integration/vmca_run_lib.sh"
RUN=$build/tools/vmca-run

# ---- the workloads ----
python3 -c '
import random
r = random.Random(7)
for i in range(160000):
    print("%016x %s" % (r.getrandbits(64), "x" * r.randint(0, 40)))
' > "$dir/in.txt"
cat > "$dir/fill.py" <<'EOF'
import hashlib
bufs = [bytearray(6 << 20) for _ in range(3)]
for k, b in enumerate(bufs):
    for i in range(0, len(b), 512):
        b[i] = (i // 512 * 7 + k) % 251
for _ in range(2):
    h = hashlib.sha256()
    for b in bufs:
        h.update(b)
print(h.hexdigest())
EOF
cp "$src/tests/integration/vmca_run_sqlite.sql" "$dir/q.sql"
python3 - "$dir" <<'EOF'
import sys
d = sys.argv[1]
with open(d + "/load.resp", "w") as load, open(d + "/mget.txt", "w") as mget:
    for i in range(30000):
        k, v = "key:%012d" % i, ("%08x" % (i * 2654435761 % 2**32)) * 60
        load.write("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
    for i in range(0, 30000, 500):
        mget.write("MGET " + " ".join("key:%012d" % j for j in range(i, i + 500)) + "\n")
EOF

# redis_client SOCK OUT: the client side of the redis workload.
redis_client() {
    local sock=$1 out=$2
    for _ in $(seq 200); do redis-cli -s "$sock" ping > /dev/null 2>&1 && break; sleep 0.05; done
    redis-cli -s "$sock" --pipe < "$dir/load.resp" > /dev/null
    redis-benchmark -s "$sock" -q -c 10 -n 20000 -r 30000 -t get > /dev/null
    redis-cli -s "$sock" < "$dir/mget.txt" > "$out"
    redis-cli -s "$sock" shutdown nosave > /dev/null 2>&1 || true
}

# measure PROG TAG [vmca-run options...]: runs PROG (plain without options),
# sets $secs, its output in $dir/TAG.out, the shim's counters in $dir/TAG.err
# and the arena's largest sampled Rss (KiB) in $rss.
measure() {
    local prog=$1 tag=$2 pid t0 t1 client= sampler=
    shift 2
    local pre=()
    [ $# -eq 0 ] || pre=("$RUN" "$@" --)
    rm -f "$dir/rss.txt" "$dir/run.db" "$dir/redis.sock"
    t0=$(date +%s.%N)
    case $prog in
    sort) "${pre[@]}" sort -S 64M "$dir/in.txt" > "$dir/$tag.out" 2> "$dir/$tag.err" & pid=$! ;;
    python3) "${pre[@]}" python3 "$dir/fill.py" > "$dir/$tag.out" 2> "$dir/$tag.err" & pid=$! ;;
    sqlite3) "${pre[@]}" sqlite3 "$dir/run.db" < "$dir/q.sql" > "$dir/$tag.out" 2> "$dir/$tag.err" &
             pid=$! ;;
    redis) "${pre[@]}" redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' \
               --appendonly no --dir "$dir" --logfile "$dir/redis.log" 2> "$dir/$tag.err" &
           pid=$!
           redis_client "$dir/redis.sock" "$dir/$tag.out" &
           client=$! ;;
    esac
    if [ $# -gt 0 ]; then
        sample_arena_rss "$pid" "$dir/rss.txt" &
        sampler=$!
    fi
    wait "$pid" || { echo "run_programs: $prog ($tag) exited $?: $(tail -3 "$dir/$tag.err")" >&2; exit 1; }
    [ -z "$client" ] || wait "$client"
    [ -z "$sampler" ] || wait "$sampler"
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    rss=0
    [ ! -s "$dir/rss.txt" ] || read -r rss _ < "$dir/rss.txt"
    [ "$tag" = plain ] || cmp -s "$dir/plain.out" "$dir/$tag.out" ||
        { echo "run_programs: $prog ($tag) gave other output than the plain run" >&2; exit 1; }
}
# best PROG TAG [options...]: measure REPEAT times (default 2; this machine
# is shared and noisy), the fastest in $secs, the largest Rss in $rss.
REPEAT=${REPEAT:-2}
best() {
    local b= r=0 i
    for ((i = 0; i < REPEAT; i++)); do
        measure "$@"
        [ -n "$b" ] && awk -v a="$secs" -v b="$b" 'BEGIN { exit !(a >= b) }' || b=$secs
        [ "$rss" -le "$r" ] || r=$rss
    done
    secs=$b rss=$r
}
counter() { sed -n "s/.*vmca-run: pid=.* $1=\([0-9]*\).*/\1/p" "$dir/$2.err" | tail -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "run_programs: run time under vmca-run / all memory local (plain), budget as a share of the footprint"
printf '  %-8s %6s %6s %8s %9s %9s %9s %10s %10s %8s\n' program foot_MiB budget MiB_local \
    plain_s tmem/plain file/plain tmem/file faults rss_max/budget_KiB
for prog in "${progs[@]}"; do
    case $prog in
    sqlite3 | redis) thr=(--threshold-kib 64) ;;
    *) thr=() ;;
    esac
    case $prog in redis | sqlite3 | python3 | sort) ;; *) echo "run_programs: unknown program $prog" >&2; exit 2 ;; esac
    if [ "$prog" = redis ] && ! command -v redis-server > /dev/null; then
        echo "  redis: redis-server not installed (scripts/install-deps.sh)"; continue
    fi
    best "$prog" plain
    plain=$secs
    measure "$prog" foot --store file --local-mib 1024 "${thr[@]}"
    foot=$(counter zero_fills foot) managed=$(counter managed_max foot)
    [ "$foot" -le "$managed" ] || foot=$managed   # pages purged and touched again
    for pct in 25 50; do
        mib=$(( (foot * pct / 100 + 255) / 256 ))
        [ "$mib" -ge 1 ] || mib=1
        best "$prog" tmem --config "$dir/c.conf" --node n1 --local-mib "$mib" "${thr[@]}"
        t_tmem=$secs rss_tmem=$rss faults=$(counter faults tmem)
        [ "$(counter puts_failed tmem)" -eq 0 ] ||
            echo "  ($prog: $(counter puts_failed tmem) puts refused by tmem went to the file)"
        best "$prog" file --store file --local-mib "$mib" "${thr[@]}"
        t_file=$secs rss_file=$rss
        max_rss=$((rss_tmem > rss_file ? rss_tmem : rss_file))
        printf '  %-8s %6s %5s%% %8s %9s %9s %9s %10s %10s %8s\n' "$prog" "$((foot / 256))" "$pct" \
            "$mib" "$plain" "$(ratio "$t_tmem" "$plain")" "$(ratio "$t_file" "$plain")" \
            "$(ratio "$t_tmem" "$t_file")" "$faults" "$max_rss/$((mib * 1024))"
        [ "$max_rss" -le $((mib * 1024)) ] ||
            echo "  $prog: THE ARENA'S RSS ($max_rss KiB) WENT ABOVE THE BUDGET ($((mib * 1024)) KiB)"
    done
done
