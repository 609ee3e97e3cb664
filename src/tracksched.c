#include "tracksched.h"

#define MIN_LATER_MS 1000

void ab_tracksched_defaults(struct ab_tracksched *p)
{
    p->first_ms = AB_TRACKSCHED_FIRST_MS;
    p->max_ms = AB_TRACKSCHED_MAX_MS;
}

int64_t ab_tracksched_delay(const struct ab_tracksched *p, int checks)
{
    int64_t d = p->first_ms, cap = p->max_ms;
    int i;

    if (checks <= 0)
        return d < 0 ? 0 : d;
    if (d < MIN_LATER_MS)
        d = MIN_LATER_MS;
    if (cap < d)
        cap = d;
    /* Doubling stops at the cap, so this never overflows. */
    for (i = 0; i < checks && d < cap; i++)
        d *= 2;
    return d < cap ? d : cap;
}

int ab_tracksched_final(enum ab_auth a)
{
    return a == AB_AUTH_AUTHENTICATED || a == AB_AUTH_REJECTED ||
           a == AB_AUTH_EXPIRED;
}

int64_t ab_tracksched_next(const struct ab_tracksched *p, int checks,
                           enum ab_auth a, int64_t now_ms)
{
    if (ab_tracksched_final(a))
        return 0;
    return now_ms + ab_tracksched_delay(p, checks);
}
