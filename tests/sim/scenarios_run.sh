#!/usr/bin/env bash
# Every scenarios/*.conf parses and runs to the end at a tiny size (--scale
# 4096: one simulated page = 16 MB) under tlp (or the first built first tier), with one
# vm line per VM of the file and a run line naming the scenario; and a
# scenario with a broken setting is refused (exit 2) with its file and line.
# Usage: scenarios_run.sh VMCA_SIM SOURCE_DIR
set -euo pipefail
sim=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mapfile -t policies < <("$sim" --list first-tiers)
[ ${#policies[@]} -gt 0 ] || { echo "no first tiers listed"; exit 1; }
printf '%s\n' "${policies[@]}" | grep -qx tlp && policies=(tlp) || policies=("${policies[0]}")
n=0
for f in "$src"/scenarios/*.conf; do
    name=$(basename "$f" .conf)
    vms=$(grep -c 'profile =' "$f")
    for p in "${policies[@]}"; do
        rc=0
        "$sim" --scenario "$f" --policy "$p" --seed 1 --scale 4096 >"$tmp/out" 2>"$tmp/err" || rc=$?
        if [ $rc -ne 0 ]; then
            echo "$name under $p: exit $rc"; cat "$tmp/err"; exit 1
        fi
        got=$(grep -c '^vm	' "$tmp/out" || true)
        [ "$got" -eq "$vms" ] || { echo "$name under $p: $got vm lines, the file has $vms VMs"; exit 1; }
        awk -F'\t' -v s="$name" -v p="$p" '$1 == "run" && $2 == s && $3 == p { ok = 1 } END { exit !ok }' \
            "$tmp/out" || { echo "$name under $p: no run line for it"; cat "$tmp/out"; exit 1; }
        n=$((n + 1))
    done
done
# the negative case: the first scenario with its scale made invalid
first=$(ls "$src"/scenarios/*.conf | head -n 1)
cp "$first" "$tmp/$(basename "$first")"
sed -i 's/^scale = .*/scale = 48;/' "$tmp/$(basename "$first")"
rc=0
"$sim" --scenario "$tmp/$(basename "$first")" --policy "${policies[0]}" >/dev/null 2>"$tmp/err" || rc=$?
[ $rc -eq 2 ] || { echo "a scenario with scale 48 was not refused with exit 2 (exit $rc)"; exit 1; }
grep -q "$(basename "$first"):[0-9]*:.*scale" "$tmp/err" ||
    { echo "the refusal does not name file, line and setting:"; cat "$tmp/err"; exit 1; }
echo "$n scenario runs clean; a broken scenario is refused"
