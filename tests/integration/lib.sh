# Shared set-up for integration tests: a private directory, free loopback
# ports, a cluster configuration and certificates, process start helpers,
# and a cleanup trap that kills every started process and removes every file
# even when the test fails (printing the logs then).
set -euo pipefail

: "${VMCA_BUILD:?VMCA_BUILD must name the build directory}"
: "${VMCA_SOURCE:?VMCA_SOURCE must name the source directory}"
MASTER_BIN=$VMCA_BUILD/master/vmca-master
SLAVE_BIN=$VMCA_BUILD/slave/vmca-slave
CTL_BIN=$VMCA_BUILD/tools/vmcactl
HV_BIN=$VMCA_BUILD/hv-ext/vmca-hv
TKM_BIN=$VMCA_BUILD/tools/vmca-tkm
GUEST_BIN=$VMCA_BUILD/tools/vmca-guest
CLUSTER=it$$

T=$(mktemp -d /tmp/vmca-it.XXXXXX)
CONF=$T/cluster.conf
PIDS=()
declare -A PID_OF=()

cleanup() {
    local rc=$?
    # The shell's own stderr is /dev/null meanwhile: bash's "Killed" job
    # notices are noise (a redirection of the commands does not catch them).
    exec 3>&2 2>/dev/null
    for p in "${PIDS[@]}"; do kill -9 "$p" || true; done
    wait || true
    exec 2>&3 3>&-
    rm -f /dev/shm/vmca-$CLUSTER-*   # fabric segments of killed hypervisors
    release_ports
    if [ "$rc" -ne 0 ]; then
        for f in "$T"/*.log; do
            [ -f "$f" ] || continue
            echo "----- $(basename "$f") (last 40 lines)"
            tail -n 40 "$f"
        done
    fi
    [ -n "${VMCA_KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
    exit "$rc"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }

# expect CODE PATTERN CMD...: CMD exits CODE and its output (stdout and
# stderr, in $T/out.txt) matches the grep PATTERN.
expect() {
    local code=$1 pat=$2 rc=0
    shift 2
    "$@" > "$T/out.txt" 2>&1 || rc=$?
    [ "$rc" -eq "$code" ] || fail "'$*' exited $rc, expected $code: $(cat "$T/out.txt")"
    grep -q -- "$pat" "$T/out.txt" || fail "'$*' did not say '$pat': $(cat "$T/out.txt")"
}

# A port is free when no TCP socket uses it, listening or connected (a
# connection's local port blocks a listener's bind as well).
port_free() { ! ss -Htan "sport = :$1" 2>/dev/null | grep -q .; }

# Ports are claimed (an atomic mkdir each, removed at cleanup; a dead
# test's claims are taken back), so tests run in parallel never pick the
# same, and chosen below the kernel's ephemeral range, where no outgoing
# connection takes them meanwhile.
PORT_CLAIMS=/tmp/vmca-it-ports
CLAIMED=()
claim_port() {
    local d=$PORT_CLAIMS/$1 owner
    mkdir -p "$PORT_CLAIMS"
    if ! mkdir "$d" 2>/dev/null; then
        owner=$(cat "$d/pid" 2>/dev/null || true)
        [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null && return 1
        rm -rf "$d"                       # the claim of a test that died
        mkdir "$d" 2>/dev/null || return 1
    fi
    echo $$ > "$d/pid"
    CLAIMED+=("$d")
}
release_ports() { local d; for d in "${CLAIMED[@]}"; do rm -rf "$d"; done; CLAIMED=(); }

# pick_ports N: sets PORTS to N consecutive free ports at a random base, so
# two runs on one machine do not collide.
pick_ports() {
    local n=$1 tries=0 base ok i low span
    low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    span=$((low - 10000 - n))
    [ "$span" -gt 100 ] || { low=32768; span=$((low - 10000 - n)); }
    while [ $tries -lt 100 ]; do
        base=$((10000 + (RANDOM * 32768 + RANDOM) % span))
        ok=1
        local mine=()
        for ((i = 0; i < n; i++)); do
            if port_free $((base + i)) && claim_port $((base + i)); then
                mine+=($((base + i)))
            else
                ok=0
                break
            fi
        done
        if [ $ok -eq 1 ]; then
            PORTS=("${mine[@]}")
            return 0
        fi
        for i in "${mine[@]}"; do rm -rf "$PORT_CLAIMS/$i"; done
        CLAIMED=("${CLAIMED[@]:0:${#CLAIMED[@]}-${#mine[@]}}")  # not ours any more
        tries=$((tries + 1))
    done
    fail "no free ports found"
}

# make_cluster N [EXTRA_CERT_NAMES...]: configuration with nodes node1..nodeN
# (master on node1) and certificates for them and for any extra names.
make_cluster() {
    local n=$1 i
    shift
    pick_ports $((n + 1))
    MASTER_PORT=${PORTS[0]}
    {
        echo "cluster = \"$CLUSTER\";"
        echo "master = { node = \"node1\"; port = $MASTER_PORT; admin_socket = \"admin.sock\"; };"
        echo "nodes = ("
        for ((i = 1; i <= n; i++)); do
            echo "  { id = $i; name = \"node$i\"; address = \"127.0.0.1\"; port = ${PORTS[$i]};"
            echo "    tmem_pages = $((1024 * i)); location = [0, $((i % 2)), $i]; }$([ $i -lt $n ] && echo ,)"
        done
        echo ");"
        echo "timing = { stats_interval_ms = 200; failure_timeout_ms = 2000;"
        echo "  reconnect_min_ms = 50; reconnect_max_ms = 500; hello_timeout_ms = 2000; };"
    } > "$CONF"
    "$VMCA_SOURCE/scripts/gen-certs.sh" --config "$CONF" "$@" >/dev/null
}

start_master() {
    "$MASTER_BIN" --config "$CONF" --log-level "${VMCA_LOG_LEVEL:-debug}" >> "$T/master.log" 2>&1 &
    PIDS+=($!)
    PID_OF[master]=$!
}

# start_slave NAME [extra args]; the log is $T/NAME.log (or $LOG_AS.log).
start_slave() {
    local name=$1
    shift
    local log=${LOG_AS:-$name}
    "$SLAVE_BIN" --config "$CONF" --node "$name" --log-level "${VMCA_LOG_LEVEL:-debug}" "$@" >> "$T/$log.log" 2>&1 &
    PIDS+=($!)
    PID_OF[$log]=$!
}

# start_hv NAME: the node's emulated hypervisor; log $T/hv-NAME.log.
start_hv() {
    rm -f "$T/$CLUSTER-$1-tkm.sock" "$T/$CLUSTER-$1-guest.sock"  # a killed one's leftovers
    "$HV_BIN" --config "$CONF" --node "$1" --log-level "${VMCA_LOG_LEVEL:-debug}" >> "$T/hv-$1.log" 2>&1 &
    PIDS+=($!)
    PID_OF[hv-$1]=$!
    wait_until 10 "hypervisor of $1 up" test -S "$T/$CLUSTER-$1-tkm.sock"
}

# start_node NAME: hypervisor + memory manager of a node.
start_node() {
    start_hv "$1"
    start_slave "$1"
}

tkm() { "$TKM_BIN" --config "$CONF" "$@"; }

status_json() { "$CTL_BIN" --config "$CONF" --json status 2>/dev/null; }

# node_field NAME FIELD: one field of one node from `vmcactl --json status`.
node_field() {
    status_json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
for n in doc["nodes"]:
    if n["name"] == sys.argv[1]:
        v = n[sys.argv[2]]
        print(json.dumps(v) if not isinstance(v, str) else v)
' "$1" "$2"
}

# active_count: nodes that are active, connected and have reported stats.
active_count() {
    status_json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
print(sum(1 for n in doc["nodes"] if n["state"] == "active" and n["connected"]
          and n["stats_age_ms"] is not None))'
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls every 0.2 s.
wait_until() {
    local secs=$1 what=$2
    shift 2
    local end=$((SECONDS + secs))
    while [ $SECONDS -lt $end ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    fail "timed out after ${secs}s waiting for: $what"
}

# owns_remote NODE: NODE's hypervisor owns pages of another home (free
# borrowed pages go home a few periods after demand ends: look while it
# lasts).
owns_remote() {
    tkm --node "$1" stats | awk -v self="${1#node}" '
        /^owned_home/ && $2 != self && $3 > 0 { found = 1 } END { exit !found }'
}

# field_is NAME FIELD VALUE: for wait_until (re-reads the status every poll).
field_is() { [ "$(node_field "$1" "$2" 2>/dev/null)" = "$3" ]; }

# pressure_cluster [POLICY]: 4 nodes, node2 small (256 pages), node3 and
# node4 big (4096), every node up and Active. POLICY is the configuration's
# policy group (default: greedy-remote with a 512-page reserve).
pressure_cluster() {
    make_cluster 4
    sed -i 's/tmem_pages = 2048;/tmem_pages = 256;/; s/tmem_pages = 3072;/tmem_pages = 4096;/' "$CONF"
    local policy='policy = { first_tier = "greedy-remote"; reserve_pages = 512; grant_batch = 1024; };'
    echo "${1:-$policy}" >> "$CONF"
    start_master
    for n in node1 node2 node3 node4; do start_node $n; done
    wait_until 20 "4 nodes active" all_active 4
}

# hv_audit ID:PAGES...: reads the hypervisors of the nodes named (vmca-tkm
# stats), independently of the master; succeeds when each home's pages are
# owned exactly PAGES times in all and no other home's pages are held.
hv_audit() {
    local spec="$*" x
    for x in $spec; do tkm --node "node${x%%:*}" stats; done |
        awk -v spec="$spec" '
            BEGIN { k = split(spec, s, " ")
                    for (i = 1; i <= k; i++) { split(s[i], p, ":"); want[p[1]] = p[2] } }
            /^owned_home/ { own[$2] += $3 }
            END { for (h in own) if (!(h in want) || own[h] != want[h]) exit 1
                  for (h in want) if (own[h] != want[h]) exit 1 }'
}

# ctl_audit [SECONDS]: the master's audit (vmcactl audit) must be balanced
# within SECONDS (default 15).
ctl_audit() {
    "$CTL_BIN" --config "$CONF" --wait "${1:-15}" audit > "$T/audit.txt" 2>&1 ||
        fail "vmcactl audit is not balanced: $(cat "$T/audit.txt")"
    cat "$T/audit.txt"
}

all_active() { [ "$(active_count 2>/dev/null)" = "$1" ]; }

# hold_guest NODE VM PAGES POOL: a guest (1 MiB of RAM) on NODE that puts
# PAGES pages into a POOL pool and holds them, in the background (HOLD_PID;
# output $T/hold.out, log $T/hold.log); returns once it holds them.
hold_guest() {
    "$GUEST_BIN" --socket "$T/$CLUSTER-$1-guest.sock" --vm "$2" --ram 1 --workload "hold:$3" \
        --pool "$4" > "$T/hold.out" 2> "$T/hold.log" &
    HOLD_PID=$!
    PIDS+=($HOLD_PID)
    wait_until 20 "guest holding" grep -q holding "$T/hold.out" "$T/hold.log"
}

# hold_check: the held guest reads every page back and exits; fails unless
# every page was its own data and it exited 0.
hold_check() {
    local rc=0
    kill -USR1 "$HOLD_PID"
    wait "$HOLD_PID" || rc=$?
    cat "$T/hold.out"
    grep -q 'mismatches=0' "$T/hold.out" || fail "the holding guest read data it did not write"
    [ "$rc" -eq 0 ] || fail "the holding guest exited $rc: $(tail -n 3 "$T/hold.log")"
}
