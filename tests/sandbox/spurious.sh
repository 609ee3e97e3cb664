#!/usr/bin/env bash
# --spurious-fatal N: the N-th request that reaches the vendor's application
# (passed checks 2-6, not refused by --max-rps, not answered by a fault) gets
# one fatal-looking refusal, and no ticket; every other request is served.
# usage: spurious.sh PATH/TO/qys-sandbox
SANDBOX=$1
. "$(dirname "$0")/lib.sh"

S() { jq -r "$@" "$WORK/stats.json"; }

# the default: HTTP 200 code 1002, once, at the 3rd request
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --spurious-fatal 3
SIGN_SECRET=bad api "$(body_for 'Sp Co')" >/dev/null # a 443 does not count
got=""
for i in 1 2 3 4 5; do
    got+="$(api "$(body_for "Sp Co $i")")/$(jq -r .code "$WORK/body") "
    [[ $i != 3 ]] || body3=$(jq -c . "$WORK/body")
done
eq "1002 once, at the 3rd request" "$got" "200/0 200/0 200/1002 200/0 200/0 "
eq "1002 body" "$body3" '{"code":1002,"message":"PERMISSION DENIED"}'
stats >"$WORK/stats.json"
eq "stats: spurious_fatal, fatal, sig_failures, codes" \
    "$(S -c '[.spurious_fatal, .answers.fatal, .sig_failures, .codes["1002"], .answers.issued]')" \
    '[1,2,1,1,4]'
eq "no ticket for the refused company" "$(ledger | jq -c '[.tickets[].company]')" \
    '["Sp Co 1","Sp Co 2","Sp Co 4","Sp Co 5"]'
stop_sandbox

# a chosen code with its own HTTP status; not counted as a bad signature
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --spurious-fatal 1 --spurious-fatal-code 443
eq "443: HTTP 443" "$(api "$(body_for 'Sp Co')")/$(jq -c . "$WORK/body")" \
    '443/{"code":443,"message":"INVALID SIGNATURE"}'
eq "443: the next one is served" "$(api "$(body_for 'Sp Co')")/$(jq -r .code "$WORK/body")" 200/0
eq "443: counted as spurious, not as a signature failure" \
    "$(stats | jq -c '[.spurious_fatal, .sig_failures, .answers.fatal]')" '[1,0,1]'
stop_sandbox

# with faults: the N-th request the application sees, faulted ones skipped
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --seed 9 --fault-5xx 0.5 --spurious-fatal 5
: >"$WORK/seq"
for ((i = 0; i < 20; i++)); do
    echo "$(api "$(body_for "F Co $i")")/$(jq -r '.code? // "-"' "$WORK/body" 2>/dev/null || echo -)" >>"$WORK/seq"
done
eq "with faults: one 1002" "$(grep -c '^200/1002$' "$WORK/seq")" 1
eq "with faults: after exactly 4 served requests" \
    "$(awk -F/ '$2 == "1002" { print n; exit } $2 == "0" { n++ }' "$WORK/seq")" 4
stats >"$WORK/stats.json"
eq "with faults: served + spurious + 5xx = 20" "$(S '.answers.issued + .spurious_fatal + .faults["5xx"]')" 20
stop_sandbox

for bad in "--spurious-fatal 0" "--spurious-fatal-code 1005" "--spurious-fatal-code x"; do
    st=0
    # shellcheck disable=SC2086 # word splitting wanted
    "$SANDBOX" --token a --secret b $bad >/dev/null 2>"$WORK/err" || st=$?
    eq "$bad: exit 64" "$st" 64
done

finish
