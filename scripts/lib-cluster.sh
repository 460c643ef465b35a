# shellcheck shell=bash
# Shell shared by scripts/vmca-cluster and scripts/vmca-chaos: reading a
# configuration (vmca-conf.py), the run directory's state, starting one
# daemon detached with its pid, exit status and log kept in the run dir,
# and asking the master. Sourced, never run; callers set -euo pipefail.

LC_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LC_PREFIX=${VMCA_NETNS_PREFIX:-10.213.0}   # --netns: node i gets PREFIX.(i+1)/24

lc_die() { echo "$LC_PROG: $*" >&2; exit 1; }
lc_usage_error() { echo "$LC_PROG: $* (see --help)" >&2; exit 2; }

# lc_bins DIR: the programs of a build tree.
lc_bins() {
    local b=$1
    [ -d "$b" ] || lc_usage_error "--build: no directory $b"
    MASTER_BIN=$b/master/vmca-master SLAVE_BIN=$b/slave/vmca-slave HV_BIN=$b/hv-ext/vmca-hv
    CTL_BIN=$b/tools/vmcactl GUEST_BIN=$b/tools/vmca-guest ROGUE_BIN=$b/tests/vmca-rogue
    local p
    for p in "$MASTER_BIN" "$SLAVE_BIN" "$HV_BIN" "$CTL_BIN"; do
        [ -x "$p" ] || lc_die "$p is missing: build first (make build), or give --build DIR"
    done
}

# lc_load_conf FILE: LC_CLUSTER, LC_CONFDIR, LC_CERTS, LC_ADMIN,
# LC_MASTER_NODE, LC_MASTER_PORT, LC_NODES (names in order), LC_ID, LC_ADDR,
# LC_PORT, LC_CERT_GIVEN, LC_PAGES (tmem pages; by name), LC_PAGE_SIZE.
lc_load_conf() {
    local out key a b c d e f
    out=$(python3 "$LC_SRC/scripts/vmca-conf.py" info "$1") || lc_die "cannot read the configuration $1"
    LC_NODES=()
    declare -gA LC_ID=() LC_ADDR=() LC_PORT=() LC_CERT_GIVEN=() LC_PAGES=()
    while read -r key a b c d e f; do
        case $key in
            cluster) LC_CLUSTER=$a ;;
            confdir) LC_CONFDIR=$a ;;
            certs) LC_CERTS=$a ;;
            admin) LC_ADMIN=$a ;;
            master) LC_MASTER_NODE=$a LC_MASTER_PORT=$b ;;
            page_size) LC_PAGE_SIZE=$a ;;
            node) LC_NODES+=("$b"); LC_ID[$b]=$a LC_ADDR[$b]=$c LC_PORT[$b]=$d LC_CERT_GIVEN[$b]=$e LC_PAGES[$b]=$f ;;
        esac
    done <<< "$out"
    [[ ${LC_CLUSTER:-} =~ ^[A-Za-z0-9_-]{1,32}$ ]] || lc_die "$1: cluster: expected 1..32 of [A-Za-z0-9_-], got '${LC_CLUSTER:-}'"
    [ ${#LC_NODES[@]} -gt 0 ] || lc_die "$1: no nodes"
    [ -n "${LC_ID[$LC_MASTER_NODE]:-}" ] || lc_die "$1: master.node '$LC_MASTER_NODE' is not one of the nodes (${LC_NODES[*]})"
}

# The run directory's state file: config (the file the daemons read: the
# user's, or the derived one with --netns), netns (0/1), build, user_config.
lc_state_get() { sed -n "s/^$1=//p" "$LC_RUN/state" 2>/dev/null; }

# lc_open_run: reads the state of $LC_RUN (after an up) into RCONF, NETNS,
# BUILD and loads RCONF. Fails when the run dir holds no cluster.
lc_open_run() {
    [ -f "$LC_RUN/state" ] || return 1
    RCONF=$(lc_state_get config) NETNS=$(lc_state_get netns) BUILD=$(lc_state_get build)
    LEAVE_TIMEOUT=$(lc_state_get leave_timeout) LOG_LEVEL=$(lc_state_get log_level)
    lc_load_conf "$RCONF"
}

lc_ns() { echo "vmca-$LC_CLUSTER-$1"; }           # a node's network namespace
# The bridge and a node's veth (root side): a link name has at most 15
# characters, so they carry a hash of the cluster name.
lc_hash() { printf %s "$LC_CLUSTER" | cksum | awk '{printf "%08x", $1}'; }
lc_bridge() { echo "vb-$(lc_hash)"; }
lc_veth() { local h; h=$(lc_hash); echo "vh${h:0:6}-${LC_ID[$1]}"; }
lc_tag_node() { case $1 in master) echo "$LC_MASTER_NODE" ;; *) echo "${1#*-}" ;; esac; }
lc_pid() { cat "$LC_RUN/$1.pid" 2>/dev/null; }
lc_alive() { local p; p=$(lc_pid "$1") && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
lc_rc() { cat "$LC_RUN/$1.rc" 2>/dev/null || echo '?'; }
lc_prog() { case $1 in master) echo vmca-master ;; hv-*) echo "vmca-hv of ${1#hv-}" ;; slave-*) echo "vmca-slave of ${1#slave-}" ;; esac; }
lc_tags() { local n; echo master; for n in "${LC_NODES[@]}"; do echo "hv-$n" "slave-$n"; done; }
lc_sock() { echo "$(dirname "$RCONF")/$LC_CLUSTER-$1-$2.sock"; }  # NODE tkm|guest

# lc_start master|hv-NODE|slave-NODE [ARG...]: starts the daemon detached
# (setsid), with the ARGs added to its command line, in the node's
# namespace with --netns; a wrapper shell keeps its pid in RUN/TAG.pid and
# its exit status in RUN/TAG.rc; output appends to RUN/TAG.log. Returns
# once the pid is known. $VMCA_LC_SLAVE_ARGS ("NODE:ARG ...", words without
# blanks; scripts/vmca-chaos's link proxy sets it) adds each ARG to NODE's
# slave, at every start.
lc_start() {
    local tag=$1 node cmd=() i np
    shift
    node=$(lc_tag_node "$tag")
    case $tag in
        master) cmd=("$MASTER_BIN" --config "$RCONF") ;;
        hv-*) cmd=("$HV_BIN" --config "$RCONF" --node "$node")
              rm -f "$(lc_sock "$node" tkm)" "$(lc_sock "$node" guest)" ;;  # a killed one's
        slave-*) cmd=("$SLAVE_BIN" --config "$RCONF" --node "$node" --leave-timeout "$LEAVE_TIMEOUT")
                 for np in ${VMCA_LC_SLAVE_ARGS:-}; do
                     [ "${np%%:*}" = "$node" ] && cmd+=("${np#*:}")
                 done ;;
    esac
    cmd+=(--log-level "$LOG_LEVEL" "$@")
    [ "$NETNS" = 1 ] && cmd=(ip netns exec "$(lc_ns "$node")" "${cmd[@]}")
    rm -f "$LC_RUN/$tag.pid" "$LC_RUN/$tag.rc"
    echo "=== $(date '+%F %T') $LC_PROG: starting ${cmd[*]}" >> "$LC_RUN/$tag.log"
    setsid bash -c '"${@:3}" >> "$1" 2>&1 < /dev/null & echo $! > "$2.tmp"; mv "$2.tmp" "$2"
                    wait $!; echo $? > "${2%.pid}.rc"' vmca-run \
        "$LC_RUN/$tag.log" "$LC_RUN/$tag.pid" "${cmd[@]}" > /dev/null 2>&1 < /dev/null &
    for ((i = 0; i < 50; i++)); do
        [ -s "$LC_RUN/$tag.pid" ] && return 0
        sleep 0.1
    done
    lc_die "$(lc_prog "$tag") did not start (no pid after 5 s)"
}

# lc_failed TAG: the message for a daemon that exited, with its log's tail.
lc_failed() {
    echo "$(lc_prog "$1") exited with status $(lc_rc "$1"); the last lines of $LC_RUN/$1.log:"
    tail -n 8 "$LC_RUN/$1.log" | sed 's/^/    /'
}

# lc_wait_for SECONDS TAG WHAT COMMAND...: polls COMMAND every 0.1 s while
# TAG's daemon lives; fails naming it if it exits or time runs out.
lc_wait_for() {
    local secs=$1 tag=$2 what=$3 end
    shift 3
    end=$((SECONDS + secs))
    while [ $SECONDS -lt $end ]; do
        "$@" > /dev/null 2>&1 && return 0
        lc_alive "$tag" || { lc_failed "$tag" >&2; return 1; }
        sleep 0.1
    done
    echo "$(lc_prog "$tag") is running but $what did not happen within ${secs}s; see $LC_RUN/$tag.log" >&2
    return 1
}

lc_ctl() { "$CTL_BIN" --config "$RCONF" "$@"; }

# lc_active_summary: "A N not-active-list": members active, connected and
# reporting statistics, out of N, and the others with their state.
lc_active_summary() {
    lc_ctl --json status 2>/dev/null | python3 -c '
import json, sys
doc = json.load(sys.stdin)
ok = [n for n in doc["nodes"] if n["state"] == "active" and n["connected"]
      and n["stats_age_ms"] is not None]
rest = ["%s %s%s" % (n["name"], n["state"], "" if n["connected"] else " (not connected)")
        for n in doc["nodes"] if n not in ok]
print(len(ok), len(doc["nodes"]), ", ".join(rest))'
}

# lc_wait_active SECONDS: every node Active, with a progress line; fails
# naming a daemon that died meanwhile.
lc_wait_active() {
    local end=$((SECONDS + $1)) sum="" last="" t
    while [ $SECONDS -lt $end ]; do
        sum=$(lc_active_summary) || sum=""
        if [ -n "$sum" ]; then
            set -- $sum
            [ "$1" = "$2" ] && { echo "$LC_PROG: all $2 nodes active"; return 0; }
            [ "$sum" != "$last" ] && echo "$LC_PROG: $1/$2 nodes active; waiting for: ${sum#* * }"
            last=$sum
        fi
        for t in $(lc_tags); do
            lc_alive "$t" || { lc_failed "$t" >&2; return 1; }
        done
        sleep 0.3
    done
    echo "$LC_PROG: not every node became active within the timeout: ${sum:-the master did not answer}" >&2
    return 1
}
