#!/usr/bin/env bash
# libhvx must be embeddable in a hypervisor: the only outside symbols it may
# use are the compiler's memory primitives (sanitizer hooks aside).
set -euo pipefail
lib=$1
undef=$(nm -u "$lib" | awk '{print $2}' | sort -u |
        grep -Ev '^(memcpy|memset|memmove|memcmp|__asan_.*|__ubsan_.*|__sanitizer_.*|_GLOBAL_OFFSET_TABLE_)$' || true)
# Symbols defined inside the library are not outside dependencies.
defined=$(nm --defined-only "$lib" | awk 'NF==3 {print $3}' | sort -u)
bad=$(comm -23 <(echo "$undef" | sed '/^$/d') <(echo "$defined"))
if [ -n "$bad" ]; then
    echo "libhvx uses outside symbols: $bad"
    exit 1
fi
echo "libhvx: no outside symbols beyond memory primitives"
