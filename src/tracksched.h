/* tracksched.h - when `track` asks the vendor about a company again. Pure:
 * the time is passed in.
 *
 * A ticket's first check is due first_ms after it was issued (default 2
 * minutes: the applicant may already have opened the page). Each answered
 * check then doubles the wait, up to max_ms (default a day):
 *
 *   ticket -> 2m -> 4m -> 8m -> 16m -> ... -> 17h04m -> 24h -> 24h -> ...
 *
 * so the first hour of a ticket gets five checks, a company that never
 * starts costs one check a day after its first day and a half, and a
 * tracked company's state is never older than max_ms. A new ticket starts
 * over at the first check (store_queue.c sets the schedule when it stores
 * the ticket). Once a company is authenticated, rejected or expired nothing
 * is polled any more (a rejection or an expiry ends this ticket: only a new
 * ticket, from `retry --auth` or `run --reissue-after`, starts a new
 * schedule).
 *
 * A poll that failed (a transport error, a 5xx, throttling) is retried by
 * the run's retry policy (retry.h) and does not move the schedule on; one
 * that is given up does, like an answered one.
 */
#ifndef AB_TRACKSCHED_H
#define AB_TRACKSCHED_H

#include <stdint.h>

#include "authstatus.h"

#define AB_TRACKSCHED_FIRST_MS (2 * 60 * 1000LL)
#define AB_TRACKSCHED_MAX_MS (24 * 60 * 60 * 1000LL)

struct ab_tracksched {
    int64_t first_ms; /* ticket to first check, >= 0 (0: at once) */
    int64_t max_ms;   /* the longest wait between two checks, >= first_ms */
};

/* The defaults above. */
void ab_tracksched_defaults(struct ab_tracksched *p);

/* The wait after `checks` checks of a ticket (0: the wait from the ticket
 * to its first check): first_ms * 2^checks, at most max_ms (and at least
 * 1 s after the first check, so a first_ms of 0 still backs off). */
int64_t ab_tracksched_delay(const struct ab_tracksched *p, int checks);

/* Non-zero when nothing more is learnt by asking about this ticket:
 * authenticated, rejected, expired. */
int ab_tracksched_final(enum ab_auth a);

/* When the next check is due, for a company whose check number `checks`
 * (1 for the first) ended at now_ms with the company's status a; 0 when a
 * is final (nothing is due again). */
int64_t ab_tracksched_next(const struct ab_tracksched *p, int checks,
                           enum ab_auth a, int64_t now_ms);

#endif
