#!/usr/bin/env bash
# Every command on a PostgreSQL store (issue 18), and what happens when the
# database goes away under a run.
#  1. init: three at once on an empty database migrate it once (schema
#     version = the build's, one authbatch_schema row); a password on --db
#     is refused (64) and never echoed; other spellings of the spec.
#  2. import CSV (a bad row stored with its raw bytes, exit 65; a re-import
#     updates) and import --from-sqlite from another program's file.
#  3. status and report (text, json, csv, html) from another process while
#     a run is running, and after it; retry puts failed rows back.
#  4. the database stopped in the middle of a run (a partition, as the run
#     sees it): sending stops before the run's lease runs out, nothing is
#     lost, and when the database is back the run finishes: exit 0, every
#     company done with a ticket the sandbox issued.
set -euo pipefail
AB_STORE=pg
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"

latest=$(ls "$AB_SOURCE_DIR"/schema/*.sql | wc -l)

# --- 1. init
"$AB" init >i1.err 2>&1 &
p1=$!
"$AB" init >i2.err 2>&1 &
p2=$!
"$AB" init >i3.err 2>&1 &
p3=$!
rc=0
wait $p1 || rc=1
wait $p2 || rc=1
wait $p3 || rc=1
eq "init: three at once all succeed" "$rc" 0
eq "init: schema version row" "$(q "SELECT count(*), max(version) FROM authbatch_schema")" "1|$latest"
check "init: says the version" grep -q "is at schema version $latest" i1.err
eq "init: the tables of SPEC §3 and §6" "$(q "SELECT count(*) FROM information_schema.tables
    WHERE table_name IN ('companies', 'attempts', 'runs', 'rejected_rows',
                         'auth_events', 'runners')")" 6
run_ab pw --db "postgresql://postgres:s3cretpw@127.0.0.1:$PG_PORT/authbatch" init
eq "a password on --db: usage error" "$RC" 64
check "...and it is not echoed" bash -c "! grep -q s3cretpw pw.err"
run_ab kv --db "host=$PG_SOCKDIR port=$PG_PORT user=postgres dbname=authbatch" init
eq "a key=value spec works too" "$RC" 0
run_ab down --db "postgresql://postgres@127.0.0.1:1/authbatch" status
eq "an unreachable database: exit 74" "$RC" 74
check "...named without a password" grep -q "cannot open database 'postgresql://postgres@127.0.0.1:1/authbatch'" down.err

# --- 2. import
make_csv in.csv 200
printf 'Bad Co,not-a-contact!\n' >>in.csv
run_ab imp import in.csv
eq "import: a bad row makes it 65" "$RC" 65
eq "import: the good rows" "$(counts)" "pending=200"
eq "import: the bad row stored with its line and raw bytes" \
    "$(q "SELECT line, encode(raw, 'escape') FROM rejected_rows")" "202|Bad Co,not-a-contact!"
check "import: named FILE:LINE" grep -q 'in.csv:202: ' imp.err
{
    echo "companyName,applicantContact,legalPerson"
    echo "Company 1,13800000001,Zhang San"
} >upd.csv
run_ab upd import upd.csv
eq "re-import: exit 0" "$RC" 0
eq "re-import: the row updated" "$(q "SELECT legal_person FROM companies WHERE company_name = 'Company 1'")" "Zhang San"
eq "re-import: the old rejects of that file stay; in.csv's too" "$(q "SELECT count(*) FROM rejected_rows")" 1
sqlite3 crm.db "CREATE TABLE crm (name TEXT, phone TEXT);
    INSERT INTO crm VALUES ('Crm One', '13900000001'), ('Crm Two', 'bad');"
run_ab src import --from-sqlite crm.db --query "SELECT name AS companyName, phone AS applicantContact FROM crm"
eq "import --from-sqlite: 65 (one bad row)" "$RC" 65
eq "import --from-sqlite: the good one" "$(q "SELECT count(*) FROM companies WHERE company_name = 'Crm One'")" 1
eq "import --from-sqlite: the bad one stored" "$(q "SELECT count(*) FROM rejected_rows WHERE source LIKE '%crm.db%'")" 1

# --- 3. status and report while a run is running
start_sandbox --token "$TOK" --secret "$SEC" --latency-ms 5
q "UPDATE companies SET company_name = company_name || ' [INVALID]' WHERE id IN (5, 6)"
run_ab_bg live run --base-url "$URL" --rate 40 --progress none
live_pid=$AB_PID
wait_for 20 "the run has started" bash -c "[[ \$(curl -sS '$URL/__stats' | jq .requests) -gt 20 ]]"
run_ab st_live status --json
eq "status while running: exit 0" "$RC" 0
eq "status while running: names the run as running" "$(jq -r '.last_run.running' st_live.out)" true
eq "status while running: the total" "$(jq '.total' st_live.out)" 201
run_ab rep_live report --format json
eq "report while running: exit 0" "$RC" 0
AB_PID=$live_pid
run_ab_wait
eq "run: exit 1 (two failed)" "$RC" 1
eq "run: statuses" "$(counts)" "done=199 failed=2"
run_ab st status
eq "status: exit 0" "$RC" 0
check "status: the database named" grep -q "postgresql://postgres@127.0.0.1:$PG_PORT/authbatch" st.out
for f in text json csv html; do
    run_ab "rep_$f" report --format "$f" -o "report.$f" --with-tickets
    eq "report --format $f: exit 0" "$RC" 0
done
eq "report json: the summary" "$(jq -c '[.summary.counts.done, .summary.counts.failed]' report.json)" "[199,2]"
eq "report csv: a row per company and the header" "$(wc -l <report.csv)" 202
check "report csv: tickets when asked" grep -q "$(q "SELECT ticket FROM companies WHERE id = 1")" report.csv
check "report html: one page" grep -q '</html>' report.html
check "report text: the error codes" grep -q 1005 report.text
q "UPDATE companies SET company_name = replace(company_name, ' [INVALID]', '') WHERE status = 'failed'"
run_ab rt retry --code 1005
eq "retry: exit 0" "$RC" 0
eq "retry: failed back to pending" "$(counts)" "done=199 pending=2"
run_ab rt_run run --base-url "$URL" --rate 0 --progress none
eq "retry: the next run finishes them" "$(counts)" "done=201"
stop_sandbox TERM

# --- 4. the database goes away in the middle of a run
start_sandbox --token "$TOK" --secret "$SEC" --latency-ms 5
import_n 400
run_ab_bg part run --base-url "$URL" --rate 20 --concurrency 4 --timeout 2 \
    --lease 5s --progress none
part_pid=$AB_PID
reqs() { stat_of .requests; }
wait_for 20 "the run is sending" bash -c "[[ \$(curl -sS '$URL/__stats' | jq .requests) -gt 40 ]]"
pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
t_down=$SECONDS
t_down_ms=$(date +%s%3N)
# The lease is 5 s and a request may take 2 s: sending stops within 3 s.
# quiet_ms: when a count was taken that stayed the same for the next second
# (the moment sending had stopped by, whatever the probes cost).
quiet() {
    local r1 t1
    t1=$(date +%s%3N)
    r1=$(reqs)
    sleep 1
    [[ $(reqs) == "$r1" ]] && echo "$t1" >quiet_ms
}
wait_for 10 "the run to stop sending" quiet
quiet_after=$(($(cat quiet_ms) - t_down_ms))
le "partition: sending stopped within the lease ($quiet_after ms)" "$quiet_after" 5000
r_stop=$(reqs)
# Past the lease: still nothing sent (nobody else may have the rows now).
lease_over() { ((SECONDS - t_down >= 6)); }
wait_for 10 "the lease to run out" lease_over
eq "partition: nothing sent once the lease could have run out" "$(reqs)" "$r_stop"
check "partition: the run is alive, holding its results" kill -0 "$part_pid"
pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_SOCKDIR -c fsync=off -c full_page_writes=off" \
    start >/dev/null
AB_PID=$part_pid
run_ab_wait
eq "partition: the run finishes once the database is back: exit 0" "$RC" 0
eq "partition: every company done" "$(counts)" "done=400"
eq "partition: every stored ticket one the sandbox issued" "$(tickets_not_in_ledger | head -3)" ""
check "partition: the run said it could not renew" grep -q "cannot renew this run's leases" part.err
check "partition: ...and that it could again" grep -q "leases renewed again" part.err

finish
