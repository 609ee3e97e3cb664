#!/usr/bin/env bash
# Import-from-SQLite benchmark: `authbatch import --from-sqlite` of a foreign
# table against `authbatch import` of the same rows as CSV, and against the
# sqlite3 shell's own `INSERT INTO companies ... SELECT ... FROM src.clients`
# (ATTACHed) into the same schema (`authbatch init`), same PRAGMAs (WAL,
# synchronous=NORMAL), fresh databases every run. The sqlite3 line does no
# validation or normalisation at all: it is the floor.
# Usage: scripts/bench_import_sqlite.sh [ROWS] [RUNS]  (default 1000000 rows, 3 runs)
# Env: AUTHBATCH (binary; default: builds build-release/authbatch);
#      BENCH_WRITE=1 also writes the table into BENCHMARKS.md between
#      <!-- bench-import-sqlite:begin --> and <!-- bench-import-sqlite:end -->.
# Prints a Markdown table on stdout; progress on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

rows=${1:-1000000}
runs=${2:-3}
write=${BENCH_WRITE:-0}
root=$PWD

if [[ -z "${AUTHBATCH:-}" ]]; then
    cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build-release -j "$(nproc)" --target authbatch >/dev/null
    AUTHBATCH=$root/build-release/authbatch
fi
command -v sqlite3 >/dev/null || { echo "bench_import_sqlite: needs sqlite3" >&2; exit 1; }
[[ -x /usr/bin/time ]] || scripts/deps.sh time

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
csv=$work/companies.csv
src=$work/crm.db
log() { echo "bench_import_sqlite: $*" >&2; }

log "generating $rows rows"
# The rows of scripts/bench_import.sh: valid, unique names, mobiles and
# e-mails alternating, a USCC with its check character on every third row,
# callbackUrl / closeButton / modifyFields on some, so every validator runs.
awk -v n="$rows" 'BEGIN {
    cs = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    split("1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28", w, " ")
    print "companyName,registerNo,legalPerson,applicantName,applicantContact,applicantContactType,callbackUrl,closeButton,modifyFields"
    for (i = 1; i <= n; i++) {
        reg = ""
        if (i % 3 == 0) {
            body = sprintf("91310000%09d", i)
            s = 0
            for (k = 1; k <= 17; k++)
                s += (index(cs, substr(body, k, 1)) - 1) * w[k]
            c = 31 - s % 31
            if (c == 31) c = 0
            reg = body substr(cs, c + 1, 1)
        }
        if (i % 2)
            contact = sprintf("1%d%09d,MOBILE", 3 + i % 7, i)
        else
            contact = sprintf("user%d@example.com,", i)
        cb = (i % 5 == 0) ? "https://example.com/qys/callback" : ""
        cbtn = (i % 4 == 0) ? "true" : ""
        mod = (i % 6 == 0) ? "\"corpName,registerNo\"" : ""
        printf "示例科技有限公司%07d,%s,张三,李四,%s,%s,%s,%s\n", i, reg, contact, cb, cbtn, mod
    }
}' >"$csv"
# The same rows in a CRM's own schema; the mobile column has INTEGER
# affinity, so mobiles are stored as integers (e-mails stay text).
sqlite3 "$src" "CREATE TABLE clients (name TEXT, uscc TEXT, boss TEXT,
    contact TEXT, mobile INTEGER, ctype TEXT, cb TEXT, closebtn TEXT,
    mods TEXT);" ".import --csv --skip 1 '$csv' clients"
src_size=$(du -h "$src" | cut -f1)
csv_size=$(du -h "$csv" | cut -f1)
ints=$(sqlite3 "$src" "SELECT count(*) FROM clients WHERE typeof(mobile) = 'integer'")

query="SELECT name AS companyName, uscc AS registerNo, boss AS legalPerson,
  contact AS applicantName, mobile AS applicantContact,
  ctype AS applicantContactType, cb AS callbackUrl, closebtn AS closeButton,
  mods AS modifyFields FROM clients"
insert_select="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
ATTACH '$src' AS src;
INSERT INTO companies (company_name, register_no, legal_person,
  applicant_name, applicant_contact, applicant_contact_type, callback_url,
  close_button, modify_fields)
SELECT name, nullif(uscc, ''), nullif(boss, ''), nullif(contact, ''), mobile,
  nullif(ctype, ''), nullif(cb, ''),
  CASE closebtn WHEN 'true' THEN 1 WHEN 'false' THEN 0 END, nullif(mods, '')
FROM src.clients;"

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
fresh() { rm -f "$1" "$1"-wal "$1"-shm; "$AUTHBATCH" --db "$1" init >/dev/null 2>&1; }
check() { # check DB
    local got
    got=$(sqlite3 "$1" "SELECT count(*) FROM companies")
    [[ $got == "$rows" ]] || { log "$1: $got of $rows rows"; exit 1; }
}

cpu() { awk -v u="$1" -v s="$2" 'BEGIN { printf "%.2f", u + s }'; }
sq_t=() sq_rss=() sq_cpu=() csv_t=() csv_rss=() csv_cpu=() ins_t=() ins_cpu=()
for ((r = 1; r <= runs; r++)); do
    log "run $r/$runs: authbatch import --from-sqlite"
    fresh "$work/a.db"
    /usr/bin/time -f '%e %U %S %M' -o "$work/t" \
        "$AUTHBATCH" --db "$work/a.db" -q import --from-sqlite "$src" --query "$query"
    read -r t u k m <"$work/t"
    sq_t+=("$t") sq_rss+=("$m") sq_cpu+=("$(cpu "$u" "$k")")
    check "$work/a.db"

    log "run $r/$runs: authbatch import (CSV)"
    fresh "$work/b.db"
    /usr/bin/time -f '%e %U %S %M' -o "$work/t" \
        "$AUTHBATCH" --db "$work/b.db" -q import "$csv"
    read -r t u k m <"$work/t"
    csv_t+=("$t") csv_rss+=("$m") csv_cpu+=("$(cpu "$u" "$k")")
    check "$work/b.db"

    log "run $r/$runs: sqlite3 INSERT ... SELECT"
    fresh "$work/c.db"
    /usr/bin/time -f '%e %U %S %M' -o "$work/t" sqlite3 "$work/c.db" "$insert_select" >/dev/null
    read -r t u k m <"$work/t"
    ins_t+=("$t") ins_cpu+=("$(cpu "$u" "$k")")
    check "$work/c.db"
done

sq=$(printf '%s\n' "${sq_t[@]}" | median)
cs=$(printf '%s\n' "${csv_t[@]}" | median)
ins=$(printf '%s\n' "${ins_t[@]}" | median)
sqc=$(printf '%s\n' "${sq_cpu[@]}" | median)
csc=$(printf '%s\n' "${csv_cpu[@]}" | median)
insc=$(printf '%s\n' "${ins_cpu[@]}" | median)
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
sq_rss_max=$(printf '%s\n' "${sq_rss[@]}" | sort -n | tail -1)
csv_rss_max=$(printf '%s\n' "${csv_rss[@]}" | sort -n | tail -1)
load=$(cut -d' ' -f1-3 /proc/loadavg)

table=$(cat <<EOF
| item | value |
|---|---|
| date | $(date -u '+%Y-%m-%d %H:%M UTC'), load average at the end $load ($(nproc) CPU: above $(nproc) means a loaded machine) |
| machine | $(nproc) CPU, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr) |
| versions | authbatch $("$AUTHBATCH" --version | awk '{ print $2 }'), SQLite $(sqlite3 --version | awk '{ print $1 }') |
| input | $rows valid rows with unique names; the CRM file $src_size ($ints mobiles stored as INTEGER), the CSV $csv_size |
| authbatch --from-sqlite | \`import --from-sqlite crm.db --query 'SELECT name AS companyName, ...'\`: median ${sq} s wall (runs: ${sq_t[*]}), ${sqc} s CPU (runs: ${sq_cpu[*]}), peak RSS $(mib "$sq_rss_max") MiB |
| authbatch CSV | \`import companies.csv\`, the same rows: median ${cs} s wall (runs: ${csv_t[*]}), ${csc} s CPU (runs: ${csv_cpu[*]}), peak RSS $(mib "$csv_rss_max") MiB |
| sqlite3 INSERT ... SELECT | \`ATTACH\` + \`INSERT INTO companies ... SELECT ... FROM src.clients\`, no validation: median ${ins} s wall (runs: ${ins_t[*]}), ${insc} s CPU (runs: ${ins_cpu[*]}) |
| ratios (wall; CPU) | --from-sqlite / CSV $(ratio "$sq" "$cs")x; $(ratio "$sqc" "$csc")x. --from-sqlite / INSERT ... SELECT $(ratio "$sq" "$ins")x; $(ratio "$sqc" "$insc")x |
EOF
)
echo "$table"

if [[ $write == 1 ]]; then
    python3 - BENCHMARKS.md "$table" "$rows" "$runs" <<'EOF'
import re, sys
path, table, rows, runs = sys.argv[1:5]
text = open(path, encoding="utf-8").read()
block = ("<!-- bench-import-sqlite:begin -->\n"
         "`scripts/bench_import_sqlite.sh %s %s` (medians of %s runs):\n\n%s\n"
         "<!-- bench-import-sqlite:end -->" % (rows, runs, runs, table))
pat = re.compile(r"<!-- bench-import-sqlite:begin -->.*?<!-- bench-import-sqlite:end -->", re.S)
if pat.search(text):
    text = pat.sub(lambda m: block, text, count=1)
else:
    text = text.rstrip("\n") + "\n\n## Import from SQLite\n\n" + block + "\n"
open(path, "w", encoding="utf-8").write(text)
EOF
    log "wrote BENCHMARKS.md"
fi
