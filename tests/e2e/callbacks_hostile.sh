#!/usr/bin/env bash
# End-to-end `authbatch callbacks` against hostile clients.
#  - every refusal (wrong, missing or another company's token, unknown id,
#    traversal paths, other methods, bodies over 64 KiB with or without a
#    Content-Length, malformed bodies, other media types, unknown status
#    values, oversized targets and headers) gets its 4xx and a non-zero
#    code, and the database is byte for byte what it was;
#  - each kind of refusal is logged once, no control character reaches the
#    log, and no token;
#  - 200 junk connections (silent, half a header, half a body) do not stop
#    a valid callback; with the connection limit below the junk, the
#    timeout frees the slots and the valid callback still lands;
#  - a client trickling a byte at a time is cut at --timeout, although it
#    is never idle that long.
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"
# shellcheck source=lib_callbacks.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib_callbacks.sh"
# Writing to a connection the receiver cut is an error here, not a signal.
trap '' PIPE

cb_db 3
# Company 3 has a verdict already, so a refused callback could only move
# things by mistake.
q "UPDATE companies SET auth_status = 'in_progress', auth_request_id = 'R3',
   auth_checked_at = 5, auth_changed_at = 5 WHERE id = 3"
snap=$(snapshot)
start_receiver recv --db "$AUTHBATCH_DB" callbacks --listen 127.0.0.1:0

T1=$(tok_of 1)
T2=$(tok_of 2)
# A 70,000-byte form body (over the 64 KiB limit).
{ printf 'status=1&x='; head -c 69990 /dev/zero | tr '\0' a; } >"$WORK/big.txt"
multipart="--b\r\nContent-Disposition: form-data; name=\"status\"\r\n\r\n1\r\n--b--\r\n"
long_path="a/$(head -c 9000 /dev/zero | tr '\0' a)/1/$T1"
huge_path="a/$(head -c 20000 /dev/zero | tr '\0' a)/1/$T1"
huge_headers=()
for ((i = 0; i < 40; i++)); do
    huge_headers+=(-H "X-Pad-$i: $(head -c 1000 /dev/zero | tr '\0' p)")
done

# case DESCRIPTION WANT-CODE PATH BODY [CURL ARGS...]
case_() {
    local what=$1 want=$2 path=$3 body=$4 got
    shift 4
    got=$(post "$path" "$body" --path-as-is "$@")
    eq "$what: HTTP $want" "$got" "$want"
    if [[ $want != 4* || $got == 2* ]]; then
        return
    fi
    # Our own answers carry a non-zero code; libmicrohttpd's own 4xx
    # (oversized target or headers) carry an HTML page.
    if [[ -s "$WORK/answer" ]] && jq -e . "$WORK/answer" >/dev/null 2>&1; then
        eq "$what: non-zero code" "$(jq '.code != 0' "$WORK/answer")" true
    fi
}

# --- the path and the token
case_ "wrong token" 404 "cb/1/tokXXXXXXXXXXXXXXXXXXX" 'status=1'
case_ "another company's token" 404 "cb/1/$T2" 'status=1'
case_ "unknown id" 404 "cb/99/$T1" 'status=1'
case_ "id with a leading zero" 404 "cb/01/$T1" 'status=1'
case_ "id 0" 404 "cb/0/$T1" 'status=1'
case_ "id too big" 404 "cb/99999999999999999999/$T1" 'status=1'
case_ "negative id" 404 "cb/-1/$T1" 'status=1'
case_ "token too short" 404 "cb/1/${T1:0:21}" 'status=1'
case_ "token with a dot" 404 "cb/1/${T1:0:21}." 'status=1'
case_ "token percent-encoded" 404 "cb/1/%74${T1:1}" 'status=1'
case_ "token only" 404 "$T1" 'status=1'
case_ "trailing slash" 404 "cb/1/$T1/" 'status=1'
case_ "empty segment" 404 "cb//1/$T1" 'status=1'
case_ "dot-dot prefix" 404 "../cb/1/$T1" 'status=1'
case_ "dot segment" 404 "cb/./1/$T1" 'status=1'
case_ "escaped dot-dot" 404 "%2e%2e/1/$T1" 'status=1'
case_ "escaped slash" 404 "cb%2F1/1/$T1" 'status=1'
case_ "backslash" 404 'cb\..\1/'"$T1" 'status=1'
case_ "escaped NUL" 404 "cb%00/1/$T1" 'status=1'
got=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 20 --data-binary status=1 \
    "$CB_URL/$long_path" || true)
eq "a 9 KiB target: 404" "$got" 404
got=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 20 --data-binary status=1 \
    "$CB_URL/$huge_path" || true)
check "a 20 KiB target: a 4xx ($got)" test "${got:0:1}" = 4
# --- the method
case_ "GET" 405 "cb/1/$T1" '' -G
case_ "PUT" 405 "cb/1/$T1" 'status=1' -X PUT
case_ "DELETE" 405 "cb/1/$T1" '' -X DELETE
check "405 says Allow: POST" bash -c "curl -sS -D - -o /dev/null -X GET '$CB_URL/cb/1/$T1' | grep -qi '^allow: POST'"
# --- the size
case_ "body over 64 KiB" 413 "cb/1/$T1" "@$WORK/big.txt"
case_ "chunked body over 64 KiB" 413 "cb/1/$T1" "@$WORK/big.txt" -H 'Transfer-Encoding: chunked'
got=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 20 "${huge_headers[@]}" \
    --data-binary status=1 "$CB_URL/cb/1/$T1" || true)
check "40 KiB of headers: a 4xx ($got)" test "${got:0:1}" = 4
# --- the body
case_ "no status" 400 "cb/1/$T1" 'requestId=R'
case_ "empty status" 400 "cb/1/$T1" 'status=&requestId=R'
case_ "status twice" 400 "cb/1/$T1" 'status=1&status=1'
case_ "status in the query and the body" 400 "cb/1/$T1?status=1" 'status=1'
case_ "broken escape" 400 "cb/1/$T1" 'status=1&requestId=%zz'
case_ "invalid UTF-8" 400 "cb/1/$T1" 'status=1&requestId=%FF%FE'
case_ "a terminal escape" 400 "cb/1/$T1" 'status=1&requestId=%1B%5D0%3Bowned%07%1B%5B2J'
case_ "a NUL" 400 "cb/1/$T1" 'status=1&requestId=a%00b'
case_ "authInfo not JSON" 400 "cb/1/$T1" 'status=1&authInfo=%7Bnope'
case_ "JSON with duplicate keys" 400 "cb/1/$T1" '{"status":1,"status":1}' -H 'Content-Type: application/json'
case_ "truncated JSON" 400 "cb/1/$T1" '{"status":1' -H 'Content-Type: application/json'
case_ "JSON array" 400 "cb/1/$T1" '[{"status":1}]' -H 'Content-Type: application/json'
case_ "raw control bytes in JSON" 400 "cb/1/$T1" "$(printf '{"status":1,"x":"\\u001b[2J"}')" -H 'Content-Type: application/json'
case_ "a content type with an escape" 415 "cb/1/$T1" 'status=1' -H "$(printf 'Content-Type: text/\033[31mred')"  # logged: the first 415
case_ "multipart" 415 "cb/1/$T1" "$(printf '%b' "$multipart")" -H 'Content-Type: multipart/form-data; boundary=b'
case_ "text/plain" 415 "cb/1/$T1" 'status=1' -H 'Content-Type: text/plain'
case_ "charset=GBK" 415 "cb/1/$T1" 'status=1' -H 'Content-Type: application/x-www-form-urlencoded; charset=GBK'
# --- the status value
case_ "status 3" 422 "cb/1/$T1" 'status=3'
case_ "status -1" 422 "cb/1/$T1" 'status=-1'
case_ "status text" 422 "cb/1/$T1" 'status=passed'
case_ "status 1.0 in JSON" 400 "cb/1/$T1" '{"status":1.0}' -H 'Content-Type: application/json'

eq "nothing stored or changed by any of it" "$(snapshot)" "$snap"

# --- the log: once per kind, no control characters, no token
for kind in "HTTP 404, not a callback path" "HTTP 404, unknown company or wrong token" \
    "HTTP 405, not a POST" "HTTP 413, body over 64 KiB" "HTTP 400, malformed" \
    "HTTP 415, unsupported media type" "HTTP 422, unknown status"; do
    eq "log: '$kind' once" "$(grep -c "refused a request from 127.0.0.1 ($kind)" recv.err)" 1
done
eq "log: no control characters" "$(LC_ALL=C grep -c -P '[\x00-\x09\x0b-\x1f\x7f]' recv.err || true)" 0
eq "log: no token" "$(grep -c 'tok0000' recv.err || true)" 0
check "log: the escape-laden content type is shown defanged" grep -q "'text/?\[31mred'" recv.err

# --- 200 junk connections, then a valid callback
junk=()
for ((i = 0; i < 200; i++)); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$CB_PORT"
    junk+=("$fd")
done
for ((i = 0; i < 150; i++)); do
    if ((i < 75)); then # half a header
        printf 'POST /cb/1/%s HTTP/1.1\r\nHost: x\r\nContent-Le' "$T1" >&"${junk[i]}"
    else # a header, half the body it promises
        printf 'POST /cb/1/%s HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nstatus=1&requestId=JUNK' "$T1" >&"${junk[i]}"
    fi
done
t=$(curl -sS -o "$WORK/answer" -w '%{http_code} %{time_total}' --max-time 20 \
    --data-binary 'status=1&requestId=VALID' "$CB_URL/cb/1/$T1" || true)
read -r code secs <<<"$t"
eq "200 junk connections: the valid callback is accepted" "$code" 200
echo "measured: valid callback beside 200 junk connections answered in ${secs}s"
check "...at once (${secs}s < 5s, the timeout is 10s)" awk -v s="$secs" 'BEGIN { exit !(s < 5) }'
eq "...and stored" "$(q "SELECT auth_status, auth_request_id FROM companies
    WHERE id = 1")" "authenticated|VALID"
for fd in "${junk[@]}"; do exec {fd}>&-; done
eq "the junk stored nothing" "$(q "SELECT count(*) FROM auth_events")" 1
stop_receiver TERM
eq "exit 0 after the junk" "$CB_STATUS" 0

# --- fewer slots than junk: --timeout frees them
start_receiver small --db "$AUTHBATCH_DB" callbacks --listen 127.0.0.1:0 \
    --max-connections 20 --timeout 1
junk=()
for ((i = 0; i < 40; i++)); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$CB_PORT"
    junk+=("$fd")
done
t=$(curl -sS -o "$WORK/answer" -w '%{http_code} %{time_total}' --max-time 30 \
    --data-binary 'status=0&requestId=SMALL' "$CB_URL/cb/2/$T2" || true)
read -r code secs <<<"$t"
eq "20 slots, 40 junk: the valid callback lands" "$code" 200
echo "measured: valid callback behind 40 junk connections on 20 slots, --timeout 1, answered in ${secs}s"
for fd in "${junk[@]}"; do exec {fd}>&-; done

# --- a trickle: one header byte every 200 ms is never idle for 1 s, yet
# is cut when its second is up
exec {slow}<>"/dev/tcp/127.0.0.1/$CB_PORT"
req="POST /cb/1/$T1 HTTP/1.1"$'\r\n'"Host: x"$'\r\n'
start=$SECONDS cut=0
for ((i = 0; i < ${#req} && SECONDS - start < 10; i++)); do
    printf '%s' "${req:i:1}" >&"$slow" 2>/dev/null || { cut=1; break; }
    rc=0
    read -r -t 0.2 -u "$slow" _ || rc=$?
    if ((rc > 0 && rc <= 128)); then # EOF or reset, not the read timeout
        cut=1
        break
    fi
done
exec {slow}>&-
eq "trickle: cut" "$cut" 1
check "trickle: within a few seconds ($((SECONDS - start)) s)" test $((SECONDS - start)) -le 5
stop_receiver TERM
eq "small: exit 0" "$CB_STATUS" 0
cut_n=$(sed -n 's/.* \([0-9]*\) connections cut$/\1/p' small.err)
check "small: connections were cut (${cut_n:-?})" test "${cut_n:-0}" -ge 20
eq "integrity" "$(q 'PRAGMA integrity_check')" ok
finish
