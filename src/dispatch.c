#include "dispatch_internal.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "engine.h"
#include "log.h"
#include "ratelimit.h"
#include "runner.h"
#include "store_queue.h"
#include "validate.h"
#include "worksrc.h"

int64_t ab_dsp_now_us(void)
{
    return (int64_t)(uv_hrtime() / 1000);
}

double ab_dsp_uniform(struct dispatcher *d)
{
    /* xorshift64*: jitter needs spread, not secrecy. */
    d->rng ^= d->rng >> 12;
    d->rng ^= d->rng << 25;
    d->rng ^= d->rng >> 27;
    return (double)((d->rng * 2685821657736338717ULL) >> 11) /
           9007199254740992.0;
}

static void on_kick(uv_idle_t *h);

/* Asks for a step: once, at the top of the next loop iteration (an active
 * idle handle also keeps the loop from sleeping until then). */
void ab_dsp_kick(struct dispatcher *d)
{
    if (!d->finished)
        uv_idle_start(&d->kick, on_kick);
}

void ab_dsp_stop(struct dispatcher *d, enum ab_stop why, const char *fmt, ...)
{
    struct ab_err e = {0};

    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e.msg, sizeof e.msg, fmt, ap);
        va_end(ap);
        e.code = AB_EIO;
    }
    ab_stop_request(d->stop, why, fmt ? &e : NULL);
    uv_timer_stop(&d->t_send);
    ab_dsp_kick(d);
}

int ab_dsp_stopping(const struct dispatcher *d)
{
    return d->stop->why != AB_STOP_NONE;
}

/* Every source's last refill found nothing. */
static int all_dry(const struct dispatcher *d)
{
    int k;

    for (k = 0; k < d->nsrc; k++)
        if (!d->dry[k])
            return 0;
    return 1;
}

/* A source's last refill found another writer holding the database. */
static int claim_busy(const struct dispatcher *d)
{
    int k;

    for (k = 0; k < d->nsrc; k++)
        if (d->busy[k])
            return 1;
    return 0;
}

/* Something may be due again: let every source look. */
static void wake(struct dispatcher *d)
{
    memset(d->dry, 0, sizeof d->dry);
}

/* Work held by the sources and not yet handed out. */
static int held_work(const struct dispatcher *d)
{
    int k, n = 0;

    for (k = 0; k < d->nsrc; k++)
        n += ab_worksrc_len(d->src[k]);
    return n;
}

static struct ab_worksrc *source_of(struct dispatcher *d, enum ab_work_kind k)
{
    int i;

    for (i = 0; i < d->nsrc; i++)
        if (ab_worksrc_kind(d->src[i]) == k)
            return d->src[i];
    return NULL;
}

/* Fills the signed header lines of one copy of j's request. */
static int on_presend(void *ctx, int copy, struct ab_headers *h)
{
    struct job *j = ctx;
    const struct ab_creds *c = j->d->o->creds;

    if (copy > 0)
        ab_log_debug("company #%lld: re-sent on a new connection, with a "
                     "new nonce",
                     (long long)j->c.id);
    return ab_api_sign_headers(c->token, c->secret, ab_now_ms(), h) == 0 ? 0
                                                                         : -1;
}

/* A company that must not be sent is failed with why, unsent, and not
 * charged an attempt (the vendor never saw it). */
static void fail_unsendable(struct dispatcher *d, struct job *j,
                            const char *why)
{
    struct ab_result *r = ab_dsp_add_result(d);

    if (r) {
        r->company_id = j->c.id;
        r->attempt_no = j->c.attempts;
        r->started_at = ab_now_ms();
        r->status = "failed";
        r->final = AB_FINAL_FAILED;
        r->api.outcome = AB_OUT_REJECTED;
        snprintf(r->api.message, sizeof r->api.message, "not sent: %s", why);
    }
    d->st->by_outcome[AB_OUT_REJECTED]++;
    ab_log_warn("company #%lld not sent: %s", (long long)j->c.id, why);
    ab_dsp_release(j);
}

static void send_job(struct dispatcher *d, struct job *j)
{
    struct ab_engine_request rq = {0};
    struct ab_err err = {0};
    char *url = NULL;
    int rc;

    j->probe_unsent = 0;
    if (j->kind == AB_WORK_POLL) {
        if (!(url = ab_api_result_url(d->o->base_url, j->c.company_name))) {
            /* Nothing to store: the poll stays due. */
            ab_dsp_stop(d, AB_STOP_SOFTWARE,
                        "out of memory building a poll URL");
            ab_dsp_release(j);
            return;
        }
        rq.method = "GET";
        rq.url = url;
        d->st->polls++;
    } else {
        if (!(rq.body = ab_api_body(&j->c))) {
            fail_unsendable(d, j, "out of memory building the request body");
            return;
        }
        rq.method = "POST";
        rq.url = d->url;
        rq.body_len = strlen(rq.body);
        d->st->attempts++;
        if (j->c.attempts > 0 || j->probe)
            d->st->retries++;
    }
    rq.presend = on_presend;
    rq.done = ab_dsp_on_answer;
    rq.ctx = j;
    j->sent_us = ab_dsp_now_us();
    rc = ab_engine_start(d->eng, &rq, &err);
    free(url); /* the engine keeps its own copy */
    if (rc != 0) {
        /* Failed before it left: recorded like any transport failure. */
        struct ab_http_result h = {0};
        h.transport_error = err.msg;
        h.started_ms = ab_now_ms();
        ab_dsp_on_answer(j, &h);
    }
}

static struct job *free_job(struct dispatcher *d)
{
    int i;

    for (i = 0; i < d->o->concurrency; i++)
        if (!d->jobs[i].in_use)
            return &d->jobs[i];
    return NULL;
}

static void arm(struct dispatcher *d, int64_t delay_ms);

/* "<base>/<id>/<token>": where the vendor reports this company's progress
 * (the receiver, cmd_callbacks.c, checks the token). */
static int callback_url(struct dispatcher *d, struct ab_company *c)
{
    size_t n;

    if (!c->callback_token)
        return 0; /* it has a URL of its own, or no token could be had */
    n = strlen(d->o->callback_base) + strlen(c->callback_token) + 32;
    if (!(c->callback_url = malloc(n)))
        return AB_ENOMEM;
    snprintf(c->callback_url, n, "%s/%lld/%s", d->o->callback_base,
             (long long)c->id, c->callback_token);
    return 0;
}

/* The first source in priority order that has work now (refilling the
 * empty ones that are not known to be dry); NULL when none has. */
static struct ab_worksrc *source_with_work(struct dispatcher *d)
{
    struct ab_err err = {0};
    int64_t retries;
    int k, rc;

    for (k = 0; k < d->nsrc; k++) {
        struct ab_worksrc *w = d->src[k];
        if (ab_worksrc_len(w) > 0)
            return w;
        if (d->dry[k])
            continue;
        rc = ab_worksrc_refill(w, ab_now_ms(), &retries, &err);
        d->busy[k] = rc == AB_EBUSY;
        if (rc == AB_EBUSY) {
            d->dry[k] = 1; /* the flush timer tries again */
            continue;
        }
        if (rc != 0) {
            ab_dsp_stop(d, AB_STOP_DB, "%s", err.msg);
            return NULL;
        }
        if (ab_worksrc_kind(w) == AB_WORK_TICKET)
            d->st->waiting -=
                retries < d->st->waiting ? retries : d->st->waiting;
        if (ab_worksrc_len(w) > 0)
            return w;
        d->dry[k] = 1;
    }
    return NULL;
}

/* The next piece of work, in a job of its own; NULL when the sources have
 * none now. Rows other programs insert straight into companies skip the
 * import: its rules decide here whether, and in what form, a ticket is
 * requested; one that fails costs no rate slot. */
static struct job *next_company(struct dispatcher *d)
{
    char why[AB_VALIDATE_REASON_MAX];
    struct ab_worksrc *w;
    struct ab_work wk;
    struct job *j;

    while (!ab_dsp_stopping(d)) {
        if (!(w = source_with_work(d)))
            return NULL;
        if (!(j = free_job(d)))
            return NULL; /* cannot happen: in flight < concurrency */
        j->in_use = 1;
        j->d = d;
        ab_worksrc_pop(w, &wk);
        j->kind = wk.kind;
        j->c = wk.c;
        j->ticket_at = wk.ticket_at;
        j->checks = wk.checks;
        if (j->kind == AB_WORK_POLL)
            return j; /* its name was sent with the ticket */
        if (ab_validate_claimed(&j->c, why, sizeof why) != 0) {
            fail_unsendable(d, j, why);
            continue;
        }
        if (d->o->callback_base && !j->c.callback_url &&
            callback_url(d, &j->c) != 0) {
            fail_unsendable(d, j, "out of memory building the callback URL");
            continue;
        }
        return j;
    }
    return NULL;
}

/* Sends while the cap, the limiter, the queue and the state allow. */
static void send_some(struct dispatcher *d)
{
    int64_t t, next;
    struct job *j;

    while (!ab_dsp_stopping(d) && !d->backpressure &&
           ab_engine_in_flight(d->eng) < d->o->concurrency) {
        if (d->probe) {
            if (!d->probe->probe_unsent)
                return; /* the second opinion is out: wait for it */
            j = d->probe;
        } else if (!(j = d->staged) && !(j = d->staged = next_company(d))) {
            return;
        }
        if (!ab_runner_may_send(d->runner))
            return; /* the flush timer beats and kicks again */
        t = ab_dsp_now_us();
        next = ab_ratelimit_next(d->rl, t);
        if (next > t) {
            arm(d, (next - t + 999) / 1000);
            return;
        }
        ab_ratelimit_take(d->rl, t);
        if (j == d->staged)
            d->staged = NULL;
        send_job(d, j);
    }
}

static int commit(struct dispatcher *d)
{
    struct ab_err err = {0};
    int64_t vanished, dropped, now = ab_now_ms();
    int64_t deadline = d->o->commit_deadline_ms > 0 ? d->o->commit_deadline_ms
                                                    : COMMIT_DEADLINE_MS;
    int n = ab_batch_len(d->batch), rc;

    if (n == 0)
        return 0;
    rc = ab_batch_commit(d->batch, d->st, &vanished, &dropped, &err);
    if (rc == 0) {
        if (d->commit_failing_since)
            ab_log_info("results stored again (%d waiting were committed); "
                        "sending resumes",
                        n);
        d->commit_failing_since = 0;
        d->backpressure = 0;
        wake(d); /* retries written just now, or rows others added */
        return 0;
    }
    /* Nothing was written and nothing is lost: the results stay here. */
    d->backpressure = 1;
    if (!d->commit_failing_since) {
        d->commit_failing_since = now;
        ab_log_warn("cannot store %d results yet: %s; keeping them, sending "
                    "nothing new, retrying every %d ms",
                    n, err.msg, FLUSH_EVERY_MS);
    }
    if (rc != AB_EBUSY) {
        d->commit_fatal = 1;
        ab_dsp_stop(d, AB_STOP_DB, "%s", err.msg);
    } else if (now - d->commit_failing_since > deadline) {
        d->commit_fatal = 1;
        ab_dsp_stop(d, AB_STOP_DB,
                    "results could not be stored for %lld s (%s): giving up",
                    (long long)((now - d->commit_failing_since) / 1000),
                    err.msg);
    }
    return rc;
}

static void finish(struct dispatcher *d);

/* Stopping: give back what was never sent, wait for what is out, store
 * everything, then end. */
static void wind_down(struct dispatcher *d)
{
    struct ab_err err = {0};

    int k;

    if (d->staged) {
        /* Claimed and never sent: back to pending, like the queue (a poll
         * was never marked: it is still due). */
        int64_t id = d->staged->c.id;
        int ticket = d->staged->kind == AB_WORK_TICKET;
        ab_dsp_release(d->staged);
        d->staged = NULL;
        if (ticket && ab_queue_release(d->s, &id, 1, &err) != 0)
            ab_log_warn("%s (that company is due again in the next run)",
                        err.msg);
    }
    for (k = 0; k < d->nsrc; k++)
        if (ab_worksrc_len(d->src[k]) > 0 &&
            ab_worksrc_release(d->src[k], &err) != 0)
            ab_log_warn("%s (those companies are due again in the next run)",
                        err.msg);
    if (ab_engine_in_flight(d->eng) > 0)
        return; /* their answers ask for the next step */
    if (d->probe)
        ab_dsp_release(d->probe); /* the second opinion was never asked */
    /* Nothing decided what these answers mean: not the companies' fault. */
    ab_dsp_settle(d, &d->refused, 0, AB_OUT_TRANSIENT);
    ab_dsp_settle(d, &d->foreign, 0, AB_OUT_THROTTLED);
    if (commit(d) != 0 && !d->commit_fatal)
        return; /* busy: the flush timer tries again */
    if (ab_batch_len(d->batch) > 0)
        ab_log_error("%d results could not be stored; those companies stay "
                     "in flight and are asked again by the next run",
                     ab_batch_len(d->batch));
    finish(d);
}

/* On a shared store: how long until companies other runs hold may be due
 * (ms, at least 1; capped at half a second, to notice when they are done),
 * 0 when they hold none, -1 when stopped. */
static int64_t others(struct dispatcher *d)
{
    struct ab_err err = {0};
    int64_t n, due;

    if (ab_queue_held_elsewhere(d->s, d->st->run_id, &n, &due, &err) != 0) {
        ab_dsp_stop(d, AB_STOP_DB, "%s", err.msg);
        return -1;
    }
    if (n == 0)
        return 0;
    if (!d->waiting_said) {
        d->waiting_said = 1;
        ab_log_info("nothing left to claim; waiting for the %lld companies "
                    "other runs hold (due again if their leases run out)",
                    (long long)n);
    }
    return due < 1 ? 1 : due > 500 ? 500 : due;
}

/* Polls at idle: 1 when the cursor was rewound (work due behind it), else
 * 0 with *wait the time until a poll retry this run wrote (-1: none). */
static int idle_polls(struct dispatcher *d, int64_t *wait)
{
    struct ab_err err = {0};
    int64_t due, first, next, now = ab_now_ms();
    int64_t progress = d->st->polled + d->st->polls_failed;

    *wait = -1;
    /* Everything answered this run is due after its start: what is due
     * at the start was missed by the cursor (written behind it). And a
     * ticket's first check that is due now is made now (once per ticket,
     * so a fast schedule is not chased for ever). One more pass, unless
     * the last one made no progress (a result that cannot be stored would
     * be polled for ever). */
    if (ab_track_pending(d->s, d->st->started_ms, &due, &next, &err) != 0 ||
        ab_track_first_due(d->s, now, &first, &err) != 0) {
        ab_dsp_stop(d, AB_STOP_DB, "%s", err.msg);
        return 0;
    }
    if (due + first > 0 && (!d->rewound || progress > d->polled_at_rewind)) {
        ab_worksrc_rewind(source_of(d, AB_WORK_POLL));
        d->rewound = 1;
        d->polled_at_rewind = progress;
        wake(d);
        ab_dsp_kick(d);
        return 1;
    }
    /* Checks the schedule puts later are left to a later run; a retry
     * this run wrote is waited for like a ticket's. */
    if (d->poll_retry_until > now && next > 0)
        *wait = next > now ? next - now : 0;
    return 0;
}

/* Nothing in flight, nothing claimable now: done, or wait for a retry. */
static void idle(struct dispatcher *d)
{
    struct ab_err err = {0};
    int64_t n = 0, next, wait = -1, pwait, held;

    /* Foreign answers still held: no vendor answer is coming to decide
     * (nothing is in flight), so they are retried like transient ones. */
    ab_dsp_settle(d, &d->foreign, 1, AB_OUT_THROTTLED);
    if (commit(d) != 0)
        return; /* retries must be in the file before looking for them */
    if (ab_worksrc_limit_reached(d->src[0])) {
        ab_dsp_stop(d, AB_STOP_LIMIT, NULL); /* retries fall to the next run */
        return;
    }
    if (!d->o->no_tickets) {
        if (ab_queue_retry_wait(d->s, &n, &next, &err) != 0) {
            ab_dsp_stop(d, AB_STOP_DB, "%s", err.msg);
            return;
        }
        d->st->waiting = n;
        if (n > 0) {
            wait = next - ab_now_ms();
            if (wait < 0)
                wait = 0; /* due now: -1 means nothing to wait for */
        }
    }
    if (d->o->track) {
        if (idle_polls(d, &pwait) || ab_dsp_stopping(d))
            return;
        if (pwait >= 0 && (wait < 0 || pwait < wait))
            wait = pwait;
    }
    /* Companies other runs hold on a shared store: due when their leases
     * run out, unless those runs finish them first. */
    if (!d->o->no_tickets) {
        if ((held = others(d)) < 0)
            return;
        if (held > 0 && (wait < 0 || held < wait))
            wait = held;
    }
    if (wait < 0) {
        ab_dsp_stop(d, AB_STOP_COMPLETE, NULL);
        return;
    }
    if (wait > HORIZON_MS) {
        ab_log_info("next retry is due in %lld s: leaving it to the next run",
                    (long long)(wait / 1000));
        ab_dsp_stop(d, AB_STOP_HORIZON, NULL);
        return;
    }
    arm(d, wait);
}

/* The scheduling point: runs once per loop iteration while kicked. */
static void step(struct dispatcher *d)
{
    const char *why;

    if (d->finished)
        return;
    if (ab_engine_broken(d->eng, &why))
        ab_dsp_stop(d, AB_STOP_SOFTWARE, "%s", why);
    if (d->flush_due || ab_batch_len(d->batch) >= FLUSH_AT) {
        d->flush_due = 0;
        commit(d);
    }
    if (!ab_dsp_stopping(d))
        send_some(d);
    if (ab_dsp_stopping(d)) {
        wind_down(d);
        return;
    }
    if (ab_engine_in_flight(d->eng) == 0 && held_work(d) == 0 && !d->staged &&
        all_dry(d) && !claim_busy(d) && !d->probe && !d->backpressure)
        idle(d);
    if (ab_dsp_stopping(d))
        wind_down(d);
}

static void on_kick(uv_idle_t *h)
{
    struct dispatcher *d = h->data;
    uv_idle_stop(h);
    step(d);
}

static void on_send_timer(uv_timer_t *t)
{
    struct dispatcher *d = t->data;
    wake(d);
    ab_dsp_kick(d);
}

static void arm(struct dispatcher *d, int64_t delay_ms)
{
    if (delay_ms < 0)
        delay_ms = 0;
    uv_timer_start(&d->t_send, on_send_timer, (uint64_t)delay_ms, 0);
}

/* Renews the run's leases when due (runner.h); the tickets claimed and
 * not sent when the lease had run out are given back unsent: those another
 * run took meanwhile are its own (the release leaves them alone), the
 * others would stay in flight under leases this run renews. */
static void beat(struct dispatcher *d)
{
    struct ab_err err = {0};
    int could = ab_runner_may_send(d->runner), k;

    if (ab_runner_beat(d->runner, d->rl, ab_dsp_now_us())) {
        if (d->staged && d->staged->kind == AB_WORK_TICKET) {
            int64_t id = d->staged->c.id;
            ab_dsp_release(d->staged);
            d->staged = NULL;
            if (ab_queue_release(d->s, &id, 1, &err) != 0)
                ab_log_warn("%s (that company is due again when its lease "
                            "runs out)",
                            err.msg);
        }
        for (k = 0; k < d->nsrc; k++) {
            if (ab_worksrc_kind(d->src[k]) != AB_WORK_TICKET) {
                ab_worksrc_forget(d->src[k]);
                continue;
            }
            if (ab_worksrc_release(d->src[k], &err) != 0)
                ab_log_warn("%s (those companies are due again when their "
                            "leases run out)",
                            err.msg);
        }
        wake(d);
    }
    if (!could && ab_runner_may_send(d->runner))
        ab_dsp_kick(d);
}

static void on_flush_timer(uv_timer_t *t)
{
    struct dispatcher *d = t->data;
    if (!d->finished)
        beat(d);
    if (ab_batch_len(d->batch) > 0 || d->backpressure || ab_dsp_stopping(d)) {
        d->flush_due = 1;
        ab_dsp_kick(d);
    } else if (claim_busy(d)) {
        wake(d); /* claim again */
        ab_dsp_kick(d);
    } else if (memchr(d->dry, 1, sizeof d->dry) &&
               ab_engine_in_flight(d->eng) > 0) {
        wake(d); /* rows other programs added, retries and polls due */
        ab_dsp_kick(d);
    }
}

static void tick(struct dispatcher *d, int rotate)
{
    int64_t sum = 0, fin;
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
    {
        struct ab_ratelimit_stats rs;
        ab_ratelimit_stats(d->rl, &rs);
        d->st->rate_limit = rs.rate;
        d->st->rate_estimate = rs.estimate;
        d->st->limiter_phase = ab_ratelimit_phase_name(rs.phase);
        /* Say what was found of the vendor's unpublished limit, once per
         * real change. */
        if (rs.estimate > 0 && (d->logged_estimate <= 0 ||
                                rs.estimate > d->logged_estimate * 1.1 ||
                                rs.estimate < d->logged_estimate / 1.1)) {
            d->logged_estimate = rs.estimate;
            ab_log_info("the API throttles above about %.0f requests/s: "
                        "sending at %.0f/s",
                        rs.estimate, rs.rate > 0 ? rs.rate : rs.estimate);
        }
    }
    /* Polls that came due during the run join the target. */
    fin = d->st->done + d->st->already_authed + d->st->failed + d->st->polled +
          d->st->polls_failed;
    if (d->o->track && fin > d->st->total)
        d->st->total = fin;
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
    if (!ab_dsp_stopping(d))
        ab_log_info("max runtime reached: no new requests; waiting for %d "
                    "in flight",
                    ab_engine_in_flight(d->eng));
    ab_dsp_stop(d, AB_STOP_RUNTIME, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct dispatcher *d = h->data;

    d->signals++;
    if (d->signals == 1) {
        ab_log_info("%s: no new requests; waiting for %d in flight "
                    "(again to cancel them)",
                    signum == SIGINT ? "interrupted" : "terminated",
                    ab_engine_in_flight(d->eng));
        ab_dsp_stop(d, AB_STOP_SIGNAL, NULL);
    } else if (!d->cancelled) {
        ab_log_info("cancelling %d requests in flight",
                    ab_engine_in_flight(d->eng));
        d->cancelled = 1;
        ab_engine_cancel_all(d->eng);
    }
    ab_dsp_kick(d);
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
     * consecutive_transport skips them), could not reach the API. */
    if (d->stop->why == AB_STOP_COMPLETE && !d->got_answer &&
        d->consecutive_transport > 0)
        ab_dsp_stop(d, AB_STOP_UNREACHABLE,
                    "the API at '%s' could not be reached", d->o->base_url);
    d->finished = 1;
    ab_runner_leave(d->runner);
    tick(d, 1);
    close_handle(d, (uv_handle_t *)&d->kick);
    close_handle(d, (uv_handle_t *)&d->t_send);
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
    uv_idle_init(&d->loop, &d->kick);
    uv_timer_init(&d->loop, &d->t_send);
    uv_timer_init(&d->loop, &d->t_flush);
    uv_timer_init(&d->loop, &d->t_tick);
    uv_timer_init(&d->loop, &d->t_runtime);
    uv_signal_init(&d->loop, &d->sigint);
    uv_signal_init(&d->loop, &d->sigterm);
    d->kick.data = d->t_send.data = d->t_flush.data = d->t_tick.data = d;
    d->t_runtime.data = d->sigint.data = d->sigterm.data = d;
    uv_timer_start(&d->t_flush, on_flush_timer, FLUSH_EVERY_MS, FLUSH_EVERY_MS);
    uv_timer_start(&d->t_tick, on_tick_timer, TICK_MS, TICK_MS);
    if (d->o->max_runtime_ms > 0) {
        uv_timer_start(&d->t_runtime, on_runtime_timer,
                       (uint64_t)d->o->max_runtime_ms, 0);
        d->runtime_end_ms = ab_now_ms() + d->o->max_runtime_ms;
    }
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
}

/* Companies to claim per transaction: enough for CLAIM_AHEAD_MS of sending
 * at the configured rate (CLAIM_MAX when unlimited; twice the concurrency
 * at most on a shared store), never fewer than the concurrency. One transaction
 * per claim costs a commit; a claimed company shows 'in_flight' until it is
 * sent, so a slow run claims little ahead. */
static int claim_batch(const struct ab_dispatch_opts *o, int shared)
{
    double ahead = o->rate > 0 ? o->rate * CLAIM_AHEAD_MS / 1000.0 : CLAIM_MAX;
    int n = ahead < CLAIM_MAX ? (int)ahead : CLAIM_MAX;
    /* Runs sharing the queue: what one claims, the others wait for, so
     * each claims little more than it has slots for. */
    if (shared && n > 2 * o->concurrency)
        n = 2 * o->concurrency;
    return n > o->concurrency ? n : o->concurrency;
}

static int start(struct dispatcher *d, struct ab_err *err)
{
    struct ab_engine_opts eo = {0};
    struct ab_counts n;
    char ua[64];
    int64_t recovered = 0, polls_due = 0, next;
    int rc;

    if ((rc = ab_queue_run_start(d->s, d->o->command ? d->o->command : "run",
                                 d->o->options_json, &d->st->run_id, err)) !=
            0 ||
        (rc = ab_queue_recover(d->s, d->st->run_id, &recovered, err)) != 0 ||
        (rc = ab_store_counts(d->s, &n, err)) != 0)
        return rc;
    if (recovered)
        ab_log_info("%lld companies left in flight by an earlier run are "
                    "due again",
                    (long long)recovered);
    d->st->started_ms = d->st->now_ms = ab_now_ms();
    if (d->o->track && (rc = ab_track_pending(d->s, d->st->started_ms,
                                              &polls_due, &next, err)) != 0)
        return rc;
    if (!d->o->no_tickets) {
        d->st->total = n.pending + n.retry_wait;
        if (d->o->limit > 0 && d->st->total > d->o->limit)
            d->st->total = d->o->limit;
        d->st->waiting = n.retry_wait;
    } else if (d->o->limit > 0 && polls_due > d->o->limit) {
        polls_due = d->o->limit;
    }
    d->st->polls_due = polls_due;
    d->st->total += polls_due;
    /* From here on no statement may freeze the loop for long; and a
     * committed ticket survives a power cut (store.h: FULL is cheap at a
     * run's commit rate). */
    ab_store_set_busy_timeout(d->s, RUN_BUSY_MS);
    if ((rc = ab_store_durable(d->s, err)) != 0)
        return rc;

    d->batch = ab_batch_new(d->s, d->st->run_id);
    if (!d->o->no_tickets &&
        !(d->src[d->nsrc++] = ab_worksrc_tickets(
              d->s, d->st->run_id, claim_batch(d->o, ab_store_shared(d->s)),
              d->o->limit, d->o->callback_base != NULL)))
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    if (d->o->track && !(d->src[d->nsrc++] = ab_worksrc_polls(
                             d->s, claim_batch(d->o, ab_store_shared(d->s)),
                             d->o->no_tickets ? d->o->limit : 0)))
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    d->rl = ab_ratelimit_new(d->o->rate, d->o->burst, ab_dsp_now_us());
    d->runner = ab_runner_new(d->s, d->st->run_id, d->o->lease_ms,
                              d->o->timeout_ms, d->o->rate, d->o->burst);
    if (!d->batch || !d->rl || d->nsrc == 0 || !d->runner)
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    if ((rc = ab_runner_join(d->runner, d->rl, ab_dsp_now_us(), err)) != 0)
        return rc;
    if ((rc = uv_loop_init(&d->loop)) != 0) /* the system's resources: 70 */
        return ab_err_set(err, AB_ENOMEM, "cannot start the event loop: %s",
                          uv_strerror(rc));
    snprintf(ua, sizeof ua, "authbatch/%s", AB_VERSION);
    eo.cacert = d->o->cacert;
    eo.timeout_ms = d->o->timeout_ms;
    eo.connect_timeout_ms = d->o->connect_timeout_ms;
    eo.max_connections = d->o->concurrency;
    eo.threads = d->o->workers;
    eo.user_agent = ua;
    rc = ab_engine_new(&d->loop, &eo, &d->eng, err);
    if (rc != 0 && eo.threads > 0) {
        /* Threads are for speed only (a container's task limit may refuse
         * them): the run's own loop can do the network work as well. */
        ab_log_warn("%s: doing the network work on the run's own loop "
                    "(--workers 0)",
                    err->msg);
        eo.threads = 0;
        rc = ab_engine_new(&d->loop, &eo, &d->eng, err);
    }
    if (rc != 0) {
        uv_loop_close(&d->loop);
        return rc;
    }
    init_handles(d);
    return 0;
}

int ab_dispatch_run(struct ab_store *s, const struct ab_dispatch_opts *o,
                    struct ab_run_stats *st, struct ab_stopper *stp,
                    struct ab_err *err)
{
    struct dispatcher *d;
    int rc, i;

    memset(st, 0, sizeof *st);
    memset(stp, 0, sizeof *stp);
    st->exit_status = -1;
    if (!(d = calloc(1, sizeof *d)))
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    d->s = s;
    d->o = o;
    d->st = st;
    d->stop = stp;
    d->rng = (uint64_t)uv_hrtime() ^ ((uint64_t)getpid() << 32) ^
             0x9E3779B97F4A7C15ULL;
    snprintf(d->url, sizeof d->url, "%s%s", o->base_url, AB_API_PATH);
    if (!(d->jobs = calloc((size_t)o->concurrency, sizeof *d->jobs))) {
        rc = ab_err_set(err, AB_ENOMEM, "out of memory");
        goto out_free;
    }
    if ((rc = start(d, err)) != 0)
        goto out_free;
    tick(d, 0);
    ab_dsp_kick(d);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&d->loop) != 0)
        ab_log_debug("event loop closed with handles open");
    rc = 0;

out_free:
    if (d->jobs) {
        for (i = 0; i < o->concurrency; i++)
            ab_company_release(&d->jobs[i].c);
    }
    for (i = 0; i < d->nsrc; i++)
        ab_worksrc_free(d->src[i]);
    ab_batch_free(d->batch);
    ab_runner_leave(d->runner); /* when it never got to finish() */
    ab_ratelimit_free(d->rl);
    ab_runner_free(d->runner);
    free(d->refused.h);
    free(d->foreign.h);
    free(d->jobs);
    free(d);
    return rc;
}
