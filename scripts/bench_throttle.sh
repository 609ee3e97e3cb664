#!/usr/bin/env bash
# Throttle benchmark (issue 11): the real authbatch binary against the
# sandbox's hidden rate limit, for each server model (fixed / sliding
# window) x signal (code 11990006 / HTTP 429 + Retry-After: 1) x limit (30,
# 100, 500 req/s), plus --rate 0 --concurrency 8, a rising and a falling
# limit. Figures come from the sandbox's own counters (/__stats.limit,
# per wall-clock second): goodput = accepted per second / the limit in force
# that second; throttled share = throttled / (accepted + throttled).
#
#   scripts/bench_throttle.sh            (scripts/bench.sh calls it)
#
# Prints a Markdown section and writes it into BENCHMARKS.md between
# <!-- bench-throttle:begin --> and <!-- bench-throttle:end -->.
# Knobs (environment): AUTHBATCH, QYS_SANDBOX (binaries; default: a Release
# build in build-bench/), THROTTLE_SECS (45: each steady run), THROTTLE_SKIP
# (15: seconds not counted at the start of a steady run), THROTTLE_CHANGE_SECS
# (50: the rising and falling runs; the limit changes 15 s in),
# THROTTLE_WRITE (1; 0 leaves BENCHMARKS.md alone), THROTTLE_ONLY (a regex
# over the case names, e.g. 'fixed code 100', to run some cases only).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${THROTTLE_SECS:-45}
skip=${THROTTLE_SKIP:-15}
change_secs=${THROTTLE_CHANGE_SECS:-50}
change_at=15
write=${THROTTLE_WRITE:-1}
only=${THROTTLE_ONLY:-}
export QYS_ACCESS_TOKEN=bench-token QYS_ACCESS_SECRET=bench-secret

log() { echo "bench_throttle: $*" >&2; }

if [[ -z "${AUTHBATCH:-}" || -z "${QYS_SANDBOX:-}" ]]; then
    log "building build-bench (Release)"
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build-bench -j "$(nproc)" --target authbatch qys-sandbox >/dev/null
    AUTHBATCH=${AUTHBATCH:-$PWD/build-bench/authbatch}
    QYS_SANDBOX=${QYS_SANDBOX:-$PWD/build-bench/qys-sandbox}
fi
for tool in jq sqlite3; do
    command -v "$tool" >/dev/null || { log "needs $tool (scripts/deps.sh)"; exit 1; }
done

work=$(mktemp -d)
sbx_pid=
cleanup() {
    [[ -z "$sbx_pid" ]] || kill "$sbx_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# make_db FILE N: N pending companies.
make_db() {
    rm -f "$1" "$1"-wal "$1"-shm
    "$AUTHBATCH" --db "$1" init >/dev/null 2>&1
    sqlite3 "$1" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1
        FROM n WHERE i < $2)
      INSERT INTO companies (company_name, applicant_name, applicant_contact,
        applicant_contact_type)
      SELECT printf('限流测试有限公司%07d', i), '李四',
        printf('139%08d', i), 'MOBILE' FROM n"
}

# start_sandbox ARGS...: sets sbx_url once the socket accepts connections.
start_sandbox() {
    local fifo=$work/sbx.fifo line
    rm -f "$fifo"
    mkfifo "$fifo"
    "$QYS_SANDBOX" --port 0 --token "$QYS_ACCESS_TOKEN" \
        --secret "$QYS_ACCESS_SECRET" "$@" >"$fifo" 2>>"$work/sandbox.err" &
    sbx_pid=$!
    exec {sbx_fd}<"$fifo"
    IFS= read -r -t 20 line <&"$sbx_fd" || { log "sandbox did not start"; exit 1; }
    sbx_url=${line#listening on }
}
stop_sandbox() {
    kill "$sbx_pid"
    wait "$sbx_pid" || true
    sbx_pid=
    exec {sbx_fd}<&-
}

# one_run SECONDS LIMIT RUN-OPTIONS -- SANDBOX-OPTIONS: a fresh database with
# enough companies for the whole run, the sandbox, authbatch for SECONDS;
# leaves the sandbox's stats in $work/stats.json.
one_run() {
    local t=$1 lim=$2 run_opts=() sbx_opts=()
    shift 2
    while (($#)) && [[ $1 != -- ]]; do run_opts+=("$1"); shift; done
    shift
    sbx_opts=("$@")
    make_db "$work/t.db" $((lim * (t + 10) * 2))
    start_sandbox "${sbx_opts[@]}"
    "$AUTHBATCH" --db "$work/t.db" -q run --progress none --base-url "$sbx_url" \
        --max-runtime "${t}s" "${run_opts[@]}" >/dev/null 2>>"$work/run.err" || true
    curl -fs "$sbx_url/__stats" >"$work/stats.json"
    stop_sandbox
}

# steady FROM [TO]: "goodput throttled_share max_second seconds" over the
# run's seconds [FROM, TO) counted from its first decided second (the last,
# partial second is never counted).
steady() {
    jq -r --argjson from "$1" --argjson to "${2:-100000}" '
        .limit.per_second | to_entries | map(.key |= tonumber) | sort_by(.key)
        | .[0].key as $t0 | .[0:-1]
        | map(select(.key - $t0 >= $from and .key - $t0 < $to))
        | (map(.value[0]) | add) as $a | (map(.value[1]) | add) as $r
        | (map(.value[0] / .value[2]) | add / length) as $g
        | "\($g) \(if $a + $r > 0 then $r / ($a + $r) else 0 end) \(map(.value[0]) | max) \(length)"
    ' "$work/stats.json"
}

# reach FROM SHARE: seconds from FROM until accepted over three seconds first
# averages SHARE of the limit then in force (-1: never).
reach() {
    jq -r --argjson from "$1" --argjson share "$2" '
        .limit.per_second | to_entries | map(.key |= tonumber) | sort_by(.key)
        | .[0].key as $t0 | .[0:-1] | map(.value + [.key - $t0])
        | [range(0; length - 2) as $i | .[$i:$i + 3]
           | select(.[0][3] >= $from)
           | select((map(.[0]) | add) >= $share * (map(.[2]) | add))
           | .[0][3] - $from] | (.[0] // -1)
    ' "$work/stats.json"
}

pct() { awk -v v="$1" 'BEGIN { printf "%.2f %%", 100 * v }'; }
ratio() { awk -v v="$1" 'BEGIN { printf "%.3f", v }'; }
met() { if awk "BEGIN { exit !($1) }"; then echo met; else echo "**missed**"; fi; }
want() { [[ -z "$only" ]] || grep -Eq -- "$only" <<<"$1"; }

rows=()
for window in fixed sliding; do
    for signal in code 429; do
        for lim in 30 100 500; do
            name="$window $signal $lim"
            want "$name" || continue
            rate=$((lim * 4 > 400 ? lim * 4 : 400))
            log "$name: --rate $rate --concurrency 32, ${secs}s"
            one_run "$secs" "$lim" --rate "$rate" --concurrency 32 -- \
                --limit-rps "$lim" --limit-window "$window" \
                --limit-signal "$signal" --limit-retry-after 1
            read -r g thr mx n < <(steady "$skip")
            rows+=("| $window | $signal | $lim | --rate $rate -c 32 | $(ratio "$g") | $(pct "$thr") | $mx | $n s | $(met "$g >= 0.9 && $thr <= 0.02") |")
        done
    done
done
for case in "fixed code" "sliding 429"; do
    name="$case 100 unlimited"
    want "$name" || continue
    read -r window signal <<<"$case"
    log "$name: --rate 0 --concurrency 8, ${secs}s"
    one_run "$secs" 100 --rate 0 --concurrency 8 -- --limit-rps 100 \
        --limit-window "$window" --limit-signal "$signal" --limit-retry-after 1
    read -r g thr mx n < <(steady "$skip")
    rows+=("| $window | $signal | 100 | --rate 0 -c 8 | $(ratio "$g") | $(pct "$thr") | $mx | $n s | $(met "$g >= 0.9 && $thr <= 0.02") |")
done

changes=()
for window in fixed sliding; do
    for signal in code 429; do
        name="$window $signal rising"
        if want "$name"; then
            log "$name: 100 -> 200/s at ${change_at}s, ${change_secs}s"
            one_run "$change_secs" 200 --rate 400 --concurrency 32 -- \
                --limit-rps 100 --limit-schedule "$change_at:200" \
                --limit-window "$window" --limit-signal "$signal"
            took=$(reach "$change_at" 0.9)
            read -r g thr _ _ < <(steady $((change_at + 20)))
            changes+=("| $window | $signal | 100 → 200/s | 0.9 of the new limit after $took s | $(ratio "$g") from $((change_at + 20)) s on | $(pct "$thr") | $(met "$took >= 0 && $took <= 30") |")
        fi
        name="$window $signal falling"
        if want "$name"; then
            log "$name: 200 -> 100/s at ${change_at}s, ${change_secs}s"
            one_run "$change_secs" 200 --rate 400 --concurrency 32 -- \
                --limit-rps 200 --limit-schedule "$change_at:100" \
                --limit-window "$window" --limit-signal "$signal"
            read -r _ thr30 _ _ < <(steady "$change_at" $((change_at + 30)))
            read -r g thr _ _ < <(steady $((change_at + 10)))
            changes+=("| $window | $signal | 200 → 100/s | throttled $(pct "$thr30") in the 30 s after | $(ratio "$g") from $((change_at + 10)) s on | $(pct "$thr") | $(met "$thr30 <= 0.05") |")
        fi
    done
done

version=$("$AUTHBATCH" --version | awk '{ print $2 }')
load=$(cut -d' ' -f1-3 /proc/loadavg)
section=$(
    echo "<!-- bench-throttle:begin -->"
    echo "## Finding the vendor's limit (scripts/bench_throttle.sh)"
    echo
    echo "Written by \`scripts/bench_throttle.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); load average before the last run: $load ($(nproc) CPUs)."
    echo
    echo "- authbatch $version \`run --rate R --concurrency C --max-runtime ${secs}s\` against \`qys-sandbox --limit-rps L --limit-window W --limit-signal S --limit-retry-after 1\` on loopback; a fresh database of 2 × L × (run + 10 s) companies each run"
    echo "- figures from the sandbox's counters (\`/__stats\` \`limit.per_second\`: accepted, throttled and the limit in force, per wall-clock second): goodput = mean of accepted / limit per second; throttled share = throttled / (accepted + throttled); steady state = from second $skip of the run to its last whole second"
    echo
    echo "| window | signal | limit (req/s) | run | goodput / hidden limit | throttled share | busiest second | seconds counted | goal (≥ 0.9, ≤ 2 %) |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Changing limits (\`--limit-schedule ${change_at}:N\`, ${change_secs} s runs, \`--rate 400 --concurrency 32\`; reach = first second from which three seconds average 0.9 of the new limit):"
    echo
    echo "| window | signal | change | after the change | goodput / limit later | throttled later | goal |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${changes[@]}"
    echo "<!-- bench-throttle:end -->"
)
echo "$section"
if [[ $write == 1 && -z "$only" ]]; then
    python3 - BENCHMARKS.md "$section" <<'EOF'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
pat = re.compile(r"<!-- bench-throttle:begin -->.*?<!-- bench-throttle:end -->", re.S)
if pat.search(text):
    text = pat.sub(lambda m: section, text, count=1)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w", encoding="utf-8").write(text)
EOF
    log "wrote BENCHMARKS.md"
fi
