#!/usr/bin/env bash
# End-to-end `authbatch callbacks`: the receiver on an ephemeral port, driven
# with curl as the vendor would.
#  - options: --help, a missing or malformed --listen (64), a port in use
#    (78);
#  - form and JSON callbacks store an event and move auth_status; the
#    answer is {"code":0} only once committed; auth_request_id and the
#    times are set; both applicant spellings; fields in the query; any
#    prefix before <id>/<token>;
#  - a repeated callback changes nothing; a backwards one is an event only;
#  - a rejection's actionEvent becomes the reason;
#  - log lines name the company and never the token; the metrics file
#    counts; SIGTERM exits 0 and leaves running 0.
# stores: sqlite pg
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"
# shellcheck source=lib_callbacks.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib_callbacks.sh"

# --- options
run_ab help callbacks --help
eq "--help exits 0" "$RC" 0
check "--help names --listen" grep -q -- '--listen HOST:PORT' help.out
run_ab nolisten callbacks
eq "no --listen: 64" "$RC" 64
check "no --listen: says so" grep -q -- '--listen HOST:PORT is required' nolisten.err
for bad in 127.0.0.1 :80 127.0.0.1:99999 127.0.0.1:8x '[::1]80' '::1:80'; do
    run_ab badlisten callbacks --listen "$bad"
    eq "--listen '$bad': 64" "$RC" 64
done
run_ab badopt callbacks --listen 127.0.0.1:0 --timeout 0
eq "--timeout 0: 64" "$RC" 64

cb_db 5
before_all=$(snapshot)
start_receiver recv --db "$AUTHBATCH_DB" callbacks --listen 127.0.0.1:0 \
    --metrics-file "$WORK/cb.prom"
run_ab inuse callbacks --listen "127.0.0.1:$CB_PORT"
eq "port in use: 78" "$RC" 78
check "port in use: names the address" grep -q "cannot listen on 127.0.0.1:$CB_PORT" inuse.err
# The server's own reason, with the port asked for and without a stray '?'
# where its message had a newline.
check "port in use: the reason names the port" \
    grep -q "cannot listen on 127.0.0.1:$CB_PORT: .* port $CB_PORT: Address already in use$" inuse.err
eq "the refused start changed nothing" "$(snapshot)" "$before_all"

# --- a form callback: in progress
t0=$(now_ms)
eq "form: HTTP 200" "$(cb 1 'status=0&requestId=REQ-1&actionEvent=0')" 200
eq "form: answer" "$(cat answer)" '{"code":0}'
t1=$(now_ms)
IFS='|' read -r st req checked changed <<<"$(q "SELECT auth_status,
    auth_request_id, auth_checked_at, auth_changed_at FROM companies
    WHERE id = 1")"
eq "form: in_progress" "$st" in_progress
eq "form: request id stored" "$req" REQ-1
check "form: checked_at within the request ($t0..$t1)" \
    test "$checked" -ge "$t0" -a "$checked" -le "$t1"
eq "form: changed_at = checked_at" "$changed" "$checked"
eq "form: event" "$(q "SELECT company_id, source, raw_status, auth_status,
    applied, request_id, json_extract(fields, '$.actionEvent'), dedupe_key
    FROM auth_events")" '1|callback|0|in_progress|1|REQ-1|0|cb:["0","0","REQ-1"]'

# --- a JSON callback: authenticated, authInfo as an object
body='{"status":1,"requestId":"REQ-1","actionEvent":7,"authInfo":{"name":"示例公司00001","registerNo":"91310000MA1FL4F902","legalPerson":"张三","applicantName":"李四","applicantPhone":"13800000001"},"extra":"kept"}'
eq "json: HTTP 200" "$(cb 1 "$body" -H 'Content-Type: application/json')" 200
eq "json: answer" "$(cat answer)" '{"code":0}'
eq "json: authenticated" "$(q "SELECT auth_status, auth_request_id FROM
    companies WHERE id = 1")" "authenticated|REQ-1"
eq "json: fields kept" "$(q "SELECT json_extract(fields, '$.authInfo.name'),
    json_extract(fields, '$.authInfo.applicantName'),
    json_extract(fields, '$.extra') FROM auth_events WHERE raw_status = '1'")" \
    "示例公司00001|李四|kept"

# --- repeated: idempotent
snap=$(snapshot)
for i in 1 2 3; do
    eq "repeat $i: HTTP 200" "$(cb 1 "$body" -H 'Content-Type: application/json')" 200
done
eq "repeat: nothing changed" "$(snapshot)" "$snap"

# --- backwards: an in_progress after authenticated is an event only
eq "backwards: HTTP 200" "$(cb 1 'status=0&requestId=REQ-1&actionEvent=1')" 200
eq "backwards: status kept" "$(q "SELECT auth_status FROM companies
    WHERE id = 1")" authenticated
eq "backwards: stored, not applied" "$(q "SELECT raw_status, auth_status,
    applied FROM auth_events ORDER BY id DESC LIMIT 1")" "0|in_progress|0"

# --- a rejection: actionEvent as the reason; the older applicant spelling
authinfo=$(jq -rn --arg s '{"name":"示例公司00002","applicant":"王五"}' '$s|@uri')
eq "rejected: HTTP 200" "$(cb 2 "status=2&requestId=REQ-2&actionEvent=2&authInfo=$authinfo")" 200
eq "rejected: status and reason" "$(q "SELECT auth_status, auth_reason FROM
    companies WHERE id = 2")" "rejected|basic information rejected"
eq "rejected: applicant kept" "$(q "SELECT json_extract(fields,
    '$.authInfo.applicant') FROM auth_events WHERE company_id = 2")" 王五

# --- fields in the query, an empty body; another prefix; none at all
eq "query: HTTP 200" "$(post "a/b/c/3/$(tok_of 3)?status=0&requestId=Q3" '')" 200
eq "query: stored" "$(q "SELECT auth_status, auth_request_id FROM companies
    WHERE id = 3")" "in_progress|Q3"
eq "no prefix: HTTP 200" "$(post "4/$(tok_of 4)" 'status=1')" 200
eq "no prefix: stored" "$(q "SELECT auth_status, ifnull(auth_request_id, '-')
    FROM companies WHERE id = 4")" "authenticated|-"
eq "no content type: HTTP 200" "$(cb 5 'status=0' -H 'Content-Type:')" 200
eq "absolute-form target (from a proxy): HTTP 200" "$(post x 'status=1' \
    --request-target "http://example.com/cb/5/$(tok_of 5)")" 200
eq "absolute-form: stored" "$(q "SELECT auth_status FROM companies
    WHERE id = 5")" authenticated

eq "companies untouched by others' callbacks" "$(q "SELECT count(*) FROM
    companies WHERE auth_status IS NULL")" 0

# --- logs
check "log: the change" grep -q 'callbacks: company 1: (none) -> in_progress (request REQ-1)' recv.err
check "log: the backwards one" grep -q 'company 1: in_progress after authenticated kept as an event only' recv.err
if grep -q 'tok0000' recv.err; then fail "log: a token was logged"; else pass "log: no token"; fi

# --- metrics, then SIGTERM
wait_for 10 "metrics file" test -s "$WORK/cb.prom"
stop_receiver TERM
eq "sigterm: exit 0" "$CB_STATUS" 0
check "sigterm: says it stopped" grep -q 'callbacks: stopped: 11 stored (7 changed a status, 1 kept as events, 3 repeats), 0 refused' recv.err
metric() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/cb.prom"; }
eq "metrics: applied" "$(metric 'authbatch_callbacks_requests_total{result="applied"}')" 7
eq "metrics: recorded" "$(metric 'authbatch_callbacks_requests_total{result="recorded"}')" 1
eq "metrics: duplicate" "$(metric 'authbatch_callbacks_requests_total{result="duplicate"}')" 3
eq "metrics: not running" "$(metric authbatch_callbacks_running)" 0
if command -v promtool >/dev/null; then
    check "metrics: promtool accepts the file" promtool check metrics <"$WORK/cb.prom"
fi
[[ "$AB_STORE" == pg ]] ||
    eq "integrity" "$(q 'PRAGMA integrity_check')" ok
finish
