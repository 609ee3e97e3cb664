#!/usr/bin/env bash
# GET /companyauth/result and the seeded applicants behind it: the same
# checks as the ticket endpoint, the query read as a Java servlet reads it,
# each company's status following its applicant's timeline, /__truth, and
# the same faults.
# usage: auth.sh PATH/TO/qys-sandbox
SANDBOX=$1
. "$(dirname "$0")/lib.sh"
CLIENT=(python3 "$(dirname "$0")/sbx_client.py")

S() { jq -r "$@" "$WORK/stats.json"; }
# get QUERY [CURL ARGS]: a signed GET of the result endpoint (H_* and OMIT
# as for api); prints the HTTP status, the body goes to $WORK/body
get() {
    local query=$1; shift
    local tok=${H_TOKEN:-$TOK} ts=${H_TS:-$(now_ms)} nonce=${H_NONCE:-$(new_nonce)}
    local sig=${H_SIG:-$(md5hex "$tok${SIGN_SECRET:-$SEC}$ts$nonce")}
    local -a h=()
    [[ "${OMIT:-}" == token ]] || h+=(-H "x-qys-open-accesstoken: $tok")
    [[ "${OMIT:-}" == timestamp ]] || h+=(-H "x-qys-open-timestamp: $ts")
    [[ "${OMIT:-}" == nonce ]] || h+=(-H "x-qys-open-nonce: $nonce")
    [[ "${OMIT:-}" == signature ]] || h+=(-H "x-qys-open-signature: $sig")
    : >"$WORK/body"
    curl -sS -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' \
        "$URL/companyauth/result?$query" "${h[@]}" "$@"
}
truth() { curl -sS "$URL/__truth"; }
# wait_settled SECONDS: until every applicant's story is over
wait_settled() {
    local i
    for ((i = 0; i < $1 * 50; i++)); do
        [[ "$(truth | jq .settled)" == true ]] && return 0
        sleep 0.02
    done
    fail "truth never settled"
    return 1
}

# ---- 1. the checks, in the ticket endpoint's order ------------------------
start_sandbox --port 0 --token "$TOK" --secret "$SEC"
eq "no record yet: status -1" "$(get 'companyName=Acme%20Ltd')/$(jq -c . "$WORK/body")" \
    '200/{"code":0,"message":"SUCCESS","result":{"status":-1}}'
check "JSON content type" grep -qi '^content-type: application/json;charset=UTF-8' "$WORK/headers"
for h in token timestamp nonce signature; do
    case $h in token) name=accesstoken ;; *) name=$h ;; esac
    eq "missing $h: 441 naming it" "$(OMIT=$h get 'companyName=X')/$(jq -r .message "$WORK/body")" \
        "441/HEADER REQUIRED,x-qys-open-$name"
done
eq "wrong token: 442" "$(H_TOKEN=nope get 'companyName=X')" 442
eq "wrong secret: 443" "$(SIGN_SECRET=bad get 'companyName=X')/$(jq -c . "$WORK/body")" \
    '443/{"code":443,"message":"INVALID SIGNATURE"}'
eq "stale timestamp: 444" "$(H_TS=$(($(now_ms) - 660000)) get 'companyName=X')" 444
n=$(new_nonce) ts=$(now_ms)
eq "fresh nonce" "$(H_NONCE=$n H_TS=$ts get 'companyName=X')" 200
eq "replayed nonce: 445" "$(H_NONCE=$n H_TS=$ts get 'companyName=X')" 445
eq "a nonce burnt by a ticket request is burnt here too" \
    "$(H_NONCE=$n H_TS=$ts api "$(body_for 'X')")" 445
eq "neither parameter: 1005" "$(get 'other=1')/$(jq -c . "$WORK/body")" \
    '200/{"code":1005,"message":"INVALID PARAM: companyName or requestId is required"}'
eq "empty companyName: 1005" "$(get 'companyName=')/$(jq -r .code "$WORK/body")" 200/1005
eq "POST to the result path: 404" "$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$URL/companyauth/result")" 404
eq "authed marker: status 2 without a ticket" \
    "$(get 'companyName=Old%20Co%20%5BAUTHED%5D')/$(jq -c .result "$WORK/body")" \
    '200/{"status":2,"name":"Old Co [AUTHED]"}'
stats >"$WORK/stats.json"
eq "stats: classes" "$(S -c '.answers | [.result, .fatal, .rejected]')" '[3,9,2]'
eq "stats: results by status" "$(S -c '.results')" '{"-1":2,"2":1}'
stop_sandbox

# ---- 2. query decoding: a servlet's, so unencoded & + = pick another company
printf '%s\n' 'A' 'A&B' 'X Y' 'X+Y' 'K=V' 'K' '上海 甲 (有限) 公司' '100% Co' >"$WORK/names"
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --auth-time-scale 60000
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" issue "$WORK/names" >"$WORK/issued"
eq "8 tickets" "$(jq -r 'select(.http == 200) | .body | fromjson | .code' "$WORK/issued" | grep -c '^0$')" 8
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" result "$WORK/names" >"$WORK/enc"
eq "encoded by RFC 3986: every name finds its own record" \
    "$(jq -r '[.name, (.body | fromjson | .result.name)] | @tsv' "$WORK/enc" | awk -F'\t' '$1 != $2' | wc -l)" 0
eq "...status 1 (not submitted) right after the ticket" \
    "$(jq -r '.body | fromjson | .result.status' "$WORK/enc" | sort -u | paste -sd,)" 1
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" result "$WORK/names" --raw >"$WORK/raw"
# a raw & ends the value, a raw + is a space; a raw = after the first one is
# part of the value (the servlet splits a parameter on its first =)
eq "raw & +: the servlet reads another name" \
    "$(jq -rc '[.name, (.body | fromjson | .result.name // "-")]' "$WORK/raw" | paste -sd' ')" \
    '["A","A"] ["A&B","A"] ["X Y","X Y"] ["X+Y","X Y"] ["K=V","K=V"] ["K","K"] ["上海 甲 (有限) 公司","上海 甲 (有限) 公司"] ["100% Co","-"]'
eq "a malformed escape drops the parameter: 1005" \
    "$(jq -r 'select(.name == "100% Co") | .body | fromjson | .code' "$WORK/raw")" 1005
eq "invalid UTF-8 is read as U+FFFD: no such company" "$(get 'companyName=%E4%B8')/$(jq -c .result "$WORK/body")" \
    '200/{"status":-1}'
# the fields of a record
eq "result fields" "$(get 'companyName=A%26B' && jq -c '.result | del(.requestId) | .authInfo |= fromjson' "$WORK/body")" \
    '200{"status":1,"name":"A&B","registerNo":"913100000000000002","legalPerson":"Legal 2","applicantName":"Applicant 2","applicantPhone":"13800000002","authInfo":{"name":"A&B","registerNo":"913100000000000002","legalPerson":"Legal 2","applicantName":"Applicant 2","applicantPhone":"13800000002"}}'
rid=$(jq -r .result.requestId "$WORK/body")
eq "requestId is the ledger's" "$(ledger | jq -r '.tickets[] | select(.company == "A&B") | .requestId')" "$rid"
eq "?requestId= finds the same record" "$(get "requestId=$rid" && jq -r .result.name "$WORK/body")" '200A&B'
eq "requestId wins over companyName" "$(get "companyName=K&requestId=$rid" && jq -r .result.name "$WORK/body")" '200A&B'
eq "unknown requestId: -1" "$(get 'requestId=2800000000000000099' && jq -c .result "$WORK/body")" '200{"status":-1}'
eq "first value of a repeated parameter" "$(get 'companyName=K&companyName=A' && jq -r .result.name "$WORK/body")" '200K'
stop_sandbox

# ---- 3. the applicants' stories against the truth ---------------------------
# 20 ms per vendor minute: every story is over 30 vendor minutes = 0.6 s on
awk 'BEGIN { for (i = 1; i <= 200; i++) printf "Story & Co %d\n", i }' >"$WORK/names"
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --seed 5 --auth-time-scale 20
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" issue "$WORK/names" >/dev/null
wait_settled 20
truth >"$WORK/truth.json"
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" result "$WORK/names" >"$WORK/res"
jq -r '.body | fromjson | .result | [.name, .status, .requestId, (.basicReason // "")] | @tsv' "$WORK/res" | sort >"$WORK/res.tsv"
jq -r '.companies[] | [.company, .status, .requestId, (.basicReason // "")] | @tsv' "$WORK/truth.json" | sort >"$WORK/truth.tsv"
eq "every result equals the truth (status, requestId, basicReason)" "$(diff "$WORK/res.tsv" "$WORK/truth.tsv" | head -3)" ""
eq "200 companies, each final" "$(jq '[.companies[] | select(.final)] | length' "$WORK/truth.json")" 200
eq "status by fate" "$(jq -c '[.companies[] | [.fate, .status]] | unique' "$WORK/truth.json")" \
    '[["expire",6],["never",1],["pass",2],["progress",4],["reject",3]]'
check "every fate drawn ($(jq -c '[.companies[].fate] | group_by(.) | map({(.[0]): length}) | add' "$WORK/truth.json"))" \
    test "$(jq '[.companies[].fate] | unique | length' "$WORK/truth.json")" = 5
check "rejections carry a reason" test "$(jq '[.companies[] | select(.status == 3 and (.basicReason | type) != "string")] | length' "$WORK/truth.json")" = 0
check "the reasons are the vendor's (营业执照与企业名称不一致, ...)" \
    grep -q '营业执照' <(jq -r '.companies[].basicReason // empty' "$WORK/truth.json")
stop_sandbox
# same seed, same fates
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --seed 5 --auth-time-scale 20
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" issue "$WORK/names" >/dev/null
eq "same seed and names: same fates" "$(truth | jq -c '[.companies[].fate]')" "$(jq -c '[.companies[].fate]' "$WORK/truth.json")"
stop_sandbox
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --seed 6 --auth-time-scale 20
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" issue "$WORK/names" >/dev/null
check "another seed: other fates" test "$(truth | jq -c '[.companies[].fate]')" != "$(jq -c '[.companies[].fate]' "$WORK/truth.json")"
stop_sandbox

# ---- 4. the timeline on a slower clock; a new ticket restarts the story ----
# 1 s per vendor minute; with seed 114 'Slow Co' starts 63 and finishes 194
# vendor seconds after its first ticket (1.05 s, 3.2 s), and 138 s (2.3 s)
# after its second (sbx_story_draw)
printf '%s\n' 'Slow Co' >"$WORK/one"
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --seed 114 --auth-time-scale 1000 --auth-mix pass=1
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" issue "$WORK/one" >/dev/null
eq "pass: 1 at first" "$(get 'companyName=Slow%20Co' && jq .result.status "$WORK/body")" 2001
seen=1 t0=$SECONDS
while ((SECONDS - t0 < 20)); do
    get 'companyName=Slow%20Co' >/dev/null
    st=$(jq .result.status "$WORK/body")
    [[ "$st" == "${seen##*,}" ]] || seen+=",$st"
    [[ "$st" == 2 ]] && break
    sleep 0.05
done
eq "pass: 1 then 4 then 2" "$seen" 1,4,2
old=$(jq -r .result.requestId "$WORK/body")
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" issue "$WORK/one" >/dev/null
eq "a new ticket: the story starts again (1), with a new requestId" \
    "$(get 'companyName=Slow%20Co' && jq -c '[.result.status, .result.requestId != "'"$old"'"]' "$WORK/body")" '200[1,true]'
eq "...the old requestId keeps its last state" "$(get "requestId=$old" && jq .result.status "$WORK/body")" 2002
eq "truth: 2 tickets, the new requestId" "$(truth | jq -c '.companies[0] | [.tickets, .requestId != "'"$old"'", .status]')" '[2,true,1]'
stop_sandbox

# ---- 5. spellings and unknown statuses --------------------------------------
printf '%s\n' 'Sp Co' >"$WORK/one"
for field in applicant applicantName; do
    start_sandbox --port 0 --token "$TOK" --secret "$SEC" --auth-applicant-field "$field"
    "${CLIENT[@]}" "$URL" "$TOK" "$SEC" issue "$WORK/one" >/dev/null
    eq "--auth-applicant-field $field" "$(get 'companyName=Sp%20Co' && jq -c '.result | [.applicant, .applicantName]' "$WORK/body")" \
        "200$([[ $field == applicant ]] && echo '["Applicant 1",null]' || echo '[null,"Applicant 1"]')"
    stop_sandbox
done
for ((i = 0; i < 40; i++)); do echo 'Sp Co'; done >"$WORK/forty"
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --auth-applicant-field mixed --auth-unknown-status 5 0.5 --seed 4
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" issue "$WORK/one" >/dev/null
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" result "$WORK/forty" >"$WORK/mixed"
n_app=$(jq -r '.body | fromjson | .result | select(has("applicant")) | 1' "$WORK/mixed" | wc -l)
n_name=$(jq -r '.body | fromjson | .result | select(has("applicantName")) | 1' "$WORK/mixed" | wc -l)
check "mixed: both spellings ($n_app applicant, $n_name applicantName)" test "$n_app" -gt 0 -a "$n_name" -gt 0 -a $((n_app + n_name)) = 40
n5=$(jq -r '.body | fromjson | .result.status' "$WORK/mixed" | grep -c '^5$' || true)
check "unknown status 5 in about half the answers ($n5/40)" test "$n5" -ge 8 -a "$n5" -le 32
eq "...the others the true status" "$(jq -r '.body | fromjson | .result.status' "$WORK/mixed" | grep -v '^5$' | sort -u)" 1
eq "...and the truth never says 5" "$(truth | jq '.companies[0].status')" 1
eq "no record stays -1" "$(get 'companyName=None' && jq .result.status "$WORK/body")" 200-1
stop_sandbox

# ---- 6. the same faults ----------------------------------------------------
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --fault-5xx 1
check "5xx on the result endpoint" grep -Eq '^50[023]$' <<<"$(get 'companyName=X')"
stop_sandbox
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --fault-reset-after-read 1
n=$(new_nonce) ts=$(now_ms)
st=0; H_NONCE=$n H_TS=$ts get 'companyName=X' >/dev/null 2>&1 || st=$?
eq "reset after read on the result endpoint" "$st" 56
eq "...with its nonce burnt" "$(H_NONCE=$n H_TS=$ts get 'companyName=X')" 445
stop_sandbox
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --spurious-fatal 1
eq "a spurious 1002 on the result endpoint" "$(get 'companyName=X' && jq -r .code "$WORK/body")" 2001002
stop_sandbox
start_sandbox --port 0 --token "$TOK" --secret "$SEC" --fault-reset-after-read 1
printf '%s\n' 'Lost Co' >"$WORK/one"
"${CLIENT[@]}" "$URL" "$TOK" "$SEC" issue "$WORK/one" >/dev/null 2>&1 || true
eq "a ticket reset after read: a record whose applicant never starts" \
    "$(truth | jq -c '.companies[0] | [.company, .status, .fate, .delivered, .final]')" '["Lost Co",1,"never",false,true]'
stop_sandbox

for bad in "--auth-mix pass=0.5" "--auth-mix pass=1,nope=0" "--auth-time-scale 0" \
    "--auth-applicant-field name" "--auth-unknown-status 5" "--auth-unknown-status 5 2"; do
    st=0
    # shellcheck disable=SC2086 # word splitting wanted
    "$SANDBOX" --token a --secret b $bad >/dev/null 2>"$WORK/err" || st=$?
    eq "$bad: exit 64" "$st" 64
done

finish
