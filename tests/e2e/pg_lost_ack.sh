#!/usr/bin/env bash
# The connection to PostgreSQL breaks after the server committed and before
# the run heard it (tests/e2e/helpers/pg_ackdrop.py loses one COMMIT's
# answer): the run cannot tell whether the commit happened.
#  1. A batch of results: the retry after the reconnect finds them stored
#     already. They count as this run's (runs.issued, the summary), no
#     "deleted from the database" warning, one attempt row each.
#  2. A claim: the companies it claimed are this run's in the database,
#     though the run never got them. They must not stay in_flight under a
#     lease the run keeps renewing: the run finishes them (exit 0, every
#     company done, with a ticket the sandbox issued).
set -euo pipefail
AB_STORE=pg
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"

# start_ackdrop PATTERN: the relay; sets DROP_URL and DROP_FD.
start_ackdrop() {
    local fifo="$WORK/drop.$RANDOM" line
    mkfifo "$fifo"
    python3 "$AB_SOURCE_DIR/tests/e2e/helpers/pg_ackdrop.py" "$PG_PORT" "$1" \
        >"$fifo" 2>>"$WORK/ackdrop.stderr" &
    SBX_PIDS+=("$!")
    exec {DROP_FD}<"$fifo"
    rm -f "$fifo"
    if ! IFS= read -r -t 20 line <&"$DROP_FD" || [[ ! "$line" =~ ^listening\ on\ ([0-9]+)$ ]]; then
        echo "the relay did not start: $line $(cat "$WORK/ackdrop.stderr")" >&2
        exit 1
    fi
    DROP_URL="postgresql://postgres@127.0.0.1:${BASH_REMATCH[1]}/authbatch?sslmode=disable"
}
dropped() { # the relay lost a COMMIT's answer
    local line
    IFS= read -r -t 30 line <&"$DROP_FD" && [[ "$line" == dropped ]]
}

start_sandbox --token "$TOK" --secret "$SEC"

# --- 1. a batch of results
import_n 60
start_ackdrop "INSERT INTO attempts"
AUTHBATCH_DB=$DROP_URL run_ab batch run --base-url "$URL" --rate 40 \
    --progress none
check "batch: the relay lost a commit's answer" dropped
eq "batch: exit 0" "$RC" 0
eq "batch: every company done" "$(counts)" "done=60"
eq "batch: one attempt row each" "$(q "SELECT count(*), count(DISTINCT company_id) FROM attempts")" "60|60"
eq "batch: the run counts them all" "$(q "SELECT issued FROM runs ORDER BY id DESC LIMIT 1")" 60
check "batch: the summary too" grep -q "run: 60 done" "$WORK/batch.err"
check "batch: no result reported lost" bash -c "! grep -q 'deleted from the database' '$WORK/batch.err'"
check "batch: the run saw the connection break" grep -q "cannot reach the database" "$WORK/batch.err"

# --- 2. a claim
import_n 60
start_ackdrop "SKIP LOCKED"
AUTHBATCH_DB=$DROP_URL run_ab claim run --base-url "$URL" --rate 40 \
    --timeout 2 --lease 5s --progress none
check "claim: the relay lost a commit's answer" dropped
eq "claim: exit 0" "$RC" 0
eq "claim: every company done" "$(counts)" "done=60"
eq "claim: every stored ticket one the sandbox issued" "$(tickets_not_in_ledger | head -3)" ""

finish
