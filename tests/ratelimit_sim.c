/* ratelimit_sim.c - see ratelimit_sim.h. */
#include "ratelimit_sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"

#define S 1000000LL
#define T0 (1000 * S) /* the fake clock's origin: any monotonic value */
#define MAX_FLIGHTS 1024
#define LOG_CAP (1 << 17) /* sliding window log: arrivals in one second */

struct flight {
    int64_t due;
    int64_t sent;
    int throttled;
};

struct server {
    const struct sim_config *cfg;
    int64_t window; /* fixed: the current window's number */
    int64_t count;  /* fixed: requests counted in it */
    int64_t *log;   /* sliding: times counted, a ring */
    size_t head, n;
    double tokens; /* bucket */
    int64_t last;  /* bucket: last refill */
};

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s)
{
    return (double)(splitmix(s) >> 11) / 9007199254740992.0;
}

static double stepped(double first, const struct sim_step *st, size_t n,
                      int64_t t)
{
    double v = first;
    size_t i;

    for (i = 0; i < n; i++)
        if (t - T0 >= (int64_t)(st[i].at_s * (double)S))
            v = st[i].value;
    return v;
}

static double limit_at(const struct sim_config *c, int64_t t)
{
    return stepped(c->limit, c->limits, c->nlimits, t);
}

/* 1 = accepted, 0 = throttled. */
static int server_admit(struct server *sv, int64_t t)
{
    const struct sim_config *c = sv->cfg;
    double lim = limit_at(c, t);
    int64_t cap = (int64_t)lim;

    switch (c->server) {
    case SIM_FIXED: {
        int64_t w = (t - T0 + (int64_t)(c->phase_ms * 1000.0)) / S;
        if (w != sv->window) {
            sv->window = w;
            sv->count = 0;
        }
        if (sv->count >= cap) {
            if (c->count_arrivals)
                sv->count++;
            return 0;
        }
        sv->count++;
        return 1;
    }
    case SIM_SLIDING: {
        int ok;
        while (sv->n > 0 && sv->log[sv->head] <= t - S) {
            sv->head = (sv->head + 1) % LOG_CAP;
            sv->n--;
        }
        ok = (int64_t)sv->n < cap;
        if ((ok || c->count_arrivals) && sv->n < LOG_CAP) {
            sv->log[(sv->head + sv->n) % LOG_CAP] = t;
            sv->n++;
        }
        return ok;
    }
    case SIM_BUCKET: {
        double depth = c->bucket > 0 ? c->bucket : lim / 10;
        if (depth < 1)
            depth = 1;
        sv->tokens += lim * (double)(t - sv->last) / (double)S;
        sv->last = t;
        if (sv->tokens > depth)
            sv->tokens = depth;
        if (sv->tokens >= 1) {
            sv->tokens -= 1;
            return 1;
        }
        return 0;
    }
    }
    return 1;
}

struct client {
    const struct sim_config *cfg;
    struct sim_result *out;
    struct ab_ratelimit *rl;
    struct server sv;
    struct flight fl[MAX_FLIGHTS];
    int nfl;
    int64_t timer; /* -1: not armed */
    int64_t no_send_before;
    uint64_t rng;
};

static int sec_of(int64_t t)
{
    return (int)((t - T0) / S);
}

static void send_one(struct client *cl, int64_t t)
{
    const struct sim_config *c = cl->cfg;
    int ok = server_admit(&cl->sv, t);
    int sec = sec_of(t);
    double lat = stepped(c->latency_ms, c->latencies, c->nlatencies, t);
    struct flight *f = &cl->fl[cl->nfl++];

    if (ok && c->noise > 0 && unit(&cl->rng) < c->noise)
        ok = 0;
    if (t < cl->no_send_before)
        cl->out->pause_violations++;
    if (sec >= 0 && sec < SIM_MAX_SECS) {
        cl->out->sent[sec]++;
        if (ok)
            cl->out->accepted[sec]++;
        else
            cl->out->throttled[sec]++;
    }
    lat += c->jitter_ms * unit(&cl->rng);
    f->sent = t;
    f->due = t + (int64_t)(lat * 1000.0);
    if (f->due <= t)
        f->due = t + 50; /* loopback is never instant */
    f->throttled = !ok;
}

/* The dispatcher's pump(): send while a slot is free and the limiter
 * allows; otherwise arm the 1 ms timer for the limiter's time. */
static void pump(struct client *cl, int64_t t)
{
    int limit =
        cl->cfg->concurrency < MAX_FLIGHTS ? cl->cfg->concurrency : MAX_FLIGHTS;

    while (cl->nfl < limit) {
        int64_t next = ab_ratelimit_next(cl->rl, t);
        if (next > t) {
            int64_t ms = (next - t + 999) / 1000;
            cl->timer = t + ms * 1000 + (int64_t)(1000 * unit(&cl->rng));
            return;
        }
        ab_ratelimit_take(cl->rl, t);
        send_one(cl, t);
    }
}

static void answer_due(struct client *cl, int64_t t)
{
    const struct sim_config *c = cl->cfg;
    int64_t ra =
        c->signal == SIM_429
            ? (int64_t)((c->retry_after_s > 0 ? c->retry_after_s : 1.0) *
                        (double)S)
            : 0;

    for (;;) {
        int i, best = -1;
        struct flight f;
        int64_t dur_ms;

        for (i = 0; i < cl->nfl; i++)
            if (cl->fl[i].due <= t &&
                (best < 0 || cl->fl[i].due < cl->fl[best].due))
                best = i;
        if (best < 0)
            return;
        f = cl->fl[best];
        cl->fl[best] = cl->fl[--cl->nfl];
        /* The dispatcher knows the duration in whole milliseconds. */
        dur_ms = (t - f.sent) / 1000;
        ab_ratelimit_answer(cl->rl, t, t - dur_ms * 1000, f.throttled,
                            f.throttled ? ra : 0);
        if (f.throttled && ra > 0 && t + ra > cl->no_send_before)
            cl->no_send_before = t + ra;
    }
}

static void sample(struct client *cl, int sec)
{
    struct ab_ratelimit_stats st;

    if (sec < 0 || sec >= SIM_MAX_SECS)
        return;
    ab_ratelimit_stats(cl->rl, &st);
    cl->out->rate[sec] = st.rate;
    cl->out->estimate[sec] = st.estimate;
    cl->out->limit[sec] = limit_at(cl->cfg, T0 + (int64_t)sec * S + S - 1);
}

void sim_run(const struct sim_config *cfg, struct sim_result *out)
{
    struct client *cl = calloc(1, sizeof *cl);
    struct ab_ratelimit_stats st;
    int64_t end, t = T0;
    int done = 0, secs;

    memset(out, 0, sizeof *out);
    if (!cl)
        abort();
    secs = (int)cfg->secs;
    if (secs > SIM_MAX_SECS)
        secs = SIM_MAX_SECS;
    out->secs = secs;
    end = T0 + (int64_t)secs * S;
    cl->cfg = cfg;
    cl->out = out;
    cl->sv.cfg = cfg;
    cl->sv.window = -1;
    cl->sv.log = calloc(LOG_CAP, sizeof *cl->sv.log);
    cl->sv.last = T0;
    cl->sv.tokens = cfg->bucket > 0 ? cfg->bucket : cfg->limit / 10;
    cl->rng = cfg->seed ? cfg->seed : 1;
    cl->timer = -1;
    cl->rl =
        ab_ratelimit_new(cfg->ceiling, cfg->burst > 0 ? cfg->burst : 1, T0);
    if (!cl->rl || !cl->sv.log)
        abort();
    pump(cl, t);
    for (;;) {
        int64_t next = cl->timer;
        int i;
        for (i = 0; i < cl->nfl; i++)
            if (next < 0 || cl->fl[i].due < next)
                next = cl->fl[i].due;
        if (next < 0 || next >= end)
            break;
        t = next;
        while (done < secs && T0 + (int64_t)(done + 1) * S <= t)
            sample(cl, done++);
        if (cl->timer == t)
            cl->timer = -1;
        answer_due(cl, t);
        pump(cl, t);
    }
    while (done < secs)
        sample(cl, done++);
    ab_ratelimit_stats(cl->rl, &st);
    out->episodes = st.episodes;
    out->probes = st.probes;
    ab_ratelimit_free(cl->rl);
    free(cl->sv.log);
    free(cl);
}

static void clamp(const struct sim_result *r, int *from, int *to)
{
    if (*from < 0)
        *from = 0;
    if (*to > r->secs)
        *to = r->secs;
}

double sim_goodput(const struct sim_result *r, int from, int to)
{
    int64_t n = 0;
    int i;

    clamp(r, &from, &to);
    for (i = from; i < to; i++)
        n += r->accepted[i];
    return to > from ? (double)n / (to - from) : 0;
}

double sim_limit(const struct sim_result *r, int from, int to)
{
    double n = 0;
    int i;

    clamp(r, &from, &to);
    for (i = from; i < to; i++)
        n += r->limit[i];
    return to > from ? n / (to - from) : 0;
}

double sim_throttled_share(const struct sim_result *r, int from, int to)
{
    int64_t a = 0, t = 0;
    int i;

    clamp(r, &from, &to);
    for (i = from; i < to; i++) {
        a += r->accepted[i];
        t += r->throttled[i];
    }
    return a + t > 0 ? (double)t / (double)(a + t) : 0;
}

int64_t sim_max_sent(const struct sim_result *r, int from, int to)
{
    int64_t m = 0;
    int i;

    clamp(r, &from, &to);
    for (i = from; i < to; i++)
        if (r->sent[i] > m)
            m = r->sent[i];
    return m;
}

double sim_sent_rate(const struct sim_result *r, int from, int to)
{
    int64_t n = 0;
    int i;

    clamp(r, &from, &to);
    for (i = from; i < to; i++)
        n += r->sent[i];
    return to > from ? (double)n / (to - from) : 0;
}

int sim_seconds_to_reach(const struct sim_result *r, int from, double share)
{
    int i;

    for (i = from; i + 3 <= r->secs; i++)
        if (sim_goodput(r, i, i + 3) >= share * sim_limit(r, i, i + 3))
            return i - from;
    return -1;
}

void sim_dump(const struct sim_result *r, const char *title)
{
    int i;

    fprintf(stderr, "# %s: episodes %lld probes %lld\n", title,
            (long long)r->episodes, (long long)r->probes);
    for (i = 0; i < r->secs; i++)
        fprintf(stderr,
                "%3d limit %6.1f accepted %5lld throttled %4lld "
                "sent %5lld rate %7.1f estimate %7.1f\n",
                i, r->limit[i], (long long)r->accepted[i],
                (long long)r->throttled[i], (long long)r->sent[i], r->rate[i],
                r->estimate[i]);
}
