#include "retry.h"

enum ab_retry_verdict ab_retry_decide(const struct ab_retry_policy *p,
                                      enum ab_outcome o, int attempts,
                                      int64_t retry_after_ms, double u,
                                      int64_t *delay_ms)
{
    int64_t ceiling;
    int shift;

    *delay_ms = 0;
    switch (o) {
    case AB_OUT_ISSUED:
    case AB_OUT_ALREADY_AUTHED:
    case AB_OUT_REJECTED:
        return AB_RETRY_FINAL;
    case AB_OUT_FATAL:
        return AB_RETRY_STOP;
    case AB_OUT_THROTTLED:
    case AB_OUT_TRANSIENT:
    case AB_OUT__COUNT:
        break;
    }
    /* Throttling says the vendor is busy, not that the company is bad: it
     * gets AB_RETRY_THROTTLE_FACTOR times the attempts before giving up. */
    if (attempts >= (o == AB_OUT_THROTTLED
                         ? p->max_attempts * AB_RETRY_THROTTLE_FACTOR
                         : p->max_attempts))
        return AB_RETRY_GIVE_UP;
    shift = attempts - 1 < 30 ? attempts - 1 : 30;
    ceiling = p->base_ms << shift;
    if (ceiling > p->max_ms || ceiling < 0)
        ceiling = p->max_ms;
    *delay_ms = (int64_t)(u * (double)ceiling);
    if (*delay_ms < retry_after_ms)
        *delay_ms = retry_after_ms;
    return AB_RETRY_LATER;
}
