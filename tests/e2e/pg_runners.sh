#!/usr/bin/env bash
# Several `authbatch run` processes sharing one PostgreSQL queue (issue 18).
#  1. Three runners, a fault mix (5xx, garbage, throttles; none of them
#     issues a ticket), --rate 60: the second is SIGKILLed a third of
#     the way in. The two others finish everything, the killed one's rows
#     too once their leases (5 s) run out: every company done with a ticket
#     the sandbox issued (the last one for it), companies asked twice no
#     more than the killed runner held, no company asked by two runs at
#     once, no wall-clock second above --rate + --burst at the sandbox.
#  2. Three runners against a hidden limit of 30/s (--rate 100 each
#     --rate is the App's, shared): together they converge on it (goodput
#     >= 0.7 of the limit from second 8 on, throttled share <= 10 %)
#     instead of each taking the limit for itself.
#  3. Two runners on this one host: both fine (no lock on PostgreSQL), and
#     the SQLite store still refuses a second run (exit 75).
#  4. Runners given --rate 60 and --rate 100 (the slower one first):
#     together they stay within 60 + burst (the App's rate is the lowest),
#     and the faster one says so.
set -euo pipefail
AB_STORE=pg
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"

# run_bg NAME ARGS...: a runner in the background; its pid in PIDS[NAME].
declare -A PIDS
run_bg() {
    local name=$1
    shift
    run_ab_bg "$name" run --base-url "$URL" --progress none "$@"
    PIDS[$name]=$AB_PID
}
wait_rc() { # wait_rc NAME: RC = its exit status
    AB_PID=${PIDS[$1]}
    run_ab_wait
}
done_at_least() { (($(q "SELECT count(*) FROM companies WHERE status = 'done'") >= $1)); }
run_id_of() { # the runs row of a pid
    q "SELECT id FROM runs WHERE pid = $1 ORDER BY id DESC LIMIT 1"
}

# --- 1. three runners, faults, one killed
N=600
# (No connection resets here: libcurl re-sends a request written on a
# connection found dead, a copy the limiter never granted; run_faults.sh
# and run_real_faults.sh cover them.)
start_sandbox --token "$TOK" --secret "$SEC" --seed 5 \
    --fault-5xx 0.10 --fault-garbage 0.06 --fault-throttle 0.01 \
    --latency-ms 5 --jitter-ms 20
import_n $N
common=(--rate 60 --burst 1 --concurrency 8 --timeout 2 --lease 5s
    --retry-base-ms 20 --retry-max-ms 200 --max-attempts 20)
run_bg k1 "${common[@]}"
run_bg k2 "${common[@]}"
run_bg k3 "${common[@]}"
wait_for 60 "a third of the companies done" done_at_least $((N / 3))
kill -KILL "${PIDS[k2]}"
wait_rc k2
eq "killed: exit by SIGKILL" "$RC" 137
killed=$(run_id_of "${PIDS[k2]}")
held=$(q "SELECT count(*) FROM companies WHERE status = 'in_flight'
          AND claimed_by = $killed")
echo "killed run #$killed held $held companies"
wait_rc k1
eq "runner 1: exit 0" "$RC" 0
wait_rc k3
eq "runner 3: exit 0" "$RC" 0
eq "every company done" "$(counts)" "done=$N"
eq "every stored ticket is one the sandbox issued" "$(tickets_not_in_ledger | head -3)" ""
eq "...and the last one it issued for that company" "$(tickets_not_last | head -3)" ""
asked_twice=$(jq '[.tickets[].company] | group_by(.) | map(select(length > 1)) | length' ledger.json)
le "companies issued two tickets <= those the killed runner held" "$asked_twice" "$held"
eq "no company asked by two runs at once" "$(q "SELECT count(*) FROM attempts a
    JOIN attempts b ON a.company_id = b.company_id AND a.run_id < b.run_id
    WHERE b.started_at < a.started_at + a.duration_ms
      AND a.started_at < b.started_at + b.duration_ms")" 0
le "no second above --rate + --burst at the sandbox" "$(stat_of .max_per_second)" 61
check "runner 1 saw 3 runs share the database" grep -q '3 runs share the database' k1.err
check "the killed runner's companies were waited for" grep -q 'other runs hold' k1.err k3.err
eq "runners left: only the killed one's row" "$(q "SELECT count(*) FROM runners")" 1
eq "nothing in flight" "$(q "SELECT count(*) FROM companies WHERE claimed_by IS NOT NULL OR lease_until IS NOT NULL")" 0
stop_sandbox TERM

# --- 2. a hidden limit, three runners
start_sandbox --token "$TOK" --secret "$SEC" --limit-rps 30 \
    --limit-window fixed --limit-signal 429 --limit-retry-after 1
import_n 2000
for i in 1 2 3; do
    run_bg h$i --rate 100 --concurrency 8 --max-runtime 18s
done
for i in 1 2 3; do
    wait_rc h$i
    eq "limit: runner $i stopped by --max-runtime (75)" "$RC" 75
done
stats >limit.json
# Seconds 8 .. the last whole one: goodput and throttled share.
read -r goodput thr secs < <(jq -r '.limit.per_second | to_entries
    | map(.key |= tonumber) | sort_by(.key) | .[8:-1]
    | [ (map(.value[0]) | add / length / 30),
        ((map(.value[1]) | add) / ((map(.value[0] + .value[1]) | add) | if . == 0 then 1 else . end)),
        length ] | @tsv' limit.json)
echo "limit: goodput $goodput of the limit, throttled share $thr over $secs s"
check "limit: goodput >= 0.7 of the hidden limit" awk -v g="$goodput" 'BEGIN { exit !(g >= 0.7) }'
check "limit: throttled share <= 10 %" awk -v t="$thr" 'BEGIN { exit !(t <= 0.10) }'
check "limit: at least 8 seconds counted" test "$secs" -ge 8
stop_sandbox TERM

# --- 3. two runners on one host; SQLite keeps its lock
start_sandbox --token "$TOK" --secret "$SEC" --latency-ms 2
import_n 300
run_bg s1 --rate 0 --concurrency 4
run_bg s2 --rate 0 --concurrency 4
wait_rc s1
eq "same host: runner 1 exit 0" "$RC" 0
wait_rc s2
eq "same host: runner 2 exit 0" "$RC" 0
eq "same host: all done" "$(counts)" "done=300"
eq "same host: one ticket each" "$(jq '.tickets | length' <(ledger))" 300
eq "same host: both runs worked" "$(q "SELECT count(DISTINCT run_id) FROM attempts")" 2

sdb="$WORK/one.db"
make_csv "$WORK/one.csv" 200
"$AB" --db "$sdb" import "$WORK/one.csv" >/dev/null 2>&1
run_ab_bg sq1 --db "$sdb" run --base-url "$URL" --rate 20 --progress none
sq_pid=$AB_PID
wait_for 10 "the SQLite run has started" test -s "$sdb.lock"
run_ab sq2 --db "$sdb" run --base-url "$URL" --rate 20 --progress none
eq "sqlite: a second run on the same file exits 75" "$RC" 75
check "sqlite: ...naming the holder" grep -q "pid $sq_pid" sq2.err
kill -TERM "$sq_pid"
AB_PID=$sq_pid
run_ab_wait
stop_sandbox TERM

# --- 4. runners given different --rate: the App's is the lowest
start_sandbox --token "$TOK" --secret "$SEC" --latency-ms 2
import_n 400
# The slower runner joins first: a run alone sends at its own --rate
# until a slower one joins (it cannot know of it before).
run_bg d1 --rate 60 --burst 1 --concurrency 8
joined() { (($(q "SELECT count(*) FROM runners r JOIN runs u ON u.id = r.run_id
    WHERE u.pid = ${PIDS[d1]}") >= 1)); }
wait_for 20 "runner 1 has joined" joined
run_bg d2 --rate 100 --burst 1 --concurrency 8
wait_rc d1
eq "two rates: runner 1 exit 0" "$RC" 0
wait_rc d2
eq "two rates: runner 2 exit 0" "$RC" 0
eq "two rates: all done" "$(counts)" "done=400"
le "two rates: no second above the lower --rate + --burst" "$(stat_of .max_per_second)" 61
check "two rates: the faster runner says whose rate it shares" \
    grep -q "another run on the database was given --rate 60.0" d2.err

finish
