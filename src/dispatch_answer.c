#include "dispatch_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* "11m40s", to the nearest second. */
static void fmt_duration(char *buf, size_t n, int64_t ms)
{
    int64_t s = ((ms < 0 ? -ms : ms) + 500) / 1000;

    if (s >= 3600)
        snprintf(buf, n, "%lldh%02lldm%02llds", (long long)(s / 3600),
                 (long long)(s / 60 % 60), (long long)(s % 60));
    else if (s >= 60)
        snprintf(buf, n, "%lldm%02llds", (long long)(s / 60),
                 (long long)(s % 60));
    else
        snprintf(buf, n, "%llds", (long long)s);
}

/* "the local clock is 11m40s behind the server's ...", or "" when the
 * clocks agree. */
static void skew_phrase(const struct dispatcher *d, char *buf, size_t n)
{
    char dur[32];

    buf[0] = '\0';
    if (!d->skew_ms)
        return;
    fmt_duration(dur, sizeof dur, d->skew_ms);
    snprintf(buf, n,
             "the local clock is %s %s the server's (by the Date of "
             "its answers)",
             dur, d->skew_ms > 0 ? "behind" : "ahead of");
}

/* "; the local clock is ...: fix the clock (NTP), not the credentials" or
 * "", for a refusal's message. */
static void skew_note(const struct dispatcher *d, char *buf, size_t n)
{
    char phrase[160];

    skew_phrase(d, phrase, sizeof phrase);
    if (phrase[0])
        snprintf(buf, n,
                 "; %s: the vendor checks request timestamps, so fix the "
                 "clock (NTP), not the credentials",
                 phrase);
    else
        buf[0] = '\0';
}

static void check_clock(struct dispatcher *d, const struct ab_http_result *h)
{
    int64_t skew;
    char phrase[160];

    if (!h->server_date_ms)
        return;
    /* The Date header has whole seconds, cut down: the server's clock was
     * half a second past it on average. A minute's threshold absorbs the
     * rest and the answer's travel. */
    skew = h->server_date_ms + 500 - ab_now_ms();
    if (skew > -SKEW_MS && skew < SKEW_MS) {
        d->skew_ms = 0;
        return;
    }
    d->skew_ms = skew;
    if (!d->skew_warned) {
        d->skew_warned = 1;
        skew_phrase(d, phrase, sizeof phrase);
        ab_log_warn("%s: the vendor checks request timestamps; check the "
                    "clock (NTP)",
                    phrase);
    }
}

/* Holding answers back. */
static struct held *hold(struct holdlist *l)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        struct held *p = realloc(l->h, (size_t)cap * sizeof *p);
        if (!p)
            return NULL;
        l->h = p;
        l->cap = cap;
    }
    memset(&l->h[l->n], 0, sizeof l->h[l->n]);
    return &l->h[l->n++];
}

struct ab_result *ab_dsp_add_result(struct dispatcher *d)
{
    struct ab_result *r = ab_batch_add(d->batch);
    if (!r)
        ab_dsp_stop(d, AB_STOP_SOFTWARE, "out of memory");
    return r;
}

/* A poll's verdict: answered, given up (the schedule moves on either
 * way), or retried at the policy's time. */
static void decide_poll(struct dispatcher *d, struct ab_result *r,
                        enum ab_retry_verdict v, int64_t delay)
{
    int64_t now = ab_now_ms();

    if (v == AB_RETRY_LATER) {
        r->poll.what = AB_TRACK_RETRY;
        r->poll.fails = r->attempt_no;
        r->poll.next_at = now + delay;
        r->final = AB_FINAL_NONE;
        if (r->poll.next_at > d->poll_retry_until)
            d->poll_retry_until = r->poll.next_at;
    } else if (v == AB_RETRY_FINAL && r->api.outcome == AB_OUT_ISSUED) {
        r->poll.what = AB_TRACK_ANSWERED;
        r->final = AB_FINAL_DONE;
        r->poll.next_at = ab_tracksched_next(&d->o->sched, r->poll.check_no,
                                             r->poll.obs.status, now);
    } else {
        r->poll.what = AB_TRACK_GAVE_UP;
        r->final = AB_FINAL_FAILED;
        r->poll.next_at = ab_tracksched_next(&d->o->sched, r->poll.check_no,
                                             AB_AUTH_NONE, now);
        ab_log_warn("company #%lld: status poll given up after %d attempts "
                    "(%s: %.200s); the next check is at its usual time",
                    (long long)r->company_id, r->attempt_no,
                    ab_outcome_name(r->api.outcome), r->api.message);
    }
}

/* Settles a result the retry policy decides: the company's attempt
 * `attempt_no` ended in r->api (judged as `as` for the allowance). */
static void decide(struct dispatcher *d, struct ab_result *r,
                   enum ab_outcome as, int64_t retry_after_ms)
{
    int64_t delay = 0;
    enum ab_retry_verdict v =
        ab_retry_decide(&d->o->retry, as, r->attempt_no, retry_after_ms,
                        ab_dsp_uniform(d), &delay);

    r->charged = 1;
    if (r->kind == AB_WORK_POLL) {
        decide_poll(d, r, v, delay);
        return;
    }
    switch (v) {
    case AB_RETRY_FINAL:
        if (r->api.outcome == AB_OUT_ISSUED) {
            r->status = "done";
            r->final = AB_FINAL_DONE;
            /* The ticket's schedule starts now (tracksched.h). */
            r->next_check_at =
                ab_now_ms() + ab_tracksched_delay(&d->o->sched, 0);
        } else if (r->api.outcome == AB_OUT_ALREADY_AUTHED) {
            r->status = "already_authed";
            r->final = AB_FINAL_ALREADY_AUTHED;
        } else {
            r->status = "failed";
            r->final = AB_FINAL_FAILED;
        }
        break;
    case AB_RETRY_LATER:
        r->status = "retry_wait";
        r->next_attempt_at = ab_now_ms() + delay;
        d->st->waiting++;
        break;
    case AB_RETRY_GIVE_UP:
    case AB_RETRY_STOP:
        r->status = "failed";
        r->final = AB_FINAL_FAILED;
        break;
    }
}

/* An answer not charged to its company: a ticket stays pending, its count
 * unchanged; a poll stays due as it was. */
static void not_charged(struct ab_result *r, int prev_attempts)
{
    r->attempt_no = prev_attempts;
    r->status = "pending";
    r->charged = 0;
    r->final = AB_FINAL_NONE;
    r->poll.what = AB_TRACK_NOTHING;
}

/* Moves held answers into the batch: charged (as transient answers, within
 * the allowance of `as`) or not (the companies stay pending, their counts
 * unchanged). */
void ab_dsp_settle(struct dispatcher *d, struct holdlist *l, int charged,
                   enum ab_outcome as)
{
    int i;

    for (i = 0; i < l->n; i++) {
        struct ab_result *r = ab_dsp_add_result(d);
        if (!r)
            break;
        *r = l->h[i].r;
        if (charged) {
            r->attempt_no = l->h[i].prev_attempts + 1;
            decide(d, r, as, l->h[i].retry_after_ms);
        } else {
            not_charged(r, l->h[i].prev_attempts);
        }
    }
    l->n = 0;
}

void ab_dsp_release(struct job *j)
{
    if (j->d && j->d->probe == j)
        j->d->probe = NULL;
    ab_company_release(&j->c);
    j->in_use = j->probe = j->probe_unsent = 0;
}

/* What every result of j's answer carries, whatever is decided. */
static void fill(struct ab_result *r, const struct job *j,
                 const struct ab_http_result *h, const struct ab_api_result *a,
                 const struct ab_api_poll *p)
{
    r->kind = j->kind;
    r->api = *a;
    r->company_id = j->c.id;
    r->started_at = h->started_ms;
    r->duration_ms = h->duration_ms;
    if (j->kind == AB_WORK_POLL) {
        r->poll.ticket_at = j->ticket_at;
        r->poll.check_no = j->checks + 1;
        r->poll.obs = *p;
    }
}

/* A result for j's answer with the attempt not charged: the company stays
 * pending (a poll: due), its count unchanged. */
static struct ab_result *uncharged(struct dispatcher *d, struct job *j,
                                   const struct ab_http_result *h,
                                   const struct ab_api_result *a,
                                   const struct ab_api_poll *p)
{
    struct ab_result *r = ab_dsp_add_result(d);

    if (r) {
        fill(r, j, h, a, p);
        not_charged(r, j->c.attempts);
    }
    return r;
}

static void hold_answer(struct dispatcher *d, struct holdlist *l, struct job *j,
                        const struct ab_http_result *h,
                        const struct ab_api_result *a,
                        const struct ab_api_poll *p)
{
    struct held *x = hold(l);

    if (!x) {
        ab_dsp_stop(d, AB_STOP_SOFTWARE, "out of memory");
        uncharged(d, j, h, a, p);
        return;
    }
    fill(&x->r, j, h, a, p);
    x->prev_attempts = j->c.attempts;
    x->retry_after_ms = (int64_t)h->retry_after_s * 1000;
}

/* A status value the mapping does not know: kept raw in the event, the
 * company's status left as it is, and said once per value. */
static void warn_unknown(struct dispatcher *d, const struct job *j,
                         const char *raw)
{
    int i;

    for (i = 0; i < d->nwarned; i++)
        if (strcmp(d->warned[i], raw) == 0)
            return;
    if (d->nwarned < WARNED_MAX)
        snprintf(d->warned[d->nwarned++], sizeof d->warned[0], "%s", raw);
    ab_log_warn("company #%lld: the status poll answered status '%s', which "
                "authbatch does not know: kept in the event, the company's "
                "status unchanged (said once per value)",
                (long long)j->c.id, raw);
}

/* The refusal of a second opinion, or its acceptance. */
static void verdict(struct dispatcher *d, struct job *j,
                    const struct ab_api_result *a)
{
    char note[300];

    d->probe = NULL;
    j->probe = j->probe_unsent = 0;
    if (a->outcome == AB_OUT_FATAL) {
        skew_note(d, note, sizeof note);
        ab_dsp_settle(d, &d->refused, 0, AB_OUT_TRANSIENT);
        ab_dsp_stop(d, AB_STOP_FATAL,
                    "the API refused the request, and a second one: HTTP %ld, "
                    "code %ld, %.200s%s",
                    a->http_status, a->has_code ? a->code : 0, a->message,
                    note);
        return;
    }
    ab_log_warn("a refusal was not confirmed by a second request (fresh "
                "timestamp and nonce): counted as a transient answer, the "
                "run goes on");
    ab_dsp_settle(d, &d->refused, 1, AB_OUT_TRANSIENT);
    j->c.attempts++; /* the refusal was charged to this company just now */
}

/* Fills r from an answer to j and decides what happens to the company. */
static void judge(struct dispatcher *d, struct job *j,
                  const struct ab_http_result *h, struct ab_result *r)
{
    int transport = h->transport_error != NULL;
    int64_t ra_ms = (int64_t)h->retry_after_s * 1000;

    r->attempt_no = j->c.attempts + 1;
    decide(d, r, r->api.outcome, ra_ms);
    if (r->final == AB_FINAL_FAILED && transport && !d->got_answer) {
        /* The API has not answered anyone in this run: the company is
         * not at fault. It stays pending, this attempt not charged, and
         * the run ends. */
        not_charged(r, j->c.attempts);
        ab_dsp_stop(d, AB_STOP_UNREACHABLE,
                    "the API at '%s' could not be reached: %.300s",
                    d->o->base_url, r->api.message);
    }
    if (r->api.outcome == AB_OUT_THROTTLED) {
        int64_t now = ab_now_ms();
        if (h->started_ms >= d->last_cut_ms) {
            d->last_cut_ms = now;
            d->st->throttles++;
        }
        if (ra_ms > HORIZON_MS ||
            (d->runtime_end_ms && now + ra_ms > d->runtime_end_ms))
            ab_dsp_stop(
                d, AB_STOP_HORIZON,
                "the API asked to wait %ld s before the next request "
                "(Retry-After): longer than this run waits; the work is "
                "left for the next run",
                h->retry_after_s);
    }
}

void ab_dsp_on_answer(void *ctx, const struct ab_http_result *h)
{
    struct job *j = ctx;
    struct dispatcher *d = j->d;
    struct ab_api_result a;
    struct ab_api_poll p;
    struct ab_result *r;
    int transport = h->transport_error != NULL;
    int keep_job = 0;

    if (j->kind == AB_WORK_POLL) {
        ab_api_classify_result(h->transport_error, h->status, h->content_type,
                               h->body, h->body_len, &d->o->codes, &a, &p);
        d->st->poll_by_outcome[a.outcome]++;
        if (a.outcome == AB_OUT_ISSUED && p.status == AB_AUTH_UNKNOWN)
            warn_unknown(d, j, p.raw_status);
    } else {
        ab_api_classify(h->transport_error, h->status, h->content_type, h->body,
                        h->body_len, &d->o->codes, &a);
        p.has_status = 0;
        d->st->by_outcome[a.outcome]++;
    }
    d->answers_this_tick++;
    if (h->copies > 1)
        d->st->resends += h->copies - 1;
    check_clock(d, h);
    if (transport) {
        d->st->transport_errors++;
        if (!d->cancelled)
            d->consecutive_transport++;
    } else {
        d->consecutive_transport = 0;
        d->got_answer = 1;
        ab_ratelimit_answer(d->rl, ab_dsp_now_us(), j->sent_us,
                            a.outcome == AB_OUT_THROTTLED,
                            (int64_t)h->retry_after_s * 1000000LL);
    }
    if (!transport && !a.foreign && d->foreign.n > 0)
        /* A vendor answer ends the run of foreign ones: those were a
         * passing hiccup, retried like transient answers. */
        ab_dsp_settle(d, &d->foreign, 1, AB_OUT_THROTTLED);

    if (transport && (d->cancelled || ab_engine_broken(d->eng, NULL))) {
        /* Not the company's fault: it stays pending, its count unchanged. */
        if (j->probe)
            ab_dsp_settle(d, &d->refused, 0, AB_OUT_TRANSIENT);
        uncharged(d, j, h, &a, &p);
    } else if (a.config) {
        if (j->probe)
            ab_dsp_settle(d, &d->refused, 0, AB_OUT_TRANSIENT);
        uncharged(d, j, h, &a, &p);
        ab_dsp_stop(d, AB_STOP_CONFIG,
                    "the API at '%s' answered %.200s%s%.300s", d->o->base_url,
                    a.message, h->location ? ": to " : "",
                    h->location ? h->location : "");
    } else if (a.outcome == AB_OUT_FATAL) {
        if (j->probe) {
            verdict(d, j, &a);
            uncharged(d, j, h, &a, &p);
        } else {
            hold_answer(d, &d->refused, j, h, &a, &p);
            if (!d->probe && !ab_dsp_stopping(d)) {
                /* Stop sending; ask once more with fresh headers. */
                ab_log_warn("the API refused a request (HTTP %ld, code %ld, "
                            "%.200s): no new requests until a second one "
                            "decides",
                            a.http_status, a.has_code ? a.code : 0, a.message);
                d->probe = j;
                j->probe = j->probe_unsent = 1;
                d->st->probes++;
                keep_job = 1;
            }
        }
    } else if (j->probe && transport) {
        if (!ab_dsp_stopping(d)) {
            /* No verdict yet: ask again (the transport breaker bounds it). */
            j->probe_unsent = 1;
            keep_job = 1;
        } else {
            ab_dsp_settle(d, &d->refused, 0, AB_OUT_TRANSIENT);
            uncharged(d, j, h, &a, &p);
        }
    } else if (a.foreign && !j->probe) {
        hold_answer(d, &d->foreign, j, h, &a, &p);
        if (d->foreign.n >= 2 * d->o->concurrency + 8) {
            ab_dsp_settle(d, &d->foreign, 0, AB_OUT_THROTTLED);
            ab_dsp_stop(
                d, AB_STOP_NOT_VENDOR,
                "the answers from '%s' are not the vendor's API: %.300s "
                "(check --base-url and any proxy in between)",
                d->o->base_url, a.message);
        }
    } else {
        if (j->probe)
            verdict(d, j, &a);
        if ((r = ab_dsp_add_result(d))) {
            fill(r, j, h, &a, &p);
            judge(d, j, h, r);
        }
    }
    if (!keep_job)
        ab_dsp_release(j);

    if (!d->got_answer &&
        d->consecutive_transport >= 2LL * d->o->concurrency + 8)
        ab_dsp_stop(d, AB_STOP_UNREACHABLE,
                    "the API at '%s' could not be reached: %.300s",
                    d->o->base_url, a.message);
    else if (d->consecutive_transport >= 4LL * d->o->concurrency + 16)
        ab_dsp_stop(d, AB_STOP_UNREACHABLE,
                    "the API at '%s' stopped answering: %.300s", d->o->base_url,
                    a.message);
    ab_dsp_kick(d);
}
