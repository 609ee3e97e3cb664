#!/usr/bin/env bash
# Secrets: every command runs with a recognisable App Secret and App Token
# (from the environment, then from a --credentials file); everything written
# -- stdout, stderr, reports in every format with and without tickets, the
# metrics file, the rejects file, the database (.dump and the raw -wal and
# main files) -- is searched. The secret appears nowhere; the token appears
# nowhere either (it goes only into the request header the vendor requires,
# which the sandbox checks); --dry-run prints both as <redacted>; a
# credentials file readable by group or others is refused with 78 and its
# values are not echoed; files holding tickets or contacts (report -o
# --with-tickets, --rejects) are mode 0600 whatever the umask; the secret is
# not on the command line of the process, and the process is not dumpable
# (its /proc files are root's, checked by running it as 'nobody' when
# setpriv is available: the binary is copied to a directory under /tmp that
# nobody can reach, since the build tree may sit in a private directory).
# Env: AUTHBATCH, QYS_SANDBOX, AB_SOURCE_DIR.
set -euo pipefail

AB=${AUTHBATCH:?set AUTHBATCH to the authbatch binary}
SANDBOX=${QYS_SANDBOX:-}
if [[ -z "$SANDBOX" || ! -x "$SANDBOX" ]]; then
    echo "skip: qys-sandbox not built ($SANDBOX)"
    exit 0
fi
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 CLI missing"; exit 0; }
TOK=TOKEN-QWV-4711
SEC=SECRET-ZXQ-9137
WRONG=SECRET-WRONG-5521
# shellcheck source=../sandbox/lib.sh
source "${AB_SOURCE_DIR:?}/tests/sandbox/lib.sh"
NBDIR= # the directory the 'nobody' run uses, removed at exit
trap 'rc=$?; [[ -n "$NBDIR" ]] && rm -rf "$NBDIR"; (exit $rc); cleanup' EXIT
cd "$WORK"
umask 022 # the modes checked below do not depend on the caller's umask
mkdir cap # every captured output goes here
export AUTHBATCH_DB="$WORK/t.db" QYS_ACCESS_TOKEN=$TOK QYS_ACCESS_SECRET=$SEC
n=0
# cap NAME [ALLOWED-STATUS...] -- CMD...: runs CMD, keeps stdout and stderr.
cap() {
    local name=$1 rc=0
    shift
    local -a ok=()
    while [[ $1 != -- ]]; do ok+=("$1"); shift; done
    shift
    n=$((n + 1))
    "$@" >"cap/$name.out" 2>"cap/$name.err" </dev/null || rc=$?
    local s
    for s in "${ok[@]:-0}"; do [[ "$rc" == "$s" ]] && return 0; done
    fail "$name: exit $rc (want ${ok[*]:-0}): $(head -c 300 "cap/$name.err")"
}

start_sandbox --token "$TOK" --secret "$SEC" --seed 5 --fault-5xx 0.1 \
    --fault-garbage 0.05
{
    echo "companyName,applicantContact,callbackUrl"
    for i in $(seq 1 30); do
        name="Secret Co $i"
        ((i % 7 == 0)) && name="Secret Co $i [INVALID]"
        ((i % 11 == 0)) && name="Secret Co $i [AUTHED]"
        echo "$name,1380000$(printf '%04d' "$i"),https://cb.example/hook"
    done
    echo "Bad Row,12345,"
} >c.csv

# --- help and version, every command
cap help -- "$AB" --help
cap version -- "$AB" --version
for c in init import run status report retry; do
    cap "help_$c" -- "$AB" "$c" --help
done
cap usage 64 -- "$AB" run --no-such-option

# --- the normal life of a database
cap init -- "$AB" init
cap import 65 -- "$AB" import --rejects "$WORK/cap/rejects.csv" c.csv
cap dry_run -- "$AB" run --dry-run --base-url "$URL"
cap run 1 -- "$AB" -v run --base-url "$URL" --rate 0 --retry-base-ms 10 \
    --retry-max-ms 50 --max-attempts 10 --progress log \
    --metrics-file "$WORK/cap/metrics.prom"
cap status -- "$AB" status
cap status_json -- "$AB" status --json
for f in text json csv html; do
    cap "report_$f" -- "$AB" report --format "$f" -o "$WORK/cap/report.$f"
    cap "report_tickets_$f" -- "$AB" report --format "$f" --with-tickets \
        -o "$WORK/cap/report_tickets.$f"
    cap "report_stdout_$f" -- "$AB" report --format "$f" --with-tickets
done
cap retry -- "$AB" retry --status failed
cap dry_run_again -- "$AB" run --dry-run --base-url "$URL"

# --- error paths
cap wrong_secret 77 -- env QYS_ACCESS_SECRET=$WRONG "$AB" -v run \
    --base-url "$URL" --rate 0 --progress none
cap no_credentials 78 -- env -u QYS_ACCESS_TOKEN -u QYS_ACCESS_SECRET \
    "$AB" run --base-url "$URL"
cap unreachable 69 -- "$AB" run --base-url http://127.0.0.1:9 \
    --max-attempts 1 --progress none

# --- the credentials file
printf '# test\naccess_token=%s\naccess_secret=%s\n' "$TOK" "$SEC" >creds
chmod 600 creds
cap creds_file_run 0 1 -- env -u QYS_ACCESS_TOKEN -u QYS_ACCESS_SECRET \
    "$AB" run --credentials creds --base-url "$URL" --rate 0 --progress none
for mode in 640 604 660 644 620; do
    chmod "$mode" creds
    cap "creds_mode_$mode" 78 -- env -u QYS_ACCESS_TOKEN -u QYS_ACCESS_SECRET \
        "$AB" run --credentials creds --base-url "$URL"
    check "credentials mode $mode refused, with the reason" \
        grep -q "credentials file 'creds' is accessible by group or others (mode $mode)" \
        "cap/creds_mode_$mode.err"
done
chmod 600 creds
printf 'access_token=%s\naccess_secret %s\n' "$TOK" "$SEC" >creds_bad
chmod 600 creds_bad
cap creds_bad_line 78 -- env -u QYS_ACCESS_TOKEN -u QYS_ACCESS_SECRET \
    "$AB" run --credentials creds_bad --base-url "$URL"
check "bad credentials line named by file and line" \
    grep -q "creds_bad:2: expected key=value" cap/creds_bad_line.err
printf 'access_token=%s\naccess_secret=%s with space\n' "$TOK" "$SEC" >creds_sp
chmod 600 creds_sp
cap creds_space 78 -- env -u QYS_ACCESS_TOKEN -u QYS_ACCESS_SECRET \
    "$AB" run --credentials creds_sp --base-url "$URL"

# --- the secret is not on the command line; the process is not dumpable.
stop_sandbox
start_sandbox --token "$TOK" --secret "$SEC" --fault-slow 1 --slow-ms 600000
"$AB" retry >/dev/null
sqlite3 t.db "UPDATE companies SET status = 'pending' WHERE status = 'done' AND id <= 3"
"$AB" run --base-url "$URL" --timeout 60 --progress none 2>/dev/null &
pid=$!
for _ in $(seq 1 100); do grep -qx "$pid" t.db.lock 2>/dev/null && break; sleep 0.05; done
check "the run is alive while its cmdline is read" kill -0 "$pid"
check "secret not in /proc/PID/cmdline" \
    bash -c "tr '\0' ' ' </proc/$pid/cmdline | grep -q -- ' run ' &&
             ! tr '\0' ' ' </proc/$pid/cmdline | grep -q -- '$SEC'"
check "secret not in /proc/PID/environ (wiped once copied)" \
    bash -c "! tr '\0' '\n' </proc/$pid/environ | grep -q -- '$SEC'"
kill -KILL "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
if command -v setpriv >/dev/null && [[ $(id -u) == 0 ]] && id nobody >/dev/null 2>&1; then
    # nobody cannot enter a private (0700) build tree or $TMPDIR: give it a
    # copy of the binary and a database directory of its own under /tmp.
    NBDIR=$(mktemp -d /tmp/authbatch-nobody.XXXXXX)
    chmod 711 "$NBDIR"
    cp "$AB" "$NBDIR/authbatch"
    chmod 755 "$NBDIR/authbatch"
    mkdir "$NBDIR/db" && chmod 777 "$NBDIR/db"
    printf 'companyName,applicantContact\nDump Co,13800000000\n' >"$NBDIR/c.csv"
    chmod 644 "$NBDIR/c.csv"
    as_nobody() { setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$@"; }
    check "nobody can run the copied binary" as_nobody "$NBDIR/authbatch" --version
    as_nobody env AUTHBATCH_DB="$NBDIR/db/t.db" "$NBDIR/authbatch" -q \
        import "$NBDIR/c.csv" || true
    # Not through the function: $! must be the process itself.
    setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
        env AUTHBATCH_DB="$NBDIR/db/t.db" "$NBDIR/authbatch" run \
        --base-url "$URL" --timeout 60 --progress none 2>/dev/null &
    pid=$!
    for _ in $(seq 1 100); do grep -qx "$pid" "$NBDIR/db/t.db.lock" 2>/dev/null && break; sleep 0.05; done
    eq "process running as nobody" "$(ps -o user= -p "$pid" | tr -d ' ')" nobody
    check "not dumpable: /proc/PID/environ belongs to root, not nobody" \
        test "$(stat -c %u /proc/$pid/environ)" = 0
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$NBDIR"
    NBDIR=
else
    echo "skip: dumpable check (needs root, setpriv and user nobody)"
fi

# --- modes: tickets and contacts are as private as the database
for f in text json csv html; do
    eq "report -o --with-tickets ($f) is 0600" \
        "$(stat -c %a "cap/report_tickets.$f")" 600
    eq "report -o without tickets ($f) follows the umask" \
        "$(stat -c %a "cap/report.$f")" 644
done
eq "import --rejects (contacts) is 0600" "$(stat -c %a cap/rejects.csv)" 600
eq "the database is 0600" "$(stat -c %a t.db)" 600

# --- what was written: outputs, files, the database
sqlite3 t.db .dump >cap/db.dump
cp t.db cap/t.db.raw
[[ -f t.db-wal ]] && cp t.db-wal cap/t.db-wal.raw
ls cap | wc -l | xargs echo "captured files:"
eq "run did issue tickets" "$(grep -c 'INSERT INTO companies.*done' cap/db.dump | head -1 | awk '{print ($1 > 0)}')" 1
check "secret appears nowhere" bash -c "! grep -ral -- '$SEC' cap"
check "wrong secret appears nowhere" bash -c "! grep -ral -- '$WRONG' cap"
check "token appears nowhere (not in the database, logs or dry run)" \
    bash -c "! grep -ral -- '$TOK' cap"
check "dry run: token redacted" \
    grep -q '^x-qys-open-accesstoken: <redacted>$' cap/dry_run.out
check "dry run: signature redacted" \
    grep -q '^x-qys-open-signature: <redacted>$' cap/dry_run.out
check "dry run: nonce and timestamp shown" \
    grep -Eq '^x-qys-open-nonce: [0-9a-f-]{36}$' cap/dry_run.out
check "dry run: no 32-hex signature anywhere" \
    bash -c "! grep -Eq 'signature: [0-9a-f]{32}' cap/dry_run.out cap/dry_run_again.out"
check "tickets only with --with-tickets" \
    bash -c "! grep -Eq '[0-9a-f]{32}' cap/report.text cap/report.json cap/report.csv cap/report.html cap/report_text.out"
check "tickets with --with-tickets" grep -Eq '[0-9a-f]{32}' cap/report_tickets.csv
check "fatal answer reported" grep -q 'INVALID SIGNATURE' cap/wrong_secret.err
echo "$n commands run"
finish
