#!/usr/bin/env bash
# End-to-end: `import --from-sqlite` streams. A 300,000-row foreign table
# (each row ~230 bytes, 74 MB of file) must import in about the peak RSS of
# a 30,000-row one: holding the rows would cost ~60 MB more, SQLite's page
# caches (2 MB each, full at either size) and the TEMP "seen" set's cache
# about 2 MB.
# Env: AUTHBATCH (binary).
set -euo pipefail

AB=${AUTHBATCH:?set AUTHBATCH to the authbatch binary}
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 CLI not installed"; exit 0; }
[[ -x /usr/bin/time ]] || { echo "skip: /usr/bin/time not installed (Debian package 'time')"; exit 0; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failed=$((failed + 1)); echo "FAIL: $1" >&2; }

# ASan keeps freed blocks in a quarantine (256 MB by default) that grows
# with every free: its memory, not the program's. A 1 MB quarantine keeps
# the measurement about the program; other ASan checks stay on. Ignored by
# a build without ASan.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1"

# peak_kb ROWS: imports a fresh ROWS-row source into a fresh database and
# prints the peak RSS in KB.
peak_kb() {
    local n=$1
    rm -f src.db t.db t.db-wal t.db-shm
    sqlite3 src.db "CREATE TABLE clients (cid INTEGER PRIMARY KEY, name TEXT,
        mobile INTEGER, note TEXT);
      WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k
                              WHERE i < $n)
      INSERT INTO clients SELECT i, printf('示例科技有限公司%07d', i),
        13800000000 + i, printf('%.200c', 'n') FROM k;"
    /usr/bin/time -f %M -o rss.txt "$AB" -q --db t.db import \
        --from-sqlite src.db \
        --query "SELECT name AS companyName, mobile AS applicantContact, note
                 FROM clients" 2>import.err || {
        echo "import of $n rows failed: $(cat import.err)" >&2
        exit 1
    }
    got=$(sqlite3 t.db "SELECT count(*) FROM companies")
    [[ $got == "$n" ]] || { echo "imported $got of $n" >&2; exit 1; }
    cat rss.txt
}

small=$(peak_kb 30000)
t0=$SECONDS
large=$(peak_kb 300000)
echo "peak RSS: 30,000 rows $small KB, 300,000 rows $large KB ($((SECONDS - t0)) s)"
if ((large <= small + 6144)); then
    ok "300,000 rows within 6 MB of 30,000 rows ($large <= $small + 6144 KB)"
else
    bad "memory grows with the table: $large KB for 300,000 rows, $small KB for 30,000"
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
