#!/usr/bin/env bash
# PostgreSQL store benchmark (issue 18), with the cases bench.sh uses:
#  - nginx on loopback answering a fixed ticket (`return 200`), --rate 0:
#    one runner on SQLite against one on PostgreSQL (throughput, authbatch's
#    CPU per company), then 1, 2 and 3 runners on one PostgreSQL queue
#    (aggregate throughput: companies / wall time from the first start to
#    the last exit);
#  - the sandbox with --latency-ms 200 (latency hiding, concurrency C per
#    runner): SQLite vs PostgreSQL for one runner, and 1/2/3 runners against
#    Little's law (runners x C / 0.2 s);
#  - the sandbox at --rate 200 --burst 1 shared by 3 runners: the busiest
#    wall-clock second and the mean (each runner's share is
#    floor((200 + 1 - 3) / 3) = 66/s, runner.h).
# Every round on a fresh database; checked: every company done. Medians of
# BENCH_RUNS rounds. The cluster is a throwaway one (tests/e2e/lib_pg.sh:
# a temporary directory, Unix socket and loopback port, fsync off: these
# figures are the store's cost, not a disk's).
#
# Usage: scripts/bench_pg.sh
# Env: AUTHBATCH, QYS_SANDBOX (binaries; default: builds build-bench/,
#      Release), BENCH_RUNS (3), BENCH_PG_COMPANIES (20000), BENCH_PG_CONC
#      (16), BENCH_PG_LAT_COMPANIES (1600), BENCH_WRITE (1: write the section
#      of BENCHMARKS.md between <!-- bench-pg:begin/end -->; 0: print).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

runs=${BENCH_RUNS:-3}
n=${BENCH_PG_COMPANIES:-20000}
conc=${BENCH_PG_CONC:-16}
lat_n=${BENCH_PG_LAT_COMPANIES:-1600}
write=${BENCH_WRITE:-1}
log() { echo "bench_pg: $*" >&2; }

scripts/deps.sh nginx-light time postgresql
if [[ -z "${AUTHBATCH:-}" || -z "${QYS_SANDBOX:-}" ]]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build-bench -j "$(nproc)" --target authbatch qys-sandbox >/dev/null
    AUTHBATCH=${AUTHBATCH:-$root/build-bench/authbatch}
    QYS_SANDBOX=${QYS_SANDBOX:-$root/build-bench/qys-sandbox}
fi
ab=$AUTHBATCH
sbx=$QYS_SANDBOX

work=$(mktemp -d)
pids=()
AB_CLEANUPS=()
ngx_pid=
cleanup() {
    local p
    [[ -z "$ngx_pid" ]] || kill -TERM "$ngx_pid" 2>/dev/null || true
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for p in "${AB_CLEANUPS[@]}"; do "$p" || true; done
    rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=../tests/e2e/lib_pg.sh
source tests/e2e/lib_pg.sh
pg_start
pg=$PG_URL

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
free_port() { pg_free_port; }
export QYS_ACCESS_TOKEN=bench-token QYS_ACCESS_SECRET=bench-secret

# --- nginx: a fixed ticket --------------------------------------------------
ngx=$work/nginx
mkdir -p "$ngx"
ngx_port=$(free_port)
cat >"$ngx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $ngx/nginx.pid;
error_log $ngx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $ngx/body;
    proxy_temp_path $ngx/proxy;
    fastcgi_temp_path $ngx/fastcgi;
    uwsgi_temp_path $ngx/uwsgi;
    scgi_temp_path $ngx/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_buffer_size 16k;
    server {
        listen 127.0.0.1:$ngx_port;
        location / {
            default_type application/json;
            return 200 '{"code":0,"message":"SUCCESS","result":{"ticket":"0123456789abcdef0123456789abcdef"}}';
        }
    }
}
EOF
# Its own output files, so that nothing of it holds this script's stdout;
# stopped with TERM (its master ends the worker; KILL would orphan it).
/usr/sbin/nginx -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/error.log" \
    >"$ngx/out" 2>&1 </dev/null &
ngx_pid=$!
ngx_url=http://127.0.0.1:$ngx_port
for _ in $(seq 100); do
    curl -fs -o /dev/null -X POST "$ngx_url/" && break
    sleep 0.05
done

# --- the sandbox ------------------------------------------------------------
sbx_pid=
start_sandbox() {
    local fifo=$work/sbx.$RANDOM line
    mkfifo "$fifo"
    "$sbx" --port 0 --token "$QYS_ACCESS_TOKEN" --secret "$QYS_ACCESS_SECRET" \
        --no-callbacks "$@" >"$fifo" 2>>"$work/sandbox.err" &
    sbx_pid=$!
    pids+=("$sbx_pid")
    exec {sbx_fd}<"$fifo"
    rm -f "$fifo"
    IFS= read -r -t 20 line <&"$sbx_fd" || { log "sandbox did not start"; exit 1; }
    sbx_url=${line#listening on }
}
stop_sandbox() { kill "$sbx_pid"; wait "$sbx_pid" || true; exec {sbx_fd}<&-; }

# fresh DB N: a database of N pending companies (DB: a file or $pg).
csv=$work/companies.csv
make_csv() {
    awk -v n="$1" 'BEGIN { print "companyName,applicantContact"
        for (i = 1; i <= n; i++) printf "示例科技有限公司%07d,138%08d\n", i, i }' >"$csv"
}
fresh() {
    if [[ $1 == "$pg" ]]; then
        pg_fresh
    else
        rm -f "$1" "$1-wal" "$1-shm"
    fi
    make_csv "$2"
    "$ab" --db "$1" -q import "$csv" >/dev/null
}
done_in() {
    if [[ $1 == "$pg" ]]; then
        pg_q "SELECT count(*) FROM companies WHERE status = 'done'"
    else
        sqlite3 "$1" "SELECT count(*) FROM companies WHERE status = 'done'"
    fi
}

# runners DB K ARGS...: K runs at once; prints "wall cpu_total" (s), the
# CPU summed over the runners (GNU time, user + sys).
runners() {
    local db=$1 k=$2 i t0 t1 cpu=0 p
    shift 2
    local -a ps=()
    t0=$EPOCHREALTIME
    for ((i = 1; i <= k; i++)); do
        /usr/bin/time -f '%U %S' -o "$work/time.$i" \
            "$ab" --db "$db" -q run --progress none "$@" &
        ps+=($!)
    done
    for p in "${ps[@]}"; do wait "$p" || true; done
    t1=$EPOCHREALTIME
    for ((i = 1; i <= k; i++)); do
        cpu=$(awk -v c="$cpu" '{ print c + $1 + $2 }' "$work/time.$i")
    done
    calc '%.3f %.3f\n' "$t1 - $t0, $cpu"
}

declare -A rps cpu_us
record() { # record KEY COMPANIES "wall cpu"
    local w c
    read -r w c <<<"$3"
    rps[$1]+="$(calc %.1f "$2 / $w") "
    cpu_us[$1]+="$(calc %.1f "$c * 1e6 / $2") "
}
med() { printf '%s\n' ${rps[$1]} | median; }
medcpu() { printf '%s\n' ${cpu_us[$1]} | median; }
check_done() {
    local got
    got=$(done_in "$1")
    [[ $got == "$2" ]] || { log "$3: $got of $2 done"; exit 1; }
}

for ((r = 1; r <= runs; r++)); do
    log "round $r/$runs: nginx, $n companies, --rate 0 --concurrency $conc"
    fresh "$work/one.db" "$n"
    record ngx_sqlite "$n" "$(runners "$work/one.db" 1 --base-url "$ngx_url" --rate 0 --concurrency "$conc")"
    check_done "$work/one.db" "$n" "nginx sqlite"
    for k in 1 2 3; do
        fresh "$pg" "$n"
        record "ngx_pg$k" "$n" "$(runners "$pg" "$k" --base-url "$ngx_url" --rate 0 --concurrency "$conc")"
        check_done "$pg" "$n" "nginx pg x$k"
    done

    log "round $r/$runs: sandbox --latency-ms 200, $lat_n companies, concurrency $conc per runner"
    start_sandbox --latency-ms 200
    fresh "$work/lat.db" "$lat_n"
    record lat_sqlite "$lat_n" "$(runners "$work/lat.db" 1 --base-url "$sbx_url" --rate 0 --concurrency "$conc")"
    check_done "$work/lat.db" "$lat_n" "latency sqlite"
    for k in 1 2 3; do
        fresh "$pg" "$lat_n"
        record "lat_pg$k" "$lat_n" "$(runners "$pg" "$k" --base-url "$sbx_url" --rate 0 --concurrency "$conc")"
        check_done "$pg" "$lat_n" "latency pg x$k"
    done
    stop_sandbox
done

log "rate: --rate 200 --burst 1 shared by 3 runners, 15 s"
start_sandbox
fresh "$pg" 9000
runners "$pg" 3 --base-url "$sbx_url" --rate 200 --burst 1 --concurrency 8 --max-runtime 15s >/dev/null
curl -fs "$sbx_url/__stats" >"$work/stats.json"
stop_sandbox
read -r rate_mean rate_max < <(python3 - "$work/stats.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
ps = sorted((int(k), v) for k, v in s["per_second"].items())
full = [v for _, v in ps[2:-1]]  # from the third second: all 3 admitted
print("%.1f %d" % (sum(full) / len(full), s["max_per_second"]))
EOF
)

load=$(cut -d' ' -f1-3 /proc/loadavg)
row() { # row LABEL KEY [BOUND]
    local m c
    m=$(med "$2")
    c=$(medcpu "$2")
    echo "| $1 | $m | $c | ${rps[$2]% } |${3:+ $(calc %.2f "$m / $3") of $3 |}"
}
section=$(
    echo "<!-- bench-pg:begin -->"
    echo "## PostgreSQL store: one runner against SQLite, several on one queue (scripts/bench_pg.sh)"
    echo
    echo "Written on $(date -u '+%Y-%m-%d %H:%M') UTC; medians of $runs rounds; load average at the end: $load ($(nproc) CPUs; a shared machine: loaded-machine figures)."
    echo
    echo "- authbatch $("$ab" --version | cut -d' ' -f2), PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }') (a throwaway cluster on the same machine, loopback TCP, fsync off), SQLite $(pkg-config --modversion sqlite3); every round on a fresh database, every company checked done"
    echo "- CPU = authbatch's user + sys time summed over the runners, per company (the server's, nginx's or the sandbox's not included); req/s = companies / wall time from the first runner's start to the last one's exit"
    echo
    echo "nginx \`return 200\` (a fixed ticket), $n companies, \`run --rate 0 --concurrency $conc\` per runner:"
    echo
    echo "| store, runners | req/s | CPU µs per company | rounds (req/s) |"
    echo "|---|---|---|---|"
    row "SQLite, 1" ngx_sqlite
    row "PostgreSQL, 1" ngx_pg1
    row "PostgreSQL, 2" ngx_pg2
    row "PostgreSQL, 3" ngx_pg3
    echo
    echo "qys-sandbox \`--latency-ms 200\`, $lat_n companies, \`--rate 0 --concurrency $conc\` per runner (Little's law: runners × $conc / 0.2 s):"
    echo
    echo "| store, runners | req/s | CPU µs per company | rounds (req/s) | of the bound |"
    echo "|---|---|---|---|---|"
    row "SQLite, 1" lat_sqlite "$(calc %.0f "$conc / 0.2")"
    row "PostgreSQL, 1" lat_pg1 "$(calc %.0f "$conc / 0.2")"
    row "PostgreSQL, 2" lat_pg2 "$(calc %.0f "2 * $conc / 0.2")"
    row "PostgreSQL, 3" lat_pg3 "$(calc %.0f "3 * $conc / 0.2")"
    echo
    echo "One App rate for 3 runners: \`--rate 200 --burst 1\` each, 15 s against the sandbox: mean $rate_mean req/s from the third second on (the shares: 3 × 66), busiest wall-clock second $rate_max (bound: 201)."
    echo "<!-- bench-pg:end -->"
)

echo "$section"
if [[ $write == 1 ]]; then
    python3 - BENCHMARKS.md "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
try:
    text = open(path, encoding="utf-8").read()
except FileNotFoundError:
    text = "# Benchmarks\n"
pat = re.compile(r"<!-- bench-pg:begin -->.*?<!-- bench-pg:end -->", re.S)
if pat.search(text):
    text = pat.sub(lambda m: section, text, count=1)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w", encoding="utf-8").write(text)
PY
    log "wrote BENCHMARKS.md"
fi
