#!/usr/bin/env bash
# Throughput of the keep-alive happy path, as quoted in README.md.
# usage: bench.sh PATH/TO/qys-sandbox [wrk args...]   (default -t2 -c64 -d10s)
# Not registered with ctest: it measures, it does not check.
SANDBOX=$1; shift
. "$(dirname "$0")/lib.sh"

start_sandbox --port 0 --token "$TOK" --secret "$SEC" --no-replay-check
ts=$(now_ms) nonce=$(new_nonce)
sig=$(md5hex "$TOK$SEC$ts$nonce")
cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.path = "$API_PATH"
wrk.body = '{"companyName":"Bench Co","applicant":{"contact":"13800000000","contactType":"MOBILE"}}'
wrk.headers["Content-Type"] = "application/json;charset=UTF-8"
wrk.headers["x-qys-open-accesstoken"] = "$TOK"
wrk.headers["x-qys-open-timestamp"] = "$ts"
wrk.headers["x-qys-open-nonce"] = "$nonce"
wrk.headers["x-qys-open-signature"] = "$sig"
LUA
if (($# == 0)); then set -- -t2 -c64 -d10s; fi
wrk "$@" -s "$WORK/post.lua" "$URL" 2>&1 | sed '/^$/d'
stats | jq -c '{requests, answers: .answers.issued, max_concurrent, max_per_second}'
stop_sandbox
