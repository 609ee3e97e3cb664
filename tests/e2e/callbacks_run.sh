#!/usr/bin/env bash
# The onboarding funnel through callbacks, end to end (issue 14): `run
# --callback-base` gives 500 companies URL/<id>/<token>; the sandbox plays
# their applicants on a compressed clock and POSTs the vendor's callbacks to
# `authbatch callbacks` on the same database, behind a path prefix (as a
# reverse proxy would add). Every delivered callback is accepted at its
# first attempt; every company's auth_status is what its callbacks said,
# and equals the sandbox's truth wherever a callback told the final state;
# auth_request_id is the vendor's.
# stores: sqlite pg
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"
# shellcheck source=lib_callbacks.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib_callbacks.sh"

N=500
import_n $N "Funnel Co"
q "UPDATE companies SET callback_url = 'https://own.example/cb' WHERE id = 1"
start_receiver receiver callbacks --listen 127.0.0.1:0
start_sandbox --token "$TOK" --secret "$SEC" --seed 5 --auth-time-scale 20
run_ab run run --base-url "$URL" --rate 0 --concurrency 16 --progress none \
    --callback-base "$CB_URL/proxy/prefix/"
eq "run: exit 0" "$RC" 0
eq "run: all done" "$(counts)" "done=$N"
eq "every company without a URL got a token" \
    "$(q "SELECT count(*) FROM companies WHERE callback_token IS NOT NULL")" $((N - 1))
eq "the company with its own callbackUrl kept it, with no token" \
    "$(q "SELECT coalesce(callback_token, 'none') FROM companies WHERE id = 1")" none
check "tokens are 22 URL-safe characters, all different" \
    test "$(q "SELECT callback_token FROM companies
               WHERE callback_token IS NOT NULL" |
        grep -E '^[A-Za-z0-9_-]{22}$' | sort -u | wc -l)" = $((N - 1))

settled() { [[ "$(curl -sS "$URL/__truth" | jq -r .settled)" == true ]]; }
wait_for 60 "every applicant's story is over" settled
no_callback_pending() {
    [[ "$(curl -sS "$URL/__truth" | jq '[.companies[].callbacks.pending] | add')" == 0 ]]
}
wait_for 60 "every callback delivered" no_callback_pending
curl -sS "$URL/__truth" >truth.json
curl -sS "$URL/__callbacks" >callbacks.json

delivered=$(jq '[.attempts[] | select(.company != "Funnel Co 1")] | length' callbacks.json)
check "callbacks were delivered ($delivered)" test "$delivered" -gt 300
eq "every delivered callback was accepted at its first attempt" \
    "$(jq '[.attempts[] | select(.company != "Funnel Co 1") |
            select(.attempt != 1 or .accepted != true)] | length' callbacks.json)" 0
eq "none went to the company's own URL (not loopback)" \
    "$(jq '[.attempts[] | select(.company == "Funnel Co 1" and .accepted)] | length' callbacks.json)" 0

# What the callbacks said, by the vendor's callback scale: the highest.
jq -r '.companies[] | select(.company != "Funnel Co 1") |
    [.company,
     (if (.callbacks.accepted | index(1)) then "authenticated"
      elif (.callbacks.accepted | index(2)) then "rejected"
      elif (.callbacks.accepted | index(0)) then "in_progress"
      else "" end),
     (if (.callbacks.accepted | length) > 0 then .requestId else "" end)] | @tsv' \
    truth.json | sort >told.tsv
q -separator $'\t' "SELECT company_name, coalesce(auth_status, ''),
    coalesce(auth_request_id, '') FROM companies WHERE id > 1" | sort >stored.tsv
eq "every auth_status and auth_request_id is what the callbacks said" \
    "$(diff told.tsv stored.tsv | head -5)" ""
# Where a callback told the final state, it is the sandbox's truth.
eq "final states told by callbacks equal the truth" \
    "$(jq -r '[.companies[] | select((.callbacks.accepted | index(1)) and .status != 2
               or (.callbacks.accepted | index(2)) and .status != 3)] | length' truth.json)" 0
check "passes and rejections both happened" \
    test "$(q "SELECT count(DISTINCT auth_status) FROM companies
               WHERE auth_status IN ('authenticated', 'rejected')")" = 2
eq "every callback is an event" \
    "$(q "SELECT count(*) FROM auth_events WHERE source = 'callback'")" "$delivered"
stop_receiver
eq "receiver: SIGTERM exits 0" "$CB_STATUS" 0
finish
