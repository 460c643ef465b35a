#!/bin/bash
# vmca-sim --scenario on tests/sim/scenarios/small.conf with one first tier:
# the output's structure and the figures that hold whatever the policy
# (spec/eval.md section 4), and what this scenario makes the policy do with
# its pages: node1 is under pressure while node2 and node3 have free tmem,
# so greedy-remote must move pages and greedy-local must not.
# usage: scenario_checks.sh VMCA_SIM SCENARIO POLICY [--set ...]
set -u
sim=$1 scen=$2 policy=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL ($policy): $*" >&2; exit 1; }

"$sim" --scenario "$scen" --policy "$policy" --seed 7 --series "$tmp/series" "$@" \
    >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || { cat "$tmp/err" >&2; fail "exit status $rc, expected 0"; }

# Headers exactly as the contract has them.
vm_hdr=$'#vm\tnode\tvm\tprofile\taccesses\tputs\tfailed_puts\tgets_local\tgets_remote\tgets_disk\truntime_s\tdemand_met\tconverge_s\tfinished'
run_hdr=$'#run\tscenario\tpolicy\tsecond_tier\tseed\tscale\tfailed_puts\tmean_runtime_s\tmax_runtime_s\tjain\tpages_moved\tmessages\tsim_s\twall_ms'
ser_hdr=$'#t_s\tnode\tvm\ttmem_pages\ttarget_pages\tworking_set_pages\tfailed_puts'
grep -qxF "$vm_hdr" "$tmp/out" || fail "no #vm header"
grep -qxF "$run_hdr" "$tmp/out" || fail "no #run header"
[ "$(head -1 "$tmp/series")" = "$ser_hdr" ] || fail "no --series header"

# Every VM of the scenario has its line, once (node name and VM id from the file).
expected=$(awk '/name = "node/ { match($0, /name = "[^"]*"/); n = substr($0, RSTART + 8, RLENGTH - 9) }
                /id = [0-9]+; ram_mb/ { match($0, /id = [0-9]+/); print n "\t" substr($0, RSTART + 5, RLENGTH - 5) }' "$scen" | sort)
got=$(awk -F'\t' '$1 == "vm" { print $2 "\t" $3 }' "$tmp/out" | sort)
[ -n "$expected" ] || fail "no VM found in $scen"
[ "$expected" = "$got" ] || fail "vm lines: expected
$expected
got
$got"

# Per VM: 14 fields, counts consistent, demand_met = successful puts / puts.
awk -F'\t' '
$1 == "vm" {
    if (NF != 14) { print "vm line with " NF " fields: " $0; bad = 1; next }
    for (i = 5; i <= 10; i++) if ($i !~ /^[0-9]+$/) { print "field " i " not a count: " $0; bad = 1 }
    if ($7 + 0 > $6 + 0) { print "failed_puts > puts: " $0; bad = 1 }
    met = $6 > 0 ? ($6 - $7) / $6 : 1
    if ($12 - met > 0.00005 || met - $12 > 0.00005) { print "demand_met " $12 " != " met ": " $0; bad = 1 }
    if ($12 < 0 || $12 > 1) { print "demand_met outside [0,1]: " $0; bad = 1 }
    if ($13 != "-" && $13 !~ /^[0-9]+\.[0-9][0-9][0-9]$/) { print "converge_s: " $0; bad = 1 }
    if ($11 !~ /^[0-9]+\.[0-9][0-9][0-9]$/) { print "runtime_s not 3 decimals: " $0; bad = 1 }
    if ($14 != "0" && $14 != "1") { print "finished not 0/1: " $0; bad = 1 }
    # Every get was of a page put before: gets from tmem never exceed successful puts.
    if ($8 + $9 > $6 - $7) { print "more tmem gets than successful puts: " $0; bad = 1 }
    failed += $7; n++; sum += $12; sq += $12 * $12
    rt += $11; if ($11 + 0 > max) max = $11 + 0
}
$1 == "run" {
    runs++
    if (NF != 14) { print "run line with " NF " fields: " $0; bad = 1; next }
    rfailed = $7; jain = $10; rmean = $8; rmax = $9; moved = $11; msgs = $12
}
END {
    if (runs != 1) { print runs " run lines"; exit 1 }
    if (rfailed != failed) { print "run failed_puts " rfailed " != sum " failed; bad = 1 }
    if (!(jain > 0 && jain <= 1)) { print "jain " jain " outside (0,1]"; bad = 1 }
    j = sq > 0 ? sum * sum / (n * sq) : 1
    if (jain - j > 0.001 || j - jain > 0.001) { print "jain " jain " != " j; bad = 1 }
    if (rmean - rt / n > 0.002 || rt / n - rmean > 0.002) { print "mean_runtime_s " rmean " != " rt / n; bad = 1 }
    if (rmax - max > 0.0005 || max - rmax > 0.0005) { print "max_runtime_s " rmax " != " max; bad = 1 }
    if (msgs + 0 <= 0) { print "no messages"; bad = 1 }
    exit bad
}' "$tmp/out" || fail "figures (above)"

run=$(awk -F'\t' '$1 == "run"' "$tmp/out")
IFS=$'\t' read -r _ name pol tier seed scale _ _ _ _ moved _ _ _ <<<"$run"
[ "$name" = small ] && [ "$pol" = "$policy" ] && [ "$seed" = 7 ] && [ "$scale" = 64 ] ||
    fail "run line names: $run"
[ "$tier" = sorted ] || fail "second tier $tier, expected the default sorted"
case $policy in
greedy-remote) [ "$moved" -gt 0 ] || fail "greedy-remote moved no pages with node1 under pressure" ;;
greedy-local) [ "$moved" -eq 0 ] || fail "greedy-local moved $moved pages" ;;
esac

# The series: 7 fields a line, the scenario's VMs only, per-period failed
# puts adding up to no more than the run's.
awk -F'\t' 'NR > 1 { if (NF != 7) { print "series line: " $0; exit 1 } f += $7 }
            END { if (NR < 2) { print "empty series"; exit 1 } print f }' "$tmp/series" >"$tmp/sf" ||
    fail "series: $(cat "$tmp/sf")"
[ "$(cat "$tmp/sf")" -le "$(awk -F'\t' '$1 == "run" { print $7 }' "$tmp/out")" ] ||
    fail "series failed puts $(cat "$tmp/sf") exceed the run's"

# A VM's max_mb caps the targets of a policy that sets them (tlp): every
# target the series shows for it is at most max_mb * 256 / scale pages.
if [ "$policy" = tlp ]; then
    caps=$(awk '/name = "node/ { match($0, /name = "[^"]*"/); n = substr($0, RSTART + 8, RLENGTH - 9) }
                /^scale = / { scale = $3 + 0 }
                /id = [0-9]+;.*max_mb = [0-9]+/ { match($0, /id = [0-9]+/); id = substr($0, RSTART + 5, RLENGTH - 5)
                                                  match($0, /max_mb = [0-9]+/); mb = substr($0, RSTART + 9, RLENGTH - 9)
                                                  print n, id, int(mb * 256 / scale) }' "$scen")
    [ -n "$caps" ] || fail "no VM with max_mb in $scen"
    while read -r n id cap; do
        awk -F'\t' -v n="$n" -v id="$id" -v cap="$cap" '
            $2 == n && $3 == id { lines++; if ($5 >= 0) { set++; if ($5 > cap && !bad++) print "target " $5 " > cap " cap " at " $1 " s" } }
            END { if (!set) { print "no target set for " n " VM " id " in " lines " lines"; bad = 1 } exit bad > 0 }' \
            "$tmp/series" >"$tmp/cap" || fail "max_mb of $n VM $id: $(cat "$tmp/cap")"
    done <<<"$caps"
fi

# The same seed gives the same run (wall_ms aside).
"$sim" --scenario "$scen" --policy "$policy" --seed 7 "$@" >"$tmp/out2" 2>&1 ||
    fail "second run failed"
diff <(cut -f1-13 "$tmp/out") <(cut -f1-13 "$tmp/out2") >/dev/null || fail "same seed, different run"
echo "ok ($policy): $(awk -F'\t' '$1 == "run" { print "failed_puts=" $7, "pages_moved=" $11, "sim_s=" $13 }' "$tmp/out")"
