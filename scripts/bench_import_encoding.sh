#!/usr/bin/env bash
# Encoding benchmark: `authbatch import` of the same rows as UTF-8 and as
# GB18030 (Excel's "CSV" on Chinese Windows, converted with iconv), each into
# a fresh database; GB18030 both detected (the default) and named
# (--encoding gb18030). Medians of RUNS runs: wall time, CPU time (user +
# sys, less sensitive to a shared machine), peak RSS.
# Usage: scripts/bench_import_encoding.sh [ROWS] [RUNS]   (1000000 rows, 3 runs)
# Env: AUTHBATCH (binary; default: builds build-release/authbatch),
#      BENCH_WRITE (1: write the table into BENCHMARKS.md between
#      <!-- bench-encoding:begin --> and <!-- bench-encoding:end -->).
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
command -v sqlite3 >/dev/null || { echo "bench_import_encoding: needs sqlite3" >&2; exit 1; }
[[ -x /usr/bin/time ]] || scripts/deps.sh time

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "bench_import_encoding: generating $rows rows" >&2
# Chinese names, legal persons and applicants (the bytes that differ between
# the encodings), mobiles and e-mails, CRLF as Excel writes.
awk -v n="$rows" 'BEGIN {
    print "companyName,legalPerson,applicantName,applicantContact\r"
    for (i = 1; i <= n; i++) {
        if (i % 2)
            contact = sprintf("1%d%09d", 3 + i % 7, i)
        else
            contact = sprintf("user%d@example.com", i)
        printf "示例科技（上海）有限公司%07d,张三,李四,%s\r\n", i, contact
    }
}' >"$work/utf8.csv"
iconv -f UTF-8 -t GB18030 "$work/utf8.csv" >"$work/gb18030.csv"

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# bench NAME FILE [import options...]: records wall s, CPU s, RSS per run.
declare -A secs cpu rss
bench() {
    local name=$1 file=$2 r t us ss m got
    shift 2
    for ((r = 1; r <= runs; r++)); do
        rm -f "$work"/b.db*
        "$AUTHBATCH" --db "$work/b.db" init >/dev/null
        echo "bench_import_encoding: run $r: $name" >&2
        /usr/bin/time -f '%e %U %S %M' -o "$work/t" \
            "$AUTHBATCH" --db "$work/b.db" -q import "$@" "$file"
        read -r t us ss m <"$work/t"
        got=$(sqlite3 "$work/b.db" "SELECT count(*) FROM companies")
        [[ $got == "$rows" ]] || { echo "bench_import_encoding: $name imported $got of $rows" >&2; exit 1; }
        secs[$name]+="$t "
        cpu[$name]+="$(awk -v a="$us" -v b="$ss" 'BEGIN { printf "%.2f", a + b }') "
        rss[$name]+="$m "
    done
    # The stored names are the same UTF-8 bytes whatever the file was.
    sqlite3 "$work/b.db" "SELECT company_name FROM companies WHERE id = $rows" >"$work/$name.last"
}
bench utf8 "$work/utf8.csv"
bench gb18030_detected "$work/gb18030.csv"
bench gb18030_named "$work/gb18030.csv" --encoding gb18030
cmp -s "$work/utf8.last" "$work/gb18030_detected.last" || { echo "bench_import_encoding: names differ" >&2; exit 1; }

med() { printf '%s\n' ${secs[$1]} | median; }
medcpu() { printf '%s\n' ${cpu[$1]} | median; }
peak() { printf '%s\n' ${rss[$1]} | sort -n | tail -1 | awk '{ printf "%.1f", $1 / 1024 }'; }
u=$(med utf8) uc=$(medcpu utf8)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
table=$(
    echo "| input ($rows rows) | size | wall s, median (runs) | CPU s, median (runs) | CPU vs UTF-8 | peak RSS MiB |"
    echo "|---|---|---|---|---|---|"
    echo "| UTF-8 | $(du -h "$work/utf8.csv" | cut -f1) | $u (${secs[utf8]% }) | $uc (${cpu[utf8]% }) | 1.00 | $(peak utf8) |"
    for k in gb18030_detected gb18030_named; do
        label="GB18030, detected"
        [[ $k == gb18030_named ]] && label="GB18030, --encoding gb18030"
        echo "| $label | $(du -h "$work/gb18030.csv" | cut -f1) | $(med $k) (${secs[$k]% }) | $(medcpu $k) (${cpu[$k]% }) | $(ratio "$(medcpu $k)" "$uc") | $(peak $k) |"
    done
)
section=$(
    echo "<!-- bench-encoding:begin -->"
    echo "### Import by encoding (scripts/bench_import_encoding.sh)"
    echo
    echo "Written on $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) CPU ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -sr), authbatch $("$AUTHBATCH" --version | awk '{ print $2 }'), glibc $(ldd --version | awk 'NR == 1 { print $NF }'). The same rows, CRLF, fresh database per run, \`authbatch -q import FILE\`; the GB18030 file is the UTF-8 one through \`iconv -t GB18030\`."
    echo
    echo "$table"
    echo "<!-- bench-encoding:end -->"
)
echo "$section"
if [[ $write == 1 ]]; then
    python3 - BENCHMARKS.md "$section" <<'EOF'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
pat = re.compile(r"<!-- bench-encoding:begin -->.*?<!-- bench-encoding:end -->", re.S)
if pat.search(text):
    text = pat.sub(lambda m: section, text, count=1)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w", encoding="utf-8").write(text)
EOF
    echo "bench_import_encoding: wrote BENCHMARKS.md" >&2
fi
