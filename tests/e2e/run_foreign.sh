#!/usr/bin/env bash
# End-to-end `authbatch run` against answers that are not the vendor's
# (issue 17 §5, §6): something in front of the API answers every request
# the same way.
#  - a redirect (wrong --base-url): exit 78 at once, naming where it points;
#  - a proxy's HTML 400 and a captive portal's 200 + HTML: a breaker stops
#    the run (69) after a bounded number of requests, every company pending
#    and uncharged, none failed;
#  - HTTP 429 with Retry-After: 3600 (and an absurd value): the run does not
#    sleep for an hour (or overflow): it stops at once with 75, work left due.
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"

command -v python3 >/dev/null || { echo "skip: python3 missing"; exit 0; }
N=60
C=4
untouched() {
    eq "$1: nobody failed, all pending" "$(counts)" "pending=$N"
    eq "$1: attempt counts unchanged" "$(q 'SELECT max(attempts) FROM companies')" 0
}

# --- a redirect
import_n $N
start_fixed 301 --header "Location: https://portal.example.invalid/login" \
    --header "Content-Type: text/html" --body "<html>Moved</html>"
run_ab redirect run --base-url "$FIX_URL" --rate 0 --concurrency $C --progress none
eq "redirect: exit 78" "$RC" 78
le "redirect: within seconds" "$SECS" 5
le "redirect: at most --concurrency requests" "$(fixed_count)" $C
check "redirect: names the target and the fix" \
    grep -q "redirected (check --base-url): to https://portal.example.invalid/login" redirect.err
untouched "redirect"

# --- a proxy's HTML 400
import_n $N
start_fixed 400 --header "Content-Type: text/html" \
    --body "<html><body><h1>400 Bad Request</h1>nginx</body></html>"
run_ab html400 run --base-url "$FIX_URL" --rate 0 --concurrency $C --progress none
eq "HTML 400: exit 69" "$RC" 69
le "HTML 400: within seconds" "$SECS" 10
le "HTML 400: the breaker bounds the requests" "$(fixed_count)" $((3 * C + 8))
check "HTML 400: says it is not the vendor's API" \
    grep -q "not the vendor's API: HTTP 400 (text/html)" html400.err
untouched "HTML 400"

# --- a captive portal: 200 and a page
import_n $N
start_fixed 200 --header "Content-Type: text/html; charset=utf-8" \
    --body "<html><title>Wi-Fi login</title></html>"
run_ab portal run --base-url "$FIX_URL" --rate 0 --concurrency $C --progress none
eq "portal: exit 69" "$RC" 69
le "portal: the breaker bounds the requests" "$(fixed_count)" $((3 * C + 8))
check "portal: says it is not the vendor's API" grep -q "not the vendor's API" portal.err
untouched "portal"

# --- Retry-After: an hour, and more than a number can hold
for ra in 3600 99999999999999999999; do
    import_n $N
    start_fixed 429 --header "Retry-After: $ra" \
        --header "Content-Type: application/json" \
        --body '{"code":429,"message":"TOO MANY REQUESTS"}'
    run_ab ra run --base-url "$FIX_URL" --rate 0 --concurrency $C --progress none
    eq "Retry-After $ra: exit 75" "$RC" 75
    le "Retry-After $ra: within seconds, not an hour" "$SECS" 10
    check "Retry-After $ra: says why" grep -q "asked to wait .* s before the next request" ra.err
    eq "Retry-After $ra: nobody failed" "$(q "SELECT count(*) FROM companies WHERE status = 'failed'")" 0
    eq "Retry-After $ra: the throttled wait, the rest pending" \
        "$(q "SELECT count(*) FROM companies WHERE status IN ('pending', 'retry_wait')")" $N
    check "Retry-After $ra: the retry is due no sooner than the server asked" \
        test "$(q "SELECT min(next_attempt_at) - max(updated_at) >= 3600000 - 5000
                   FROM companies WHERE status = 'retry_wait'")" = 1
done
finish
