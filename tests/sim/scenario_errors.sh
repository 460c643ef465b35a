#!/bin/bash
# vmca-sim --scenario refuses bad input with exit 2 and a message naming the
# setting (and, for a file, its line): bad scenario files made from a good
# one, and bad --set, --policy, --second-tier and --scale arguments. Also
# --list, whose names must be the built ones, and the content check (a
# damaged page read stops the run with exit 1).
# usage: scenario_errors.sh VMCA_SIM GOOD_SCENARIO
set -u
sim=$1 good=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# refused NAME WANT -- ARGS...: exit 2 and a stderr line containing WANT.
refused() {
    local what=$1 want=$2
    shift 3
    "$sim" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ $rc -ne 2 ]; then
        echo "FAIL $what: exit $rc, expected 2"; failures=$((failures + 1))
    elif ! grep -qF -- "$want" "$tmp/err"; then
        echo "FAIL $what: message does not say '$want': $(cat "$tmp/err")"; failures=$((failures + 1))
    elif [ -s "$tmp/out" ]; then
        echo "FAIL $what: printed results"; failures=$((failures + 1))
    else
        echo "ok $what: $(head -1 "$tmp/err")"
    fi
}

# bad NAME SED WANT: a copy of the good file, named NAME.conf, edited by SED.
bad() {
    local name=$1 edit=$2 want=$3
    sed -e "s/^name = \"small\";/name = \"$name\";/" -e "$edit" "$good" >"$tmp/$name.conf"
    if diff <(sed "s/^name = \"small\";/name = \"$name\";/" "$good") "$tmp/$name.conf" >/dev/null; then
        echo "FAIL $name: the edit '$edit' changed nothing"; failures=$((failures + 1)); return
    fi
    refused "$name" "$want" -- --scenario "$tmp/$name.conf" --policy greedy-remote
}

bad unknown-profile 's/profile = "usemem"/profile = "no-such-load"/' \
    "$tmp/unknown-profile.conf:"
grep -qF 'nodes.[0].vms.[0].profile: expected one of' "$tmp/err" ||
    { echo "FAIL unknown-profile: setting not named: $(cat "$tmp/err")"; failures=$((failures + 1)); }
bad missing-master 's/ master = true;//' "nodes.[].master: expected exactly one node with master = true, got none"
bad two-masters 's/location = \[0, 1\];/location = [0, 1]; master = true;/' "nodes.[2].master: expected exactly one"
bad bad-number 's/tmem_mb = 512;/tmem_mb = "lots";/' "nodes.[1].tmem_mb: expected an integer"
bad negative 's/tmem_mb = 512;/tmem_mb = -5;/' "nodes.[1].tmem_mb: expected an integer in 1.."
bad bad-scale 's/^scale = 64;/scale = 48;/' "scale: expected a power of two"
bad bad-latency 's/disk_us = 2000.0;/disk_us = "slow";/' "latency.disk_us: expected a number"
bad unknown-setting 's/^period_ms = 500;/period_ms = 500; speed = 3;/' "speed: expected one of"
bad unknown-vm-setting 's/weight = 2;/weight = 2; colour = 1;/' "nodes.[0].vms.[1].colour"
bad duplicate-vm 's/id = 2; ram_mb = 64;/id = 1; ram_mb = 64;/' "nodes.[0].vms.[1].id: expected an id not used"
bad wrong-name 's/^name = "wrong-name";/name = "other";/' "name: expected \"wrong-name\""
# libconfig keeps the low 32 bits of a plain literal past an int: 4294967360
# would load as 64 MB, 4294967297 in a location as 1.
bad truncated 's/tmem_mb = 512;/tmem_mb = 4294967360;/' "nodes.[1].tmem_mb: expected an integer in 1.."
grep -qF 'written 4294967360L' "$tmp/err" ||
    { echo "FAIL truncated: the fix not suggested: $(cat "$tmp/err")"; failures=$((failures + 1)); }
bad truncated-elem 's/location = \[0, 1\];/location = [0, 4294967297];/' "nodes.[1].location.[1]: expected an integer in 0..4294967295, got 4294967297 (too big"
bad include 's/^period_ms = 500;/period_ms = 500;\n@include "other.conf"/' "@include: expected settings"
# A message gives the line of the bad setting.
line=$(grep -n 'profile = "usemem"' "$good" | cut -d: -f1)
sed -e 's/^name = "small";/name = "line";/' -e 's/profile = "usemem"/profile = "x"/' "$good" >"$tmp/line.conf"
refused file-line "$tmp/line.conf:$line: " -- --scenario "$tmp/line.conf" --policy tlp

refused set-unknown "policy.no_such_setting" -- --scenario "$good" --policy tlp --set policy.no_such_setting=3
grep -qF -- "--set policy.no_such_setting=3" "$tmp/err" ||
    { echo "FAIL set-unknown: the --set argument not named"; failures=$((failures + 1)); }
refused set-range "policy.tlp_percent: expected" -- --scenario "$good" --policy tlp --set policy.tlp_percent=0
refused set-form "--set: expected policy.SETTING=VALUE" -- --scenario "$good" --policy tlp --set tlp_percent=4
refused set-value "--set: expected policy.SETTING=VALUE" -- --scenario "$good" --policy tlp --set 'policy.tlp_percent=4; first_tier = "x"'
refused policy "--policy: expected" -- --scenario "$good" --policy no-such-policy
refused no-policy "expected --policy NAME" -- --scenario "$good"
refused second-tier "--second-tier: expected" -- --scenario "$good" --policy tlp --second-tier no-such-tier
refused scale "--scale: expected a power of two" -- --scenario "$good" --policy tlp --scale 3
refused no-file "cannot read the scenario file: No such file or directory" -- --scenario "$tmp/absent.conf" --policy tlp
{ sed 's/^name = "small";/name = "nul";/' "$good"; printf 'x\0y\n'; } >"$tmp/nul.conf"
refused nul-byte "nul.conf: expected text, got a NUL byte" -- --scenario "$tmp/nul.conf" --policy tlp
refused faults "do not apply" -- --scenario "$good" --policy tlp --faults crash

# A --set the policy accepts changes the run (tlp's P: 1 % against 50 %).
a=$("$sim" --scenario "$good" --policy tlp --set policy.tlp_percent=1 | awk -F'\t' '$1 == "run" { print $7, $11 }')
b=$("$sim" --scenario "$good" --policy tlp --set policy.tlp_percent=50 | awk -F'\t' '$1 == "run" { print $7, $11 }')
if [ -z "$a" ] || [ "$a" = "$b" ]; then
    echo "FAIL set-applies: tlp_percent 1 and 50 give the same run ($a)"; failures=$((failures + 1))
else
    echo "ok set-applies: tlp_percent=1 -> $a, 50 -> $b (failed_puts pages_moved)"
fi

# --list: one built name a line; each is accepted by --policy / --second-tier.
for kind in first-tiers second-tiers; do
    names=$("$sim" --list $kind) || { echo "FAIL --list $kind: exit $?"; failures=$((failures + 1)); continue; }
    [ -n "$names" ] || { echo "FAIL --list $kind: empty"; failures=$((failures + 1)); }
    for n in $names; do
        if [ $kind = first-tiers ]; then args=(--policy "$n"); else args=(--policy greedy-local --second-tier "$n"); fi
        "$sim" --scenario "$good" "${args[@]}" >/dev/null 2>"$tmp/err" ||
            { echo "FAIL --list $kind: $n refused: $(cat "$tmp/err")"; failures=$((failures + 1)); }
    done
    echo "ok --list $kind: $(echo $names)"
done
for n in greedy-local greedy-remote tlp; do
    "$sim" --list first-tiers | grep -qx "$n" || { echo "FAIL --list first-tiers lacks $n"; failures=$((failures + 1)); }
done
refused list "--list: expected first-tiers, second-tiers or profiles" -- --list policies
# --list profiles: every profile the file's parser accepts, with what it assumes.
profs=$("$sim" --list profiles | cut -f1)
want=$(sed "s/^name = \"small\";/name = \"prof\";/; s/profile = \"usemem\"/profile = \"?\"/" "$good" >"$tmp/prof.conf";
       "$sim" --scenario "$tmp/prof.conf" --policy tlp 2>&1 | sed 's/.*expected one of \(.*\), got.*/\1/' | tr -d ',')
if [ -z "$profs" ] || [ "$(echo $profs)" != "$(echo $want)" ] ||
    "$sim" --list profiles | awk -F'\t' 'NF != 2 || $2 == "" || $2 == "(null)"' | grep -q .; then
    echo "FAIL --list profiles: '$(echo $profs)' against the parser's '$(echo $want)'"; failures=$((failures + 1))
else
    echo "ok --list profiles: $(echo $profs)"
fi

# Limits the parser must hold, or the run fails later: more VMs on a node
# than the hypervisor has clients; a file name longer than a name.
{ sed -n '1,/^nodes = (/p' "$good" | sed 's/^name = "small";/name = "vms257";/'
  printf '  { name = "n1"; tmem_mb = 64; location = [0]; master = true; vms = (\n'
  for i in $(seq 1 257); do printf '    { id = %d; ram_mb = 1; profile = "constant"; }%s\n' $i "$([ $i -lt 257 ] && echo ,)"; done
  printf '  ); }\n);\n'; } >"$tmp/vms257.conf"
refused vms257 "nodes.[0].vms: expected at most 256 VMs" -- --scenario "$tmp/vms257.conf" --policy greedy-local
sed -e 's/^name = "vms257";/name = "vms256";/' -e '/id = 257;/d' -e 's/\(id = 256;.*}\),/\1/' "$tmp/vms257.conf" >"$tmp/vms256.conf"
if "$sim" --scenario "$tmp/vms256.conf" --policy greedy-local >"$tmp/out" 2>"$tmp/err" &&
    [ "$(grep -c '^vm' "$tmp/out")" = 256 ]; then
    echo "ok vms256: runs, 256 VM lines"
else
    echo "FAIL vms256: $(head -2 "$tmp/err")"; failures=$((failures + 1))
fi
long=$(printf 'x%.0s' $(seq 70))
sed "s/^name = \"small\";/name = \"$(printf 'x%.0s' $(seq 63))\";/" "$good" >"$tmp/$long.conf"
refused long-name "name: expected the file name without .conf, which is longer" -- --scenario "$tmp/$long.conf" --policy tlp
# A location past 2^31 written with L is taken whole, as the file says
# (all of an array's integers with L: libconfig refuses a mix, and says so).
bad mixed-array 's/location = \[0, 1\];/location = [0, 4294967295L];/' "must all be plain or all end in L"
sed -e 's/^name = "small";/name = "bigloc";/' -e 's/location = \[0, 1\];/location = [0L, 4294967295L];/' "$good" >"$tmp/bigloc.conf"
if "$sim" --scenario "$tmp/bigloc.conf" --policy greedy-remote --second-tier topology >/dev/null 2>"$tmp/err"; then
    echo "ok bigloc: a location of 4294967295L runs"
else
    echo "FAIL bigloc: $(head -2 "$tmp/err")"; failures=$((failures + 1))
fi
refused dir-file "cannot read the scenario file: Is a directory" -- --scenario "$tmp" --policy tlp
refused set-overflow "policy.tlp_percent: expected a 64-bit integer, got 99999999999999999999999" -- --scenario "$good" --policy tlp --set policy.tlp_percent=99999999999999999999999
refused replicas "--replicas do not apply" -- --scenario "$good" --policy tlp --replicas 2
refused seed-negative "--seed: expected a number" -- --scenario "$good" --policy tlp --seed -1
refused seeds-negative "--seeds: expected A..B" -- --seeds 1..-2

# The content check: with every home's memory damaged at 10 s, the next
# get of a page must stop the run with a violation (exit 1), no results.
"$sim" --scenario "$good" --policy greedy-remote --corrupt-at 10 >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 1 ] || ! grep -q '^VIOLATION .*get returned other data than it put' "$tmp/err" || [ -s "$tmp/out" ]; then
    echo "FAIL content-check: exit $rc, $(head -1 "$tmp/err")"; failures=$((failures + 1))
else
    echo "ok content-check: $(head -1 "$tmp/err")"
fi

[ $failures -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
