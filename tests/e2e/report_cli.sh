#!/usr/bin/env bash
# End-to-end: `status`, `report` (every format) and `retry` with the real
# binary on tests/data/report_mix.sql (a known mix of outcomes), checked
# against the database with the sqlite3 CLI, jq, xmllint, python3's csv
# module, and headless Chromium when it is installed.
# Env: AUTHBATCH (binary), AB_TEST_DATA (tests/data).
set -euo pipefail

AB=${AUTHBATCH:?set AUTHBATCH to the authbatch binary}
DATA=${AB_TEST_DATA:?set AB_TEST_DATA to tests/data}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
export AUTHBATCH_DB="$WORK/t.db"
export TZ=UTC

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failed=$((failed + 1)); echo "FAIL: $1" >&2; }
eq() { # eq WHAT GOT WANT
    if [[ "$2" == "$3" ]]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi
}
has() { # has WHAT FILE TEXT
    if grep -qF -- "$3" "$2"; then ok "$1"; else
        bad "$1: '$3' not in $2:"; head -c 3000 "$2" | sed 's/^/    /' >&2
    fi
}
hasnt() { # hasnt WHAT FILE TEXT
    if grep -qF -- "$3" "$2"; then bad "$1: '$3' found in $2"; else ok "$1"; fi
}
run() { # run ARGS...: sets rc; stdout in out, stderr in err
    set +e
    "$AB" "$@" >out 2>err
    rc=$?
    set -e
}
q() { sqlite3 "$AUTHBATCH_DB" "$@"; }

"$AB" init 2>/dev/null
q <"$DATA/report_mix.sql"

# --- status
run status
eq "status exits 0" "$rc" 0
has "status counts" out "companies       12"
has "status percent" out "finished        58.3% (7 of 12; 25.0% failed)"
has "status retry due" out "retry_wait      2 (1 due)"
has "status last run" out "last run        #3"
has "status dead run" out "did not finish"
has "status last clean run" out "last clean run  2023-11-14 23:13:50 +0000"

run status --json
eq "status --json exits 0" "$rc" 0
eq "status --json total" "$(jq .total out)" 12
for s in pending in_flight retry_wait done already_authed failed; do
    eq "status --json counts.$s" "$(jq ".counts.$s" out)" \
        "$(q "SELECT count(*) FROM companies WHERE status = '$s'")"
done
eq "status --json shape" "$(jq -c 'keys' out)" \
    '["counts","database","due_retry","finished","last_run","last_success_at","last_success_at_ms","percent_done","retry","schema_version","total"]'
eq "status --json retry" "$(jq -c '.retry | [.waiting, .due, .next_at_ms]' out)" '[2,1,1000]'
eq "status --json last_run" \
    "$(jq -c '.last_run | [.id, .running, .exit_status, .ended_at_ms, .duration_s]' out)" \
    '[3,false,null,null,null]'
eq "status --json last success" "$(jq .last_success_at out)" '"2023-11-14T23:13:50Z"'
run status --bogus
eq "status unknown option: 64" "$rc" 64
run status extra
eq "status stray argument: 64" "$rc" 64

# --- report: text
run report
eq "report text exits 0" "$rc" 0
has "text summary" out "companies 12, finished 7 (58.3%)"
has "text error group" out "code 1005      2 companies (2 failed)"
has "text latency" out "p50 200 ms, p90 15000 ms, p99 45000 ms, max 45000 ms"
hasnt "text has no tickets" out "TKT-SECRET"
run report --with-tickets
eq "text tickets count" "$(grep -c 'ticket=TKT-SECRET-' out)" 3

# --- report: json
run report --format json
eq "json exits 0" "$rc" 0
if jq -e . out >/dev/null; then ok "json parses"; else bad "json parses"; fi
eq "json companies" "$(jq '.companies | length' out)" "$(q 'SELECT count(*) FROM companies')"
eq "json failed" "$(jq .summary.counts.failed out)" "$(q "SELECT count(*) FROM companies WHERE status='failed'")"
eq "json latency p99" "$(jq .summary.latency_ms.p99 out)" 45000
eq "json histogram sum" "$(jq '[.summary.latency_ms.histogram[].count] | add' out)" \
    "$(q 'SELECT count(*) FROM attempts')"
eq "json no ticket keys" "$(jq '[.companies[] | select(has("ticket"))] | length' out)" 0
run report --format json --status failed --with-tickets
eq "json --status rows" "$(jq -c '[.companies[].status] | unique' out)" '["failed"]'
eq "json --status count" "$(jq '.companies | length' out)" 3

# --- report: csv
run report --format csv --bom -o report.csv
eq "csv -o exits 0" "$rc" 0
eq "csv -o prints nothing" "$(cat out)" ""
eq "csv BOM" "$(head -c 3 report.csv | od -An -tx1 | tr -d ' ')" efbbbf
eq "csv CRLF rows" "$(grep -c $'\r$' report.csv)" 13 # header, 12 rows (the CR LF inside a message is filtered)
hasnt "csv has no tickets" report.csv "TKT-SECRET"
if command -v python3 >/dev/null; then
    got=$(python3 - report.csv <<'PY'
import csv, sys
with open(sys.argv[1], newline='', encoding='utf-8-sig') as f:
    rows = list(csv.reader(f, strict=True))
assert rows[0][:4] == ['id', 'company_name', 'register_no', 'status'], rows[0]
assert all(len(r) == 9 for r in rows), [len(r) for r in rows]
byid = {r[0]: r for r in rows[1:]}
assert byid['2'][1] == 'Beta, "Quoted" Co'
assert byid['6'][7] == 'invalid param: legalPerson  second line'
assert byid['5'][1] == '测试有限公司'
print(len(rows) - 1)
PY
)
    eq "csv parses back (python csv, strict)" "$got" 12
else
    echo "skip: python3 not installed, csv not parsed back"
fi

# --- report -o is atomic: replaces, leaves no temporary file, and a failed
# write leaves the old file alone.
mkdir outdir
echo old >outdir/r.json
run report --format json -o outdir/r.json
eq "json -o exits 0" "$rc" 0
eq "json -o replaced" "$(jq .summary.total outdir/r.json)" 12
eq "json -o no temp file" "$(ls -A outdir | tr '\n' ' ')" "r.json "
run report --format json -o nosuchdir/r.json
eq "report -o into a missing directory: 74" "$rc" 74
has "report -o error names the file" err "nosuchdir/r.json"

# --- report: html
run report --format html -o report.html
eq "html exits 0" "$rc" 0
if command -v xmllint >/dev/null; then
    if xmllint --noout report.html 2>xml.err; then ok "html is well-formed"; else
        bad "html is well-formed"; cat xml.err >&2; fi
    xp() { xmllint --xpath "$1" report.html 2>/dev/null; }
    for s in pending in_flight retry_wait done already_authed failed; do
        eq "html chart data-count for $s" \
            "$(xp "string(//*[local-name()='rect'][@data-status='$s']/@data-count)")" \
            "$(q "SELECT count(*) FROM companies WHERE status = '$s'")"
    done
    eq "html code chart 1005" \
        "$(xp "string(//*[local-name()='rect'][@data-code='1005']/@data-count)")" \
        "$(q "SELECT count(*) FROM companies WHERE last_code = 1005 AND status NOT IN ('done','already_authed')")"
    eq "html throughput sums to attempts" \
        "$(xp "sum(//*[local-name()='rect'][@data-bucket-start]/@data-count)")" \
        "$(q 'SELECT count(*) FROM attempts')"
    eq "html latency sums to attempts" \
        "$(xp "sum(//*[local-name()='rect'][@data-lo-ms]/@data-count)")" \
        "$(q 'SELECT count(*) FROM attempts')"
    eq "html run chart" \
        "$(xp "count(//*[local-name()='rect'][@data-run-id])")" \
        "$(q 'SELECT count(*) FROM runs')"
    eq "html table rows" "$(xp "count(//*[local-name()='tr'][@data-status])")" 12
else
    echo "skip: xmllint not installed (Debian package libxml2-utils)"
fi
hasnt "html escapes names" report.html "<script>alert"
hasnt "html has no tickets" report.html "TKT-SECRET"
hasnt "html loads nothing external" report.html 'src="http'
run report --format html --max-rows 4 -o capped.html
has "html cap note" capped.html 'data-shown="4" data-total="12"'

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [[ -n "$CHROMIUM" ]]; then
    copts=(--headless --no-sandbox --disable-gpu --disable-background-networking
        --disable-component-update --disable-sync --no-first-run
        --user-data-dir="$WORK/chrome")
    timeout 120 "$CHROMIUM" "${copts[@]}" --dump-dom "file://$WORK/report.html" \
        >dom.html 2>/dev/null || true
    has "chromium ran the page script to the end" dom.html 'data-ready="1"'
    timeout 120 "$CHROMIUM" "${copts[@]}" --screenshot="$WORK/r.png" \
        --window-size=1280,2000 "file://$WORK/report.html" >/dev/null 2>&1 || true
    if [[ -s r.png ]]; then ok "chromium screenshot"; else bad "chromium screenshot"; fi
else
    echo "skip: chromium not installed (Debian package chromium); page not rendered"
fi

# --- report: usage errors
run report --format xml
eq "report bad format: 64" "$rc" 64
run report --status nope
eq "report bad status: 64" "$rc" 64
run report extra
eq "report stray argument: 64" "$rc" 64
run report --help
eq "report --help: 0" "$rc" 0

# --- retry
run retry --status done
eq "retry --status done refused: 64" "$rc" 64
run retry --code abc
eq "retry bad code: 64" "$rc" 64
run retry --code 1005
eq "retry --code exits 0" "$rc" 0
has "retry says how many" out "2 failed companies with code 1005 put back to pending"
eq "retry moved them" "$(q "SELECT group_concat(id) FROM companies WHERE status='pending' AND attempts=0 AND next_attempt_at IS NULL AND id IN (3,6)")" "3,6"
run retry --status failed
has "retry the rest" out "1 failed company put back to pending"
eq "no failed left" "$(q "SELECT count(*) FROM companies WHERE status='failed'")" 0
eq "done rows and tickets untouched" \
    "$(q "SELECT group_concat(id || ':' || ticket) FROM companies WHERE status='done'")" \
    "1:TKT-SECRET-0001,2:TKT-SECRET-0002,4:TKT-SECRET-0004"
run retry
has "retry with nothing to do" out "0 failed companies put back to pending"

# --- a database that cannot be opened
run --db "$WORK/nodir/x.db" status
eq "status on an unopenable database: 74" "$rc" 74

echo "$passed passed, $failed failed"
((failed == 0))
