#include "ratelimit.h"

#include <stdlib.h>

#define US_PER_S 1000000LL
#define MIN_RATE 0.1 /* never slow down below one request per 10 s */

/* What the limiter remembers of recent sends: per 10 ms of send time, how
 * many went out and how many of those came back throttled. 5.12 s of it,
 * enough to look one second back from a request answered 4 s late. */
#define BUCKET_US 10000LL
#define NBUCKETS 512
#define WINDOW_US US_PER_S /* the server's window, as the limiter assumes */
#define WINDOW_BUCKETS (WINDOW_US / BUCKET_US)

#define MARGIN 0.98     /* cruise at this share of the estimated limit */
#define PROBE_STEP 0.03 /* the first probe step above it; doubles each step */
#define PROBE_MAX_STEPS 30
#define HOLD_MIN_US (4 * US_PER_S)  /* cruise after the estimate moved */
#define HOLD_MAX_US (16 * US_PER_S) /* cruise while probes find nothing new */
/* Throttles of requests sent this soon after the first one of an episode
 * belong to it. */
#define EPISODE_US US_PER_S
#define FALL 0.9    /* a throttle outside a probe: at most this share */
#define FLOOR 0.5   /* an episode never refines below this share of its start */
#define GUESS 0.25  /* a throttle in the first window: at least this share */
#define BOUND 0.9   /* a probe step counts only if sends reached this share */
#define SAME 1.05   /* a failed probe found at most this much: no new limit */
#define NOISE 0.01  /* a share of throttles this small is not a limit... */
#define NOISE_MIN 3 /* ...nor fewer throttles than this... */
#define NOISE_US (4 * US_PER_S) /* ...among the sends of this long */

struct bucket {
    int64_t id; /* send time / BUCKET_US */
    int32_t sent;
    int32_t throttled;
};

struct ab_ratelimit {
    double ceiling;  /* configured rate, req/s; 0 = none */
    double rate;     /* current rate, req/s; 0 = unlimited */
    double estimate; /* the server's limit as estimated, req/s; 0 = unknown */
    int burst;       /* >= 1 */
    enum ab_ratelimit_phase phase;
    int64_t tat;          /* theoretical arrival time, us */
    int64_t paused_until; /* no send before this, us */
    int64_t phase_since;  /* cruise start, or the current probe step's */
    int64_t hold;         /* how long to cruise before probing, us */
    double probe_base;    /* the estimate when the probe started */
    double probe_clean;   /* highest rate known clean: the probe's base, or
                             the last step that went through clean */
    int probe_step;
    int falls;           /* cuts outside a probe since the last clean hold */
    int at_ceiling;      /* a probe went through clean at the ceiling */
    int64_t hold_before; /* the hold before the last probe ended */
    double prior;        /* the estimate before the last probe raised it; 0 when
                            that probe raised nothing, or a throttle settled it */
    int ep_active;       /* an episode has started (ep_sent is set) */
    int64_t ep_sent;     /* send time of the request that started it */
    double ep_floor;     /* its refinements stay at or above this */
    int64_t srtt;        /* smoothed answer latency, us */
    int64_t first_sent;  /* the first send, us; INT64_MIN before it */
    int64_t answers, throttled, episodes, probes;
    int64_t top; /* highest bucket id in the ring */
    struct bucket ring[NBUCKETS];
};

static int64_t interval_of(double rate)
{
    return (int64_t)((double)US_PER_S / rate);
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

struct ab_ratelimit *ab_ratelimit_new(double ceiling, int burst, int64_t now)
{
    struct ab_ratelimit *rl = calloc(1, sizeof *rl);
    int i;

    if (!rl)
        return NULL;
    rl->ceiling = ceiling > 0 ? ceiling : 0;
    rl->rate = rl->ceiling;
    rl->burst = burst >= 1 ? burst : 1;
    rl->phase = AB_RATELIMIT_START;
    /* One token, not a full bucket: TAT sits burst-1 intervals ahead. */
    rl->tat =
        rl->rate > 0 ? now + (rl->burst - 1) * interval_of(rl->rate) : now;
    rl->paused_until = now;
    rl->first_sent = INT64_MIN;
    rl->phase_since = now;
    rl->hold = HOLD_MIN_US;
    rl->top = floor_div(now, BUCKET_US);
    for (i = 0; i < NBUCKETS; i++)
        rl->ring[i].id = INT64_MIN;
    return rl;
}

void ab_ratelimit_free(struct ab_ratelimit *rl)
{
    free(rl);
}

/* ---- the record of recent sends ------------------------------------ */

/* The bucket for send time t, emptied if it held an older one; NULL when t
 * is older than the ring remembers. */
static struct bucket *bucket_at(struct ab_ratelimit *rl, int64_t t)
{
    int64_t id = floor_div(t, BUCKET_US);
    struct bucket *b = &rl->ring[((id % NBUCKETS) + NBUCKETS) % NBUCKETS];

    if (id > rl->top)
        rl->top = id;
    if (id <= rl->top - NBUCKETS || b->id > id)
        return NULL;
    if (b->id != id) {
        b->id = id;
        b->sent = 0;
        b->throttled = 0;
    }
    return b;
}

/* Sends and throttles of the buckets first..last (ids); -1 when the ring no
 * longer holds all of them. */
static int sum_buckets(const struct ab_ratelimit *rl, int64_t first,
                       int64_t last, int64_t *sent, int64_t *throttled)
{
    int64_t id;

    *sent = 0;
    *throttled = 0;
    if (first <= rl->top - NBUCKETS)
        return -1;
    for (id = first; id <= last; id++) {
        const struct bucket *b =
            &rl->ring[((id % NBUCKETS) + NBUCKETS) % NBUCKETS];
        if (b->id == id) {
            *sent += b->sent;
            *throttled += b->throttled;
        }
    }
    return 0;
}

/* What the server accepted in the window up to send time s: the requests
 * sent then that did not come back throttled (those still unanswered are
 * taken as accepted). One bucket more than the window, so that all of it is
 * covered. -1 when that is no longer known. */
static double accepted_before(const struct ab_ratelimit *rl, int64_t s)
{
    int64_t last = floor_div(s, BUCKET_US), sent, thr;

    if (sum_buckets(rl, last - WINDOW_BUCKETS, last, &sent, &thr) != 0)
        return -1;
    if (thr > sent)
        thr = sent;
    return (double)(sent - thr) * ((double)US_PER_S / (double)WINDOW_US);
}

/* Whether the throttles among the sends of the last NOISE_US look like a
 * limit (more than 1 %, and at least 3) rather than stray ones. */
static int throttled_in_bulk(const struct ab_ratelimit *rl, int64_t now)
{
    int64_t sent, thr;

    if (sum_buckets(rl, floor_div(now - NOISE_US, BUCKET_US),
                    floor_div(now, BUCKET_US), &sent, &thr) != 0)
        return 1;
    return thr >= NOISE_MIN && (double)thr > NOISE * (double)sent;
}

/* Sends per second from `from` to now, or -1 when not known. */
static double sent_rate(const struct ab_ratelimit *rl, int64_t from,
                        int64_t now)
{
    int64_t sent, thr;

    if (now <= from || sum_buckets(rl, floor_div(from, BUCKET_US),
                                   floor_div(now, BUCKET_US), &sent, &thr) != 0)
        return -1;
    return (double)sent * (double)US_PER_S / (double)(now - from);
}

/* ---- rates and phases ---------------------------------------------- */

static void set_rate(struct ab_ratelimit *rl, int64_t now, double rate)
{
    double old = rl->rate;

    if (rate < MIN_RATE)
        rate = MIN_RATE;
    if (rl->ceiling > 0 && rate > rl->ceiling)
        rate = rl->ceiling;
    if (rate == old)
        return;
    rl->rate = rate;
    if (old <= 0 || rate < old) {
        /* Slower (or limited for the first time): one token from now or the
         * end of the pause, never earlier than already promised. */
        int64_t t =
            max64(now, rl->paused_until) + (rl->burst - 1) * interval_of(rate);
        rl->tat = old <= 0 ? t : max64(rl->tat, t);
    }
}

/* The rate to cruise at with the current estimate. */
static double cruise_rate(const struct ab_ratelimit *rl)
{
    if (rl->at_ceiling)
        return rl->ceiling;
    return MARGIN * rl->estimate;
}

static double probe_rate(const struct ab_ratelimit *rl)
{
    double step = PROBE_STEP;
    int k;

    for (k = 0; k < rl->probe_step; k++)
        step *= 2;
    return rl->probe_base * (1.0 + step);
}

/* A probe ends: remember what the estimate was if it raised it (a step
 * that a token bucket's burst paid for looks clean too); a probe that found
 * nothing keeps what an earlier one remembered. */
static void end_probe(struct ab_ratelimit *rl)
{
    if (rl->estimate > rl->probe_base)
        rl->prior = rl->probe_base;
}

static void cruise(struct ab_ratelimit *rl, int64_t now)
{
    rl->phase = AB_RATELIMIT_CRUISE;
    rl->phase_since = max64(now, rl->paused_until);
    set_rate(rl, now, cruise_rate(rl));
}

/* Time-driven moves: cruise -> probe after the hold; probe -> next step
 * after a clean second, or back to cruise. */
static void advance(struct ab_ratelimit *rl, int64_t now)
{
    int64_t step_len;
    double achieved;

    if (now < rl->paused_until)
        return;
    if (rl->phase == AB_RATELIMIT_CRUISE) {
        if (rl->at_ceiling)
            return; /* at the ceiling: nothing to look for */
        if (now - rl->phase_since < rl->hold)
            return;
        rl->phase = AB_RATELIMIT_PROBE;
        rl->probes++;
        rl->falls = 0;
        rl->probe_base = rl->estimate;
        rl->probe_clean = rl->estimate;
        rl->hold_before = rl->hold;
        rl->probe_step = 0;
        rl->phase_since = now;
        set_rate(rl, now, probe_rate(rl));
        return;
    }
    if (rl->phase != AB_RATELIMIT_PROBE)
        return;
    /* The first step spans two server windows, so that one of them is
     * wholly at the new rate: a step is clean only if a whole window was. */
    step_len = (rl->probe_step == 0 ? 2 : 1) * WINDOW_US +
               (rl->srtt < WINDOW_US ? rl->srtt : WINDOW_US);
    if (now - rl->phase_since < step_len)
        return;
    achieved = sent_rate(rl, rl->phase_since, now);
    if (achieved < BOUND * rl->rate) {
        /* Something else bounds the sends (the concurrency cap with slow
         * answers, an empty queue): a higher rate would prove nothing. */
        rl->estimate = rl->probe_clean;
        end_probe(rl);
        cruise(rl, now);
        return;
    }
    rl->probe_clean = rl->rate;
    if (rl->ceiling > 0 && rl->rate >= rl->ceiling) {
        rl->estimate = rl->ceiling;
        rl->at_ceiling = 1;
        end_probe(rl);
        cruise(rl, now);
        return;
    }
    if (rl->probe_step < PROBE_MAX_STEPS)
        rl->probe_step++;
    rl->phase_since = now;
    set_rate(rl, now, probe_rate(rl));
}

int64_t ab_ratelimit_next(struct ab_ratelimit *rl, int64_t now)
{
    int64_t t;

    advance(rl, now);
    t = rl->paused_until;
    if (rl->rate > 0) {
        int64_t allowed = rl->tat - (rl->burst - 1) * interval_of(rl->rate);
        if (allowed > t)
            t = allowed;
    }
    return t;
}

void ab_ratelimit_take(struct ab_ratelimit *rl, int64_t now)
{
    struct bucket *b = bucket_at(rl, now);
    int64_t at = now, next, slack, iv;

    if (b)
        b->sent++;
    if (rl->first_sent == INT64_MIN)
        rl->first_sent = now;
    if (rl->rate <= 0) {
        rl->tat = now;
        return;
    }
    iv = interval_of(rl->rate);
    /* A send up to 0.9 of an interval (at most 10 ms) after its slot is
     * charged at the slot: timer lateness must not slow the average. A
     * longer delay (idle, waiting for answers) is not credited, so no burst
     * builds up. */
    next = rl->tat - (rl->burst - 1) * iv;
    if (next < now) {
        slack = (int64_t)(0.9 * (double)US_PER_S / rl->rate);
        if (slack > 10000)
            slack = 10000;
        if (now - next <= slack)
            at = next;
    }
    rl->tat = (rl->tat > at ? rl->tat : at) + iv;
}

static void pause_until(struct ab_ratelimit *rl, int64_t until)
{
    if (until <= rl->paused_until)
        return;
    rl->paused_until = until;
    /* Start again from one token after the pause. */
    if (rl->rate > 0)
        rl->tat =
            max64(rl->tat, until + (rl->burst - 1) * interval_of(rl->rate));
}

/* A throttle that starts an episode: the one cut it makes. est is what the
 * server accepted in the second before (-1: not known). */
static void start_episode(struct ab_ratelimit *rl, int64_t now, int64_t sent_at,
                          double est)
{
    double e, old = rl->estimate;

    rl->episodes++;
    rl->ep_active = 1;
    rl->ep_sent = sent_at;
    rl->at_ceiling = 0;
    if (rl->phase == AB_RATELIMIT_PROBE) {
        /* The last step that went through clean is what the server is
         * known to take (the estimate itself when none did); what it
         * accepted in the second before is an upper bound (at a fixed
         * window it includes the end of the window before). */
        e = rl->probe_clean;
        if (est >= 0 && est < e)
            e = est;
        if (e <= rl->probe_base * SAME)
            rl->hold = rl->hold * 2 < HOLD_MAX_US ? rl->hold * 2 : HOLD_MAX_US;
        else
            rl->hold = HOLD_MIN_US;
        rl->ep_floor = e;
        rl->estimate = e;
        end_probe(rl);
    } else {
        /* Not looking for more, yet throttled: the limit fell, the last
         * probe's gain was a burst the server allowed, or it was never
         * known. What it accepted, and no more than before that probe, or
         * at least a tenth less than before. */
        if (est >= 0)
            e = est;
        else if (old > 0)
            e = FALL * old;
        else
            e = MIN_RATE;
        /* It was sending at rate; the limit is below that. */
        if (rl->rate > 0 && e > rl->rate)
            e = rl->rate;
        rl->hold = HOLD_MIN_US;
        if (old > 0) {
            /* 0.9, then 0.81, 0.66, 0.43 while the throttles go on before
             * a hold passes clean (with a Retry-After there is one
             * throttle per pause, and its second may hold the end of the
             * server's window before: the estimate alone would stay).
             * After a probe that gained less than that, back to where it
             * started, and that probe found nothing: the hold stays. */
            double f = FALL, cap;
            int k;
            for (k = 0; k < rl->falls && k < 4; k++)
                f *= f;
            cap = f * old;
            if (rl->prior > cap) {
                cap = rl->prior;
                rl->hold = rl->hold_before;
            }
            if (e > cap)
                e = cap;
            rl->falls++;
        }
        rl->prior = 0;
        rl->ep_floor = FLOOR * e;
    }
    if (e < MIN_RATE)
        e = MIN_RATE;
    rl->estimate = e;
    cruise(rl, now);
}

void ab_ratelimit_answer(struct ab_ratelimit *rl, int64_t now, int64_t sent_at,
                         int throttled, int64_t retry_after_us)
{
    struct bucket *b;
    double est;

    if (sent_at > now)
        sent_at = now;
    rl->answers++;
    rl->srtt = rl->answers == 1 ? now - sent_at
                                : rl->srtt + (now - sent_at - rl->srtt) / 8;
    if (!throttled)
        return;
    rl->throttled++;
    if ((b = bucket_at(rl, sent_at)) != NULL)
        b->throttled++;
    if (retry_after_us > 0)
        pause_until(rl, now + retry_after_us);
    est = accepted_before(rl, sent_at);
    if (est >= 0 &&
        (rl->first_sent == INT64_MIN || sent_at - rl->first_sent < WINDOW_US)) {
        /* Not a whole window of sending behind it: what was accepted is
         * a lower bound of the limit. Alone at the server it is the limit
         * already (the window filled); but others may have filled it (runs
         * sharing the App, another tool), and a first answer throttled
         * would then read as a limit of 0. At least a share of the rate
         * it was sending at. */
        double guess = GUESS * rl->rate;
        if (guess > est)
            est = guess;
    }
    if (retry_after_us <= 0 && rl->phase != AB_RATELIMIT_PROBE &&
        !(rl->ep_active && sent_at < rl->ep_sent + EPISODE_US) &&
        !throttled_in_bulk(rl, now))
        return; /* a stray throttle, not a limit: a limit refuses in bulk */
    if (rl->ep_active && sent_at < rl->ep_sent + EPISODE_US) {
        /* More of the same episode (the burst of answers to requests sent
         * before its cut, or the rest of a server window that was already
         * full): it may only show that the limit is lower. */
        if (est >= 0) {
            if (est < rl->ep_floor)
                est = rl->ep_floor;
            if (est < rl->estimate) {
                rl->estimate = est;
                if (cruise_rate(rl) < rl->rate)
                    set_rate(rl, now, cruise_rate(rl));
            }
        }
        return;
    }
    start_episode(rl, now, sent_at, est);
}

void ab_ratelimit_set_ceiling(struct ab_ratelimit *rl, double ceiling,
                              int64_t now)
{
    double old = rl->ceiling;

    ceiling = ceiling > 0 ? ceiling : 0;
    if (ceiling == old)
        return;
    rl->ceiling = ceiling;
    if (ceiling <= 0) {
        rl->at_ceiling = 0;
        if (rl->phase == AB_RATELIMIT_START) {
            rl->rate = 0;
            return;
        }
    } else if (rl->estimate >= ceiling) {
        rl->at_ceiling = 1; /* the server took more than this */
    } else if (old > 0 && ceiling > old) {
        rl->at_ceiling = 0; /* room above: probe again after a hold */
    }
    switch (rl->phase) {
    case AB_RATELIMIT_START:
        set_rate(rl, now, ceiling);
        break;
    case AB_RATELIMIT_CRUISE:
        set_rate(rl, now, cruise_rate(rl));
        break;
    case AB_RATELIMIT_PROBE:
        set_rate(rl, now, probe_rate(rl));
        break;
    }
}

double ab_ratelimit_rate(const struct ab_ratelimit *rl)
{
    return rl->rate;
}

int64_t ab_ratelimit_paused_until(const struct ab_ratelimit *rl)
{
    return rl->paused_until;
}

void ab_ratelimit_stats(const struct ab_ratelimit *rl,
                        struct ab_ratelimit_stats *out)
{
    out->phase = rl->phase;
    out->rate = rl->rate;
    out->estimate = rl->estimate;
    out->answers = rl->answers;
    out->throttled = rl->throttled;
    out->episodes = rl->episodes;
    out->probes = rl->probes;
    out->latency_us = rl->srtt;
}

const char *ab_ratelimit_phase_name(enum ab_ratelimit_phase phase)
{
    switch (phase) {
    case AB_RATELIMIT_START:
        return "start";
    case AB_RATELIMIT_CRUISE:
        return "cruise";
    case AB_RATELIMIT_PROBE:
        return "probe";
    }
    return "?";
}
