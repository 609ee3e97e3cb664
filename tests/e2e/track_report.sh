#!/usr/bin/env bash
# The funnel where operations staff look (SPEC §6, issue 13): after `run
# --track` and `track`, status (text, --json, zh-CN), report (text, json,
# csv, html) and the metrics file show imported -> ticket issued -> in
# progress -> authenticated / rejected / expired, the counts by
# auth_status, the time from ticket to authenticated and the rejection
# reasons, every figure equal to the database's. The HTML funnel chart is
# checked in headless Chromium like the other charts; promtool checks the
# metrics.
# stores: sqlite pg
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"
# shellcheck source=lib_track.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib_track.sh"

N=400
start_sandbox --token "$TOK" --secret "$SEC" --seed 3 --auth-time-scale 20 \
    --no-callbacks
make_tricky_csv in.csv $N
{ cat in.csv; echo 'Later Co [AUTHED],,13900000001'; } >in2.csv
"$AB" import in2.csv >/dev/null 2>&1
"$AB" import in.csv >/dev/null 2>&1
q "INSERT INTO companies (company_name, applicant_contact, status, created_at,
   updated_at) VALUES ('Not Yet Sent Co', '13900000002', 'pending', 1, 1)"
run_ab r1 run --track --base-url "$URL" --rate 0 --first-check 0 --progress none --limit $((N + 1))
eq "run --track --limit: exit 75 (one company left unsent)" "$RC" 75
wait_for 30 "every applicant's story is over" settled
run_ab t1 track --now --base-url "$URL" --rate 0 --progress none \
    --metrics-file m.prom
eq "track: exit 0" "$RC" 0

# What the database says.
imported=$(q "SELECT count(*) FROM companies")
issued=$(q "SELECT count(*) FROM companies WHERE status = 'done'")
auth() { q "SELECT count(*) FROM companies WHERE auth_status = '$1'"; }
started=$(q "SELECT count(*) FROM companies WHERE auth_status IN
             ('in_progress', 'authenticated', 'rejected')")
declare -A want=([imported]=$imported [ticket_issued]=$issued
    [in_progress]=$started [authenticated]=$(auth authenticated)
    [rejected]=$(auth rejected) [expired]=$(auth expired))
eq "the database has one pending and one already authed" \
    "$imported|$issued|$(q "SELECT count(*) FROM companies WHERE status IN
        ('pending', 'already_authed')")" "$((N + 2))|$N|2"
check "every outcome occurs" test "${want[authenticated]}" -gt 0 -a \
    "${want[rejected]}" -gt 0 -a "${want[expired]}" -gt 0
# Nearest-rank p50/p90 of ticket -> authenticated, in ms.
durs() { q "SELECT auth_changed_at - ticket_at FROM companies WHERE
            auth_status = 'authenticated' ORDER BY 1"; }
nauth=${want[authenticated]}
p50=$(durs | sed -n "$(((nauth * 500 + 999) / 1000))p")
p90=$(durs | sed -n "$(((nauth * 900 + 999) / 1000))p")
q -separator $'\t' "SELECT auth_reason, count(*) FROM companies WHERE
   auth_status = 'rejected' GROUP BY auth_reason" | sort >reasons_db.tsv

# --- status
run_ab s1 status --json
eq "status --json: exit 0" "$RC" 0
for k in "${!want[@]}"; do
    eq "status --json funnel $k" "$(jq ".funnel.stages.$k" s1.out)" "${want[$k]}"
done
for a in not_started in_progress authenticated rejected expired; do
    eq "status --json auth_status $a" "$(jq ".funnel.auth_status.$a" s1.out)" "$(auth $a)"
done
eq "status --json auth_status unknown" "$(jq .funnel.auth_status.unknown s1.out)" \
    "$(q "SELECT count(*) FROM companies WHERE status = 'done' AND auth_status IS NULL")"
eq "status --json already_authed" "$(jq .funnel.already_authed s1.out)" 1
eq "status --json ticket to authenticated" \
    "$(jq -c '.funnel.ticket_to_authenticated_s | [.n, (.p50 * 1000 | round), (.p90 * 1000 | round)]' s1.out)" \
    "[$nauth,$p50,$p90]"
jq -r '.funnel.rejection_reasons[] | "\(.reason)\t\(.count)"' s1.out | sort >reasons_st.tsv
eq "status --json rejection reasons = the database's" "$(diff reasons_db.tsv reasons_st.tsv)" ""
eq "status --json last run is the track run" \
    "$(jq -c '.last_run | [.command, .polls > 0]' s1.out)" '["track",true]'
run_ab s2 status --lang en
check "status text: the funnel" grep -q "^  ticket issued  *$issued " s2.out
check "status text: authenticated" grep -q "^  authenticated  *${want[authenticated]} " s2.out
check "status text: by auth status" grep -q "authenticated ${want[authenticated]}, rejected ${want[rejected]}" s2.out
check "status text: a reason" grep -qF "$(head -1 reasons_db.tsv | cut -f1)" s2.out
run_ab s3 status --lang zh-CN
check "status zh-CN: the funnel in Chinese" grep -q "^  已认证  *${want[authenticated]} " s3.out
AB_I18N_CHECK=1 "$AB" status --lang zh-CN >/dev/null 2>i18n.err
eq "status zh-CN: no untranslated label" "$(cat i18n.err)" ""

# --- report
run_ab rj report --format json
for k in "${!want[@]}"; do
    eq "report json funnel $k" "$(jq ".summary.funnel.stages.$k" rj.out)" "${want[$k]}"
done
eq "report json: each company's auth_status is the database's" \
    "$(jq -r '.companies[] | [.id, (.auth_status // "")] | @tsv' rj.out | sort)" \
    "$(q -separator $'\t' "SELECT id, coalesce(auth_status, '') FROM companies" | sort)"
polls=$(q "SELECT polls FROM runs WHERE command = 'track' ORDER BY id DESC LIMIT 1")
eq "report json: a track run's polls" \
    "$(jq '[.summary.runs[] | select(.polls > 0)] | last | .polls' rj.out)" "$polls"
run_ab rc report --format csv
eq "report csv: the auth columns" "$(head -1 rc.out | tr -d '\r')" \
    "id,company_name,register_no,status,attempts,last_http_status,last_code,last_message,updated_at,auth_status,auth_reason,auth_changed_at"
eq "report csv: rejected rows" "$(grep -c ',rejected,' rc.out)" "${want[rejected]}"
run_ab rt report --lang en
check "report text: the funnel" grep -q "^  in progress  *$started " rt.out
track_id=$(q "SELECT id FROM runs WHERE command = 'track' ORDER BY id DESC LIMIT 1")
eq "report text: a track run's requests are its polls" \
    "$(awk -v id="$track_id" '$1 == id { print $(NF-4) }' rt.out)" "$polls"
AB_I18N_CHECK=1 "$AB" report --lang zh-CN --format html -o zh.html 2>i18n.err
eq "report html zh-CN: no untranslated label" "$(cat i18n.err)" ""
run_ab rh report --format html --lang en -o report.html
eq "report html: exit 0" "$RC" 0
xp() { xmllint --xpath "$1" report.html 2>/dev/null; }
check "report html is well-formed XML" xmllint --noout report.html
for k in "${!want[@]}"; do
    eq "html funnel chart data-count for $k" \
        "$(xp "string(//*[local-name()='rect'][@data-stage='$k']/@data-count)")" "${want[$k]}"
done
eq "html funnel: widths shrink down the stages" \
    "$(xp "number(//*[local-name()='rect'][@data-stage='imported']/@width) >=
           number(//*[local-name()='rect'][@data-stage='ticket_issued']/@width) and
           number(//*[local-name()='rect'][@data-stage='ticket_issued']/@width) >=
           number(//*[local-name()='rect'][@data-stage='in_progress']/@width)")" true
eq "html: p50 and p90" \
    "$(xp "string(//*[@data-p50-ms]/@data-p50-ms)"),$(xp "string(//*[@data-p90-ms]/@data-p90-ms)")" "$p50,$p90"
eq "html: rejection reasons add up" \
    "$(xp "sum(//*[@data-reason-count]/@data-reason-count)")" "${want[rejected]}"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [[ -n "$CHROMIUM" ]]; then
    copts=(--headless --no-sandbox --disable-gpu --disable-background-networking
        --disable-component-update --disable-sync --no-first-run
        --user-data-dir="$WORK/chrome")
    timeout 120 "$CHROMIUM" "${copts[@]}" --dump-dom "file://$WORK/report.html" \
        >dom.html 2>/dev/null || true
    check "chromium ran the page script to the end" grep -q 'data-ready="1"' dom.html
    check "chromium kept the funnel chart" grep -q 'id="chart-funnel"' dom.html
    timeout 120 "$CHROMIUM" "${copts[@]}" --screenshot="$WORK/funnel.png" \
        --window-size=1280,1400 "file://$WORK/report.html" >/dev/null 2>&1 || true
    check "chromium screenshot" test -s funnel.png
    [[ -n "${AB_KEEP_SCREENSHOT:-}" && -s funnel.png ]] && cp funnel.png "$AB_KEEP_SCREENSHOT"
else
    echo "skip: chromium not installed (Debian package chromium); page not rendered"
fi

# --- metrics
metric() { awk -v k="$1" '$1 == k { print $2 }' m.prom; }
if command -v promtool >/dev/null; then
    check "metrics: promtool check metrics" promtool check metrics <m.prom
else
    echo "skip: promtool not installed (Debian package prometheus)"
fi
for k in "${!want[@]}"; do
    eq "metrics funnel $k" "$(metric "authbatch_funnel_companies{stage=\"$k\"}")" "${want[$k]}"
done
for a in not_started in_progress authenticated rejected expired; do
    eq "metrics auth_status $a" \
        "$(metric "authbatch_auth_status_companies{auth_status=\"$a\"}")" "$(auth $a)"
done
eq "metrics p50/p90" "$(metric authbatch_ticket_to_authenticated_p50_seconds),$(metric authbatch_ticket_to_authenticated_p90_seconds)" \
    "$(awk -v a="$p50" -v b="$p90" 'BEGIN { printf "%.3f,%.3f", a / 1000, b / 1000 }')"
eq "metrics: the track run's polls" \
    "$(metric 'authbatch_run_companies_polled_total{result="answered"}')" \
    "$(q "SELECT count(*) FROM auth_events WHERE run_id = 2")"
finish
