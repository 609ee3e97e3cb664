#!/usr/bin/env bash
# Environment faults, each with the documented exit status (SPEC §5), a
# message that says what is wrong, PRAGMA integrity_check ok afterwards and
# no company lost:
#   --db in a missing directory (74)    read-only file system (74)
#   full disk during import (74)        full disk during run (74), then a
#   full disk at open (74)                run with space finishes (0)
#   database held by another writer longer than busy_timeout (75; status
#     still reads)
#   API host unresolvable (69)          connection refused (69)
#   a server that accepts and never answers, with --timeout 1 (69)
#   a second run while one is running (75, naming the holder's pid)
# The mount cases need root and mount(2) (tmpfs); they run in a private
# mount namespace (unshare -m) so nothing outlives the test, and are skipped
# with a message where that is not allowed.
# Env: AUTHBATCH, QYS_SANDBOX, AB_SOURCE_DIR.
set -euo pipefail

if [[ -z "${AB_ENV_NS:-}" ]] && [[ $(id -u) == 0 ]] &&
    unshare -m --propagation private true 2>/dev/null; then
    AB_ENV_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi

AB=${AUTHBATCH:?set AUTHBATCH to the authbatch binary}
SANDBOX=${QYS_SANDBOX:-}
if [[ -z "$SANDBOX" || ! -x "$SANDBOX" ]]; then
    echo "skip: qys-sandbox not built ($SANDBOX)"
    exit 0
fi
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 CLI missing"; exit 0; }
command -v jq >/dev/null || { echo "skip: jq missing"; exit 0; }
# shellcheck source=../sandbox/lib.sh
source "${AB_SOURCE_DIR:?}/tests/sandbox/lib.sh"
cd "$WORK"
export QYS_ACCESS_TOKEN=$TOK QYS_ACCESS_SECRET=$SEC
unset AUTHBATCH_DB QYS_BASE_URL
MOUNTS=()
umount_all() { local m; for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null || true; done; }
trap 'umount_all; cleanup' EXIT

# expect NAME WANT_STATUS REGEX CMD...: runs CMD, checks status and stderr.
expect() {
    local name=$1 want=$2 re=$3 rc=0
    shift 3
    "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    if [[ "$rc" != "$want" ]]; then
        fail "$name: exit $rc, want $want: $(head -c 400 "$WORK/err")"
    elif ! grep -Eq -- "$re" "$WORK/err"; then
        fail "$name: stderr lacks /$re/: $(head -c 400 "$WORK/err")"
    else
        pass "$name: exit $rc: $(grep -Eo -m1 -- "$re" "$WORK/err" | head -c 120)"
    fi
}
# intact NAME DB COUNT: integrity ok and COUNT companies.
intact() {
    eq "$1: integrity_check" "$(sqlite3 "$2" 'PRAGMA integrity_check')" ok
    eq "$1: no company lost" "$(sqlite3 "$2" 'SELECT count(*) FROM companies')" "$3"
}
mk_csv() { # mk_csv FILE N PREFIX
    { echo "companyName,applicantContact"
      for ((i = 1; i <= $2; i++)); do printf '%s %05d,1380%07d\n' "$3" "$i" "$i"; done
    } >"$1"
}
can_mount=0
mkdir -p "$WORK/probe"
if [[ $(id -u) == 0 ]] && mount -t tmpfs -o size=64k tmpfs "$WORK/probe" 2>/dev/null; then
    umount "$WORK/probe"
    can_mount=1
fi
tmpfs() { # tmpfs DIR SIZE
    mkdir -p "$1"
    mount -t tmpfs -o "size=$2" tmpfs "$1"
    MOUNTS+=("$1")
}
fill_leaving() { # fill_leaving DIR KB: a filler file leaves about KB free
    local free
    free=$(df -k --output=avail "$1" | tail -1)
    if ((free > $2)); then
        dd if=/dev/zero of="$1/filler" bs=1k count=$((free - $2)) 2>/dev/null || true
    fi
}

mk_csv c20.csv 20 "Env Co"
mk_csv c300.csv 300 "Full Co"
mk_csv c30k.csv 30000 "Big Co"
start_sandbox --token "$TOK" --secret "$SEC" --seed 3
run_args=(run --base-url "$URL" --rate 0 --progress none --retry-base-ms 10
    --retry-max-ms 50)

# --- 1. --db in a missing directory: nothing is created.
for cmd in "init" "import c20.csv" "status" "run --base-url $URL"; do
    # shellcheck disable=SC2086
    expect "missing directory: $cmd" 74 \
        "cannot open (database|lock file) '$WORK/no/such/t.db(.lock)?'.*(does not exist|No such file)" \
        "$AB" --db "$WORK/no/such/t.db" $cmd
done
check "missing directory: not created" test ! -e "$WORK/no"

# --- 2. read-only file system.
if ((can_mount)); then
    tmpfs "$WORK/ro" 4m
    "$AB" --db ro/t.db -q import c20.csv
    mount -o remount,ro "$WORK/ro"
    expect "read-only: import" 74 "ro/t.db.*directory 'ro' is not writable: Read-only file system" \
        "$AB" --db ro/t.db import c300.csv
    expect "read-only: run" 74 "'ro/t.db.lock': Read-only file system" \
        "$AB" --db ro/t.db "${run_args[@]}"
    expect "read-only: status" 74 "directory 'ro' is not writable" \
        "$AB" --db ro/t.db status
    mount -o remount,rw "$WORK/ro"
    intact "read-only" ro/t.db 20
else
    echo "skip: read-only file system (needs root and mount -t tmpfs)"
fi

# --- 3. full disk: import, open, run.
if ((can_mount)); then
    tmpfs "$WORK/full" 1m
    "$AB" --db full/i.db -q import c20.csv
    expect "full disk: import of 30,000 rows" 74 \
        "cannot import into 'full/i.db': database or disk is full; nothing imported" \
        "$AB" --db full/i.db import c30k.csv
    intact "full disk: import" full/i.db 20

    tmpfs "$WORK/full2" 2m
    "$AB" --db full2/t.db -q import c300.csv
    "$AB" --db full2/t.db status >/dev/null # leaves -wal and -shm in place
    fill_leaving full2 0
    expect "full disk: at open" 74 "no space left on the file system of 'full2'" \
        "$AB" --db full2/t.db "${run_args[@]}"
    rm -f full2/filler
    intact "full disk: at open" full2/t.db 300
    fill_leaving full2 48
    expect "full disk: during run" 74 "full2/t.db': database or disk is full" \
        "$AB" --db full2/t.db "${run_args[@]}"
    rm -f full2/filler
    intact "full disk: during run" full2/t.db 300
    expect "full disk: space again, run finishes" 0 "300 left|0 left" \
        "$AB" --db full2/t.db "${run_args[@]}"
    eq "full disk: all done" \
        "$(sqlite3 full2/t.db "SELECT count(*) FROM companies WHERE status = 'done'")" 300
else
    echo "skip: full disk (needs root and mount -t tmpfs)"
fi

# --- 4. another writer holds the database longer than busy_timeout.
"$AB" --db lock.db -q import c20.csv
mkfifo ctl ack
sqlite3 lock.db <ctl >ack 2>&1 &
holder=$!
exec {CTL}>ctl {ACK}<ack
echo "BEGIN IMMEDIATE; INSERT INTO companies (company_name, applicant_contact)
      VALUES ('Holder Co', '13800000000'); SELECT 'locked';" >&"$CTL"
IFS= read -r -t 20 line <&"$ACK" || line=
eq "lock: held by sqlite3" "$line" locked
export AUTHBATCH_BUSY_TIMEOUT_MS=300
t0=$(now_ms)
expect "lock: import" 75 "cannot start a transaction on 'lock.db': database is locked; nothing imported" \
    "$AB" --db lock.db import c300.csv
check "lock: gave up after busy_timeout, not 5 s ($(($(now_ms) - t0)) ms)" \
    test $(($(now_ms) - t0)) -lt 4000
expect "lock: run" 75 "lock.db': database is locked" "$AB" --db lock.db "${run_args[@]}"
expect "lock: retry" 75 "lock.db': database is locked" "$AB" --db lock.db retry
eq "lock: status still reads (WAL)" \
    "$("$AB" --db lock.db status --json 2>&1 | jq -r .counts.pending)" 20
unset AUTHBATCH_BUSY_TIMEOUT_MS
echo "ROLLBACK; .quit" >&"$CTL"
exec {CTL}>&- {ACK}<&-
wait "$holder" || true
intact "lock" lock.db 20
eq "lock: companies untouched" \
    "$(sqlite3 lock.db "SELECT count(*) FROM companies WHERE status = 'pending' AND attempts = 0")" 20

# --- 5. the API cannot be reached.
"$AB" --db net.db -q import c20.csv
expect "unresolvable host" 69 "the API at 'http://nonexistent.invalid' could not be reached: Could not resolve host" \
    "$AB" --db net.db run --allow-http --base-url http://nonexistent.invalid --max-attempts 2 \
    --retry-base-ms 10 --retry-max-ms 20 --progress none
intact "unresolvable host" net.db 20
eq "unresolvable host: companies still to do" \
    "$(sqlite3 net.db "SELECT count(*) FROM companies WHERE status IN ('pending', 'retry_wait')")" 20
expect "connection refused" 69 "could not be reached: Failed to connect" \
    "$AB" --db net.db run --base-url http://127.0.0.1:9 --max-attempts 2 \
    --retry-base-ms 10 --retry-max-ms 20 --progress none
intact "connection refused" net.db 20

# --- 6. a server that accepts connections and never answers.
url_ok=$URL
start_sandbox --token "$TOK" --secret "$SEC" --fault-slow 1 --slow-ms 600000
"$AB" --db hang.db -q import c20.csv
t0=$(now_ms)
expect "silent server, --timeout 1" 69 "could not be reached: .*[Tt]ime(d)? ?out" \
    timeout 120 "$AB" --db hang.db run --base-url "$URL" --timeout 1 --max-attempts 2 \
    --retry-base-ms 10 --retry-max-ms 20 --concurrency 20 --progress none
el=$(($(now_ms) - t0))
check "silent server: bounded by the timeout ($el ms)" test "$el" -lt 20000
intact "silent server" hang.db 20

# --- 7. a second run while one runs: 75 naming the holder's pid.
"$AB" --db hang.db -q run --base-url "$URL" --timeout 30 --progress none \
    2>/dev/null &
first=$!
for _ in $(seq 1 100); do # the lock file appears once the run holds it
    grep -qx "$first" hang.db.lock 2>/dev/null && break
    sleep 0.05
done
expect "second run" 75 "pid $first" "$AB" --db hang.db "${run_args[@]}"
kill -KILL "$first"
wait "$first" || true
intact "second run" hang.db 20
URL=$url_ok
finish
