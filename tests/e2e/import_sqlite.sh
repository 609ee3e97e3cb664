#!/usr/bin/env bash
# End-to-end: `authbatch import --from-sqlite` with the real binary, a CRM's
# own SQLite file (clients(cid, name, uscc, boss, contact, mobile, ...)) and
# the sqlite3 CLI. The source must come out byte-identical, with nothing
# created next to it, whatever its journal mode; --query may only read.
# Env: AUTHBATCH (binary).
set -euo pipefail

AB=${AUTHBATCH:?set AUTHBATCH to the authbatch binary}
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 CLI not installed"; exit 0; }
WORK=$(mktemp -d)
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
cd "$WORK"
export AUTHBATCH_DB="$WORK/t.db"

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failed=$((failed + 1)); echo "FAIL: $1" >&2; }
eq() { # eq WHAT GOT WANT
    if [[ "$2" == "$3" ]]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi
}
has() { # has WHAT FILE TEXT
    if grep -qF -- "$3" "$2"; then ok "$1"; else
        bad "$1: '$3' not in $2:"; sed 's/^/    /' "$2" >&2
    fi
}
run() { # run ARGS...: sets rc, output in out/err
    set +e
    "$AB" "$@" >out 2>err
    rc=$?
    set -e
}
q() { sqlite3 "$AUTHBATCH_DB" "$@"; }
# snapshot DIR: names, sizes and sha256 of every file in DIR.
snapshot() { (cd "$1" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | sort |
    while IFS= read -r f; do
        printf '%s %s %s\n' "$f" "$(stat -c %s "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)"
    done); }

# --- the CRM's file: rollback journal, read-only (0444) -------------------
mkdir crm
sqlite3 crm/crm.db <<'EOF'
CREATE TABLE clients (cid INTEGER PRIMARY KEY, name TEXT, uscc TEXT,
    boss TEXT, contact TEXT, mobile, email TEXT, status TEXT, logo BLOB);
INSERT INTO clients VALUES
 (101, '上海示例科技有限公司', '91310000ma1fl4f902', '张三', '李四', 13800001111, NULL, 'new', X'89504E47'),
 (102, '北京示例贸易有限公司', NULL, NULL, NULL, '+86 139-0000-2222', NULL, 'new', NULL),
 (103, '深圳示例电子有限公司', '91310000MA1FL4F903', '王五', NULL, 13800003333, NULL, 'new', NULL),
 (104, '广州' || char(27) || '[31m示例有限公司', NULL, NULL, NULL, 13800004444, NULL, 'new', NULL),
 (105, '上海示例科技有限公司', NULL, NULL, NULL, 13800005555, NULL, 'new', NULL),
 (106, '杭州示例网络有限公司', NULL, NULL, '赵六', 1.38000066e10, NULL, 'new', NULL),
 (107, '成都示例软件有限公司', NULL, NULL, NULL, NULL, 'chen@example.com', 'new', NULL),
 (108, '已签约有限公司', NULL, NULL, NULL, 13800008888, NULL, 'signed', NULL);
EOF
chmod 0444 crm/crm.db
cp crm/crm.db pristine.db
snapshot crm >before.txt
sha0=$(sha256sum <crm/crm.db)

query="SELECT name AS companyName, uscc AS registerNo, boss AS legalPerson,
       contact AS applicant_name, coalesce(mobile, email) AS applicantContact
       FROM clients WHERE status = 'new' ORDER BY cid"
run import --from-sqlite crm/crm.db --query "$query"
eq "bad rows: exit 65" "$rc" 65
has "summary line" err "import: crm/crm.db:query: 4 new, 0 updated, 0 unchanged, 3 rejected"
has "bad USCC, by row number" err "crm/crm.db:query:3: registerNo '91310000MA1FL4F903': wrong check character '3' (expected '2')"
has "control character" err "crm/crm.db:query:4: companyName contains a control character (U+001B at character 3)"
has "duplicate" err "crm/crm.db:query:5: duplicate company '上海示例科技有限公司' (first on row 1)"
if grep -q $'\x1b' err; then bad "no escape character reaches the terminal"; else
    ok "no escape character reaches the terminal"; fi
eq "normalised like CSV rows" "$(q "SELECT company_name, register_no, legal_person,
    applicant_name, applicant_contact, applicant_contact_type FROM companies ORDER BY id")" \
"上海示例科技有限公司|91310000MA1FL4F902|张三|李四|13800001111|MOBILE
北京示例贸易有限公司||||13900002222|MOBILE
杭州示例网络有限公司|||赵六|13800006600|MOBILE
成都示例软件有限公司||||chen@example.com|EMAIL"
eq "rejected rows stored with their source and row" \
    "$(q "SELECT source || ':' || line FROM rejected_rows ORDER BY line" | tr '\n' ' ')" \
    "crm/crm.db:query:3 crm/crm.db:query:4 crm/crm.db:query:5 "

# --table: rowids, our own names in another spelling, unknown columns warned.
sqlite3 crmtable.db "CREATE TABLE export (COMPANY_NAME TEXT, applicant_contact,
    crm_id INTEGER, note TEXT);
  INSERT INTO export (rowid, company_name, applicant_contact, crm_id, note)
  VALUES (7, '南京示例有限公司', 13900007777, 1, 'x'),
         (20, '苏州示例有限公司', 'abc', 2, NULL);"
run import --from-sqlite crmtable.db --table export
eq "--table: exit 65" "$rc" 65
has "--table: reported by rowid" err "crmtable.db:export:20: applicantContact 'abc' is not a mainland mobile number"
has "--table: unknown columns warned once" err "crmtable.db:export: ignoring unknown columns 'crm_id', 'note'"
eq "--table: one warning" "$(grep -c 'ignoring unknown' err)" 1
eq "--table: the good row in" "$(q "SELECT applicant_contact FROM companies WHERE company_name = '南京示例有限公司'")" 13900007777

# Again: nothing new, the same rejects (replaced, not added).
run import --from-sqlite crm/crm.db --query "$query"
eq "re-import: exit 65" "$rc" 65
has "re-import: unchanged" err "0 new, 0 updated, 4 unchanged, 3 rejected"
eq "re-import: rejects replaced" "$(q "SELECT count(*) FROM rejected_rows WHERE source = 'crm/crm.db:query'")" 3

# --strict and --rejects, into another database.
run --db strict.db import --strict --rejects rej.csv --from-sqlite crm/crm.db --query "$query"
eq "--strict: exit 65" "$rc" 65
has "--strict: nothing imported" err "3 rows rejected, nothing imported (--strict)"
eq "--strict: empty" "$(sqlite3 strict.db 'SELECT count(*) FROM companies')" 0
has "--rejects: the query's columns" rej.csv "companyName,registerNo,legalPerson,applicant_name,applicantContact,reason"
eq "--rejects: 3 rows" "$(($(grep -c $'\r$' rej.csv) - 1))" 3
# The rejects file, fixed, imports as CSV.
sed -e 's/91310000MA1FL4F903/91310000MA1FL4F902/' \
    -e 's/^"广州.\[31m示例有限公司"/广州示例有限公司/' \
    -e 's/^广州.\[31m示例有限公司/广州示例有限公司/' \
    -e 's/^上海示例科技有限公司,,,,13800005555/上海示例二厂有限公司,,,,13800005555/' rej.csv >fixed.csv
run --db strict.db import fixed.csv
eq "fixed rejects import as CSV" "$rc" 0

# The source: byte-identical, nothing created next to it.
snapshot crm >after.txt
eq "0444 source: directory unchanged (names, sizes, sha256)" "$(cat after.txt)" "$(cat before.txt)"
eq "0444 source: sha256 unchanged" "$(sha256sum <crm/crm.db)" "$sha0"
if cmp -s crm/crm.db pristine.db; then ok "0444 source: cmp identical"; else bad "0444 source: cmp differs"; fi
eq "0444 source: still 0444" "$(stat -c %a crm/crm.db)" 444

# --- --query may only read ----------------------------------------------------
for sql in "DELETE FROM clients" "UPDATE clients SET name = 'x'" \
    "INSERT INTO clients (name) VALUES ('x')" "DROP TABLE clients" \
    "ATTACH '$WORK/new.db' AS n" "PRAGMA journal_mode = WAL" "VACUUM" \
    "SELECT 1; DELETE FROM clients" "CREATE TABLE t (a)"; do
    run import --from-sqlite crm/crm.db --query "$sql"
    eq "refused, exit 64: $sql" "$rc" 64
done
has "says why" err "--query may only read"
if [[ -e new.db ]]; then bad "ATTACH created new.db"; else ok "ATTACH created nothing"; fi
snapshot crm >after.txt
eq "refused queries: source unchanged" "$(cat after.txt)" "$(cat before.txt)"
run import --from-sqlite crm/crm.db --query "SELEC 1"
eq "syntax error: exit 64" "$rc" 64
has "syntax error: SQLite's words" err 'near "SELEC": syntax error'

# --- WAL-mode sources -----------------------------------------------------------
# Closed cleanly (no -wal): read with immutable=1, nothing appears next to it.
mkdir wal
sqlite3 wal/w.db "PRAGMA journal_mode = WAL;
  CREATE TABLE c (companyName, applicantContact);
  INSERT INTO c VALUES ('WAL示例有限公司', 13700000001);" >/dev/null
chmod 0444 wal/w.db
snapshot wal >wal_before.txt
run -v import --from-sqlite wal/w.db --table c
eq "WAL, no -wal: exit 0" "$rc" 0
has "WAL, no -wal: immutable" err "reading with immutable=1"
snapshot wal >wal_after.txt
eq "WAL, no -wal: no -wal or -shm left, bytes unchanged" "$(cat wal_after.txt)" "$(cat wal_before.txt)"

# Commits only in the -wal, no -shm (a crash, or a copy without it): refused,
# because reading would create the -shm.
mkdir walcrash
sqlite3 walcrash/x.db "PRAGMA journal_mode = WAL;
  CREATE TABLE c (companyName, applicantContact);" >/dev/null
python3 - walcrash/x.db <<'EOF'
import shutil, sqlite3, sys
db = sys.argv[1]
c = sqlite3.connect(db)
c.execute("PRAGMA wal_autocheckpoint = 0")
c.execute("INSERT INTO c VALUES ('只在WAL里有限公司', 13700000002)")
c.commit()
shutil.copy(db, db + ".copy")
shutil.copy(db + "-wal", db + ".copy-wal")
c.close()
EOF
mv walcrash/x.db.copy walcrash/y.db && mv walcrash/x.db.copy-wal walcrash/y.db-wal
rm -f walcrash/x.db*
snapshot walcrash >wc_before.txt
run import --from-sqlite walcrash/y.db --table c
eq "WAL with -wal, no -shm: exit 66" "$rc" 66
has "WAL with -wal, no -shm: says why" err "'walcrash/y.db-shm' is missing"
snapshot walcrash >wc_after.txt
eq "WAL with -wal, no -shm: nothing created" "$(cat wc_after.txt)" "$(cat wc_before.txt)"

# A live writer (its -wal and -shm there): read through them, commit seen.
python3 - wal/live.db "$AB" <<'EOF' >live.out 2>&1 || true
import os, sqlite3, subprocess, sys
db, ab = sys.argv[1], sys.argv[2]
c = sqlite3.connect(db)
c.execute("PRAGMA journal_mode = WAL")
c.execute("PRAGMA wal_autocheckpoint = 0")
c.execute("CREATE TABLE c (companyName, applicantContact)")
c.execute("INSERT INTO c VALUES ('写者在线有限公司', 13700000003)")
c.commit()
main = open(db, "rb").read(); wal = open(db + "-wal", "rb").read()
rc = subprocess.call([ab, "import", "--from-sqlite", db, "--table", "c"])
same = open(db, "rb").read() == main and open(db + "-wal", "rb").read() == wal
print("rc=%d same=%d" % (rc, same))
c.close()
EOF
has "live WAL writer: imported, file and -wal unchanged" live.out "rc=0 same=1"
eq "live WAL writer: the commit only in the -wal was read" \
    "$(q "SELECT count(*) FROM companies WHERE company_name = '写者在线有限公司'")" 1

# A rollback-journal file whose writer died mid-transaction (a hot
# -journal): reading would roll it back into the file. Refused, untouched.
mkdir hot
python3 - hot/h.db <<'EOF' || true # it dies on purpose
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("CREATE TABLE t (companyName, applicantContact)")
c.execute("INSERT INTO t VALUES ('A', 13800000001)")
c.commit()
c.execute("PRAGMA cache_size = 1")
c.execute("BEGIN")
for i in range(3000):
    c.execute("INSERT INTO t VALUES (?, ?)", ("x" * 200 + str(i), i))
os._exit(9)
EOF
snapshot hot >hot_before.txt
run import --from-sqlite hot/h.db --table t
eq "hot journal: exit 66" "$rc" 66
has "hot journal: says why" err "'hot/h.db-journal' is next to it (a writer stopped mid-transaction)"
snapshot hot >hot_after.txt
eq "hot journal: file and journal untouched" "$(cat hot_after.txt)" "$(cat hot_before.txt)"

# --- read-only media (a read-only tmpfs in a private mount namespace) --------
mkdir -p ro_probe
# shellcheck disable=SC2016 # expanded by the inner shell
if unshare -m bash -c 'mount -t tmpfs -o size=1m tmpfs "$1"' _ ro_probe 2>/dev/null; then
    mkdir ro
    cp wal/w.db ro/w.db
    cp crm/crm.db ro/crm.db
    set +e
    # shellcheck disable=SC2016 # expanded by the inner shell
    unshare -m bash -c '
        set -e
        mkdir -p ro_mnt
        mount -t tmpfs -o size=4m tmpfs ro_mnt
        cp ro/w.db ro/crm.db ro_mnt/
        mount -o remount,ro ro_mnt
        "$1" --db ro.db import --from-sqlite ro_mnt/w.db --table c >ro1.out 2>&1 || echo "rc1=$?"
        "$1" --db ro.db import --from-sqlite ro_mnt/crm.db --query "SELECT name AS companyName, mobile AS applicantContact FROM clients WHERE cid = 102" >ro2.out 2>&1 || echo "rc2=$?"
        ls -A ro_mnt | tr "\n" " "
    ' _ "$AB" >ro.out 2>&1
    set -e
    eq "read-only media: both read, nothing written" "$(cat ro.out)" "crm.db w.db "
    eq "read-only media: rows in" "$(sqlite3 ro.db 'SELECT count(*) FROM companies')" 2
else
    echo "skip: read-only media (no private mount namespace with tmpfs here)"
fi

# --- usage and file problems ---------------------------------------------------
run import --from-sqlite crm/crm.db
eq "neither --table nor --query: 64" "$rc" 64
run import --from-sqlite crm/crm.db --table clients --query "SELECT 1"
eq "both --table and --query: 64" "$rc" 64
run import --table clients
eq "--table without --from-sqlite: 64" "$rc" 64
run import --from-sqlite crm/crm.db --table clients other.csv
eq "--from-sqlite and a FILE: 64" "$rc" 64
run import --from-sqlite crm/crm.db --table nosuch
eq "no such table: 65" "$rc" 65
has "no such table: lists the tables" err "no table or view 'nosuch' in 'crm/crm.db'; it has: clients"
run import --from-sqlite crm/crm.db --table clients
eq "foreign names in --table: 65" "$rc" 65
has "foreign names: suggests a query" err "missing required column 'companyName'; name the columns in a --query"
run import --from-sqlite missing.db --table clients
eq "missing file: 66" "$rc" 66
printf 'companyName,applicantContact\n' >notdb.csv
run import --from-sqlite notdb.csv --table clients
eq "not SQLite: 65" "$rc" 65
has "not SQLite: says so" err "'notdb.csv' is not an SQLite 3 database"
run import --from-sqlite "$AUTHBATCH_DB" --table companies
eq "our own database: 64" "$rc" 64
run import --help
eq "--help: exit 0" "$rc" 0
has "--help: --from-sqlite" out "--from-sqlite FILE"
has "--help: an example query" out "SELECT name AS companyName"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
