#!/usr/bin/env bash
# make evaluate's bar table (scripts/eval-report.sh) on hand-made medians:
# which row is met, which measure misses, and which other first tiers are
# named as meeting the same bar (strictly fewer failed puts than tlp's best
# P, a higher Jain's index than tlp's best P, a mean run time no longer than
# greedy-remote's; 0/0 failed puts and Jain 1/1 count as met).
# Usage: eval_report_bar.sh SOURCE_DIR
set -euo pipefail
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# One agg.tsv line (scripts/eval-aggregate.awk's columns): scenario label
# fp_med mean_rt_med jain_med; the min/max columns repeat the median.
row() {
    printf '%s\t%s\t5\t%s\t%s\t%s\t%s\t%s\t%s\t1\t1\t1\t%s\t%s\t%s\t0\t0\t0\t0\t64\t1\t\n' \
        "$1" "$2" "$3" "$3" "$3" "$4" "$4" "$4" "$5" "$5" "$5"
}
{
    # t1: ours meets it; qmemman does too; fcfs is slower than greedy-remote;
    # static ties tlp's failed puts (not fewer); greedy-remote is less fair.
    row t1 tlp-1 100 50 0.90
    row t1 tlp-2 120 55 0.95
    row t1 greedy-remote 90 40 0.93
    row t1 demand-share 80 39 0.96
    row t1 qmemman 85 40 0.97
    row t1 fcfs 70 41 0.99
    row t1 static 100 30 0.99
    row t1 tlp+sorted 10 10 0.99 # a second-tier label: never named
    # t2: ours is less fair and slower; no other first tier meets it.
    row t2 tlp-1 500 100 0.98
    row t2 greedy-remote 400 90 0.97
    row t2 demand-share 450 95 0.97
    row t2 qmemman 600 80 0.99
    # t3: every VM met: 0/0 failed puts and Jain 1/1 count as met.
    row t3 tlp-4 0 20 1
    row t3 greedy-remote 0 20 1
    row t3 demand-share 0 20 1
    row t3 fcfs 0 20 1
} >"$tmp/agg.tsv"
for s in t1 t2 t3; do
    printf 'name = "%s";\ntitle = "test %s";\n' "$s" "$s" >"$tmp/$s.conf"
done
bash "$src/scripts/eval-report.sh" "$tmp" 1000 12 0 "$tmp/t1.conf" "$tmp/t2.conf" "$tmp/t3.conf" \
    >"$tmp/report.md" 2>"$tmp/err" || { cat "$tmp/err"; fail "eval-report.sh exited non-zero"; }

expect() {
    grep -qxF "$1" "$tmp/report.md" || {
        grep '^| t[0-9] |' "$tmp/report.md" || true
        fail "no row: $1"
    }
}
expect "| t1 | 80 / 100 (1 %) | 0.9600 / 0.9500 (2 %) | 39.0 / 40.0 | fewer, fairer, not slower | qmemman |"
expect "| t2 | 450 / 500 (1 %) | 0.9700 / 0.9800 (1 %) | 95.0 / 90.0 | fewer, LESS FAIR, SLOWER | none |"
expect "| t3 | 0 / 0 (4 %) | 1.0000 / 1.0000 (4 %) | 20.0 / 20.0 | fewer, fairer, not slower | fcfs, greedy-remote |"
echo "eval report bar: 3 scenarios as expected"
