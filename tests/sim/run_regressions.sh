#!/usr/bin/env bash
# Replays every seed of tests/sim/regressions.txt; fails on the first one
# that shows a violation again.
set -euo pipefail
sim=$1
file=$(dirname "$0")/regressions.txt
n=0
while read -r seed nodes steps faults _; do
    case "$seed" in ''|\#*) continue ;; esac
    "$sim" --seed "$seed" --nodes "$nodes" --steps "$steps" --faults "$faults" > /dev/null ||
        { echo "regression seed $seed ($nodes nodes, $steps steps, $faults) fails again"; exit 1; }
    n=$((n + 1))
done < "$file"
echo "$n regression seeds clean"
