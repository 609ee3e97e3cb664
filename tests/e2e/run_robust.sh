#!/usr/bin/env bash
# End-to-end `authbatch run` in a busy, shared world (issue 17):
#  1. another writer holds the database 7 s mid-run: nothing is dropped
#     (every ticket the sandbox issued is stored, the runs row agrees), no
#     request is sent while results cannot be stored, and the loop keeps
#     running (the metrics file is rewritten meanwhile);
#  2. a company deleted by another program while its request is out: logged,
#     the rest of the batch stored;
#  3. a second run through a symlink, a hard link or another spelling of the
#     path is refused (75), and no company gets two tickets;
#  4. --concurrency beyond the open-file limit: the soft limit is raised, or
#     78 with a clear message and nothing sent;
#  5. --dry-run leaves out the rows a live run has in flight;
#  6. small ones: a bad AUTHBATCH_BUSY_TIMEOUT_MS, --timeout under 1 ms,
#     --rate 1e-13; the first Ctrl-C after --max-runtime still waits.
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"

# Conditions for wait_for (evaluated at every poll).
done_at_least() { test "$(q "SELECT count(*) FROM companies WHERE status = 'done'")" -ge "$1"; }
sandbox_in_flight_at_least() { test "$(stat_of .in_flight)" -ge "$1"; }

# --- 1. a writer holds the database for 7 s
N=400
start_sandbox --token "$TOK" --secret "$SEC" --latency-ms 5
import_n $N
run_ab_bg busy run --base-url "$URL" --rate 100 --concurrency 8 \
    --progress none --metrics-file "$WORK/m.prom"
wait_for 30 "some results stored" done_at_least 50
mkfifo ctl ack
sqlite3 "$AUTHBATCH_DB" <ctl >ack 2>&1 &
holder=$!
AB_PIDS+=("$holder")
exec {CTL}>ctl {ACK}<ack
echo ".timeout 5000
BEGIN IMMEDIATE; INSERT INTO companies (company_name, applicant_contact)
      VALUES ('Holder Co', '13800000000'); SELECT 'locked';" >&"$CTL"
IFS= read -r -t 20 line <&"$ACK" || line=
eq "busy: the other writer holds the lock" "$line" locked
wait_for 10 "the run says it cannot store" grep -q "cannot store .* results yet" busy.err
req_a=$(stat_of .requests)
m_a=$(stat -c %Y "$WORK/m.prom")
# Holding the lock for 7 s is the scenario itself.
sleep 7
req_b=$(stat_of .requests)
m_b=$(stat -c %Y "$WORK/m.prom")
eq "busy: nothing sent while results cannot be stored" "$req_b" "$req_a"
check "busy: the loop kept running (metrics rewritten: $m_a -> $m_b)" test "$m_b" -gt "$m_a"
echo "ROLLBACK; .quit" >&"$CTL"
exec {CTL}>&- {ACK}<&-
wait "$holder" || true
run_ab_wait
eq "busy: exit 0" "$RC" 0
eq "busy: all done" "$(counts)" "done=$N"
eq "busy: the sandbox issued one ticket per company" "$(ledger | jq '.tickets | length')" $N
eq "busy: every ticket it issued is stored" "$(tickets_not_last | head -3)" ""
eq "busy: the runs row counts what was stored" "$(q 'SELECT issued FROM runs')" $N
check "busy: says when storing works again" grep -q "results stored again" busy.err
stop_sandbox

# --- 2. a company deleted while its request is out
start_sandbox --token "$TOK" --secret "$SEC" --latency-ms 400
import_n 40
run_ab_bg deleted run --base-url "$URL" --rate 0 --concurrency 8 --progress none
wait_for 20 "requests in flight" sandbox_in_flight_at_least 1
victim=$(q "SELECT id FROM companies WHERE status = 'in_flight' ORDER BY id LIMIT 1")
sqlite3 -cmd '.timeout 5000' "$AUTHBATCH_DB" "PRAGMA foreign_keys = ON;
    DELETE FROM companies WHERE id = $victim"
run_ab_wait
eq "deleted: exit 0" "$RC" 0
eq "deleted: the others all done" "$(counts)" "done=39"
check "deleted: logged" grep -q "company #$victim was deleted from the database" deleted.err
eq "deleted: no orphan attempt" \
    "$(q 'SELECT count(*) FROM attempts WHERE company_id NOT IN (SELECT id FROM companies)')" 0
stop_sandbox

# --- 3. one database, several names
start_sandbox --token "$TOK" --secret "$SEC" --latency-ms 300
import_n 100
run_ab_bg first run --base-url "$URL" --rate 0 --concurrency 4 --progress none
first=$AB_PID
wait_for 20 "the first run holds the lock" grep -qx "$first" "$AUTHBATCH_DB.lock"
ln -s "$AUTHBATCH_DB" link.db
ln "$AUTHBATCH_DB" hard.db
mkdir sub
for name in link.db hard.db "sub/../t.db" "$WORK/./t.db"; do
    run_ab second --db "$name" run --base-url "$URL" --rate 0 --progress none
    eq "second run through '$name': exit 75" "$RC" 75
    check "second run through '$name': names the first" grep -q "in use by another run (pid $first)" second.err
done
run_ab_wait
eq "first run: exit 0" "$RC" 0
eq "first run: all done" "$(counts)" "done=100"
eq "one ticket per company, no more" "$(ledger | jq '.tickets | length')" 100
stop_sandbox

# --- 4. open files
start_sandbox --token "$TOK" --secret "$SEC"
import_n 100
RC=0
(ulimit -Sn 48 && exec "$AB" run --base-url "$URL" --rate 0 --concurrency 64 \
    --progress none) >soft.out 2>soft.err || RC=$?
eq "soft limit 48, --concurrency 64: raised, exit 0" "$RC" 0
eq "soft limit: all done" "$(counts)" "done=100"
import_n 100
req0=$(stat_of .requests)
RC=0
(ulimit -n 48 && exec "$AB" run --base-url "$URL" --rate 0 --concurrency 64 \
    --progress none) >hard.out 2>hard.err || RC=$?
eq "hard limit 48, --concurrency 64: exit 78" "$RC" 78
check "hard limit: says what to change" grep -q "needs about .* open files.*ulimit -n" hard.err
eq "hard limit: nothing sent" "$(stat_of .requests)" "$req0"
eq "hard limit: all pending" "$(counts)" "pending=100"
stop_sandbox

# --- 5. a dry run beside a live run
start_sandbox --token "$TOK" --secret "$SEC" --latency-ms 20000
import_n 10
run_ab_bg live run --base-url "$URL" --rate 0 --concurrency 4 --progress none
live=$AB_PID
wait_for 20 "the live run has requests out" sandbox_in_flight_at_least 4
run_ab dry run --dry-run --base-url "$URL"
eq "dry run beside a live run: exit 0" "$RC" 0
eq "dry run beside a live run: its in-flight rows are not listed" "$(grep -c '^POST ' dry.out || true)" 0
check "dry run beside a live run: says why" grep -q "another run holds" dry.err
kill -KILL "$live"
run_ab_wait
run_ab dry2 run --dry-run --base-url "$URL"
eq "dry run after the run died: its rows are due again" "$(grep -c '^POST ' dry2.out)" 10
stop_sandbox

# --- 6. small ones
start_sandbox --token "$TOK" --secret "$SEC" --latency-ms 3000
import_n 20
AUTHBATCH_BUSY_TIMEOUT_MS=abc run_ab busyenv run --base-url "$URL" --progress none
eq "AUTHBATCH_BUSY_TIMEOUT_MS=abc: exit 78" "$RC" 78
check "AUTHBATCH_BUSY_TIMEOUT_MS=abc: named" grep -q "AUTHBATCH_BUSY_TIMEOUT_MS='abc'" busyenv.err
run_ab tmo run --base-url "$URL" --timeout 0.0001
eq "--timeout 0.0001: exit 64" "$RC" 64
run_ab rate run --base-url "$URL" --rate 1e-13
eq "--rate 1e-13: exit 64" "$RC" 64
eq "nothing sent by those" "$(stat_of .requests)" 0
run_ab_bg maxrt run --base-url "$URL" --rate 0 --concurrency 4 --max-runtime 1s \
    --progress none
wait_for 20 "max runtime reached" grep -q "max runtime reached" maxrt.err
kill -INT "$AB_PID"
run_ab_wait
eq "Ctrl-C after --max-runtime: exit 75" "$RC" 75
eq "Ctrl-C after --max-runtime: the requests in flight were waited for" \
    "$(q "SELECT count(*) FROM companies WHERE status = 'done'")" 4
eq "Ctrl-C after --max-runtime: every ticket issued is stored" \
    "$(ledger | jq '.tickets | length')" 4
stop_sandbox
finish
