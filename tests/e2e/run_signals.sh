#!/usr/bin/env bash
# End-to-end `authbatch run`: interruptions.
#  - SIGKILL in the middle, then a second run: every company done, none lost,
#    the file intact, each stored ticket one the sandbox issued for it;
#  - SIGTERM: in-flight requests finish, exit 75, a second run finishes the
#    rest; meanwhile a concurrent run exits 75 naming the holder's pid;
#  - a second SIGTERM cancels requests in flight: exit 75 at once, companies
#    pending with their attempt counts unchanged.
# On PostgreSQL runs share the database (no lock: pg_runners.sh), and a
# killed run's companies are due again at once for a run on the same host.
# stores: sqlite pg
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"

done_at_least() {
    (($(q "SELECT count(*) FROM companies WHERE status = 'done'" 2>/dev/null ||
        echo 0) >= $1))
}

# --- SIGKILL in the middle
start_sandbox --token "$TOK" --secret "$SEC"
import_n 1000
run_ab_bg kill1 run --base-url "$URL" --rate 100 --concurrency 8 --progress none
wait_for 30 "some companies done" done_at_least 100
kill -KILL "$AB_PID"
run_ab_wait
eq "sigkill: killed" "$RC" 137
IFS='|' read -r done1 inflight1 <<<"$(q "SELECT sum(status = 'done'),
    sum(status = 'in_flight') FROM companies")"
le "sigkill: the run was stopped in the middle ($done1 done)" "$done1" 900
echo "after SIGKILL: $(counts)"
eq "sigkill: the killed run has no end" "$(q 'SELECT CAST(ended_at IS NULL
    AS INTEGER), CAST(exit_status IS NULL AS INTEGER) FROM runs')" "1|1"
run_ab kill2 run --base-url "$URL" --rate 0 --concurrency 16 --progress none
eq "sigkill: second run exits 0" "$RC" 0
eq "sigkill: every company done, none lost" "$(counts)" "done=1000"
[[ "$AB_STORE" == pg ]] ||
    eq "sigkill: integrity_check" "$(q 'PRAGMA integrity_check')" ok
eq "sigkill: each stored ticket was issued for that company" \
    "$(tickets_not_in_ledger | head -5)" ""
eq "sigkill: ...and is the last one issued for it" "$(tickets_not_last | head -5)" ""
eq "sigkill: no company done twice by the second run" "$(q "SELECT count(*)
    FROM attempts WHERE run_id = 2 AND company_id IN (SELECT company_id
    FROM attempts WHERE run_id = 1 AND outcome = 'issued')")" 0
if ((inflight1 > 0)); then
    check "sigkill: the second run says rows in flight are due again" \
        grep -q "$inflight1 companies left in flight by an earlier run are due again" kill2.err
fi
# Requests answered but not committed before the kill are simply asked
# again: at most a few flush windows' worth of duplicates.
dups=$(jq '(.tickets | length) - ([.tickets[].company] | unique | length)' ledger.json)
le "sigkill: tickets issued twice (answers lost with the process)" "$dups" 100
stop_sandbox TERM

# --- SIGTERM drains; a concurrent run is refused
start_sandbox --token "$TOK" --secret "$SEC" --latency-ms 100
import_n 200
run_ab_bg term1 run --base-url "$URL" --rate 20 --concurrency 4 --progress none
pid1=$AB_PID
wait_for 30 "some companies done" done_at_least 10
if [[ "$AB_STORE" != pg ]]; then
    run_ab term_other run --base-url "$URL" --rate 0 --progress none
    eq "lock: a concurrent run exits 75" "$RC" 75
    check "lock: names the holder's pid ($pid1)" grep -q "in use by another run (pid $pid1)" term_other.err
fi
kill -TERM "$pid1"
run_ab_wait
eq "sigterm: exit 75" "$RC" 75
eq "sigterm: nothing left in flight" \
    "$(q "SELECT count(*) FROM companies WHERE status = 'in_flight'")" 0
IFS='|' read -r done1 pending1 <<<"$(q "SELECT sum(status = 'done'),
    sum(status = 'pending') FROM companies")"
eq "sigterm: done + pending = all" "$((done1 + pending1))" 200
le "sigterm: stopped early" "$done1" 150
eq "sigterm: every request sent was answered and recorded" \
    "$(stat_of .requests)" "$done1"
eq "sigterm: the refused run left no trace" "$(q 'SELECT count(*) FROM runs')" 1
eq "sigterm: runs row" "$(q 'SELECT exit_status, CAST(ended_at > 0 AS INTEGER)
    FROM runs')" "75|1"
check "sigterm: says so" grep -q 'terminated: no new requests' term1.err
run_ab term2 run --base-url "$URL" --rate 0 --concurrency 8 --progress none
eq "sigterm: second run exits 0" "$RC" 0
eq "sigterm: all done" "$(counts)" "done=200"
eq "sigterm: one ticket per company, the stored one" \
    "$(tickets_not_last | head -3)|$(jq '.tickets | length' ledger.json)" "|200"
stop_sandbox TERM

# --- a second SIGTERM cancels requests in flight
start_sandbox --token "$TOK" --secret "$SEC" --latency-ms 20000
import_n 20
run_ab_bg cancel run --base-url "$URL" --rate 0 --concurrency 4 --progress none
sandbox_busy() { [[ $(stat_of .in_flight) == 4 ]]; }
wait_for 10 "4 requests in flight at the sandbox" sandbox_busy
t0=$SECONDS
kill -TERM "$AB_PID"
wait_for 5 "the first signal to be logged" grep -q 'again to cancel' cancel.err
kill -TERM "$AB_PID"
run_ab_wait
eq "cancel: exit 75" "$RC" 75
le "cancel: exits at once, not after the 20 s answers" "$((SECONDS - t0))" 3
eq "cancel: all pending, attempt counts unchanged" \
    "$(counts)|$(q 'SELECT max(attempts) FROM companies')" "pending=20|0"
eq "cancel: cancelled attempts recorded as such" "$(q "SELECT count(*),
    sum(transport_error = 'cancelled') FROM attempts")" "4|4"

finish
