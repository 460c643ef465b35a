#!/usr/bin/env bash
# Replays every seed of tests/sim/regressions.txt; fails on the first one
# that shows a violation again. Columns: seed nodes steps faults
# [policy=NAME] [replicas=N] what-it-found.
set -euo pipefail
sim=$1
file=$(dirname "$0")/regressions.txt
n=0
while read -r seed nodes steps faults rest; do
    case "$seed" in ''|\#*) continue ;; esac
    policy=greedy-remote replicas=1
    case "$rest" in policy=*) policy=${rest%% *}; policy=${policy#policy=}; rest=${rest#* } ;; esac
    case "$rest" in replicas=*) replicas=${rest%% *}; replicas=${replicas#replicas=} ;; esac
    "$sim" --seed "$seed" --nodes "$nodes" --steps "$steps" --faults "$faults" \
        --policy "$policy" --replicas "$replicas" > /dev/null ||
        { echo "regression seed $seed ($nodes nodes, $steps steps, $faults, $policy) fails again"; exit 1; }
    n=$((n + 1))
done < "$file"
echo "$n regression seeds clean"
