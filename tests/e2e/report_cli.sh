#!/usr/bin/env bash
# End-to-end: `status`, `report` (every format, English and Simplified
# Chinese) and `retry` with the real binary on tests/data/report_mix.sql (a
# known mix of outcomes), checked against the database with the sqlite3 CLI,
# jq, xmllint, python3's csv module and codecs, and headless Chromium when
# it is installed (with a CJK font: the Chinese names must render as glyphs,
# and the check proves it can fail by rendering once without CJK fonts).
# Env: AUTHBATCH (binary), AB_TEST_DATA (tests/data).
set -euo pipefail

AB=${AUTHBATCH:?set AUTHBATCH to the authbatch binary}
DATA=${AB_TEST_DATA:?set AB_TEST_DATA to tests/data}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
export AUTHBATCH_DB="$WORK/t.db"
export TZ=UTC
# English unless a case says otherwise, whatever the caller's locale.
unset LC_ALL LC_MESSAGES
export LANG=C.UTF-8

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failed=$((failed + 1)); echo "FAIL: $1" >&2; }
eq() { # eq WHAT GOT WANT
    if [[ "$2" == "$3" ]]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi
}
has() { # has WHAT FILE TEXT
    if grep -qF -- "$3" "$2"; then ok "$1"; else
        bad "$1: '$3' not in $2:"; head -c 3000 "$2" | sed 's/^/    /' >&2
    fi
}
hasnt() { # hasnt WHAT FILE TEXT
    if grep -qF -- "$3" "$2"; then bad "$1: '$3' found in $2"; else ok "$1"; fi
}
run() { # run ARGS...: sets rc; stdout in out, stderr in err
    set +e
    "$AB" "$@" >out 2>err
    rc=$?
    set -e
}
q() { sqlite3 "$AUTHBATCH_DB" "$@"; }

"$AB" init 2>/dev/null
q <"$DATA/report_mix.sql"

# --- status
run status
eq "status exits 0" "$rc" 0
has "status counts" out "companies       12"
has "status percent" out "finished        58.3% (7 of 12; 25.0% failed)"
has "status retry due" out "retry_wait      2 (1 due)"
has "status last run" out "last run        #3"
has "status dead run" out "did not finish"
has "status last clean run" out "last clean run  2023-11-14 23:13:50 +0000"

run status --json
eq "status --json exits 0" "$rc" 0
eq "status --json total" "$(jq .total out)" 12
for s in pending in_flight retry_wait done already_authed failed; do
    eq "status --json counts.$s" "$(jq ".counts.$s" out)" \
        "$(q "SELECT count(*) FROM companies WHERE status = '$s'")"
done
eq "status --json percent_done rounded to 2 decimals" "$(jq .percent_done out)" 58.33
eq "status --json shape" "$(jq -c 'keys' out)" \
    '["counts","database","due_retry","finished","funnel","last_run","last_success_at","last_success_at_ms","percent_done","retry","schema_version","total"]'
eq "status --json retry" "$(jq -c '.retry | [.waiting, .due, .next_at_ms]' out)" '[2,1,1000]'
eq "status --json last_run" \
    "$(jq -c '.last_run | [.id, .running, .exit_status, .ended_at_ms, .duration_s]' out)" \
    '[3,false,null,null,null]'
eq "status --json last success" "$(jq .last_success_at out)" '"2023-11-14T23:13:50Z"'
run status --bogus
eq "status unknown option: 64" "$rc" 64
run status extra
eq "status stray argument: 64" "$rc" 64

# --- report: text
run report
eq "report text exits 0" "$rc" 0
has "text summary" out "companies 12, finished 7 (58.3%)"
has "text error group" out "code 1005      2 companies (2 failed)"
has "text latency" out "p50 200 ms, p90 15000 ms, p99 45000 ms, max 45000 ms"
hasnt "text has no tickets" out "TKT-SECRET"
run report --with-tickets
eq "text tickets count" "$(grep -c 'ticket=TKT-SECRET-' out)" 3

# --- report: json
run report --format json
eq "json exits 0" "$rc" 0
if jq -e . out >/dev/null; then ok "json parses"; else bad "json parses"; fi
eq "json companies" "$(jq '.companies | length' out)" "$(q 'SELECT count(*) FROM companies')"
eq "json failed" "$(jq .summary.counts.failed out)" "$(q "SELECT count(*) FROM companies WHERE status='failed'")"
eq "json latency p99" "$(jq .summary.latency_ms.p99 out)" 45000
eq "json histogram sum" "$(jq '[.summary.latency_ms.histogram[].count] | add' out)" \
    "$(q 'SELECT count(*) FROM attempts')"
eq "json no ticket keys" "$(jq '[.companies[] | select(has("ticket"))] | length' out)" 0
run report --format json --status failed --with-tickets
eq "json --status rows" "$(jq -c '[.companies[].status] | unique' out)" '["failed"]'
eq "json --status count" "$(jq '.companies | length' out)" 3

# --- report: csv
run report --format csv --bom -o report.csv
eq "csv -o exits 0" "$rc" 0
eq "csv -o prints nothing" "$(cat out)" ""
eq "csv BOM" "$(head -c 3 report.csv | od -An -tx1 | tr -d ' ')" efbbbf
eq "csv CRLF rows" "$(grep -c $'\r$' report.csv)" 13 # header, 12 rows (the CR LF inside a message is filtered)
hasnt "csv has no tickets" report.csv "TKT-SECRET"
if command -v python3 >/dev/null; then
    got=$(python3 - report.csv <<'PY'
import csv, sys
with open(sys.argv[1], newline='', encoding='utf-8-sig') as f:
    rows = list(csv.reader(f, strict=True))
assert rows[0][:4] == ['id', 'company_name', 'register_no', 'status'], rows[0]
assert all(len(r) == 12 for r in rows), [len(r) for r in rows]
byid = {r[0]: r for r in rows[1:]}
assert byid['2'][1] == 'Beta, "Quoted" Co'
assert byid['6'][7] == 'invalid param: legalPerson  second line'
assert byid['5'][1] == '测试有限公司'
print(len(rows) - 1)
PY
)
    eq "csv parses back (python csv, strict)" "$got" 12
else
    echo "skip: python3 not installed, csv not parsed back"
fi

# --- report -o is atomic: replaces, leaves no temporary file, and a failed
# write leaves the old file alone.
mkdir outdir
echo old >outdir/r.json
run report --format json -o outdir/r.json
eq "json -o exits 0" "$rc" 0
eq "json -o replaced" "$(jq .summary.total outdir/r.json)" 12
eq "json -o no temp file" "$(ls -A outdir | tr '\n' ' ')" "r.json "
run report --format json -o nosuchdir/r.json
eq "report -o into a missing directory: 74" "$rc" 74
has "report -o error names the file" err "nosuchdir/r.json"

# --- report: html
run report --format html -o report.html
eq "html exits 0" "$rc" 0
if command -v xmllint >/dev/null; then
    if xmllint --noout report.html 2>xml.err; then ok "html is well-formed"; else
        bad "html is well-formed"; cat xml.err >&2; fi
    xp() { xmllint --xpath "$1" report.html 2>/dev/null; }
    for s in pending in_flight retry_wait done already_authed failed; do
        eq "html chart data-count for $s" \
            "$(xp "string(//*[local-name()='rect'][@data-status='$s']/@data-count)")" \
            "$(q "SELECT count(*) FROM companies WHERE status = '$s'")"
    done
    eq "html code chart 1005" \
        "$(xp "string(//*[local-name()='rect'][@data-code='1005']/@data-count)")" \
        "$(q "SELECT count(*) FROM companies WHERE last_code = 1005 AND status NOT IN ('done','already_authed')")"
    eq "html throughput sums to attempts" \
        "$(xp "sum(//*[local-name()='rect'][@data-bucket-start]/@data-count)")" \
        "$(q 'SELECT count(*) FROM attempts')"
    eq "html latency sums to attempts" \
        "$(xp "sum(//*[local-name()='rect'][@data-lo-ms]/@data-count)")" \
        "$(q 'SELECT count(*) FROM attempts')"
    eq "html run chart" \
        "$(xp "count(//*[local-name()='rect'][@data-run-id])")" \
        "$(q 'SELECT count(*) FROM runs')"
    eq "html table rows" "$(xp "count(//*[local-name()='tr'][@data-status])")" 12
else
    echo "skip: xmllint not installed (Debian package libxml2-utils)"
fi
hasnt "html escapes names" report.html "<script>alert"
hasnt "html has no tickets" report.html "TKT-SECRET"
hasnt "html loads nothing external" report.html 'src="http'
run report --format html --max-rows 4 -o capped.html
has "html cap note" capped.html 'data-shown="4" data-total="12"'

# --- Simplified Chinese (issue 19) -----------------------------------------
# Every page in zh-CN, with AB_I18N_CHECK=1: a label without a translation
# would be named on stderr.
export AB_I18N_CHECK=1
run status --lang zh-CN
eq "status zh-CN exits 0" "$rc" 0
eq "status zh-CN: every label translated" "$(cat err)" ""
has "status zh-CN counts" out "企业            12"
has "status zh-CN status names" out "  已获取令牌      3"
has "status zh-CN finished" out "已处理完毕      58.3%（7 / 12 家；失败 25.0%）"
has "status zh-CN last clean run" out "上次无失败运行  2023-11-14 23:13:50 +0000"
LANG=zh_CN.UTF-8 run status
has "status: zh-CN from LANG" out "已处理完毕"
LANG=zh_CN.UTF-8 LC_ALL=en_US.UTF-8 run status
has "status: LC_ALL wins over LANG" out "finished        58.3%"
LANG=zh_CN.UTF-8 run status --lang en
has "status: --lang wins over the locale" out "finished        58.3%"
LANG=zh_CN.UTF-8 run status --json
eq "status --json is never translated" "$(jq .counts.done out)" 3
run status --lang fr
eq "status --lang unknown: 64" "$rc" 64
for args in "" "--status failed" "--with-tickets"; do
    # shellcheck disable=SC2086 # the words are options
    run report --lang zh-CN $args
    eq "report text zh-CN $args: every label translated" "$(cat err)" ""
done
run report --lang zh-CN
has "report text zh-CN" out "企业 12 家，已处理完毕 7 家（58.3%）"
run report --lang zh-CN --format html -o zh.html
eq "report html zh-CN: every label translated" "$(cat err)" ""
run report --lang zh-CN --format html --status done --max-rows 1 -o zh_capped.html
eq "report html zh-CN, filtered and capped: every label translated" "$(cat err)" ""
run --db "$WORK/empty.db" report --lang zh-CN --format html -o zh_empty.html
eq "report html zh-CN on an empty database: every label translated" "$(cat err)" ""
run --db "$WORK/empty.db" status --lang zh-CN
eq "status zh-CN on an empty database: every label translated" "$(cat err)" ""
unset AB_I18N_CHECK
has "html zh-CN sets lang" zh.html '<html lang="zh-CN">'
has "html zh-CN heading" zh.html '<h1>authbatch 报告</h1>'
has "html zh-CN status legend" zh.html '此前已认证'
has "html zh-CN keeps machine names in data" zh.html 'data-status="already_authed"'
has "html font stack covers Simplified Chinese" zh.html "'PingFang SC','Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC','Source Han Sans SC','WenQuanYi Micro Hei',sans-serif"
if command -v xmllint >/dev/null; then
    if xmllint --noout zh.html zh_capped.html zh_empty.html; then
        ok "html zh-CN is well-formed"; else bad "html zh-CN is well-formed"; fi
fi
run report --format json -o en.json
run report --format json --lang zh-CN -o zh.json
eq "json is the same in every language" \
    "$(jq -S 'del(.report.generated_at, .report.generated_at_ms)' en.json | md5sum)" \
    "$(jq -S 'del(.report.generated_at, .report.generated_at_ms)' zh.json | md5sum)"
LANG=zh_CN.UTF-8 run report --format csv
has "csv column names are never translated" out "id,company_name,register_no,status"
has "csv status values are never translated" out ",already_authed,"

# --- report --format csv --encoding gb18030 (what a Chinese Excel opens)
run report --format csv --encoding gb18030 -o gb.csv
eq "csv gb18030 exits 0" "$rc" 0
if command -v python3 >/dev/null; then
    eq "csv gb18030 decodes as GB18030 and holds the names" \
        "$(python3 -c 'import csv, io, sys; r = list(csv.reader(io.StringIO(open(sys.argv[1], "rb").read().decode("gb18030"), newline=""))); print(r[5][1])' gb.csv)" \
        "测试有限公司"
fi
hasnt "csv gb18030 holds no UTF-8" gb.csv "测试"
run report --format csv --encoding gb18030 --bom
eq "--bom with gb18030: 64" "$rc" 64
run report --format csv --encoding latin1
eq "--encoding unknown: 64" "$rc" 64

# --- tickets and names with escape sequences never reach the terminal
cp t.db hostile.db
sqlite3 hostile.db "UPDATE companies SET ticket = 'TK' || char(27) || ']0;owned' || char(7) || char(27) || '[2J' WHERE id = 1;
                    UPDATE companies SET company_name = 'Beta' || char(27) || '[1A' || char(155) || '2J' WHERE id = 2"
for f in text csv html; do
    run --db hostile.db report --format "$f" --with-tickets
    eq "report $f: no ESC, BEL or C1 on stdout" \
        "$(LC_ALL=C grep -c $'[\x1b\x07]\|\xc2[\x80-\x9f]' out || true)" 0
    has "report $f: the ticket is there, filtered" out "TK ]0;owned  [2J"
done
run --db hostile.db status
eq "status: no ESC on stdout" "$(LC_ALL=C grep -c $'\x1b' out || true)" 0

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [[ -n "$CHROMIUM" ]]; then
    copts=(--headless --no-sandbox --disable-gpu --disable-background-networking
        --disable-component-update --disable-sync --no-first-run
        --user-data-dir="$WORK/chrome")
    timeout 120 "$CHROMIUM" "${copts[@]}" --dump-dom "file://$WORK/report.html" \
        >dom.html 2>/dev/null || true
    has "chromium ran the page script to the end" dom.html 'data-ready="1"'
    timeout 120 "$CHROMIUM" "${copts[@]}" --screenshot="$WORK/r.png" \
        --window-size=1280,2000 "file://$WORK/report.html" >/dev/null 2>&1 || true
    if [[ -s r.png ]]; then ok "chromium screenshot"; else bad "chromium screenshot"; fi

    # The Chinese report as users see it: the company names must be glyphs,
    # not boxes. cjk_probe.js draws a known name in the cell's font stack.
    python3 - "${AB_SOURCE_DIR:?}/tests/e2e/cjk_probe.js" zh.html cjk.html <<'PY'
import sys
probe = open(sys.argv[1], encoding="utf-8").read()
page = open(sys.argv[2], encoding="utf-8").read()
tag = "<script>//<![CDATA[\n" + probe + "//]]></script>\n</body>"
open(sys.argv[3], "w", encoding="utf-8").write(page.replace("</body>", tag, 1))
PY
    cjk_verdict() { # NAME ENV...: the probe's verdict, rendered with ENV set
        local name=$1
        shift
        env "$@" timeout 120 "$CHROMIUM" "${copts[@]}" \
            --user-data-dir="$WORK/chrome-$name" --dump-dom \
            "file://$WORK/cjk.html" 2>/dev/null |
            grep -o 'data-cjk="[a-z-]*"' | head -1
    }
    # Without any CJK font (a fontconfig that sees DejaVu only), the probe
    # must say tofu, or it could never fail.
    mkdir -p nocjk
    cat >nocjk/fonts.conf <<EOF
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>$WORK/nocjk/cache</cachedir></fontconfig>
EOF
    eq "cjk probe sees boxes when no CJK font is installed" \
        "$(cjk_verdict nocjk FONTCONFIG_FILE="$WORK/nocjk/fonts.conf")" 'data-cjk="tofu"'
    if fc-list :lang=zh-cn family 2>/dev/null | grep -q .; then
        eq "Chinese company names render as glyphs (fonts-noto-cjk)" \
            "$(cjk_verdict cjk AB_CJK=1)" 'data-cjk="glyphs"'
    else
        bad "no font for Simplified Chinese (install fonts-noto-cjk: scripts/test.sh does)"
    fi
else
    echo "skip: chromium not installed (Debian package chromium); page not rendered"
fi

# --- report: usage errors
run report --format xml
eq "report bad format: 64" "$rc" 64
run report --status nope
eq "report bad status: 64" "$rc" 64
run report extra
eq "report stray argument: 64" "$rc" 64
run report --help
eq "report --help: 0" "$rc" 0

# --- retry
run retry --status done
eq "retry --status done refused: 64" "$rc" 64
run retry --code abc
eq "retry bad code: 64" "$rc" 64
run retry --code 1005
eq "retry --code exits 0" "$rc" 0
has "retry says how many" out "2 failed companies with code 1005 put back to pending"
eq "retry moved them" "$(q "SELECT group_concat(id) FROM companies WHERE status='pending' AND attempts=0 AND next_attempt_at IS NULL AND id IN (3,6)")" "3,6"
run retry --status failed
has "retry the rest" out "1 failed company put back to pending"
eq "no failed left" "$(q "SELECT count(*) FROM companies WHERE status='failed'")" 0
eq "done rows and tickets untouched" \
    "$(q "SELECT group_concat(id || ':' || ticket) FROM companies WHERE status='done'")" \
    "1:TKT-SECRET-0001,2:TKT-SECRET-0002,4:TKT-SECRET-0004"
run retry
has "retry with nothing to do" out "0 failed companies put back to pending"

# --- a database that cannot be opened
run --db "$WORK/nodir/x.db" status
eq "status on an unopenable database: 74" "$rc" 74

echo "$passed passed, $failed failed"
((failed == 0))
