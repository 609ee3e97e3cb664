#!/usr/bin/env bash
# The libFuzzer targets (tests/fuzz/) briefly, so a regression in the CSV
# import path, row validation, the response classifier or the callback
# parser surfaces in CI:
# builds them with clang under the build tree and runs each for
# AB_FUZZ_SECONDS (default 10) on its seed corpus. Skips when clang or
# libFuzzer is missing (scripts/test.sh installs clang libclang-rt-14-dev).
# Env: AB_SOURCE_DIR; optional AB_FUZZ_BUILD, AB_FUZZ_SECONDS.
set -euo pipefail

src=${AB_SOURCE_DIR:?set AB_SOURCE_DIR to the source tree}
# Under the ctest build directory when we can tell where it is; both the
# normal and the ASan suite may run this at once, so one directory each.
if [[ -z "${AB_FUZZ_BUILD:-}" ]]; then
    base=$(dirname "${AUTHBATCH:-/tmp/x}")
    [[ -d "$base" && "$base" != "$src" ]] || base=/tmp
    export AB_FUZZ_BUILD="$base/fuzz-build"
fi
rc=0
bash "$src/tests/fuzz/run.sh" "${AB_FUZZ_SECONDS:-10}" || rc=$?
if ((rc == 77)); then
    echo "skip: clang/libFuzzer not available"
    exit 0
fi
exit $rc
