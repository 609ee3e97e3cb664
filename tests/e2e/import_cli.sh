#!/usr/bin/env bash
# End-to-end: `authbatch import` with the real binary and the sqlite3 CLI.
# Env: AUTHBATCH (binary), AB_TEST_DATA (tests/data).
set -euo pipefail

AB=${AUTHBATCH:?set AUTHBATCH to the authbatch binary}
DATA=${AB_TEST_DATA:?set AB_TEST_DATA to tests/data}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
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
run() { # run: sets rc, output in out/err
    set +e
    "$AB" "$@" >out 2>err
    rc=$?
    set -e
}
q() { sqlite3 "$AUTHBATCH_DB" "$@"; }

# --- a clean file, twice ---------------------------------------------------
run import "$DATA/sample.csv"
eq "sample.csv exits 0" "$rc" 0
has "summary line" err "import: $DATA/sample.csv: 6 new, 0 updated, 0 unchanged, 0 rejected"
eq "6 pending companies" "$(q "SELECT count(*) FROM companies WHERE status = 'pending'")" 6
eq "mobile normalised" \
    "$(q "SELECT applicant_contact FROM companies WHERE company_name = '深圳示例贸易有限公司'")" \
    13900139000
run import "$DATA/sample.csv"
eq "re-import exits 0" "$rc" 0
has "re-import changes nothing" err "0 new, 0 updated, 6 unchanged, 0 rejected"
run status
eq "status exits 0" "$rc" 0
if grep -Eq 'pending[^0-9]+6' out; then ok "status counts the import"; else
    bad "status counts the import: $(cat out)"; fi
run -q import "$DATA/sample.csv"
eq "-q: no summary" "$(cat err)" ""

# --- a file with bad rows ----------------------------------------------------
cp "$DATA/bad.csv" bad.csv
run import --rejects rej.csv bad.csv
eq "bad rows exit 65" "$rc" 65
has "summary counts rejects" err "bad.csv: 3 new, 0 updated, 0 unchanged, 9 rejected"
has "wrong USCC check char" err "bad.csv:4: registerNo '91310000MA1FL4F903': wrong check character '3' (expected '2')"
has "short mobile" err "bad.csv:5: applicantContact '1370000444' is not a mainland mobile number"
has "email without dot" err "bad.csv:6: applicantContact 'feng.san@example' is not an email address"
has "ftp callback" err "bad.csv:7: callbackUrl 'ftp://example.com/cb' must start with http:// or https://"
has "empty company name" err "bad.csv:8: companyName is required"
has "closeButton word" err "bad.csv:9: closeButton 'maybe'"
has "modifyFields item" err "bad.csv:10: modifyFields item 'address'"
has "duplicate names first line" err "bad.csv:11: duplicate company '苏州示例制造有限公司' (first on line 3)"
has "contact vs declared type" err "bad.csv:12: applicantContact 'jiang.ba@example.com' is not a mainland mobile number"
eq "rejected rows stored" "$(q "SELECT group_concat(line) FROM (SELECT line FROM rejected_rows WHERE source = 'bad.csv' ORDER BY line)")" \
    "4,5,6,7,8,9,10,11,12"
eq "rejects file: header + 9 rows" "$(grep -c $'\r$' rej.csv)" 10
has "rejects file header" rej.csv "companyName,registerNo,legalPerson,applicantName,applicantContact,applicantContactType,callbackUrl,closeButton,modifyFields,reason"
run import bad.csv
eq "re-import of bad rows still 65" "$rc" 65
eq "rejects replaced, not duplicated" "$(q "SELECT count(*) FROM rejected_rows WHERE source = 'bad.csv'")" 9

# Fix the rejected rows and import the rejects file.
sed -e 's/91310000MA1FL4F903/91310000MA1FL4F902/' \
    -e 's/1370000444,/13700004444,/' \
    -e 's/feng.san@example,/feng.san@example.com,/' \
    -e 's#ftp://#https://#' \
    -e 's/^,,褚五/嘉定示例物业有限公司,,褚五/' \
    -e 's/,maybe,/,yes,/' \
    -e 's/"corpName,address"/corpName/' \
    -e 's/^苏州示例制造有限公司,,吴十,吴十,13700009999/昆山示例制造有限公司,,吴十,吴十,13700009999/' \
    -e 's/jiang.ba@example.com,MOBILE/jiang.ba@example.com,EMAIL/' \
    rej.csv > fixed.csv
run import fixed.csv
eq "fixed rejects import cleanly" "$rc" 0
has "fixed rows are new" err "fixed.csv: 9 new, 0 updated, 0 unchanged, 0 rejected"
has "reason column ignored with a warning" err "ignoring unknown column 'reason'"
eq "all companies in" "$(q "SELECT count(*) FROM companies")" 18

# --- standard input ----------------------------------------------------------
printf 'company_name,applicant_contact\r\n标准输入公司,stdin@example.com\r\n' >stdin.csv
set +e
"$AB" import - <stdin.csv >out 2>err
rc=$?
set -e
eq "stdin exits 0" "$rc" 0
has "stdin source name" err "import: <stdin>: 1 new"

# --- --strict ----------------------------------------------------------------
run --db strict.db import --strict bad.csv
eq "--strict exits 65" "$rc" 65
has "--strict says nothing imported" err "nothing imported (--strict)"
has "--strict reports every reason" err "bad.csv:12:"
eq "--strict leaves the database empty" "$(sqlite3 strict.db "SELECT count(*) FROM companies")" 0

# --- the files Excel writes (issue 19) ---------------------------------------
# Made with Python's codecs, not glibc's, so the reader is checked against an
# independent writer. Names with rare characters: an extension-A character,
# a plane-2 character, the middle dot, full-width punctuation.
if command -v python3 >/dev/null; then
    python3 - <<'PY'
rows = [("䶮𠀀·科技（上海）有限公司", "李四", "13800138000"),
        ("示例：贸易，有限公司", "张·三", "13800138001"),
        ("Plain Ltd", "Li Si", "13800138002")]
def table(sep):
    lines = [sep.join(["companyName", "applicantName", "applicantContact"])]
    lines += [sep.join(r) for r in rows]
    return "\r\n".join(lines) + "\r\n"
# Save As "CSV (逗号分隔)" on Chinese Windows: GB18030 (GBK), CRLF, no BOM.
open("excel_gb.csv", "wb").write(table(",").encode("gb18030"))
# Save As "CSV UTF-8": a BOM.
open("excel_utf8.csv", "wb").write(table(",").encode("utf-8-sig"))
# Save As "Unicode text": UTF-16LE with a BOM, tabs.
open("excel_unicode.txt", "wb").write("\ufeff".encode("utf-16-le") +
                                       table("\t").encode("utf-16-le"))
# The names as UTF-8 hex, what the database must hold byte for byte.
open("names.hex", "w").write("".join(r[0].encode("utf-8").hex().upper() + "\n"
                                     for r in rows))
# A character cut short on line 3 (a lead byte before the comma).
data = table(",").encode("gb18030").split(b"\r\n")
data[2] = data[2].replace("贸".encode("gb18030"), "贸".encode("gb18030")[:1])
open("excel_gb_cut.csv", "wb").write(b"\r\n".join(data))
# Semicolons, as Excel writes CSV where the decimal mark is a comma.
open("excel_semicolon.csv", "wb").write(table(";").encode("utf-8"))
PY
    for f in excel_gb.csv excel_utf8.csv excel_unicode.txt excel_semicolon.csv; do
        run --db "$f.db" import "$f"
        eq "$f imports (exit 0)" "$rc" 0
        has "$f: 3 new" err "$f: 3 new, 0 updated, 0 unchanged, 0 rejected"
        eq "$f: names byte-exact in the database" \
            "$(sqlite3 "$f.db" "SELECT hex(company_name) FROM companies ORDER BY id")" \
            "$(cat names.hex)"
        eq "$f: applicant names too" \
            "$(sqlite3 "$f.db" "SELECT applicant_name FROM companies WHERE id = 2")" "张·三"
    done
    run --db gb2.db import excel_gb.csv
    has "summary says GB18030" err "; read as GB18030 (Excel's CSV on Chinese Windows)"
    run --db u16.db import excel_unicode.txt
    has "summary says UTF-16, tabs" err "; read as UTF-16LE with a byte order mark, tab-separated (Excel's Unicode text)"
    run --db semi.db import excel_semicolon.csv
    has "summary says semicolons" err "; read as UTF-8, semicolon-separated"

    # Detection never guesses at a damaged file, but says what it saw.
    run --db cutauto.db import excel_gb_cut.csv
    eq "a cut GB18030 character, auto: exit 65" "$rc" 65
    has "auto: the damage is named, and the way out" err "except for 1 damaged character"
    has "auto: --encoding gb18030 suggested" err "import it again with --encoding gb18030"
    run --db cut.db import --encoding gb18030 --rejects cut_rejects.csv excel_gb_cut.csv
    eq "a cut GB18030 character: exit 65" "$rc" 65
    has "rejected with its line" err "excel_gb_cut.csv:3: bytes 0xBE 0x2C on line 3"
    has "the reason names the encoding" err "are not valid GB18030 (a character cut short"
    eq "the other rows are in" "$(sqlite3 cut.db "SELECT count(*) FROM companies")" 2
    eq "stored in rejected_rows" "$(sqlite3 cut.db "SELECT line FROM rejected_rows")" 3
    eq "rejects file is 0600 (contacts)" "$(stat -c %a cut_rejects.csv)" 600
    eq "rejects file is GB18030, as the input was" \
        "$(python3 -c 'import sys; t = open(sys.argv[1], "rb").read(); t.decode("gb18030"); print(t.startswith(b"companyName") and b"\xe8\xb4" not in t)' cut_rejects.csv)" True

    run --db strict8.db import --encoding utf-8 excel_gb.csv
    eq "--encoding utf-8 stays strict: exit 65" "$rc" 65
    has "every Chinese row is not UTF-8" err "excel_gb.csv:2: companyName is not valid UTF-8"
    has "with a hint" err "save it as \"CSV UTF-8\""
    eq "nothing Chinese stored" "$(sqlite3 strict8.db "SELECT count(*) FROM companies")" 1
    run --db named.db import --encoding gb18030 --delimiter , excel_gb.csv
    eq "--encoding gb18030 named: exit 0" "$rc" 0
    printf 'companyName,applicantContact\r\nA Co,13800001111\r\n' >plain_utf8.csv
    run --db wrong16.db import --encoding utf-16 plain_utf8.csv
    eq "--encoding utf-16 on a UTF-8 file: exit 65" "$rc" 65
    has "the error says what --encoding did" err "the file was read as UTF-16 because --encoding said so"
    run --db bomclash.db import --encoding gb18030 excel_utf8.csv
    eq "a BOM against --encoding: exit 65" "$rc" 65
    has "the clash is named" err "starts with a UTF-8 byte order mark, but --encoding GB18030 was given"
    run import --encoding latin1 excel_gb.csv
    eq "unknown encoding: 64" "$rc" 64
    run import --delimiter '|' excel_gb.csv
    eq "unknown delimiter: 64" "$rc" 64
    run import --from-sqlite excel_gb.csv.db --table companies --encoding gb18030
    eq "--encoding with --from-sqlite: 64" "$rc" 64
    has "--encoding with --from-sqlite: why" err "are for CSV files"
    # run --csv reads the same way (it imports, then fails to reach the API).
    set +e
    QYS_ACCESS_TOKEN=t QYS_ACCESS_SECRET=s "$AB" --db runcsv.db run \
        --csv excel_unicode.txt --encoding utf-16 --delimiter tab \
        --base-url http://127.0.0.1:9 --max-attempts 1 --progress none >out 2>err
    rc=$?
    set -e
    eq "run --csv --encoding: the import happened" \
        "$(sqlite3 runcsv.db "SELECT hex(company_name) FROM companies ORDER BY id")" \
        "$(cat names.hex)"
    has "run --csv says how it read the file" err "tab-separated (Excel's Unicode text)"
    run run --encoding latin1
    eq "run --encoding unknown: 64" "$rc" 64
else
    echo "skip: python3 not installed, Excel files not made"
fi

# --- whole-file problems and usage ------------------------------------------
: >empty.csv
run import empty.csv
eq "empty file exits 65" "$rc" 65
has "empty file message" err "empty.csv: empty file, expected a header row"
printf 'companyName,legalPerson\nA,B\n' >nocontact.csv
run import nocontact.csv
eq "missing column exits 65" "$rc" 65
has "missing column message" err "nocontact.csv: missing required column 'applicantContact'"
run import missing.csv
eq "missing file exits 66" "$rc" 66
has "missing file message" err "cannot open 'missing.csv': No such file or directory"
run import
eq "no FILE exits 64" "$rc" 64
run import a.csv b.csv
eq "two FILEs exit 64" "$rc" 64
run import --bogus a.csv
eq "unknown option exits 64" "$rc" 64
run import --help
eq "--help exits 0" "$rc" 0
has "--help documents --strict" out "--strict"
has "--help documents exit status" out "65 some rows rejected"
has "--help documents --encoding" out "--encoding E"
has "--help documents --delimiter" out "--delimiter D"
# --db "" (a script's unset variable): SQLite would use a temporary
# database that vanishes at exit, and the import would say "1 new".
run --db "" import "$DATA/sample.csv"
eq "--db '' exits 64" "$rc" 64
has "--db '': says why" err "--db needs a file name"
run --help
has "authbatch --help: import names both ways in" out \
    "  import    read companies from a CSV file or another program's SQLite file"
has "authbatch --help: the summaries line up with callbacks" out "  init      create or upgrade the database"

# --- an output file that is the database -----------------------------------
# --rejects, report -o and --metrics-file given the database's name (or its
# -wal) would replace it: refused (64) before anything is written.
before=$(q .dump | sha256sum)
run import --rejects "$AUTHBATCH_DB" "$DATA/bad.csv"
eq "--rejects DB exits 64" "$rc" 64
has "--rejects DB: says why" err "--rejects '$AUTHBATCH_DB' is the database (--db)"
run import --rejects "./t.db-wal" "$DATA/bad.csv"
eq "--rejects DB-wal (another spelling) exits 64" "$rc" 64
run report --format csv -o "$AUTHBATCH_DB"
eq "report -o DB exits 64" "$rc" 64
has "report -o DB: says why" err "-o '$AUTHBATCH_DB' is the database (--db)"
run --db "$AUTHBATCH_DB" callbacks --listen 127.0.0.1:0 --metrics-file "$AUTHBATCH_DB"
eq "callbacks --metrics-file DB exits 64" "$rc" 64
QYS_ACCESS_TOKEN=t QYS_ACCESS_SECRET=s run run --base-url http://127.0.0.1:9 \
    --metrics-file "$AUTHBATCH_DB"
eq "run --metrics-file DB exits 64" "$rc" 64
eq "the database is intact" "$(q .dump | sha256sum)" "$before"
# ... and so would --rejects naming the input in another spelling.
cp "$DATA/bad.csv" in.csv
run --db "$WORK/r.db" import --rejects ./in.csv in.csv
eq "--rejects ./in.csv in.csv exits 64" "$rc" 64
check_same() { cmp -s "$DATA/bad.csv" in.csv && echo same; }
eq "the input is intact" "$(check_same)" same

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
