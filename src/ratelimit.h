/* ratelimit.h - the dispatcher's rate limiter: GCRA with adaptive slowdown.
 *
 * Pure: time is passed in (microseconds, any monotonic origin). GCRA keeps a
 * single "theoretical arrival time" (TAT); a request may go at
 * TAT - (burst - 1) * T, where T = 1 / rate. The limiter starts with one
 * token, never a full bucket, so a run never opens with a burst.
 *
 * Throttling (SPEC §4): ab_ratelimit_throttle() pauses every send until a
 * given time and halves the current rate; ab_ratelimit_next()/take() then
 * climb back towards the configured rate in steps of a tenth of it per second
 * without throttling. Rate 0 means unlimited; when throttled, an unlimited
 * limiter adopts half the observed rate passed in, climbs by a tenth of that
 * observed rate per second, and is unlimited again once it gets there.
 */
#ifndef AB_RATELIMIT_H
#define AB_RATELIMIT_H

#include <stdint.h>

struct ab_ratelimit {
    double target;        /* configured rate, req/s; 0 = unlimited */
    double rate;          /* current rate, req/s; 0 = unlimited */
    double ceiling;       /* where climbing stops: target, or the observed
                             rate when an unlimited limiter was throttled */
    int burst;            /* >= 1 */
    int64_t tat;          /* theoretical arrival time, us */
    int64_t paused_until; /* no send before this, us */
    int64_t last_step;    /* when the rate last climbed (or was cut), us */
};

void ab_ratelimit_init(struct ab_ratelimit *rl, double rate, int burst,
                       int64_t now);

/* Earliest time a request may be sent (<= now: at once). */
int64_t ab_ratelimit_next(struct ab_ratelimit *rl, int64_t now);

/* Records a send at now; call only when ab_ratelimit_next() <= now. */
void ab_ratelimit_take(struct ab_ratelimit *rl, int64_t now);

/* Pauses until `until` (>= now) and halves the rate. observed_rate (req/s)
 * seeds the cut when the limiter is unlimited. */
void ab_ratelimit_throttle(struct ab_ratelimit *rl, int64_t now, int64_t until,
                           double observed_rate);

#endif
