#!/usr/bin/env bash
# HTTPS mode: a self-signed certificate for 127.0.0.1/localhost.
# usage: tls.sh PATH/TO/qys-sandbox
SANDBOX=$1
. "$(dirname "$0")/lib.sh"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
    -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

start_sandbox --port 0 --token "$TOK" --secret "$SEC" \
    --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
check "first line says https" grep -q '^https://127.0.0.1:' <<<"$URL"
eq "signed request over TLS with --cacert" \
    "$(api "$(body_for 'Tls Co')" --cacert "$WORK/cert.pem")/$(jq -r .code "$WORK/body")" 200/0
check "ticket issued" grep -Eq '^[0-9a-f]{32}$' <<<"$(jq -r .result.ticket "$WORK/body")"
st=0; api "$(body_for 'Tls Co')" >/dev/null 2>&1 || st=$?
eq "without --cacert: certificate verification fails (curl 60)" "$st" 60
eq "localhost name verifies too" "$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$WORK/cert.pem" \
    "${URL/127.0.0.1/localhost}/__stats")" 200
eq "stats over TLS (the unverified client never got to HTTP)" "$(curl -sS --cacert "$WORK/cert.pem" "$URL/__stats" | jq -c '[.requests, .answers.issued]')" '[1,1]'
st=0; curl -sS -o /dev/null "${URL/https/http}/__stats" 2>/dev/null || st=$?
check "plain HTTP to the TLS port fails (curl $st)" test "$st" -ne 0
stop_sandbox
eq "exit 0" "$SBX_STATUS" 0

start_sandbox --port 0 --token "$TOK" --secret "$SEC" --fault-reset 1 \
    --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
st=0; api "$(body_for 'Tls Co')" --cacert "$WORK/cert.pem" >/dev/null 2>&1 || st=$?
check "reset over TLS: transport error (curl $st)" test "$st" -ne 0
stop_sandbox

st=0
"$SANDBOX" --token a --secret b --tls-cert "$WORK/cert.pem" >/dev/null 2>&1 || st=$?
eq "--tls-cert without --tls-key: exit 64" "$st" 64
st=0
"$SANDBOX" --token a --secret b --tls-cert "$WORK/none.pem" --tls-key "$WORK/key.pem" >/dev/null 2>&1 || st=$?
eq "missing certificate file: exit 66" "$st" 66

finish
