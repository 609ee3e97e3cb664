#include "ratelimit.h"

#include <stdlib.h>

#define US_PER_S 1000000.0
#define MIN_RATE 0.1 /* never slow down below one request per 10 s */
#define RATE_SLOTS 5 /* seconds of sends behind the observed rate */

struct ab_ratelimit {
    double target;             /* configured rate, req/s; 0 = unlimited */
    double rate;               /* current rate, req/s; 0 = unlimited */
    double ceiling;            /* where climbing stops: target, or the observed
                                  rate when an unlimited limiter was throttled */
    int burst;                 /* >= 1 */
    int64_t tat;               /* theoretical arrival time, us */
    int64_t paused_until;      /* no send before this, us */
    int64_t last_step;         /* when the rate last climbed (or was cut), us */
    int64_t last_cut;          /* when the rate was last cut, us */
    int64_t started;           /* creation time, us */
    int64_t sends[RATE_SLOTS]; /* sends per whole second, a ring */
    int64_t slot_sec;          /* the second sends[slot_sec % N] counts */
};

static int64_t interval(const struct ab_ratelimit *rl)
{
    return (int64_t)(US_PER_S / rl->rate);
}

struct ab_ratelimit *ab_ratelimit_new(double ceiling, int burst, int64_t now)
{
    struct ab_ratelimit *rl = calloc(1, sizeof *rl);

    if (!rl)
        return NULL;
    rl->target = ceiling > 0 ? ceiling : 0;
    rl->rate = rl->target;
    rl->ceiling = rl->target;
    rl->burst = burst >= 1 ? burst : 1;
    /* One token, not a full bucket: TAT sits burst-1 intervals ahead. */
    rl->tat = rl->rate > 0 ? now + (rl->burst - 1) * interval(rl) : now;
    rl->paused_until = now;
    rl->last_step = now;
    rl->last_cut = now - 1;
    rl->started = now;
    rl->slot_sec = now / (int64_t)US_PER_S;
    return rl;
}

void ab_ratelimit_free(struct ab_ratelimit *rl)
{
    free(rl);
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

static void count_send(struct ab_ratelimit *rl, int64_t now)
{
    int64_t sec = now / (int64_t)US_PER_S;

    while (rl->slot_sec < sec) {
        rl->slot_sec++;
        rl->sends[rl->slot_sec % RATE_SLOTS] = 0;
    }
    rl->sends[sec % RATE_SLOTS]++;
}

/* Sends per second over the last few seconds (at least one second). */
static double observed(const struct ab_ratelimit *rl, int64_t now)
{
    int64_t sum = 0, sec = now / (int64_t)US_PER_S;
    double span = (double)(now - rl->started) / US_PER_S;
    int i;

    for (i = 0; i < RATE_SLOTS; i++) {
        int64_t s = sec - i;
        if (s <= rl->slot_sec && s > rl->slot_sec - RATE_SLOTS)
            sum += rl->sends[s % RATE_SLOTS];
    }
    if (span > RATE_SLOTS)
        span = RATE_SLOTS;
    if (span < 1.0)
        span = 1.0;
    return (double)sum / span;
}

void ab_ratelimit_take(struct ab_ratelimit *rl, int64_t now)
{
    int64_t at = now, next, slack;

    count_send(rl, now);
    if (rl->rate <= 0) {
        rl->tat = now;
        return;
    }
    /* A send up to 0.9 of an interval (at most 10 ms) after its slot is
     * charged at the slot: timer lateness must not slow the average. A
     * longer delay (idle, waiting for answers) is not credited, so no burst
     * builds up. */
    next = rl->tat - (rl->burst - 1) * interval(rl);
    if (next < now) {
        slack = (int64_t)(0.9 * US_PER_S / rl->rate);
        if (slack > 10000)
            slack = 10000;
        if (now - next <= slack)
            at = next;
    }
    rl->tat = (rl->tat > at ? rl->tat : at) + interval(rl);
}

void ab_ratelimit_answer(struct ab_ratelimit *rl, int64_t now, int64_t sent_at,
                         int throttled, int64_t retry_after_us)
{
    int64_t until;
    double base;

    if (!throttled)
        return;
    until = now + (retry_after_us > 0 ? retry_after_us : (int64_t)US_PER_S);
    /* Cut once per signal: answers to requests sent before the last cut
     * say nothing new about the rate. */
    if (sent_at < rl->last_cut) {
        if (until > rl->paused_until)
            rl->paused_until = until;
        return;
    }
    rl->last_cut = now;
    base = rl->rate > 0 ? rl->rate : observed(rl, now);
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

double ab_ratelimit_rate(const struct ab_ratelimit *rl)
{
    return rl->rate;
}

int64_t ab_ratelimit_paused_until(const struct ab_ratelimit *rl)
{
    return rl->paused_until;
}
