#!/usr/bin/env bash
# Callback receiver benchmark: accepted callbacks per second on loopback and
# the receiver's peak RSS.
#
# `authbatch callbacks` on a database of BENCH_CB_COMPANIES companies with
# tokens; wrk posts vendor-shaped form callbacks (status, requestId,
# actionEvent, a URL-encoded authInfo), cycling through every company's
# <id>/<token> with a fresh requestId each time, so every request is a new
# observation: an event row, the company updated, committed with
# synchronous = FULL before the 200. Medians of BENCH_RUNS runs; checks that
# every answer was a 200 and that the database holds one event per answer.
#
# Usage: scripts/bench_callbacks.sh
# Env: AUTHBATCH (binary; default: builds build-bench/authbatch, Release),
#      BENCH_RUNS (3), BENCH_CB_SECS (10), BENCH_CB_CONNS (64),
#      BENCH_CB_COMPANIES (10000), BENCH_WRITE (1: write the section of
#      BENCHMARKS.md between <!-- bench-callbacks:begin/end -->; 0: print).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

runs=${BENCH_RUNS:-3}
secs=${BENCH_CB_SECS:-10}
conns=${BENCH_CB_CONNS:-64}
companies=${BENCH_CB_COMPANIES:-10000}
write=${BENCH_WRITE:-1}
log() { echo "bench_callbacks: $*" >&2; }

command -v wrk >/dev/null || scripts/deps.sh wrk
if [[ -z "${AUTHBATCH:-}" ]]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build-bench -j "$(nproc)" --target authbatch >/dev/null
    AUTHBATCH=$root/build-bench/authbatch
fi
ab=$AUTHBATCH

work=$(mktemp -d)
pid=
cleanup() {
    [[ -z "$pid" ]] || kill -KILL "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# The fixture: companies with tokens, inserted directly.
"$ab" --db "$work/base.db" init >/dev/null 2>&1
sqlite3 "$work/base.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL
    SELECT i + 1 FROM n WHERE i < $companies)
  INSERT INTO companies (id, company_name, applicant_contact, callback_token)
  SELECT i, printf('示例科技有限公司%07d', i), printf('138%08d', i),
    printf('tok%019d', i) FROM n;
  PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null

# wrk: POST /qys/callback/<id>/<token>, ids in turn (each thread its own
# offset), a requestId unique per request.
authinfo='%7B%22name%22%3A%22%E7%A4%BA%E4%BE%8B%E7%A7%91%E6%8A%80%E6%9C%89%E9%99%90%E5%85%AC%E5%8F%B8%22%2C%22applicantName%22%3A%22%E6%9D%8E%E5%9B%9B%22%2C%22applicantPhone%22%3A%2213800000001%22%7D'
cat >"$work/cb.lua" <<EOF
local n = $companies
local authinfo = "$authinfo"
local threads = 0
local i = 0
function setup(thread)
    thread:set("tid", threads)
    threads = threads + 1
end
function init(args)
    i = (tid or 0) * 7919
end
function request()
    i = i + 1
    local id = (i % n) + 1
    local path = string.format("/qys/callback/%d/tok%019d", id, id)
    local body = string.format(
        "status=%d&requestId=B%d-%d&actionEvent=%d&authInfo=%s",
        i % 2, tid or 0, i, (i % 2) * 7, authinfo)
    return wrk.format("POST", path,
        {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
EOF

rps=() rss=() per_commit=()
for ((r = 1; r <= runs; r++)); do
    rm -f "$work"/run.db*
    cp "$work/base.db" "$work/run.db"
    fifo=$work/fifo
    rm -f "$fifo"
    mkfifo "$fifo"
    "$ab" --db "$work/run.db" -q callbacks --listen 127.0.0.1:0 \
        --max-connections 1024 --metrics-file "$work/cb.prom" \
        >"$fifo" 2>"$work/recv.err" &
    pid=$!
    exec {fd}<"$fifo"
    IFS= read -r -t 20 line <&"$fd" || { log "receiver did not start"; cat "$work/recv.err" >&2; exit 1; }
    url=${line#listening on }
    log "run $r/$runs: wrk -t1 -c$conns -d${secs}s against $url"
    wrk -t1 -c"$conns" -d"${secs}s" -s "$work/cb.lua" "$url" >"$work/wrk.out"
    hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
    kill -TERM "$pid"
    wait "$pid" || { log "receiver exit status $?"; cat "$work/recv.err" >&2; exit 1; }
    pid=
    exec {fd}<&-
    if grep -q 'Non-2xx' "$work/wrk.out"; then
        log "some answers were not 200:"
        cat "$work/wrk.out" >&2
        exit 1
    fi
    total=$(awk '/requests in/ { print $1 }' "$work/wrk.out")
    stored=$(sqlite3 "$work/run.db" "SELECT count(*) FROM auth_events")
    # wrk counts only the answers it read before its time was up.
    if ((stored < total)); then
        log "$total answers but $stored events stored"
        exit 1
    fi
    commits=$(awk '$1 == "authbatch_callbacks_commits_total" { print $2 }' "$work/cb.prom")
    rps+=("$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$work/wrk.out")")
    rss+=("$hwm")
    per_commit+=("$(awk -v s="$stored" -v c="$commits" 'BEGIN { printf "%.1f", c ? s / c : 0 }')")
done
rps_m=$(printf '%s\n' "${rps[@]}" | median)
rss_m=$(printf '%s\n' "${rss[@]}" | median)
pc_m=$(printf '%s\n' "${per_commit[@]}" | median)
load=$(cut -d' ' -f1-3 /proc/loadavg)

section=$(
    echo "<!-- bench-callbacks:begin -->"
    echo "## Callback receiver (scripts/bench_callbacks.sh)"
    echo
    echo "Written on $(date -u '+%Y-%m-%d %H:%M UTC'); medians of $runs runs; load average at the end: $load (on a shared machine, treat these as loaded-machine figures)."
    echo
    echo "- machine: $(nproc) CPU ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -sr); authbatch $("$ab" --version | awk '{ print $2 }'), libmicrohttpd $(pkg-config --modversion libmicrohttpd 2>/dev/null || echo '?'), SQLite $(pkg-config --modversion sqlite3 2>/dev/null || echo '?')"
    echo "- \`authbatch -q callbacks --listen 127.0.0.1:0 --max-connections 1024\` on $companies companies; wrk -t1 -c$conns -d${secs}s posting vendor-shaped form callbacks (status, requestId, actionEvent, URL-encoded authInfo), every request a new observation; every answer checked to be 200 and every answered callback checked to be stored; synchronous = FULL (each commit fsynced)"
    echo
    echo "| measure | result | runs |"
    echo "|---|---|---|"
    echo "| accepted callbacks per second | $rps_m | ${rps[*]} |"
    echo "| callbacks per commit (group commit) | $pc_m | ${per_commit[*]} |"
    echo "| receiver peak RSS (VmHWM) | $(awk -v k="$rss_m" 'BEGIN { printf "%.1f MiB", k / 1024 }') | $(for k in "${rss[@]}"; do awk -v k="$k" 'BEGIN { printf "%.1f ", k / 1024 }'; done)|"
    echo "<!-- bench-callbacks:end -->"
)
echo "$section"
if [[ $write == 1 ]]; then
    python3 - BENCHMARKS.md "$section" <<'EOF'
import re, sys
path, section = sys.argv[1], sys.argv[2]
try:
    text = open(path, encoding="utf-8").read()
except FileNotFoundError:
    text = "# Benchmarks\n"
pat = re.compile(r"<!-- bench-callbacks:begin -->.*?<!-- bench-callbacks:end -->", re.S)
if pat.search(text):
    text = pat.sub(lambda m: section, text, count=1)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w", encoding="utf-8").write(text)
EOF
    log "wrote BENCHMARKS.md"
fi
