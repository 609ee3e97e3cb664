# Shared helpers for the qys-sandbox shell tests. Source it after setting
# SANDBOX (path to the binary). Every sandbox started here is stopped by the
# EXIT trap; tests synchronise on the "listening on" line, never on sleeps.

set -euo pipefail

TOK=${TOK:-sbx-token}
SEC=${SEC:-sbx-secret}
API_PATH=/companyauth/miniappexchange
WORK=$(mktemp -d)
SBX_PIDS=()
FAILS=0

cleanup() { # cleanup [EXIT-STATUS]: the status decides what is printed
    local rc=${1:-$?} pid
    if ((rc != 0)) && [[ -s "$WORK/stderr" ]]; then
        echo "--- sandbox stderr:" >&2
        head -c 20000 "$WORK/stderr" >&2
    fi
    for pid in "${SBX_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }
check() { # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
eq() { # eq DESCRIPTION GOT WANT
    if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1: got '$2', want '$3'"; fi
}
finish() {
    if ((FAILS > 0)); then echo "$FAILS check(s) failed" >&2; exit 1; fi
    echo "all checks passed"
}

# start_sandbox ARGS... : sets SBX_PID and URL. Reads the first stdout line
# through a FIFO, so it returns only once the socket accepts connections.
start_sandbox() {
    local fifo="$WORK/out.$RANDOM.$RANDOM" line
    mkfifo "$fifo"
    "$SANDBOX" "$@" >"$fifo" 2>>"$WORK/stderr" &
    SBX_PID=$!
    SBX_PIDS+=("$SBX_PID")
    exec {SBX_FD}<"$fifo"
    rm -f "$fifo"
    if ! IFS= read -r -t 20 line <&"$SBX_FD"; then
        echo "sandbox did not start: $(cat "$WORK/stderr")" >&2
        exit 1
    fi
    [[ "$line" =~ ^listening\ on\ (https?://127\.0\.0\.1:[0-9]+)$ ]] || {
        echo "unexpected first line: '$line'" >&2
        exit 1
    }
    URL=${BASH_REMATCH[1]}
}

# stop_sandbox [SIGNAL]: signal the last started sandbox and wait for it;
# sets SBX_STATUS to its exit status.
stop_sandbox() {
    kill -"${1:-TERM}" "$SBX_PID"
    SBX_STATUS=0
    wait "$SBX_PID" || SBX_STATUS=$?
    exec {SBX_FD}<&-
}

now_ms() { local t=${EPOCHREALTIME/./}; echo "${t:0:13}"; }
new_nonce() { local n; read -r n </proc/sys/kernel/random/uuid; echo "$n"; }
md5hex() { printf '%s' "$1" | md5sum | cut -d' ' -f1; }

body_for() { # body_for COMPANY
    printf '{"companyName":"%s","applicant":{"contact":"13800000000","contactType":"MOBILE"}}' "$1"
}

# api BODY [CURL ARGS...]: POST a signed request. Header values can be
# overridden by the variables H_TOKEN H_TS H_NONCE H_SIG H_CT, a header
# omitted with OMIT=token|timestamp|nonce|signature, and the signing secret
# changed with SIGN_SECRET. Prints the HTTP status; the body goes to
# $WORK/body and the headers to $WORK/headers.
api() {
    local body=$1; shift
    local tok=${H_TOKEN:-$TOK} ts=${H_TS:-$(now_ms)} nonce=${H_NONCE:-$(new_nonce)}
    local sig=${H_SIG:-$(md5hex "$tok${SIGN_SECRET:-$SEC}$ts$nonce")}
    local -a h=()
    [[ "${OMIT:-}" == token ]] || h+=(-H "x-qys-open-accesstoken: $tok")
    [[ "${OMIT:-}" == timestamp ]] || h+=(-H "x-qys-open-timestamp: $ts")
    [[ "${OMIT:-}" == nonce ]] || h+=(-H "x-qys-open-nonce: $nonce")
    [[ "${OMIT:-}" == signature ]] || h+=(-H "x-qys-open-signature: $sig")
    LAST_NONCE=$nonce LAST_TS=$ts LAST_SIG=$sig
    : >"$WORK/body" # curl leaves no file behind for an empty body
    curl -sS -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' \
        -X POST "$URL$API_PATH" "${h[@]}" \
        -H "Content-Type: ${H_CT:-application/json;charset=UTF-8}" \
        --data-binary "$body" "$@"
}

stats() { curl -sS "$URL/__stats" "$@"; }
ledger() { curl -sS "$URL/__ledger" "$@"; }

# gen_config FILE N BODY_PREFIX [CURL-CONFIG LINES]: N signed requests, each
# with a fresh nonce, as a curl config file (one md5sum process for all).
# Per-transfer options such as write-out must be in the extra lines: curl
# applies command-line options only to the last group.
gen_config() {
    local file=$1 n=$2 prefix=$3 extra=${4:-} dir="$WORK/sig.$RANDOM" i ts
    mkdir -p "$dir"
    ts=$(now_ms)
    local -a nonces=()
    for ((i = 0; i < n; i++)); do
        read -r 'nonces[i]' </proc/sys/kernel/random/uuid
        printf '%s' "$TOK$SEC$ts${nonces[i]}" >"$dir/$i"
    done
    local -a sigs=()
    while read -r s f; do sigs[${f##*/}]=$s; done < <(cd "$dir" && md5sum -- *)
    : >"$file"
    for ((i = 0; i < n; i++)); do
        {
            echo "url = \"$URL$API_PATH\""
            echo 'request = "POST"'
            echo "header = \"x-qys-open-accesstoken: $TOK\""
            echo "header = \"x-qys-open-timestamp: $ts\""
            echo "header = \"x-qys-open-nonce: ${nonces[i]}\""
            echo "header = \"x-qys-open-signature: ${sigs[i]}\""
            echo 'header = "Content-Type: application/json;charset=UTF-8"'
            printf 'data-binary = "{\\"companyName\\":\\"%s %d\\",\\"applicant\\":{\\"contact\\":\\"13800000000\\",\\"contactType\\":\\"MOBILE\\"}}"\n' "$prefix" "$i"
            echo 'output = "/dev/null"'
            [[ -z "$extra" ]] || printf '%s\n' "$extra"
            ((i == n - 1)) || echo 'next'
        } >>"$file"
    done
    rm -rf "$dir"
}
