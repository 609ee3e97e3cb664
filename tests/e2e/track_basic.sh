#!/usr/bin/env bash
# `authbatch track` and `run --track` against the sandbox's applicants (SPEC
# §6, issue 13), on a compressed clock (20 ms per vendor minute):
#  1. 1,000 companies, a third of the names holding '&', '+', '=' or spaces:
#     `run --track` requests the tickets and polls them in the same loop;
#     once the stories are over, `track --now` finishes: every auth_status
#     and auth_request_id equals the sandbox's truth; every result answer is
#     one event; each company's events are its checks, keys unique.
#  2. the schedule: a final company is never polled again; `track` with
#     nothing due sends nothing and exits 0; the defaults stay in the help.
#  3. an unknown status value: kept raw in the event, the status unchanged,
#     one warning for the value.
#  4. `retry --auth rejected,expired` and `run --reissue-after`: new
#     tickets, the auth state and callback tokens reset, schedules restart.
# stores: sqlite pg
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"
# shellcheck source=lib_track.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib_track.sh"

N=1000
start_sandbox --token "$TOK" --secret "$SEC" --seed 13 --auth-time-scale 20 \
    --auth-applicant-field mixed --no-callbacks
make_tricky_csv in.csv $N
"$AB" import in.csv >/dev/null 2>&1
eq "a third of the names are tricky" \
    "$(q "SELECT count(*) FROM companies WHERE (company_name LIKE '%&%' OR company_name LIKE '%+%'
          OR company_name LIKE '%=%')
          OR company_name LIKE '%  %'")" 333

# --- 1. run --track, then track --now once the stories are over
run_ab r1 run --track --base-url "$URL" --rate 0 --concurrency 16 \
    --first-check 0 --max-check 1s --progress none --callback-base http://127.0.0.1:9/cb
eq "run --track: exit 0" "$RC" 0
eq "run --track: every ticket issued" "$(counts)" "done=$N"
polls1=$(q "SELECT polls FROM runs WHERE id = 1")
check "run --track polled in the same loop ($polls1 polls)" test "$polls1" -ge "$N"
eq "run --track: runs row" "$(q "SELECT command, attempts, issued FROM runs")" "run|$N|$N"
eq "run --track: each poll request is an event" \
    "$(q "SELECT count(*) FROM auth_events WHERE run_id = 1")" "$polls1"
wait_for 30 "every applicant's story is over" settled
run_ab t1 track --now --base-url "$URL" --rate 0 --concurrency 16 --progress none
eq "track --now: exit 0" "$RC" 0
truth_tsv truth.tsv
stored_tsv stored.tsv
eq "every auth_status and auth_request_id equals the truth" \
    "$(diff truth.tsv stored.tsv | head -5)" ""
eq "all five statuses occur" \
    "$(q "SELECT count(DISTINCT auth_status) FROM companies")" 5
eq "tricky names: their statuses equal the truth too (none unknown to the sandbox)" \
    "$(q "SELECT count(*) FROM companies WHERE (company_name LIKE '%&%' OR company_name LIKE '%+%'
          OR company_name LIKE '%=%')
          AND auth_request_id IS NULL")" 0
eq "every result answer is one event" \
    "$(q "SELECT count(*) FROM auth_events")" "$(stat_of .answers.result)"
eq "no request was refused or retried" \
    "$(stat_of '.answers.fatal + .answers.transient + .answers.rejected')" 0
eq "each company's events are its checks, one key each" \
    "$(q "SELECT count(*) FROM companies c WHERE auth_checks != (SELECT
          count(DISTINCT dedupe_key) FROM auth_events e WHERE e.company_id = c.id
          AND e.source = 'poll' AND e.dedupe_key LIKE 'poll:%')")" 0
eq "rejections carry the reason" \
    "$(q "SELECT count(*) FROM companies WHERE auth_status = 'rejected'
          AND (auth_reason IS NULL OR auth_reason = '')")" 0
eq "final companies are no longer tracked; the others are" \
    "$(q "SELECT count(*) FROM companies WHERE (auth_status IN
          ('authenticated', 'rejected', 'expired')) = (auth_next_check_at IS NOT NULL)")" 0
eq "the event keeps the answer's fields (both applicant spellings)" \
    "$(q "SELECT CAST(count(*) > 0 AS INTEGER) FROM auth_events WHERE
          json_extract(fields, '$.result.applicant') IS NOT NULL")|$(q "SELECT
          CAST(count(*) > 0 AS INTEGER) FROM auth_events WHERE json_extract(fields, '\$.result.applicantName') IS NOT NULL")" "1|1"
eq "track runs row" "$(q "SELECT command, attempts, CAST(polls = (SELECT
    count(*) FROM auth_events WHERE run_id = runs.id) AS INTEGER), exit_status
    FROM runs WHERE id = 2")" \
    "track|0|1|0"
check "track summary line" grep -q 'track: [0-9]* polled, 0 polls given up' t1.err

# --- 2. the schedule
open=$(q "SELECT count(*) FROM companies WHERE auth_next_check_at IS NOT NULL")
req0=$(stat_of .requests)
run_ab t2 track --now --base-url "$URL" --rate 0 --progress none
eq "track --now again: exit 0" "$RC" 0
eq "...polls only the companies not final ($open)" "$(($(stat_of .requests) - req0))" "$open"
q "UPDATE companies SET auth_next_check_at = auth_next_check_at + 3600000
   WHERE auth_next_check_at IS NOT NULL"
req0=$(stat_of .requests)
run_ab t3 track --base-url "$URL" --rate 0 --progress none
eq "track with nothing due: exit 0" "$RC" 0
eq "...and sends nothing" "$(stat_of .requests)" "$req0"
"$AB" track --help >help.txt
check "track --help documents the schedule" grep -q 'default 2m' help.txt
check "track --help documents the cap" grep -q 'default 24h' help.txt

# --- 3. an unknown status value
stop_sandbox
start_sandbox --token "$TOK" --secret "$SEC" --seed 13 --auth-time-scale 20 \
    --auth-unknown-status 5 0.5 --no-callbacks
fresh_db
make_tricky_csv small.csv 100
"$AB" import small.csv >/dev/null 2>&1
run_ab r4 run --base-url "$URL" --rate 0 --progress none
wait_for 30 "the stories are over" settled
run_ab t4 track --now --base-url "$URL" --rate 0 --progress none
eq "unknown status: exit 0" "$RC" 0
unknown=$(q "SELECT count(*) FROM auth_events WHERE raw_status = '5'")
check "some answers carried status 5 ($unknown)" test "$unknown" -gt 10
eq "...kept raw, mapped to nothing, not applied" \
    "$(q "SELECT count(*) FROM auth_events WHERE raw_status = '5'
          AND auth_status IS NULL AND applied = 0")" "$unknown"
eq "...and those companies' status left unchanged (still unknown)" \
    "$(q "SELECT count(*) FROM companies c WHERE auth_status IS NOT NULL AND
          NOT EXISTS (SELECT 1 FROM auth_events e WHERE e.company_id = c.id
          AND e.applied = 1)")" 0
eq "one warning for the value" "$(grep -c "status '5'" t4.err)" 1

# --- 4. re-issuing
stop_sandbox
start_sandbox --token "$TOK" --secret "$SEC" --seed 21 --auth-time-scale 20 \
    --no-callbacks
fresh_db
make_tricky_csv re.csv 200
"$AB" import re.csv >/dev/null 2>&1
run_ab r5 run --base-url "$URL" --rate 0 --progress none --callback-base http://127.0.0.1:9/cb
wait_for 30 "the stories are over" settled
run_ab t5 track --now --base-url "$URL" --rate 0 --progress none
eq "before re-issue: statuses equal the truth" \
    "$(truth_tsv a.tsv; stored_tsv b.tsv; diff a.tsv b.tsv | head -3)" ""
bad=$(q "SELECT count(*) FROM companies WHERE auth_status IN ('rejected', 'expired')")
check "some rejected or expired ($bad)" test "$bad" -gt 10
run_ab x1 retry --auth rejected,expired
eq "retry --auth: exit 0" "$RC" 0
check "retry --auth says how many" grep -q "^$bad companies put back" x1.out
eq "...those are pending, attempts reset, auth state and token cleared" \
    "$(q "SELECT count(*) FROM companies WHERE status = 'pending' AND attempts = 0
          AND auth_status IS NULL AND callback_token IS NULL
          AND auth_next_check_at IS NULL")" "$bad"
run_ab x2 retry --auth authenticated
eq "retry --auth authenticated: refused (64)" "$RC" 64
run_ab tbad track --first-check xyz
eq "track --first-check xyz: usage error" "$RC" 64
check "...named as track's" grep -q "track: invalid value 'xyz' for --first-check" tbad.err
run_ab r6 run --base-url "$URL" --rate 0 --progress none --first-check 0
eq "the new tickets: exit 0" "$RC" 0
eq "...every re-issued company has two tickets in the ledger" \
    "$(ledger | jq '[.tickets | group_by(.company)[] | select(length == 2)] | length')" "$bad"
eq "...and a schedule again, from its first check" \
    "$(q "SELECT count(*) FROM companies WHERE auth_checks = 0
          AND auth_next_check_at IS NOT NULL AND auth_status IS NULL")" "$bad"
wait_for 30 "the new stories are over" settled
run_ab t6 track --base-url "$URL" --rate 0 --progress none
eq "after re-issue: statuses equal the truth" \
    "$(truth_tsv a.tsv; stored_tsv b.tsv; diff a.tsv b.tsv | head -3)" ""
# --reissue-after: unused tickets (NULL or not_started) older than 30m.
q "UPDATE companies SET ticket_at = ticket_at - 3600000 WHERE id <= 100"
unused=$(q "SELECT count(*) FROM companies WHERE id <= 100 AND status = 'done'
            AND (auth_status IS NULL OR auth_status = 'not_started')")
t0=$(ledger | jq '.tickets | length')
run_ab r7 run --base-url "$URL" --rate 0 --progress none --reissue-after 30m
eq "run --reissue-after: exit 0" "$RC" 0
check "run --reissue-after says how many" grep -q "run: $unused unused tickets" r7.err
eq "...re-issued exactly the unused old ones" \
    "$(($(ledger | jq '.tickets | length') - t0))" "$unused"
finish
