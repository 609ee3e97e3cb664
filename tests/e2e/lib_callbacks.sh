# shellcheck shell=bash disable=SC2034 # CB_* are read by the scripts
# Helpers for the `authbatch callbacks` end-to-end tests
# (tests/e2e/callbacks_*.sh). CMake skips files named lib*.sh. Source it
# after lib.sh:
#     source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"
#     source "${AB_SOURCE_DIR:?}/tests/e2e/lib_callbacks.sh"
# Every receiver started here is killed by lib.sh's EXIT trap (its pid is in
# AB_PIDS); tests synchronise on its "listening on" line, never on sleeps.

# tok_of ID: the callback token cb_db gives company ID (22 URL-safe chars).
tok_of() { printf 'tok%019d' "$1"; }

# cb_db N: a fresh database with companies 1..N, each with its token.
cb_db() {
    fresh_db
    "$AB" init >/dev/null 2>&1
    q "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
         WHERE i < $1)
       INSERT INTO companies (id, company_name, applicant_contact,
         callback_token, updated_at)
       SELECT i, printf('示例公司%05d', i), printf('138%08d', i),
         printf('tok%019d', i), 1 FROM n"
}

# start_receiver NAME ARGS...: `authbatch ARGS callbacks --listen
# 127.0.0.1:0 ...`; sets CB_PID and CB_URL once the socket accepts
# connections. Stderr goes to $WORK/NAME.err.
start_receiver() {
    local name=$1 fifo="$WORK/cb.$RANDOM.$RANDOM" line
    shift
    mkfifo "$fifo"
    "$AB" "$@" >"$fifo" 2>>"$WORK/$name.err" &
    CB_PID=$!
    AB_PIDS+=("$CB_PID")
    exec {CB_FD}<"$fifo"
    rm -f "$fifo"
    if ! IFS= read -r -t 20 line <&"$CB_FD"; then
        echo "receiver did not start: $(cat "$WORK/$name.err")" >&2
        exit 1
    fi
    [[ "$line" =~ ^listening\ on\ (http://127\.0\.0\.1:[0-9]+)$ ]] || {
        echo "unexpected first line: '$line'" >&2
        exit 1
    }
    CB_URL=${BASH_REMATCH[1]}
    CB_PORT=${CB_URL##*:}
}

# stop_receiver [SIGNAL]: signals the receiver and waits; CB_STATUS is its
# exit status.
stop_receiver() {
    kill -"${1:-TERM}" "$CB_PID" 2>/dev/null || true
    CB_STATUS=0
    wait "$CB_PID" || CB_STATUS=$?
    exec {CB_FD}<&-
}

# post PATH BODY [CURL ARGS...]: POSTs BODY to $CB_URL/PATH (curl makes it
# a form unless the args set another Content-Type, or none with
# -H 'Content-Type:'); prints the HTTP status, the answer goes to
# $WORK/answer.
post() {
    local path=$1 body=$2
    shift 2
    : >"$WORK/answer"
    curl -sS -o "$WORK/answer" -w '%{http_code}' --max-time 20 \
        "$CB_URL/$path" --data-binary "$body" "$@" || true
}

# cb ID BODY [CURL ARGS...]: post to ID's own callback URL.
cb() {
    local id=$1
    shift
    post "qys/callback/$id/$(tok_of "$id")" "$@"
}

# A snapshot of everything a callback may change, to compare before/after.
snapshot() {
    q "SELECT id, ifnull(auth_status, '-'), ifnull(auth_reason, '-'),
         ifnull(auth_request_id, '-'), ifnull(auth_checked_at, '-'),
         ifnull(auth_changed_at, '-'), updated_at FROM companies ORDER BY id;
       SELECT count(*), ifnull(max(id), 0) FROM auth_events"
}
