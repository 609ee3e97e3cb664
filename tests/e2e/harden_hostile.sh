#!/usr/bin/env bash
# Hostile input: every file of tests/data/hostile/ (plus a few generated
# here: a 10 MB field, 5000 columns, 5000 fields in a row, 10,000 bad rows)
# is imported into a database that already holds finished companies with
# tickets, a failed, a pending and a retry_wait one. For each file: the
# documented exit status (table below), a message naming the file (and the
# line, for row-level problems), nothing but printable text on stderr, the
# expected number of companies added, the pre-existing rows byte-for-byte
# unchanged, and PRAGMA integrity_check ok.
# Env: AUTHBATCH, AB_TEST_DATA.
set -euo pipefail

AB=${AUTHBATCH:?set AUTHBATCH to the authbatch binary}
DATA=${AB_TEST_DATA:?set AB_TEST_DATA to tests/data}/hostile
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 CLI missing"; exit 0; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

# name | exit status | added companies | extended regex the stderr must match
# 0: imported; 65: rows rejected or file unusable; 66: file unreadable.
# Row-level messages are FILE:LINE: reason; file-level ones FILE: reason.
read -r -d '' TABLE <<'T' || true
bad_contact_type.csv|65|0|bad_contact_type.csv:2: applicantContactType 'FAX' must be MOBILE or EMAIL
bad_url_and_flags.csv|65|0|bad_url_and_flags.csv:3: callbackUrl 'file:///etc/passwd' must start with http
binary_after_header.csv|65|0|binary_after_header.csv:2: companyName is not valid UTF-8
binary_garbage.bin|65|0|binary_garbage.bin: line 1: the header is not UTF-8 text
blank_lines_only.csv|65|0|blank_lines_only.csv: empty file, expected a header row
bom_only.csv|65|0|bom_only.csv: empty file
c1_controls.csv|65|0|c1_controls.csv:2: companyName contains a control character \(U\+0085
cr_line_ends.csv|0|2|cr_line_ends.csv: 2 new
duplicate_column.csv|65|0|duplicate_column.csv: duplicate column 'companyName'
duplicate_company.csv|65|2|duplicate_company.csv:4: duplicate company 'Dup Co' \(first on line 2\)
emoji.csv|0|2|emoji.csv: 2 new
empty.csv|65|0|empty.csv: empty file
existing_companies.csv|0|0|existing_companies.csv: 0 new, 0 updated, 3 unchanged
formula_injection.csv|65|3|formula_injection.csv:2: malformed CSV on line 2
header_only.csv|0|0|header_only.csv: 0 new
header_only_bom_crlf.csv|0|0|header_only_bom_crlf.csv: 0 new
header_only_no_newline.csv|0|0|header_only_no_newline.csv: 0 new
header_spaces_case.csv|0|1|header_spaces_case.csv: 1 new
invalid_utf8.csv|65|1|invalid_utf8.csv:3: companyName is not valid UTF-8
lone_cr.csv|65|0|lone_cr.csv: empty file
long_contact.csv|65|1|long_contact.csv:2: applicantContact is 5000 characters long
missing_required_column.csv|65|0|missing_required_column.csv: missing required column 'applicantContact'
mixed_line_endings.csv|0|3|mixed_line_endings.csv: 3 new
more_fields_than_header.csv|65|1|more_fields_than_header.csv:2: 4 fields, header has 2
name_over_limit.csv|65|1|name_over_limit.csv:2: companyName is 101 characters long
nul_in_field.csv|65|1|nul_in_field.csv:2: companyName contains a control character \(U\+0000
nul_in_header.csv|65|0|nul_in_header.csv: line 1: the header holds NUL bytes
nul_only.bin|65|0|nul_only.bin: line 1: the header holds NUL bytes
null_words.csv|65|2|null_words.csv:4: companyName is required
only_commas.csv|0|0|only_commas.csv: 0 new
overlong_utf8.csv|65|0|overlong_utf8.csv:4: companyName is not valid UTF-8 \(bad byte 0xC0
quote_in_unquoted.csv|65|1|quote_in_unquoted.csv:2: malformed CSV on line 2: a quote inside an unquoted field
rtl_marks.csv|0|3|rtl_marks.csv: 3 new
sql_injection.csv|0|4|sql_injection.csv: 4 new
surrogate_utf8.csv|65|0|surrogate_utf8.csv:2: companyName is not valid UTF-8 \(bad byte 0xED
tab_and_newline_inside.csv|65|1|tab_and_newline_inside.csv:3: companyName contains a control character \(U\+000A
terminal_escapes.csv|65|0|terminal_escapes.csv:2: companyName contains a control character \(U\+001B
text_after_quote.csv|65|1|text_after_quote.csv:2: malformed CSV on line 2: text after the closing quote
truncated_quote.csv|65|1|truncated_quote.csv:3: unterminated quoted field starting at line 3
truncated_quote_header.csv|65|0|truncated_quote_header.csv: unterminated quoted field starting at line 1
utf16be_bom.csv|0|1|utf16be_bom.csv: 1 new.*read as UTF-16BE
utf16le_bom.csv|0|1|utf16le_bom.csv: 1 new.*read as UTF-16LE
zero_width.csv|0|3|zero_width.csv: 3 new
gen_field_10mb.csv|65|1|gen_field_10mb.csv:2: field 'companyName' is longer than 65536 bytes
gen_field_10mb_unquoted.csv|65|1|gen_field_10mb_unquoted.csv:3: field 'applicantContact' is longer than 65536 bytes
gen_columns_5000.csv|65|0|gen_columns_5000.csv: header has 5000 columns, at most 256
gen_wide_row_5000.csv|65|1|gen_wide_row_5000.csv:2: 5000 fields, header has 2
gen_long_line_60k.csv|65|0|gen_long_line_60k.csv:2: companyName is 60000 characters long
gen_bad_rows_10000.csv|65|1|and 9900 more rejected rows
gen_missing.csv|66|0|cannot open '[^']*gen_missing.csv': No such file
gen_directory.csv|66|0|cannot read '[^']*gen_directory.csv': Is a directory
T

# --- generated inputs (too big to commit)
H='companyName,applicantContact'
big=$(head -c 10485760 /dev/zero | tr '\0' 'A')
{ echo "$H"; printf '"%s",13800000001\n' "$big"; echo "Gen Good 1,13800000002"; } >gen_field_10mb.csv
{ echo "$H"; echo "Gen Good 2,13800000003"; printf 'Gen Big,%s\n' "$big"; } >gen_field_10mb_unquoted.csv
unset big
{ printf 'companyName,applicantContact'; for ((i = 3; i <= 5000; i++)); do printf ',c%d' "$i"; done; echo; echo "X,13800000004"; } >gen_columns_5000.csv
{ echo "$H"; printf 'Wide'; for ((i = 2; i <= 5000; i++)); do printf ',f'; done; echo; echo "Gen Good 3,13800000005"; } >gen_wide_row_5000.csv
{ echo "$H"; printf '%s,13800000006\n' "$(head -c 60000 /dev/zero | tr '\0' 'L')"; } >gen_long_line_60k.csv
{ echo "$H"; for ((i = 0; i < 10000; i++)); do echo "Bad Row $i,12345"; done; echo "Gen Good 4,13800000007"; } >gen_bad_rows_10000.csv
mkdir gen_directory.csv

# --- the database every file meets: finished companies with tickets & co.
"$AB" --db base.db -q import /dev/stdin <<'CSV'
companyName,applicantContact,registerNo
Pre Done 1,13900000001,91310000MA1FL4F902
Pre Done 2,13900000002,
Pre Authed,13900000003,
Pre Failed,13900000004,
Pre Pending,13900000005,
Pre Retry,13900000006,
CSV
sqlite3 base.db "
UPDATE companies SET status = 'done', attempts = 1, ticket = 'tk-' || id,
    ticket_at = 1000, updated_at = 1000 WHERE company_name LIKE 'Pre Done%';
UPDATE companies SET status = 'already_authed', attempts = 1, last_code = 1605,
    updated_at = 1000 WHERE company_name = 'Pre Authed';
UPDATE companies SET status = 'failed', attempts = 5, last_code = 1005,
    last_message = 'INVALID PARAM', updated_at = 1000 WHERE company_name = 'Pre Failed';
UPDATE companies SET status = 'retry_wait', attempts = 2,
    next_attempt_at = 4102444800000, updated_at = 1000 WHERE company_name = 'Pre Retry';
PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
dump() { sqlite3 "$1" "SELECT * FROM companies WHERE id <= 6 ORDER BY id"; }
dump base.db >before.txt
[[ $(wc -l <before.txt) == 6 ]] || { echo "setup failed" >&2; exit 1; }

n=0
while IFS='|' read -r name want added pattern; do
    [[ -n "$name" ]] || continue
    n=$((n + 1))
    if [[ $name == gen_* ]]; then path=$WORK/$name; else path=$DATA/$name; fi
    rm -f t.db t.db-wal t.db-shm
    sqlite3 base.db ".backup t.db"
    rc=0
    "$AB" --db t.db import "$path" >out.txt 2>err.txt || rc=$?
    what="$name"
    [[ "$rc" == "$want" ]] || fail "$what: exit $rc, want $want: $(head -c 300 err.txt)"
    grep -Eq -- "$pattern" err.txt ||
        fail "$what: stderr lacks /$pattern/: $(head -c 300 err.txt)"
    grep -q -- "$name" err.txt || fail "$what: the message does not name the file"
    if LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' err.txt; then
        fail "$what: control characters on stderr"
    fi
    [[ ! -s out.txt ]] || fail "$what: unexpected stdout"
    got=$(($(sqlite3 t.db 'SELECT count(*) FROM companies') - 6))
    [[ "$got" == "$added" ]] || fail "$what: $got companies added, want $added"
    dump t.db >after.txt
    cmp -s before.txt after.txt || fail "$what: pre-existing rows changed: $(diff before.txt after.txt | head -5)"
    ic=$(sqlite3 t.db 'PRAGMA integrity_check')
    [[ "$ic" == ok ]] || fail "$what: integrity_check: $ic"
    echo "ok: $name: exit $rc, +$got, $(grep -Eo -m1 -- "$pattern" err.txt | head -c 90)"
done <<<"$TABLE"

# Names that look like SQL are stored as text, nothing more.
rm -f t.db*
sqlite3 base.db ".backup t.db"
"$AB" --db t.db -q import "$DATA/sql_injection.csv"
got=$(sqlite3 t.db "SELECT count(*) FROM companies WHERE company_name IN
    ('''); DROP TABLE companies; --', 'Robert''); DROP TABLE companies;--',
     'OR 1=1 --', 'x\"; DELETE FROM companies WHERE \"1\"=\"1')")
[[ "$got" == 4 ]] || fail "sql_injection: names not stored verbatim ($got of 4)"
null=$(sqlite3 t.db "SELECT count(*) FROM companies WHERE company_name IS NULL")
[[ "$null" == 0 ]] || fail "NULL names stored"

files=$(find "$DATA" -type f | wc -l)
[[ "$files" -ge 30 ]] || fail "only $files committed hostile files"
if ((FAILS > 0)); then echo "$FAILS check(s) failed" >&2; exit 1; fi
echo "all $n hostile inputs behaved as documented"
