#!/usr/bin/env bash
# Faults on demand: fractions, reproducibility, each fault's shape,
# latency/slow answers that do not block, --max-rps.
# usage: faults.sh PATH/TO/qys-sandbox
SANDBOX=$1
. "$(dirname "$0")/lib.sh"

S() { jq -r "$@" "$WORK/stats.json"; }
# true when FILE is empty or not JSON with the given path (jq 1.6 -e
# succeeds on empty input, hence the size test)
unparsable() { [[ ! -s "$2" ]] || ! jq -e "$1" "$2" >/dev/null 2>&1; }
within() { # within DESCRIPTION COUNT TOTAL FRACTION [POINTS]: |COUNT/TOTAL - F| <= POINTS/100 (default 2)
    local pts=${5:-2}
    if jq -en --argjson c "$2" --argjson t "$3" --argjson f "$4" --argjson p "$pts" \
        '(($c / $t) - $f) | fabs <= $p / 100' >/dev/null; then
        pass "$1 ($2/$3 vs $4)"
    else
        fail "$1: $2/$3 is not within $pts points of $4"
    fi
}

# ---- 1. fractions over 10,000 parallel signed requests -------------------
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --seed 42 \
    --fault-5xx 0.1 --fault-garbage 0.1 --fault-throttle 0.1 \
    --fault-429 0.05 --fault-reset 0.05
gen_config "$WORK/load.cfg" 10000 "Load Co" 'write-out = "%{http_code} %{exitcode}\n"'
curl --parallel --parallel-max 32 -s -K "$WORK/load.cfg" >"$WORK/results" 2>/dev/null || true
stats >"$WORK/stats.json"
total=$(S .requests)
replays=$(S .replays)
eq "10000 transfers done" "$(wc -l <"$WORK/results")" 10000
check "requests >= 10000" test "$total" -ge 10000
# libcurl re-sends once, with the same headers, when a reused connection dies
# before any response byte; the reset request's nonce is already burnt, so
# every such copy is refused as a replay and the first copies are 10000.
eq "extra requests are curl re-sends, each refused as a replay" \
    "$((total - 10000))" "$replays"
check "some resets were re-sent by curl ($replays)" test "$replays" -gt 0
eq "the replays are the only fatal answers" "$(S .answers.fatal)" "$replays"
eq "curl saw every replay as HTTP 445" "$(grep -c '^445 0$' "$WORK/results")" "$replays"
within "5xx" "$(S .faults['"5xx"'])" 10000 0.1
within "garbage" "$(S .faults.garbage)" 10000 0.1
within "throttle_code" "$(S .faults.throttle_code)" 10000 0.1
within "http_429" "$(S .faults.http_429)" 10000 0.05
within "reset" "$(S .faults.reset)" 10000 0.05
within "issued" "$(S .answers.issued)" 10000 0.6
eq "no slow / max_rps faults" "$(S '.faults.slow + .faults.max_rps')" 0
eq "transient = 5xx + reset + garbage" "$(S .answers.transient)" \
    "$(S '.faults["5xx"] + .faults.reset + .faults.garbage')"
eq "throttled = throttle_code + http_429" "$(S .answers.throttled)" \
    "$(S '.faults.throttle_code + .faults.http_429')"
eq "every request answered or reset" "$(S '[.answers[]] | add')" "$total"
eq "curl saw every 5xx" "$(grep -Ec '^50[023] 0$' "$WORK/results")" "$(S '.faults["5xx"]')"
eq "curl saw every 429" "$(grep -c '^429 0$' "$WORK/results")" "$(S .faults.http_429)"
errs=$(grep -vc ' 0$' "$WORK/results" || true)
eq "each reset is a transport error or a re-send refused ($errs + $replays)" \
    "$((errs + replays))" "$(S .faults.reset)"
ledger >"$WORK/ledger.json"
eq "ledger holds exactly the issued tickets" "$(jq '.tickets | length' "$WORK/ledger.json")" "$(S .answers.issued)"
eq "tickets are unique" "$(jq '[.tickets[].ticket] | unique | length' "$WORK/ledger.json")" "$(S .answers.issued)"
check "max_concurrent reflects parallelism" test "$(S .max_concurrent)" -ge 2
eq "per_second sums to requests" "$(S '[.per_second[]] | add')" "$total"
stop_sandbox

# ---- 2. same seed + same order = same faults -----------------------------
run_seq() { # run_seq SEED -> "status size" per request, sequentially
    start_sandbox --port 0 --token "$TOK" --secret "$SEC" --seed "$1" \
        --fault-5xx 0.2 --fault-throttle 0.2 --fault-429 0.2 --fault-garbage 0.1
    gen_config "$WORK/seq.cfg" 300 "Seq Co" 'write-out = "%{http_code} %{size_download}\n"'
    curl -s -K "$WORK/seq.cfg" 2>/dev/null || true
    stop_sandbox
}
run_seq 7 >"$WORK/seq7a"
run_seq 7 >"$WORK/seq7b"
run_seq 8 >"$WORK/seq8"
check "same seed, same faults" cmp -s "$WORK/seq7a" "$WORK/seq7b"
check "other seed, other faults" bash -c '! cmp -s "$1" "$2"' _ "$WORK/seq7a" "$WORK/seq8"

# ---- 3. the shape of each fault ------------------------------------------
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --fault-429 1 --retry-after 7
eq "429 status" "$(api "$(body_for 'F Co')")" 429
check "429 Retry-After: 7" grep -qi '^retry-after: 7' "$WORK/headers"
eq "429 body" "$(jq -c . "$WORK/body")" '{"code":429,"message":"TOO MANY REQUESTS"}'
stop_sandbox

start_sandbox --port 0 --token "$TOK" --secret "$SEC" --fault-throttle 1
eq "throttle code: HTTP 200" "$(api "$(body_for 'F Co')")" 200
eq "throttle code: body" "$(jq -c . "$WORK/body")" '{"code":11990006,"message":"接口调用频繁"}'
stop_sandbox

start_sandbox --port 0 --token "$TOK" --secret "$SEC" --fault-5xx 1
for i in 1 2 3 4 5 6; do
    check "5xx status" grep -Eq '^50[023]$' <<<"$(api "$(body_for 'F Co')")"
done
check "5xx body is not JSON" unparsable .code "$WORK/body"
stop_sandbox

start_sandbox --port 0 --token "$TOK" --secret "$SEC" --fault-garbage 1
for i in 1 2 3 4 5 6; do
    eq "garbage: HTTP 200" "$(api "$(body_for 'F Co')")" 200
    check "garbage: no ticket to be parsed" unparsable .result.ticket "$WORK/body"
done
stop_sandbox

start_sandbox --port 0 --token "$TOK" --secret "$SEC" --fault-reset 1
st=0; api "$(body_for 'F Co')" >/dev/null 2>&1 || st=$?
check "reset: curl reports a transport error (exit $st)" test "$st" -ne 0
eq "faults issue no tickets" "$(ledger | jq '.tickets | length')" 0
stop_sandbox

# reset after read: processed in full (nonce burnt, ticket issued and kept in
# the ledger as never delivered), then the connection is reset
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --fault-reset-after-read 1
n=$(new_nonce) ts=$(now_ms)
st=0; H_NONCE=$n H_TS=$ts api "$(body_for 'Rar Co')" >/dev/null 2>&1 || st=$?
eq "reset after read: curl sees a reset (exit $st)" "$st" 56
eq "reset after read: the ticket is in the ledger, not delivered" \
    "$(ledger | jq -c '[.tickets[] | [.seq, .company, (.ticket | test("^[0-9a-f]{32}$")), .delivered]]')" \
    '[[1,"Rar Co",true,false]]'
eq "reset after read: its nonce is burnt" "$(H_NONCE=$n H_TS=$ts api "$(body_for 'Rar Co')")" 445
st=0; api "$(body_for 'Bad Co [INVALID]')" >/dev/null 2>&1 || st=$?
eq "reset after read of a 1005: reset too, no ticket" "$st/$(ledger | jq '.tickets | length')" 56/1
stats >"$WORK/stats.json"
eq "reset after read: stats" \
    "$(S -c '[.requests, .faults.reset_after_read, .answers.transient, .answers.fatal, .tickets, .tickets_undelivered, .codes["0"]]')" \
    '[3,2,2,1,1,1,null]'
stop_sandbox

# over keep-alive connections, libcurl re-sends a request reset after it was
# read; the copy is refused 445, the first copy's ticket was issued anyway
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --seed 3 --fault-reset-after-read 0.3
gen_config "$WORK/rar.cfg" 300 "Rar Co" 'write-out = "%{http_code} %{exitcode}\n"'
curl --parallel --parallel-max 8 -s -K "$WORK/rar.cfg" >"$WORK/rar" 2>/dev/null || true
stats >"$WORK/stats.json"
ledger >"$WORK/ledger.json"
rar=$(S .faults.reset_after_read)
# 300 draws: one standard deviation is 2.6 points; allow 10 (3.8 sigma)
within "reset after read: fraction" "$rar" 300 0.3 10
eq "reset after read: requests = 300 + re-sends refused" "$(S .requests)" "$((300 + $(S .replays)))"
check "reset after read: curl re-sent some ($(S .replays))" test "$(S .replays)" -gt 0
eq "reset after read: tickets = issued + reset after read" "$(S .tickets)" "$(($(S .answers.issued) + rar))"
eq "reset after read: undelivered = reset after read" \
    "$(jq '[.tickets[] | select(.delivered | not)] | length' "$WORK/ledger.json")/$(S .tickets_undelivered)" "$rar/$rar"
eq "reset after read: curl saw 200 = delivered tickets" "$(grep -c '^200 0$' "$WORK/rar")" "$(S .answers.issued)"
stop_sandbox

# ---- 4. delayed answers do not block each other --------------------------
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --fault-slow 1 --slow-ms 1000
gen_config "$WORK/slow.cfg" 20 "Slow Co" 'write-out = "%{http_code} %{time_total}\n"'
start=$(now_ms)
curl --parallel --parallel-max 20 -s -K "$WORK/slow.cfg" >"$WORK/slow" 2>/dev/null || true
took=$(($(now_ms) - start))
eq "slow: all 504" "$(grep -c '^504 ' "$WORK/slow")" 20
check "slow: each took >= 1 s" awk '$2 < 0.99 { bad = 1 } END { exit bad }' "$WORK/slow"
check "slow: 20 in parallel took ${took} ms (< 5000, not 20 s)" test "$took" -lt 5000
stats >"$WORK/stats.json"
eq "slow: counted as transient" "$(S '.answers.transient, .faults.slow' | paste -sd/)" 20/20
check "slow: max_concurrent $(S .max_concurrent) >= 10" test "$(S .max_concurrent)" -ge 10
stop_sandbox

start_sandbox --port 0 --token "$TOK" --secret "$SEC" --latency-ms 300 --jitter-ms 100
gen_config "$WORK/lat.cfg" 32 "Lat Co" 'write-out = "%{http_code} %{time_total}\n"'
start=$(now_ms)
curl --parallel --parallel-max 32 -s -K "$WORK/lat.cfg" >"$WORK/lat" 2>/dev/null || true
took=$(($(now_ms) - start))
eq "latency: all answered 200" "$(grep -c '^200 ' "$WORK/lat")" 32
check "latency: each took >= 0.3 s" awk '$2 < 0.299 { bad = 1 } END { exit bad }' "$WORK/lat"
check "latency: 32 in parallel took ${took} ms (< 3000)" test "$took" -lt 3000
eq "latency: all issued" "$(ledger | jq '.tickets | length')" 32
stop_sandbox

# ---- 5. --max-rps ---------------------------------------------------------
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --max-rps 5
gen_config "$WORK/rps.cfg" 40 "Rps Co" "write-out = \"%{http_code}\\n\"
dump-header = \"$WORK/rps.headers\""
curl --parallel --parallel-max 40 -s -K "$WORK/rps.cfg" >"$WORK/rps" 2>/dev/null || true
stats >"$WORK/stats.json"
eq "max_rps: refusals = arrivals beyond 5 in each second" "$(S .faults.max_rps)" \
    "$(S '[.per_second[] | if . > 5 then . - 5 else 0 end] | add')"
eq "max_rps: counted as throttled" "$(S .answers.throttled)" "$(S .faults.max_rps)"
eq "max_rps: curl saw the 429s" "$(grep -c '^429$' "$WORK/rps")" "$(S .faults.max_rps)"
eq "max_rps: each with Retry-After: 1" "$(grep -ci '^retry-after: 1' "$WORK/rps.headers")" "$(S .faults.max_rps)"
eq "max_rps: the others issued" "$(S .answers.issued)" $((40 - $(S .faults.max_rps)))
stop_sandbox

finish
