#!/usr/bin/env bash
# make install, kept true (docs/install.md):
#  (a) an install into DESTDIR puts everything under DESTDIR/<prefix> where
#      docs/install.md says, nothing into etc, nothing naming the source or
#      build tree; every installed program has a man page and each page a
#      program; each program, run from / with a bare environment, prints
#      "NAME VERSION" for --version (VERSION: CMakeLists.txt's project());
#      the installed vmca-gen-certs makes certificates outside the tree;
#  (b) every long option of a program's --help is in its man page's OPTIONS
#      and the reverse, its SYNOPSIS and EXAMPLES use no other, the program
#      accepts each of them, and each page renders without a warning;
#  (c) the systemd units: their settings (Type, Restart, ordering, the
#      daemon's absolute path), then systemd-analyze verify on an install
#      into a real prefix, where ExecStart= and Documentation= resolve.
. "$(dirname "$0")/lib.sh"

version=$(sed -n 's/^project(vmca VERSION \([0-9.]*\).*/\1/p' "$VMCA_SOURCE/CMakeLists.txt")
[ -n "$version" ] || fail "no project version in CMakeLists.txt"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$VMCA_BUILD/CMakeCache.txt")
[ -n "$prefix" ] || fail "no CMAKE_INSTALL_PREFIX in $VMCA_BUILD/CMakeCache.txt"
DAEMONS=(vmca-master vmca-slave vmca-hv)
TOOLS=(vmcactl vmca-guest vmca-tkm vmca-sim vmca-run vmca-gen-certs vmca-faultproxy)
UNITS=(vmca-master.service vmca-hv@.service vmca-slave@.service)

# ---- (a) the layout of a DESTDIR install
dest=$T/dest
DESTDIR=$dest cmake --install "$VMCA_BUILD" > "$T/install.log" 2>&1 ||
    { cat "$T/install.log"; fail "cmake --install with DESTDIR=$dest"; }
root=$dest$prefix
outside=$(cd "$dest" && find . ! -type d | sed 's|^\.||' | grep -v "^$prefix/" || true)
[ -z "$outside" ] || fail "installed outside DESTDIR$prefix: $outside"
# An install never writes a configuration (it could be the host's).
[ ! -e "$root/etc" ] && [ ! -e "$dest/etc" ] || fail "installed into etc: $(find "$dest" -path '*/etc/*')"
for d in "${DAEMONS[@]}"; do
    [ -x "$root/sbin/$d" ] || fail "daemon $d not installed as sbin/$d"
    [ -f "$root/share/man/man8/$d.8" ] || fail "no man page share/man/man8/$d.8"
done
for t in "${TOOLS[@]}"; do
    [ -x "$root/bin/$t" ] || fail "tool $t not installed as bin/$t"
    [ -f "$root/share/man/man1/$t.1" ] || fail "no man page share/man/man1/$t.1"
done
for u in "${UNITS[@]}"; do
    [ -f "$root/lib/systemd/system/$u" ] || fail "unit lib/systemd/system/$u not installed"
done
# vmca-run's shim where the installed vmca-run looks for it.
[ -f "$root/lib/vmca/libvmca-run-preload.so" ] || fail "lib/vmca/libvmca-run-preload.so not installed"
for f in examples/demo.conf examples/demo4.conf install.md configuration.md README.md; do
    [ -f "$root/share/doc/vmca/$f" ] || fail "share/doc/vmca/$f not installed"
done
# Every installed program has a page, and every page a program.
programs=()
for p in "$root"/bin/* "$root"/sbin/*; do
    [ -e "$p" ] || continue
    n=$(basename "$p")
    programs+=("$n")
    case "$p" in
        */sbin/*) [ -f "$root/share/man/man8/$n.8" ] || fail "installed sbin/$n has no man8 page" ;;
        *) [ -f "$root/share/man/man1/$n.1" ] || fail "installed bin/$n has no man1 page" ;;
    esac
done
[ ${#programs[@]} -eq $(( ${#DAEMONS[@]} + ${#TOOLS[@]} )) ] ||
    fail "installed programs: ${programs[*]}; expected ${DAEMONS[*]} ${TOOLS[*]}"
for m in "$root"/share/man/man[18]/*; do
    n=$(basename "$m"); n=${n%.[18]}
    [ -x "$root/bin/$n" ] || [ -x "$root/sbin/$n" ] || fail "man page $m for no installed program"
done
# Nothing installed (but the binaries' debug information) names the trees.
for f in $(find "$root" -type f); do
    head -c 4 "$f" | grep -q "ELF" && continue
    if grep -q -e "$VMCA_SOURCE" -e "$VMCA_BUILD" "$f"; then
        fail "$f names the source or build tree: $(grep -m1 -e "$VMCA_SOURCE" -e "$VMCA_BUILD" "$f")"
    fi
done
# --version, from / with nothing of the tree around.
for n in "${programs[@]}"; do
    p=$root/sbin/$n; [ -x "$p" ] || p=$root/bin/$n
    for v in --version -V; do
        got=$(cd / && env -i PATH=/usr/bin:/bin "$p" $v 2>&1) || fail "$n $v exits $?: $got"
        [ "$got" = "$n $version" ] || fail "installed $n $v says '$got', expected '$n $version'"
    done
    th=$(grep -m1 '^\.TH' "$root"/share/man/man[18]/"$n".[18])
    case "$th" in *"\"vmca $version\""*) ;; *) fail "$n's man page .TH does not say vmca $version: $th" ;; esac
done
# The installed vmca-gen-certs: certificates for a configuration's nodes,
# beside that configuration, from /.
mkdir "$T/etc"
cp "$root/share/doc/vmca/examples/demo.conf" "$T/etc/vmca.conf"
(cd / && env -i PATH=/usr/bin:/bin "$root/bin/vmca-gen-certs" --config "$T/etc/vmca.conf" > "$T/gc.log" 2>&1) ||
    { cat "$T/gc.log"; fail "installed vmca-gen-certs --config"; }
for n in ca node1 node2 node3; do
    [ -s "$T/etc/certs/$n.crt" ] || fail "vmca-gen-certs made no $T/etc/certs/$n.crt"
done
openssl verify -CAfile "$T/etc/certs/ca.crt" "$T/etc/certs/node2.crt" > /dev/null ||
    fail "vmca-gen-certs: node2.crt does not verify against its CA"
grep -q "^vmca-gen-certs: " "$T/gc.log" || fail "installed vmca-gen-certs does not name itself: $(cat "$T/gc.log")"
pass "DESTDIR install: layout, man page per program, --version $version from /"

# ---- (b) --help and the man pages
# The long options of a text (roff: \- is a hyphen, fonts dropped).
long_opts() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' | grep -o -- '--[a-z][a-z0-9-]*' | sort -u || true; }
section() { awk -v s="$1" '/^\.SH/ { on = ($0 ~ "^\\.SH \"?" s "\"?$"); next } on'; }
renderers=(groff)
command -v groff > /dev/null || fail "groff is missing (scripts/install-deps.sh installs groff-base)"
for n in "${programs[@]}"; do
    p=$root/sbin/$n; page=$root/share/man/man8/$n.8
    [ -x "$p" ] || { p=$root/bin/$n; page=$root/share/man/man1/$n.1; }
    help=$("$p" --help) || fail "$n --help exits non-zero"
    long_opts <<< "$help" > "$T/help.opts"
    [ -s "$T/help.opts" ] || fail "$n --help names no long option"
    section OPTIONS < "$page" | long_opts > "$T/man.opts"
    missing=$(comm -23 "$T/help.opts" "$T/man.opts" | tr '\n' ' ')
    extra=$(comm -13 "$T/help.opts" "$T/man.opts" | tr '\n' ' ')
    [ -z "$missing" ] || fail "$n: in --help, not in its man page's OPTIONS: $missing"
    [ -z "$extra" ] || fail "$n: in its man page's OPTIONS, not in --help: $extra"
    # The synopsis and the examples that run the program use its options only.
    { section SYNOPSIS < "$page"; section EXAMPLES < "$page" | sed -e 's/\\-/-/g' | { grep "^$n " || true; }; } |
        long_opts > "$T/used.opts"
    extra=$(comm -13 "$T/help.opts" "$T/used.opts" | tr '\n' ' ')
    [ -z "$extra" ] || fail "$n: its man page's SYNOPSIS or EXAMPLES use options --help does not list: $extra"
    for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" FILES EXAMPLES; do
        [ -n "$(section "$s" < "$page")" ] || fail "$n: man page has no (or an empty) $s section"
    done
    # The program accepts each option --help lists: parsing stops at the
    # unknown option after it, or at the option's value being wrong. With a
    # value first (OPT=1: an option without one refuses it, and never takes
    # the next word as its value), then bare.
    while read -r o; do
        case "$o" in --help|--version) continue ;; esac
        unknown="(unrecognized|unknown) option '?$o([=' ]|$)|'?$o'? doesn't allow an argument"
        err=$(cd "$T" && timeout 10 "$p" "$o=1" --no-such-option-zz 2>&1 < /dev/null || true)
        if grep -qE -- "$unknown" <<< "$err"; then
            err=$(cd "$T" && timeout 10 "$p" "$o" --no-such-option-zz 2>&1 < /dev/null || true)
            ! grep -qE -- "(unrecognized|unknown) option '?$o([=' ]|$)" <<< "$err" ||
                fail "$n: --help lists $o but $n does not accept it: $err"
        fi
        grep -q -- "no-such-option-zz\|$o" <<< "$err" ||
            fail "$n $o=1 --no-such-option-zz: no error naming either: $err"
    done < "$T/help.opts"
    # Renders without a warning.
    warn=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
    [ -z "$warn" ] || fail "groff warns on $page: $warn"
    if command -v man > /dev/null; then
        warn=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 > /dev/null)
        [ -z "$warn" ] || fail "man -l warns on $page: $warn"
    fi
    if command -v mandoc > /dev/null; then
        warn=$(mandoc -T lint -W warning "$page" 2>&1)
        [ -z "$warn" ] || fail "mandoc -T lint on $page: $warn"
    fi
done
command -v man > /dev/null && renderers+=("man -l")
command -v mandoc > /dev/null && renderers+=("mandoc")
pass "--help and man pages agree (both directions) for ${programs[*]}; rendered by ${renderers[*]}"

# ---- (c) the systemd units
# One setting of a unit file ("" when absent; every line when repeated).
setting() { sed -n "s/^$2=//p" "$1"; }
real=$T/prefix
cmake --install "$VMCA_BUILD" --prefix "$real" > "$T/install2.log" 2>&1 ||
    { cat "$T/install2.log"; fail "cmake --install --prefix $real"; }
for u in "${UNITS[@]}"; do
    for r in "$root" "$real"; do
        want=$prefix; [ "$r" = "$real" ] && want=$real
        f=$r/lib/systemd/system/$u
        d=${u%%[@.]*}
        exec_start=$(setting "$f" ExecStart)
        case "$exec_start" in
            "$want/sbin/$d --config \${VMCA_CONFIG} "*) ;;
            *) fail "$u (prefix $want): ExecStart=$exec_start, expected $want/sbin/$d --config \${VMCA_CONFIG} ..." ;;
        esac
    done
    f=$real/lib/systemd/system/$u
    d=${u%%[@.]*}
    # Type=notify exactly when the daemon speaks sd_notify.
    type=$(setting "$f" Type)
    if grep -qa -e sd_notify -e NOTIFY_SOCKET "$real/sbin/$d"; then
        [ "$type" = notify ] || fail "$u: $d uses sd_notify but Type=$type"
    else
        [ "$type" = simple ] || fail "$u: $d does not use sd_notify, Type=$type (expected simple)"
    fi
    [ "$(setting "$f" Restart)" = on-failure ] || fail "$u: Restart=$(setting "$f" Restart)"
    rs=$(setting "$f" RestartSec)
    [[ "$rs" =~ ^[1-9][0-9]*s$ ]] || fail "$u: RestartSec='$rs', expected whole seconds"
    [ "$(setting "$f" RestartPreventExitStatus)" = 2 ] ||
        fail "$u: a bad command line (exit 2) must not restart"
    grep -qx "Environment=VMCA_CONFIG=/etc/vmca/vmca.conf" "$f" || fail "$u: no default VMCA_CONFIG"
    grep -qx "EnvironmentFile=-/etc/vmca/vmca.env" "$f" || fail "$u: no optional /etc/vmca/vmca.env"
    grep -qx "Documentation=man:$d(8)" "$f" || fail "$u: Documentation is not man:$d(8)"
    grep -qx "WantedBy=multi-user.target" "$f" || fail "$u: not WantedBy=multi-user.target"
    case "$u" in
        *@.service) case "$(setting "$f" ExecStart)" in *" --node %i"*) ;; *) fail "$u: the instance is not the --node" ;; esac ;;
    esac
done
slave=$real/lib/systemd/system/vmca-slave@.service
setting "$slave" Requires | grep -qw 'vmca-hv@%i.service' || fail "vmca-slave@: does not require its vmca-hv@%i"
setting "$slave" After | grep -qw 'vmca-hv@%i.service' || fail "vmca-slave@: not ordered after its vmca-hv@%i"
setting "$slave" After | grep -qw 'network-online.target' || fail "vmca-slave@: not after network-online.target"
setting "$slave" Wants | grep -qw 'network-online.target' || fail "vmca-slave@: does not want network-online.target"
setting "$slave" BindsTo | grep -q . && fail "vmca-slave@: BindsTo would stop the slave at every hypervisor restart"
# The stop timeout covers the slave's default leave timeout (60 s, its --help).
leave=$("$real/sbin/vmca-slave" --help | sed -n 's/.*--leave-timeout S .*(default \([0-9]*\).*/\1/p')
[ -n "$leave" ] || fail "vmca-slave --help gives no default --leave-timeout"
stop=$(setting "$slave" TimeoutStopSec); stop=${stop%s}
[[ "$stop" =~ ^[0-9]+$ ]] && [ "$stop" -gt "$leave" ] ||
    fail "vmca-slave@: TimeoutStopSec=${stop}s does not exceed the ${leave} s leave timeout"
master=$real/lib/systemd/system/vmca-master.service
setting "$master" After | grep -qw 'network-online.target' || fail "vmca-master: not after network-online.target"
if command -v systemd-analyze > /dev/null; then
    # Every warning counts (systemd-analyze exits 0 on an unknown key); the
    # man pages of Documentation= are looked up in the real prefix.
    out=$(cd "$real/lib/systemd/system" && MANPATH=$real/share/man \
          systemd-analyze verify "${UNITS[@]/#/./}" 2>&1) || fail "systemd-analyze verify: $out"
    [ -z "$out" ] || fail "systemd-analyze verify warns: $out"
    pass "units: settings checked, systemd-analyze verify clean"
else
    pass "units: settings checked (systemd-analyze not installed: no verify)"
fi

# The Makefile's install passes DESTDIR and PREFIX to cmake --install.
line=$(make -s -n -C "$VMCA_SOURCE" install BUILD="$VMCA_BUILD" DESTDIR=/d PREFIX=/p 2>/dev/null |
       grep -- 'cmake --install' || true)
[ "$line" = "DESTDIR=\"/d\" cmake --install $VMCA_BUILD --prefix \"/p\"" ] ||
    fail "make install runs '$line'"
pass "make install honours DESTDIR and PREFIX"
