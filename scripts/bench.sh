#!/usr/bin/env bash
# The performance benchmark of issue 7, in one command:
#   scripts/bench.sh
# Installs what it needs (wrk, nginx-light, hyperfine, python3-aiohttp, time)
# through scripts/deps.sh, builds a Release build in build-bench/, runs every
# benchmark against its baseline in the same run (medians of BENCH_RUNS runs),
# prints one Markdown table and writes it into BENCHMARKS.md between
# <!-- bench:begin --> and <!-- bench:end --> (other sections are kept).
#
# Knobs (environment): BENCH_RUNS (3), BENCH_ROWS (100000, the throughput
# case), BENCH_BIG (1000000, the RSS case; 0 skips it), BENCH_RATE_SECS (60),
# BENCH_LAT_ROWS (6400), BENCH_IMPORT_ROWS (1000000; 0 skips the import),
# BENCH_WRK_SECS (10), BENCH_WRITE (1; 0 leaves BENCHMARKS.md alone).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

runs=${BENCH_RUNS:-3}
rows=${BENCH_ROWS:-100000}
big=${BENCH_BIG:-1000000}
rate_secs=${BENCH_RATE_SECS:-60}
lat_rows=${BENCH_LAT_ROWS:-6400}
import_rows=${BENCH_IMPORT_ROWS:-1000000}
wrk_secs=${BENCH_WRK_SECS:-10}
write=${BENCH_WRITE:-1}
conc=64
py=/usr/bin/python3 # the Debian python, where python3-aiohttp lives
export QYS_ACCESS_TOKEN=bench-token QYS_ACCESS_SECRET=bench-secret

log() { echo "bench: $*" >&2; }

# --- dependencies and build -------------------------------------------------
scripts/deps.sh wrk nginx-light hyperfine python3-aiohttp time
log "building build-bench (Release)"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j "$(nproc)" --target authbatch qys-sandbox \
    >/dev/null
ab=$root/build-bench/authbatch
sbx=$root/build-bench/qys-sandbox

work=$(mktemp -d)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maxof() { sort -g | tail -1; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
free_port() {
    "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- fixtures ---------------------------------------------------------------
# make_db FILE N: a fresh database with N pending companies, inserted with
# sqlite3 directly (as another program may do).
make_db() {
    rm -f "$1" "$1"-wal "$1"-shm
    "$ab" --db "$1" init >/dev/null 2>&1
    sqlite3 "$1" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1
        FROM n WHERE i < $2)
      INSERT INTO companies (company_name, applicant_name, applicant_contact,
        applicant_contact_type)
      SELECT printf('示例科技有限公司%07d', i), '李四',
        printf('138%08d', i), 'MOBILE' FROM n"
}
# fresh COPY_OF DEST: a clean copy of a fixture (the WAL is checkpointed).
fresh() { rm -f "$2" "$2"-wal "$2"-shm; cp "$1" "$2"; }
count_done() { sqlite3 "$1" "SELECT count(*) FROM companies WHERE status = 'done'"; }

log "fixtures: $rows, 10000, $big companies"
make_db "$work/base.db" "$rows"
make_db "$work/base10k.db" 10000
sqlite3 "$work/base.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
{
    echo "companyName,registerNo,legalPerson,applicantName,applicantContact,applicantContactType,callbackUrl,closeButton,modifyFields"
    sqlite3 -csv "$work/base.db" "SELECT company_name, '', '', applicant_name,
        applicant_contact, applicant_contact_type, '', '', '' FROM companies"
} >"$work/companies.csv"

# --- nginx: a fixed ticket on loopback ---------------------------------------
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
/usr/sbin/nginx -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/error.log" &
pids+=($!)
ngx_url=http://127.0.0.1:$ngx_port
for _ in $(seq 100); do
    curl -fs -o /dev/null -X POST "$ngx_url/" && break
    sleep 0.05
done
curl -fs -o /dev/null -X POST "$ngx_url/" || { log "nginx did not start"; cat "$ngx/error.log" >&2; exit 1; }

# wrk sends what authbatch sends: same path, headers and a body of the same
# shape (one of the companies), POST, keep-alive.
ts=$(date +%s%3N)
nonce=$(cat /proc/sys/kernel/random/uuid)
sig=$(printf '%s' "$QYS_ACCESS_TOKEN$QYS_ACCESS_SECRET$ts$nonce" | md5sum | cut -d' ' -f1)
version=$("$ab" --version | awk '{ print $2 }')
cat >"$work/post.lua" <<EOF
wrk.method = "POST"
wrk.path = "/companyauth/miniappexchange"
wrk.body = '{"companyName":"示例科技有限公司0000001","applicant":{"name":"李四","contact":"13800000001","contactType":"MOBILE"}}'
wrk.headers["User-Agent"] = "authbatch/$version"
wrk.headers["Accept"] = "*/*"
wrk.headers["x-qys-open-accesstoken"] = "$QYS_ACCESS_TOKEN"
wrk.headers["x-qys-open-timestamp"] = "$ts"
wrk.headers["x-qys-open-nonce"] = "$nonce"
wrk.headers["x-qys-open-signature"] = "$sig"
wrk.headers["version"] = "authbatch-$version"
wrk.headers["Content-Type"] = "application/json;charset=UTF-8"
EOF

# ab_run DB [run options...]: runs authbatch against nginx; appends
# "elapsed user sys maxrss_kb" to $work/t.
ab_run() {
    local db=$1
    shift
    /usr/bin/time -f '%e %U %S %M' -o "$work/t" \
        "$ab" --db "$db" -q run --progress none "$@" || true
}

# --- 2, 3, 4: throughput vs wrk and vs the Python peer (interleaved) --------
wrk_rps=() ab_rps=() ab_cpu=() py_rps=() py_cpu=() py_rss=()
for ((r = 1; r <= runs; r++)); do
    log "run $r/$runs: wrk -t1 -c$conc -d${wrk_secs}s"
    w=$(wrk -t1 -c$conc -d"${wrk_secs}s" -s "$work/post.lua" "$ngx_url/" |
        awk '/^Requests\/sec:/ { print $2 }')
    wrk_rps+=("$w")

    log "run $r/$runs: authbatch run --rate 0 --concurrency $conc ($rows)"
    fresh "$work/base.db" "$work/ab.db"
    ab_run "$work/ab.db" --rate 0 --concurrency $conc --base-url "$ngx_url"
    read -r e u s m <"$work/t"
    got=$(count_done "$work/ab.db")
    [[ $got == "$rows" ]] || { log "authbatch: $got of $rows done"; exit 1; }
    ab_rps+=("$(calc %.0f "$rows / $e")")
    ab_cpu+=("$(calc %.2f "($u + $s) * 1e6 / $rows")")

    log "run $r/$runs: bench_peer.py (Python asyncio + aiohttp, $rows)"
    rm -f "$work"/peer.db*
    /usr/bin/time -f '%e %U %S %M' -o "$work/t" \
        "$py" scripts/bench_peer.py "$work/companies.csv" "$work/peer.db" \
        "$ngx_url" $conc
    read -r e u s m <"$work/t"
    got=$(sqlite3 "$work/peer.db" "SELECT count(ticket) FROM results")
    [[ $got == "$rows" ]] || { log "peer: $got of $rows tickets"; exit 1; }
    py_rps+=("$(calc %.0f "$rows / $e")")
    py_cpu+=("$(calc %.2f "($u + $s) * 1e6 / $rows")")
    py_rss+=("$m")
done
wrk_m=$(printf '%s\n' "${wrk_rps[@]}" | median)
ab_m=$(printf '%s\n' "${ab_rps[@]}" | median)
abc_m=$(printf '%s\n' "${ab_cpu[@]}" | median)
py_m=$(printf '%s\n' "${py_rps[@]}" | median)
pyc_m=$(printf '%s\n' "${py_cpu[@]}" | median)

# --- 4: peak RSS at 10,000 and at $big companies ------------------------------
rss10k=()
for ((r = 1; r <= runs; r++)); do
    log "run $r/$runs: RSS at 10000"
    fresh "$work/base10k.db" "$work/ab10k.db"
    ab_run "$work/ab10k.db" --rate 0 --concurrency $conc --base-url "$ngx_url"
    read -r e u s m <"$work/t"
    rss10k+=("$m")
done
rss10k_m=$(printf '%s\n' "${rss10k[@]}" | median)
if ((big > 0)); then
    log "RSS at $big: building the database"
    make_db "$work/big.db" "$big"
    log "RSS at $big: authbatch run (once)"
    ab_run "$work/big.db" --rate 0 --concurrency $conc --base-url "$ngx_url"
    read -r big_e big_u big_s rssbig <"$work/t"
    got=$(count_done "$work/big.db")
    [[ $got == "$big" ]] || { log "authbatch: $got of $big done"; exit 1; }
    rm -f "$work"/big.db*
fi

# --- 5, 6: against the sandbox ------------------------------------------------
# start_sandbox ARGS...: sets sbx_url once the socket accepts connections.
start_sandbox() {
    local fifo=$work/sbx.fifo line
    rm -f "$fifo"
    mkfifo "$fifo"
    "$sbx" --port 0 --token "$QYS_ACCESS_TOKEN" --secret "$QYS_ACCESS_SECRET" \
        "$@" >"$fifo" 2>>"$work/sandbox.err" &
    sbx_pid=$!
    pids+=("$sbx_pid")
    exec {sbx_fd}<"$fifo"
    IFS= read -r -t 20 line <&"$sbx_fd" || { log "sandbox did not start"; exit 1; }
    sbx_url=${line#listening on }
}
stop_sandbox() { kill "$sbx_pid"; wait "$sbx_pid" || true; exec {sbx_fd}<&-; }

rate_rows=$((rate_secs * 200 + 1000))
log "rate: --rate 200 --burst 1 for ${rate_secs}s against the sandbox"
make_db "$work/rate.db" "$rate_rows"
start_sandbox
ab_run "$work/rate.db" --rate 200 --burst 1 --concurrency 8 \
    --base-url "$sbx_url" --max-runtime "${rate_secs}s"
read -r rate_e _ <"$work/t"
curl -fs "$sbx_url/__stats" >"$work/stats.json"
stop_sandbox
# Full seconds only: the first and last wall-clock seconds are partial.
read -r rate_mean rate_max rate_req rate_secs_full < <("$py" - "$work/stats.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
ps = sorted((int(k), v) for k, v in s["per_second"].items())
full = [v for _, v in ps[1:-1]]
print("%.2f %d %d %d" % (sum(full) / len(full), s["max_per_second"],
                         s["requests"], len(full)))
EOF
)
rate_err=$(calc %.2f "($rate_mean - 200) / 200 * 100")
rate_abs=$(calc %.2f "($rate_mean > 200 ? $rate_mean - 200 : 200 - $rate_mean) / 2")

lat_rps=()
for ((r = 1; r <= runs; r++)); do
    log "run $r/$runs: latency 200 ms, concurrency $conc, $lat_rows companies"
    make_db "$work/lat.db" "$lat_rows"
    start_sandbox --latency-ms 200
    ab_run "$work/lat.db" --rate 0 --concurrency $conc --base-url "$sbx_url"
    read -r e _ <"$work/t"
    stop_sandbox
    got=$(count_done "$work/lat.db")
    [[ $got == "$lat_rows" ]] || { log "latency: $got of $lat_rows done"; exit 1; }
    lat_rps+=("$(calc %.1f "$lat_rows / $e")")
done
lat_m=$(printf '%s\n' "${lat_rps[@]}" | median)
lat_bound=$(calc %.0f "$conc / 0.2")

# --- 7: import ------------------------------------------------------------------
if ((import_rows > 0)); then
    log "import: scripts/bench_import.sh $import_rows $runs"
    AUTHBATCH=$ab scripts/bench_import.sh "$import_rows" "$runs" >"$work/import.md"
    imp_ab=$(awk -F'median ' '/^\| authbatch \|/ { split($2, a, " "); print a[1] }' "$work/import.md")
    imp_sq=$(awk -F'median ' '/^\| sqlite3 \|/ { split($2, a, " "); print a[1] }' "$work/import.md")
    imp_rss=$(awk -F'|' '/peak RSS/ { print $3 }' "$work/import.md" | awk '{ print $1 }')
fi
if ((import_rows > 0)); then AUTHBATCH=$ab BENCH_WRITE=$write scripts/bench_import_sqlite.sh "$import_rows" "$runs" >"$work/import_sqlite.md"; fi

AUTHBATCH=$ab BENCH_RUNS=$runs BENCH_WRITE=$write scripts/bench_callbacks.sh >/dev/null # own BENCHMARKS.md section
# --- issue 12: against a Go net/http peer, plain and TLS (its own section) ------
BENCH_RUNS=$runs BENCH_WRITE=$write AUTHBATCH=$ab scripts/bench_throughput.sh >/dev/null

THROTTLE_WRITE=$write AUTHBATCH=$ab QYS_SANDBOX=$sbx scripts/bench_throttle.sh >&2 # issue 11: its own section
AUTHBATCH=$ab QYS_SANDBOX=$sbx BENCH_RUNS=$runs BENCH_WRITE=$write scripts/bench_track.sh >/dev/null # issue 13: its own section
AUTHBATCH=$ab QYS_SANDBOX=$sbx BENCH_RUNS=$runs BENCH_WRITE=$write scripts/bench_pg.sh >/dev/null # issue 18: its own section

if ((import_rows > 0)); then AUTHBATCH=$ab BENCH_WRITE=$write scripts/bench_import_encoding.sh "$import_rows" "$runs" >&2; fi
# --- the table ------------------------------------------------------------------
pass() { if awk "BEGIN { exit !($1) }"; then echo met; else echo "**missed**"; fi; }
mib() { calc %.1f "$1 / 1024"; }
ratio_wrk=$(calc %.3f "$ab_m / $wrk_m")
ratio_py=$(calc %.1f "$ab_m / $py_m")
ratio_pycpu=$(calc %.3f "$abc_m / $pyc_m")

table=$(
    echo "| # | measure | authbatch | baseline (same run) | ratio | target | |"
    echo "|---|---|---|---|---|---|---|"
    echo "| 2 | throughput, $rows companies, rate 0, concurrency $conc, nginx | $ab_m req/s (runs: ${ab_rps[*]}) | wrk -t1 -c$conc: $wrk_m req/s (runs: ${wrk_rps[*]}) | $ratio_wrk | ≥ 0.5 | $(pass "$ratio_wrk >= 0.5") |"
    echo "| 3 | throughput vs Python asyncio + aiohttp, $rows companies | $ab_m req/s | bench_peer.py: $py_m req/s (runs: ${py_rps[*]}) | ${ratio_py}× | ≥ 10× | $(pass "$ratio_py >= 10") |"
    echo "| 3 | CPU (user + sys) per company vs the peer | $abc_m µs | bench_peer.py: $pyc_m µs | $ratio_pycpu | ≤ 0.1 | $(pass "$ratio_pycpu <= 0.1") |"
    echo "| 4 | CPU (user + sys) per company, throughput case | $abc_m µs (runs: ${ab_cpu[*]}) | | | ≤ 20 µs | $(pass "$abc_m <= 20") |"
    if ((big > 0)); then
        echo "| 4 | peak RSS at $big companies (run at $(calc %.0f "$big / $big_e") req/s, $(calc %.2f "($big_u + $big_s) * 1e6 / $big") µs CPU each) | $(mib "$rssbig") MiB | 10,000 companies: $(mib "$rss10k_m") MiB (runs: $(for k in "${rss10k[@]}"; do printf '%s ' "$(mib "$k")"; done)) | $(calc %.2f "$rssbig / $rss10k_m") | ≤ 32 MiB and ≤ 1.5 | $(pass "$rssbig <= 32768 && $rssbig / $rss10k_m <= 1.5") |"
    fi
    echo "| 5 | rate accuracy, --rate 200 --burst 1, ${rate_secs} s, sandbox | mean $rate_mean req/s over $rate_secs_full full seconds; busiest second $rate_max | 200 req/s | error ${rate_err} % | within 1 %, no second > 201 | $(pass "$rate_abs <= 1 && $rate_max <= 201") |"
    echo "| 6 | latency hiding, sandbox --latency-ms 200, concurrency $conc, $lat_rows companies | $lat_m req/s (runs: ${lat_rps[*]}) | Little's law: $conc / 0.2 s = $lat_bound req/s | $(calc %.3f "$lat_m / $lat_bound") | ≥ 0.9 | $(pass "$lat_m / $lat_bound >= 0.9") |"
    if ((import_rows > 0)); then
        echo "| 7 | import of $import_rows valid rows (scripts/bench_import.sh) | $imp_ab s, peak RSS $imp_rss MiB | sqlite3 .import: $imp_sq s | $(calc %.2f "$imp_ab / $imp_sq")× | ≤ 1.2× | $(pass "$imp_ab / $imp_sq <= 1.2") |"
    fi
)

mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
aiohttp_v=$("$py" -c 'import aiohttp; print(aiohttp.__version__)')
section=$(
    echo "<!-- bench:begin -->"
    echo "## Performance (scripts/bench.sh)"
    echo
    echo "Written by \`scripts/bench.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); medians of $runs runs unless said."
    echo
    echo "- machine: $(nproc) CPU ($cpu), $mem RAM, $(uname -sr)"
    echo "- versions: authbatch $version, libcurl $(pkg-config --modversion libcurl), libuv $(pkg-config --modversion libuv), SQLite $(pkg-config --modversion sqlite3), $(/usr/sbin/nginx -v 2>&1 | sed 's/.*: //'), wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }'), $("$py" --version), aiohttp $aiohttp_v"
    echo "- authbatch: Release build (build-bench/), \`authbatch -q run --progress none\`, credentials from the environment, every result committed (checked: count of done = companies after each run); CPU and RSS from \`/usr/bin/time -f '%e %U %S %M'\`; req/s = companies / wall time of the process"
    echo "- nginx-light on 127.0.0.1 (ephemeral port): \`return 200\` with a fixed ticket, worker_processes 1, keep-alive, access_log off; wrk and authbatch share the machine with it"
    echo "- peer: \`scripts/bench_peer.py\` (asyncio.Semaphore($conc), aiohttp TCPConnector(limit=$conc), MD5 signing, stdlib sqlite3 committing every 500 results)"
    echo
    echo "$table"
    echo "<!-- bench:end -->"
)

echo "$section"
if [[ $write == 1 ]]; then
    "$py" - BENCHMARKS.md "$section" <<'EOF'
import re, sys
path, section = sys.argv[1], sys.argv[2]
try:
    text = open(path, encoding="utf-8").read()
except FileNotFoundError:
    text = "# Benchmarks\n"
pat = re.compile(r"<!-- bench:begin -->.*?<!-- bench:end -->", re.S)
if pat.search(text):
    text = pat.sub(lambda m: section, text, count=1)
else:
    head, sep, rest = text.partition("\n")
    text = head + "\n\n" + section + "\n" + sep + rest
open(path, "w", encoding="utf-8").write(text)
EOF
    log "wrote BENCHMARKS.md"
fi
