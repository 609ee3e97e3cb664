#!/usr/bin/env bash
# End-to-end `authbatch run` when its network threads cannot be started
# (a container's task limit, say; here a stack limit no thread stack can
# meet, set for the run alone): the run says so, does the network work on
# its own loop instead (--workers 0) and completes: exit 0, all done.
set -euo pipefail
# shellcheck source=lib.sh
source "${AB_SOURCE_DIR:?}/tests/e2e/lib.sh"

STACK_KIB=$((1 << 36)) # 64 TiB
hard=$(ulimit -H -s)
if [[ "$hard" != unlimited ]] && ((hard < STACK_KIB)); then
    echo "skip: the hard stack limit ($hard KiB) is too low to refuse threads"
    exit 0
fi
start_sandbox --token "$TOK" --secret "$SEC"
for w in 2 16; do
    import_n 50
    RC=0
    (
        ulimit -S -s "$STACK_KIB"
        exec "$AB" run --base-url "$URL" --rate 0 --concurrency 8 \
            --progress none --workers $w
    ) >nothr.out 2>nothr.err || RC=$?
    eq "no thread (--workers $w): exit 0" "$RC" 0
    eq "no thread (--workers $w): all done" "$(counts)" "done=50"
    check "no thread (--workers $w): says why, and what it does instead" \
        grep -q "cannot start a network thread.*on the run's own loop" nothr.err
    eq "no thread (--workers $w): the runs row is closed" \
        "$(q 'SELECT exit_status FROM runs ORDER BY id DESC LIMIT 1')" 0
done
finish
