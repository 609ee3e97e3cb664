/* retry.h - when to try a company again. Pure; randomness passed in.
 *
 * Capped full-jitter exponential backoff (AWS "Exponential Backoff And
 * Jitter"): delay = u * min(max_ms, base_ms * 2^(attempt-1)), u in [0,1),
 * and a server's Retry-After is a lower bound on the result.
 *
 * A transient answer ends the company's tries after max_attempts attempts;
 * a throttled one (the vendor is busy, the company is not at fault) after
 * AB_RETRY_THROTTLE_FACTOR times as many, so a quota storm slows the run
 * down (the dispatcher pauses and halves its rate) rather than failing good
 * companies.
 */
#ifndef AB_RETRY_H
#define AB_RETRY_H

#include <stdint.h>

#include "outcome.h"

#define AB_RETRY_THROTTLE_FACTOR 10

struct ab_retry_policy {
    int max_attempts; /* attempts per company, >= 1 */
    int64_t base_ms;  /* first backoff ceiling */
    int64_t max_ms;   /* cap on the backoff ceiling */
};

enum ab_retry_verdict {
    AB_RETRY_FINAL,   /* outcome is final for the company */
    AB_RETRY_LATER,   /* try again after *delay_ms */
    AB_RETRY_GIVE_UP, /* retryable, but the attempts are used up */
    AB_RETRY_STOP,    /* fatal: stop the run, leave the company pending */
};

/* attempts: attempts made so far including this one (>= 1).
 * retry_after_ms: the server's Retry-After in ms, or 0.
 * u: a uniform random number in [0, 1). */
enum ab_retry_verdict ab_retry_decide(const struct ab_retry_policy *p,
                                      enum ab_outcome o, int attempts,
                                      int64_t retry_after_ms, double u,
                                      int64_t *delay_ms);

#endif
