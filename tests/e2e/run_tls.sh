#!/usr/bin/env bash
# End-to-end `authbatch run` over HTTPS, and when the API cannot be reached.
#  - the sandbox in TLS mode with a self-signed certificate: --cacert works;
#  - without --cacert verification fails: exit 69 (unreachable) quickly,
#    companies pending or retry_wait, none failed, nothing in flight;
#  - nothing listening at all: exit 69 the same way.
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"
command -v openssl >/dev/null || { echo "skip: openssl not installed"; exit 0; }

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
    -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
start_sandbox --token "$TOK" --secret "$SEC" \
    --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
SBX_CURL_ARGS=(--cacert "$WORK/cert.pem")
check "sandbox speaks https" grep -q '^https://127.0.0.1:' <<<"$URL"

not_stuck() {
    eq "$1: only pending or retry_wait (none failed, none in flight)" \
        "$(q "SELECT count(*) FROM companies WHERE status IN ('failed',
        'in_flight', 'done', 'already_authed')")" 0
}

# --- no --cacert: the certificate cannot be verified
import_n 30
run_ab noca run --base-url "$URL" --rate 0 --concurrency 4 \
    --retry-base-ms 20 --retry-max-ms 100 --progress none
eq "no cacert: exit 69" "$RC" 69
# Quickly means after few requests: the breaker trips at 2 x 4 + 8
# consecutive transport errors, with at most 4 more in flight. The wall
# time only guards against a hang (TLS handshakes under ASan on a loaded
# machine take their time).
le "no cacert: gives up after few requests" \
    "$(q "SELECT transport_errors FROM runs ORDER BY id DESC LIMIT 1")" 20
le "no cacert: no hang" "$SECS" 60
not_stuck "no cacert"
eq "no cacert: the sandbox answered nothing" "$(stat_of .requests)" 0
check "no cacert: says unreachable" grep -q 'could not be reached' noca.err
eq "no cacert: attempts are transport errors" "$(q "SELECT count(*) > 0,
    count(*) = sum(http_status IS NULL AND transport_error IS NOT NULL
    AND outcome = 'transient') FROM attempts")" "1|1"
eq "no cacert: runs row" "$(q 'SELECT exit_status FROM runs')" 69

# --- with --cacert: all done
run_ab ca run --base-url "$URL" --cacert "$WORK/cert.pem" --rate 0 \
    --concurrency 4 --progress none
eq "cacert: exit 0" "$RC" 0
eq "cacert: all done" "$(counts)" "done=30"
eq "cacert: tickets = ledger" "$(tickets_not_last | head -3)" ""
eq "cacert: one request per company" "$(stat_of .requests)" 30
run_ab ca_localhost run --base-url "${URL/127.0.0.1/localhost}" \
    --cacert "$WORK/cert.pem" --rate 0 --progress none
eq "cacert: the DNS name verifies too (nothing to do: exit 0)" "$RC" 0

# --- plain http to the TLS port: not an HTTP answer either
import_n 10
run_ab plain run --base-url "${URL/https/http}" --rate 0 --concurrency 2 \
    --retry-base-ms 20 --retry-max-ms 100 --progress none
eq "http to a TLS port: exit 69" "$RC" 69
not_stuck "http to a TLS port"
stop_sandbox TERM

# --- nothing listening (the port the sandbox just left)
import_n 10
run_ab closed run --base-url "${URL/https/http}" --rate 0 --concurrency 2 \
    --retry-base-ms 20 --retry-max-ms 100 --progress none
eq "closed port: exit 69" "$RC" 69
le "closed port: gives up after few requests (2 x 2 + 8, and 2 in flight)" \
    "$(q "SELECT transport_errors FROM runs ORDER BY id DESC LIMIT 1")" 14
le "closed port: no hang" "$SECS" 60
not_stuck "closed port"

finish
