#!/usr/bin/env bash
# The test command: installs what is missing, then builds and runs the whole
# ctest suite twice, once normally and once under AddressSanitizer +
# UndefinedBehaviorSanitizer.
# Usage: scripts/test.sh [ctest arguments, e.g. -R e2e_]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh clang clang-format libclang-rt-14-dev prometheus libxml2-utils chromium time \
    fonts-noto-cjk

jobs=$(nproc 2>/dev/null || echo 2)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
for variant in build build-asan; do
    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
    [ "$variant" = build-asan ] && args+=(-DAB_SANITIZE=address,undefined)
    echo "== $variant: configure and build" >&2
    cmake -S . -B "$variant" "${args[@]}" >/dev/null
    cmake --build "$variant" -j "$jobs" >/dev/null
    echo "== $variant: test" >&2
    if ! ctest --test-dir "$variant" --output-on-failure -j "$jobs" "$@"; then
        status=1
    fi
done
exit $status
