#include "engine.h"

#include <stdlib.h>
#include <string.h>

#include "netloop.h"

/* A request on its way to a network thread and back. */
struct msg {
    struct msg *next;
    struct worker *w;
    struct ab_engine_request rq; /* the caller's; rq.url points at url */
    char *url;
    struct ab_http_result res; /* the answer, its strings in text */
    char *text;
};

/* One network loop on a thread of its own. Fields under mu are shared with
 * the caller's thread; the rest belong to one side, as marked. */
struct worker {
    struct ab_engine *e;
    uv_thread_t tid;
    int started;
    uv_loop_t loop;         /* the thread's */
    uv_async_t wake;        /* the thread's: new requests, cancel, quit */
    struct ab_netloop *net; /* the thread's */
    uv_mutex_t mu;
    struct msg *inbox, **inbox_tail; /* under mu */
    int cancel, quit;                /* under mu */
    int broken;                      /* under mu */
    char why[256];                   /* under mu */
    int load;                        /* the caller's: requests out here */
};

struct ab_engine {
    uv_loop_t *loop; /* the caller's */
    int threads;
    struct ab_netloop *net; /* threads == 0: on the caller's loop */
    struct worker w[AB_ENGINE_MAX_THREADS];
    uv_async_t answered; /* on the caller's loop */
    uv_mutex_t mu;
    struct msg *outbox, **outbox_tail; /* under mu */
    int in_flight;                     /* the caller's */
    int freeing;
};

/* --- on a network thread ------------------------------------------------ */

static int on_presend(void *ctx, int copy, struct ab_headers *h)
{
    struct msg *m = ctx;
    return m->rq.presend(m->rq.ctx, copy, h);
}

/* Copies what came back, for the caller's thread. */
static void keep(struct msg *m, const struct ab_http_result *r)
{
    const char *s[4] = {r->transport_error, r->body, r->content_type,
                        r->location};
    size_t len[4], n = 0, i;
    char *p;

    m->res = *r;
    for (i = 0; i < 4; i++) {
        len[i] = s[i] ? (i == 1 ? r->body_len : strlen(s[i])) : 0;
        n += len[i] + 1;
    }
    if (!(p = m->text = malloc(n))) {
        memset(&m->res, 0, sizeof m->res);
        m->res.transport_error = "out of memory keeping an answer";
        return;
    }
    for (i = 0; i < 4; i++) {
        const char **dst = i == 0   ? &m->res.transport_error
                           : i == 1 ? &m->res.body
                           : i == 2 ? &m->res.content_type
                                    : &m->res.location;
        if (!s[i]) {
            *dst = NULL;
            continue;
        }
        memcpy(p, s[i], len[i]);
        p[len[i]] = '\0';
        *dst = p;
        p += len[i] + 1;
    }
}

static void post_answer(struct msg *m)
{
    struct ab_engine *e = m->w->e;

    m->next = NULL;
    uv_mutex_lock(&e->mu);
    *e->outbox_tail = m;
    e->outbox_tail = &m->next;
    uv_mutex_unlock(&e->mu);
    uv_async_send(&e->answered);
}

static void on_net_done(void *ctx, const struct ab_http_result *r)
{
    struct msg *m = ctx;
    const char *why;

    keep(m, r);
    if (ab_netloop_broken(m->w->net, &why)) {
        uv_mutex_lock(&m->w->mu);
        if (!m->w->broken) {
            m->w->broken = 1;
            strncpy(m->w->why, why, sizeof m->w->why - 1);
        }
        uv_mutex_unlock(&m->w->mu);
    }
    post_answer(m);
}

static void on_worker_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_wake(uv_async_t *a)
{
    struct worker *w = a->data;
    struct msg *m, *next;
    struct ab_err err = {0};
    int cancel, quit;

    uv_mutex_lock(&w->mu);
    m = w->inbox;
    w->inbox = NULL;
    w->inbox_tail = &w->inbox;
    cancel = w->cancel;
    quit = w->quit;
    w->cancel = 0;
    uv_mutex_unlock(&w->mu);
    for (; m; m = next) {
        struct ab_engine_request rq = m->rq;
        next = m->next;
        rq.presend = on_presend;
        rq.done = on_net_done;
        rq.ctx = m;
        m->rq.body = NULL; /* the network loop has it now */
        if (quit || ab_netloop_start(w->net, &rq, &err) != 0) {
            struct ab_http_result r = {0};
            if (quit)
                free(rq.body);
            r.transport_error = quit ? "cancelled" : err.msg;
            keep(m, &r);
            post_answer(m);
        }
    }
    if (cancel || quit)
        ab_netloop_cancel_all(w->net);
    if (quit) {
        ab_netloop_free(w->net);
        w->net = NULL;
        uv_close((uv_handle_t *)&w->wake, on_worker_closed);
    }
}

static void worker_main(void *arg)
{
    struct worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

/* --- on the caller's thread --------------------------------------------- */

static void on_answered(uv_async_t *a)
{
    struct ab_engine *e = a->data;
    struct msg *m, *next;

    uv_mutex_lock(&e->mu);
    m = e->outbox;
    e->outbox = NULL;
    e->outbox_tail = &e->outbox;
    uv_mutex_unlock(&e->mu);
    for (; m; m = next) {
        next = m->next;
        m->w->load--;
        e->in_flight--;
        m->rq.done(m->rq.ctx, &m->res);
        free(m->text);
        free(m->url);
        free(m);
    }
}

static void stop_workers(struct ab_engine *e)
{
    int i;

    for (i = 0; i < e->threads; i++) {
        struct worker *w = &e->w[i];
        if (!w->started)
            continue;
        uv_mutex_lock(&w->mu);
        w->quit = 1;
        uv_mutex_unlock(&w->mu);
        uv_async_send(&w->wake);
    }
    for (i = 0; i < e->threads; i++) {
        struct worker *w = &e->w[i];
        if (w->started) {
            uv_thread_join(&w->tid);
            uv_loop_close(&w->loop);
            w->started = 0;
        }
        uv_mutex_destroy(&w->mu);
    }
}

static void on_engine_closed(uv_handle_t *h)
{
    struct ab_engine *e = h->data;
    uv_mutex_destroy(&e->mu);
    free(e);
}

static int start_workers(struct ab_engine *e, const struct ab_engine_opts *o,
                         struct ab_err *err)
{
    int i, rc;

    for (i = 0; i < e->threads; i++) {
        e->w[i].e = e;
        e->w[i].inbox_tail = &e->w[i].inbox;
        uv_mutex_init(&e->w[i].mu); /* destroyed by stop_workers() */
    }
    for (i = 0; i < e->threads; i++) {
        struct worker *w = &e->w[i];
        if ((rc = uv_loop_init(&w->loop)) != 0)
            return ab_err_set(err, AB_EIO, "cannot start a network loop: %s",
                              uv_strerror(rc));
        /* Made here, before the thread runs: nothing touches it yet. */
        if ((rc = ab_netloop_new(&w->loop, o, &w->net, err)) != 0) {
            uv_loop_close(&w->loop);
            return rc;
        }
        uv_async_init(&w->loop, &w->wake, on_wake);
        w->wake.data = w;
        if ((rc = uv_thread_create(&w->tid, worker_main, w)) != 0) {
            ab_netloop_free(w->net);
            uv_close((uv_handle_t *)&w->wake, on_worker_closed);
            uv_run(&w->loop, UV_RUN_DEFAULT);
            uv_loop_close(&w->loop);
            return ab_err_set(err, AB_EIO, "cannot start a network thread: %s",
                              uv_strerror(rc));
        }
        w->started = 1;
    }
    return 0;
}

int ab_engine_new(uv_loop_t *loop, const struct ab_engine_opts *o,
                  struct ab_engine **out, struct ab_err *err)
{
    struct ab_engine *e;
    int rc;

    *out = NULL;
    if (!(e = calloc(1, sizeof *e)))
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    e->loop = loop;
    e->threads = o->threads < 0                       ? 0
                 : o->threads > AB_ENGINE_MAX_THREADS ? AB_ENGINE_MAX_THREADS
                                                      : o->threads;
    if (e->threads == 0) {
        if ((rc = ab_netloop_new(loop, o, &e->net, err)) != 0) {
            free(e);
            return rc;
        }
        *out = e;
        return 0;
    }
    uv_mutex_init(&e->mu);
    e->outbox_tail = &e->outbox;
    /* Nothing on the caller's loop until every thread runs: a failure
     * leaves that loop as it was (its caller may close it at once). No
     * thread posts an answer before it is given a request. */
    if ((rc = start_workers(e, o, err)) != 0) {
        stop_workers(e);
        uv_mutex_destroy(&e->mu);
        free(e);
        return rc;
    }
    uv_async_init(loop, &e->answered, on_answered);
    e->answered.data = e;
    *out = e;
    return 0;
}

int ab_engine_start(struct ab_engine *e, const struct ab_engine_request *rq,
                    struct ab_err *err)
{
    struct worker *w = NULL;
    struct msg *m;
    const char *why;
    int i;

    if (e->net)
        return ab_netloop_start(e->net, rq, err);
    if (ab_engine_broken(e, &why)) {
        free(rq->body);
        return ab_err_set(err, AB_EIO, "%s", why);
    }
    for (i = 0; i < e->threads; i++)
        if (!w || e->w[i].load < w->load)
            w = &e->w[i];
    if (!(m = calloc(1, sizeof *m)) || !(m->url = strdup(rq->url))) {
        free(m);
        free(rq->body);
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    }
    m->w = w;
    m->rq = *rq;
    m->rq.url = m->url;
    w->load++;
    e->in_flight++;
    uv_mutex_lock(&w->mu);
    *w->inbox_tail = m;
    w->inbox_tail = &m->next;
    uv_mutex_unlock(&w->mu);
    uv_async_send(&w->wake);
    return 0;
}

int ab_engine_in_flight(const struct ab_engine *e)
{
    return e->net ? ab_netloop_in_flight(e->net) : e->in_flight;
}

void ab_engine_cancel_all(struct ab_engine *e)
{
    int i;

    if (e->net) {
        ab_netloop_cancel_all(e->net);
        return;
    }
    for (i = 0; i < e->threads; i++) {
        uv_mutex_lock(&e->w[i].mu);
        e->w[i].cancel = 1;
        uv_mutex_unlock(&e->w[i].mu);
        uv_async_send(&e->w[i].wake);
    }
}

int ab_engine_broken(const struct ab_engine *e, const char **why)
{
    int i, broken = 0;

    if (e->net)
        return ab_netloop_broken(e->net, why);
    if (why)
        *why = NULL;
    for (i = 0; i < e->threads && !broken; i++) {
        struct worker *w = (struct worker *)&e->w[i];
        uv_mutex_lock(&w->mu);
        broken = w->broken;
        if (broken && why)
            *why = w->why; /* written once, before broken was set */
        uv_mutex_unlock(&w->mu);
    }
    return broken;
}

void ab_engine_free(struct ab_engine *e)
{
    if (!e || e->freeing)
        return;
    e->freeing = 1;
    if (e->net) {
        ab_netloop_free(e->net); /* frees itself once its handles close */
        free(e);
        return;
    }
    /* The threads cancel what they still have and end; their answers are
     * delivered here before the engine goes. */
    stop_workers(e);
    on_answered(&e->answered);
    uv_close((uv_handle_t *)&e->answered, on_engine_closed);
}
