/* ratelimit.h - how fast the dispatcher may send: a ceiling (--rate) and
 * the rate the server is found to accept beneath it (SPEC §4, issue 11).
 *
 * Pure: time is passed in (microseconds, any monotonic origin); no clock, no
 * I/O, no randomness. Sends are spaced by GCRA (one "theoretical arrival
 * time"); the limiter starts with one token, never a full bucket, so a run
 * never opens with a burst. A send that starts a little after its slot (the
 * caller's timer has millisecond granularity) is charged at its slot, so
 * the average is the configured rate and no second holds more than
 * rate + burst sends.
 *
 * The vendor publishes no limit, so the limiter finds one and holds just
 * beneath it: it converges on a rate, not on a window of requests in
 * flight. It keeps an estimate of the server's limit (req/s) and, for the
 * last 5 s, how many requests went out per 10 ms of send time and how many
 * of those came back throttled. Phases:
 *
 *   start   no throttle seen: send at the ceiling (or without a limit);
 *   cruise  send at 0.98 of the estimate (the ceiling once a probe went
 *           through clean at it) for a hold time: 4 s after the estimate
 *           moved, doubling up to 16 s while probes find nothing new;
 *   probe   raise the rate to the estimate + 3 % for two seconds (so that
 *           one whole server window is at the new rate), then + 6 %,
 *           + 12 %, ... a second each, while each step goes through clean
 *           and the sends reached 0.9 of the rate (so a bound set by the
 *           concurrency cap with slow answers, or an empty queue, is never
 *           taken for headroom: the probe ends there).
 *
 * A throttle starts an episode; its answer says what the server accepted:
 * the requests sent in the second before the throttled one that did not
 * come back throttled (an upper bound of the limit: at a fixed window it
 * can hold the end of the window before). In a probe, the new estimate is
 * the last step that went through clean, or that accepted rate when lower.
 * Outside a probe the limit fell (or was never known): the estimate becomes
 * the accepted rate, at most the rate that was being sent, and at most
 * 0.9 of the old estimate, then 0.81, 0.66, 0.43 of it while throttles go on
 * before a hold passes clean (one throttle per Retry-After pause says
 * little); after a probe that gained less than that (a token bucket's burst
 * pays for a step), back to where that probe started. Outside a probe, a
 * throttle without Retry-After counts only when throttles are in bulk: more
 * than 1 % and at least 3 of the sends of the last 4 s (a limit refuses
 * everything above it; a stray throttle, whatever its cause, is not a
 * limit, and cutting for it would only ratchet the rate down). Throttled
 * answers to requests sent within a second of the first one refine the
 * episode's estimate downwards only, never below half of it (or below the rate
 * known clean, after a probe), so a burst of throttles cannot collapse the
 * rate; a later throttle starts a new episode. A Retry-After pauses every send
 * at least that long (a lower bound); a throttle without one does not pause,
 * the cut is enough.
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

/* Earliest time a request may be sent (<= now: at once). Also moves the
 * limiter through its phases, so call it before every send. */
int64_t ab_ratelimit_next(struct ab_ratelimit *rl, int64_t now);

/* Records a send at now; call only when ab_ratelimit_next() <= now. */
void ab_ratelimit_take(struct ab_ratelimit *rl, int64_t now);

/* An answer from the server arrived at now to a request sent at sent_at
 * (every answer, throttled or not; not transport failures, which say
 * nothing about the limit). throttled: the server asked us to slow down;
 * retry_after_us: its Retry-After in microseconds (0 when none; the pause
 * lasts at least that long). */
void ab_ratelimit_answer(struct ab_ratelimit *rl, int64_t now, int64_t sent_at,
                         int throttled, int64_t retry_after_us);

/* The rate the limiter sends at now, req/s; 0 = unlimited. */
double ab_ratelimit_rate(const struct ab_ratelimit *rl);

/* No send before this time (a throttle pause); <= now when not paused. */
int64_t ab_ratelimit_paused_until(const struct ab_ratelimit *rl);

/* For logs and metrics. */
enum ab_ratelimit_phase {
    AB_RATELIMIT_START = 0, /* no throttle seen yet */
    AB_RATELIMIT_CRUISE,    /* holding beneath the estimated limit */
    AB_RATELIMIT_PROBE      /* looking for a higher limit */
};

struct ab_ratelimit_stats {
    enum ab_ratelimit_phase phase;
    double rate;        /* as ab_ratelimit_rate() */
    double estimate;    /* the server's estimated limit, req/s; 0 = none */
    int64_t answers;    /* answers seen (throttled included) */
    int64_t throttled;  /* of which throttled */
    int64_t episodes;   /* throttle episodes (each cut the rate once) */
    int64_t probes;     /* probes started */
    int64_t latency_us; /* smoothed answer latency */
};

/* Fills *out; never fails. */
void ab_ratelimit_stats(const struct ab_ratelimit *rl,
                        struct ab_ratelimit_stats *out);

/* "start", "cruise" or "probe". */
const char *ab_ratelimit_phase_name(enum ab_ratelimit_phase phase);

#endif
