#!/usr/bin/env bash
# Issue 12: authbatch against the program a capable engineer would write
# instead, a Go net/http peer (scripts/bench_peer_go), doing the same job on
# the same database against the same nginx on loopback, over plain HTTP/1.1
# and over TLS (nginx offers h2; both clients take it):
#   scripts/bench_throughput.sh
# Interleaved (the order alternates run to run), medians of BENCH_RUNS runs:
# throughput (companies / wall time), CPU per company (user + sys of the
# client process), nginx's CPU per request, peak RSS, attempts per company
# (above 1: retries). After every run it checks that every company was
# committed (done = tickets = companies), and after the first run of each
# transport that
# both programs left the same database state (hashes of the companies and
# attempts tables and the runs counters, clock columns left out).
#
# Knobs (environment): BENCH_TP_ROWS (60000), BENCH_RUNS (3), BENCH_WRITE (1;
# 0 leaves BENCHMARKS.md alone), BENCH_AB_ARGS (more options for authbatch
# run, e.g. "--workers 2"), AUTHBATCH (a binary to use instead of
# building build-bench/), GOPEER (likewise for the Go peer).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

rows=${BENCH_TP_ROWS:-60000}
runs=${BENCH_RUNS:-3}
write=${BENCH_WRITE:-1}
conc=64
read -r -a ab_args <<<"${BENCH_AB_ARGS:-}"
export QYS_ACCESS_TOKEN=bench-token QYS_ACCESS_SECRET=bench-secret

log() { echo "bench_throughput: $*" >&2; }

scripts/deps.sh nginx-light golang-go golang-github-mattn-go-sqlite3-dev \
    golang-github-google-uuid-dev openssl time
if [[ -z ${AUTHBATCH:-} ]]; then
    log "building build-bench (Release)"
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build-bench -j 2 --target authbatch >/dev/null
fi
ab=${AUTHBATCH:-$root/build-bench/authbatch}
if [[ -z ${GOPEER:-} ]]; then
    log "building scripts/bench_peer_go"
    mkdir -p build-bench
    (cd scripts/bench_peer_go && GO111MODULE=off GOPATH=/usr/share/gocode \
        GOFLAGS='' go build -o "$root/build-bench/bench_peer_go" .)
fi
gopeer=${GOPEER:-$root/build-bench/bench_peer_go}
version=$("$ab" --version | awk '{ print $2 }')

work=$(mktemp -d)
ngx_pid=
cleanup() {
    if [[ -n $ngx_pid ]]; then kill "$ngx_pid" 2>/dev/null || true; wait "$ngx_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
# spread: (max - min) / median of the numbers on stdin, in per cent.
spread() {
    sort -g | awk '{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)];
        printf "%.0f", m ? (v[NR] - v[1]) / m * 100 : 0 }'
}
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- fixture: the database bench.sh uses, inserted with sqlite3 directly ------
log "fixture: $rows companies"
"$ab" --db "$work/base.db" init >/dev/null 2>&1
sqlite3 "$work/base.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1
    FROM n WHERE i < $rows)
  INSERT INTO companies (company_name, applicant_name, applicant_contact,
    applicant_contact_type)
  SELECT printf('示例科技有限公司%07d', i), '李四',
    printf('138%08d', i), 'MOBILE' FROM n"
sqlite3 "$work/base.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
fresh() { rm -f "$1" "$1"-wal "$1"-shm; cp "$work/base.db" "$1"; }

# --- nginx: a fixed ticket, plain and TLS (h2 offered) ------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext 'subjectAltName=IP:127.0.0.1' \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
ngx=$work/nginx
mkdir -p "$ngx"
plain_port=$(free_port)
tls_port=$(free_port)
answer='{"code":0,"message":"SUCCESS","result":{"ticket":"0123456789abcdef0123456789abcdef"}}'
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
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    server {
        listen 127.0.0.1:$plain_port;
        listen 127.0.0.1:$tls_port ssl http2;
        location / {
            default_type application/json;
            return 200 '$answer';
        }
    }
}
EOF
/usr/sbin/nginx -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/error.log" &
ngx_pid=$!
for _ in $(seq 100); do
    curl -fs -o /dev/null -X POST "http://127.0.0.1:$plain_port/" && break
    sleep 0.05
done
curl -fs -o /dev/null --cacert "$work/cert.pem" -X POST "https://127.0.0.1:$tls_port/" ||
    { log "nginx did not start"; cat "$ngx/error.log" >&2; exit 1; }
ngx_worker=$(pgrep -P "$ngx_pid" | head -1)
tck=$(getconf CLK_TCK)
ngx_ticks() { awk '{ print $14 + $15 }' "/proc/$ngx_worker/stat"; }

# --- one measured run -----------------------------------------------------------
# run_one PROG MODE: runs PROG (ab or go) over MODE (plain or tls) on a fresh
# copy of the fixture, checks every company was committed, and appends
# "rps cpu_us_per_company maxrss_kb nginx_cpu_us_per_request attempts" to
# $work/PROG.MODE.
run_one() {
    local prog=$1 mode=$2 db=$work/$1.$2.db url cmd e u s m t0 t1
    if [[ $mode == plain ]]; then url=http://127.0.0.1:$plain_port; else url=https://127.0.0.1:$tls_port; fi
    fresh "$db"
    if [[ $prog == ab ]]; then
        cmd=("$ab" --db "$db" -q run --progress none --rate 0 --concurrency "$conc" --base-url "$url" "${ab_args[@]}")
        [[ $mode == tls ]] && cmd+=(--cacert "$work/cert.pem")
    else
        cmd=("$gopeer" -db "$db" -base-url "$url" -concurrency "$conc" -version "$version")
        [[ $mode == tls ]] && cmd=(env SSL_CERT_FILE="$work/cert.pem" "${cmd[@]}")
    fi
    t0=$(ngx_ticks)
    /usr/bin/time -f '%e %U %S %M' -o "$work/t" "${cmd[@]}" 2>"$work/$prog.err" ||
        { log "$prog $mode failed:"; cat "$work/$prog.err" >&2; exit 1; }
    t1=$(ngx_ticks)
    read -r e u s m <"$work/t"
    local got
    got=$(sqlite3 "$db" "SELECT (SELECT count(*) FROM companies WHERE status = 'done'),
        (SELECT count(ticket) FROM companies), (SELECT count(*) FROM attempts)")
    [[ ${got%|*} == "$rows|$rows" ]] ||
        { log "$prog $mode: done|tickets = ${got%|*}, want $rows each"; exit 1; }
    echo "$(calc %.0f "$rows / $e") $(calc %.2f "($u + $s) * 1e6 / $rows") $m $(calc %.2f "($t1 - $t0) * 1e6 / $tck / $rows") ${got##*|}" \
        >>"$work/$prog.$mode"
    log "$prog $mode: $(tail -1 "$work/$prog.$mode") (req/s, µs CPU/company, KB RSS, nginx µs/req, attempts)"
}

# The database state both leave: everything but clock values, run ids and
# the runs rows themselves (the peer records its own options).
state() {
    sqlite3 "$1" "SELECT id, status, attempts, next_attempt_at, ticket,
        ticket_at IS NOT NULL, last_http_status, last_code, last_message,
        claimed_by, lease_until FROM companies ORDER BY id;
      SELECT company_id, run_id IS NOT NULL, attempt_no, duration_ms >= 0,
        http_status, code, message, transport_error, outcome
        FROM attempts ORDER BY company_id, attempt_no;
      SELECT count(*), sum(attempts), sum(issued), sum(failed) FROM runs" | md5sum | cut -d' ' -f1
}

same_state=()
for ((r = 1; r <= runs; r++)); do
    for mode in plain tls; do
        if ((r % 2)); then order=(ab go); else order=(go ab); fi
        for prog in "${order[@]}"; do
            log "run $r/$runs: $prog $mode ($rows companies)"
            run_one "$prog" "$mode"
        done
        if ((r == 1)); then
            a=$(state "$work/ab.$mode.db")
            g=$(state "$work/go.$mode.db")
            if [[ $a == "$g" ]]; then same_state+=("$mode: same"); else
                log "$mode: the two programs left different database states"
                same_state+=("$mode: **different**")
            fi
        fi
    done
done

# --- the table ------------------------------------------------------------------
col() { awk -v c="$2" '{ print $c }' "$work/$1"; }
runs_of() { col "$1" "$2" | paste -sd' '; }
med() { col "$1" "$2" | median; }
spr() { col "$1" "$2" | spread; }
# Per-pair ratios of the interleaved runs (ab / go), and their median.
pair_ratios() {
    paste -d' ' <(col "ab.$1" "$2") <(col "go.$1" "$2") |
        awk '{ printf "%.2f\n", $1 / $2 }'
}
pass() { if awk "BEGIN { exit !($1) }"; then echo met; else echo "**missed**"; fi; }

rows_md=$(
    echo "| transport | measure | authbatch (runs) | Go peer (runs) | authbatch / Go (per pair) | target | |"
    echo "|---|---|---|---|---|---|---|"
    for mode in plain tls; do
        if [[ $mode == plain ]]; then label="HTTP/1.1"; target=1.5; else label="TLS, h2"; target=1.3; fi
        ab_r=$(med "ab.$mode" 1) go_r=$(med "go.$mode" 1)
        rr=$(pair_ratios "$mode" 1 | median)
        echo "| $label | throughput, req/s | $ab_r ($(runs_of "ab.$mode" 1); spread $(spr "ab.$mode" 1) %) | $go_r ($(runs_of "go.$mode" 1); spread $(spr "go.$mode" 1) %) | ${rr}× ($(pair_ratios "$mode" 1 | paste -sd' ')) | ≥ ${target}× | $(pass "$rr >= $target") |"
        ab_c=$(med "ab.$mode" 2) go_c=$(med "go.$mode" 2)
        cr=$(pair_ratios "$mode" 2 | median)
        echo "| $label | client CPU (user + sys) per company, µs | $ab_c ($(runs_of "ab.$mode" 2)) | $go_c ($(runs_of "go.$mode" 2)) | $cr ($(pair_ratios "$mode" 2 | paste -sd' ')) | ≤ 1 | $(pass "$cr <= 1") |"
        echo "| $label | nginx CPU per request, µs | $(med "ab.$mode" 4) ($(runs_of "ab.$mode" 4)) | $(med "go.$mode" 4) ($(runs_of "go.$mode" 4)) | | | |"
        ab_m=$(col "ab.$mode" 3 | sort -g | tail -1) go_m=$(col "go.$mode" 3 | sort -g | tail -1)
        echo "| $label | attempts per company (above 1: retries) | $(col "ab.$mode" 5 | awk -v n="$rows" '{ printf "%.4f ", $1 / n }') | $(col "go.$mode" 5 | awk -v n="$rows" '{ printf "%.4f ", $1 / n }') | | 1 | |"
        echo "| $label | peak RSS (max of runs), MiB | $(calc %.1f "$ab_m / 1024") | $(calc %.1f "$go_m / 1024") | $(calc %.2f "$ab_m / $go_m") | ≤ 32 MiB | $(pass "$ab_m <= 32768") |"
    done
)

section=$(
    echo "<!-- bench_throughput:begin -->"
    echo "## Throughput against a Go net/http peer (scripts/bench_throughput.sh)"
    echo
    echo "Written by \`scripts/bench_throughput.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); $rows companies, concurrency $conc, rate 0, medians of $runs interleaved runs; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end (a shared machine: compare the ratios, not the absolute figures)."
    echo
    echo "- machine: $(nproc) CPU, $(uname -sr); authbatch $version (Release, build-bench/), libcurl $(pkg-config --modversion libcurl), $(go version | awk '{ print $3 }'), mattn/go-sqlite3 on the system SQLite $(pkg-config --modversion sqlite3), $(/usr/sbin/nginx -v 2>&1 | sed 's/.*: //')"
    echo "- authbatch: \`authbatch -q run --progress none --rate 0 --concurrency $conc --base-url URL [--cacert cert.pem]${BENCH_AB_ARGS:+ $BENCH_AB_ARGS}\`"
    echo "- Go peer: \`bench_peer_go -db DB -base-url URL -concurrency $conc\` (\`SSL_CERT_FILE=cert.pem\` for TLS): 64 worker goroutines, \`http.DefaultTransport\` cloned with MaxIdleConnsPerHost = MaxConnsPerHost = 64, one writer goroutine committing every 500 results (or 100 ms)"
    echo "- nginx-light on 127.0.0.1, worker_processes 1, \`return 200\` with a fixed ticket; TLS: self-signed certificate from \`openssl req\`, \`listen ... ssl http2\`"
    echo "- checked after every run: done = tickets = $rows; same database state from both programs after the first run of each transport: ${same_state[*]}"
    echo
    echo "$rows_md"
    echo "<!-- bench_throughput:end -->"
)
echo "$section"
if [[ $write == 1 ]]; then
    python3 - BENCHMARKS.md "$section" <<'EOF'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
pat = re.compile(r"<!-- bench_throughput:begin -->.*?<!-- bench_throughput:end -->", re.S)
if pat.search(text):
    text = pat.sub(lambda m: section, text, count=1)
elif "<!-- bench:end -->" in text:
    text = text.replace("<!-- bench:end -->", "<!-- bench:end -->\n\n" + section, 1)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w", encoding="utf-8").write(text)
EOF
    log "wrote BENCHMARKS.md"
fi
