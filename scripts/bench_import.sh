#!/usr/bin/env bash
# Import benchmark: `authbatch import` of a generated CSV against the sqlite3
# shell's `.import --csv` of the same file into a table with the same columns
# and a UNIQUE company name (same PRAGMAs, fresh database each run).
# Usage: scripts/bench_import.sh [ROWS] [RUNS]   (default 1000000 rows, 3 runs)
# Env: AUTHBATCH (binary; default: builds build-release/authbatch).
# Prints a Markdown table on stdout; progress on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

rows=${1:-1000000}
runs=${2:-3}
root=$PWD

if [[ -z "${AUTHBATCH:-}" ]]; then
    cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build-release -j "$(nproc)" --target authbatch >/dev/null
    AUTHBATCH=$root/build-release/authbatch
fi
command -v sqlite3 >/dev/null || { echo "bench_import: needs sqlite3" >&2; exit 1; }
[[ -x /usr/bin/time ]] || scripts/deps.sh time

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
csv=$work/companies.csv

echo "bench_import: generating $rows rows" >&2
# Valid rows with unique names: mobiles and e-mails alternate, every third row
# has a unified social credit code (valid check character), some have a
# callback URL, closeButton and modifyFields, so every validator runs.
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
size=$(du -h "$csv" | cut -f1)

schema="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
CREATE TABLE companies (companyName TEXT NOT NULL UNIQUE, registerNo TEXT,
  legalPerson TEXT, applicantName TEXT, applicantContact TEXT NOT NULL,
  applicantContactType TEXT, callbackUrl TEXT, closeButton TEXT,
  modifyFields TEXT);"

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

ab_times=() sq_times=() ab_rss=()
for ((r = 1; r <= runs; r++)); do
    rm -f "$work"/ab.db* "$work"/sq.db*
    "$AUTHBATCH" --db "$work/ab.db" init >/dev/null
    echo "bench_import: run $r: authbatch" >&2
    /usr/bin/time -f '%e %M' -o "$work/t" \
        "$AUTHBATCH" --db "$work/ab.db" -q import "$csv"
    read -r t m <"$work/t"
    ab_times+=("$t") ab_rss+=("$m")
    got=$(sqlite3 "$work/ab.db" "SELECT count(*) FROM companies")
    [[ $got == "$rows" ]] || { echo "bench_import: imported $got of $rows" >&2; exit 1; }

    echo "bench_import: run $r: sqlite3 .import" >&2
    sqlite3 "$work/sq.db" "$schema" >/dev/null
    /usr/bin/time -f '%e %M' -o "$work/t" \
        sqlite3 "$work/sq.db" "PRAGMA synchronous=NORMAL" ".import --csv --skip 1 '$csv' companies"
    read -r t m <"$work/t"
    sq_times+=("$t")
done

ab=$(printf '%s\n' "${ab_times[@]}" | median)
sq=$(printf '%s\n' "${sq_times[@]}" | median)
rss=$(printf '%s\n' "${ab_rss[@]}" | sort -n | tail -1)
ratio=$(awk -v a="$ab" -v b="$sq" 'BEGIN { printf "%.2f", a / b }')
rss_mib=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')

cat <<EOF
| item | value |
|---|---|
| date | $(date -u +%Y-%m-%d) |
| machine | $(nproc) CPU, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr) |
| versions | authbatch $("$AUTHBATCH" --version | awk '{ print $2 }'), SQLite $(sqlite3 --version | awk '{ print $1 }'), libcsv 3.0.3 |
| input | $rows rows, $size, all valid, unique names |
| authbatch | \`authbatch -q import FILE\` (Release), fresh database: median ${ab} s (runs: ${ab_times[*]}) |
| sqlite3 | \`.import --csv --skip 1 FILE companies\`, UNIQUE name, WAL, synchronous=NORMAL: median ${sq} s (runs: ${sq_times[*]}) |
| ratio | ${ratio}x |
| authbatch peak RSS | ${rss_mib} MiB (max of ${runs} runs) |
EOF
