#!/usr/bin/env bash
# Tracking benchmark (issue 13): `track` of BENCH_TRACK_COMPANIES companies
# at --rate 0 against the sandbox, compared with `run` (the tickets) in the
# same invocation: a poll should cost about what a ticket costs, per
# company, in wall time and in authbatch's CPU time.
#
# Each of BENCH_RUNS rounds: a fresh database of N pending companies (a
# third of the names with '&', '+', '=' or spaces, so every poll URL is
# percent-encoded), `run --rate 0 --concurrency C --first-check 0` (N
# tickets), then `track --now --rate 0 --concurrency C` (N polls). Checks:
# N companies done, N poll events, every status known. Medians.
#
# Usage: scripts/bench_track.sh
# Env: AUTHBATCH, QYS_SANDBOX (binaries; default: builds build-bench/,
#      Release), BENCH_RUNS (3), BENCH_TRACK_COMPANIES (100000),
#      BENCH_TRACK_CONC (16), BENCH_WRITE (1: write the section of
#      BENCHMARKS.md between <!-- bench-track:begin/end -->; 0: print).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

runs=${BENCH_RUNS:-3}
n=${BENCH_TRACK_COMPANIES:-100000}
conc=${BENCH_TRACK_CONC:-16}
write=${BENCH_WRITE:-1}
log() { echo "bench_track: $*" >&2; }

[[ -x /usr/bin/time ]] || scripts/deps.sh time
if [[ -z "${AUTHBATCH:-}" || -z "${QYS_SANDBOX:-}" ]]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build-bench -j "$(nproc)" --target authbatch qys-sandbox >/dev/null
    AUTHBATCH=${AUTHBATCH:-$root/build-bench/authbatch}
    QYS_SANDBOX=${QYS_SANDBOX:-$root/build-bench/qys-sandbox}
fi
ab=$AUTHBATCH
sbx=$QYS_SANDBOX

work=$(mktemp -d)
spid=
cleanup() {
    [[ -z "$spid" ]] || kill -KILL "$spid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

export QYS_ACCESS_TOKEN=bench-token QYS_ACCESS_SECRET=bench-secret
mkfifo "$work/sbx.out"
"$sbx" --port 0 --token "$QYS_ACCESS_TOKEN" --secret "$QYS_ACCESS_SECRET" \
    --auth-time-scale 20 --no-callbacks >"$work/sbx.out" 2>"$work/sbx.err" &
spid=$!
exec {sfd}<"$work/sbx.out"
IFS= read -r -t 20 line <&"$sfd" || { log "sandbox did not start"; exit 1; }
url=${line#listening on }

# timed NAME ARGS...: runs authbatch, appends "wall user sys" to NAME.
timed() {
    local name=$1
    shift
    /usr/bin/time -f '%e %U %S' -o "$work/t" "$ab" -q "$@" 2>>"$work/ab.err" || {
        log "authbatch $* failed: $(tail -3 "$work/ab.err")"
        exit 1
    }
    cat "$work/t" >>"$work/$name"
}

for r in $(seq 1 "$runs"); do
    db=$work/r$r.db
    "$ab" --db "$db" init >/dev/null 2>&1
    sqlite3 "$db" "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL
        SELECT i + 1 FROM k WHERE i < $n)
      INSERT INTO companies (company_name, applicant_contact, created_at,
        updated_at)
      SELECT CASE i % 3 WHEN 0 THEN printf('A&B+C=D 有限公司 %07d', i)
             ELSE printf('Track Co %07d', i) END, printf('138%08d', i), 1, 1
      FROM k; PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
    log "round $r/$runs: run ($n tickets)"
    timed run --db "$db" run --base-url "$url" --rate 0 --concurrency "$conc" \
        --first-check 0 --progress none
    log "round $r/$runs: track --now ($n polls)"
    timed track --db "$db" track --now --base-url "$url" --rate 0 \
        --concurrency "$conc" --progress none
    got=$(sqlite3 "$db" "SELECT (SELECT count(*) FROM companies WHERE
        status = 'done'), (SELECT count(*) FROM auth_events WHERE run_id = 2),
        (SELECT count(*) FROM companies WHERE auth_status IS NULL)")
    [[ $got == "$n|$n|0" ]] || { log "round $r: got $got, want $n|$n|0"; exit 1; }
    rm -f "$db" "$db"-wal "$db"-shm
done

# Per company, µs: wall, and authbatch's CPU (user + sys).
per() { awk -v n="$n" -v f="$2" '{ print (f == 1 ? $1 : $2 + $3) * 1e6 / n }' "$work/$1"; }
run_wall=$(per run 1 | median); run_cpu=$(per run 2 | median)
trk_wall=$(per track 1 | median); trk_cpu=$(per track 2 | median)
list() { per "$1" "$2" | awk '{ printf "%s%.1f", (NR > 1 ? " " : ""), $1 }'; }
load=$(cut -d' ' -f1-3 /proc/loadavg)

section=$(
    echo "<!-- bench-track:begin -->"
    echo "## Tracking: track vs run per company (scripts/bench_track.sh)"
    echo
    echo "Written on $(date -u '+%Y-%m-%d %H:%M') UTC; medians of $runs rounds; load average at the end: $load ($(nproc) CPUs; on a shared machine, treat these as loaded-machine figures)."
    echo
    echo "- authbatch $("$ab" --version | cut -d' ' -f2), each round on a fresh database of $n companies (a third of the names with \`&\`, \`+\`, \`=\` and spaces): \`run --rate 0 --concurrency $conc --first-check 0\` ($n tickets), then \`track --now --rate 0 --concurrency $conc\` ($n signed GETs, one event each), against qys-sandbox on loopback; checked: $n done, $n poll events, no status unknown"
    echo "- CPU = authbatch's user + sys time (GNU time), the sandbox's not included"
    echo
    echo "| per company | run (ticket) | track (poll) | track / run | rounds: run; track |"
    echo "|---|---|---|---|---|"
    echo "| wall time | $(calc %.1f "$run_wall") µs | $(calc %.1f "$trk_wall") µs | $(calc %.2f "$trk_wall / $run_wall")× | $(list run 1); $(list track 1) |"
    echo "| authbatch CPU | $(calc %.1f "$run_cpu") µs | $(calc %.1f "$trk_cpu") µs | $(calc %.2f "$trk_cpu / $run_cpu")× | $(list run 2); $(list track 2) |"
    echo "<!-- bench-track:end -->"
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
pat = re.compile(r"<!-- bench-track:begin -->.*?<!-- bench-track:end -->", re.S)
if pat.search(text):
    text = pat.sub(lambda m: section, text, count=1)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w", encoding="utf-8").write(text)
PY
    log "wrote BENCHMARKS.md"
fi
