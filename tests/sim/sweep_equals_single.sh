#!/usr/bin/env bash
# vmca-sim keeps no state from one seed to the next: a sweep A..B prints,
# for every seed, the same summary line and the same trace (--trace: every
# event and the cores' log lines, --watch lines included) as that seed run
# alone. Every fault is on.
#   sweep_equals_single.sh VMCA_SIM A B
set -euo pipefail
sim=$1 first=$2 last=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(--nodes 4 --steps 6000 --verbose --trace --watch 2:0
      --faults crash,master,drop,partition,slow,leave,vm,restart,byzantine,stop,hvstop,hvcrash)
"$sim" --seeds "$first..$last" "${args[@]}" 2> "$tmp/sweep.trace" | grep '^seed ' > "$tmp/sweep"
for s in $(seq "$first" "$last"); do
    "$sim" --seed "$s" "${args[@]}" 2>> "$tmp/alone.trace" | grep '^seed ' >> "$tmp/alone"
done
if ! cmp -s "$tmp/sweep" "$tmp/alone" || ! cmp -s "$tmp/sweep.trace" "$tmp/alone.trace"; then
    echo "a sweep differs from its seeds run alone:"
    diff "$tmp/sweep" "$tmp/alone" | head -5 || true
    diff "$tmp/sweep.trace" "$tmp/alone.trace" | head -5 || true
    exit 1
fi
echo "$(wc -l < "$tmp/sweep") seeds: the sweep and the seeds alone agree ($(wc -l < "$tmp/sweep.trace") trace lines)"
