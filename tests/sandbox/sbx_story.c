#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strtok_r */
#endif
#include "sbx_story.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbx_fault.h"

static const char *const fate_names[SBX_FATE_COUNT] = {
    "pass", "reject", "progress", "never", "expire"};

/* basicReason values the vendor gives for a rejection (UTF-8). */
static const char *const reasons[] = {
    "\xe8\x90\xa5\xe4\xb8\x9a\xe6\x89\xa7\xe7\x85\xa7\xe4\xb8\x8e\xe4\xbc\x81"
    "\xe4\xb8\x9a\xe5\x90\x8d\xe7\xa7\xb0\xe4\xb8\x8d\xe4\xb8\x80\xe8\x87\xb4",
    /* 营业执照与企业名称不一致 */
    "\xe6\xb3\x95\xe5\xae\x9a\xe4\xbb\xa3\xe8\xa1\xa8\xe4\xba\xba\xe4\xbf\xa1"
    "\xe6\x81\xaf\xe4\xb8\x8e\xe8\x90\xa5\xe4\xb8\x9a\xe6\x89\xa7\xe7\x85\xa7"
    "\xe4\xb8\x8d\xe4\xb8\x80\xe8\x87\xb4",
    /* 法定代表人信息与营业执照不一致 */
    "\xe8\x90\xa5\xe4\xb8\x9a\xe6\x89\xa7\xe7\x85\xa7\xe5\x9b\xbe\xe7\x89\x87"
    "\xe4\xb8\x8d\xe6\xb8\x85\xe6\x99\xb0",
    /* 营业执照图片不清晰 */
    "\xe6\x8e\x88\xe6\x9d\x83\xe4\xb9\xa6\xe6\x9c\xaa\xe5\x8a\xa0\xe7\x9b\x96"
    "\xe5\x85\xac\xe7\xab\xa0",
    /* 授权书未加盖公章 */
};

void sbx_fate_mix_default(struct sbx_fate_mix *mix)
{
    mix->frac[SBX_FATE_PASS] = 0.5;
    mix->frac[SBX_FATE_REJECT] = 0.15;
    mix->frac[SBX_FATE_PROGRESS] = 0.1;
    mix->frac[SBX_FATE_NEVER] = 0.15;
    mix->frac[SBX_FATE_EXPIRE] = 0.1;
}

const char *sbx_fate_name(enum sbx_fate fate)
{
    return (unsigned)fate < SBX_FATE_COUNT ? fate_names[fate] : "?";
}

int sbx_fate_mix_parse(const char *spec, struct sbx_fate_mix *mix, char *err,
                       size_t errlen)
{
    struct sbx_fate_mix m = {{0}};
    int seen[SBX_FATE_COUNT] = {0};
    char *copy = strdup(spec), *save = NULL, *tok;
    double sum = 0;
    int rc = -1;

    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (tok = strtok_r(copy, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '='), *end;
        double v;
        int f;

        if (eq == NULL) {
            snprintf(err, errlen, "'%s' is not FATE=FRACTION", tok);
            goto out;
        }
        *eq = '\0';
        for (f = 0; f < SBX_FATE_COUNT; f++)
            if (strcmp(tok, fate_names[f]) == 0)
                break;
        if (f == SBX_FATE_COUNT) {
            snprintf(err, errlen,
                     "unknown fate '%s' (pass, reject, progress, never, "
                     "expire)",
                     tok);
            goto out;
        }
        if (seen[f]++) {
            snprintf(err, errlen, "fate '%s' given twice", tok);
            goto out;
        }
        errno = 0;
        v = strtod(eq + 1, &end);
        if (errno != 0 || end == eq + 1 || *end != '\0' ||
            !(v >= 0.0 && v <= 1.0)) {
            snprintf(err, errlen, "'%s' is not a fraction in 0..1", eq + 1);
            goto out;
        }
        m.frac[f] = v;
        sum += v;
    }
    if (fabs(sum - 1.0) > 1e-6) {
        snprintf(err, errlen, "the fractions add up to %g, not 1", sum);
        goto out;
    }
    *mix = m;
    rc = 0;
out:
    free(copy);
    return rc;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void sbx_story_draw(uint64_t seed, const char *company, unsigned ticket_no,
                    const struct sbx_fate_mix *mix, struct sbx_story *out)
{
    uint64_t state = seed ^ 0x5bd1e9955bd1e995ULL;
    double u, edge = 0;
    int f;

    /* mix the three inputs through splitmix64 steps */
    state ^= sbx_rng_next(&state) ^ fnv1a(company);
    state ^= sbx_rng_next(&state) ^ (uint64_t)ticket_no;
    u = sbx_rng_unit(&state);
    out->fate = SBX_FATE_NEVER;
    for (f = 0; f < SBX_FATE_COUNT; f++) {
        edge += mix->frac[f];
        if (u < edge && mix->frac[f] > 0) {
            out->fate = (enum sbx_fate)f;
            break;
        }
    }
    if (f == SBX_FATE_COUNT) /* rounding at the top end */
        for (f = SBX_FATE_COUNT - 1; f >= 0; f--)
            if (mix->frac[f] > 0) {
                out->fate = (enum sbx_fate)f;
                break;
            }
    out->start = SBX_STORY_START_MIN_S +
                 (int64_t)(sbx_rng_unit(&state) * SBX_STORY_START_SPAN_S);
    out->finish = out->start + SBX_STORY_FINISH_MIN_S +
                  (int64_t)(sbx_rng_unit(&state) * SBX_STORY_FINISH_SPAN_S);
    out->expire = SBX_STORY_EXPIRE_S;
    out->reason = NULL;
    if (out->fate == SBX_FATE_REJECT)
        out->reason = reasons[(size_t)(sbx_rng_unit(&state) *
                                       (sizeof reasons / sizeof reasons[0]))];
}

void sbx_story_undelivered(struct sbx_story *out)
{
    out->fate = SBX_FATE_NEVER;
    out->start = out->finish = out->expire = 0;
    out->reason = NULL;
}

int sbx_story_status(const struct sbx_story *st, int64_t t)
{
    switch (st->fate) {
    case SBX_FATE_PASS:
    case SBX_FATE_REJECT:
        if (t >= st->finish)
            return st->fate == SBX_FATE_PASS ? SBX_STATUS_PASSED
                                             : SBX_STATUS_REJECTED;
        /* fall through */
    case SBX_FATE_PROGRESS:
        return t >= st->start ? SBX_STATUS_IN_PROGRESS
                              : SBX_STATUS_NOT_SUBMITTED;
    case SBX_FATE_EXPIRE:
        return t >= st->expire ? SBX_STATUS_EXPIRED : SBX_STATUS_NOT_SUBMITTED;
    case SBX_FATE_NEVER:
    case SBX_FATE_COUNT:
        break;
    }
    return SBX_STATUS_NOT_SUBMITTED;
}

int64_t sbx_story_next_change(const struct sbx_story *st, int64_t t)
{
    switch (st->fate) {
    case SBX_FATE_PASS:
    case SBX_FATE_REJECT:
        if (t < st->start)
            return st->start;
        return t < st->finish ? st->finish : -1;
    case SBX_FATE_PROGRESS:
        return t < st->start ? st->start : -1;
    case SBX_FATE_EXPIRE:
        return t < st->expire ? st->expire : -1;
    case SBX_FATE_NEVER:
    case SBX_FATE_COUNT:
        break;
    }
    return -1;
}

size_t sbx_story_events(const struct sbx_story *st,
                        struct sbx_story_event out[2])
{
    switch (st->fate) {
    case SBX_FATE_PASS:
    case SBX_FATE_REJECT:
        out[1].at = st->finish;
        out[1].status = st->fate == SBX_FATE_PASS ? 1 : 2;
        out[1].action_event = st->fate == SBX_FATE_PASS ? 7 : 2;
        /* fall through */
    case SBX_FATE_PROGRESS:
        out[0].at = st->start;
        out[0].status = 0;
        out[0].action_event = 0;
        return st->fate == SBX_FATE_PROGRESS ? 1 : 2;
    case SBX_FATE_NEVER:
    case SBX_FATE_EXPIRE:
    case SBX_FATE_COUNT:
        break;
    }
    return 0;
}

void sbx_story_scale(struct sbx_story *st, int64_t minute_ms)
{
    st->start = st->start * minute_ms / 60;
    st->finish = st->finish * minute_ms / 60;
    st->expire = st->expire * minute_ms / 60;
}
