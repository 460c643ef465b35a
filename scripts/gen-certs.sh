#!/usr/bin/env bash
# Makes a throw-away cluster CA and one key + certificate per node, with the
# openssl CLI. Certificates carry the node name as CN (the identity vMCA
# checks) and as a DNS subjectAltName, and allow both TLS client and server use.
#
#   gen-certs.sh --config FILE [--out DIR] [--days N]
#   gen-certs.sh --out DIR NAME...
#   gen-certs.sh --help | --version
#
# With --config the node names are read from FILE's nodes list and DIR
# defaults to the certs_dir the file uses (default "certs" beside the file).
# Files: DIR/ca.crt, DIR/ca.key, DIR/NAME.crt, DIR/NAME.key (keys mode 0600).
# An existing CA in DIR is reused, so certificates can be added later.
set -euo pipefail

# Installed as vmca-gen-certs (CMake fills in the version; from the source
# tree it is read from the CMakeLists.txt beside the script's directory).
prog=$(basename "$0" .sh)
version="@PROJECT_VERSION@"
case "$version" in
    @*) version=$(sed -n 's/^project(vmca VERSION \([0-9.]*\).*/\1/p' \
                  "$(dirname "$0")/../CMakeLists.txt" 2>/dev/null) ;;
esac
usage() { sed -n '2,13p' "$0" | sed -e 's/^# \{0,1\}//' -e "s/gen-certs\.sh/$prog/g"; }
die() { echo "$prog: $*" >&2; exit 2; }

config= out= days=825 names=()
while [ $# -gt 0 ]; do
    case "$1" in
        --config=*|--out=*|--days=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
        --config) [ $# -ge 2 ] || die "--config needs a file"; config=$2; shift 2 ;;
        --out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift 2 ;;
        --days) [ $# -ge 2 ] || die "--days needs a number"; days=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -V|--version) [ -n "$version" ] || die "version unknown (no CMakeLists.txt beside $0)"
                      echo "$prog $version"; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) names+=("$1"); shift ;;
    esac
done
[[ "$days" =~ ^[1-9][0-9]*$ ]] || die "--days: expected a positive number, got '$days'"

if [ -n "$config" ]; then
    [ -r "$config" ] || die "cannot read $config"
    # Only node entries have a `name` setting in a vMCA configuration.
    mapfile -t cfg_names < <(sed -e 's/#.*//' -e 's|//.*||' "$config" |
        grep -o '\bname[[:space:]]*[=:][[:space:]]*"[^"]*"' | sed 's/.*"\(.*\)"/\1/')
    names+=("${cfg_names[@]}")
    if [ -z "$out" ]; then
        dir=$(sed -n 's/^[[:space:]]*certs_dir[[:space:]]*[=:][[:space:]]*"\([^"]*\)".*/\1/p' "$config" | head -n1)
        dir=${dir:-certs}
        case "$dir" in /*) out=$dir ;; *) out=$(dirname "$config")/$dir ;; esac
    fi
fi
[ -n "$out" ] || die "give --out DIR or --config FILE"
[ ${#names[@]} -gt 0 ] || die "no node names given"
for n in "${names[@]}"; do
    [[ "$n" =~ ^[A-Za-z0-9._-]{1,63}$ ]] || die "bad node name '$n'"
done

mkdir -p "$out"
umask 077
if [ ! -s "$out/ca.key" ] || [ ! -s "$out/ca.crt" ]; then
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$out/ca.key" -out "$out/ca.crt" -days "$days" \
        -subj "/CN=vmca-cluster-ca" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi
ext=$(mktemp)
trap 'rm -f "$ext" "$out"/*.csr' EXIT
for n in "${names[@]}"; do
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$out/$n.key" -out "$out/$n.csr" -subj "/CN=$n" 2>/dev/null
    cat > "$ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:$n
EXT
    openssl x509 -req -in "$out/$n.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
        -CAcreateserial -out "$out/$n.crt" -days "$days" -extfile "$ext" 2>/dev/null
    chmod 644 "$out/$n.crt"
done
chmod 644 "$out/ca.crt"
echo "$prog: CA and ${#names[@]} node certificate(s) in $out"
