#!/usr/bin/env bash
# The vendor burns a nonce when it reads the request: whatever answer a
# request then gets (a fault, a throttle, a rate-limit refusal, a rejection),
# a second copy with the same nonce is refused 445.
# usage: nonce.sh PATH/TO/qys-sandbox
SANDBOX=$1
. "$(dirname "$0")/lib.sh"

# burnt_by DESCRIPTION SANDBOX-ARGS...: one request (whatever its answer),
# then the same headers again on a fresh connection: 445 and no ticket.
burnt_by() {
    local what=$1 n ts first
    shift
    start_sandbox --port 0 --token "$TOK" --secret "$SEC" "$@"
    n=$(new_nonce) ts=$(now_ms)
    first=$(H_NONCE=$n H_TS=$ts api "$(body_for 'Nonce Co')" -m 5 2>/dev/null) || first="curl $?"
    eq "$what: the copy is refused 445 (first: $first)" \
        "$(H_NONCE=$n H_TS=$ts api "$(body_for 'Nonce Co')" -m 5)/$(jq -c . "$WORK/body")" \
        '445/{"code":445,"message":"NONCE REPLAYED"}'
    eq "$what: counted as a replay" "$(stats | jq -c '[.replays, .nonces_remembered]')" '[1,1]'
    stop_sandbox
}

burnt_by "issued" --seed 1
burnt_by "rejected 1005" --invalid-marker 'Nonce'
burnt_by "already authed 1605" --authed-marker 'Nonce'
burnt_by "5xx" --fault-5xx 1
burnt_by "reset" --fault-reset 1
burnt_by "slow" --fault-slow 1 --slow-ms 50
burnt_by "garbage" --fault-garbage 1
burnt_by "throttle code" --fault-throttle 1
burnt_by "HTTP 429" --fault-429 1
burnt_by "latency" --latency-ms 50

# a request refused by a rate limit burns its nonce too
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --max-rps 1
for ((i = 0; i < 50; i++)); do
    n=$(new_nonce) ts=$(now_ms)
    code=$(H_NONCE=$n H_TS=$ts api "$(body_for 'Rps Co')")
    [[ "$code" == 429 ]] && break
done
eq "rate limit: a refusal happened" "$code" 429
eq "rate limit: its copy is refused 445" "$(H_NONCE=$n H_TS=$ts api "$(body_for 'Rps Co')")" 445
stop_sandbox

# a refusal before the nonce check (441-444) leaves it unused
start_sandbox --port 0 --token "$TOK" --secret "$SEC"
n=$(new_nonce) ts=$(now_ms)
eq "wrong signature: 443" "$(H_NONCE=$n H_TS=$ts SIGN_SECRET=bad api "$(body_for 'Sig Co')")" 443
eq "...its nonce is still unused" "$(H_NONCE=$n H_TS=$ts api "$(body_for 'Sig Co')")" 200
stop_sandbox

finish
