# vmca-run on a real cluster: unmodified programs (sort, python3, sqlite3)
# with a resident budget of a quarter of their managed footprint give the
# output of a plain run, their evicted pages go through the node's tmem
# (vmca-hv shows the VM's pages while it runs), a fork is refused once
# memory is managed, bad command lines and a node without a hypervisor are
# refused.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vmca_run_lib.sh"

RUN=$VMCA_BUILD/tools/vmca-run
make_cluster 3
# node1 holds up to 64 MiB of tmem; node3 is configured but never started.
sed -i 's/tmem_pages = 1024;/tmem_pages = 16384;/' "$CONF"
start_master
start_node node1
start_node node2
wait_until 20 "2 nodes active" all_active 2

vrun() { "$RUN" --config "$CONF" --node node1 "$@"; }

# counter NAME FILE: a field of the shim's exit line.
counter() { sed -n "s/.*vmca-run: pid=.* $1=\([0-9]*\).*/\1/p" "$2" | tail -n 1; }

# check_counters FILE: pages really went out and came back, all verified.
check_counters() {
    local f=$1
    grep -q 'vmca-run: pid=' "$f" || fail "no vmca-run counters in $f: $(cat "$f")"
    local puts_ok gets disk_reads verified resident_max budget
    puts_ok=$(counter puts_ok "$f")
    gets=$(counter gets "$f")
    disk_reads=$(counter disk_reads "$f")
    verified=$(counter verified "$f")
    resident_max=$(counter resident_max "$f")
    budget=$(counter budget_pages "$f")
    [ "$puts_ok" -gt 0 ] || fail "no page was put into tmem: $(grep pid= "$f")"
    [ "$gets" -gt 0 ] || fail "no page came back from tmem: $(grep pid= "$f")"
    [ "$verified" -eq $((gets + disk_reads)) ] ||
        fail "not every page fetched back was verified: $(grep pid= "$f")"
    [ "$resident_max" -le "$budget" ] || fail "resident pages above the budget: $(grep pid= "$f")"
}

# ---- sort: 8 MiB of input (nearly 3 times the budget) with 2 threads, 3 MiB with one ----
python3 -c '
import random
r = random.Random(7)
for i in range(240000):
    print("%016x %s" % (r.getrandbits(64), "x" * r.randint(0, 40)))
' > "$T/in.txt"
head -n 90000 "$T/in.txt" > "$T/in-small.txt"
for f in in in-small; do sort -S 64M "$T/$f.txt" > "$T/$f.plain"; done
vrun --local-mib 3 -- sort --parallel=2 -S 64M "$T/in.txt" > "$T/sort.run" 2> "$T/sort.err" ||
    fail "sort --parallel=2 under vmca-run exited $?: $(cat "$T/sort.err")"
cmp -s "$T/in.plain" "$T/sort.run" || fail "sort --parallel=2 under vmca-run gave other output"
check_counters "$T/sort.err"
grep 'pid=' "$T/sort.err"
vrun --local-mib 1 -- sort --parallel=1 -S 64M "$T/in-small.txt" > "$T/sort1.run" 2> "$T/sort1.err" ||
    fail "sort under vmca-run exited $?: $(cat "$T/sort1.err")"
cmp -s "$T/in-small.plain" "$T/sort1.run" || fail "sort under vmca-run gave other output"
check_counters "$T/sort1.err"
pass "sort of $(($(stat -c %s "$T/in.txt") >> 20)) MiB with 3 MiB resident (2 threads) and of $(($(stat -c %s "$T/in-small.txt") >> 20)) MiB with 1 MiB resident (1 thread): output identical"

# ---- python3: 18 MiB of bytearrays, 4 MiB resident, VM pages seen in tmem ----
# The program fills its arrays, holds, hashes them (faulting every page
# back and evicting others), holds again, and prints. The test looks at
# vmca-hv after the fill and after the hash: tlp (the default policy)
# keeps a new VM's target at its use until its puts have failed for a
# period, so a fill faster than a period may leave every page on the disk
# (CI: used=0 after the fill) or fit under the stopgap target it had
# before its first period. The hash goes on once the VM holds pages or
# has room above its use, and then its evictions are stored in tmem.
cat > "$T/fill.py" <<'EOF'
import hashlib, os, sys, threading, time
def hold(flag, said):
    if len(sys.argv) > 1:                  # hold until the test has looked
        print(said, flush=True)
        while not os.path.exists(sys.argv[1] + flag):
            time.sleep(0.05)
bufs = [bytearray(6 << 20) for _ in range(3)]
def fill(k):
    b = bufs[k]
    for i in range(0, len(b), 512):
        b[i] = (i // 512 * 7 + k) % 251
threads = [threading.Thread(target=fill, args=(k,)) for k in range(3)]
for t in threads: t.start()
for t in threads: t.join()
hold(".1", "filled")
h = hashlib.sha256()
for b in bufs:
    h.update(b)
hold(".2", "hashed")
print(h.hexdigest(), sum(sum(b[::4096]) for b in bufs))
EOF
python3 "$T/fill.py" > "$T/py.plain"
"$RUN" --config "$CONF" --node node1 --vm 4242 --local-mib 4 -- python3 "$T/fill.py" "$T/go" \
    > "$T/py.run" 2> "$T/py.err" &   # not vrun: $! must be the program itself
PY_PID=$!
PIDS+=($PY_PID)
vm_field() { tkm --node node1 stats | awk -v f="$1" '$1 == "vm" && $2 == 4242 {
    for (i = 3; i <= NF; i++) if (index($i, f "=") == 1) { sub(f "=", "", $i); print $i } }'; }
held_or_room() {   # awk: an unlimited target (2^64 - 1) is too big for [ ]
    tkm --node node1 stats | awk '$1 == "vm" && $2 == 4242 { u = $3; t = $4
        sub("used=", "", u); sub("target=", "", t); ok = u + 0 > 0 || t + 0 > u + 0 }
        END { exit !ok }'
}
wait_until 60 "python filled its arrays" grep -q filled "$T/py.run"
wait_until 20 "VM 4242 holding tmem pages or with a target above its use" held_or_room
used_fill=$(vm_field used)
touch "$T/go.1"
wait_until 60 "python hashed its arrays" grep -q hashed "$T/py.run"
tkm --node node1 stats > "$T/stats.txt"
used=$(awk '$1 == "vm" && $2 == 4242 { sub("used=", "", $3); print $3 }' "$T/stats.txt")
[ -n "$used" ] && [ "$used" -gt 0 ] ||
    fail "vmca-hv shows no tmem pages of VM 4242 after the hash (after the fill: $used_fill):" \
         "$(cat "$T/stats.txt"); $(cat "$T/py.err")"
# The kernel's view: the arena (the 4 GiB mapping) holds at most the budget.
rss=$(arena_rss "$PY_PID")
[ -n "$rss" ] || fail "no 4 GiB arena in /proc/$PY_PID/smaps"
[ "$rss" -le 4096 ] || fail "the arena's Rss is $rss KiB, above the 4 MiB budget"
touch "$T/go.2"
rc=0
wait "$PY_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "python3 under vmca-run exited $rc: $(cat "$T/py.err")"
grep -v 'filled\|hashed' "$T/py.run" > "$T/py.run2"
cmp -s "$T/py.plain" "$T/py.run2" || fail "python3 under vmca-run gave other output"
check_counters "$T/py.err"
grep 'pid=' "$T/py.err"
pass "python3 with 18 MiB of bytearrays (3 threads), 4 MiB resident: output identical, VM 4242 held $used pages in tmem, arena Rss $rss KiB"

# ---- sqlite3 with a page cache larger than the budget ----
command -v sqlite3 > /dev/null || fail "sqlite3 missing (scripts/install-deps.sh installs it)"
rm -f "$T/plain.db" "$T/run.db"
sqlite3 "$T/plain.db" < "$(dirname "$0")/vmca_run_sqlite.sql" > "$T/sql.plain"
vrun --local-mib 4 --threshold-kib 64 -- sqlite3 "$T/run.db" < "$(dirname "$0")/vmca_run_sqlite.sql" \
    > "$T/sql.run" 2> "$T/sql.err" || fail "sqlite3 under vmca-run exited $?: $(cat "$T/sql.err")"
cmp -s "$T/sql.plain" "$T/sql.run" || fail "sqlite3 under vmca-run gave other output"
check_counters "$T/sql.err"
grep 'pid=' "$T/sql.err"
pass "sqlite3 with a 32 MiB page cache (about 12 MiB used), 4 MiB resident: output identical"

# ---- fork: refused once memory is managed; a program managing nothing forks ----
# python3's allocator takes 1 MiB arenas from its start: managed at once.
cat > "$T/fork.py" <<'EOF'
import os, sys
b = bytearray(8 << 20)
b[0] = 1
try:
    pid = os.fork()
except OSError as e:
    print("fork failed:", e.strerror)
    sys.exit(5)
if pid == 0:
    os._exit(0)
print("fork succeeded")
EOF
rc=0
vrun --local-mib 4 -- python3 "$T/fork.py" > "$T/fork.out" 2> "$T/fork.err" || rc=$?
[ "$rc" -eq 5 ] || fail "fork test exited $rc, expected 5: $(cat "$T/fork.out" "$T/fork.err")"
grep -q 'fork refused' "$T/fork.err" || fail "no fork refusal message: $(cat "$T/fork.err")"
out=$(vrun --local-mib 4 -- sh -c 'echo forked | cat') || fail "sh under vmca-run exited $?"
[ "$out" = forked ] || fail "sh under vmca-run printed '$out'"
pass "fork: refused with a message once memory is managed; a shell managing nothing forks"

# ---- exec: a managed image execs another; the new one connects again ----
cat > "$T/exec.py" <<'EOF'
import os, sys
b = bytearray(12 << 20)
for i in range(0, len(b), 4096):
    b[i] = i // 4096 % 256
print(sum(b[::4096]), flush=True)
if len(sys.argv) == 1:
    os.execvp(sys.executable, [sys.executable, sys.argv[0], "again"])
EOF
python3 "$T/exec.py" > "$T/exec.plain"
vrun --vm 4343 --local-mib 4 -- python3 "$T/exec.py" > "$T/exec.run" 2> "$T/exec.err" ||
    fail "exec under vmca-run exited $?: $(cat "$T/exec.err")"
cmp -s "$T/exec.plain" "$T/exec.run" || fail "exec under vmca-run gave other output"
# Both images connected as VM 4343. The new image's puts may all be refused
# (the node's first tier has not given the new VM a target yet: its pages
# then go to the file), so only that its pages went out and came back.
[ "$(grep -c 'VM 4343 connected' "$T/hv-node1.log")" -eq 2 ] ||
    fail "the exec'd image did not connect again: $(grep 'VM 4343' "$T/hv-node1.log")"
[ "$(counter evictions "$T/exec.err")" -gt 0 ] &&
    [ "$(counter verified "$T/exec.err")" -eq $(($(counter gets "$T/exec.err") + $(counter disk_reads "$T/exec.err"))) ] &&
    [ "$(counter verified "$T/exec.err")" -gt 0 ] ||
    fail "the exec'd image's pages did not go out and come back verified: $(grep pid= "$T/exec.err")"
pass "exec of a managed program: the new image is managed again (VM 4343), output identical"

# ---- --store file: the disk baseline, no vmca-hv involved ----
"$RUN" --store file --local-mib 4 -- python3 "$T/exec.py" again > "$T/file.run" 2> "$T/file.err" ||
    fail "--store file exited $?: $(cat "$T/file.err")"
head -n 1 "$T/exec.plain" | cmp -s - "$T/file.run" || fail "--store file gave other output"
[ "$(counter disk_reads "$T/file.err")" -gt 0 ] && [ "$(counter puts "$T/file.err")" -eq 0 ] ||
    fail "--store file: pages did not go to the file alone: $(cat "$T/file.err")"
[ "$(counter verified "$T/file.err")" -eq "$(counter disk_reads "$T/file.err")" ] ||
    fail "--store file: not every page read back was verified"
pass "--store file: evicted pages to the local file only, output identical"

# ---- refusals ----
expect 2 "--local-mib N is required" "$RUN" --config "$CONF" --node node1 -- true
expect 2 "--local-mib: expected a whole number" "$RUN" --config "$CONF" --node node1 --local-mib 0 -- true
expect 2 "--config FILE and --node NAME are required" "$RUN" --local-mib 4 -- true
expect 2 "no PROGRAM to run" "$RUN" --config "$CONF" --node node1 --local-mib 4
expect 2 "no node named 'nodeX'" "$RUN" --config "$CONF" --node nodeX --local-mib 4 -- true
expect 2 "unknown option '--bogus'" "$RUN" --bogus
expect 1 "no hypervisor on node node3" "$RUN" --config "$CONF" --node node3 --local-mib 4 -- true
expect 2 "--store file uses no node" "$RUN" --store file --config "$CONF" --local-mib 4 -- true
expect 2 "--store: expected 'tmem' or 'file', got 'disk'" "$RUN" --store disk --local-mib 4 -- true
expect 127 "cannot run" "$RUN" --config "$CONF" --node node1 --local-mib 4 -- /nonexistent/prog
pass "bad command lines (exit 2), a node without a hypervisor (exit 1) and a missing program (127) refused"
