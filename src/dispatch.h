/* dispatch.h - one `authbatch run` or `track`: take due work, send it under
 * the concurrency cap and the rate limit, apply the retry policy, record
 * results.
 *
 * Two kinds of work (work.h) share the loop, the limiter, the cap, the
 * retry policy, the outcome classes, the signals and the stops: tickets
 * (POST /companyauth/miniappexchange) and status polls (GET
 * /companyauth/result, SPEC §6). Each kind has its source (worksrc.h); the
 * step asks them in priority order, tickets first, so polls only fill
 * what ticket work leaves. A poll's answer goes into the same batch as the
 * tickets' (batch.h), as a result of its own kind.
 *
 * Owns a libuv loop with the HTTP engine and the run's timers and signal
 * handlers. The loop has one scheduling point: answers, timers and signals
 * only record what happened and ask for a step; the step (once per loop
 * iteration, from a uv_idle handle) commits results, claims, sends, and
 * decides to stop, in that order. Nothing re-enters it.
 *
 * The pieces it drives, each with its own contract: claimq.h (claimed
 * companies), batch.h (results waiting to be committed), ratelimit.h (how
 * fast), retry.h (when again), api.h (the request and what an answer
 * means), stop.h (why the run ends and what that means).
 *
 * Policies:
 *  - Results are committed at least every 100 ms. While they cannot be
 *    (another writer holds the database), the run keeps them, sends nothing
 *    new, and retries on the 100 ms timer; the run's connection waits for
 *    the lock 100 ms at most, so the loop never freezes. After
 *    commit_deadline_ms of failures it stops with AB_STOP_DB.
 *  - A fatal answer stops new requests at once; one fresh request (the
 *    same company, new timestamp and nonce) is the second opinion: refused
 *    too, the run stops with AB_STOP_FATAL and the companies stay pending;
 *    accepted, the refusals count as transient answers and the run goes on.
 *  - Answers that are not the vendor's (no JSON envelope: a proxy's or a
 *    captive portal's page) are held back while they come in a row: a run of
 *    2 * concurrency + 8 of them stops the run (AB_STOP_NOT_VENDOR) with
 *    those companies pending and uncharged; a vendor answer in between turns
 *    them into transient answers (retried, within the throttle allowance).
 *  - A redirect or a missing endpoint stops the run (AB_STOP_CONFIG).
 *  - A Retry-After beyond the retry horizon (10 min) or the end of
 *    --max-runtime stops the run (AB_STOP_HORIZON): the work is due later.
 *  - The run is complete when nothing is due now: a ticket retry or a poll
 *    retry this run scheduled within the horizon is waited for; a poll the
 *    schedule (tracksched.h) puts later is left to a later run.
 *  - A poll's answer with a status the mapping does not know is stored as
 *    an event (status unchanged) and logged once per value and run.
 *  - When an answer's Date header and the local clock disagree by more than
 *    a minute, a warning says so once, and a fatal stop's message names it.
 *  - The first SIGINT/SIGTERM stops sending and waits for requests in
 *    flight (whatever stopped the run before); the second cancels them.
 *
 *  - On a store several runs share (PostgreSQL), the run renews its leases
 *    and sends at its share of --rate (runner.h); it sends nothing while
 *    its lease would not cover a request; with nothing to claim it waits
 *    for the companies other runs hold until their leases run out (a run
 *    that died), and ends when none are left.
 *
 * The caller holds the run lock (SQLite).
 */
#ifndef AB_DISPATCH_H
#define AB_DISPATCH_H

#include <stdint.h>

#include "api.h"
#include "creds.h"
#include "retry.h"
#include "runstats.h"
#include "stop.h"
#include "store.h"
#include "tracksched.h"

struct ab_dispatch_opts {
    const char *command; /* runs.command: "run" or "track" */
    int no_tickets;      /* request no tickets (`track`) */
    int track;           /* poll statuses (`track`, `run --track`) */
    /* The tracking schedule: the first check of each ticket this run
     * stores, and the checks it polls. */
    struct ab_tracksched sched;
    const char *base_url; /* scheme://host[:port], no trailing slash */
    const struct ab_creds *creds;
    const char *cacert;
    int concurrency; /* requests in flight, >= 1 */
    double rate;     /* req/s ceiling, 0 = none */
    int burst;       /* >= 1 */
    struct ab_retry_policy retry;
    struct ab_api_codes codes;
    long timeout_ms;
    long connect_timeout_ms;
    int workers;   /* network threads (engine.h), 0 = all on the run's loop */
    int64_t limit; /* companies at most, 0 = all (polls with no_tickets) */
    int64_t max_runtime_ms;     /* stop dispatching after, 0 = never */
    int64_t commit_deadline_ms; /* give up storing after, 0 = 10 min */
    const char *options_json;   /* stored in runs.options */
    int64_t lease_ms; /* a claim's lease on a shared store (runner.h) */
    /* Gives each company without its own callbackUrl the address
     * "<callback_base>/<id>/<token>" (SPEC §6); NULL: none. */
    const char *callback_base;
    /* Called about four times a second and once at the end (with
     * st->exit_status still -1; the caller sets it). May be NULL. */
    void (*on_tick)(void *ctx, const struct ab_run_stats *st);
    void *tick_ctx;
};

/* Runs to the end. *st receives the run's figures; *stop why it ended and
 * the message that goes with it. Returns 0, or an AB_E* code (err set) if
 * the run could not start at all. */
int ab_dispatch_run(struct ab_store *s, const struct ab_dispatch_opts *o,
                    struct ab_run_stats *st, struct ab_stopper *stop,
                    struct ab_err *err);

#endif
