#!/usr/bin/env bash
# Crash consistency: `authbatch run` against qys-sandbox with faults on 500
# companies is SIGKILLed at random moments (at least 20 kills, delays from a
# seeded RNG, 50-400 ms after start). After every kill: PRAGMA
# integrity_check is ok and no company was lost or added. Then a run to
# completion, and: every company is done, each stored ticket is one the
# sandbox issued for that very company (/__ledger), a ticket is stored only
# on done rows, and no attempt row points at a missing company.
# Env: AUTHBATCH, QYS_SANDBOX, AB_SOURCE_DIR; optional AB_CRASH_SEED,
# AB_CRASH_KILLS.
set -euo pipefail

AB=${AUTHBATCH:?set AUTHBATCH to the authbatch binary}
SANDBOX=${QYS_SANDBOX:-}
if [[ -z "$SANDBOX" || ! -x "$SANDBOX" ]]; then
    echo "skip: qys-sandbox not built ($SANDBOX)"
    exit 0
fi
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 CLI missing"; exit 0; }
command -v jq >/dev/null || { echo "skip: jq missing"; exit 0; }
# shellcheck source=../sandbox/lib.sh
source "${AB_SOURCE_DIR:?}/tests/sandbox/lib.sh"
cd "$WORK"
export AUTHBATCH_DB="$WORK/t.db" QYS_ACCESS_TOKEN=$TOK QYS_ACCESS_SECRET=$SEC
q() { sqlite3 -cmd '.timeout 5000' "$AUTHBATCH_DB" "$@"; }

N=500
KILLS=${AB_CRASH_KILLS:-20}
RANDOM=${AB_CRASH_SEED:-4242} # seeded: the same kill moments every time
echo "seed ${AB_CRASH_SEED:-4242}, $KILLS kills"

# Throttles pause the whole dispatcher by design: keep them rare.
start_sandbox --token "$TOK" --secret "$SEC" --seed 11 --latency-ms 5 \
    --jitter-ms 10 --fault-5xx 0.06 --fault-reset 0.04 --fault-garbage 0.05 \
    --fault-slow 0.02 --slow-ms 300 --fault-throttle 0.005 --fault-429 0.005 \
    --retry-after 1

{
    echo "companyName,applicantContact"
    for ((i = 1; i <= N; i++)); do
        printf 'Crash Co %04d,1380%07d\n' "$i" "$i"
    done
} >c.csv
"$AB" -q import c.csv
eq "imported" "$(q 'SELECT count(*) FROM companies')" "$N"

run_args=(run --base-url "$URL" --rate 60 --concurrency 8 --retry-base-ms 20
    --retry-max-ms 200 --max-attempts 100 --timeout 5 --progress none)

kills=0 finished_early=0 iter=0
while ((kills < KILLS && iter < KILLS * 3)); do
    iter=$((iter + 1))
    delay_ms=$((50 + RANDOM % 351))
    "$AB" -q "${run_args[@]}" >>run.out 2>>run.err &
    pid=$!
    # The kill moment is what is being randomised: sleep is the point here.
    sleep "$(printf '0.%03d' "$delay_ms")"
    if kill -KILL "$pid" 2>/dev/null; then
        kills=$((kills + 1))
    else
        finished_early=$((finished_early + 1))
    fi
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    ic=$(q 'PRAGMA integrity_check')
    total=$(q 'SELECT count(*) FROM companies')
    if [[ "$ic" != ok || "$total" != "$N" ]]; then
        fail "after kill $kills (delay ${delay_ms} ms, rc $rc): integrity '$ic', companies $total"
    fi
    # The run lock of a killed run must not block the next one.
done
pass "integrity ok and $N companies after each of $kills kills ($finished_early runs ended first)"
check "at least $KILLS kills" test "$kills" -ge "$KILLS"
echo "state before the final run: $(q "SELECT group_concat(status || '=' || n, ' ') FROM (SELECT status, count(*) n FROM companies GROUP BY status)")"
check "some work was done between kills" \
    test "$(q "SELECT count(*) FROM companies WHERE status = 'done'")" -gt 0
check "the kills left work to do" \
    test "$(q "SELECT count(*) FROM companies WHERE status <> 'done'")" -gt 0

rc=0
timeout 240 "$AB" -q "${run_args[@]}" --rate 0 >>run.out 2>>run.err || rc=$?
eq "final run exits 0" "$rc" 0
eq "integrity after the final run" "$(q 'PRAGMA integrity_check')" ok
eq "companies" "$(q 'SELECT count(*) FROM companies')" "$N"
eq "done = companies" "$(q "SELECT count(*) FROM companies WHERE status = 'done'")" "$N"
eq "no ticket on a row that is not done" \
    "$(q "SELECT count(*) FROM companies WHERE (ticket IS NOT NULL) <> (status = 'done')")" 0
eq "no orphan attempts" \
    "$(q 'SELECT count(*) FROM attempts WHERE company_id NOT IN (SELECT id FROM companies)')" 0

# Every stored ticket was issued by the sandbox for that company.
ledger | jq -r '.tickets[] | [.company, .ticket] | @tsv' >ledger.tsv
q -separator $'\t' "SELECT company_name, ticket FROM companies ORDER BY 1" >stored.tsv
issued=$(wc -l <ledger.tsv)
echo "sandbox issued $issued tickets for $N companies (more than one for a company whose answer a kill lost)"
missing=$(sort ledger.tsv | comm -13 - <(sort stored.tsv) | wc -l)
eq "every stored ticket is in the ledger for its company" "$missing" 0
eq "each company has a ledger entry" \
    "$(cut -f1 ledger.tsv | sort -u | wc -l)" "$N"
check "no error from a run but the kills" \
    bash -c "! grep -Ev 'progress|^\$' run.err | grep -qi 'corrupt\|malformed\|database disk image'"
finish
