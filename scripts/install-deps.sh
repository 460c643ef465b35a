#!/usr/bin/env bash
# Installs the Debian packages vMCA builds and tests with, only those missing.
# As root it runs apt-get; otherwise it prints the exact command and exits 1.
set -euo pipefail

PKGS=(gcc make cmake pkg-config openssl libssl-dev libevent-dev
      libprotobuf-c-dev protobuf-c-compiler libconfig-dev libxen-dev
      libcmocka-dev iproute2 procps python3 gnuplot-nox curl prometheus
      groff-base man-db sqlite3 redis-server redis-tools)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run as root: apt-get update && $cmd" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
$cmd
