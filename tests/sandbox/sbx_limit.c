#include "sbx_limit.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING_MS 1000

struct second {
    int64_t sec;
    uint64_t accepted, throttled;
    uint32_t rps;
};

struct sbx_limit {
    pthread_mutex_t mu;
    uint32_t rps;
    enum sbx_limit_window window;
    int count_arrivals;
    int64_t start_ms;
    struct sbx_limit_step *steps;
    size_t nsteps, next; /* steps[next..] are pending */
    /* fixed: the counts of the current and the previous second */
    int64_t cur_sec;
    uint64_t cur_n, prev_n;
    /* sliding: requests counted per ms of the trailing second */
    uint32_t ring[RING_MS];
    uint64_t total;
    int64_t last_ms;
    /* statistics */
    uint64_t accepted, throttled;
    struct second *ps;
    size_t nps, capps;
};

struct sbx_limit *sbx_limit_new(uint32_t rps, enum sbx_limit_window window,
                                int count_arrivals,
                                const struct sbx_limit_step *steps,
                                size_t nsteps, int64_t start_ms)
{
    struct sbx_limit *l = calloc(1, sizeof *l);

    if (l == NULL)
        return NULL;
    if (nsteps > 0) {
        l->steps = malloc(nsteps * sizeof *steps);
        if (l->steps == NULL) {
            free(l);
            return NULL;
        }
        memcpy(l->steps, steps, nsteps * sizeof *steps);
    }
    pthread_mutex_init(&l->mu, NULL);
    l->rps = rps;
    l->window = window;
    l->count_arrivals = count_arrivals;
    l->start_ms = start_ms;
    l->nsteps = nsteps;
    l->cur_sec = INT64_MIN;
    l->last_ms = INT64_MIN;
    return l;
}

void sbx_limit_free(struct sbx_limit *l)
{
    if (l == NULL)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l->steps);
    free(l->ps);
    free(l);
}

/* Under l->mu. */
static void apply_due(struct sbx_limit *l, int64_t now_ms)
{
    while (l->next < l->nsteps &&
           now_ms - l->start_ms >= l->steps[l->next].at_ms)
        l->rps = l->steps[l->next++].rps;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Under l->mu: the sliding window up to now_ms (never backwards). */
static void slide(struct sbx_limit *l, int64_t now_ms)
{
    int64_t t;

    if (l->last_ms == INT64_MIN || now_ms - l->last_ms >= RING_MS) {
        memset(l->ring, 0, sizeof l->ring);
        l->total = 0;
        l->last_ms = now_ms;
        return;
    }
    for (t = l->last_ms + 1; t <= now_ms; t++) {
        uint32_t *slot = &l->ring[(size_t)(t % RING_MS + RING_MS) % RING_MS];
        l->total -= *slot;
        *slot = 0;
    }
    if (now_ms > l->last_ms)
        l->last_ms = now_ms;
}

/* Under l->mu: the per-second record for sec (NULL on OOM). */
static struct second *second_of(struct sbx_limit *l, int64_t sec)
{
    size_t i;

    for (i = l->nps; i > 0 && i + 4 > l->nps; i--)
        if (l->ps[i - 1].sec == sec)
            return &l->ps[i - 1];
    if (l->nps == l->capps) {
        size_t ncap = l->capps ? l->capps * 2 : 64;
        struct second *nv = realloc(l->ps, ncap * sizeof *nv);
        if (nv == NULL)
            return NULL;
        l->ps = nv;
        l->capps = ncap;
    }
    l->ps[l->nps].sec = sec;
    l->ps[l->nps].accepted = 0;
    l->ps[l->nps].throttled = 0;
    l->ps[l->nps].rps = 0;
    return &l->ps[l->nps++];
}

int sbx_limit_check(struct sbx_limit *l, int64_t now_ms)
{
    int64_t sec = floor_div(now_ms, 1000);
    struct second *ps;
    int over = 0;

    pthread_mutex_lock(&l->mu);
    apply_due(l, now_ms);
    if (l->window == SBX_LIMIT_FIXED) {
        uint64_t *n;
        if (sec > l->cur_sec) {
            l->prev_n = sec == l->cur_sec + 1 ? l->cur_n : 0;
            l->cur_n = 0;
            l->cur_sec = sec;
        }
        n = sec == l->cur_sec - 1 ? &l->prev_n : &l->cur_n;
        over = l->rps > 0 && *n >= l->rps;
        if (!over || l->count_arrivals)
            (*n)++;
    } else {
        slide(l, now_ms);
        over = l->rps > 0 && l->total >= l->rps;
        if (!over || l->count_arrivals) {
            /* A late decision counts in the ms it arrived in while that
             * is still in the window. */
            int64_t t = now_ms > l->last_ms - RING_MS ? now_ms : l->last_ms;
            l->ring[(size_t)(t % RING_MS + RING_MS) % RING_MS]++;
            l->total++;
        }
    }
    if (over)
        l->throttled++;
    else
        l->accepted++;
    if ((ps = second_of(l, sec)) != NULL) {
        if (over)
            ps->throttled++;
        else
            ps->accepted++;
        ps->rps = l->rps;
    }
    pthread_mutex_unlock(&l->mu);
    return over;
}

uint32_t sbx_limit_rps(struct sbx_limit *l, int64_t now_ms)
{
    uint32_t rps;

    pthread_mutex_lock(&l->mu);
    apply_due(l, now_ms);
    rps = l->rps;
    pthread_mutex_unlock(&l->mu);
    return rps;
}

uint32_t sbx_limit_next_step(struct sbx_limit *l, int64_t now_ms)
{
    uint32_t rps;

    pthread_mutex_lock(&l->mu);
    apply_due(l, now_ms);
    if (l->next < l->nsteps)
        l->rps = l->steps[l->next++].rps;
    else if (l->rps > 0)
        l->rps = l->rps > UINT32_MAX / 2 ? UINT32_MAX : l->rps * 2;
    rps = l->rps;
    pthread_mutex_unlock(&l->mu);
    return rps;
}

uint32_t sbx_limit_halve(struct sbx_limit *l, int64_t now_ms)
{
    uint32_t rps;

    pthread_mutex_lock(&l->mu);
    apply_due(l, now_ms);
    if (l->rps > 1)
        l->rps /= 2;
    rps = l->rps;
    pthread_mutex_unlock(&l->mu);
    return rps;
}

json_t *sbx_limit_json(struct sbx_limit *l, int64_t now_ms)
{
    json_t *o = json_object(), *ps = json_object();
    char key[32];
    size_t i;

    if (o == NULL || ps == NULL) {
        json_decref(o);
        json_decref(ps);
        return NULL;
    }
    pthread_mutex_lock(&l->mu);
    apply_due(l, now_ms);
    json_object_set_new(o, "rps", json_integer((json_int_t)l->rps));
    json_object_set_new(
        o, "window",
        json_string(l->window == SBX_LIMIT_FIXED ? "fixed" : "sliding"));
    json_object_set_new(
        o, "counts", json_string(l->count_arrivals ? "arrivals" : "accepted"));
    json_object_set_new(o, "accepted", json_integer((json_int_t)l->accepted));
    json_object_set_new(o, "throttled", json_integer((json_int_t)l->throttled));
    for (i = 0; i < l->nps; i++) {
        snprintf(key, sizeof key, "%lld", (long long)l->ps[i].sec);
        json_object_set_new(ps, key,
                            json_pack("[I,I,I]", (json_int_t)l->ps[i].accepted,
                                      (json_int_t)l->ps[i].throttled,
                                      (json_int_t)l->ps[i].rps));
    }
    pthread_mutex_unlock(&l->mu);
    json_object_set_new(o, "per_second", ps);
    return o;
}

int sbx_limit_parse_schedule(const char *s, struct sbx_limit_step **out,
                             size_t *n, char *err, size_t errlen)
{
    struct sbx_limit_step *v = NULL;
    size_t cnt = 0, cap = 0;
    const char *p = s;

    *out = NULL;
    *n = 0;
    if (s == NULL || *s == '\0') {
        snprintf(err, errlen, "empty schedule");
        return -1;
    }
    while (*p != '\0') {
        char *end;
        double t;
        unsigned long long rps;

        errno = 0;
        t = strtod(p, &end);
        if (end == p || errno != 0 || *end != ':' || !(t >= 0) || t > 86400.0) {
            snprintf(err, errlen, "'%s': expected T:N (T seconds, 0..86400)",
                     p);
            goto out_fail;
        }
        p = end + 1;
        errno = 0;
        if (*p < '0' || *p > '9') {
            snprintf(err, errlen, "'%s': expected a limit N after ':'", p);
            goto out_fail;
        }
        rps = strtoull(p, &end, 10);
        if (errno != 0 || rps > UINT32_MAX || (*end != ',' && *end != '\0')) {
            snprintf(err, errlen, "'%s': expected a limit N (0..%u)", p,
                     (unsigned)UINT32_MAX);
            goto out_fail;
        }
        if (cnt > 0 && (int64_t)(t * 1000.0) <= v[cnt - 1].at_ms) {
            snprintf(err, errlen, "times must increase (at %g s)", t);
            goto out_fail;
        }
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct sbx_limit_step *nv = realloc(v, ncap * sizeof *nv);
            if (nv == NULL) {
                snprintf(err, errlen, "out of memory");
                goto out_fail;
            }
            v = nv;
            cap = ncap;
        }
        v[cnt].at_ms = (int64_t)(t * 1000.0);
        v[cnt].rps = (uint32_t)rps;
        cnt++;
        p = *end == ',' ? end + 1 : end;
        if (*end == ',' && *p == '\0') {
            snprintf(err, errlen, "trailing ','");
            goto out_fail;
        }
    }
    *out = v;
    *n = cnt;
    return 0;

out_fail:
    free(v);
    return -1;
}
