#!/usr/bin/env bash
# The hidden rate limit (--limit-*): both signals, both windows, counting
# arrivals, a schedule, SIGUSR1/SIGUSR2, the --max-rps alias, bad flags.
# usage: limit.sh PATH/TO/qys-sandbox
SANDBOX=$1
. "$(dirname "$0")/lib.sh"

S() { jq -r "$@" "$WORK/stats.json"; }
# poll_rps N: wait (at most 5 s) until /__stats says the limit is N.
poll_rps() {
    local deadline=$(($(now_ms) + 5000))
    while (($(now_ms) < deadline)); do
        [[ "$(stats | jq -r .limit.rps)" == "$1" ]] && return 0
        sleep 0.02
    done
    return 1
}
# burst N PREFIX: N signed requests, 20 at a time; "status retry-after" lines.
burst() {
    gen_config "$WORK/b.cfg" "$1" "$2" "write-out = \"%{http_code} %header{retry-after}\\n\""
    local start=$(now_ms)
    curl --parallel --parallel-max 20 -s -K "$WORK/b.cfg" >"$WORK/burst" 2>/dev/null || true
    BURST_MS=$(($(now_ms) - start))
}

# ---- 1. code 11990006 in an HTTP 200, fixed window -------------------------
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --limit-rps 5 \
    --limit-signal code
burst 20 "Code Co"
stats >"$WORK/stats.json"
eq "code: 20 requests decided" "$(S '.limit.accepted + .limit.throttled')" 20
check "code: at most 5 accepted in any wall second" \
    test "$(S '[.limit.per_second[][0]] | max')" -le 5
check "code: the rest throttled ($(S .limit.throttled))" \
    test "$(S .limit.throttled)" -ge 10
eq "code: throttled answers are HTTP 200 without Retry-After" \
    "$(grep -c '^200 $' "$WORK/burst")" 20
eq "code: counted as code 11990006" "$(S '.codes["11990006"]')" "$(S .limit.throttled)"
eq "code: and as throttled" "$(S .answers.throttled)" "$(S .limit.throttled)"
eq "code: tickets only for the accepted" "$(S .tickets)" "$(S .limit.accepted)"
eq "code: per-second limit recorded" "$(S '[.limit.per_second[][2]] | unique')" "[
  5
]"
H_NONCE= api "$(body_for 'One More')" >/dev/null || true
if jq -e '.code == 11990006' "$WORK/body" >/dev/null 2>&1; then
    eq "code: body" "$(jq -c . "$WORK/body")" '{"code":11990006,"message":"接口调用频繁"}'
fi
stop_sandbox

# ---- 2. HTTP 429 + Retry-After, sliding window ----------------------------
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --limit-rps 5 \
    --limit-window sliding --limit-retry-after 3
burst 20 "Slide Co"
stats >"$WORK/stats.json"
eq "sliding: window named" "$(S .limit.window)/$(S .limit.counts)" sliding/accepted
if ((BURST_MS < 1000)); then
    eq "sliding: 5 accepted in a burst of ${BURST_MS} ms" "$(S .limit.accepted)" 5
else
    check "sliding: at most 10 accepted in ${BURST_MS} ms" test "$(S .limit.accepted)" -le 10
fi
eq "sliding: each refusal an HTTP 429 with Retry-After: 3" \
    "$(grep -c '^429 3$' "$WORK/burst")" "$(S .limit.throttled)"
eq "sliding: counted in faults.max_rps" "$(S .faults.max_rps)" "$(S .limit.throttled)"
stop_sandbox

# ---- 3. counting arrivals ------------------------------------------------------
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --limit-rps 5 \
    --limit-window sliding --limit-counts arrivals
burst 20 "Arr Co"
stats >"$WORK/stats.json"
eq "arrivals: named" "$(S .limit.counts)" arrivals
check "arrivals: at most 5 accepted per second" \
    test "$(S '[.limit.per_second[][0]] | max')" -le 5
stop_sandbox

# ---- 4. a schedule, and the signals -------------------------------------------
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --limit-rps 2 \
    --limit-schedule 0.3:50,3600:7
check "schedule: the limit becomes 50 at 0.3 s" poll_rps 50
burst 20 "Sched Co"
stats >"$WORK/stats.json"
eq "schedule: 20 under a limit of 50 all accepted" "$(S .limit.accepted)" 20
kill -USR1 "$SBX_PID"
check "SIGUSR1: the next step (7) now" poll_rps 7
kill -USR1 "$SBX_PID"
check "SIGUSR1 with no step left: doubled (14)" poll_rps 14
kill -USR2 "$SBX_PID"
check "SIGUSR2: halved (7)" poll_rps 7
stop_sandbox
eq "signals: exit 0 after SIGTERM" "$SBX_STATUS" 0
check "signals: each change logged" grep -q 'rate limit now 14/s' "$WORK/stderr"

# ---- 5. --max-rps is the fixed-window 429 mode ----------------------------------
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --max-rps 3
stats >"$WORK/stats.json"
eq "max-rps: fixed window counting arrivals, limit 3" \
    "$(S '[.limit.window, .limit.counts, .limit.rps] | join(" ")')" "fixed arrivals 3"
burst 10 "Max Co"
eq "max-rps: refusals are 429 with Retry-After: 1" \
    "$(grep -c '^429 1$' "$WORK/burst")" "$(stats | jq .limit.throttled)"
stop_sandbox
start_sandbox --port 0 --token "$TOK" --secret "$SEC"
eq "no limit flags: no limit object" "$(stats | jq -c .limit)" null
stop_sandbox

# ---- 6. bad flags -------------------------------------------------------------
for bad in "--limit-window tumbling" "--limit-signal 503" "--limit-counts all" \
    "--limit-schedule 5:1,2:3" "--limit-schedule 5" "--limit-rps -1" \
    "--limit-retry-after x"; do
    st=0
    # shellcheck disable=SC2086
    "$SANDBOX" --port 0 --token "$TOK" --secret "$SEC" $bad \
        >/dev/null 2>"$WORK/usage.err" || st=$?
    eq "$bad: exit 64" "$st" 64
    check "$bad: says which flag" grep -q -- "${bad%% *}" "$WORK/usage.err"
done

finish
