#!/usr/bin/env bash
# A run on PostgreSQL whose renewals fail for longer than its lease while
# its claims are still renewed (another session holds a lock on its
# runners row: the first statement of a renewal extends the companies'
# leases, the second waits and times out). When renewals work again the
# run finds its lease ran out and drops the companies it claimed and had
# not sent: they must become due again (for it or any run), not stay
# in_flight under a lease the run keeps renewing. The run finishes them:
# exit 0, every company done with a ticket the sandbox issued.
set -euo pipefail
AB_STORE=pg
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"

start_sandbox --token "$TOK" --secret "$SEC" --latency-ms 2
import_n 150
AUTHBATCH_BUSY_TIMEOUT_MS=200 run_ab_bg blk run --base-url "$URL" --rate 20 \
    --concurrency 2 --timeout 1 --lease 3s --progress none
blk_pid=$AB_PID
sending() { (($(stat_of .requests) >= 20)); }
wait_for 20 "the run is sending" sending
run_id=$(q "SELECT run_id FROM runners")
# Hold the runners row for 5 s (more than the 3 s lease).
pg_psql -d authbatch -c "BEGIN" \
    -c "SELECT 1 FROM runners WHERE run_id = $run_id FOR UPDATE" \
    -c "SELECT pg_sleep(5)" -c "COMMIT" >/dev/null &
locker=$!
AB_PIDS+=("$locker")
wait "$locker"
check "blocked: the run could not renew" grep -q "cannot renew this run's leases" "$WORK/blk.err"
AB_PID=$blk_pid
run_ab_wait
eq "blocked: the run finishes: exit 0" "$RC" 0
eq "blocked: every company done" "$(counts)" "done=150"
eq "blocked: nothing left claimed" "$(q "SELECT count(*) FROM companies WHERE claimed_by IS NOT NULL")" 0
eq "blocked: every stored ticket one the sandbox issued" "$(tickets_not_in_ledger | head -3)" ""
check "blocked: the run said its lease ran out" grep -q "leases ran out" "$WORK/blk.err"

finish
