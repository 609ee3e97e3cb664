#!/usr/bin/env bash
# --clock-offset-ms: the sandbox's clock runs ahead of (or behind) the real
# one, for the timestamp window and for the Date header of every answer.
# usage: clock.sh PATH/TO/qys-sandbox
SANDBOX=$1
. "$(dirname "$0")/lib.sh"

# date_skew FILE: seconds the Date header in the headers FILE is ahead of now
date_skew() {
    local d
    d=$(grep -i '^date: ' "$1" | head -1 | cut -d' ' -f2- | tr -d '\r')
    echo $(($(date -d "$d" +%s) - $(date +%s)))
}
# one_date FILE: the answer has exactly one Date header, an IMF-fixdate
one_date() {
    [[ "$(grep -ci '^date: ' "$1")" == 1 ]] &&
        grep -Eqi '^date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT' "$1"
}
# skew_near GOT WANT: |GOT - WANT| <= 2 seconds
skew_near() { (( $1 - $2 <= 2 && $2 - $1 <= 2 )); }

# no offset: Date is the real clock, once, on every kind of answer
start_sandbox --port 0 --token "$TOK" --secret "$SEC"
eq "no offset: accepted" "$(api "$(body_for 'Clock Co')")" 200
check "no offset: one IMF-fixdate Date header" one_date "$WORK/headers"
check "no offset: Date is now ($(date_skew "$WORK/headers") s)" skew_near "$(date_skew "$WORK/headers")" 0
curl -sS -o /dev/null -D "$WORK/h404" "$URL/nowhere"
check "404: one Date header" one_date "$WORK/h404"
curl -sS -o /dev/null -D "$WORK/hstats" "$URL/__stats"
check "stats: one Date header" one_date "$WORK/hstats"
stop_sandbox

# +700 s: a timestamp from the real clock is outside the 10-minute window
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --clock-offset-ms 700000
eq "+700 s: real-clock timestamp refused" "$(api "$(body_for 'Clock Co')")/$(jq -r .code "$WORK/body")" 444/444
check "+700 s: the refusal carries one Date header" one_date "$WORK/headers"
skew=$(date_skew "$WORK/headers")
check "+700 s: Date is 700 s ahead ($skew s)" skew_near "$skew" 700
eq "+700 s: a timestamp from the server's clock is accepted" \
    "$(H_TS=$(($(now_ms) + 700000)) api "$(body_for 'Clock Co')")" 200
curl -sS -o /dev/null -D "$WORK/h404" "$URL/nowhere"
check "+700 s: a 404 is 700 s ahead too" skew_near "$(date_skew "$WORK/h404")" 700
stop_sandbox

# +90 s: inside the window, accepted; Date says the server is 90 s ahead
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --clock-offset-ms 90000
eq "+90 s: accepted" "$(api "$(body_for 'Clock Co')")/$(jq -r .code "$WORK/body")" 200/0
check "+90 s: Date is 90 s ahead ($(date_skew "$WORK/headers") s)" skew_near "$(date_skew "$WORK/headers")" 90
stop_sandbox

# -700 s: behind; the same refusal
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --clock-offset-ms -700000
eq "-700 s: refused" "$(api "$(body_for 'Clock Co')")" 444
check "-700 s: Date is 700 s behind" skew_near "$(date_skew "$WORK/headers")" -700
stop_sandbox

st=0
"$SANDBOX" --token a --secret b --clock-offset-ms 1.5 >/dev/null 2>"$WORK/err" || st=$?
eq "--clock-offset-ms 1.5: exit 64" "$st" 64
check "...with a message naming the flag" grep -q -- '--clock-offset-ms' "$WORK/err"

finish
