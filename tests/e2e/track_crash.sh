#!/usr/bin/env bash
# A `track` killed with SIGKILL in the middle, then resumed (issue 13):
# polls are reads, so the crash may repeat one but must never lose or
# double-count an observation.
#  - the killed run's committed events are at most the result answers the
#    sandbox had sent by then, and the answers it lost are within one
#    uncommitted window (concurrency + one batch);
#  - the resumed run polls exactly the companies whose check was not
#    committed, and every one of its answers is an event;
#  - in the end every company has exactly one event and one check (key
#    poll:<ticket_at>:1), and every auth_status equals the truth.
# stores: sqlite pg
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"
# shellcheck source=lib_track.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib_track.sh"

N=3000
start_sandbox --token "$TOK" --secret "$SEC" --seed 7 --auth-time-scale 20 \
    --no-callbacks
make_tricky_csv in.csv $N
"$AB" import in.csv >/dev/null 2>&1
run_ab r1 run --base-url "$URL" --rate 0 --concurrency 16 --progress none \
    --first-check 0 --max-check 1h
eq "tickets: exit 0" "$RC" 0
eq "tickets: all done" "$(counts)" "done=$N"
eq "run without --track polls nothing" "$(stat_of .answers.result)" 0
wait_for 30 "every applicant's story is over" settled

# The first checks are all due (the tickets were stored with --first-check
# 0); the track runs' own schedule (--first-check 10m) puts each second
# check 20 minutes after its answer, so the resume has only the first
# checks the crash left to make.
run_ab_bg t1 track --base-url "$URL" --rate 1500 --concurrency 16 \
    --progress none --first-check 10m --max-check 1h
events() { q "SELECT count(*) FROM auth_events"; }
some_events() { (($(events) >= 600)); }
wait_for 30 "the first run committed some polls" some_events
kill -KILL "$AB_PID"
run_ab_wait
eq "track: killed" "$RC" 137
answers1=$(stat_of .answers.result)
ev1=$(q "SELECT count(*) FROM auth_events WHERE run_id = 2")
check "the kill came mid-run ($ev1 of $N committed)" test "$ev1" -lt "$N"
le "killed run: events <= answers sent" "$ev1" "$answers1"
le "killed run: answers lost <= one uncommitted window" \
    "$((answers1 - ev1))" $((16 + 1024))
eq "killed run: its runs row is open" \
    "$(q "SELECT CAST(ended_at IS NULL AS INTEGER) FROM runs WHERE id = 2")" 1

# Resume: plain `track`; the second checks are not due yet, so it polls
# what the crash left (the lost answers included), nothing else.
run_ab t2 track --base-url "$URL" --rate 0 --concurrency 16 --progress none \
    --first-check 10m --max-check 1h
eq "resume: exit 0" "$RC" 0
answers2=$(($(stat_of .answers.result) - answers1))
eq "resume polled exactly what was not committed" "$answers2" $((N - ev1))
eq "resume: every answer is an event" \
    "$(q "SELECT count(*) FROM auth_events WHERE run_id = 3")" "$answers2"
eq "nothing double-counted: one event and one check per company" \
    "$(q "SELECT count(*), count(DISTINCT company_id), min(c), max(c) FROM
          (SELECT company_id, count(*) c FROM auth_events GROUP BY company_id) x")" \
    "$N|$N|1|1"
eq "...each with its first check's key" \
    "$(q "SELECT count(*) FROM auth_events e JOIN companies c ON c.id =
          e.company_id WHERE e.dedupe_key = 'poll:' || c.ticket_at || ':1'
          AND c.auth_checks = 1")" "$N"
truth_tsv truth.tsv
stored_tsv stored.tsv
eq "nothing lost: every auth_status equals the truth" \
    "$(diff truth.tsv stored.tsv | head -5)" ""
finish
