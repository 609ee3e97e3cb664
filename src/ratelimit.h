/* ratelimit.h - how fast the dispatcher may send: a ceiling (--rate) and
 * the rate the server is found to accept beneath it (SPEC §4).
 *
 * Pure: time is passed in (microseconds, any monotonic origin); no clock, no
 * I/O, no randomness. Sends are spaced by GCRA (one "theoretical arrival
 * time"); the limiter starts with one token, never a full bucket, so a run
 * never opens with a burst. A send that starts a little after its slot (the
 * caller's timer has millisecond granularity) is charged at its slot, so
 * the average is the configured rate and no second holds more than
 * rate + burst sends.
 *
 * The server's answers feed back through ab_ratelimit_answer(): a throttled
 * answer pauses every send (at least until the server's Retry-After) and
 * lowers the rate; answers that are not throttled let it climb again, never
 * above the ceiling. A ceiling of 0 means no configured limit: the limiter
 * sends as fast as asked until the server first throttles, then holds and
 * probes the rate the server accepts like any other.
 *
 * The struct is opaque: callers hold a pointer and use these functions only.
 */
#ifndef AB_RATELIMIT_H
#define AB_RATELIMIT_H

#include <stdint.h>

struct ab_ratelimit;

/* A new limiter: ceiling in req/s (0 = none), burst >= 1 (smaller values
 * are taken as 1). NULL when out of memory. */
struct ab_ratelimit *ab_ratelimit_new(double ceiling, int burst, int64_t now);

/* NULL is a no-op. */
void ab_ratelimit_free(struct ab_ratelimit *rl);

/* Earliest time a request may be sent (<= now: at once). */
int64_t ab_ratelimit_next(struct ab_ratelimit *rl, int64_t now);

/* Records a send at now; call only when ab_ratelimit_next() <= now. */
void ab_ratelimit_take(struct ab_ratelimit *rl, int64_t now);

/* An answer arrived at now to a request sent at sent_at. throttled: the
 * server asked us to slow down; retry_after_us: its Retry-After in
 * microseconds (0 when none; the pause lasts at least that long). */
void ab_ratelimit_answer(struct ab_ratelimit *rl, int64_t now, int64_t sent_at,
                         int throttled, int64_t retry_after_us);

/* The rate the limiter sends at now, req/s; 0 = unlimited. */
double ab_ratelimit_rate(const struct ab_ratelimit *rl);

/* No send before this time (a throttle pause); <= now when not paused. */
int64_t ab_ratelimit_paused_until(const struct ab_ratelimit *rl);

#endif
