/* runner.h - this run among the runs that share its database: the leases
 * on its claims renewed while it works, and its share of --rate.
 *
 * On a store that one run uses at a time (SQLite, under lock.h) there is
 * nothing to share: ab_runner_may_send() is always 1 and the limiter keeps
 * the whole --rate.
 *
 * On a shared store (PostgreSQL, store_queue.h) a run joins when it starts
 * and renews every beat (a fifth of the lease, at most half a second), from the
 * dispatcher's timer:
 *  - Leases. A renewal extends the leases of its claims to lease_ms from
 *    when it was sent, as measured on this host's monotonic clock (so a
 *    clock that disagrees with the database's costs nothing). The run
 *    sends only while the lease covers the request's whole timeout and one
 *    more beat: a run that cannot reach the database stops sending before
 *    its lease runs out, and every request it sent has been answered or
 *    timed out by then. When a renewal succeeds after the lease ran out,
 *    the companies claimed and not yet sent are no longer the run's
 *    (ab_runner_beat() returns 1: give them back unsent, with a release
 *    that leaves alone those another run claimed meanwhile).
 *  - Rate. The App's --rate is the lowest any live run was given (runs
 *    started with 60 and 100 share 60), its --burst likewise; once seen,
 *    it holds for the rest of the run (a run alone keeps to its own until
 *    a slower one joins). Each live run sends at
 *    ab_runner_share() of it, as the ceiling of its own limiter
 *    (ratelimit.h, which keeps finding the server's limit beneath it). A
 *    run that joins sends nothing until every other live run has renewed
 *    since (each has lowered its share to count it); a run that dies keeps
 *    its share until its lease runs out, one that ends gives it back at
 *    once. So the runs together never send above --rate + --burst in a
 *    second.
 */
#ifndef AB_RUNNER_H
#define AB_RUNNER_H

#include <stdint.h>

#include "err.h"
#include "ratelimit.h"
#include "store.h"

struct ab_runner;

/* The share of one of `runners` live runs, req/s (0 = unlimited): the
 * whole rate for one; otherwise whole requests per second such that
 * runners * (share + burst) <= rate + burst, or rate / runners when that
 * leaves less than one. */
double ab_runner_share(double rate, int burst, int runners);

/* A new runner for run_id on s (not yet joined). lease_ms: how long a
 * claim holds without renewal; timeout_ms: the longest a request may take.
 * NULL when out of memory. */
struct ab_runner *ab_runner_new(struct ab_store *s, int64_t run_id,
                                int64_t lease_ms, int64_t timeout_ms,
                                double rate, int burst);

/* NULL is a no-op. */
void ab_runner_free(struct ab_runner *r);

/* Joins and sets rl's ceiling (now_us on rl's clock). */
int ab_runner_join(struct ab_runner *r, struct ab_ratelimit *rl, int64_t now_us,
                   struct ab_err *err);

/* Renews when a beat is due, and sets rl's ceiling to the share. Returns 1
 * when the lease had run out before this renewal (see above), else 0. A
 * failed renewal is logged (once until one works again) and retried at
 * the next beat. */
int ab_runner_beat(struct ab_runner *r, struct ab_ratelimit *rl,
                   int64_t now_us);

/* 1 when a request may go out now (admitted, and the lease covers it). */
int ab_runner_may_send(const struct ab_runner *r);

/* Live runs as last counted (1 when not shared). */
int ab_runner_count(const struct ab_runner *r);

/* Leaves (ab_queue_leave()); failures are logged. */
void ab_runner_leave(struct ab_runner *r);

#endif
