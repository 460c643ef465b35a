#!/usr/bin/env bash
# The demo: four nodes on loopback as in the thesis (config/demo4.conf).
# The master runs on node2, and three emulated VMs (vmca-guest) run on each
# of node1, node3 and node4 with working sets larger than their tmem. The
# demo shows a live view every 2 s of each node's owned, free, lent and
# borrowed pages and each VM's target, tmem use and failed puts. At the end
# it prints a report (per VM: puts, failed puts, verified gets; per node:
# pages lent and borrowed), a plot of owned pages per node over time
# (gnuplot PNG), the master's audit, and a clean shutdown.
#   scripts/demo.sh [BUILD_DIR]     (make demo runs it)
# Environment: VMCA_DEMO_FIRST_TIER (default tlp) and VMCA_DEMO_SECOND_TIER
# (default sorted) choose the policies (docs/policies.md).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
run=$build/demo
conf=$run/demo.conf
first_tier=${VMCA_DEMO_FIRST_TIER:-tlp}
second_tier=${VMCA_DEMO_SECOND_TIER:-sorted}
nodes=(node1 node2 node3 node4)
vm_nodes=(node1 node3 node4)  # node2 runs the master and lends
pids=()    # hypervisors and the master, stopped last
slaves=()
guests=()

# Guests first (their pools go), then the slaves: SIGTERM makes each leave
# the cluster cleanly (its pages come back, others' pages go home), which
# needs the master and the hypervisors. Runs on every exit path.
stop_all() {
    for p in "${guests[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${guests[@]}"; do wait "$p" 2>/dev/null || true; done
    for p in "${slaves[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in $(seq 100); do
        alive=0
        for p in "${slaves[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.2
    done
    for p in "${slaves[@]}"; do kill -TERM "$p" 2>/dev/null || true; done  # a second: at once
    for p in "${slaves[@]}"; do wait "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    guests=()
    slaves=()
    pids=()
}
trap 'stop_all' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() { echo "demo: $*" >&2; exit 1; }

ctl() { "$build/tools/vmcactl" --config "$conf" "$@"; }
tkm() { "$build/tools/vmca-tkm" --config "$conf" --node "$1" stats; }

for v in VMCA_DEMO_FIRST_TIER:$first_tier VMCA_DEMO_SECOND_TIER:$second_tier; do
    [[ ${v#*:} =~ ^[A-Za-z0-9-]+$ ]] ||
        die "${v%%:*}: a policy name is letters, digits and '-' (docs/policies.md), got '${v#*:}'"
done
rm -rf "$run"
mkdir -p "$run"
sed -e "s/^\(  first_tier = \)\"[^\"]*\";/\1\"$first_tier\";/" \
    -e "s/^\(  second_tier = \)\"[^\"]*\";/\1\"$second_tier\";/" \
    "$src/config/demo4.conf" > "$conf"
grep -q "^  first_tier = \"$first_tier\";" "$conf" &&
    grep -q "^  second_tier = \"$second_tier\";" "$conf" ||
    die "config/demo4.conf: no line '  first_tier = \"...\";' or '  second_tier = \"...\";' for the policies"
for port in $(grep -o 'port = [0-9]*' "$conf" | awk '{print $3}'); do
    if ss -Htln "sport = :$port" | grep -q .; then
        die "port $port (from config/demo4.conf) is in use; stop what uses it"
    fi
done
echo "== certificates"
"$src/scripts/gen-certs.sh" --config "$conf"

echo "== starting the master (on node2; first tier $first_tier, second tier $second_tier)"
echo "   and four nodes (vmca-hv + vmca-slave each); logs in $run/*.log"
"$build/master/vmca-master" --config "$conf" > "$run/master.log" 2>&1 &
pids+=($!)
sleep 0.3
kill -0 "${pids[0]}" 2>/dev/null || die "the master did not start: $(cat "$run/master.log")"
for n in "${nodes[@]}"; do
    "$build/hv-ext/vmca-hv" --config "$conf" --node "$n" > "$run/hv-$n.log" 2>&1 &
    pids+=($!)
    sleep 0.2
    "$build/slave/vmca-slave" --config "$conf" --node "$n" > "$run/$n.log" 2>&1 &
    slaves+=($!)
done
active=0
for _ in $(seq 50); do
    active=$(ctl status 2>/dev/null | grep -c ' active ' || true)
    [ "$active" -eq 4 ] && break
    sleep 0.2
done
[ "$active" -eq 4 ] || die "only $active of 4 nodes became active: $(ctl status 2>&1)"
echo "== node table with every node registered"
ctl status

# Three VMs per node, 2 MiB of RAM (512 pages) each: every page beyond
# that goes to tmem (a put), or to disk when tmem refuses it (a failed
# put). The phases (working set in MiB, seconds) raise the demand at
# different times, past the node's own 3072 pages: about 5600 pages of
# tmem per node in the end, so each borrows from node2. About 48 s in all.
phases() {
    case $1 in
        1) printf '3 16\n6 16\n10 16\n' ;;
        2) printf '6 16\n10 16\n4 16\n' ;;
        3) printf '4 16\n4 16\n8 16\n' ;;
    esac
}
echo "== three VMs on each of ${vm_nodes[*]} (2 MiB of RAM, working sets of 3..10 MiB)"
for n in "${vm_nodes[@]}"; do
    for v in 1 2 3; do
        phases "$v" > "$run/phases-$n-vm$v"
        "$build/tools/vmca-guest" --socket "$run/demo-$n-guest.sock" --vm "$v" --ram 2 \
            --workload "phases:$run/phases-$n-vm$v" --seed "${n#node}$v" --progress \
            > "$run/guest-$n-vm$v.out" 2> "$run/guest-$n-vm$v.log" &
        guests+=($!)
    done
done

# One view of node $1 from its hypervisor (vmca-tkm stats): the node line
# "owned free lent borrowed" and, per VM, "vm ID target used".
node_view() {
    local id=${1#node}
    tkm "$1" | awk -v id="$id" '
        /^owned=/ { split($1, o, "="); split($2, f, "="); owned = o[2]; free = f[2] }
        /^lent_to/ { lent += $3 }
        /^owned_home/ && $2 != id { borrowed += $3 }
        /^vm / { split($3, u, "="); split($4, t, "=")
                 if (t[2] == "18446744073709551615") t[2] = "none"  # no target set yet
                 vms = vms sprintf(" %s %s %s", $2, t[2], u[2]) }
        END { printf "%d %d %d %d%s\n", owned, free, lent, borrowed, vms }'
}

# The last counter line a guest printed (--progress), field $3.
guest_field() {
    tail -n 1 "$run/guest-$1-vm$2.$4" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$3=//p"
}

guests_alive() {
    for p in "${guests[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done
    return 1
}

declare -A max_lent max_borrowed
for n in "${nodes[@]}"; do max_lent[$n]=0; max_borrowed[$n]=0; done
echo "t_s node1 node2 node3 node4" > "$run/owned.dat"
start=$(date +%s)
echo "== live view every 2 s (pages; a VM's failed puts went to disk)"
while guests_alive; do
    t=$(( $(date +%s) - start ))
    printf -- '-- t=%2ds   %-6s %6s %6s %6s %8s   %s\n' "$t" node owned free lent borrowed \
        "VMs: id:target/used/failed_puts"
    row="$t"
    for n in "${nodes[@]}"; do
        read -r owned free lent borrowed rest <<< "$(node_view "$n")" || true
        row="$row ${owned:-0}"
        [ "${lent:-0}" -gt "${max_lent[$n]}" ] && max_lent[$n]=$lent
        [ "${borrowed:-0}" -gt "${max_borrowed[$n]}" ] && max_borrowed[$n]=$borrowed
        vms=""
        set -- $rest
        while [ $# -ge 3 ]; do
            failed=$(guest_field "$n" "$1" puts_failed log)
            vms="$vms $(printf '%s:%s/%s/%s' "$1" "$2" "$3" "${failed:-0}")"
            shift 3
        done
        printf '            %-6s %6s %6s %6s %8s  %s\n' "$n" "${owned:-?}" "${free:-?}" \
            "${lent:-?}" "${borrowed:-?}" "$vms"
    done
    echo "$row" >> "$run/owned.dat"
    sleep 2
done

rc=0
for p in "${guests[@]}"; do wait "$p" || rc=$?; done
guests=()
[ "$rc" -eq 0 ] || die "a VM failed (exit $rc): $(tail -n 2 "$run"/guest-*.log | grep -v '^vm=' | head -n 5)"

echo "== report"
printf '   %-10s %8s %12s %14s %10s\n' VM puts failed_puts verified_gets mismatches
for n in "${vm_nodes[@]}"; do
    for v in 1 2 3; do
        printf '   %-10s %8s %12s %14s %10s\n' "$n/vm$v" "$(guest_field "$n" "$v" puts out)" \
            "$(guest_field "$n" "$v" puts_failed out)" "$(guest_field "$n" "$v" verified out)" \
            "$(guest_field "$n" "$v" mismatches out)"
        [ "$(guest_field "$n" "$v" mismatches out)" = 0 ] || die "$n/vm$v read a page that was not its own"
    done
done
printf '   %-6s %14s %18s\n' node "lent (peak)" "borrowed (peak)"
for n in "${nodes[@]}"; do
    printf '   %-6s %14s %18s\n' "$n" "${max_lent[$n]}" "${max_borrowed[$n]}"
done
lent_total=0
for n in "${nodes[@]}"; do lent_total=$((lent_total + max_lent[$n])); done
[ "$lent_total" -gt 0 ] || die "no node lent a page: the VMs were not under pressure"
if command -v gnuplot > /dev/null; then
    gnuplot <<EOF || die "gnuplot failed"
set terminal png size 900,500
set output "$run/owned.png"
set title "vMCA demo ($first_tier / $second_tier): pages owned per node"
set xlabel "seconds"
set ylabel "pages owned"
set key outside right
plot for [i=2:5] "$run/owned.dat" using 1:i with linespoints title columnheader(i)
EOF
    echo "   plot: $run/owned.png (data: $run/owned.dat)"
else
    echo "   gnuplot is not installed (scripts/install-deps.sh installs it): data in $run/owned.dat"
fi

echo "== the master's audit: every page owned once in all"
ctl --wait 10 audit || die "the audit is not balanced"

echo "== shutting down: each node leaves the cluster cleanly, then everything stops"
stop_all
grep -h "left the cluster" "$run"/node*.log | sed 's/^[^ ]* /   /' || true
for n in "${nodes[@]}"; do
    pages=$(awk -v n="\"$n\";" '$0 ~ "name = " n { getline; sub(/.*tmem_pages = /, ""); sub(/;.*/, ""); print }' "$conf")
    grep -q "left the cluster: $pages of $pages own pages back" "$run/$n.log" ||
        die "$n did not leave with all its $pages pages"
done
for f in master "${nodes[@]}" hv-node1 hv-node2 hv-node3 hv-node4; do
    grep -q "stopped" "$run/$f.log" || die "$f did not stop cleanly"
done
[ ! -e "$run/demo-master.sock" ] || die "admin socket left behind"
ls /dev/shm 2>/dev/null | grep -q '^vmca-demo-' && die "fabric segments left behind"
echo "demo: all processes stopped cleanly"
