#include "ratelimit.h"

#define US_PER_S 1000000.0
#define MIN_RATE 0.1 /* never slow down below one request per 10 s */

static int64_t interval(const struct ab_ratelimit *rl)
{
    return (int64_t)(US_PER_S / rl->rate);
}

void ab_ratelimit_init(struct ab_ratelimit *rl, double rate, int burst,
                       int64_t now)
{
    rl->target = rate > 0 ? rate : 0;
    rl->rate = rl->target;
    rl->ceiling = rl->target;
    rl->burst = burst >= 1 ? burst : 1;
    /* One token, not a full bucket: TAT sits burst-1 intervals ahead. */
    rl->tat = rl->rate > 0 ? now + (rl->burst - 1) * interval(rl) : now;
    rl->paused_until = now;
    rl->last_step = now;
}

/* Climbs back towards the target: one tenth of it per second since the last
 * step, once the pause is over. */
static void recover(struct ab_ratelimit *rl, int64_t now)
{
    double step, secs;

    if (rl->rate == rl->target || now < rl->paused_until)
        return;
    secs = (double)(now - rl->last_step) / US_PER_S;
    if (secs < 1.0)
        return;
    step = rl->ceiling / 10.0;
    if (step < MIN_RATE)
        step = MIN_RATE;
    rl->rate += step * (double)(int64_t)secs;
    rl->last_step += (int64_t)secs * (int64_t)US_PER_S;
    if (rl->rate >= rl->ceiling)
        rl->rate = rl->target; /* the configured rate, or unlimited again */
}

int64_t ab_ratelimit_next(struct ab_ratelimit *rl, int64_t now)
{
    int64_t t;

    recover(rl, now);
    t = rl->paused_until;
    if (rl->rate > 0) {
        int64_t allowed = rl->tat - (rl->burst - 1) * interval(rl);
        if (allowed > t)
            t = allowed;
    }
    return t;
}

void ab_ratelimit_take(struct ab_ratelimit *rl, int64_t now)
{
    if (rl->rate <= 0) {
        rl->tat = now;
        return;
    }
    rl->tat = (rl->tat > now ? rl->tat : now) + interval(rl);
}

void ab_ratelimit_throttle(struct ab_ratelimit *rl, int64_t now, int64_t until,
                           double observed_rate)
{
    double base = rl->rate > 0 ? rl->rate : observed_rate;

    if (base <= 0)
        base = 2 * MIN_RATE;
    if (rl->target == 0 && (rl->rate == 0 || base > rl->ceiling))
        rl->ceiling = base;
    if (until > rl->paused_until)
        rl->paused_until = until;
    rl->rate = base / 2 > MIN_RATE ? base / 2 : MIN_RATE;
    rl->last_step = rl->paused_until > now ? rl->paused_until : now;
    /* Start again from one token after the pause. */
    rl->tat = rl->paused_until + (rl->burst - 1) * interval(rl);
}
