#!/usr/bin/env bash
# End-to-end `authbatch callbacks`: crashes, a busy database, and a `run`
# on the same file.
#  - kill -9 between two deliveries: what was answered 200 is stored; the
#    vendor's retry of it after the restart is a repeat, the next one lands;
#  - kill -9 while a callback waits for the database: no 200 went out and
#    nothing is stored; the retry after the restart is stored;
#  - SIGINT while a callback waits for the database: new connections are
#    refused, the waiting one is stored and answered 200, exit 0;
#  - a database held by another writer beyond the busy timeout: 503 with a
#    non-zero code, nothing stored; the retry once it is free: 200;
#  - beside a running `run` (sandbox) on the same database: every callback
#    answered 200 and stored, the run finishes every company, the file is
#    intact.
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"
# shellcheck source=lib_callbacks.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib_callbacks.sh"

# lock_db / unlock_db: another connection holds the write lock meanwhile.
lock_db() {
    coproc LOCKER { sqlite3 "$AUTHBATCH_DB"; }
    AB_PIDS+=("$LOCKER_PID")
    echo "BEGIN IMMEDIATE; SELECT 'locked';" >&"${LOCKER[1]}"
    local line=
    IFS= read -r -t 10 line <&"${LOCKER[0]}" || true
    [[ $line == locked ]] || { fail "could not lock the database"; finish; }
}
unlock_db() {
    echo "COMMIT;" >&"${LOCKER[1]}"
    echo ".quit" >&"${LOCKER[1]}"
    wait "$LOCKER_PID" || true
}

cb_db 3

# --- kill -9 between two deliveries
start_receiver k1 --db "$AUTHBATCH_DB" callbacks --listen 127.0.0.1:0
eq "k1: in_progress answered" "$(cb 1 'status=0&requestId=K')" 200
stop_receiver KILL
eq "k1: killed" "$CB_STATUS" 137
eq "k1: the answered callback is stored" "$(q "SELECT auth_status FROM
    companies WHERE id = 1")" in_progress
start_receiver k2 --db "$AUTHBATCH_DB" callbacks --listen 127.0.0.1:0
eq "k2: the vendor's retry of it" "$(cb 1 'status=0&requestId=K')" 200
eq "k2: the verdict" "$(cb 1 'status=1&requestId=K&actionEvent=7')" 200
eq "k2: both events, once each" "$(q "SELECT group_concat(raw_status || ':'
    || applied, ',') FROM (SELECT * FROM auth_events WHERE company_id = 1
    ORDER BY id)")" "0:1,1:1"
eq "k2: authenticated" "$(q "SELECT auth_status FROM companies
    WHERE id = 1")" authenticated
stop_receiver TERM
eq "k2: exit 0" "$CB_STATUS" 0

# --- kill -9 while a callback waits for the database
lock_db
AUTHBATCH_BUSY_TIMEOUT_MS=30000 start_receiver k3 -v --db "$AUTHBATCH_DB" \
    callbacks --listen 127.0.0.1:0
curl -sS -o "$WORK/k3.answer" -w '%{http_code}' --max-time 30 \
    --data-binary 'status=2&requestId=P' "$CB_URL/cb/2/$(tok_of 2)" \
    >"$WORK/k3.code" 2>/dev/null &
curl_pid=$!
AB_PIDS+=("$curl_pid")
wait_for 10 "the callback waits for the database" grep -q 'storing 1 callback$' k3.err
stop_receiver KILL
wait "$curl_pid" || true
check "k3: no 200 went out ($(cat "$WORK/k3.code"))" test "$(cat "$WORK/k3.code")" != 200
unlock_db
eq "k3: nothing stored" "$(q "SELECT count(*) FROM auth_events WHERE
    company_id = 2")|$(q "SELECT ifnull(auth_status, '-') FROM companies
    WHERE id = 2")" "0|-"
start_receiver k4 --db "$AUTHBATCH_DB" callbacks --listen 127.0.0.1:0
eq "k4: the retry lands" "$(cb 2 'status=2&requestId=P')" 200
eq "k4: stored" "$(q "SELECT auth_status FROM companies WHERE id = 2")" rejected
stop_receiver TERM

# --- SIGINT while a callback waits for the database: it is stored and
# answered, then the receiver exits 0
lock_db
AUTHBATCH_BUSY_TIMEOUT_MS=30000 start_receiver drain -v --db "$AUTHBATCH_DB" \
    callbacks --listen 127.0.0.1:0
curl -sS -o "$WORK/drain.answer" -w '%{http_code}' --max-time 30 \
    --data-binary 'status=1&requestId=D' "$CB_URL/cb/3/$(tok_of 3)" \
    >"$WORK/drain.code" 2>/dev/null &
curl_pid=$!
AB_PIDS+=("$curl_pid")
wait_for 10 "the callback waits for the database" grep -q 'storing 1 callback$' drain.err
kill -INT "$CB_PID"
wait_for 10 "the receiver drains" grep -q 'finishing 1 request in progress' drain.err
check "drain: no new connections meanwhile" bash -c "! curl -sS -o /dev/null --max-time 5 '$CB_URL/' 2>/dev/null"
unlock_db
wait "$curl_pid" || true
CB_STATUS=0
wait "$CB_PID" || CB_STATUS=$?
exec {CB_FD}<&-
eq "drain: the callback was answered 200" "$(cat "$WORK/drain.code")" 200
eq "drain: ...with code 0" "$(cat "$WORK/drain.answer")" '{"code":0}'
eq "drain: exit 0" "$CB_STATUS" 0
eq "drain: stored" "$(q "SELECT auth_status, auth_request_id FROM companies
    WHERE id = 3")" "authenticated|D"
q "UPDATE companies SET auth_status = NULL, auth_request_id = NULL,
   auth_checked_at = NULL, auth_changed_at = NULL WHERE id = 3;
   DELETE FROM auth_events WHERE company_id = 3"

# --- busy beyond the busy timeout: 503, then the retry
AUTHBATCH_BUSY_TIMEOUT_MS=300 start_receiver busy --db "$AUTHBATCH_DB" \
    callbacks --listen 127.0.0.1:0
snap=$(snapshot)
lock_db
eq "busy: HTTP 503" "$(cb 3 'status=0&requestId=B')" 503
eq "busy: a non-zero code" "$(jq .code answer)" 503
unlock_db
eq "busy: nothing stored" "$(snapshot)" "$snap"
check "busy: logged why" grep -q 'HTTP 503, not stored.*database is locked' busy.err
eq "busy: the retry" "$(cb 3 'status=0&requestId=B')" 200
eq "busy: stored" "$(q "SELECT auth_status FROM companies WHERE id = 3")" in_progress
stop_receiver TERM
eq "busy: exit 0" "$CB_STATUS" 0

# --- beside a running `run`
n=200
start_sandbox --token "$TOK" --secret "$SEC" --latency-ms 20
import_n "$n"
q "UPDATE companies SET callback_token = printf('tok%019d', id)"
start_receiver beside --db "$AUTHBATCH_DB" callbacks --listen 127.0.0.1:0
run_ab_bg run run --base-url "$URL" --rate 30 --concurrency 8 --progress none
seq 1 "$n" | xargs -P 8 -I{} sh -c 'curl -sS -o /dev/null -w "%{http_code}\n" \
    --max-time 20 --data-binary "status=0&requestId=R{}" \
    "$0/cb/{}/$(printf tok%019d {})"' "$CB_URL" >"$WORK/codes" 2>&1 || true
check "beside: the run was still going during the callbacks" \
    kill -0 "$AB_PID"
seq 1 "$n" | xargs -P 8 -I{} sh -c 'curl -sS -o /dev/null -w "%{http_code}\n" \
    --max-time 20 --data-binary "status=1&requestId=R{}" \
    "$0/cb/{}/$(printf tok%019d {})"' "$CB_URL" >>"$WORK/codes" 2>&1 || true
run_ab_wait
eq "beside: every callback answered 200" "$(sort "$WORK/codes" | uniq -c |
    awk '{ printf "%s:%s ", $2, $1 }')" "200:$((2 * n)) "
eq "beside: the run exits 0" "$RC" 0
eq "beside: every company done" "$(counts)" "done=$n"
eq "beside: every company authenticated, with its request id" \
    "$(q "SELECT count(*) FROM companies WHERE auth_status = 'authenticated'
          AND auth_request_id = 'R' || id")" "$n"
eq "beside: two events each" "$(q "SELECT count(*) FROM auth_events")" $((2 * n))
stop_receiver TERM
eq "beside: receiver exit 0" "$CB_STATUS" 0
eq "beside: integrity" "$(q 'PRAGMA integrity_check')" ok
stop_sandbox TERM
finish
