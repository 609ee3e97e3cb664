#!/usr/bin/env bash
# The vendor's check order and answers, the ledger and the stats.
# usage: api.sh PATH/TO/qys-sandbox
SANDBOX=$1
. "$(dirname "$0")/lib.sh"

printf 'Listed Authed Co\n' >"$WORK/authed.txt"
printf 'Listed Invalid Co\n' >"$WORK/invalid.txt"
start_sandbox --port 0 --token "$TOK" --secret "$SEC" \
    --authed-list "$WORK/authed.txt" --invalid-list "$WORK/invalid.txt"

jqb() { jq -r "$1" "$WORK/body"; }

# 1. a correct request gets code 0 and a ticket
eq "signed request: HTTP 200" "$(api "$(body_for 'Acme Ltd')")" 200
eq "signed request: code 0" "$(jqb .code)" 0
eq "signed request: message" "$(jqb .message)" SUCCESS
T1=$(jqb .result.ticket)
check "signed request: 32-hex ticket" grep -Eq '^[0-9a-f]{32}$' <<<"$T1"
check "content type is JSON" grep -qi '^content-type: application/json;charset=UTF-8' "$WORK/headers"
# header names are case-insensitive
ts=$(now_ms) n=$(new_nonce)
code=$(curl -sS -o "$WORK/body" -w '%{http_code}' -X POST "$URL$API_PATH" \
    -H "X-QYS-OPEN-ACCESSTOKEN: $TOK" -H "X-Qys-Open-Timestamp: $ts" \
    -H "X-Qys-Open-Nonce: $n" -H "X-Qys-Open-Signature: $(md5hex "$TOK$SEC$ts$n")" \
    -H 'content-type: Application/JSON' --data-binary "$(body_for 'Beta Co')")
eq "mixed-case header names accepted" "$code/$(jqb .code)" 200/0
T2=$(jqb .result.ticket)

# 2. each missing header -> 441 naming it (first missing in vendor order)
for h in token timestamp nonce signature; do
    case $h in token) name=accesstoken ;; *) name=$h ;; esac
    eq "missing $h: HTTP 441" "$(OMIT=$h api "$(body_for X)")" 441
    eq "missing $h: body" "$(jq -c . "$WORK/body")" \
        "{\"code\":441,\"message\":\"HEADER REQUIRED,x-qys-open-$name\",\"responseCode\":\"11990441\"}"
done
eq "empty token counts as missing" "$(H_TOKEN=' ' api "$(body_for X)" -H 'x-qys-open-accesstoken;')/$(jqb .code)" 441/441

# 3. wrong token -> 442 (even with a signature made for that token)
eq "wrong token: HTTP 442" "$(H_TOKEN=nope api "$(body_for X)")" 442
eq "wrong token: body" "$(jq -c . "$WORK/body")" \
    '{"code":442,"message":"INVALID TOKEN","responseCode":"11990442"}'

# 4. wrong signature -> 443
eq "wrong secret: HTTP 443" "$(SIGN_SECRET=wrong api "$(body_for X)")" 443
eq "wrong secret: body" "$(jq -c . "$WORK/body")" '{"code":443,"message":"INVALID SIGNATURE"}'
ts=$(now_ms) n=$(new_nonce)
upper=$(md5hex "$TOK$SEC$ts$n" | tr a-f A-F)
eq "upper-case signature: 443" "$(H_TS=$ts H_NONCE=$n H_SIG=$upper api "$(body_for X)")" 443

# 5. stale / future / malformed timestamp -> 444 (correctly signed)
eq "timestamp 11 min old: 444" "$(H_TS=$(($(now_ms) - 660000)) api "$(body_for X)")" 444
eq "stale: body" "$(jq -c . "$WORK/body")" '{"code":444,"message":"TIMESTAMP EXPIRED"}'
eq "timestamp 11 min ahead: 444" "$(H_TS=$(($(now_ms) + 660000)) api "$(body_for X)")" 444
eq "timestamp in seconds: 444" "$(H_TS=$(date +%s) api "$(body_for X)")" 444
eq "timestamp 9 min old: accepted" "$(H_TS=$(($(now_ms) - 540000)) api "$(body_for 'Gamma Co')")" 200
T3=$(jqb .result.ticket)

# 6. replayed nonce -> 445
n=$(new_nonce) ts=$(now_ms)
eq "fresh nonce" "$(H_NONCE=$n H_TS=$ts api "$(body_for 'Delta Co')")" 200
T4=$(jqb .result.ticket)
eq "replayed nonce: HTTP 445" "$(H_NONCE=$n H_TS=$ts api "$(body_for 'Delta Co')")" 445
eq "replayed: body" "$(jq -c . "$WORK/body")" '{"code":445,"message":"NONCE REPLAYED"}'
eq "replay with a new timestamp: 445" "$(H_NONCE=$n api "$(body_for 'Delta Co')")" 445

# 7. content type -> HTTP 200 code 1005
eq "text/plain: HTTP 200" "$(H_CT=text/plain api "$(body_for X)")" 200
eq "text/plain: body" "$(jq -c . "$WORK/body")" '{"code":1005,"message":"INVALID PARAM: content type"}'

# 8. body shape -> 1005
bad_bodies=(
    'not json'
    '[]'
    '{"applicant":{"contact":"1","contactType":"MOBILE"}}'
    '{"companyName":"","applicant":{"contact":"1","contactType":"MOBILE"}}'
    '{"companyName":"A","applicant":{"contact":"1","contactType":"mobile"}}'
    '{"companyName":"A","applicant":{"contactType":"EMAIL"}}'
    '{"companyName":"A","applicant":{"contact":"1","contactType":"MOBILE"},"closeButton":"false"}'
    '{"companyName":"A","applicant":{"contact":"1","contactType":"MOBILE"},"modifyFields":"corpName,license"}'
    '{"companyName":"A","applicant":{"contact":"1","contactType":"MOBILE"},"registerNo":null}'
    '{"companyName":"A","applicant":{"contact":"1","contactType":"MOBILE"},"callbackUrl":""}'
)
for b in "${bad_bodies[@]}"; do
    eq "bad body $b" "$(api "$b")/$(jqb .code)" 200/1005
    check "bad body message names the problem" grep -q 'INVALID PARAM: ' "$WORK/body"
done
eq "all optional fields" "$(api '{"companyName":"Epsilon Co","applicant":{"name":"Li","contact":"a@b.cn","contactType":"EMAIL"},"registerNo":"91310000MA1FL0000X","legalPerson":"Wang","callbackUrl":"https://example.com/cb","closeButton":false,"modifyFields":"corpName,legalPerson"}')/$(jqb .code)" 200/0
T5=$(jqb .result.ticket)

# 9. business answers
eq "authed marker: 1605" "$(api "$(body_for 'Old Co [AUTHED]')")/$(jq -c . "$WORK/body")" \
    '200/{"code":1605,"message":"COMPANY ALREADY AUTHED"}'
eq "authed list: 1605" "$(api "$(body_for 'Listed Authed Co')")/$(jqb .code)" 200/1605
eq "invalid marker: 1005" "$(api "$(body_for 'Bad Co [INVALID]')")/$(jq -c . "$WORK/body")" \
    '200/{"code":1005,"message":"INVALID PARAM"}'
eq "invalid list: 1005" "$(api "$(body_for 'Listed Invalid Co')")/$(jqb .code)" 200/1005

# routing
eq "other path: 404" "$(curl -sS -o "$WORK/body" -w '%{http_code}' -X POST "$URL/companyauth/other")" 404
eq "404 body" "$(jq -c . "$WORK/body")" '{"code":404,"message":"NOT FOUND"}'
eq "GET on the endpoint: 404" "$(curl -sS -o /dev/null -w '%{http_code}' "$URL$API_PATH")" 404

# ledger: exactly the issued tickets, in issue order
eq "ledger" "$(ledger | jq -c '[.tickets[] | [.seq, .company, .ticket]]')" \
    "$(jq -nc --arg a "$T1" --arg b "$T2" --arg c "$T3" --arg d "$T4" --arg e "$T5" \
        '[[1,"Acme Ltd",$a],[2,"Beta Co",$b],[3,"Gamma Co",$c],[4,"Delta Co",$d],[5,"Epsilon Co",$e]]')"

# stats: 2+4+1+1+2+4+3+1+10+1+4 = 33 API requests (404s and GETs not counted)
stats >"$WORK/stats.json"
S() { jq -r "$@" "$WORK/stats.json"; }
eq "stats.requests" "$(S .requests)" 33
eq "stats.answers" "$(S -c .answers)" \
    '{"issued":5,"already_authed":2,"rejected":13,"throttled":0,"transient":0,"fatal":13,"result":0,"aborted":0}'
eq "stats.sig_failures" "$(S .sig_failures)" 2
eq "stats.replays" "$(S .replays)" 2
eq "stats.codes" "$(S -c '.codes | to_entries | sort_by(.key|tonumber) | from_entries')" \
    '{"0":5,"441":5,"442":1,"443":2,"444":3,"445":2,"1005":13,"1605":2}'
eq "stats.per_second sums to requests" "$(S '[.per_second[]] | add')" 33
check "stats.max_per_second" test "$(S .max_per_second)" -ge 1
eq "stats.max_concurrent" "$(S .max_concurrent)" 1
eq "stats.in_flight" "$(S .in_flight)" 0
eq "stats.faults all zero" "$(S '[.faults[]] | add')" 0
stop_sandbox TERM
eq "SIGTERM exits 0" "$SBX_STATUS" 0

# credentials from the environment; --no-replay-check
QYS_ACCESS_TOKEN=$TOK QYS_ACCESS_SECRET=$SEC start_sandbox --port 0 --no-replay-check
n=$(new_nonce) ts=$(now_ms)
eq "env credentials" "$(H_NONCE=$n H_TS=$ts api "$(body_for 'Zeta Co')")/$(jqb .code)" 200/0
eq "--no-replay-check accepts a repeat" "$(H_NONCE=$n H_TS=$ts api "$(body_for 'Zeta Co')")/$(jqb .code)" 200/0
eq "...and issues a second ticket" "$(ledger | jq '.tickets | length')" 2
stop_sandbox INT
eq "SIGINT exits 0" "$SBX_STATUS" 0

# no credentials at all -> 64
st=0
env -u QYS_ACCESS_TOKEN -u QYS_ACCESS_SECRET "$SANDBOX" --port 0 >/dev/null 2>"$WORK/err" || st=$?
eq "no credentials: exit 64" "$st" 64
check "no credentials: message" grep -q 'no credentials' "$WORK/err"
st=0
"$SANDBOX" --token a --secret b --fault-5xx 0.7 --fault-reset 0.7 >/dev/null 2>&1 || st=$?
eq "fault fractions over 1: exit 64" "$st" 64
# --help and the README's flag table name the same flags, each once
"$SANDBOX" --help | grep -o '^  --[a-z0-9-]*' | sed 's/^  //' | sort >"$WORK/help.flags"
awk -F'|' '$2 ~ /^ `--/ { print $2 }' "$(dirname "$0")/README.md" |
    grep -o '`--[a-z0-9-]*' | tr -d '`' | sort >"$WORK/readme.flags"
eq "--help and README flags agree" "$(comm -3 "$WORK/help.flags" "$WORK/readme.flags" | tr -d '\t' | paste -sd' ')" ""
eq "--help names each flag once" "$(uniq -d "$WORK/help.flags" | paste -sd' ')" ""
check "--help lists the flags ($(wc -l <"$WORK/help.flags"))" test "$(wc -l <"$WORK/help.flags")" -ge 30

finish
