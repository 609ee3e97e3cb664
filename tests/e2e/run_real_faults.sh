#!/usr/bin/env bash
# End-to-end `authbatch run` against the faults of the real world (issue 10),
# counted by the sandbox, not by our own code:
#  - 8% of connections reset after the sandbox read (and processed) the
#    request, on keep-alive connections: libcurl re-sends on its own; every
#    copy carries its own nonce: exit 0, all done, zero replays and zero bad
#    signatures at the sandbox, every stored ticket one it issued;
#  - one spurious fatal refusal in a healthy run: a second opinion, exit 0;
#    and a spurious 443 too;
#  - the sandbox's clock 700 s ahead: timestamps refused, exit 77 with a
#    message naming the clock; 90 s ahead: exit 0 with a warning.
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"

# --- resets after read
N=1000
start_sandbox --token "$TOK" --secret "$SEC" --seed 7 \
    --fault-reset-after-read 0.08 --latency-ms 2
import_n $N
run_ab resets run --base-url "$URL" --rate 0 --concurrency 16 \
    --retry-base-ms 10 --retry-max-ms 50 --progress none
eq "resets after read: exit 0" "$RC" 0
eq "resets after read: all done" "$(counts)" "done=$N"
eq "resets after read: no replayed nonce at the sandbox" "$(stat_of .replays)" 0
eq "resets after read: no bad signature at the sandbox" "$(stat_of .sig_failures)" 0
eq "resets after read: no fatal answer at all" "$(stat_of .answers.fatal)" 0
resets=$(stat_of .faults.reset_after_read)
check "resets after read: the sandbox did reset ($resets)" test "$resets" -ge 40
eq "resets after read: every stored ticket is one the sandbox issued" \
    "$(tickets_not_in_ledger | head -3)" ""
# libcurl re-sent some of them by itself, each copy signed anew.
check "resets after read: the sandbox saw more requests than authbatch made attempts" \
    test "$(stat_of .requests)" -ge "$(q 'SELECT count(*) FROM attempts')"
stop_sandbox

# --- one spurious refusal in a healthy run
for code in 1002 443; do
    start_sandbox --token "$TOK" --secret "$SEC" --spurious-fatal 5 \
        --spurious-fatal-code "$code"
    import_n 200
    run_ab spurious run --base-url "$URL" --rate 0 --concurrency 8 --progress none
    eq "spurious $code: exit 0" "$RC" 0
    eq "spurious $code: all done" "$(counts)" "done=200"
    eq "spurious $code: the sandbox refused once" "$(stat_of .spurious_fatal)" 1
    check "spurious $code: the second opinion is logged" \
        grep -q "not confirmed by a second request" spurious.err
    eq "spurious $code: tickets = ledger" "$(tickets_not_last | head -3)" ""
    eq "spurious $code: the refusal is an attempt, counted as transient" \
        "$(q "SELECT count(*) FROM attempts WHERE outcome = 'fatal'")" 1
    stop_sandbox
done

# --- a skewed clock
start_sandbox --token "$TOK" --secret "$SEC" --clock-offset-ms 700000
import_n 50
run_ab skew700 run --base-url "$URL" --rate 0 --concurrency 4 --progress none
eq "clock 700 s behind: exit 77" "$RC" 77
le "clock 700 s behind: at most --concurrency + 1 requests" "$(stat_of .requests)" 5
check "clock 700 s behind: the message names the clock" \
    grep -q "the local clock is 11m40s behind the server's" skew700.err
check "clock 700 s behind: ... and says what to fix" grep -q "NTP" skew700.err
eq "clock 700 s behind: nobody failed, all pending" "$(counts)" "pending=50"
stop_sandbox

start_sandbox --token "$TOK" --secret "$SEC" --clock-offset-ms 90000
import_n 50
run_ab skew90 run --base-url "$URL" --rate 0 --concurrency 4 --progress none
eq "clock 90 s behind: exit 0" "$RC" 0
eq "clock 90 s behind: all done" "$(counts)" "done=50"
eq "clock 90 s behind: one warning" "$(grep -c 'the local clock is 1m30s behind' skew90.err)" 1
stop_sandbox
finish
