# vmca-run with redis-server on a real cluster: about 30 MiB of keys with
# 8 MiB resident, loaded with redis-cli --pipe and driven by redis-benchmark
# (GETs over the keys, SETs of other keys, 20 clients, 2 I/O threads);
# every value read back equals what was written and what a plain redis-server
# gives, the arena's Rss (from /proc) never exceeds the budget, and the VM's
# pages are in tmem; a BGSAVE (a fork) is refused with a message and redis
# goes on serving. redis listens on a unix socket in the test directory
# only (--port 0) and persists nothing (no RDB, no AOF).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vmca_run_lib.sh"

command -v redis-server > /dev/null && command -v redis-benchmark > /dev/null ||
    fail "redis-server/redis-benchmark missing (scripts/install-deps.sh installs them)"
RUN=$VMCA_BUILD/tools/vmca-run
KEYS=40000
make_cluster 2
sed -i 's/tmem_pages = 1024;/tmem_pages = 16384;/' "$CONF"
start_master
start_node node1
start_node node2
wait_until 20 "2 nodes active" all_active 2

# The data set as redis protocol (--pipe), and the values expected back:
# 512 bytes each, different for every key.
python3 - "$T" "$KEYS" <<'EOF'
import sys
d, n = sys.argv[1], int(sys.argv[2])
with open(d + "/load.resp", "w") as load, open(d + "/expected.txt", "w") as exp, \
     open(d + "/mget.txt", "w") as mget:
    for i in range(n):
        k = "key:%012d" % i
        v = ("%08x" % (i * 2654435761 % 2**32)) * 60 + "%032d" % i
        load.write("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
        exp.write(v + "\n")
    for i in range(0, n, 500):
        mget.write("MGET " + " ".join("key:%012d" % j for j in range(i, min(i + 500, n))) + "\n")
EOF
BENCH_VALUE=$(printf 'b%.0s' $(seq 300))
CHECK_BENCH='local n, bad = 0, 0
for _, k in ipairs(redis.call("keys", "bench:*")) do
  n = n + 1
  if redis.call("get", k) ~= ARGV[1] then bad = bad + 1 end
end
return {n, bad}'

# redis_session TAG [vmca-run args...]: starts redis-server (under vmca-run
# when args are given), loads, benchmarks, reads every value back into
# $T/TAG.values, checks the benchmark's keys, shuts redis down.
redis_session() {
    local tag=$1 sock=$T/$1.sock
    shift
    local cmd=(redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700
               --save '' --appendonly no --dir "$T" --logfile "$T/redis-$tag.log"
               --io-threads 2 --io-threads-do-reads yes)
    if [ $# -gt 0 ]; then
        "$RUN" --config "$CONF" --node node1 "$@" -- "${cmd[@]}" 2> "$T/$tag.err" &
    else
        "${cmd[@]}" 2> "$T/$tag.err" &
    fi
    REDIS_PID=$!
    PIDS+=($REDIS_PID)
    wait_until 20 "redis ($tag) answers" redis-cli -s "$sock" ping
    local cli=(redis-cli -s "$sock")
    "${cli[@]}" --pipe < "$T/load.resp" > "$T/$tag.pipe" ||
        fail "redis-cli --pipe ($tag): $(cat "$T/$tag.pipe" "$T/$tag.err")"
    grep -q "errors: 0, replies: $KEYS" "$T/$tag.pipe" || fail "load ($tag): $(cat "$T/$tag.pipe")"
    local sampler=
    if [ -n "${SAMPLE:-}" ]; then
        sample_arena_rss "$REDIS_PID" "$T/rss.max" &
        sampler=$!
        PIDS+=($sampler)
    fi
    redis-benchmark -s "$sock" -q -c 20 -n 20000 -r "$KEYS" -t get > "$T/$tag.bench" 2>&1 ||
        fail "redis-benchmark GET ($tag): $(cat "$T/$tag.bench")"
    redis-benchmark -s "$sock" -q -c 20 -n 10000 -r 10000 SET 'bench:__rand_int__' "$BENCH_VALUE" \
        >> "$T/$tag.bench" 2>&1 || fail "redis-benchmark SET ($tag): $(cat "$T/$tag.bench")"
    if [ $# -gt 0 ]; then   # a save would fork: refused, redis goes on serving
        "${cli[@]}" bgsave > "$T/$tag.bgsave" 2>&1 || true
        grep -q ERR "$T/$tag.bgsave" || fail "BGSAVE under vmca-run did not fail: $(cat "$T/$tag.bgsave")"
        grep -q 'vmca-run: fork refused' "$T/$tag.err" || fail "no fork refusal message: $(cat "$T/$tag.err")"
    fi
    "${cli[@]}" < "$T/mget.txt" > "$T/$tag.values" || fail "reading the values back ($tag) failed"
    local res nbench bad
    res=$("${cli[@]}" eval "$CHECK_BENCH" 0 "$BENCH_VALUE")
    nbench=$(echo "$res" | sed -n 1p) bad=$(echo "$res" | sed -n 2p)
    [ "$nbench" -gt 0 ] && [ "$bad" -eq 0 ] ||
        fail "benchmark keys ($tag): $nbench keys, $bad with another value"
    "${cli[@]}" info memory | grep '^used_memory:' | tr -d '\r' > "$T/$tag.mem"
    if [ -n "$sampler" ]; then kill "$sampler"; wait "$sampler" || true; fi
    if [ $# -gt 0 ]; then
        tkm --node node1 stats > "$T/$tag.stats"
    fi
    "${cli[@]}" shutdown nosave > /dev/null 2>&1 || true
    local rc=0
    wait "$REDIS_PID" || rc=$?
    [ "$rc" -eq 0 ] || fail "redis-server ($tag) exited $rc: $(cat "$T/$tag.err")"
}

redis_session plain
cmp -s "$T/expected.txt" "$T/plain.values" || fail "plain redis gave other values (the test is wrong)"

SAMPLE=1 redis_session run --vm 5151 --local-mib 8
cmp -s "$T/plain.values" "$T/run.values" || fail "redis under vmca-run gave other values"
err=$T/run.err
grep 'vmca-run: pid=' "$err" || fail "no vmca-run counters: $(cat "$err")"
c() { sed -n "s/.*vmca-run: pid=.* $1=\([0-9]*\).*/\1/p" "$err" | tail -n 1; }
[ "$(c puts_ok)" -gt 0 ] && [ "$(c gets)" -gt 0 ] || fail "no pages went through tmem"
[ "$(c verified)" -eq $(($(c gets) + $(c disk_reads))) ] || fail "not every page fetched back was verified"
[ "$(c resident_max)" -le "$(c budget_pages)" ] || fail "resident pages above the budget"
managed=$(c managed_max)
[ "$managed" -ge $((3 * $(c budget_pages))) ] ||
    fail "redis's managed memory ($managed pages) is not several times the budget"
[ -s "$T/rss.max" ] || fail "no arena Rss sampled from /proc/$REDIS_PID/smaps"
read -r rss samples < "$T/rss.max"
[ "$rss" -le 8192 ] || fail "the arena's Rss reached $rss KiB, above the 8 MiB budget"
used=$(awk '$1 == "vm" && $2 == 5151 { sub("used=", "", $3); print $3 }' "$T/run.stats")
[ -n "$used" ] && [ "$used" -gt 0 ] || fail "vmca-hv shows no tmem pages of VM 5151: $(cat "$T/run.stats")"
pass "redis-server, $KEYS keys ($(cut -d: -f2 "$T/run.mem") bytes used, $managed pages managed) with 8 MiB resident, redis-benchmark GET+SET with 20 clients and 2 I/O threads: every value as written and as plain redis; BGSAVE's fork refused; arena Rss at most $rss KiB in $samples samples; VM 5151 held $used pages in tmem"
