#!/usr/bin/env bash
# End-to-end `authbatch run` through a flaky gateway: 5xx, connection resets,
# answers slower than --timeout, garbage bodies, code 11990006 and HTTP 429
# with Retry-After. Every company must end done with the ticket the sandbox
# issued, and the attempts table must account for every request the sandbox
# counted.
# stores: sqlite pg
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"

N=200
# Throttles pause the whole dispatcher for >= 1 s and halve its rate (by
# design), so they are kept rare; the rest is plentiful.
start_sandbox --token "$TOK" --secret "$SEC" --seed 11 \
    --fault-5xx 0.10 --fault-reset 0.06 --fault-slow 0.03 --slow-ms 3000 \
    --fault-garbage 0.06 --fault-throttle 0.01 --fault-429 0.01 \
    --retry-after 1
import_n $N

run_ab r1 run --base-url "$URL" --rate 0 --concurrency 8 --timeout 1 \
    --retry-base-ms 20 --retry-max-ms 200 --max-attempts 20 --progress none
eq "faults: exit 0" "$RC" 0
eq "faults: every company done" "$(counts)" "done=$N"
eq "faults: stored ticket = last ticket issued" "$(tickets_not_last | head -5)" ""
eq "faults: no ticket issued twice, faults issue none" \
    "$(jq '.tickets | length' ledger.json)" $N
le "faults: finished in under 45 s" "$SECS" 45

# Slow answers are still pending in the sandbox when the run ends (3 s
# against a 1 s timeout); let them settle before reading the counters.
sandbox_idle() { [[ $(stat_of .in_flight) == 0 ]]; }
wait_for 10 "sandbox in_flight = 0" sandbox_idle
stats >stats.json
S() { jq -r "$1" stats.json; }

# What the client recorded, by kind. Timeouts are told by their duration,
# not their text: after a silent re-send (below) libcurl keeps the first
# error text of the transfer, so a re-sent request that then times out is
# recorded as "Recv failure: Connection reset by peer" after 1000 ms.
IFS='|' read -r a_all a_http a_timeout a_other a_issued a_throttled \
    a_transient a_other_class <<<"$(q "SELECT count(*),
        sum(http_status IS NOT NULL),
        sum(http_status IS NULL AND duration_ms >= 900),
        sum(http_status IS NULL AND duration_ms < 900),
        sum(outcome = 'issued'), sum(outcome = 'throttled'),
        sum(outcome = 'transient'),
        sum(outcome NOT IN ('issued', 'throttled', 'transient'))
        FROM attempts")"
echo "attempts: all=$a_all http=$a_http timeouts=$a_timeout" \
    "other transport=$a_other; sandbox: $(jq -c '{requests, faults, answers}' stats.json)"

check "faults: every kind of fault happened" test "$(S '[.faults["5xx","reset","slow","garbage","throttle_code","http_429"] | select(. > 0)] | length')" = 6
eq "faults: issued attempts = companies" "$a_issued" $N
eq "faults: no rejected, fatal or authed attempts" "$a_other_class" 0
# libcurl silently re-sends a request once when a reused keep-alive
# connection is reset before the first response byte (tests/sandbox/
# README.md, "Faults"): the sandbox counts the re-send as one more request,
# the client sees a single attempt. So every reset either shows up as a
# transport error here, or as exactly one extra request there:
#     attempts = requests - (sandbox resets - resets the client saw)
# and the timeouts are exactly the slow answers.
eq "faults: timeouts = slow answers" "$a_timeout" "$(S .faults.slow)"
le "faults: client-visible resets <= sandbox resets" "$a_other" "$(S .faults.reset)"
eq "faults: attempts = requests - silent re-sends" "$a_all" \
    "$(($(S .requests) - $(S .faults.reset) + a_other))"
eq "faults: answered attempts = requests neither reset nor slow" "$a_http" \
    "$(($(S .requests) - $(S .faults.reset) - $(S .faults.slow)))"
eq "faults: throttled attempts = sandbox throttles" "$a_throttled" \
    "$(S '.faults.throttle_code + .faults.http_429')"
eq "faults: transient attempts = 5xx + garbage + slow + visible resets" \
    "$a_transient" \
    "$(($(S '.faults["5xx"] + .faults.garbage + .faults.slow') + a_other))"
le "faults: attempts <= sandbox requests" "$a_all" "$(S .requests)"

eq "faults: company attempts = its attempt rows" "$(q "SELECT count(*) FROM
    companies c WHERE attempts != (SELECT count(*) FROM attempts a
    WHERE a.company_id = c.id)")" 0
eq "faults: attempt numbers run 1..n per company" "$(q "SELECT count(*) FROM
    (SELECT company_id, max(attempt_no) m, count(*) n FROM attempts
    GROUP BY company_id) x WHERE m != n")" 0
eq "faults: runs row agrees" "$(q "SELECT exit_status,
    CAST(attempts = $a_all AS INTEGER), issued,
    CAST(throttled = $a_throttled AS INTEGER),
    CAST(retried = $a_all - $N AS INTEGER) FROM runs")" \
    "0|1|$N|1|1"
# Retry-After is a lower bound: the next attempt of a company answered 429
# starts at least a second after that answer.
eq "faults: Retry-After honoured" "$(q "SELECT count(*) FROM attempts a
    JOIN attempts b ON b.company_id = a.company_id
    AND b.attempt_no = a.attempt_no + 1
    WHERE a.http_status = 429
    AND b.started_at < a.started_at + a.duration_ms + 1000 - 5")" 0
check "faults: the messages say why" test "$(q "SELECT count(*) FROM attempts
    WHERE outcome != 'issued' AND coalesce(message, transport_error, '') = ''")" = 0

finish
