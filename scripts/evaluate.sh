#!/usr/bin/env bash
# make evaluate: runs every scenarios/*.conf under every built first-tier
# policy (tlp at tlp_percent 1, 2, 4 and 6) and, on multi-node scenarios,
# every built second tier with tlp, greedy-remote and demand-share, for 5 seeds, two runs
# at a time; aggregates min/median/max over the seeds (scripts/eval-aggregate.awk);
# writes docs/evaluation.md and the PNG plots under docs/eval/ (gnuplot).
# Raw run outputs stay under BUILD/eval/. Usage: scripts/evaluate.sh [BUILD]
# Then EVAL_RANDOM (default 10) random mixes (scripts/gen-scenarios.py, seed
# EVAL_RANDOM_SEED, default 1) under every first tier (tlp at each P):
# the held-out check of our own policy (reported in a table of their own).
# Environment: EVAL_SEEDS (default "1 2 3 4 5"), EVAL_JOBS (default 2),
# EVAL_SCENARIOS (a glob, default scenarios/*.conf), VMCA_SIM (the binary).
set -euo pipefail

T0=$(date +%s%N)
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
SIM=${VMCA_SIM:-$BUILD/tools/vmca-sim}
SEEDS=${EVAL_SEEDS:-1 2 3 4 5}
JOBS=${EVAL_JOBS:-2}
TLP_PCTS="1 2 4 6"
OUT=$BUILD/eval
DOCS=$SRC/docs
PNG=$DOCS/eval

die() { echo "evaluate: $*" >&2; exit 1; }
[ -x "$SIM" ] || die "no simulator at $SIM (build first: make build)"
command -v gnuplot >/dev/null || die "gnuplot not found (scripts/install-deps.sh installs gnuplot-nox)"

mapfile -t FIRST < <("$SIM" --list first-tiers)
mapfile -t SECOND < <("$SIM" --list second-tiers)
[ ${#FIRST[@]} -gt 0 ] || die "vmca-sim --list first-tiers printed nothing"

n_nodes() { grep -c 'tmem_mb' "$1"; }

rm -rf "$OUT"
mkdir -p "$OUT/runs" "$OUT/series" "$OUT/plot" "$PNG"

# ---- the job list: scenario label seed args... (one per line) ----
SCEN_FILES=()
for f in ${EVAL_SCENARIOS:-$SRC/scenarios/*.conf}; do SCEN_FILES+=("$f"); done
[ ${#SCEN_FILES[@]} -gt 0 ] || die "no scenario files"
jobs=$OUT/jobs.txt
: >"$jobs"
# policy_jobs FILE SEED POLICY...: one job per first tier (tlp: one per P).
policy_jobs() {
    local f=$1 seed=$2 p pc
    shift 2
    for p in "$@"; do
        if [ "$p" = tlp ]; then
            for pc in $TLP_PCTS; do
                echo "$f tlp-$pc $seed --policy tlp --set policy.tlp_percent=$pc"
            done
        else
            echo "$f $p $seed --policy $p"
        fi
    done >>"$jobs"
}
for f in "${SCEN_FILES[@]}"; do
    s=$(basename "$f" .conf)
    multi=$(($(n_nodes "$f") > 1))
    for seed in $SEEDS; do
        policy_jobs "$f" "$seed" "${FIRST[@]}"
        if [ $multi = 1 ]; then
            for t in "${SECOND[@]}"; do
                for p in tlp greedy-remote demand-share; do
                    printf '%s\n' "${FIRST[@]}" | grep -qx "$p" &&
                        echo "$f $p+$t $seed --policy $p --second-tier $t" >>"$jobs"
                done
            done
        fi
    done
done
# ---- the held-out random mixes ----
RAND_FILES=()
if [ "${EVAL_RANDOM:-10}" -gt 0 ]; then
    python3 "$SRC/scripts/gen-scenarios.py" "${EVAL_RANDOM:-10}" "${EVAL_RANDOM_SEED:-1}" "$OUT/random"
    for f in "$OUT"/random/*.conf; do RAND_FILES+=("$f"); done
fi
for f in "${RAND_FILES[@]}"; do
    for seed in $SEEDS; do policy_jobs "$f" "$seed" "${FIRST[@]}"; done
done
TOTAL=$(wc -l <"$jobs")

# One run: its stdout, stderr and exit status under $OUT/runs.
run_one() {
    local f=$1 label=$2 seed=$3
    shift 3
    local base="$OUT/runs/$(basename "$f" .conf).$label.$seed"
    local rc=0
    "$SIM" --scenario "$f" --seed "$seed" "$@" >"$base.tsv" 2>"$base.err" || rc=$?
    echo "$rc" >"$base.rc"
}
export -f run_one
export SIM OUT

progress() {
    local done
    done=$(find "$OUT/runs" -name '*.rc' | wc -l)
    printf '\r[evaluate] %d/%d runs, %ds' "$done" "$TOTAL" $((($(date +%s%N) - T0) / 1000000000)) >&2
}
echo "[evaluate] ${#SCEN_FILES[@]} scenarios and ${#RAND_FILES[@]} random mixes, first tiers: ${FIRST[*]}; second tiers: ${SECOND[*]}; seeds: $SEEDS" >&2
xargs -P "$JOBS" -L 1 bash -c 'run_one "$@"' _ <"$jobs" &
XPID=$!
while kill -0 $XPID 2>/dev/null; do progress; sleep 1; done
wait $XPID || true
progress
echo >&2

# ---- failures ----
failed=()
for rcf in "$OUT"/runs/*.rc; do
    [ "$(cat "$rcf")" = 0 ] || failed+=("$(basename "$rcf" .rc) (exit $(cat "$rcf")): $(head -c 300 "${rcf%.rc}.err" | tr '\n' ' ')")
done
[ ${#failed[@]} -eq 0 ] || printf '[evaluate] failed run: %s\n' "${failed[@]}" >&2

# ---- aggregation: every row of every finished run, prefixed with its label ----
for t in "$OUT"/runs/*.tsv; do
    b=$(basename "$t" .tsv)           # scenario.label.seed
    rc=$(cat "$OUT/runs/$b.rc")
    [ "$rc" = 0 ] || continue
    label=${b#*.}; label=${label%.*}
    awk -v label="$label" '{ print label "\t" $0 }' "$t"
done >"$OUT/all.tsv"
# order: plain first tiers, tlp-P, tlp-best, then the second-tier runs
awk -f "$SRC/scripts/eval-aggregate.awk" "$OUT/all.tsv" |
    awk -F'\t' '{ r = $2 ~ /\+/ ? 3 : $2 == "tlp-best" ? 2 : $2 ~ /^tlp-/ ? 1 : 0; print r "\t" $0 }' |
    sort -t "$(printf '\t')" -k2,2 -k1,1n -k3,3 | cut -f 2- >"$OUT/agg.tsv"

# ---- one run per scenario with --series: tlp-best (or the file's eval_policy) ----
for f in "${SCEN_FILES[@]}"; do
    s=$(basename "$f" .conf)
    best=$(awk -F'\t' -v s="$s" '$1 == s && $2 == "tlp-best" { print $NF }' "$OUT/agg.tsv")
    args=(--policy tlp)
    if [ -n "$best" ]; then args+=(--set "policy.tlp_percent=$best"); fi
    seed=${SEEDS%% *}
    "$SIM" --scenario "$f" --seed "$seed" "${args[@]}" --series "$OUT/series/$s.tsv" \
        >"$OUT/series/$s.out" 2>"$OUT/series/$s.err" || echo "[evaluate] series run of $s failed" >&2
done

# ---- plots ----
"$SRC/scripts/eval-plots.sh" "$OUT" "$PNG" "${SCEN_FILES[@]}"

# ---- the report ----
WALL=$((($(date +%s%N) - T0) / 1000000))
RAND_FILES="${RAND_FILES[*]}" \
    "$SRC/scripts/eval-report.sh" "$OUT" "$WALL" "$TOTAL" "${#failed[@]}" "${SCEN_FILES[@]}" >"$DOCS/evaluation.md"
printf '%s\n' "${failed[@]}" >"$OUT/failed.txt"
WALL=$((($(date +%s%N) - T0) / 1000000))
printf '[evaluate] %d runs (%d failed); wrote docs/evaluation.md and docs/eval/*.png; wall time %d.%03d s\n' \
    "$TOTAL" "${#failed[@]}" $((WALL / 1000)) $((WALL % 1000))
