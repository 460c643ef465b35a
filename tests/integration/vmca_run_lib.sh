# Sourced by the vmca-run tests and benches (after lib.sh or
# standalone_hv.sh). The sqlite3 workload is vmca_run_sqlite.sql beside it.

# greedy_remote: into $CONF, the first tier that borrows on every failed
# put, grants of 1024 pages.
greedy_remote() {
    echo 'policy = { first_tier = "greedy-remote"; reserve_pages = 256; grant_batch = 1024;
  surplus_quiet_periods = 0; };' >> "$CONF"
}

# hold_program FILE PASSES: a python3 program (run as `python3 FILE DIR`)
# that fills three 6 MiB bytearrays (4608 pages), then PASSES times prints
# "passP", waits for the file DIR/passP, prints "P SUM" (a sum over every
# array) and changes a byte of every page, so that later passes read new
# data.
hold_program() {
    cat > "$1" <<EOF
import os, sys, time
def wait(name):
    print(name, flush=True)
    while not os.path.exists(os.path.join(sys.argv[1], name)):
        time.sleep(0.05)
bufs = [bytearray(6 << 20) for _ in range(3)]
for k, b in enumerate(bufs):
    for i in range(0, len(b), 512):
        b[i] = (i // 512 * 7 + k) % 251
for p in range(1, $2 + 1):
    wait("pass%d" % p)
    print(p, sum(sum(b[::512]) for b in bufs), flush=True)
    for b in bufs:
        for i in range(256, len(b), 4096):
            b[i] = (b[i] + p) % 251
EOF
}

# lending_cluster PAGES: lib.sh's two nodes, node1 with its own 1024 pages
# of tmem, node2 lending PAGES, the greedy-remote policy; all started and
# active.
lending_cluster() {
    make_cluster 2
    sed -i "s/tmem_pages = 2048;/tmem_pages = $1;/" "$CONF"
    greedy_remote
    start_master
    start_node node1
    start_node node2
    wait_until 20 "2 nodes active" all_active 2
}

# The resident
# size of vmca-run's arena (the shim's one 4 GiB mapping, named
# [anon:vmca-run-arena] when the kernel lets it be; the program's madvise
# may split it into pieces) as the kernel sees it in /proc/PID/smaps. The walk of smaps is not atomic: while the
# program faults, a page counted low in the arena may be evicted and a page
# above filled before the walk gets there, counted twice. So the process is
# stopped (all its threads, the fault handler too) for each reading.

# arena_rss PID: the arena's Rss in KiB (empty when PID is gone or has no arena).
arena_rss() {
    local pid=$1 t st all r
    kill -STOP "$pid" 2> /dev/null || return 0
    for _ in $(seq 200); do   # group stop reaches every thread
        all=1
        for t in /proc/"$pid"/task/*/stat; do
            st=$(sed 's/.*) \(.\).*/\1/' "$t" 2> /dev/null) || continue
            case $st in T | t | Z | X) ;; *) all=0 ;; esac
        done
        [ "$all" = 1 ] && break
        sleep 0.001
    done
    # The named pieces; where the kernel cannot name mappings (built
    # without CONFIG_ANON_VMA_NAME, as here: EINVAL) the one 4 GiB mapping.
    r=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { named = /\[anon:vmca-run-arena\]$/; n += named }
             /^Size:/ { whole = ($2 == 4194304) }
             named && /^Rss:/ { kib += $2 }
             whole && /^Rss:/ { whole_kib += $2; w++ }
             END { if (n) print kib; else if (w == 1) print whole_kib }' \
        "/proc/$pid/smaps" 2> /dev/null) || r=
    kill -CONT "$pid" 2> /dev/null || true
    echo "$r"
}

# sample_arena_rss PID FILE: every 50 ms until PID ends, the largest
# arena Rss so far in FILE (as "max_kib samples").
sample_arena_rss() {
    local pid=$1 file=$2 max=0 n=0 r
    # Killed between stop and continue, the program must not stay stopped.
    trap 'kill -CONT "$pid" 2> /dev/null; exit 0' TERM
    while kill -0 "$pid" 2> /dev/null; do
        r=$(arena_rss "$pid")
        if [ -n "$r" ]; then
            n=$((n + 1))
            [ "$r" -gt "$max" ] && max=$r
            echo "$max $n" > "$file"
        fi
        sleep 0.05
    done
}
