/* dispatch.h - one `authbatch run`: claim due companies, send them under the
 * concurrency cap and the rate limit, apply the retry policy, record results.
 *
 * Owns a libuv loop with the HTTP engine, the limiter's timer, a flush timer
 * (results are committed in batches at least every 100 ms), a tick timer for
 * progress and metrics, and the SIGINT/SIGTERM handlers: the first signal
 * stops dispatching and lets requests in flight finish, the second cancels
 * them. The caller holds the run lock.
 */
#ifndef AB_DISPATCH_H
#define AB_DISPATCH_H

#include <stdint.h>

#include "api.h"
#include "creds.h"
#include "retry.h"
#include "runstats.h"
#include "store.h"

struct ab_dispatch_opts {
    const char *base_url; /* scheme://host[:port], no trailing slash */
    const struct ab_creds *creds;
    const char *cacert;
    int concurrency; /* requests in flight, >= 1 */
    double rate;     /* req/s, 0 = unlimited */
    int burst;       /* >= 1 */
    struct ab_retry_policy retry;
    struct ab_api_codes codes;
    long timeout_ms;
    long connect_timeout_ms;
    int64_t limit;            /* companies at most, 0 = all */
    int64_t max_runtime_ms;   /* stop dispatching after, 0 = never */
    const char *options_json; /* stored in runs.options */
    /* Called about four times a second and once at the end (with
     * st->exit_status still -1; the caller sets it). May be NULL. */
    void (*on_tick)(void *ctx, const struct ab_run_stats *st);
    void *tick_ctx;
};

enum ab_dispatch_end {
    AB_END_COMPLETE,    /* nothing due is left that this run could do */
    AB_END_STOPPED,     /* signal, --max-runtime or --limit: work remains */
    AB_END_FATAL,       /* the API refused the credentials or account */
    AB_END_UNREACHABLE, /* every attempt failed at transport level */
    AB_END_DB,          /* the database failed */
    AB_END_SOFTWARE,    /* the HTTP engine failed */
};

/* Runs to the end. *st receives the run's figures; *end why it ended; err
 * the message for AB_END_FATAL/UNREACHABLE/DB/SOFTWARE. Returns 0, or an
 * AB_E* code if the run could not start at all. */
int ab_dispatch_run(struct ab_store *s, const struct ab_dispatch_opts *o,
                    struct ab_run_stats *st, enum ab_dispatch_end *end,
                    struct ab_err *err);

#endif
