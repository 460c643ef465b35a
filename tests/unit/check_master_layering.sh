#!/usr/bin/env bash
# The master must not depend on the emulator: no source under master/
# includes a header of hv-ext/emu (fencing goes through common/fence.h).
set -euo pipefail
src=${1:?usage: check_master_layering.sh SOURCE_DIR}
headers=$(cd "$src/hv-ext/emu" && ls *.h)
pattern=$(printf '%s\n' $headers | sed 's/\./\\./g' | paste -sd'|')
bad=$(grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]([^\">]*/)?($pattern)[\">]" \
      "$src/master" --include='*.c' --include='*.h' || true)
if [ -n "$bad" ]; then
    echo "master/ includes emulator headers:"
    echo "$bad"
    exit 1
fi
echo "master/: no emulator header included"
