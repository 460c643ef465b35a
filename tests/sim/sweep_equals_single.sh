#!/usr/bin/env bash
# vmca-sim keeps no state from one seed to the next: a sweep A..B prints,
# for every seed, the same line as that seed run alone (every fault on,
# --watch too, so its bookkeeping is covered).
#   sweep_equals_single.sh VMCA_SIM A B
set -euo pipefail
sim=$1 first=$2 last=$3
args=(--nodes 4 --steps 6000 --verbose --watch 2:0
      --faults crash,master,drop,partition,slow,leave,vm,restart,byzantine,stop,hvstop,hvcrash)
sweep=$("$sim" --seeds "$first..$last" "${args[@]}" | grep '^seed ')
alone=$(for s in $(seq "$first" "$last"); do "$sim" --seed "$s" "${args[@]}" | grep '^seed '; done)
if [ "$sweep" != "$alone" ]; then
    echo "a sweep differs from its seeds run alone:"
    diff <(echo "$sweep") <(echo "$alone") || true
    exit 1
fi
echo "$(echo "$sweep" | wc -l) seeds: the sweep and the seeds alone agree"
