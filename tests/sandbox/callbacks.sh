#!/usr/bin/env bash
# The vendor's callbacks: form POSTs to each ticket's callbackUrl, in the
# vendor's order, with the vendor's retry pattern; loopback targets only.
# A tiny receiver (cb_receiver.py) records what arrives.
# usage: callbacks.sh PATH/TO/qys-sandbox
SANDBOX=$1
. "$(dirname "$0")/lib.sh"
HERE=$(dirname "$0")
CLIENT=(python3 "$HERE/sbx_client.py")

# start_receiver LOG [PORT]: sets RPORT and RPID (killed by the EXIT trap)
start_receiver() {
    local fifo="$WORK/rcv.$RANDOM" line
    mkfifo "$fifo"
    python3 "$HERE/cb_receiver.py" "$1" ${2:+"$2"} >"$fifo" 2>>"$WORK/stderr" &
    RPID=$!
    SBX_PIDS+=("$RPID")
    exec {RCV_FD}<"$fifo"
    rm -f "$fifo"
    IFS= read -r -t 20 line <&"$RCV_FD" || { echo "receiver did not start" >&2; exit 1; }
    exec {RCV_FD}<&-
    RPORT=${line##* }
}
stop_receiver() { kill "$RPID"; wait "$RPID" 2>/dev/null || true; }
cbstat() { stats | jq -r ".callbacks$1"; }
# wait_quiet SECONDS: until every story is over and no delivery is pending
wait_quiet() {
    local i
    for ((i = 0; i < $1 * 20; i++)); do
        if [[ "$(curl -sS "$URL/__truth" | jq .settled)/$(cbstat .pending)" == true/0 ]]; then
            return 0
        fi
        sleep 0.05
    done
    fail "callbacks never went quiet: $(stats | jq -c .callbacks)"
    return 1
}
# wait_attempts N SECONDS: until /__callbacks has N attempts
wait_attempts() {
    local i
    for ((i = 0; i < $2 * 50; i++)); do
        (($(curl -sS "$URL/__callbacks" | jq '.attempts | length') >= $1)) && return 0
        sleep 0.02
    done
    fail "never saw $1 callback attempts"
    return 1
}

# ---- 1. every event delivered once, in order, with the vendor's fields ----
start_receiver "$WORK/rcv1"
awk 'BEGIN { for (i = 1; i <= 30; i++) printf "Cb & Co %d\n", i }' >"$WORK/names"
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --seed 3 --auth-time-scale 30 \
    --auth-mix pass=0.5,reject=0.3,progress=0.2
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" issue "$WORK/names" --callback "http://127.0.0.1:$RPORT/ok" >/dev/null
wait_quiet 20
curl -sS "$URL/__truth" >"$WORK/truth.json"
curl -sS "$URL/__callbacks" >"$WORK/log.json"
stats >"$WORK/stats.json"
# what each company should have received, by its fate
jq -r '.companies[] | [(.company | ltrimstr("Cb & Co ")), .requestId,
    ({"pass":"0,1","reject":"0,2","progress":"0"}[.fate])] | @tsv' "$WORK/truth.json" |
    sort -n >"$WORK/want.tsv"
# what arrived, per path /ok/<line>
jq -r '[(.path | ltrimstr("/ok/")), (.body | split("&") | map(split("=")) |
    map({(.[0]): .[1]}) | add | .requestId)] | @tsv' "$WORK/rcv1" | sort -u -n >"$WORK/rids.tsv"
jq -rs 'group_by(.path)[] | [(.[0].path | ltrimstr("/ok/")), (map(.body | split("&")[0] |
    ltrimstr("status=")) | join(","))] | @tsv' "$WORK/rcv1" | sort -n >"$WORK/got.tsv"
eq "each company got its story's callbacks, in order (0, then 1 or 2)" \
    "$(cut -f1,3 "$WORK/want.tsv")" "$(cat "$WORK/got.tsv")"
eq "...carrying its ticket's requestId" "$(cut -f1,2 "$WORK/want.tsv")" "$(cat "$WORK/rids.tsv")"
eq "form fields in the vendor's order" \
    "$(jq -r '.body | split("&") | map(split("=")[0]) | join(",")' "$WORK/rcv1" | sort -u)" \
    'status,requestId,authInfo,actionEvent'
eq "form content type" "$(jq -r .ctype "$WORK/rcv1" | sort -u)" 'application/x-www-form-urlencoded;charset=UTF-8'
python3 - "$WORK/rcv1" >"$WORK/forms" <<'PY'
import json, sys, urllib.parse
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    f = dict(urllib.parse.parse_qsl(r["body"], strict_parsing=True))
    info = json.loads(f["authInfo"])
    i = r["path"].rsplit("/", 1)[1]
    ok = (info["name"] == "Cb & Co " + i and info["applicantName"] == "Applicant " + i
          and info["applicantPhone"] == "138%08d" % int(i)
          and info["registerNo"] == "9131%014d" % int(i) and info["legalPerson"] == "Legal " + i)
    print(f["status"], f["actionEvent"], "ok" if ok else "bad authInfo " + f["authInfo"])
PY
eq "status -> actionEvent: 0 submitted, 1 success (7), 2 basic info failed (2)" \
    "$(sort -u "$WORK/forms" | paste -sd,)" '0 0 ok,1 7 ok,2 2 ok'
n=$(wc -l <"$WORK/rcv1")
eq "every delivery accepted at the first attempt" \
    "$(jq -c '[.attempts[] | [.attempt, .accepted, .http_status]] | unique' "$WORK/log.json")" '[[1,true,200]]'
eq "the log has every request the receiver saw" "$(jq '.attempts | length' "$WORK/log.json")" "$n"
eq "stats" "$(jq -c '.callbacks | [.queued, .attempts, .accepted, .failed_attempts, .given_up, .refused, .pending]' "$WORK/stats.json")" \
    "[$n,$n,$n,0,0,0,0]"
eq "truth: the accepted statuses" "$(jq -r '.companies[] | [(.company | ltrimstr("Cb & Co ")), (.callbacks.accepted | map(tostring) | join(","))] | @tsv' "$WORK/truth.json" | sort -n)" \
    "$(cut -f1,3 "$WORK/want.tsv")"
stop_sandbox

# ---- 2. the retry pattern: at once, then a minute later, then at once -----
# stories on 20 ms minutes; the retry pause set apart to 1 s
printf '%s\n' 'R1' 'R3' 'R4' 'R8' >"$WORK/names"
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --auth-time-scale 20 --auth-mix pass=1 \
    --callback-retry-ms 1000 --callback-timeout-ms 2000
for k in 1 3 4 8; do
    printf 'R%s\n' "$k" >"$WORK/one"
    "${CLIENT[@]}" "$URL" "$TOK" "$SEC" issue "$WORK/one" --callback "http://127.0.0.1:$RPORT/fail/$k" >/dev/null
done
wait_quiet 30
curl -sS "$URL/__callbacks" >"$WORK/log.json"
curl -sS "$URL/__truth" >"$WORK/truth.json"
att() { # att COMPANY STATUS: "attempt:accepted" of each try
    jq -r --arg c "$1" --argjson s "$2" '[.attempts[] | select(.company == $c and .status == $s) |
        "\(.attempt):\(.accepted)"] | join(" ")' "$WORK/log.json"
}
eq "1 failure: accepted at the 2nd attempt" "$(att R1 0)" "1:false 2:true"
eq "...the next event at its first" "$(att R1 1)" "1:true"
eq "3 failures: accepted at the 4th" "$(att R3 0)" "1:false 2:false 3:false 4:true"
eq "4 failures: given up after 4" "$(att R4 0)" "1:false 2:false 3:false 4:false"
eq "...then the next event goes" "$(att R4 1)" "1:true"
eq "8 failures: both events given up" "$(att R8 0) / $(att R8 1)" \
    "1:false 2:false 3:false 4:false / 1:false 2:false 3:false 4:false"
eq "truth: accepted and given up" \
    "$(jq -c '[.companies[] | [.company, .callbacks.accepted, .callbacks.given_up]]' "$WORK/truth.json")" \
    '[["R1",[0,1],[]],["R3",[0,1],[]],["R4",[1],[0]],["R8",[],[0,1]]]'
gaps=$(jq -r '[.attempts[] | select(.company == "R3" and .status == 0) | .at_ms] |
    [.[1] - .[0], .[2] - .[1], .[3] - .[2]] | map(tostring) | join(" ")' "$WORK/log.json")
read -r g1 g2 g3 <<<"$gaps"
check "attempt 2 at once ($g1 ms)" test "$g1" -lt 500
check "attempt 3 a (vendor) minute later ($g2 ms >= 1000)" test "$g2" -ge 1000
check "attempt 4 at once after it ($g3 ms)" test "$g3" -lt 500
check "in order: R4's success callback only after its 4th failed attempt" test \
    "$(jq '[.attempts[] | select(.company == "R4" and .status == 1) | .at_ms] | min' "$WORK/log.json")" -ge \
    "$(jq '[.attempts[] | select(.company == "R4" and .status == 0) | .at_ms] | max' "$WORK/log.json")"
eq "every kind of failed answer refused (500, code 1, not JSON, code \"0\")" \
    "$(jq -r 'select(.path == "/fail/8/1") | .answer' "$WORK/rcv1" | paste -sd,)" '500,200,200,200,500,200,200,200'
eq "stats: given up, failed attempts" "$(stats | jq -c '.callbacks | [.given_up, .failed_attempts, .accepted]')" '[3,16,5]'
stop_sandbox
stop_receiver

# ---- 3. a receiver down between attempts: the retry lands after it is back -
start_receiver "$WORK/rcv3"
port=$RPORT
stop_receiver
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --auth-time-scale 20 --auth-mix progress=1 \
    --callback-retry-ms 1500
printf '%s\n' 'Down Co' >"$WORK/one"
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" issue "$WORK/one" --callback "http://127.0.0.1:$port/ok" >/dev/null
wait_attempts 2 10
start_receiver "$WORK/rcv3" "$port"
wait_quiet 10
eq "down, down, then accepted at the 3rd attempt" \
    "$(curl -sS "$URL/__callbacks" | jq -c '[.attempts[] | [.attempt, .accepted, .http_status, (.error != null)]]')" \
    '[[1,false,0,true],[2,false,0,true],[3,true,200,false]]'
eq "the receiver got it once" "$(wc -l <"$WORK/rcv3")" 1
stop_sandbox
stop_receiver

# ---- 4. only loopback targets are contacted -------------------------------
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --auth-time-scale 20 --auth-mix pass=1
printf '%s\n' 'Far Co' >"$WORK/one"
for url in http://example.com/cb http://10.1.2.3/cb; do
    "${CLIENT[@]}" "$URL" "$TOK" "$SEC" issue "$WORK/one" --callback "$url" >/dev/null
    wait_quiet 10
done
curl -sS "$URL/__callbacks" >"$WORK/log.json"
eq "non-loopback: each event refused once, never retried" \
    "$(jq -c '[.attempts[] | [.attempt, .refused, .accepted, .http_status]] | unique' "$WORK/log.json")/$(jq '.attempts | length' "$WORK/log.json")" \
    '[[1,true,false,0]]/4'
eq "stats: refused" "$(cbstat .refused)/$(cbstat .accepted)" 4/0
stop_sandbox

# ---- 5. JSON bodies and an unknown field, for tolerance tests ----------------
start_receiver "$WORK/rcv5"
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --auth-time-scale 20 --auth-mix reject=1 \
    --callback-json --callback-extra-field
printf '%s\n' 'Json Co' >"$WORK/one"
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" issue "$WORK/one" --callback "http://127.0.0.1:$RPORT/ok" >/dev/null
wait_quiet 10
eq "JSON content type" "$(jq -r .ctype "$WORK/rcv5" | sort -u)" 'application/json;charset=UTF-8'
eq "JSON bodies: integers, authInfo a string, the extra field" \
    "$(jq -c '.body | fromjson | [.status, .actionEvent, (.authInfo | fromjson | .name), .tenantType, (.requestId | type)]' "$WORK/rcv5" | paste -sd' ')" \
    '[0,0,"Json Co","COMPANY","string"] [2,2,"Json Co","COMPANY","string"]'
stop_sandbox

# ---- 6. a new ticket cancels the old story's callbacks; --no-callbacks ------
: >"$WORK/rcv5"
# 200 ms minutes: the applicant starts 0.2-1 s after the ticket; the second
# ticket follows the first within milliseconds (one client process)
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --auth-time-scale 200 --auth-mix pass=1
printf '%s\n' 'Again Co' 'Again Co' >"$WORK/two"
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" issue "$WORK/two" --callback "http://127.0.0.1:$RPORT/ok" >/dev/null
wait_quiet 20
rid=$(ledger | jq -r '.tickets[1].requestId')
eq "re-issued at once: the first story's 2 callbacks cancelled" "$(cbstat .cancelled)/$(cbstat .accepted)" 2/2
eq "...only the new ticket's requestId arrives, at its own URL" \
    "$(jq -r '[.path, (.body | split("&")[1])] | @tsv' "$WORK/rcv5" | sort -u)" "/ok/2	requestId=$rid"
stop_sandbox
: >"$WORK/rcv5"
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --auth-time-scale 20 --auth-mix pass=1 --no-callbacks
printf '%s\n' 'Again Co' >"$WORK/one"
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" issue "$WORK/one" --callback "http://127.0.0.1:$RPORT/ok" >/dev/null
wait_quiet 10
eq "--no-callbacks: nothing queued, nothing sent" "$(cbstat .queued)/$(wc -l <"$WORK/rcv5")" 0/0
stop_sandbox
stop_receiver

finish
