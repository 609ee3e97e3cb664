/* runstats.h - live figures of one `authbatch run` (or `track`), owned by
 * the dispatcher and lent (read-only) to the progress display and the
 * metrics writer. */
#ifndef AB_RUNSTATS_H
#define AB_RUNSTATS_H

#include <stdint.h>

#include "outcome.h"

struct ab_run_stats {
    int64_t run_id;     /* runs.id, 0 for a dry run */
    int64_t started_ms; /* Unix ms */
    int64_t now_ms;     /* when these figures were taken */
    int64_t total;      /* companies this run set out to finish (due at
                           start, capped by --limit); 0 if unknown */
    /* Companies finished this run, by final state (tickets). */
    int64_t done, already_authed, failed;
    /* Attempts (requests) this run, total and by outcome class. */
    int64_t attempts;
    int64_t by_outcome[AB_OUT__COUNT];
    int64_t retries;          /* attempts that were not a company's first */
    int64_t throttles;        /* times the dispatcher paused for throttling */
    int64_t transport_errors; /* attempts without an HTTP answer */
    int64_t probes;           /* second opinions asked after a refusal */
    int64_t resends; /* copies libcurl re-sent by itself (freshly signed) */
    /* Status polls (`track`, `run --track`): requests, by outcome class
     * (issued = answered); companies whose poll was answered (an observation
     * stored) or given up, committed ones only; polls due at the start
     * (also in total). attempts and by_outcome count ticket requests. */
    int64_t polls;
    int64_t poll_by_outcome[AB_OUT__COUNT];
    int64_t polled, polls_failed;
    int64_t polls_due;
    int64_t in_flight;    /* requests on the wire now */
    int64_t waiting;      /* companies waiting for a retry now */
    double rate_limit;    /* the limiter's current rate, req/s; 0 = unlimited */
    double rate_estimate; /* the server's limit as the limiter estimates it,
                             req/s; 0 = none seen */
    const char *limiter_phase; /* "start", "cruise", "probe" (static) */
    double rate_now; /* answers per second over the last few seconds */
    int exit_status; /* -1 while running */
};

#endif
