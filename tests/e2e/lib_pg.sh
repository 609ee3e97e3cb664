# shellcheck shell=bash
# A throwaway PostgreSQL cluster for the e2e tests. CMake skips this file
# (lib*.sh). Sourced by lib.sh when AB_STORE=pg, or by a test that needs a
# cluster of its own, after lib.sh:
#     source "${AB_SOURCE_DIR:?}/tests/e2e/lib_pg.sh"; pg_start
#
# pg_start creates a cluster in a private temporary directory (mode 0700;
# initdb runs as the postgres user when this runs as root, as the user
# otherwise), listening on a Unix socket in that directory and on
# 127.0.0.1 at a free port, with trust authentication (nobody else can
# reach the socket; the TCP port is loopback only) and fsync off (a test
# cluster). It sets PG_DIR, PG_PORT, PG_SOCKDIR and PG_URL
# (postgresql://postgres@127.0.0.1:PORT/authbatch) and creates the database
# authbatch. The EXIT trap stops the cluster and removes the directory.
# pg_fresh empties the database (drop and create), pg_q runs SQL on it.

PG_BIN=
for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/initdb" ]] && PG_BIN=$d
done

# pg_as CMD...: runs CMD as the cluster's owner.
pg_as() {
    if (($(id -u) == 0)); then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

pg_stop() {
    [[ -n "${PG_DIR:-}" && -d "$PG_DIR/data" ]] || return 0
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop \
        >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
    PG_DIR=
}

pg_start() {
    local try
    if [[ -z "$PG_BIN" ]]; then
        echo "skip: the PostgreSQL server is not installed (postgresql)"
        exit 0
    fi
    PG_DIR=$(mktemp -d)
    AB_CLEANUPS+=(pg_stop)
    if (($(id -u) == 0)); then
        chown postgres: "$PG_DIR"
        if ! runuser -u postgres -- test -w "$PG_DIR"; then
            echo "lib_pg: the postgres user cannot reach '$PG_DIR'" \
                "(a private TMPDIR?)" >&2
            exit 1
        fi
    fi
    PG_SOCKDIR=$PG_DIR
    pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 \
        --no-sync --no-instructions >"$PG_DIR/initdb.log" 2>&1 || {
        cat "$PG_DIR/initdb.log" >&2
        exit 1
    }
    for try in 1 2 3; do
        PG_PORT=$(pg_free_port)
        if pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_SOCKDIR -c fsync=off -c full_page_writes=off -c max_connections=60" \
            start >/dev/null 2>&1; then
            break
        fi
        ((try < 3)) || {
            echo "lib_pg: the cluster did not start:" >&2
            cat "$PG_DIR/log" >&2
            exit 1
        }
    done
    PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/authbatch"
    pg_fresh
}

# pg_psql [PSQL ARGS...]: psql on the test database, quiet and unaligned.
pg_psql() {
    PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKDIR" -p "$PG_PORT" \
        -U postgres "$@"
}

# pg_fresh: an empty database authbatch, with the SQLite functions the
# tests' queries use (sum over booleans, group_concat): test helpers, not
# part of the schema authbatch creates.
pg_fresh() {
    pg_psql -d postgres -c "DROP DATABASE IF EXISTS authbatch WITH (FORCE)" \
        -c "CREATE DATABASE authbatch" >/dev/null
    pg_psql -d authbatch >/dev/null <<'SQL'
CREATE FUNCTION ab_sum_bool(bigint, boolean) RETURNS bigint LANGUAGE sql
    IMMUTABLE AS 'SELECT coalesce($1, 0) + CASE WHEN $2 THEN 1 ELSE 0 END';
CREATE AGGREGATE sum(boolean) (sfunc = ab_sum_bool, stype = bigint);
CREATE FUNCTION ab_concat(text, text, text) RETURNS text LANGUAGE sql
    IMMUTABLE AS 'SELECT CASE WHEN $2 IS NULL THEN $1 WHEN $1 IS NULL
                  THEN $2 ELSE $1 || $3 || $2 END';
CREATE FUNCTION ab_concat1(text, text) RETURNS text LANGUAGE sql
    IMMUTABLE AS 'SELECT ab_concat($1, $2, '','')';
CREATE AGGREGATE group_concat(text, text) (sfunc = ab_concat, stype = text);
CREATE AGGREGATE group_concat(text) (sfunc = ab_concat1, stype = text);
-- printf('%05d', n) and printf('x%019d', n): one zero-padded integer.
CREATE FUNCTION printf(text, bigint) RETURNS text LANGUAGE sql IMMUTABLE AS
    $$SELECT regexp_replace($1, '%0?[0-9]*d', CASE WHEN
        coalesce((regexp_match($1, '%0?([0-9]*)d'))[1], '') = '' THEN $2::text
        ELSE lpad($2::text, (regexp_match($1, '%0?([0-9]*)d'))[1]::int, '0')
        END)$$;
-- ifnull(x, y) as in SQLite, for the types the tests give it.
CREATE FUNCTION ifnull(text, text) RETURNS text LANGUAGE sql IMMUTABLE
    AS 'SELECT coalesce($1, $2)';
CREATE FUNCTION ifnull(bigint, text) RETURNS text LANGUAGE sql IMMUTABLE
    AS 'SELECT coalesce($1::text, $2)';
CREATE FUNCTION ifnull(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE
    AS 'SELECT coalesce($1, $2)';
-- json_extract(text, '$.a.b'): the value as text.
CREATE FUNCTION json_extract(text, text) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$SELECT $1::jsonb #>> string_to_array(substr($2, 3), '.')$$;
SQL
}

# pg_q SQL [-separator SEP]: one query on the test database, rows as
# sqlite3 -batch -noheader prints them ('|' between columns, NULL empty).
pg_q() {
    local sep='|' sql=
    while (($#)); do
        case $1 in
        -separator) sep=$2; shift 2 ;;
        *) sql=$1; shift ;;
        esac
    done
    pg_psql -d authbatch -A -t -F "$sep" -c "$sql"
}
