#!/usr/bin/env bash
# End-to-end `authbatch run` when the HTTP engine itself fails (issue 17 §4),
# injected with an LD_PRELOAD library (tests/shim/failshim.c):
#  - curl's multi handle breaks mid-run: every request in flight completes
#    with a transport error, the run ends within seconds with 70, nothing is
#    charged to the companies, and it does not spin;
#  - one socket cannot be watched: that transfer alone fails (and is
#    retried); the run completes with 0.
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"
SHIM=${AB_FAILSHIM:-}
[[ -n "$SHIM" && -f "$SHIM" ]] || { echo "skip: failshim not built"; exit 0; }
# Under AddressSanitizer the preloaded library comes before its runtime.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

start_sandbox --token "$TOK" --secret "$SEC" --latency-ms 50
for w in 0 1; do # on the run's own loop, and on a network thread
import_n 300
t0=$(now_ms)
RC=0
LD_PRELOAD=$SHIM AB_SHIM_SOCKET_ACTION_FAIL_AFTER=200 timeout 60 "$AB" run \
    --base-url "$URL" --rate 0 --concurrency 16 --progress none --workers $w \
    >broken.out 2>broken.err || RC=$?
el=$(($(now_ms) - t0))
eq "multi handle broken (--workers $w): exit 70" "$RC" 70
check "multi handle broken: ended within seconds ($el ms)" test "$el" -lt 10000
check "multi handle broken: says so" grep -q "http engine failed" broken.err
eq "multi handle broken: nothing left in flight" \
    "$(q "SELECT count(*) FROM companies WHERE status = 'in_flight'")" 0
eq "multi handle broken: nobody failed" \
    "$(q "SELECT count(*) FROM companies WHERE status = 'failed'")" 0
eq "multi handle broken: those in flight were not charged" \
    "$(q "SELECT count(*) FROM companies WHERE status = 'pending' AND attempts > 0")" 0
eq "multi handle broken: every stored ticket is one the sandbox issued" \
    "$(tickets_not_in_ledger | head -3)" ""
done

import_n 100
RC=0
LD_PRELOAD=$SHIM AB_SHIM_POLL_START_FAIL_AT=3 timeout 60 "$AB" run \
    --base-url "$URL" --rate 0 --concurrency 8 --progress none \
    --retry-base-ms 10 --retry-max-ms 50 >onefd.out 2>onefd.err || RC=$?
eq "one socket not watched: exit 0" "$RC" 0
eq "one socket not watched: all done" "$(counts)" "done=100"
eq "one socket not watched: one transfer failed, and was retried" \
    "$(q "SELECT count(*) FROM attempts WHERE transport_error LIKE 'cannot watch a socket%'")" 1
# The run cannot start its loop, after its runs row was written: it says
# so, ends with 70, and its runs row is closed (not left "unfinished").
import_n 20
before=$(q "SELECT count(*) FROM attempts")
RC=0
LD_PRELOAD=$SHIM AB_SHIM_LOOP_INIT_FAIL_AT=1 timeout 60 "$AB" run \
    --base-url "$URL" --rate 0 --progress none >noloop.out 2>noloop.err || RC=$?
eq "no event loop: exit 70" "$RC" 70
check "no event loop: says so" grep -q "cannot start the event loop" noloop.err
eq "no event loop: the run's row is closed with its exit status" \
    "$(q "SELECT ended_at IS NOT NULL, exit_status FROM runs ORDER BY id DESC LIMIT 1")" "1|70"
eq "no event loop: nothing sent" "$(q "SELECT count(*) FROM attempts")" "$before"
eq "no event loop: the new companies still pending, uncharged" \
    "$(q "SELECT count(*) FROM companies WHERE status = 'pending' AND attempts = 0")" 20
finish
