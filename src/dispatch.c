#include "dispatch.h"

#include <assert.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "log.h"
#include "ratelimit.h"
#include "sign.h"
#include "store_queue.h"
#include "validate.h"

#define FLUSH_EVERY_MS                                                         \
    100                    /* results reach the database at least this often   \
                            */
#define FLUSH_AT 1024      /* ...or when this many are waiting */
#define CLAIM_MAX 1024     /* companies claimed per transaction, at most */
#define CLAIM_AHEAD_MS 250 /* ...and no more than this much sending ahead */
#define TICK_MS 250
#define RATE_WINDOW 20 /* ticks of completions behind rate_now (5 s) */
#define MAX_WAIT_MS (10 * 60 * 1000) /* longer retry waits end the run */

struct job {
    struct dispatcher *d;
    struct ab_company c;
    int in_use;
};

struct result {
    int64_t company_id;
    int attempt_no;
    int64_t started_at, duration_ms, next_attempt_at;
    const char *status;
    struct ab_api_result api;
};

struct dispatcher {
    uv_loop_t loop;
    struct ab_engine *eng;
    struct ab_store *s;
    const struct ab_dispatch_opts *o;
    struct ab_run_stats *st;
    struct ab_err *err;
    char url[2048];
    char version_hdr[64];

    struct ab_ratelimit *rl;
    uv_timer_t t_dispatch, t_flush, t_tick, t_runtime;
    uv_signal_t sigint, sigterm;
    int open_handles;

    struct ab_company *queue; /* claimed, not yet sent */
    int qhead, qlen, qcap;
    struct job *jobs;

    struct result *results; /* answered, not yet committed */
    int nresults;

    int64_t claimed; /* companies claimed this run (for --limit) */
    int dry;         /* the last claim found nothing: claim again on a timer */
    int64_t last_cut_ms; /* when the limiter was last cut (Unix ms) */
    int64_t consecutive_transport;
    int got_answer;
    int stopping, cancelled, finished;
    enum ab_dispatch_end end;
    int64_t ticks[RATE_WINDOW];
    int64_t answers_this_tick;
    int tick_i;
    uint64_t rng;
};

static int64_t now_us(struct dispatcher *d)
{
    (void)d;
    return (int64_t)(uv_hrtime() / 1000);
}

static double uniform(struct dispatcher *d)
{
    /* xorshift64*: jitter needs spread, not secrecy. */
    d->rng ^= d->rng >> 12;
    d->rng ^= d->rng << 25;
    d->rng ^= d->rng >> 27;
    return (double)((d->rng * 2685821657736338717ULL) >> 11) /
           9007199254740992.0;
}

static void pump(struct dispatcher *d);
static void finish(struct dispatcher *d);

/* Stops dispatching for good. The first reason wins, except that a failure
 * outranks a polite stop; msg (may be NULL) is kept only with the reason
 * that wins, so the message and the exit status always agree. */
static void stop_err(struct dispatcher *d, enum ab_dispatch_end why,
                     const struct ab_err *msg)
{
    int wins =
        !d->stopping || (d->end == AB_END_STOPPED && why != AB_END_STOPPED);

    d->stopping = 1;
    if (wins) {
        d->end = why;
        if (d->err && msg)
            *d->err = *msg;
    }
    uv_timer_stop(&d->t_dispatch);
}

static void stop(struct dispatcher *d, enum ab_dispatch_end why,
                 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void stop(struct dispatcher *d, enum ab_dispatch_end why,
                 const char *fmt, ...)
{
    struct ab_err e = {0};

    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e.msg, sizeof e.msg, fmt, ap);
        va_end(ap);
        e.code = AB_EIO;
    }
    stop_err(d, why, fmt ? &e : NULL);
}

static int flush(struct dispatcher *d)
{
    struct ab_err err = {0};
    int i, rc;

    if (d->nresults == 0)
        return 0;
    if ((rc = ab_store_begin(d->s, &err)) != 0)
        goto out_fail;
    for (i = 0; i < d->nresults; i++) {
        struct result *r = &d->results[i];
        struct ab_queue_result q = {
            .company_id = r->company_id,
            .run_id = d->st->run_id,
            .attempt_no = r->attempt_no,
            .started_at = r->started_at,
            .duration_ms = r->duration_ms,
            .api = &r->api,
            .status = r->status,
            .next_attempt_at = r->next_attempt_at,
        };
        if ((rc = ab_queue_record(d->s, &q, &err)) != 0) {
            ab_store_rollback(d->s);
            goto out_fail;
        }
    }
    if ((rc = ab_queue_run_update(d->s, d->st, 0, &err)) != 0) {
        ab_store_rollback(d->s);
        goto out_fail;
    }
    if ((rc = ab_store_commit(d->s, &err)) != 0)
        goto out_fail;
    d->nresults = 0;
    return 0;

out_fail:
    /* Those companies stay 'in_flight' in the file: the next run asks
     * again. Nothing else can be trusted to be written now. */
    d->nresults = 0;
    stop_err(d, AB_END_DB, &err);
    return rc;
}

static void on_flush_timer(uv_timer_t *t)
{
    struct dispatcher *d = t->data;
    int had = d->nresults;
    flush(d);
    if (had || d->dry) {
        d->dry = 0; /* retries written just now, or rows others added */
        pump(d);
    }
}

static void tick(struct dispatcher *d, int rotate)
{
    int64_t sum = 0;
    int i;

    if (rotate) {
        d->ticks[d->tick_i] = d->answers_this_tick;
        d->tick_i = (d->tick_i + 1) % RATE_WINDOW;
        d->answers_this_tick = 0;
    }
    for (i = 0; i < RATE_WINDOW; i++)
        sum += d->ticks[i];
    d->st->rate_now = (double)sum * 1000.0 / (RATE_WINDOW * TICK_MS);
    d->st->now_ms = ab_now_ms();
    d->st->in_flight = d->eng ? ab_engine_in_flight(d->eng) : 0;
    d->st->rate_limit = ab_ratelimit_rate(d->rl);
    if (d->o->on_tick)
        d->o->on_tick(d->o->tick_ctx, d->st);
}

static void on_tick_timer(uv_timer_t *t)
{
    tick(t->data, 1);
}

static void on_runtime_timer(uv_timer_t *t)
{
    struct dispatcher *d = t->data;
    ab_log_info("max runtime reached: no new requests; waiting for %d in "
                "flight",
                ab_engine_in_flight(d->eng));
    stop(d, AB_END_STOPPED, NULL);
    pump(d);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct dispatcher *d = h->data;

    if (!d->stopping) {
        ab_log_info("%s: no new requests; waiting for %d in flight "
                    "(again to cancel them)",
                    signum == SIGINT ? "interrupted" : "terminated",
                    ab_engine_in_flight(d->eng));
        stop(d, AB_END_STOPPED, NULL);
    } else if (!d->cancelled) {
        ab_log_info("cancelling %d requests in flight",
                    ab_engine_in_flight(d->eng));
        d->cancelled = 1;
        ab_engine_cancel_all(d->eng);
    }
    pump(d);
}

static void on_dispatch_timer(uv_timer_t *t)
{
    struct dispatcher *d = t->data;
    d->dry = 0;
    pump(d);
}

static void arm(struct dispatcher *d, int64_t delay_ms)
{
    if (delay_ms < 0)
        delay_ms = 0;
    uv_timer_start(&d->t_dispatch, on_dispatch_timer, (uint64_t)delay_ms, 0);
}

static struct result *new_result(struct dispatcher *d)
{
    return &d->results[d->nresults++];
}

static void on_answer(void *ctx, const struct ab_http_result *h)
{
    struct job *j = ctx;
    struct dispatcher *d = j->d;
    struct result *r;
    enum ab_retry_verdict v;
    int64_t delay = 0, now = ab_now_ms();
    int transport = h->transport_error != NULL;
    int cancelled = transport && d->cancelled;

    r = new_result(d);
    memset(r, 0, sizeof *r);
    ab_api_classify(h->transport_error, h->status, h->body, h->body_len,
                    &d->o->codes, &r->api);
    r->company_id = j->c.id;
    r->started_at = h->started_ms;
    r->duration_ms = h->duration_ms;
    d->answers_this_tick++;
    d->st->by_outcome[r->api.outcome]++;

    if (transport) {
        d->st->transport_errors++;
        if (!cancelled)
            d->consecutive_transport++;
    } else {
        d->consecutive_transport = 0;
        d->got_answer = 1;
    }

    if (cancelled || r->api.outcome == AB_OUT_FATAL) {
        /* Not the company's fault: it stays pending, its count unchanged. */
        r->attempt_no = j->c.attempts;
        r->status = "pending";
        if (r->api.outcome == AB_OUT_FATAL)
            stop(d, AB_END_FATAL,
                 "the API refused the request: HTTP %ld, code %ld, %.300s",
                 r->api.http_status, r->api.has_code ? r->api.code : 0,
                 r->api.message);
    } else {
        r->attempt_no = j->c.attempts + 1;
        v = ab_retry_decide(&d->o->retry, r->api.outcome, r->attempt_no,
                            (int64_t)h->retry_after_s * 1000, uniform(d),
                            &delay);
        switch (v) {
        case AB_RETRY_FINAL:
            if (r->api.outcome == AB_OUT_ISSUED) {
                r->status = "done";
                d->st->done++;
            } else if (r->api.outcome == AB_OUT_ALREADY_AUTHED) {
                r->status = "already_authed";
                d->st->already_authed++;
            } else {
                r->status = "failed";
                d->st->failed++;
            }
            break;
        case AB_RETRY_LATER:
            r->status = "retry_wait";
            r->next_attempt_at = now + delay;
            d->st->waiting++;
            break;
        case AB_RETRY_GIVE_UP:
        case AB_RETRY_STOP:
            if (transport && !d->got_answer) {
                /* The API has not answered anyone in this run: the company
                 * is not at fault. It stays pending, this attempt not
                 * charged, and the run ends. */
                r->status = "pending";
                r->attempt_no = j->c.attempts;
                stop(d, AB_END_UNREACHABLE,
                     "the API at '%s' could not be reached: %s", d->o->base_url,
                     r->api.message);
                break;
            }
            r->status = "failed";
            d->st->failed++;
            break;
        }
        if (r->api.outcome == AB_OUT_THROTTLED &&
            h->started_ms >= d->last_cut_ms) {
            d->last_cut_ms = now;
            d->st->throttles++;
        }
        {
            int64_t t = now_us(d);
            ab_ratelimit_answer(d->rl, t, t - h->duration_ms * 1000,
                                r->api.outcome == AB_OUT_THROTTLED,
                                (int64_t)h->retry_after_s * 1000000LL);
        }
    }

    ab_company_release(&j->c);
    j->in_use = 0;

    if (!d->stopping && !d->got_answer &&
        d->consecutive_transport >= 2LL * d->o->concurrency + 8) {
        stop(d, AB_END_UNREACHABLE, "the API at '%s' could not be reached: %s",
             d->o->base_url, r->api.message);
    } else if (!d->stopping &&
               d->consecutive_transport >= 4LL * d->o->concurrency + 16) {
        stop(d, AB_END_UNREACHABLE, "the API at '%s' stopped answering: %s",
             d->o->base_url, r->api.message);
    }
    if (d->nresults >= FLUSH_AT)
        flush(d);
    pump(d);
}

/* Records a company that must not be sent as failed with why, without
 * sending anything or charging it an attempt, and frees its job. */
static void fail_unsendable(struct dispatcher *d, struct job *j,
                            const char *why)
{
    struct result *r = new_result(d);

    memset(r, 0, sizeof *r);
    r->company_id = j->c.id;
    r->attempt_no = j->c.attempts;
    r->started_at = ab_now_ms();
    r->status = "failed";
    r->api.outcome = AB_OUT_REJECTED;
    snprintf(r->api.message, sizeof r->api.message, "not sent: %s", why);
    d->st->by_outcome[AB_OUT_REJECTED]++;
    d->st->failed++;
    ab_log_warn("company #%lld not sent: %s", (long long)j->c.id, why);
    ab_company_release(&j->c);
    j->in_use = 0;
    if (d->nresults >= FLUSH_AT)
        flush(d);
}

static void send_one(struct dispatcher *d, struct ab_company *c)
{
    char ts[24], nonce[AB_SIGN_NONCE_LEN + 1], sig[AB_SIGN_HEX_LEN + 1];
    char h_token[AB_CREDS_MAX + 32], h_ts[64], h_nonce[64], h_sig[64];
    char why[AB_VALIDATE_REASON_MAX];
    const char *hdrs[5];
    struct ab_err err = {0};
    struct job *j = NULL;
    char *body;
    int i;

    for (i = 0; i < d->o->concurrency; i++) {
        if (!d->jobs[i].in_use) {
            j = &d->jobs[i];
            break;
        }
    }
    assert(j); /* callers keep in_flight < concurrency */
    j->in_use = 1;
    j->d = d;
    j->c = *c; /* takes over the strings */
    ab_company_init(c);

    /* Rows other programs insert straight into companies skip the import:
     * its rules decide here whether, and in what form, one is sent. */
    if (ab_validate_claimed(&j->c, why, sizeof why) != 0) {
        fail_unsendable(d, j, why);
        return;
    }
    snprintf(ts, sizeof ts, "%lld", (long long)ab_now_ms());
    if (!(body = ab_api_body(&j->c))) {
        fail_unsendable(d, j, "out of memory building the request body");
        return;
    }
    if (ab_sign_nonce(nonce) != 0 ||
        ab_sign(d->o->creds->token, d->o->creds->secret, ts, nonce, sig) != 0) {
        free(body);
        ab_company_release(&j->c);
        j->in_use = 0;
        stop(d, AB_END_SOFTWARE,
             "cannot sign a request: no randomness or "
             "digest from OpenSSL");
        return;
    }
    snprintf(h_token, sizeof h_token, "x-qys-open-accesstoken: %s",
             d->o->creds->token);
    snprintf(h_ts, sizeof h_ts, "x-qys-open-timestamp: %s", ts);
    snprintf(h_nonce, sizeof h_nonce, "x-qys-open-nonce: %s", nonce);
    snprintf(h_sig, sizeof h_sig, "x-qys-open-signature: %s", sig);
    hdrs[0] = h_token;
    hdrs[1] = h_ts;
    hdrs[2] = h_nonce;
    hdrs[3] = h_sig;
    hdrs[4] = d->version_hdr;

    d->st->attempts++;
    if (j->c.attempts > 0)
        d->st->retries++;
    if (ab_engine_post(d->eng, d->url, hdrs, 5, body, strlen(body), on_answer,
                       j, &err) != 0) {
        struct ab_http_result h = {0};
        h.transport_error = err.msg;
        h.started_ms = ab_now_ms();
        on_answer(j, &h);
    }
    ab_sign_wipe(h_token, sizeof h_token);
}

/* Claims the next due companies into the local queue. */
static int refill(struct dispatcher *d)
{
    struct ab_err err = {0};
    int max = d->qcap, n = 0, i, rc;

    if (d->o->limit > 0) {
        int64_t left = d->o->limit - d->claimed;
        if (left <= 0)
            return 0;
        if (left < max)
            max = (int)left;
    }
    d->qhead = 0;
    rc = ab_queue_claim(d->s, ab_now_ms(), max, d->queue, &n, &err);
    if (rc != 0) {
        stop_err(d, AB_END_DB, &err);
        return rc;
    }
    for (i = 0; i < n; i++) {
        if (d->queue[i].attempts > 0 && d->st->waiting > 0)
            d->st->waiting--;
    }
    d->qlen = n;
    /* --limit N: at most N companies claimed by this run, whatever their
     * history (retries left by earlier runs count too). Once it is reached
     * nothing more is claimed, so this run's own retries are left to the
     * next run and no company is counted twice. */
    d->claimed += n;
    return 0;
}

static void release_queue(struct dispatcher *d)
{
    int64_t ids[256];
    struct ab_err err = {0};
    int i, n = 0, failed = 0;

    for (i = d->qhead; i < d->qhead + d->qlen; i++) {
        ids[n++] = d->queue[i].id;
        ab_company_release(&d->queue[i]);
        if (n == (int)(sizeof ids / sizeof ids[0]) ||
            i == d->qhead + d->qlen - 1) {
            if (!failed && ab_queue_release(d->s, ids, n, &err) != 0) {
                stop_err(d, AB_END_DB, &err);
                failed = 1;
            }
            n = 0;
        }
    }
    d->qlen = 0;
}

/* Companies to claim per transaction: enough for CLAIM_AHEAD_MS of sending
 * at the configured rate (CLAIM_MAX when unlimited), never fewer than the
 * concurrency. One transaction per claim costs a commit; a claimed company
 * shows 'in_flight' until it is sent, so a slow run claims little ahead. */
static int claim_batch(const struct ab_dispatch_opts *o)
{
    double ahead = o->rate > 0 ? o->rate * CLAIM_AHEAD_MS / 1000.0 : CLAIM_MAX;
    int n = ahead < CLAIM_MAX ? (int)ahead : CLAIM_MAX;
    return n > o->concurrency ? n : o->concurrency;
}

static int64_t next_retry_at(struct dispatcher *d)
{
    struct ab_err err = {0};
    int64_t n, next;
    if (ab_queue_retry_wait(d->s, &n, &next, &err) != 0) {
        stop_err(d, AB_END_DB, &err);
        return 0;
    }
    d->st->waiting = n;
    return n ? next : 0;
}

static void pump(struct dispatcher *d)
{
    int64_t t, next;

    if (d->finished)
        return;
    if (ab_engine_broken(d->eng) && d->end != AB_END_SOFTWARE) {
        stop(d, AB_END_SOFTWARE, "the HTTP engine failed");
    }
    if (d->stopping) {
        if (d->qlen)
            release_queue(d);
        if (ab_engine_in_flight(d->eng) == 0)
            finish(d);
        return;
    }
    while (ab_engine_in_flight(d->eng) < d->o->concurrency) {
        if (d->qlen == 0 && (d->dry || refill(d) != 0 || d->qlen == 0)) {
            /* Nothing to claim: don't ask again on every answer, only when
             * a timer fires (the flush timer writes new retries). */
            d->dry = 1;
            break;
        }
        t = now_us(d);
        next = ab_ratelimit_next(d->rl, t);
        if (next > t) {
            arm(d, (next - t + 999) / 1000);
            return;
        }
        ab_ratelimit_take(d->rl, t);
        d->qlen--;
        send_one(d, &d->queue[d->qhead++]);
        if (d->stopping)
            break;
    }
    if (d->stopping) {
        pump(d);
        return;
    }
    if (d->qlen > 0 || ab_engine_in_flight(d->eng) > 0)
        return; /* an answer or a timer will pump again */
    /* Nothing claimable now. Retries may come due later. */
    if (flush(d) != 0) {
        pump(d);
        return;
    }
    if (d->o->limit > 0 && d->claimed >= d->o->limit) {
        /* The limit is reached: this run's retries fall to the next run. */
        stop(d, AB_END_STOPPED, NULL);
        pump(d);
        return;
    }
    next = next_retry_at(d);
    if (d->stopping) {
        pump(d);
        return;
    }
    if (next == 0) {
        stop(d, AB_END_COMPLETE, NULL);
        pump(d);
        return;
    }
    t = next - ab_now_ms();
    if (t > MAX_WAIT_MS) {
        ab_log_info("next retry is due in %lld s: leaving it to the next run",
                    (long long)(t / 1000));
        stop(d, AB_END_STOPPED, NULL);
        pump(d);
        return;
    }
    arm(d, t);
}

static void on_closed(uv_handle_t *h)
{
    struct dispatcher *d = h->data;
    d->open_handles--;
}

static void close_handle(struct dispatcher *d, uv_handle_t *h)
{
    if (!uv_is_closing(h)) {
        d->open_handles++;
        uv_close(h, on_closed);
    }
}

static void finish(struct dispatcher *d)
{
    if (d->finished)
        return;
    /* A run that ran out of work without a single answer, after real
     * transport errors (requests cancelled by a second signal do not count:
     * consecutive_transport skips them), could not reach the API. A run
     * stopped for another reason keeps that reason. */
    if (d->end == AB_END_COMPLETE && !d->got_answer &&
        d->consecutive_transport > 0) {
        d->end = AB_END_UNREACHABLE;
        ab_err_set(d->err, AB_EIO, "the API at '%s' could not be reached",
                   d->o->base_url);
    }
    flush(d);
    d->finished = 1;
    tick(d, 1);
    close_handle(d, (uv_handle_t *)&d->t_dispatch);
    close_handle(d, (uv_handle_t *)&d->t_flush);
    close_handle(d, (uv_handle_t *)&d->t_tick);
    close_handle(d, (uv_handle_t *)&d->t_runtime);
    close_handle(d, (uv_handle_t *)&d->sigint);
    close_handle(d, (uv_handle_t *)&d->sigterm);
    ab_engine_free(d->eng);
    d->eng = NULL;
}

static void init_handles(struct dispatcher *d)
{
    uv_timer_init(&d->loop, &d->t_dispatch);
    uv_timer_init(&d->loop, &d->t_flush);
    uv_timer_init(&d->loop, &d->t_tick);
    uv_timer_init(&d->loop, &d->t_runtime);
    uv_signal_init(&d->loop, &d->sigint);
    uv_signal_init(&d->loop, &d->sigterm);
    d->t_dispatch.data = d->t_flush.data = d->t_tick.data = d;
    d->t_runtime.data = d->sigint.data = d->sigterm.data = d;
    uv_timer_start(&d->t_flush, on_flush_timer, FLUSH_EVERY_MS, FLUSH_EVERY_MS);
    uv_timer_start(&d->t_tick, on_tick_timer, TICK_MS, TICK_MS);
    if (d->o->max_runtime_ms > 0)
        uv_timer_start(&d->t_runtime, on_runtime_timer,
                       (uint64_t)d->o->max_runtime_ms, 0);
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
}

int ab_dispatch_run(struct ab_store *s, const struct ab_dispatch_opts *o,
                    struct ab_run_stats *st, enum ab_dispatch_end *end,
                    struct ab_err *err)
{
    struct dispatcher *d;
    struct ab_engine_opts eo = {0};
    struct ab_counts n;
    char ua[64];
    int64_t recovered = 0;
    int rc;

    memset(st, 0, sizeof *st);
    st->exit_status = -1;
    *end = AB_END_SOFTWARE;
    if (!(d = calloc(1, sizeof *d)))
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    d->s = s;
    d->o = o;
    d->st = st;
    d->err = err;
    d->rng = (uint64_t)uv_hrtime() ^ ((uint64_t)getpid() << 32) ^
             0x9E3779B97F4A7C15ULL;
    snprintf(d->url, sizeof d->url, "%s%s", o->base_url, AB_API_PATH);
    snprintf(d->version_hdr, sizeof d->version_hdr, "version: authbatch-%s",
             AB_VERSION);
    snprintf(ua, sizeof ua, "authbatch/%s", AB_VERSION);
    d->qcap = claim_batch(o);
    d->queue = calloc((size_t)d->qcap, sizeof *d->queue);
    d->jobs = calloc((size_t)o->concurrency, sizeof *d->jobs);
    d->results = calloc(FLUSH_AT + (size_t)o->concurrency, sizeof *d->results);
    if (!d->queue || !d->jobs || !d->results) {
        rc = ab_err_set(err, AB_ENOMEM, "out of memory");
        goto out_free;
    }

    if ((rc = ab_queue_recover(s, &recovered, err)) != 0 ||
        (rc = ab_store_counts(s, &n, err)) != 0)
        goto out_free;
    if (recovered)
        ab_log_info("%lld companies left in flight by an earlier run are "
                    "due again",
                    (long long)recovered);
    st->total = n.pending + n.retry_wait;
    if (o->limit > 0 && st->total > o->limit)
        st->total = o->limit;
    st->waiting = n.retry_wait;
    st->started_ms = st->now_ms = ab_now_ms();
    if ((rc = ab_queue_run_start(s, o->options_json, &st->run_id, err)) != 0)
        goto out_free;

    if ((rc = uv_loop_init(&d->loop)) != 0) {
        rc = ab_err_set(err, AB_EIO, "cannot start the event loop: %s",
                        uv_strerror(rc));
        goto out_free;
    }
    eo.cacert = o->cacert;
    eo.timeout_ms = o->timeout_ms;
    eo.connect_timeout_ms = o->connect_timeout_ms;
    eo.max_connections = o->concurrency;
    eo.user_agent = ua;
    if ((rc = ab_engine_new(&d->loop, &eo, &d->eng, err)) != 0) {
        uv_loop_close(&d->loop);
        goto out_free;
    }
    if (!(d->rl = ab_ratelimit_new(o->rate, o->burst, now_us(d)))) {
        ab_engine_free(d->eng);
        uv_run(&d->loop, UV_RUN_DEFAULT);
        uv_loop_close(&d->loop);
        rc = ab_err_set(err, AB_ENOMEM, "out of memory");
        goto out_free;
    }
    init_handles(d);
    tick(d, 0);
    pump(d);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&d->loop) != 0)
        ab_log_debug("event loop closed with handles open");
    *end = d->end;
    rc = 0;

out_free:
    ab_ratelimit_free(d->rl);
    free(d->queue);
    free(d->jobs);
    free(d->results);
    free(d);
    return rc;
}
