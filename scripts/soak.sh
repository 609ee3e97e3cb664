#!/usr/bin/env bash
# Soak: a long run against qys-sandbox with 20% mixed faults, under
# AddressSanitizer + UndefinedBehaviorSanitizer (leak detection on), then a
# smaller one under valgrind --leak-check=full. Asserts: exit 0, every
# company done with a ticket the sandbox issued for it, no sanitizer or
# valgrind report, integrity_check ok. Prints the figures as Markdown.
# Not part of ctest (the full size takes a long while).
#
# Usage: scripts/soak.sh [COMPANIES [VALGRIND-COMPANIES]]
#        (default 100000 and 2000; 0 skips a part)
# Env: SOAK_ASAN_BUILD, SOAK_BUILD  build directories (default
#        /tmp/authbatch-soak-asan, /tmp/authbatch-soak); SOAK_CONCURRENCY (32).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
n_asan=${1:-100000}
n_vg=${2:-2000}
asan=${SOAK_ASAN_BUILD:-/tmp/authbatch-soak-asan}
plain=${SOAK_BUILD:-/tmp/authbatch-soak}
conc=${SOAK_CONCURRENCY:-32}
for t in sqlite3 jq curl; do
    command -v $t >/dev/null || { echo "soak: needs $t" >&2; exit 1; }
done

echo "soak: building $plain and $asan" >&2
cmake -S . -B "$plain" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$plain" -j "$(nproc)" --target authbatch qys-sandbox >/dev/null
cmake -S . -B "$asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DAB_SANITIZE=address,undefined >/dev/null
cmake --build "$asan" -j "$(nproc)" --target authbatch >/dev/null
SANDBOX=$plain/qys-sandbox

work=$(mktemp -d)
SBX=
cleanup() {
    [[ -z "$SBX" ]] || kill -KILL "$SBX" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export QYS_ACCESS_TOKEN=soak-token QYS_ACCESS_SECRET=soak-secret
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
bad() { echo "soak: FAIL: $*" >&2; status=1; }

# 20% of requests faulted: 5xx 7%, reset 5%, slow 2%, garbage 5.8%,
# throttle code 0.1%, HTTP 429 0.1%. Throttles pause the whole dispatcher
# (by design), so they are kept rare or a 100k run would mostly wait.
FAULTS=(--fault-5xx 0.07 --fault-reset 0.05 --fault-slow 0.02 --slow-ms 500
    --fault-garbage 0.058 --fault-throttle 0.001 --fault-429 0.001
    --retry-after 1)

start_sandbox() {
    local fifo=$work/sbx.fifo line
    mkfifo "$fifo"
    "$SANDBOX" --port 0 --seed 99 "${FAULTS[@]}" --latency-ms 2 \
        --jitter-ms 8 >"$fifo" 2>"$work/sandbox.err" &
    SBX=$!
    exec {SFD}<"$fifo"
    rm -f "$fifo"
    IFS= read -r -t 20 line <&"$SFD" || { echo "soak: sandbox did not start" >&2; exit 1; }
    URL=${line#listening on }
}
stop_sandbox() {
    kill -TERM "$SBX"
    wait "$SBX" || true
    SBX=
    exec {SFD}<&-
}

# soak NAME COMPANIES -- LAUNCHER...: one import + run, checks, a table row.
soak() {
    local name=$1 n=$2 db csv t0 t1 rc=0 secs
    shift 3
    db=$work/$name.db csv=$work/$name.csv
    awk -v n="$n" -v p="$name" 'BEGIN { print "companyName,applicantContact"
        for (i = 1; i <= n; i++) printf "Soak %s Co %07d,1380%07d\n", p, i, i }' >"$csv"
    start_sandbox
    echo "soak: $name: $n companies, launcher: ${*:-none}" >&2
    t0=$(date +%s.%N)
    "$@" "$AB" --db "$db" -q import "$csv" 2>"$work/$name.import.err" || rc=$?
    ((rc == 0)) || bad "$name: import exit $rc: $(tail -5 "$work/$name.import.err")"
    rc=0
    "$@" "$AB" --db "$db" run --base-url "$URL" --rate 0 --concurrency "$conc" \
        --max-attempts 30 --retry-base-ms 50 --retry-max-ms 1000 --timeout 10 \
        --progress log 2>"$work/$name.run.err" || rc=$?
    t1=$(date +%s.%N)
    secs=$(echo "$t1 - $t0" | bc)
    ((rc == 0)) || bad "$name: run exit $rc: $(tail -5 "$work/$name.run.err")"
    if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:|ERROR SUMMARY: [1-9]|definitely lost: [1-9]|indirectly lost: [1-9]' \
        "$work/$name".*.err; then
        bad "$name: sanitizer/valgrind report:"
        grep -E -A5 'AddressSanitizer|LeakSanitizer|runtime error:|ERROR SUMMARY|lost:' "$work/$name".*.err | head -40 >&2
    fi
    curl -sS "$URL/__stats" >"$work/$name.stats.json"
    curl -sS "$URL/__ledger" | jq -r '.tickets[] | [.company, .ticket] | @tsv' | sort >"$work/$name.ledger"
    stop_sandbox
    local done_n ic notin leaks
    done_n=$(sqlite3 "$db" "SELECT count(*) FROM companies WHERE status = 'done' AND ticket IS NOT NULL")
    ic=$(sqlite3 "$db" 'PRAGMA integrity_check')
    notin=$(sqlite3 -separator $'\t' "$db" 'SELECT company_name, ticket FROM companies' | sort |
        comm -13 "$work/$name.ledger" - | wc -l)
    [[ "$done_n" == "$n" ]] || bad "$name: $done_n of $n done"
    [[ "$ic" == ok ]] || bad "$name: integrity_check: $ic"
    [[ "$notin" == 0 ]] || bad "$name: $notin stored tickets not in the ledger"
    leaks="no ASan/LSan/UBSan report"
    if grep -q 'ERROR SUMMARY' "$work/$name".run.err; then
        leaks=$(grep -h -E 'definitely lost|indirectly lost|no leaks are possible|ERROR SUMMARY' \
            "$work/$name".*.err | sed -e 's/^==[0-9]*== *//' -e 's/ (suppressed.*//' |
            sort | uniq -c | sed 's/^ *//' | tr '\n' ';')
    fi
    local s=$work/$name.stats.json
    printf '| %s | %d | %s s | %s | %d of %d done, integrity %s, %d tickets not in ledger | %s | %s | %s | %s |\n' \
        "$name" "$n" "$(printf '%.0f' "$secs")" "$(jq .requests "$s")" "$done_n" "$n" "$ic" "$notin" \
        "$(jq -r '.faults | to_entries | map("\(.key) \(.value)") | join(", ")' "$s")" \
        "$(jq '[.faults[]] | add' "$s")" "$(jq .tickets "$s")" "$leaks"
    grep -E 'progress: .*finished|^authbatch: run:' "$work/$name.run.err" | tail -2 >&2
}

echo "| build | companies | wall (import + run) | requests | result | faults by class | faults total | tickets issued | leaks / errors |"
echo "|---|---|---|---|---|---|---|---|---|"
if ((n_asan > 0)); then
    AB=$asan/authbatch
    soak asan "$n_asan" --
fi
if ((n_vg > 0)); then
    command -v valgrind >/dev/null || scripts/deps.sh valgrind
    AB=$plain/authbatch
    soak valgrind "$n_vg" -- valgrind --leak-check=full --error-exitcode=1 \
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
fi
exit $status
