#!/usr/bin/env bash
# End-to-end `authbatch run` against qys-sandbox: the main job and the
# per-company outcomes.
#  1. 1,000 companies, no faults: all done, each stored ticket is the last one
#     the sandbox issued for that company, one attempt each, exit 0.
#  2. [AUTHED] -> already_authed, [INVALID] -> failed with code and message,
#     exit 1; a second run has nothing to do and still exits 1.
#  --csv imports first (a rejected row: exit 65 after a clean run);
#  3. --dry-run: nothing reaches the sandbox, the database file is unchanged
#     byte for byte, the output is redacted.
# stores: sqlite pg
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"

start_sandbox --token "$TOK" --secret "$SEC"

# --- 0. the same with everything on the run's own loop (--workers 0) and
# with several network threads (the default is one): same result
for w in 0 3; do
    import_n 300
    run_ab rw run --base-url "$URL" --rate 0 --concurrency 16 --progress none --workers $w
    eq "--workers $w: exit 0" "$RC" 0
    eq "--workers $w: every company done" "$(counts)" "done=300"
    eq "--workers $w: stored ticket = last ticket issued" "$(tickets_not_last | head -5)" ""
done
stop_sandbox
start_sandbox --token "$TOK" --secret "$SEC"

# --- 1. 1,000 companies, no faults
import_n 1000
run_ab r1 run --base-url "$URL" --rate 0 --concurrency 16 --progress none
eq "1000: exit 0" "$RC" 0
eq "1000: every company done" "$(counts)" "done=1000"
eq "1000: stored ticket = last ticket issued" "$(tickets_not_last | head -5)" ""
eq "1000: one ticket per company in the ledger" \
    "$(jq '[.tickets[].company] | unique | length' ledger.json),$(jq '.tickets | length' ledger.json)" \
    "1000,1000"
eq "1000: sandbox requests" "$(stat_of .requests)" 1000
eq "1000: attempts rows" "$(q "SELECT count(*), count(DISTINCT company_id),
    sum(outcome = 'issued'), sum(attempt_no = 1), sum(http_status = 200),
    sum(code = 0), sum(transport_error IS NULL) FROM attempts")" \
    "1000|1000|1000|1000|1000|1000|1000"
eq "1000: company columns" "$(q "SELECT count(*) FROM companies WHERE
    attempts = 1 AND length(ticket) = 32 AND ticket_at > 0
    AND last_http_status = 200 AND last_code = 0
    AND next_attempt_at IS NULL")" 1000
eq "1000: runs row" "$(q "SELECT (SELECT count(*) FROM runs), exit_status,
    attempts, issued, failed, CAST(ended_at >= started_at AS INTEGER),
    CAST(pid > 0 AS INTEGER) FROM runs")" "1|0|1000|1000|0|1|1"
check "1000: summary line" grep -q 'run: 1000 done, 0 already authed, 0 failed' r1.err
check "1000: no secret in the output or the database" \
    bash -c "! grep -rqF -- '$SEC' r1.out r1.err" && ! dump_db | grep -qF -- "$SEC"

run_ab r1b run --base-url "$URL" --rate 0 --progress none
eq "1000: a second run has nothing to do: exit 0" "$RC" 0
eq "1000: ...and sends nothing" "$(stat_of .requests)" 1000

# --- 2. already authenticated and invalid companies
{
    echo "companyName,applicantContact"
    for i in $(seq 1 20); do
        name="Mixed $i"
        ((i % 5 == 0)) && name="Mixed $i [AUTHED]"
        ((i % 7 == 0)) && name="Mixed $i [INVALID]"
        echo "$name,139$(printf '%08d' "$i")"
    done
} >mixed.csv
fresh_db
"$AB" import mixed.csv >/dev/null 2>&1
req0=$(stat_of .requests)
run_ab r2 run --base-url "$URL" --rate 0 --progress none
eq "mixed: exit 1 (some failed)" "$RC" 1
eq "mixed: statuses" "$(counts)" "already_authed=4 done=14 failed=2"
eq "mixed: already_authed rows" "$(q "SELECT group_concat(company_name, ';')
    FROM (SELECT company_name FROM companies WHERE status = 'already_authed'
    AND last_code = 1605 AND ticket IS NULL AND attempts = 1
    ORDER BY id) x")" "Mixed 5 [AUTHED];Mixed 10 [AUTHED];Mixed 15 [AUTHED];Mixed 20 [AUTHED]"
eq "mixed: failed rows keep code and message" "$(q "SELECT group_concat(
    company_name || '|' || last_code || '|' || last_message
    || '|' || last_http_status || '|' || attempts, ';') FROM (SELECT * FROM
    companies WHERE status = 'failed' ORDER BY id) x")" \
    "Mixed 7 [INVALID]|1005|INVALID PARAM|200|1;Mixed 14 [INVALID]|1005|INVALID PARAM|200|1"
eq "mixed: rejected is not retried" "$(($(stat_of .requests) - req0))" 20
eq "mixed: attempt outcomes" "$(q "SELECT group_concat(outcome || '=' || n, ' ')
    FROM (SELECT outcome, count(*) n FROM attempts GROUP BY outcome
    ORDER BY outcome) x")" "already_authed=4 issued=14 rejected=2"
eq "mixed: runs row" "$(q "SELECT exit_status, issued, already_authed, failed
    FROM runs")" "1|14|4|2"
run_ab r2b run --base-url "$URL" --rate 0 --progress none
# Exit 1 means "failed in this run": the failed rows of the first run are
# reported by status/report, not by every later run's exit status.
eq "mixed: second run exits 0 (nothing failed in it)" "$RC" 0
eq "mixed: the failed rows remain failed" "$(q "SELECT count(*) FROM companies
    WHERE status = 'failed'")" 2
eq "mixed: second run sends nothing" "$(($(stat_of .requests) - req0))" 20

# --- 3. --dry-run changes nothing and sends nothing
"$AB" retry >/dev/null 2>&1
q "INSERT INTO companies (company_name, applicant_contact, close_button)
   VALUES ('Dry Run Co', 'dry@example.com', 0)"
if [[ "$AB_STORE" == pg ]]; then
    db_sum() { dump_db | sha256sum; }
else
    q "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
    db_sum() { sha256sum <"$AUTHBATCH_DB"; }
fi
sum0=$(db_sum)
req0=$(stat_of .requests)
run_ab r3 run --base-url "$URL" --dry-run
eq "dry run: exit 0" "$RC" 0
eq "dry run: the sandbox received nothing" "$(stat_of .requests)" "$req0"
eq "dry run: database unchanged" "$(db_sum)" "$sum0"
eq "dry run: one request block per due company" \
    "$(grep -c "^POST $URL/companyauth/miniappexchange\$" r3.out)" 3
check "dry run: token redacted" grep -q '^x-qys-open-accesstoken: <redacted>$' r3.out
check "dry run: signature redacted" grep -q '^x-qys-open-signature: <redacted>$' r3.out
check "dry run: neither token nor secret printed" \
    bash -c "! grep -qF -e '$TOK' -e '$SEC' r3.out r3.err"
check "dry run: body shown" grep -qF \
    '{"companyName":"Dry Run Co","applicant":{"contact":"dry@example.com","contactType":"EMAIL"},"closeButton":false}' r3.out
eq "dry run: no run recorded" "$(q 'SELECT count(*) FROM runs')" 2
eq "dry run: statuses unchanged" "$(counts)" "already_authed=4 done=14 pending=3"
[[ "$AB_STORE" == pg ]] ||
    eq "dry run: no -wal left behind" "$(stat -c %s "$AUTHBATCH_DB-wal" 2>/dev/null || echo 0)" 0

# --- --csv imports first; a rejected row makes a clean run exit 65
fresh_db
make_csv csv.csv 5 "Csv"
echo "Csv bad,not-a-contact!" >>csv.csv
req0=$(stat_of .requests)
run_ab csv run --csv csv.csv --base-url "$URL" --rate 0 --progress none
eq "--csv: exit 65 (a row was rejected, the rest done)" "$RC" 65
eq "--csv: the good rows done" "$(counts)" "done=5"
eq "--csv: the bad row recorded" "$(q 'SELECT count(*) FROM rejected_rows')" 1
check "--csv: the bad row named" grep -q 'csv.csv:7: ' csv.err
eq "--csv: 5 requests" "$(($(stat_of .requests) - req0))" 5
run_ab dry_csv run --dry-run --csv csv.csv --base-url "$URL"
eq "--dry-run --csv: usage error" "$RC" 64

finish
