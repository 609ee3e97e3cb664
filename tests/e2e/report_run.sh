#!/usr/bin/env bash
# End-to-end: a real `authbatch run` against qys-sandbox with faults, watched
# the ways operations staff and cron watch it: log-mode progress lines, the
# bar on a pseudo-terminal (script(1)), the --metrics-file validated by
# promtool and compared with the database, a failing --ping-url that must
# only warn, then `status --json` and the HTML report against the database.
# Env: AUTHBATCH, QYS_SANDBOX, AB_SOURCE_DIR.
set -euo pipefail

AB=${AUTHBATCH:?set AUTHBATCH to the authbatch binary}
SANDBOX=${QYS_SANDBOX:-}
if [[ -z "$SANDBOX" || ! -x "$SANDBOX" ]]; then
    echo "skip: qys-sandbox not built ($SANDBOX)"
    exit 0
fi
# shellcheck source=../sandbox/lib.sh
source "${AB_SOURCE_DIR:?}/tests/sandbox/lib.sh"
cd "$WORK"
export AUTHBATCH_DB="$WORK/t.db" QYS_ACCESS_TOKEN=$TOK QYS_ACCESS_SECRET=$SEC
q() { sqlite3 "$AUTHBATCH_DB" "$@"; }
metric() { awk -v k="$1" '$1 == k { print $2 }' m.prom; }

start_sandbox --token "$TOK" --secret "$SEC" --seed 7 --fault-5xx 0.15 \
    --fault-429 0.03 --retry-after 1 --fault-throttle 0.03

# 55 companies: 5 rejected (1005), 3 already authenticated.
{
    echo "companyName,applicantContact"
    for i in $(seq 1 55); do
        name="Company $i"
        ((i % 11 == 0)) && name="Company $i [INVALID]"
        ((i % 17 == 0)) && name="Company $i [AUTHED]"
        echo "$name,1380000$(printf '%04d' "$i")"
    done
} >c.csv
"$AB" import c.csv 2>/dev/null

# --- log mode, metrics, failing ping. 5 req/s: the run lasts over 10 s, so
# at least one periodic line comes before the final one.
set +e
"$AB" run --base-url "$URL" --rate 5 --concurrency 4 --retry-base-ms 50 \
    --retry-max-ms 300 --max-attempts 8 --progress log \
    --metrics-file "$WORK/m.prom" --ping-url "$URL/ping/secret-check-uuid" \
    >run.out 2>run.err
rc=$?
set -e
eq "run with rejected companies exits 1" "$rc" 1
lines=$(grep -c '^authbatch: progress: ' run.err || true)
check "progress: periodic and final lines ($lines)" test "$lines" -ge 2
check "progress: final line reports all finished" \
    grep -q '^authbatch: progress: 55/55 finished (100.0%)' run.err
check "progress: no carriage returns in log mode" bash -c "! grep -q $'\r' run.err"
check "ping: failure only warned, host named" \
    grep -q "warning: ping to '127.0.0.1' failed" run.err
check "ping: the check id is never logged" \
    bash -c "! grep -q secret-check-uuid run.err run.out"

if command -v promtool >/dev/null; then
    check "metrics: promtool check metrics" promtool check metrics <m.prom
else
    echo "skip: promtool not installed (Debian package prometheus)"
fi
eq "metrics: exit status" "$(metric authbatch_run_exit_status)" 1
eq "metrics: not running" "$(metric authbatch_run_running)" 0
for s in done failed already_authed pending; do
    eq "metrics: companies $s = database" \
        "$(metric "authbatch_companies{status=\"$s\"}")" \
        "$(q "SELECT count(*) FROM companies WHERE status = '$s'")"
done
eq "metrics: requests = attempts of the run" \
    "$(awk '/^authbatch_run_requests_total\{/ { s += $2 } END { print s }' m.prom)" \
    "$(q 'SELECT count(*) FROM attempts WHERE run_id = (SELECT max(id) FROM runs)')"
eq "metrics: no success yet" "$(metric authbatch_last_success_timestamp_seconds)" 0.000
eq "metrics: no temporary files" "$(ls -A "$WORK" | grep -c '^\.m\.prom\.' || true)" 0

# --- status and report agree with the database after a real run
"$AB" status --json >status.json
eq "status: last run exit status" "$(jq .last_run.exit_status status.json)" 1
eq "status: last run attempts" "$(jq .last_run.attempts status.json)" \
    "$(q 'SELECT count(*) FROM attempts WHERE run_id = (SELECT max(id) FROM runs)')"
eq "status: failed" "$(jq .counts.failed status.json)" 5
"$AB" report --format html -o r.html
if command -v xmllint >/dev/null; then
    check "report: html well-formed" xmllint --noout r.html
    for s in done failed already_authed; do
        eq "report: chart $s = database" \
            "$(xmllint --xpath "string(//*[local-name()='rect'][@data-status='$s']/@data-count)" r.html)" \
            "$(q "SELECT count(*) FROM companies WHERE status = '$s'")"
    done
    eq "report: throughput = attempts" \
        "$(xmllint --xpath "sum(//*[local-name()='rect'][@data-bucket-start]/@data-count)" r.html)" \
        "$(q 'SELECT count(*) FROM attempts')"
fi

# --- the bar on a terminal: script(1) gives the run a pseudo-terminal.
if command -v script >/dev/null; then
    for i in $(seq 56 70); do echo "Company $i,1390000$(printf '%04d' "$i")"; done |
        sed '1i companyName,applicantContact' >d.csv
    "$AB" import d.csv 2>/dev/null
    "$AB" retry --code 1005 >/dev/null # they fail again: still exit 1
    set +e
    TERM=xterm COLUMNS=100 script -qefc "'$AB' run --base-url '$URL' --rate 20 \
        --retry-base-ms 50 --retry-max-ms 300 --max-attempts 8" \
        /dev/null >tty.out 2>&1
    rc=$?
    set -e
    eq "bar: run exits 1" "$rc" 1
    check "bar: redrawn in place" grep -q $'\r\\[' tty.out
    check "bar: clears to end of line" grep -q $'\e\\[K' tty.out
    check "bar: no log-mode lines on a terminal" \
        bash -c "! grep -q 'authbatch: progress:' tty.out"
else
    echo "skip: script(1) not installed (Debian package bsdutils)"
fi

# --- a second, clean run: success is recorded for monitoring.
"$AB" retry >/dev/null
q "UPDATE companies SET company_name = replace(company_name, ' [INVALID]', '') WHERE status = 'pending'"
set +e
"$AB" run --base-url "$URL" --rate 0 --retry-base-ms 50 --retry-max-ms 300 \
    --max-attempts 10 --progress none --metrics-file "$WORK/m.prom" \
    >/dev/null 2>run2.err
rc=$?
set -e
eq "clean run exits 0" "$rc" 0
check "progress none: no progress lines" \
    bash -c "! grep -q 'progress:' run2.err"
eq "metrics: exit 0" "$(metric authbatch_run_exit_status)" 0
check "metrics: last success set" \
    test "$(metric authbatch_last_success_timestamp_seconds | cut -d. -f1)" -gt 1700000000
eq "status: last success = last run end" \
    "$("$AB" status --json | jq .last_success_at_ms)" \
    "$(q 'SELECT ended_at FROM runs ORDER BY id DESC LIMIT 1')"

finish
