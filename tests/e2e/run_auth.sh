#!/usr/bin/env bash
# End-to-end `authbatch run`: credentials and account refusals.
#  - wrong secret / wrong token: exit 77 within seconds, at most
#    --concurrency + 1 requests reached the sandbox (the refusals in flight,
#    then one second opinion), nobody failed, everything still pending;
#  - a wrong --base-url path (the sandbox's JSON 404): exit 78 (configuration),
#    not a mass of failed companies;
#  - missing credentials: 78; a credentials file readable by others: 78 with
#    a message; a 0600 credentials file works.
# stores: sqlite pg
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"

start_sandbox --token "$TOK" --secret "$SEC"
import_n 50
C=4
all_pending() {
    eq "$1: nobody failed, all pending" "$(counts)" "pending=50"
    eq "$1: nothing left in flight" "$(q "SELECT count(*) FROM companies
        WHERE status = 'in_flight'")" 0
    eq "$1: company attempt counts unchanged" "$(q "SELECT max(attempts)
        FROM companies")" 0
}

# --- wrong secret
req0=$(stat_of .requests)
QYS_ACCESS_SECRET=not-the-secret run_ab bad_secret run --base-url "$URL" \
    --rate 0 --concurrency $C --progress none
eq "wrong secret: exit 77" "$RC" 77
le "wrong secret: within seconds" "$SECS" 5
le "wrong secret: requests <= --concurrency + 1" "$(($(stat_of .requests) - req0))" $((C + 1))
eq "wrong secret: the sandbox saw only signature failures" \
    "$(stat_of .sig_failures)" "$(($(stat_of .requests) - req0))"
all_pending "wrong secret"
check "wrong secret: the reason is named" grep -q 'INVALID SIGNATURE' bad_secret.err
check "wrong secret: no secret printed" \
    bash -c "! grep -qF -e not-the-secret -e '$SEC' bad_secret.out bad_secret.err"
eq "wrong secret: attempts recorded as fatal" "$(q "SELECT CAST(count(*) = sum(outcome = 'fatal') AS INTEGER),
    sum(http_status = 443), min(attempt_no) FROM attempts")" "1|$(q 'SELECT count(*) FROM attempts')|0"
eq "wrong secret: runs row exit 77" "$(q 'SELECT exit_status FROM runs')" 77

# --- wrong token
req0=$(stat_of .requests)
QYS_ACCESS_TOKEN=not-the-token run_ab bad_token run --base-url "$URL" \
    --rate 0 --concurrency $C --progress none
eq "wrong token: exit 77" "$RC" 77
le "wrong token: requests <= --concurrency + 1" "$(($(stat_of .requests) - req0))" $((C + 1))
all_pending "wrong token"
check "wrong token: the reason is named" grep -q 'INVALID TOKEN' bad_token.err

# --- a wrong path: every company would get the same 404
req0=$(stat_of .requests)
run_ab bad_url run --base-url "$URL/v2" --rate 0 --concurrency $C --progress none
eq "wrong base URL: exit 78" "$RC" 78
all_pending "wrong base URL"
check "wrong base URL: says so" grep -q 'base-url' bad_url.err

# --- configuration errors: 78, nothing sent
req0=$(stat_of .requests)
env -u QYS_ACCESS_TOKEN -u QYS_ACCESS_SECRET "$AB" run --base-url "$URL" \
    >nocreds.out 2>nocreds.err && RC=0 || RC=$?
eq "no credentials: exit 78" "$RC" 78
check "no credentials: says what is missing" grep -qi 'QYS_ACCESS_TOKEN\|credentials' nocreds.err
env -u QYS_ACCESS_SECRET "$AB" run --base-url "$URL" >/dev/null 2>nosecret.err && RC=0 || RC=$?
eq "token without secret: exit 78" "$RC" 78

printf 'access_token=%s\naccess_secret=%s\n' "$TOK" "$SEC" >creds
chmod 0644 creds
env -u QYS_ACCESS_TOKEN -u QYS_ACCESS_SECRET "$AB" run --base-url "$URL" \
    --credentials creds >/dev/null 2>creds644.err && RC=0 || RC=$?
eq "credentials file 0644: exit 78" "$RC" 78
check "credentials file 0644: message names the file and the fix" \
    grep -q "credentials file '.*creds' is accessible by group or others (mode 644): chmod 600 it" creds644.err
check "credentials file 0644: secret not printed" bash -c "! grep -qF '$SEC' creds644.err"
chmod 0640 creds
env -u QYS_ACCESS_TOKEN -u QYS_ACCESS_SECRET "$AB" run --base-url "$URL" \
    --credentials creds >/dev/null 2>&1 && RC=0 || RC=$?
eq "credentials file 0640: exit 78" "$RC" 78
env -u QYS_ACCESS_TOKEN -u QYS_ACCESS_SECRET "$AB" run --base-url "$URL" \
    --credentials missing-file >/dev/null 2>&1 && RC=0 || RC=$?
eq "credentials file missing: exit 78" "$RC" 78
# A line that is not key=value, or a secret pasted on a line of its own
# (base64 ends in '='), is refused without being echoed.
printf 'access_token=%s\nZmFrZS1zZWNyZXQtdmFsdWU=\n' "$TOK" >badline
chmod 0600 badline
env -u QYS_ACCESS_TOKEN -u QYS_ACCESS_SECRET "$AB" run --base-url "$URL" \
    --credentials badline >/dev/null 2>badline.err && RC=0 || RC=$?
eq "credentials file with a bare secret line: exit 78" "$RC" 78
check "credentials file with a bare secret line: names the line" grep -q "badline:2:" badline.err
check "credentials file with a bare secret line: the line is not echoed" \
    bash -c "! grep -q 'ZmFrZS1zZWNyZXQtdmFsdWU' badline.err"

# --- --dry-run checks the configuration as a real run would
dump_db >before.sql
chmod 0644 creds
env -u QYS_ACCESS_TOKEN -u QYS_ACCESS_SECRET "$AB" run --dry-run --base-url "$URL" \
    --credentials creds >/dev/null 2>dry644.err && RC=0 || RC=$?
eq "dry run, credentials file 0644: exit 78" "$RC" 78
check "dry run, credentials file 0644: same message" \
    grep -q "is accessible by group or others (mode 644): chmod 600 it" dry644.err
env -u QYS_ACCESS_TOKEN -u QYS_ACCESS_SECRET "$AB" run --dry-run \
    --base-url "$URL" >/dev/null 2>&1 && RC=0 || RC=$?
eq "dry run, no credentials: exit 78" "$RC" 78
run_ab dry_ca run --dry-run --base-url "$URL" --cacert "$WORK/no-such-ca.pem"
eq "dry run, unreadable CA file: exit 66" "$RC" 66
check "dry run, unreadable CA file: named" grep -q "no-such-ca.pem" dry_ca.err
run_ab dry_url run --dry-run --base-url "ftp://${URL#http://}"
eq "dry run, malformed URL: exit 64" "$RC" 64
run_ab real_ca run --base-url "$URL" --cacert "$WORK/no-such-ca.pem"
eq "real run, unreadable CA file: exit 66 too" "$RC" 66
run_ab dry_ok run --dry-run --base-url "$URL" --limit 3
eq "dry run, good configuration: exit 0" "$RC" 0
eq "dry run prints the requests" "$(grep -c '^POST ' dry_ok.out)" 3
check "dry run redacts token and signature" \
    bash -c "grep -q 'x-qys-open-accesstoken: <redacted>' dry_ok.out && ! grep -qF '$TOK' dry_ok.out"
chmod 0600 creds

# --- plain http beyond loopback: the token would cross the network in clear
run_ab http_remote run --dry-run --base-url "http://example.invalid"
eq "plain http to another host: exit 64" "$RC" 64
check "plain http to another host: says why" grep -q "plain http" http_remote.err
run_ab http_allowed run --dry-run --base-url "http://example.invalid" --allow-http
eq "plain http to another host with --allow-http: exit 0" "$RC" 0
eq "configuration errors sent nothing" "$(stat_of .requests)" "$req0"
check "the database is unchanged" cmp -s before.sql <(dump_db)
all_pending "configuration errors"

chmod 0600 creds
QYS_ACCESS_TOKEN=wrong QYS_ACCESS_SECRET=wrong run_ab creds600 run \
    --base-url "$URL" --credentials creds --rate 0 --progress none
eq "credentials file 0600 (wins over the environment): exit 0" "$RC" 0
eq "credentials file 0600: all done" "$(counts)" "done=50"
eq "credentials file 0600: tickets = ledger" "$(tickets_not_last | head -3)" ""

finish
