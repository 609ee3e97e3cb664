#!/usr/bin/env bash
# End-to-end `authbatch run`: the limits an operator sets, measured by the
# sandbox.
#  - --rate 50 --burst 1: no wall-clock second sees more than rate + burst;
#  - --concurrency 4 with slow answers: never more than 4 at once (and 4);
#  - --limit 10: exactly 10 companies attempted, exit 75;
#  - --max-runtime 2s on a slow server: exit 75 after in-flight requests
#    finish, nothing left in flight.
# stores: sqlite pg
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"

# --- --rate 50
start_sandbox --token "$TOK" --secret "$SEC"
import_n 300
run_ab rate run --base-url "$URL" --rate 50 --burst 1 --concurrency 16 \
    --progress none
eq "rate: exit 0" "$RC" 0
eq "rate: all done" "$(counts)" "done=300"
le "rate: max per second <= rate + burst" "$(stat_of .max_per_second)" 51
le "rate: the rate is used (max per second >= 40)" 40 "$(stat_of .max_per_second)"
# 300 requests at 50/s, starting with one token: at least 299 intervals.
run_ms=$(q "SELECT max(started_at) - min(started_at) FROM attempts")
le "rate: 300 requests take >= 5.9 s ($run_ms ms)" 5900 "$run_ms"
le "rate: ...and not much more than 6 s" "$run_ms" 8000
stop_sandbox TERM

# --- --concurrency 4 with slow answers
start_sandbox --token "$TOK" --secret "$SEC" --latency-ms 200
import_n 40
run_ab conc run --base-url "$URL" --rate 0 --concurrency 4 --progress none
eq "concurrency: exit 0" "$RC" 0
eq "concurrency: all done" "$(counts)" "done=40"
eq "concurrency: sandbox max_concurrent = 4" "$(stat_of .max_concurrent)" 4
eq "concurrency: 40 requests" "$(stat_of .requests)" 40
le "concurrency: 10 rounds of 200 ms, not serial" "$SECS" 5

# --- --limit 10
req0=$(stat_of .requests)
import_n 50
run_ab limit run --base-url "$URL" --rate 0 --concurrency 4 --limit 10 \
    --progress none
eq "limit: exit 75 (work remains)" "$RC" 75
eq "limit: 10 companies attempted" "$(counts)" "done=10 pending=40"
eq "limit: 10 requests" "$(($(stat_of .requests) - req0))" 10
eq "limit: runs row" "$(q 'SELECT exit_status, attempts FROM runs')" "75|10"
run_ab limit2 run --base-url "$URL" --rate 0 --concurrency 4 --progress none
eq "limit: the next run finishes: exit 0" "$RC" 0
eq "limit: all done" "$(counts)" "done=50"

# --- --limit counts every company it claims: retries left by earlier runs too
import_n 30
q "UPDATE companies SET status = 'retry_wait', attempts = 1, next_attempt_at = 0"
req0=$(stat_of .requests)
run_ab limit3 run --base-url "$URL" --rate 0 --concurrency 4 --limit 5 \
    --progress none
eq "limit: earlier retries count too: exit 75" "$RC" 75
eq "limit: 5 requests, retries of earlier runs included" \
    "$(($(stat_of .requests) - req0))" 5
eq "limit: 5 done, the rest still waiting" "$(counts)" "done=5 retry_wait=25"

# --- a row another program inserted with bytes that are not UTF-8: failed
# with a reason, without a request, and the run goes on and ends
# (PostgreSQL refuses such bytes itself: nothing for the run to catch.)
import_n 3
if [[ "$AB_STORE" == pg ]]; then
    if q "INSERT INTO companies (company_name, applicant_contact)
          VALUES (convert_from('\\x436fe9', 'UTF8'), '13800000099')" \
        2>/dev/null; then
        fail "bad utf-8 row: PostgreSQL took the bytes"
    else
        pass "bad utf-8 row: PostgreSQL refuses them"
    fi
else
    q "INSERT INTO companies (company_name, applicant_contact)
       VALUES (CAST(X'436FE9' AS TEXT), '13800000099')"
    req0=$(stat_of .requests)
    run_ab badutf8 run --base-url "$URL" --rate 0 --progress none
    eq "bad utf-8 row: exit 1 (failed in this run)" "$RC" 1
    eq "bad utf-8 row: the others done" "$(counts)" "done=3 failed=1"
    eq "bad utf-8 row: not sent" "$(($(stat_of .requests) - req0))" 3
    eq "bad utf-8 row: the reason is stored" "$(q "SELECT last_message FROM
        companies WHERE status = 'failed'")" \
        "not sent: companyName is not valid UTF-8 (bad byte 0xE9 at byte 3)"
fi
stop_sandbox TERM

# --- --max-runtime on a slow server
start_sandbox --token "$TOK" --secret "$SEC" --latency-ms 700
import_n 100
run_ab maxrt run --base-url "$URL" --rate 0 --concurrency 4 \
    --max-runtime 2s --progress none
eq "max-runtime: exit 75" "$RC" 75
le "max-runtime: stops soon after 2 s" "$SECS" 4
le "max-runtime: ran about 2 s" 2 "$SECS"
eq "max-runtime: nothing left in flight" \
    "$(q "SELECT count(*) FROM companies WHERE status = 'in_flight'")" 0
IFS='|' read -r n_done n_pending <<<"$(q "SELECT sum(status = 'done'),
    sum(status = 'pending') FROM companies")"
eq "max-runtime: done + pending = all" "$((n_done + n_pending))" 100
le "max-runtime: some done (>= 8)" 8 "$n_done"
le "max-runtime: not too many (<= 16)" "$n_done" 16
eq "max-runtime: every request sent was answered and recorded" \
    "$(stat_of .requests)" "$n_done"
eq "max-runtime: runs row" "$(q 'SELECT exit_status FROM runs')" 75
check "max-runtime: says so" grep -q 'max runtime reached' maxrt.err

finish
