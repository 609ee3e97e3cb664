# shellcheck shell=bash disable=SC2034 # RC, SECS, AB_PID are read by the scripts
# Helpers for the `authbatch run` end-to-end tests (tests/e2e/run_*.sh).
# CMake skips this file (it is named lib.sh). Source it first thing:
#     source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"
# It sources tests/sandbox/lib.sh (start_sandbox, stop_sandbox, stats, ledger,
# $WORK, the EXIT trap), counts checks, remembers every authbatch started in
# the background so the trap kills it (by PID), and offers polling with a
# deadline instead of sleeps. Env: AUTHBATCH, QYS_SANDBOX, AB_SOURCE_DIR.

AB=${AUTHBATCH:?set AUTHBATCH to the authbatch binary}
SANDBOX=${QYS_SANDBOX:-}
if [[ -z "$SANDBOX" || ! -x "$SANDBOX" ]]; then
    echo "skip: qys-sandbox not built ($SANDBOX)"
    exit 0
fi
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 CLI not installed"; exit 0; }
command -v jq >/dev/null || { echo "skip: jq not installed"; exit 0; }

# shellcheck source=../sandbox/lib.sh
source "${AB_SOURCE_DIR:?}/tests/sandbox/lib.sh"

cd "$WORK"
export AUTHBATCH_DB="$WORK/t.db" QYS_ACCESS_TOKEN=$TOK QYS_ACCESS_SECRET=$SEC
unset QYS_BASE_URL
PASSED=0
AB_PIDS=()
AB_CLEANUPS=() # functions the EXIT trap calls last (lib_pg.sh's pg_stop)
T_START=$SECONDS

# The store the test runs against: AB_STORE=sqlite (default) or pg (a
# throwaway PostgreSQL cluster, lib_pg.sh). q, fresh_db and dump_db work on
# both; tests that run on both write their SQL for both (CAST booleans to
# INTEGER; the cluster has sum(boolean) and group_concat).
AB_STORE=${AB_STORE:-sqlite}
if [[ "$AB_STORE" == pg ]]; then
    # shellcheck source=lib_pg.sh
    source "${AB_SOURCE_DIR:?}/tests/e2e/lib_pg.sh"
    pg_start
    export AUTHBATCH_DB=$PG_URL
    echo "store: PostgreSQL at $PG_URL"
fi

pass() { PASSED=$((PASSED + 1)); echo "ok: $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*" >&2; }
# le DESCRIPTION A B: passes when A <= B (integers).
le() {
    if (($2 <= $3)); then pass "$1 ($2 <= $3)"; else fail "$1: $2 > $3"; fi
}
finish() {
    echo "$PASSED passed, $FAILS failed ($((SECONDS - T_START)) s)"
    ((FAILS == 0)) || exit 1
}

e2e_cleanup() {
    local rc=${1:-$?} pid
    for pid in "${AB_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for pid in "${AB_CLEANUPS[@]}"; do
        "$pid" || true
    done
    if ((rc != 0)); then
        for f in "$WORK"/*.err; do
            [[ -s "$f" ]] || continue
            echo "--- $f" >&2
            tail -n 20 "$f" >&2
        done
    fi
    return "$rc"
}
# Both run whatever the status (under set -e a failing first one would skip
# the second and leak the sandboxes); the script keeps its exit status.
trap 'ab_rc=$?; e2e_cleanup "$ab_rc" || true; cleanup "$ab_rc"' EXIT

q() {
    if [[ "$AB_STORE" == pg ]]; then
        pg_q "$@"
    else
        sqlite3 -batch -noheader "$AUTHBATCH_DB" "$@"
    fi
}

# fresh_db: an empty database (no file, or an empty PostgreSQL database).
fresh_db() {
    if [[ "$AB_STORE" == pg ]]; then
        pg_fresh
    else
        rm -f "$AUTHBATCH_DB" "$AUTHBATCH_DB"-wal "$AUTHBATCH_DB"-shm
    fi
}

# dump_db: the whole database as text (SQL).
dump_db() {
    if [[ "$AB_STORE" == pg ]]; then
        # Without the random key of \restrict lines: a dump is the data.
        "$PG_BIN/pg_dump" -h "$PG_SOCKDIR" -p "$PG_PORT" -U postgres \
            authbatch | grep -v '^\\\(un\)\?restrict '
    else
        sqlite3 "$AUTHBATCH_DB" .dump
    fi
}

# Status counts as "done=N failed=M ..." in a fixed order, zeros left out.
counts() {
    q "SELECT group_concat(status || '=' || n, ' ') FROM (SELECT status,
       count(*) n FROM companies GROUP BY status ORDER BY status) x"
}

# make_csv FILE N [PREFIX]: N companies "PREFIX i" with a mobile contact.
make_csv() {
    awk -v n="$2" -v p="${3:-Company}" 'BEGIN {
        print "companyName,applicantContact"
        for (i = 1; i <= n; i++) printf "%s %d,138%08d\n", p, i, i
    }' >"$1"
}

# import_n N [PREFIX]: a fresh database with N pending companies.
import_n() {
    fresh_db
    make_csv "$WORK/in.csv" "$1" "${2:-Company}"
    "$AB" import "$WORK/in.csv" >"$WORK/import_n.err" 2>&1 || {
        echo "import_n: import failed: $(cat "$WORK/import_n.err")" >&2
        exit 1
    }
}

# run_ab NAME ARGS...: runs `authbatch ARGS` in the foreground; stdout and stderr
# go to $WORK/NAME.out and .err; RC is its exit status and SECS its
# wall time in whole seconds (rounded up).
run_ab() {
    local name=$1 t0=$EPOCHREALTIME
    shift
    RC=0
    "$AB" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || RC=$?
    SECS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { s = b - a; i = int(s); print (s > i ? i + 1 : i) }')
}

# run_ab_bg NAME ARGS...: the same in the background; sets AB_PID.
run_ab_bg() {
    local name=$1
    shift
    "$AB" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    AB_PID=$!
    AB_PIDS+=("$AB_PID")
}

# run_ab_wait: waits for the background run; RC is its exit status.
run_ab_wait() {
    RC=0
    wait "$AB_PID" || RC=$?
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 20 ms until
# it succeeds; fails the test (and exits) when the deadline passes.
wait_for() {
    local limit=$1 what=$2 deadline
    shift 2
    deadline=$((SECONDS + limit))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            fail "timed out after ${limit}s waiting for: $what"
            finish
            exit 1
        fi
        sleep 0.02
    done
}

# Extra curl arguments for /__stats and /__ledger (e.g. --cacert for TLS).
SBX_CURL_ARGS=()

# stat_of JQ-PATH: a number from the sandbox's /__stats.
stat_of() { stats "${SBX_CURL_ARGS[@]}" | jq -r "$1"; }

# Companies whose stored ticket is not the last ticket the sandbox issued for
# them (or that are done without one in the ledger). Prints their names.
tickets_not_last() {
    ledger "${SBX_CURL_ARGS[@]}" >"$WORK/ledger.json"
    jq -r '.tickets | group_by(.company) | map(max_by(.seq))[] |
           [.company, .ticket] | @tsv' "$WORK/ledger.json" |
        sort >"$WORK/ledger_last.tsv"
    q -separator $'\t' "SELECT company_name, ticket FROM companies
                        WHERE status = 'done'" | sort >"$WORK/db_tickets.tsv"
    comm -23 "$WORK/db_tickets.tsv" "$WORK/ledger_last.tsv"
}

# Companies whose stored ticket is not among the tickets the ledger holds for
# them (any of them, not only the last).
tickets_not_in_ledger() {
    ledger "${SBX_CURL_ARGS[@]}" >"$WORK/ledger.json"
    jq -r '.tickets[] | [.company, .ticket] | @tsv' "$WORK/ledger.json" |
        sort >"$WORK/ledger_all.tsv"
    q -separator $'\t' "SELECT company_name, ticket FROM companies
                        WHERE status = 'done'" | sort >"$WORK/db_tickets.tsv"
    comm -23 "$WORK/db_tickets.tsv" "$WORK/ledger_all.tsv"
}

# start_fixed STATUS [--header 'Name: value']... [--body TEXT]: a server
# that answers every request the same way (tests/e2e/helpers/fixed_server.py),
# like a proxy or portal in front of the vendor; sets FIX_URL. Stopped by the
# EXIT trap with the sandboxes.
start_fixed() {
    local fifo="$WORK/fix.$RANDOM.$RANDOM" line
    mkfifo "$fifo"
    python3 "$AB_SOURCE_DIR/tests/e2e/helpers/fixed_server.py" "$@" \
        >"$fifo" 2>>"$WORK/fixed.stderr" &
    SBX_PIDS+=("$!")
    exec {FIX_FD}<"$fifo"
    rm -f "$fifo"
    if ! IFS= read -r -t 20 line <&"$FIX_FD"; then
        echo "fixed server did not start: $(cat "$WORK/fixed.stderr")" >&2
        exit 1
    fi
    [[ "$line" =~ ^listening\ on\ (http://127\.0\.0\.1:[0-9]+)$ ]] || {
        echo "unexpected first line: '$line'" >&2
        exit 1
    }
    FIX_URL=${BASH_REMATCH[1]}
}
fixed_count() { curl -sS "$FIX_URL/__count"; }
