#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in a build directory outside the
# source tree and runs each one on its seed corpus for a while.
#
# Usage: tests/fuzz/run.sh [SECONDS-PER-TARGET [TARGET...]]
#   SECONDS defaults to 30; TARGETS to import validate classify callback.
# Env: AB_FUZZ_BUILD   build directory (default /tmp/authbatch-fuzz-build)
#      AB_FUZZ_KEEP    if set, new inputs are merged into that directory
#                      (otherwise they go to a temporary one and are dropped)
# Exit status: 0 no crash; 1 a target crashed (the input is kept under
# $AB_FUZZ_BUILD/artifacts/ and printed); 77 clang or libFuzzer missing.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-30}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(import validate classify callback)
build=${AB_FUZZ_BUILD:-/tmp/authbatch-fuzz-build}
case "$build" in
"$src" | "$src"/src* | "$src"/tests* | "$src"/schema* | "$src"/scripts*)
    echo "fuzz: refusing to build inside the sources: $build" >&2
    exit 64 ;;
esac

if ! command -v clang >/dev/null; then
    echo "fuzz: clang not installed (Debian: clang libclang-rt-14-dev)" >&2
    exit 77
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}\n' >"$probe/p.c"
if ! clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" 2>/dev/null; then
    echo "fuzz: clang cannot link -fsanitize=fuzzer (Debian: libclang-rt-14-dev)" >&2
    exit 77
fi

cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DAB_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" \
    --target "${targets[@]/#/fuzz_}" >/dev/null

mkdir -p "$build/artifacts"
status=0
for t in "${targets[@]}"; do
    work=${AB_FUZZ_KEEP:-$probe/corpus_$t}
    mkdir -p "$work"
    log="$build/fuzz_$t.log"
    echo "fuzz: $t for ${secs}s (log $log)"
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    if "$build/tests/fuzz/fuzz_$t" "$work" "$src/tests/fuzz/corpus_$t" \
        -max_total_time="$secs" -max_len=65536 -timeout=20 -rss_limit_mb=2048 \
        -artifact_prefix="$build/artifacts/$t-" -print_final_stats=1 \
        >"$log" 2>&1; then
        grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units)' "$log" |
            tail -n 2 || true
    else
        status=1
        echo "FAIL: fuzz_$t crashed; last lines of $log:" >&2
        tail -n 40 "$log" >&2
        ls -1 "$build/artifacts/$t-"* 2>/dev/null >&2 || true
    fi
done
exit $status
