#!/usr/bin/env bash
# --front MODE: every request (any path, any method; the sandbox's own /__
# endpoints aside) is answered by a misconfigured front end, never by the
# vendor: no JSON envelope, no ticket, no nonce consumed.
# usage: front.sh PATH/TO/qys-sandbox
SANDBOX=$1
. "$(dirname "$0")/lib.sh"

# front MODE STATUS CTYPE-REGEX BODY-REGEX [LOCATION]
front() {
    local mode=$1 status=$2 ctype=$3 body=$4 loc=${5:-}
    start_sandbox --port 0 --token "$TOK" --secret "$SEC" --front "$mode"
    eq "$mode: signed ticket request gets $status" "$(api "$(body_for 'Front Co')")" "$status"
    check "$mode: content type $ctype" grep -Eqi "^content-type: $ctype" "$WORK/headers"
    check "$mode: HTML body" grep -Eq "$body" "$WORK/body"
    check "$mode: no JSON envelope" bash -c '! jq -e .code "$1" >/dev/null 2>&1' _ "$WORK/body"
    check "$mode: one Date header" test "$(grep -ci '^date: ' "$WORK/headers")" = 1
    if [[ -n "$loc" ]]; then
        eq "$mode: Location" "$(grep -i '^location: ' "$WORK/headers" | tr -d '\r' | cut -d' ' -f2)" "$loc"
    else
        check "$mode: no Location" bash -c '! grep -qi "^location:" "$1"' _ "$WORK/headers"
    fi
    eq "$mode: any path, any method" \
        "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/companyauth/result?companyName=x")/$(curl -sS -o /dev/null -w '%{http_code}' -X PUT "$URL/anything")" \
        "$status/$status"
    stats >"$WORK/stats.json"
    eq "$mode: counted as front answers, not as API requests" \
        "$(jq -c '[.front.mode, .front.answers, .requests, .tickets]' "$WORK/stats.json")" "[\"$mode\",3,0,0]"
    stop_sandbox
}

front redirect 301 'text/html' '301 Moved Permanently' 'https://example.invalid/'
front html400 400 'text/html' '400 Bad Request'
front portal 200 'text/html; charset=utf-8' '<form '

# without --front the vendor answers
start_sandbox --port 0 --token "$TOK" --secret "$SEC"
eq "no front: the vendor answers" "$(api "$(body_for 'Front Co')")/$(jq -r .code "$WORK/body")" 200/0
eq "no front: stats say none" "$(stats | jq -c .front)" '{"mode":"none","answers":0}'
stop_sandbox

st=0
"$SANDBOX" --token a --secret b --front proxy >/dev/null 2>"$WORK/err" || st=$?
eq "--front proxy: exit 64" "$st" 64
check "...naming the modes" grep -q 'redirect, html400 or portal' "$WORK/err"

finish
