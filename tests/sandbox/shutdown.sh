#!/usr/bin/env bash
# SIGTERM/SIGINT: exit 0 promptly, drop long-delayed answers, still send
# answers due within ~1 s, and write --stats-file.
# usage: shutdown.sh PATH/TO/qys-sandbox
SANDBOX=$1
. "$(dirname "$0")/lib.sh"

# wait_in_flight N: poll /__stats until N API requests are being processed
wait_in_flight() {
    local i
    for ((i = 0; i < 2000; i++)); do
        [[ "$(stats | jq .in_flight)" == "$1" ]] && return 0
        sleep 0.005
    done
    fail "never saw $1 request(s) in flight"
    return 1
}

# 1. the stats file holds stats and ledger
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --stats-file "$WORK/final.json"
api "$(body_for 'One Co')" >/dev/null
T1=$(jq -r .result.ticket "$WORK/body")
api "$(body_for 'Two Co [AUTHED]')" >/dev/null
SIGN_SECRET=bad api "$(body_for 'Three Co')" >/dev/null
stop_sandbox TERM
eq "SIGTERM: exit 0" "$SBX_STATUS" 0
check "stats file written" test -s "$WORK/final.json"
eq "stats file: stats" "$(jq -c '.stats | [.requests, .answers.issued, .answers.already_authed, .answers.fatal, .sig_failures]' "$WORK/final.json")" '[3,1,1,1,1]'
eq "stats file: ledger" "$(jq -c '.ledger.tickets' "$WORK/final.json")" \
    "[{\"seq\":1,\"company\":\"One Co\",\"ticket\":\"$T1\",\"requestId\":\"2800000000000000001\",\"delivered\":true}]"
check "no temp file left" test ! -e "$WORK/final.json.tmp"

# 2. a slow answer (120 s by default) does not hold up shutdown
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --fault-slow 1 \
    --stats-file "$WORK/slow.json"
api "$(body_for 'Slow Co')" -m 60 >"$WORK/slow.code" 2>/dev/null &
CURL_PID=$!
wait_in_flight 1
start=$(now_ms)
stop_sandbox TERM
took=$(($(now_ms) - start))
eq "slow: exit 0" "$SBX_STATUS" 0
check "slow: stopped in ${took} ms (< 3000)" test "$took" -lt 3000
st=0; wait "$CURL_PID" || st=$?
check "slow: client saw the connection drop (curl $st)" test "$st" -ne 0
eq "slow: counted as aborted" "$(jq -c '.stats | [.requests, .answers.aborted, .faults.slow, .in_flight]' "$WORK/slow.json")" '[1,1,1,0]'

# 3. an answer due within the grace period still goes out
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --latency-ms 400 \
    --stats-file "$WORK/lat.json"
api "$(body_for 'Late Co')" -m 30 >"$WORK/lat.code" &
CURL_PID=$!
wait_in_flight 1
stop_sandbox INT
eq "latency: SIGINT exit 0" "$SBX_STATUS" 0
wait "$CURL_PID"
eq "latency: answer delivered during shutdown" "$(cat "$WORK/lat.code")/$(jq -r .code "$WORK/body")" 200/0
eq "latency: in the final ledger" "$(jq -r '.ledger.tickets[0].ticket' "$WORK/lat.json")" \
    "$(jq -r .result.ticket "$WORK/body")"

# 4. idle keep-alive connections do not hold up shutdown either
start_sandbox --port 0 --token "$TOK" --secret "$SEC"
exec {KA}<>/dev/tcp/127.0.0.1/"${URL##*:}"
printf 'GET /__stats HTTP/1.1\r\nHost: x\r\n\r\n' >&"$KA"
IFS= read -r status_line <&"$KA"
check "keep-alive connection open (${status_line%$'\r'})" grep -q '200' <<<"$status_line"
start=$(now_ms)
stop_sandbox TERM
took=$(($(now_ms) - start))
exec {KA}<&-
eq "keep-alive: exit 0" "$SBX_STATUS" 0
check "keep-alive: stopped in ${took} ms (< 3000)" test "$took" -lt 3000

finish
