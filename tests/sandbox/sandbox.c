/*
 * qys-sandbox -- a local stand-in for the Qiyuesuo endpoints
 * POST /companyauth/miniappexchange and GET /companyauth/result, with faults
 * on demand, seeded applicants and the vendor's callbacks.
 *
 * Threads: libmicrohttpd runs an epoll thread pool; one timer thread resumes
 * suspended connections whose delayed answer is due (latency, jitter, slow
 * fault); one sender thread posts callbacks (sbx_callback); the main thread
 * waits for SIGINT/SIGTERM and shuts down.
 *
 * Every request owns a struct req (MHD's per-request context, made in
 * on_mhd_uri). An API request's answer is decided once the body is in
 * (sandbox_decide), possibly parked in the timer heap, and sent by
 * sandbox_finish. Counters live in struct stats behind one mutex; the
 * vendor's records (tickets, companies, applicants) in sbx_auth.
 * See README.md for the flags, codes and JSON shapes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strdup, getline, strncasecmp */
#endif

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/rand.h>

#include "sbx_auth.h"
#include "sbx_callback.h"
#include "sbx_check.h"
#include "sbx_clock.h"
#include "sbx_fault.h"
#include "sbx_front.h"
#include "sbx_limit.h"
#include "sbx_nonce.h"
#include "sbx_query.h"

#define API_PATH "/companyauth/miniappexchange"
#define RESULT_PATH "/companyauth/result"
#define JSON_CTYPE "application/json;charset=UTF-8"
#define MAX_BODY (1024 * 1024)
#define SHUTDOWN_GRACE_MS 1000

#define EXIT_USAGE 64
#define EXIT_NOINPUT 66
#define EXIT_UNAVAILABLE 69
#define EXIT_OSERR 71

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

struct cfg {
    unsigned int port;
    const char *token;
    const char *secret;
    uint64_t seed;
    int no_replay_check;
    const char *authed_marker;
    const char *invalid_marker;
    const char *authed_list_path;
    const char *invalid_list_path;
    struct sbx_fault_rates rates;
    int64_t slow_ms;
    unsigned int retry_after;
    int64_t latency_ms;
    int64_t jitter_ms;
    uint64_t limit_rps; /* --limit-rps (--max-rps) */
    enum sbx_limit_window limit_window;
    int limit_code; /* --limit-signal code: 200 + 11990006, no Retry-After */
    unsigned int limit_retry_after;
    int limit_arrivals;
    struct sbx_limit_step *limit_steps;
    size_t limit_nsteps;
    int64_t window_ms;
    int64_t clock_offset_ms;
    uint64_t spurious_n;
    long long spurious_code;
    enum sbx_front front;
    struct sbx_auth_opts auth;
    struct sbx_callback_opts callback;
    int no_callbacks;
    const char *stats_file;
    const char *tls_cert;
    const char *tls_key;
    unsigned int threads;
    unsigned int max_connections;
};

/* ------------------------------------------------------------------ */
/* Answer classes and counters                                         */
/* ------------------------------------------------------------------ */

enum cls {
    CLS_ISSUED = 0,
    CLS_ALREADY_AUTHED,
    CLS_REJECTED,
    CLS_THROTTLED,
    CLS_TRANSIENT,
    CLS_FATAL,
    CLS_RESULT,  /* GET /companyauth/result answered with code 0 */
    CLS_ABORTED, /* decided, but the server shut down / client left first */
    CLS_COUNT
};

static const char *const cls_names[CLS_COUNT] = {
    "issued",    "already_authed", "rejected", "throttled",
    "transient", "fatal",          "result",   "aborted"};

#define FAULT_MAX_RPS SBX_FAULT_COUNT /* extra slot after the PRNG faults */
#define MAX_CODES 64

struct per_second {
    int64_t sec;
    uint64_t n;
};

struct code_count {
    long long code;
    uint64_t n;
};

struct stats {
    pthread_mutex_t mu;
    uint64_t requests;
    uint64_t answers[CLS_COUNT];
    uint64_t faults[SBX_FAULT_COUNT + 1];
    uint64_t sig_failures;
    uint64_t replays;
    uint64_t spurious_fatal;
    uint64_t front_answers;
    uint64_t in_flight;
    uint64_t max_concurrent;
    uint64_t max_per_second;
    struct per_second *ps;
    size_t nps, capps;
    struct code_count codes[MAX_CODES];
    size_t ncodes;
    struct code_count results[MAX_CODES]; /* result status -> answers */
    size_t nresults;
};

/* ------------------------------------------------------------------ */
/* Per-request state                                                   */
/* ------------------------------------------------------------------ */

enum kind {
    K_NONE, /* not routed yet */
    K_API,  /* one of the vendor's endpoints: see enum endpoint */
    K_LEDGER,
    K_STATS,
    K_TRUTH,
    K_CALLBACKS,
    K_NOTFOUND,
    K_FRONT
};
enum endpoint { EP_TICKET, EP_RESULT };
enum rstate { S_READING, S_DECIDED };

struct req {
    enum kind kind;
    enum endpoint endpoint;
    char *query; /* EP_RESULT: the raw query string (after '?'), or NULL */
    enum rstate state;
    char *body;
    size_t len, cap;
    int too_big;
    int over_rps;
    int released; /* counted in stats.answers, in_flight decremented */
    int abort;    /* set by the timer at shutdown: close without answer */
    /* the decided answer */
    enum cls cls;
    unsigned int status;
    int has_code;
    long long code;
    char *out;
    size_t outlen;
    const char *ctype;
    int retry_after; /* seconds, or -1: no header */
    int reset;
    int reset_after_read; /* decide and issue as usual, then reset */
    int issue; /* success: make the ticket when the answer goes out */
    struct sbx_ticket_fields fields; /* owned; set when issue */
    size_t seq;                      /* seq of the ticket issued, or 0 */
    int64_t delay_ms;
    /* Wall-clock ms when the request began: the hidden rate limit decides
     * at this time (over_rps: refused by it). */
    int64_t arrived_ms;
};

/* ------------------------------------------------------------------ */
/* Timer: a min-heap of suspended connections                          */
/* ------------------------------------------------------------------ */

struct tentry {
    int64_t due;
    struct MHD_Connection *conn;
    struct req *r;
};

struct timer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct tentry *heap;
    size_t n, cap;
    int stopping;
    int stopped;
    int64_t deadline;
    pthread_t thread;
};

/* ------------------------------------------------------------------ */
/* The server                                                          */
/* ------------------------------------------------------------------ */

static struct cfg cfg;
static struct stats stats;
static struct sbx_auth *auth;
static struct sbx_callbacks *callbacks;
static struct timer timer;
static struct sbx_nonce_set *nonces;
static struct sbx_limit *limiter;
static struct sbx_names *authed_list, *invalid_list;
static struct sbx_business business;
static pthread_mutex_t rng_mu = PTHREAD_MUTEX_INITIALIZER;

/* API requests whose MHD context still exists (until NOTIFY_COMPLETED):
 * shutdown waits for them so that answers already due are fully sent. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t n;
} live = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
static uint64_t rng_state;
static int rng_needed;
/* draws for result answers (unknown status, spelling): apart from the fault
 * PRNG, so that turning them on does not change which faults are drawn */
static pthread_mutex_t auth_rng_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t auth_rng_state;
/* API requests that reached the application, for --spurious-fatal */
static atomic_uint_fast64_t app_requests;

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(int status, const char *fmt, ...)
{
    va_list ap;

    fputs("qys-sandbox: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(status);
}

/* ---- stats -------------------------------------------------------- */

static void stats_arrival(struct req *r)
{
    int64_t sec;
    struct per_second *p = NULL;

    pthread_mutex_lock(&stats.mu);
    r->arrived_ms = wall_ms();
    sec = r->arrived_ms / 1000;
    stats.requests++;
    if (++stats.in_flight > stats.max_concurrent)
        stats.max_concurrent = stats.in_flight;
    for (size_t i = stats.nps; i > 0 && i + 4 > stats.nps; i--) {
        if (stats.ps[i - 1].sec == sec) {
            p = &stats.ps[i - 1];
            break;
        }
    }
    if (p == NULL) {
        if (stats.nps == stats.capps) {
            size_t ncap = stats.capps ? stats.capps * 2 : 64;
            struct per_second *nv = realloc(stats.ps, ncap * sizeof *nv);

            if (nv != NULL) {
                stats.ps = nv;
                stats.capps = ncap;
            }
        }
        if (stats.nps < stats.capps) {
            p = &stats.ps[stats.nps++];
            p->sec = sec;
            p->n = 0;
        }
    }
    if (p != NULL) {
        p->n++;
        if (p->n > stats.max_per_second)
            stats.max_per_second = p->n;
    }
    pthread_mutex_unlock(&stats.mu);
}

static void stats_count(uint64_t *counter)
{
    pthread_mutex_lock(&stats.mu);
    (*counter)++;
    pthread_mutex_unlock(&stats.mu);
}

/* The request's answer is out (or it was dropped): count it once. */
static void stats_release(struct req *r, enum cls cls)
{
    if (r->released)
        return;
    r->released = 1;
    pthread_mutex_lock(&stats.mu);
    stats.in_flight--;
    stats.answers[cls]++;
    if (cls != CLS_ABORTED && r->has_code) {
        size_t i;

        for (i = 0; i < stats.ncodes; i++)
            if (stats.codes[i].code == r->code)
                break;
        if (i == stats.ncodes && i < MAX_CODES) {
            stats.codes[i].code = r->code;
            stats.codes[i].n = 0;
            stats.ncodes++;
        }
        if (i < stats.ncodes)
            stats.codes[i].n++;
    }
    pthread_mutex_unlock(&stats.mu);
}

static json_t *stats_json(void)
{
    json_t *o = json_object(), *a = json_object(), *f = json_object();
    json_t *ps = json_object(), *codes = json_object();
    json_t *results = json_object();
    size_t tickets, undelivered;
    char key[32];

    pthread_mutex_lock(&stats.mu);
    json_object_set_new(o, "requests",
                        json_integer((json_int_t)stats.requests));
    json_object_set_new(o, "in_flight",
                        json_integer((json_int_t)stats.in_flight));
    for (int i = 0; i < CLS_COUNT; i++)
        json_object_set_new(a, cls_names[i],
                            json_integer((json_int_t)stats.answers[i]));
    json_object_set_new(o, "answers", a);
    for (int i = 1; i < SBX_FAULT_COUNT; i++)
        json_object_set_new(f, sbx_fault_name((enum sbx_fault)i),
                            json_integer((json_int_t)stats.faults[i]));
    json_object_set_new(f, "max_rps",
                        json_integer((json_int_t)stats.faults[FAULT_MAX_RPS]));
    json_object_set_new(o, "faults", f);
    for (size_t i = 0; i < stats.ncodes; i++) {
        snprintf(key, sizeof key, "%lld", stats.codes[i].code);
        json_object_set_new(codes, key,
                            json_integer((json_int_t)stats.codes[i].n));
    }
    json_object_set_new(o, "codes", codes);
    json_object_set_new(o, "sig_failures",
                        json_integer((json_int_t)stats.sig_failures));
    json_object_set_new(o, "replays", json_integer((json_int_t)stats.replays));
    json_object_set_new(o, "spurious_fatal",
                        json_integer((json_int_t)stats.spurious_fatal));
    json_object_set_new(o, "front",
                        json_pack("{s:s,s:I}", "mode",
                                  sbx_front_name(cfg.front), "answers",
                                  (json_int_t)stats.front_answers));
    json_object_set_new(o, "max_concurrent",
                        json_integer((json_int_t)stats.max_concurrent));
    json_object_set_new(o, "max_per_second",
                        json_integer((json_int_t)stats.max_per_second));
    for (size_t i = 0; i < stats.nps; i++) {
        snprintf(key, sizeof key, "%" PRId64, stats.ps[i].sec);
        json_object_set_new(ps, key, json_integer((json_int_t)stats.ps[i].n));
    }
    json_object_set_new(o, "per_second", ps);
    for (size_t i = 0; i < stats.nresults; i++) {
        snprintf(key, sizeof key, "%lld", stats.results[i].code);
        json_object_set_new(results, key,
                            json_integer((json_int_t)stats.results[i].n));
    }
    json_object_set_new(o, "results", results);
    pthread_mutex_unlock(&stats.mu);
    if (limiter != NULL)
        json_object_set_new(o, "limit", sbx_limit_json(limiter, wall_ms()));
    sbx_auth_counts(auth, &tickets, &undelivered);
    json_object_set_new(o, "tickets", json_integer((json_int_t)tickets));
    json_object_set_new(o, "tickets_undelivered",
                        json_integer((json_int_t)undelivered));
    json_object_set_new(o, "callbacks", sbx_callback_stats_json(callbacks));
    if (nonces != NULL)
        json_object_set_new(o, "nonces_remembered",
                            json_integer((json_int_t)sbx_nonce_count(nonces)));
    return o;
}

/* Count one answer of the result endpoint with result status st. */
static void stats_result(long long st)
{
    size_t i;

    pthread_mutex_lock(&stats.mu);
    for (i = 0; i < stats.nresults; i++)
        if (stats.results[i].code == st)
            break;
    if (i == stats.nresults && i < MAX_CODES) {
        stats.results[i].code = st;
        stats.results[i].n = 0;
        stats.nresults++;
    }
    if (i < stats.nresults)
        stats.results[i].n++;
    pthread_mutex_unlock(&stats.mu);
}

/* ---- timer -------------------------------------------------------- */

static void heap_swap(size_t a, size_t b)
{
    struct tentry t = timer.heap[a];

    timer.heap[a] = timer.heap[b];
    timer.heap[b] = t;
}

static void heap_pop(struct tentry *out)
{
    size_t i = 0;

    *out = timer.heap[0];
    timer.heap[0] = timer.heap[--timer.n];
    for (;;) {
        size_t l = 2 * i + 1, rr = l + 1, m = i;

        if (l < timer.n && timer.heap[l].due < timer.heap[m].due)
            m = l;
        if (rr < timer.n && timer.heap[rr].due < timer.heap[m].due)
            m = rr;
        if (m == i)
            break;
        heap_swap(i, m);
        i = m;
    }
}

/*
 * Park conn until due (monotonic ms). The connection is suspended here, under
 * the timer lock, before the timer thread can see it. Returns -1 when the
 * server is shutting down and the answer would come too late: the caller
 * then drops the connection instead.
 */
static int timer_add(struct MHD_Connection *conn, struct req *r, int64_t due)
{
    size_t i;

    pthread_mutex_lock(&timer.mu);
    if (timer.stopped || (timer.stopping && due > timer.deadline))
        goto out_refuse;
    if (timer.n == timer.cap) {
        size_t ncap = timer.cap ? timer.cap * 2 : 256;
        struct tentry *nv = realloc(timer.heap, ncap * sizeof *nv);

        if (nv == NULL)
            goto out_refuse;
        timer.heap = nv;
        timer.cap = ncap;
    }
    MHD_suspend_connection(conn);
    i = timer.n++;
    timer.heap[i].due = due;
    timer.heap[i].conn = conn;
    timer.heap[i].r = r;
    while (i > 0 && timer.heap[(i - 1) / 2].due > timer.heap[i].due) {
        heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    if (i == 0)
        pthread_cond_signal(&timer.cv);
    pthread_mutex_unlock(&timer.mu);
    return 0;

out_refuse:
    pthread_mutex_unlock(&timer.mu);
    return -1;
}

static void *timer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&timer.mu);
    for (;;) {
        int64_t now = mono_ms();

        if (timer.n > 0 &&
            (timer.heap[0].due <= now ||
             (timer.stopping && timer.heap[0].due > timer.deadline))) {
            struct tentry e;

            heap_pop(&e);
            if (e.due > now)
                e.r->abort = 1;
            pthread_mutex_unlock(&timer.mu);
            MHD_resume_connection(e.conn);
            pthread_mutex_lock(&timer.mu);
            continue;
        }
        if (timer.stopping && timer.n == 0)
            break;
        if (timer.n > 0) {
            int64_t due = timer.heap[0].due;
            struct timespec ts;

            ts.tv_sec = (time_t)(due / 1000);
            ts.tv_nsec = (long)(due % 1000) * 1000000L;
            pthread_cond_timedwait(&timer.cv, &timer.mu, &ts);
        } else {
            pthread_cond_wait(&timer.cv, &timer.mu);
        }
    }
    timer.stopped = 1;
    pthread_mutex_unlock(&timer.mu);
    return NULL;
}

static int timer_start(void)
{
    pthread_condattr_t ca;

    pthread_mutex_init(&timer.mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&timer.cv, &ca);
    pthread_condattr_destroy(&ca);
    return pthread_create(&timer.thread, NULL, timer_main, NULL) == 0 ? 0 : -1;
}

/*
 * Answers due within grace_ms still go out; later ones (slow faults) are
 * dropped now. Returns once no connection is suspended any more.
 */
static void timer_stop(int64_t grace_ms)
{
    pthread_mutex_lock(&timer.mu);
    timer.stopping = 1;
    timer.deadline = mono_ms() + grace_ms;
    pthread_cond_signal(&timer.cv);
    pthread_mutex_unlock(&timer.mu);
    pthread_join(timer.thread, NULL);
    free(timer.heap);
    timer.heap = NULL;
}

/* ---- deciding the answer ------------------------------------------ */

static void set_text(struct req *r, enum cls cls, unsigned int status,
                     const char *ctype, const char *body)
{
    r->cls = cls;
    r->status = status;
    r->ctype = ctype;
    free(r->out);
    r->out = strdup(body);
    r->outlen = r->out ? strlen(r->out) : 0;
}

static void set_answer(struct req *r, enum cls cls,
                       const struct sbx_answer *ans)
{
    char *json = sbx_answer_json(ans);

    set_text(r, cls, ans->http_status, JSON_CTYPE, json ? json : "");
    free(json);
    r->has_code = 1;
    r->code = ans->code;
}

static void set_429(struct req *r, unsigned int retry_after)
{
    struct sbx_answer ans;

    sbx_answer_set(&ans, 429, 429, "TOO MANY REQUESTS", NULL);
    set_answer(r, CLS_THROTTLED, &ans);
    r->retry_after = (int)retry_after;
}

/* Returns 1 when the fault is the answer, 0 when the request goes on to be
 * processed as usual (reset after read). */
static int set_fault(struct req *r, enum sbx_fault fault, double v)
{
    static const unsigned int codes5xx[3] = {500, 502, 503};
    static const char *const html5xx[3] = {
        "<html><head><title>500 Internal Server Error</title></head><body>"
        "<h1>500 Internal Server Error</h1></body></html>",
        "<html><head><title>502 Bad Gateway</title></head><body>"
        "<center><h1>502 Bad Gateway</h1></center></body></html>",
        "<html><head><title>503 Service Temporarily Unavailable</title>"
        "</head><body><center><h1>503 Service Temporarily Unavailable</h1>"
        "</center></body></html>"};
    static const char *const garbage[4] = {
        "{\"code\":0,\"resu",
        "{\"code\":0,\"message\":\"SUCCESS\",\"result\":{\"ticket\":\"",
        "<html><body>upstream error</body></html>", ""};
    struct sbx_answer ans;
    size_t k;

    stats_count(&stats.faults[fault]);
    switch (fault) {
    case SBX_FAULT_5XX:
        k = (size_t)(v * 6.0) % 6; /* 3 statuses x (HTML | empty) */
        set_text(r, CLS_TRANSIENT, codes5xx[k % 3], "text/html",
                 k < 3 ? html5xx[k % 3] : "");
        break;
    case SBX_FAULT_RESET:
        r->cls = CLS_TRANSIENT;
        r->reset = 1;
        break;
    case SBX_FAULT_SLOW:
        set_text(r, CLS_TRANSIENT, 504, "text/html",
                 "<html><head><title>504 Gateway Time-out</title></head>"
                 "<body><center><h1>504 Gateway Time-out</h1></center>"
                 "</body></html>");
        r->delay_ms += cfg.slow_ms;
        break;
    case SBX_FAULT_GARBAGE:
        set_text(r, CLS_TRANSIENT, 200, JSON_CTYPE,
                 garbage[(size_t)(v * 4.0) % 4]);
        break;
    case SBX_FAULT_THROTTLE:
        sbx_answer_set(&ans, 200, 11990006,
                       "\xe6\x8e\xa5\xe5\x8f\xa3\xe8\xb0\x83\xe7\x94\xa8"
                       "\xe9\xa2\x91\xe7\xb9\x81",
                       NULL);
        set_answer(r, CLS_THROTTLED, &ans);
        break;
    case SBX_FAULT_429:
        set_429(r, cfg.retry_after);
        break;
    case SBX_FAULT_RESET_AFTER_READ:
        r->reset_after_read = 1;
        return 0;
    case SBX_FAULT_NONE:
    case SBX_FAULT_COUNT:
        break;
    }
    return 1;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* Two draws for a result answer, or 1.0 (no effect) when not needed. */
static void auth_draws(double *u_unknown, double *u_spelling)
{
    *u_unknown = *u_spelling = 1.0;
    if (cfg.auth.unknown_frac <= 0 &&
        cfg.auth.applicant_field != SBX_APPLICANT_MIXED)
        return;
    pthread_mutex_lock(&auth_rng_mu);
    *u_unknown = sbx_rng_unit(&auth_rng_state);
    *u_spelling = sbx_rng_unit(&auth_rng_state);
    pthread_mutex_unlock(&auth_rng_mu);
}

/*
 * GET /companyauth/result, after checks 2-6 and the faults: the query is
 * read as a Java servlet reads it (sbx_query); requestId wins over
 * companyName when both are given.
 */
static void decide_result(struct req *r)
{
    struct sbx_answer ans;
    char *rid = NULL, *name = NULL;
    json_t *res = NULL, *o;
    double u1, u2;
    int rc;

    rc = sbx_query_get(r->query, "requestId", &rid);
    if (rc >= 0 && (rid == NULL || rid[0] == '\0'))
        rc = sbx_query_get(r->query, "companyName", &name);
    if (rc < 0)
        goto out_oom;
    auth_draws(&u1, &u2);
    if (rid != NULL && rid[0] != '\0') {
        res = sbx_auth_result(auth, SBX_AUTH_BY_REQUEST_ID, rid,
                              sbx_clock_now_ms(), u1, u2);
    } else if (name != NULL && name[0] != '\0') {
        /* a company configured as authenticated elsewhere is one */
        if (sbx_check_company(&business, name, &ans) == SBX_COMPANY_AUTHED)
            res = json_pack("{s:i,s:s}", "status", SBX_STATUS_PASSED, "name",
                            name);
        else
            res = sbx_auth_result(auth, SBX_AUTH_BY_NAME, name,
                                  sbx_clock_now_ms(), u1, u2);
    } else {
        sbx_answer_set(&ans, 200, 1005,
                       "INVALID PARAM: companyName or requestId is required",
                       NULL);
        set_answer(r, CLS_REJECTED, &ans);
        goto out;
    }
    if (res == NULL)
        goto out_oom;
    if (!r->reset_after_read) /* else the client never sees it */
        stats_result(json_integer_value(json_object_get(res, "status")));
    o = json_pack("{s:i,s:s,s:o}", "code", 0, "message", "SUCCESS", "result",
                  res);
    free(r->out);
    r->out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (r->out == NULL)
        goto out_oom;
    r->outlen = strlen(r->out);
    r->cls = CLS_RESULT;
    r->status = 200;
    r->ctype = JSON_CTYPE;
    r->has_code = 1;
    r->code = 0;
    goto out;
out_oom:
    sbx_answer_set(&ans, 500, 1001, "ERROR", NULL);
    set_answer(r, CLS_TRANSIENT, &ans);
out:
    free(rid);
    free(name);
}

static void sandbox_decide(struct MHD_Connection *c, struct req *r)
{
    struct sbx_auth_input in;
    struct sbx_answer ans;
    struct sbx_ticket_fields f;
    enum sbx_fault fault;
    double u = 1.0, v = 0.0, w = 0.0;
    int rc;

    r->retry_after = -1;
    r->delay_ms = cfg.latency_ms;

    /* One PRNG step per API request, whatever its fate: with the same
     * request order, the same requests get the same faults. */
    if (rng_needed) {
        pthread_mutex_lock(&rng_mu);
        u = sbx_rng_unit(&rng_state);
        v = sbx_rng_unit(&rng_state);
        w = sbx_rng_unit(&rng_state);
        pthread_mutex_unlock(&rng_mu);
        if (cfg.jitter_ms > 0)
            r->delay_ms += (int64_t)(w * (double)(cfg.jitter_ms + 1));
    }

    in.token = header(c, SBX_HDR_TOKEN);
    in.timestamp = header(c, SBX_HDR_TIMESTAMP);
    in.nonce = header(c, SBX_HDR_NONCE);
    in.signature = header(c, SBX_HDR_SIGNATURE);
    rc = sbx_check_auth(&in, cfg.token, cfg.secret, sbx_clock_now_ms(),
                        cfg.window_ms, &ans);
    if (rc != 0)
        goto out_fatal;
    /*
     * The vendor burns a nonce when it reads the request, before anything
     * else is decided: a request that gets this far consumes its nonce
     * whatever then happens to it (faults, throttles and rate limits
     * included), so any second copy of it is a replay.
     */
    fault = sbx_fault_pick(&cfg.rates, u);
    if (!cfg.no_replay_check) {
        rc = sbx_nonce_check_add(nonces, in.nonce, mono_ms(), 1);
        if (rc != 0)
            goto out_replay;
    }
    /* The hidden rate limit, decided at the request's arrival time. */
    r->over_rps = limiter != NULL && sbx_limit_check(limiter, r->arrived_ms);
    if (r->over_rps)
        goto out_max_rps;
    if (fault != SBX_FAULT_NONE) {
        if (set_fault(r, fault, v) != 0)
            return;
    }
    /* The application's one spurious refusal (not for a request about to be
     * reset: that answer would never be seen). */
    if (cfg.spurious_n > 0 && !r->reset_after_read &&
        atomic_fetch_add(&app_requests, 1) + 1 == cfg.spurious_n) {
        stats_count(&stats.spurious_fatal);
        sbx_answer_fatal(cfg.spurious_code, &ans);
        set_answer(r, CLS_FATAL, &ans);
        return;
    }
    if (r->endpoint == EP_RESULT) {
        decide_result(r);
        return;
    }

    if (sbx_check_content_type(header(c, MHD_HTTP_HEADER_CONTENT_TYPE), &ans) !=
        0) {
        set_answer(r, CLS_REJECTED, &ans);
        return;
    }
    if (r->too_big) {
        sbx_answer_set(&ans, 200, 1005, "INVALID PARAM: body too large", NULL);
        set_answer(r, CLS_REJECTED, &ans);
        return;
    }
    if (sbx_check_ticket_body(r->body ? r->body : "", r->len, &f, &ans) != 0) {
        set_answer(r, CLS_REJECTED, &ans);
        return;
    }
    switch (sbx_check_company(&business, f.company, &ans)) {
    case SBX_COMPANY_INVALID:
        set_answer(r, CLS_REJECTED, &ans);
        sbx_ticket_fields_release(&f);
        return;
    case SBX_COMPANY_AUTHED:
        set_answer(r, CLS_ALREADY_AUTHED, &ans);
        sbx_ticket_fields_release(&f);
        return;
    case SBX_COMPANY_NORMAL:
        break;
    }
    r->cls = CLS_ISSUED;
    r->status = 200;
    r->ctype = JSON_CTYPE;
    r->has_code = 1;
    r->code = 0;
    r->issue = 1;
    r->fields = f;
    return;

out_fatal:
    if (rc == 443)
        stats_count(&stats.sig_failures);
    set_answer(r, CLS_FATAL, &ans);
    return;
out_replay:
    if (rc > 0) {
        stats_count(&stats.replays);
        sbx_answer_replay(&ans);
        set_answer(r, CLS_FATAL, &ans);
    } else {
        sbx_answer_set(&ans, 500, 1001, "ERROR", NULL);
        set_answer(r, CLS_TRANSIENT, &ans);
    }
    return;
out_max_rps:
    stats_count(&stats.faults[FAULT_MAX_RPS]);
    if (cfg.limit_code) {
        sbx_answer_set(&ans, 200, 11990006,
                       "\xe6\x8e\xa5\xe5\x8f\xa3\xe8\xb0\x83\xe7\x94\xa8"
                       "\xe9\xa2\x91\xe7\xb9\x81",
                       NULL);
        set_answer(r, CLS_THROTTLED, &ans);
    } else {
        set_429(r, cfg.limit_retry_after);
    }
}

/* ---- sending ------------------------------------------------------ */

/* A response with body (copied), Content-Type and the sandbox's Date. */
static struct MHD_Response *new_response(const char *ctype, const char *body,
                                         size_t len)
{
    struct MHD_Response *resp;
    char date[SBX_HTTP_DATE_LEN + 1];

    resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
                                           MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return NULL;
    /* the sandbox's (possibly skewed) clock, not libmicrohttpd's */
    if (sbx_clock_http_date_now(date) == 0)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_DATE, date);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return resp;
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned int status,
                             const char *ctype, const char *body, size_t len,
                             int retry_after)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    char ra[16];

    resp = new_response(ctype, body, len);
    if (resp == NULL)
        return MHD_NO;
    if (retry_after >= 0) {
        snprintf(ra, sizeof ra, "%d", retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result queue_json(struct MHD_Connection *c, unsigned int status,
                                  json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    enum MHD_Result ret;

    json_decref(o);
    if (s == NULL)
        return MHD_NO;
    ret = queue(c, status, JSON_CTYPE, s, strlen(s), -1);
    free(s);
    return ret;
}

/* --front: answer as the misconfigured front end would, whatever the
 * request was. */
static enum MHD_Result queue_front(struct MHD_Connection *c)
{
    struct sbx_front_answer fa;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    sbx_front_answer(cfg.front, &fa);
    resp = new_response(fa.content_type, fa.body, strlen(fa.body));
    if (resp == NULL)
        return MHD_NO;
    if (fa.location != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, fa.location);
    ret = MHD_queue_response(c, fa.http_status, resp);
    MHD_destroy_response(resp);
    if (ret == MHD_YES)
        stats_count(&stats.front_answers);
    return ret;
}

static void hard_reset(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct linger lg = {1, 0};

    if (ci != NULL)
        setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

static enum MHD_Result sandbox_finish(struct MHD_Connection *c, struct req *r)
{
    enum MHD_Result ret;

    if (r->abort) {
        stats_release(r, CLS_ABORTED);
        return MHD_NO;
    }
    if (r->reset) {
        hard_reset(c);
        stats_release(r, r->cls);
        return MHD_NO;
    }
    if (r->issue) {
        char t[SBX_TICKET_LEN + 1];
        struct sbx_answer ans;

        r->seq = sbx_auth_issue(auth, &r->fields, !r->reset_after_read,
                                sbx_clock_now_ms(), t);
        if (r->seq == 0) {
            sbx_answer_set(&ans, 500, 1001, "ERROR", NULL);
            set_answer(r, CLS_TRANSIENT, &ans);
        } else {
            json_t *o = json_pack("{s:i,s:s,s:{s:s}}", "code", 0, "message",
                                  "SUCCESS", "result", "ticket", t);

            free(r->out);
            r->out = o ? json_dumps(o, JSON_COMPACT) : NULL;
            r->outlen = r->out ? strlen(r->out) : 0;
            json_decref(o);
        }
    }
    if (r->reset_after_read) {
        /* processed as the vendor would, but the answer never arrives:
         * what a proxy dropping the connection mid-answer does */
        hard_reset(c);
        r->has_code = 0;
        stats_release(r, CLS_TRANSIENT);
        return MHD_NO;
    }
    ret = queue(c, r->status, r->ctype, r->out ? r->out : "", r->outlen,
                r->retry_after);
    stats_release(r, ret == MHD_YES ? r->cls : CLS_ABORTED);
    return ret;
}

static enum MHD_Result sandbox_api(struct MHD_Connection *c, struct req *r)
{
    if (r->state == S_READING) {
        sandbox_decide(c, r);
        r->state = S_DECIDED;
        if (r->delay_ms > 0) {
            if (timer_add(c, r, mono_ms() + r->delay_ms) == 0)
                return MHD_YES;
            r->abort = 1;
        }
    }
    return sandbox_finish(c, r);
}

static enum kind route(struct req *r, const char *method, const char *url)
{
    int get = strcmp(method, "GET") == 0;

    /* a front end in the way answers everything but our own endpoints */
    if (cfg.front != SBX_FRONT_NONE && strncmp(url, "/__", 3) != 0)
        return K_FRONT;
    if (strcmp(method, "POST") == 0 && strcmp(url, API_PATH) == 0) {
        r->endpoint = EP_TICKET;
        return K_API;
    }
    if (get && strcmp(url, RESULT_PATH) == 0) {
        r->endpoint = EP_RESULT;
        return K_API;
    }
    if (get && strcmp(url, "/__ledger") == 0)
        return K_LEDGER;
    if (get && strcmp(url, "/__stats") == 0)
        return K_STATS;
    if (get && strcmp(url, "/__truth") == 0)
        return K_TRUTH;
    if (get && strcmp(url, "/__callbacks") == 0)
        return K_CALLBACKS;
    return K_NOTFOUND;
}

/* MHD's first look at a request, before it parses the query string: make
 * the request's context, keeping the raw query of the result endpoint. */
static void *on_mhd_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct req *r = calloc(1, sizeof *r);
    const char *q = strchr(uri, '?');
    size_t plen = sizeof RESULT_PATH - 1;

    (void)cls;
    (void)c;
    if (r != NULL && q != NULL && (size_t)(q - uri) == plen &&
        memcmp(uri, RESULT_PATH, plen) == 0) {
        r->query = strdup(q + 1);
        if (r->query == NULL) {
            free(r);
            return NULL;
        }
    }
    return r;
}

static void append_body(struct req *r, const char *data, size_t n)
{
    if (r->too_big || r->kind != K_API || r->endpoint != EP_TICKET)
        return;
    if (r->len + n > MAX_BODY) {
        r->too_big = 1;
        return;
    }
    if (r->len + n + 1 > r->cap) {
        size_t ncap = r->cap ? r->cap : 1024;
        char *nb;

        while (ncap < r->len + n + 1)
            ncap *= 2;
        nb = realloc(r->body, ncap);
        if (nb == NULL) {
            r->too_big = 1;
            return;
        }
        r->body = nb;
        r->cap = ncap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
}

static enum MHD_Result on_mhd_request(void *cls, struct MHD_Connection *c,
                                      const char *url, const char *method,
                                      const char *version,
                                      const char *upload_data,
                                      size_t *upload_data_size, void **con_cls)
{
    struct req *r = *con_cls;

    (void)cls;
    (void)version;
    if (r == NULL || r->kind == K_NONE) {
        if (r == NULL) /* on_mhd_uri ran out of memory */
            return MHD_NO;
        r->kind = route(r, method, url);
        *con_cls = r;
        if (r->kind == K_API) {
            stats_arrival(r);
            pthread_mutex_lock(&live.mu);
            live.n++;
            pthread_mutex_unlock(&live.mu);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        append_body(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    switch (r->kind) {
    case K_API:
        return sandbox_api(c, r);
    case K_LEDGER:
        return queue_json(c, 200, sbx_auth_ledger_json(auth));
    case K_TRUTH:
        return queue_json(c, 200,
                          sbx_auth_truth_json(auth, sbx_clock_now_ms()));
    case K_CALLBACKS:
        return queue_json(c, 200, sbx_callback_log_json(callbacks));
    case K_STATS:
        return queue_json(c, 200, stats_json());
    case K_FRONT:
        return queue_front(c);
    case K_NONE:
    case K_NOTFOUND:
        break;
    }
    return queue_json(
        c, 404, json_pack("{s:i,s:s}", "code", 404, "message", "NOT FOUND"));
}

static void on_mhd_completed(void *cls, struct MHD_Connection *c,
                             void **con_cls,
                             enum MHD_RequestTerminationCode toe)
{
    struct req *r = *con_cls;

    (void)cls;
    (void)c;
    if (r == NULL)
        return;
    if (r->seq != 0 && !r->reset_after_read &&
        toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        sbx_auth_undelivered(auth, r->seq, sbx_clock_now_ms());
    if (r->kind == K_API) {
        stats_release(r, CLS_ABORTED);
        pthread_mutex_lock(&live.mu);
        if (--live.n == 0)
            pthread_cond_broadcast(&live.cv);
        pthread_mutex_unlock(&live.mu);
    }
    free(r->body);
    free(r->out);
    sbx_ticket_fields_release(&r->fields);
    free(r->query);
    free(r);
    *con_cls = NULL;
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fputs("usage: qys-sandbox [options]\n"
          "A local stand-in for POST /companyauth/miniappexchange and\n"
          "GET /companyauth/result, with the vendor's callbacks.\n"
          "\n"
          "  --port N             listen on 127.0.0.1:N (0 = pick a free port; "
          "default 0)\n"
          "  --token T            app token (else env QYS_ACCESS_TOKEN)\n"
          "  --secret S           app secret (else env QYS_ACCESS_SECRET)\n"
          "  --tls-cert FILE      serve HTTPS with this PEM certificate...\n"
          "  --tls-key FILE       ...and this PEM private key\n"
          "  --threads N          MHD thread pool size (default 2)\n"
          "  --max-connections N  concurrent connection limit (default 4096)\n"
          "  --window-ms MS       timestamp skew and nonce memory "
          "(default 600000)\n"
          "  --clock-offset-ms MS the clock runs MS ahead (negative: behind)\n"
          "  --front MODE         answer everything as a misconfigured front\n"
          "                       end: redirect, html400 or portal\n"
          "  --auth-mix SPEC      fates of the applicants (default pass=0.5,\n"
          "                       reject=0.15,progress=0.1,never=0.15,\n"
          "                       expire=0.1)\n"
          "  --auth-time-scale MS real ms per vendor minute (default 60000)\n"
          "  --auth-applicant-field F  applicantName, applicant or mixed\n"
          "  --auth-unknown-status N F  a fraction F of result answers say\n"
          "                       status N\n"
          "  --no-callbacks       never send the vendor's callbacks\n"
          "  --callback-json      send callbacks as JSON, not form fields\n"
          "  --callback-extra-field  add a field receivers do not know\n"
          "  --callback-timeout-ms MS  per attempt (default 5000)\n"
          "  --callback-retry-ms MS  pause before the 3rd attempt\n"
          "                       (default: --auth-time-scale)\n"
          "  --no-replay-check    accept replayed nonces (load tests)\n"
          "  --authed-marker STR  names containing STR get 1605 "
          "(default [AUTHED])\n"
          "  --invalid-marker STR names containing STR get 1005 "
          "(default [INVALID])\n"
          "  --authed-list FILE   names (one per line) that get 1605\n"
          "  --invalid-list FILE  names (one per line) that get 1005\n"
          "  --seed N             fault PRNG seed (default 1)\n"
          "  --fault-5xx F        fraction answered HTTP 500/502/503\n"
          "  --fault-reset F      fraction whose connection is reset\n"
          "  --fault-reset-after-read F  fraction processed in full (ticket\n"
          "                       issued, nonce burnt), then reset\n"
          "  --fault-slow F       fraction answered 504 after --slow-ms\n"
          "  --slow-ms MS         delay of the slow fault (default 120000)\n"
          "  --fault-garbage F    fraction answered 200 with a broken body\n"
          "  --fault-throttle F   fraction answered 200 code 11990006\n"
          "  --fault-429 F        fraction answered HTTP 429 + Retry-After\n"
          "  --retry-after S      Retry-After of --fault-429 (default 1)\n"
          "  --spurious-fatal N   the N-th request reaching the application\n"
          "                       gets a fatal refusal, once (no ticket)\n"
          "  --spurious-fatal-code C  its code: 1002 (default), 1601, 441-445\n"
          "  --latency-ms MS      fixed delay added to every API answer\n"
          "  --jitter-ms MS       uniform extra delay 0..MS\n"
          "  --limit-rps N        the hidden rate limit: N API requests per "
          "window\n"
          "  --limit-window W     fixed (per wall-clock second, default) or "
          "sliding\n"
          "                       (any trailing 1000 ms)\n"
          "  --limit-signal S     429 (HTTP 429 + Retry-After, default) or "
          "code\n"
          "                       (HTTP 200, code 11990006, no Retry-After)\n"
          "  --limit-retry-after S  Retry-After of the 429 signal (default 1)\n"
          "  --limit-counts C     accepted (default) or arrivals: whether "
          "refused\n"
          "                       requests use up the window too\n"
          "  --limit-schedule T:N[,T:N...]  the limit becomes N at T s after "
          "start;\n"
          "                       SIGUSR1 applies the next step now (no step "
          "left:\n"
          "                       doubles), SIGUSR2 halves the limit\n"
          "  --max-rps N          = --limit-rps N --limit-window fixed "
          "--limit-signal 429\n"
          "                       --limit-retry-after 1 --limit-counts "
          "arrivals\n"
          "  --stats-file FILE    on SIGTERM/SIGINT write "
          "{\"stats\",\"ledger\",\"truth\",\"callbacks\"} here\n"
          "  --help               this text\n"
          "\n"
          "Observability: GET /__stats, /__ledger, /__truth, /__callbacks.\n"
          "See tests/sandbox/README.md.\n",
          f);
}

static double arg_frac(const char *name, const char *s)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v <= 1.0))
        die(EXIT_USAGE, "%s: '%s' is not a fraction in 0..1", name, s);
    return v;
}

static int64_t arg_int(const char *name, const char *s, int64_t max)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v > max || v < -max)
        die(EXIT_USAGE, "%s: '%s' is not an integer in -%" PRId64 "..%" PRId64,
            name, s, max, max);
    return (int64_t)v;
}

static uint64_t arg_uint(const char *name, const char *s, uint64_t max)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
        die(EXIT_USAGE, "%s: '%s' is not an integer in 0..%" PRIu64, name, s,
            max);
    return (uint64_t)v;
}

enum {
    OPT_PORT = 256,
    OPT_TOKEN,
    OPT_SECRET,
    OPT_SEED,
    OPT_NO_REPLAY,
    OPT_AUTHED_MARKER,
    OPT_INVALID_MARKER,
    OPT_AUTHED_LIST,
    OPT_INVALID_LIST,
    OPT_F5XX,
    OPT_FRESET,
    OPT_FRESET_AFTER_READ,
    OPT_FSLOW,
    OPT_SLOW_MS,
    OPT_FGARBAGE,
    OPT_FTHROTTLE,
    OPT_F429,
    OPT_RETRY_AFTER,
    OPT_LATENCY,
    OPT_JITTER,
    OPT_MAX_RPS,
    OPT_LIMIT_RPS,
    OPT_LIMIT_WINDOW,
    OPT_LIMIT_SIGNAL,
    OPT_LIMIT_RETRY_AFTER,
    OPT_LIMIT_COUNTS,
    OPT_LIMIT_SCHEDULE,
    OPT_STATS_FILE,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_THREADS,
    OPT_MAX_CONN,
    OPT_WINDOW,
    OPT_CLOCK_OFFSET,
    OPT_SPURIOUS,
    OPT_SPURIOUS_CODE,
    OPT_FRONT,
    OPT_AUTH_MIX,
    OPT_AUTH_SCALE,
    OPT_AUTH_FIELD,
    OPT_AUTH_UNKNOWN,
    OPT_NO_CALLBACKS,
    OPT_CB_JSON,
    OPT_CB_EXTRA,
    OPT_CB_TIMEOUT,
    OPT_CB_RETRY,
    OPT_HELP,
};

static void parse_args(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, OPT_PORT},
        {"token", required_argument, NULL, OPT_TOKEN},
        {"secret", required_argument, NULL, OPT_SECRET},
        {"seed", required_argument, NULL, OPT_SEED},
        {"no-replay-check", no_argument, NULL, OPT_NO_REPLAY},
        {"authed-marker", required_argument, NULL, OPT_AUTHED_MARKER},
        {"invalid-marker", required_argument, NULL, OPT_INVALID_MARKER},
        {"authed-list", required_argument, NULL, OPT_AUTHED_LIST},
        {"invalid-list", required_argument, NULL, OPT_INVALID_LIST},
        {"fault-5xx", required_argument, NULL, OPT_F5XX},
        {"fault-reset", required_argument, NULL, OPT_FRESET},
        {"fault-reset-after-read", required_argument, NULL,
         OPT_FRESET_AFTER_READ},
        {"fault-slow", required_argument, NULL, OPT_FSLOW},
        {"slow-ms", required_argument, NULL, OPT_SLOW_MS},
        {"fault-garbage", required_argument, NULL, OPT_FGARBAGE},
        {"fault-throttle", required_argument, NULL, OPT_FTHROTTLE},
        {"fault-429", required_argument, NULL, OPT_F429},
        {"retry-after", required_argument, NULL, OPT_RETRY_AFTER},
        {"latency-ms", required_argument, NULL, OPT_LATENCY},
        {"jitter-ms", required_argument, NULL, OPT_JITTER},
        {"max-rps", required_argument, NULL, OPT_MAX_RPS},
        {"limit-rps", required_argument, NULL, OPT_LIMIT_RPS},
        {"limit-window", required_argument, NULL, OPT_LIMIT_WINDOW},
        {"limit-signal", required_argument, NULL, OPT_LIMIT_SIGNAL},
        {"limit-retry-after", required_argument, NULL, OPT_LIMIT_RETRY_AFTER},
        {"limit-counts", required_argument, NULL, OPT_LIMIT_COUNTS},
        {"limit-schedule", required_argument, NULL, OPT_LIMIT_SCHEDULE},
        {"stats-file", required_argument, NULL, OPT_STATS_FILE},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"max-connections", required_argument, NULL, OPT_MAX_CONN},
        {"window-ms", required_argument, NULL, OPT_WINDOW},
        {"clock-offset-ms", required_argument, NULL, OPT_CLOCK_OFFSET},
        {"spurious-fatal", required_argument, NULL, OPT_SPURIOUS},
        {"spurious-fatal-code", required_argument, NULL, OPT_SPURIOUS_CODE},
        {"front", required_argument, NULL, OPT_FRONT},
        {"auth-mix", required_argument, NULL, OPT_AUTH_MIX},
        {"auth-time-scale", required_argument, NULL, OPT_AUTH_SCALE},
        {"auth-applicant-field", required_argument, NULL, OPT_AUTH_FIELD},
        {"auth-unknown-status", required_argument, NULL, OPT_AUTH_UNKNOWN},
        {"no-callbacks", no_argument, NULL, OPT_NO_CALLBACKS},
        {"callback-json", no_argument, NULL, OPT_CB_JSON},
        {"callback-extra-field", no_argument, NULL, OPT_CB_EXTRA},
        {"callback-timeout-ms", required_argument, NULL, OPT_CB_TIMEOUT},
        {"callback-retry-ms", required_argument, NULL, OPT_CB_RETRY},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const uint64_t day_ms = 24ULL * 3600 * 1000;
    char err[160];
    int c;

    cfg.seed = 1;
    cfg.authed_marker = "[AUTHED]";
    cfg.invalid_marker = "[INVALID]";
    cfg.slow_ms = 120000;
    cfg.retry_after = 1;
    cfg.limit_retry_after = 1;
    cfg.window_ms = SBX_WINDOW_MS_DEFAULT;
    cfg.spurious_code = 1002;
    sbx_fate_mix_default(&cfg.auth.mix);
    cfg.auth.minute_ms = 60000;
    cfg.callback.timeout_ms = 5000;
    cfg.callback.minute_ms = -1;
    cfg.threads = 2;
    cfg.max_connections = 4096;
    /* "+": stop at the first non-option (--auth-unknown-status takes the
     * argument after its own) */
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_PORT:
            cfg.port = (unsigned int)arg_uint("--port", optarg, 65535);
            break;
        case OPT_TOKEN:
            cfg.token = optarg;
            break;
        case OPT_SECRET:
            cfg.secret = optarg;
            break;
        case OPT_SEED:
            cfg.seed = arg_uint("--seed", optarg, UINT64_MAX);
            break;
        case OPT_NO_REPLAY:
            cfg.no_replay_check = 1;
            break;
        case OPT_AUTHED_MARKER:
            cfg.authed_marker = optarg;
            break;
        case OPT_INVALID_MARKER:
            cfg.invalid_marker = optarg;
            break;
        case OPT_AUTHED_LIST:
            cfg.authed_list_path = optarg;
            break;
        case OPT_INVALID_LIST:
            cfg.invalid_list_path = optarg;
            break;
        case OPT_F5XX:
            cfg.rates.frac[SBX_FAULT_5XX] = arg_frac("--fault-5xx", optarg);
            break;
        case OPT_FRESET:
            cfg.rates.frac[SBX_FAULT_RESET] = arg_frac("--fault-reset", optarg);
            break;
        case OPT_FRESET_AFTER_READ:
            cfg.rates.frac[SBX_FAULT_RESET_AFTER_READ] =
                arg_frac("--fault-reset-after-read", optarg);
            break;
        case OPT_FSLOW:
            cfg.rates.frac[SBX_FAULT_SLOW] = arg_frac("--fault-slow", optarg);
            break;
        case OPT_SLOW_MS:
            cfg.slow_ms = (int64_t)arg_uint("--slow-ms", optarg, day_ms);
            break;
        case OPT_FGARBAGE:
            cfg.rates.frac[SBX_FAULT_GARBAGE] =
                arg_frac("--fault-garbage", optarg);
            break;
        case OPT_FTHROTTLE:
            cfg.rates.frac[SBX_FAULT_THROTTLE] =
                arg_frac("--fault-throttle", optarg);
            break;
        case OPT_F429:
            cfg.rates.frac[SBX_FAULT_429] = arg_frac("--fault-429", optarg);
            break;
        case OPT_RETRY_AFTER:
            cfg.retry_after =
                (unsigned int)arg_uint("--retry-after", optarg, 86400);
            break;
        case OPT_LATENCY:
            cfg.latency_ms = (int64_t)arg_uint("--latency-ms", optarg, day_ms);
            break;
        case OPT_JITTER:
            cfg.jitter_ms = (int64_t)arg_uint("--jitter-ms", optarg, day_ms);
            break;
        case OPT_MAX_RPS:
            cfg.limit_rps = arg_uint("--max-rps", optarg, UINT32_MAX);
            cfg.limit_window = SBX_LIMIT_FIXED;
            cfg.limit_code = 0;
            cfg.limit_retry_after = 1;
            cfg.limit_arrivals = 1;
            break;
        case OPT_LIMIT_RPS:
            cfg.limit_rps = arg_uint("--limit-rps", optarg, UINT32_MAX);
            break;
        case OPT_LIMIT_WINDOW:
            if (strcmp(optarg, "fixed") == 0)
                cfg.limit_window = SBX_LIMIT_FIXED;
            else if (strcmp(optarg, "sliding") == 0)
                cfg.limit_window = SBX_LIMIT_SLIDING;
            else
                die(EXIT_USAGE, "--limit-window: '%s' is not fixed or sliding",
                    optarg);
            break;
        case OPT_LIMIT_SIGNAL:
            if (strcmp(optarg, "429") == 0)
                cfg.limit_code = 0;
            else if (strcmp(optarg, "code") == 0)
                cfg.limit_code = 1;
            else
                die(EXIT_USAGE, "--limit-signal: '%s' is not 429 or code",
                    optarg);
            break;
        case OPT_LIMIT_RETRY_AFTER:
            cfg.limit_retry_after =
                (unsigned int)arg_uint("--limit-retry-after", optarg, 86400);
            break;
        case OPT_LIMIT_COUNTS:
            if (strcmp(optarg, "accepted") == 0)
                cfg.limit_arrivals = 0;
            else if (strcmp(optarg, "arrivals") == 0)
                cfg.limit_arrivals = 1;
            else
                die(EXIT_USAGE,
                    "--limit-counts: '%s' is not accepted or arrivals", optarg);
            break;
        case OPT_LIMIT_SCHEDULE: {
            char why[160];
            free(cfg.limit_steps);
            if (sbx_limit_parse_schedule(optarg, &cfg.limit_steps,
                                         &cfg.limit_nsteps, why,
                                         sizeof why) != 0)
                die(EXIT_USAGE, "--limit-schedule: %s", why);
            break;
        }
        case OPT_STATS_FILE:
            cfg.stats_file = optarg;
            break;
        case OPT_TLS_CERT:
            cfg.tls_cert = optarg;
            break;
        case OPT_TLS_KEY:
            cfg.tls_key = optarg;
            break;
        case OPT_THREADS:
            cfg.threads = (unsigned int)arg_uint("--threads", optarg, 256);
            if (cfg.threads == 0)
                die(EXIT_USAGE, "--threads: must be at least 1");
            break;
        case OPT_MAX_CONN:
            cfg.max_connections =
                (unsigned int)arg_uint("--max-connections", optarg, 1000000);
            break;
        case OPT_WINDOW:
            cfg.window_ms = (int64_t)arg_uint("--window-ms", optarg, day_ms);
            break;
        case OPT_SPURIOUS:
            cfg.spurious_n = arg_uint("--spurious-fatal", optarg, UINT64_MAX);
            if (cfg.spurious_n == 0)
                die(EXIT_USAGE, "--spurious-fatal: must be at least 1");
            break;
        case OPT_SPURIOUS_CODE: {
            struct sbx_answer probe;

            cfg.spurious_code =
                (long long)arg_uint("--spurious-fatal-code", optarg, 99999999);
            if (sbx_answer_fatal(cfg.spurious_code, &probe) != 0)
                die(EXIT_USAGE,
                    "--spurious-fatal-code: '%s' is not one of 441, 442, 443, "
                    "444, 445, 1002, 1601",
                    optarg);
            break;
        }
        case OPT_AUTH_MIX:
            if (sbx_fate_mix_parse(optarg, &cfg.auth.mix, err, sizeof err) != 0)
                die(EXIT_USAGE, "--auth-mix: %s", err);
            break;
        case OPT_AUTH_SCALE:
            cfg.auth.minute_ms =
                (int64_t)arg_uint("--auth-time-scale", optarg, day_ms);
            if (cfg.auth.minute_ms == 0)
                die(EXIT_USAGE, "--auth-time-scale: must be at least 1");
            break;
        case OPT_AUTH_FIELD:
            if (strcmp(optarg, "applicantName") == 0)
                cfg.auth.applicant_field = SBX_APPLICANT_NAME;
            else if (strcmp(optarg, "applicant") == 0)
                cfg.auth.applicant_field = SBX_APPLICANT;
            else if (strcmp(optarg, "mixed") == 0)
                cfg.auth.applicant_field = SBX_APPLICANT_MIXED;
            else
                die(EXIT_USAGE,
                    "--auth-applicant-field: '%s' is not applicantName, "
                    "applicant or mixed",
                    optarg);
            break;
        case OPT_AUTH_UNKNOWN:
            cfg.auth.unknown_status =
                (int)arg_int("--auth-unknown-status", optarg, 1000000);
            if (optind >= argc)
                die(EXIT_USAGE, "--auth-unknown-status: give N and F");
            cfg.auth.unknown_frac =
                arg_frac("--auth-unknown-status", argv[optind++]);
            break;
        case OPT_NO_CALLBACKS:
            cfg.no_callbacks = 1;
            break;
        case OPT_CB_JSON:
            cfg.callback.json_body = 1;
            break;
        case OPT_CB_EXTRA:
            cfg.callback.extra_field = 1;
            break;
        case OPT_CB_TIMEOUT:
            cfg.callback.timeout_ms =
                (int64_t)arg_uint("--callback-timeout-ms", optarg, day_ms);
            if (cfg.callback.timeout_ms == 0)
                die(EXIT_USAGE, "--callback-timeout-ms: must be at least 1");
            break;
        case OPT_CB_RETRY:
            cfg.callback.minute_ms =
                (int64_t)arg_uint("--callback-retry-ms", optarg, day_ms);
            break;
        case OPT_FRONT:
            if (sbx_front_parse(optarg, &cfg.front) != 0)
                die(EXIT_USAGE,
                    "--front: '%s' is not redirect, html400 or portal", optarg);
            break;
        case OPT_CLOCK_OFFSET:
            cfg.clock_offset_ms =
                arg_int("--clock-offset-ms", optarg, (int64_t)(366 * day_ms));
            break;
        case 'h':
        case OPT_HELP:
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(EXIT_USAGE);
        }
    }
    if (optind < argc)
        die(EXIT_USAGE, "unexpected argument '%s' (see --help)", argv[optind]);
    cfg.auth.seed = cfg.seed;
    if (cfg.callback.minute_ms < 0) /* not given */
        cfg.callback.minute_ms = cfg.auth.minute_ms;
    if (cfg.token == NULL)
        cfg.token = getenv("QYS_ACCESS_TOKEN");
    if (cfg.secret == NULL)
        cfg.secret = getenv("QYS_ACCESS_SECRET");
    if (cfg.token == NULL || cfg.token[0] == '\0' || cfg.secret == NULL ||
        cfg.secret[0] == '\0')
        die(EXIT_USAGE, "no credentials: give --token/--secret or set "
                        "QYS_ACCESS_TOKEN/QYS_ACCESS_SECRET");
    if (sbx_fault_rates_valid(&cfg.rates) != 0)
        die(EXIT_USAGE, "fault fractions must add up to at most 1");
    if ((cfg.tls_cert == NULL) != (cfg.tls_key == NULL))
        die(EXIT_USAGE, "--tls-cert and --tls-key go together");
    for (int i = 1; i < SBX_FAULT_COUNT; i++)
        if (cfg.rates.frac[i] > 0)
            rng_needed = 1;
    if (cfg.jitter_ms > 0)
        rng_needed = 1;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (f == NULL)
        die(EXIT_NOINPUT, "cannot open '%s': %s", path, strerror(errno));
    do {
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap + 65536);

            if (nb == NULL)
                die(EXIT_OSERR, "cannot read '%s': out of memory", path);
            buf = nb;
            cap += 65536;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
    } while (n > 0);
    if (ferror(f))
        die(EXIT_NOINPUT, "cannot read '%s': %s", path, strerror(errno));
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* Write {"stats":..,"ledger":..,"truth":..,"callbacks":..} atomically
 * (temp file + rename). */
static int write_stats_file(const char *path)
{
    json_t *o = json_pack("{s:o,s:o,s:o,s:o}", "stats", stats_json(), "ledger",
                          sbx_auth_ledger_json(auth), "truth",
                          sbx_auth_truth_json(auth, sbx_clock_now_ms()),
                          "callbacks", sbx_callback_log_json(callbacks));
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    int rc = -1;

    if (o == NULL || tmp == NULL)
        goto out;
    snprintf(tmp, n, "%s.tmp", path);
    if (json_dump_file(o, tmp, JSON_COMPACT) != 0)
        goto out;
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "qys-sandbox: cannot write stats file '%s'\n", path);
    json_decref(o);
    free(tmp);
    return rc;
}

/* MHD's error log, minus the line it prints for every deliberate reset. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    static const char reset_msg[] = "Application reported internal error";
    char buf[512];

    (void)cls;
    vsnprintf(buf, sizeof buf, fmt, ap);
    if (strncmp(buf, reset_msg, sizeof reset_msg - 1) == 0)
        return;
    fprintf(stderr, "qys-sandbox: mhd: %s", buf);
}

/* Wait until no API request is left, or until deadline (CLOCK_REALTIME,
 * the default clock of live.cv). */
static void wait_live_drained(int64_t grace_ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(grace_ms / 1000);
    ts.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&live.mu);
    while (live.n > 0)
        if (pthread_cond_timedwait(&live.cv, &live.mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&live.mu);
}

static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    struct MHD_OptionItem tls_opts[3] = {
        {MHD_OPTION_END, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                         MHD_USE_TURBO | /* no shutdown(): reset = real RST */
                         MHD_USE_SUPPRESS_DATE_NO_CLOCK; /* our own Date */
    const union MHD_DaemonInfo *info;
    struct sockaddr_in addr;
    struct MHD_Daemon *d;
    char *cert = NULL, *key = NULL;
    char err[256];
    MHD_socket listen_fd;
    sigset_t sigs;
    int sig;

    parse_args(argc, argv);
    sbx_clock_set_offset(cfg.clock_offset_ms);
    rng_state = cfg.seed;
    business.authed_marker = cfg.authed_marker;
    business.invalid_marker = cfg.invalid_marker;
    if (cfg.authed_list_path != NULL &&
        sbx_names_load(cfg.authed_list_path, &authed_list, err, sizeof err))
        die(EXIT_NOINPUT, "%s", err);
    if (cfg.invalid_list_path != NULL &&
        sbx_names_load(cfg.invalid_list_path, &invalid_list, err, sizeof err))
        die(EXIT_NOINPUT, "%s", err);
    business.authed_list = authed_list;
    business.invalid_list = invalid_list;
    if (cfg.tls_cert != NULL) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
            die(EXIT_UNAVAILABLE, "this libmicrohttpd has no TLS support");
        cert = read_file(cfg.tls_cert);
        key = read_file(cfg.tls_key);
        flags |= MHD_USE_TLS;
        tls_opts[0].option = MHD_OPTION_HTTPS_MEM_CERT;
        tls_opts[0].ptr_value = cert;
        tls_opts[1].option = MHD_OPTION_HTTPS_MEM_KEY;
        tls_opts[1].ptr_value = key;
    }
    nonces = sbx_nonce_new(cfg.window_ms);
    if (nonces == NULL)
        die(EXIT_OSERR, "out of memory");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        die(EXIT_OSERR, "cannot initialise libcurl");
    callbacks = sbx_callback_new(&cfg.callback);
    auth = sbx_auth_new(&cfg.auth, cfg.no_callbacks ? NULL : callbacks);
    if (callbacks == NULL || auth == NULL)
        die(EXIT_OSERR, "out of memory");
    auth_rng_state = cfg.seed ^ 0x243f6a8885a308d3ULL;
    pthread_mutex_init(&stats.mu, NULL);
    if (cfg.limit_rps > 0 || cfg.limit_nsteps > 0) {
        limiter = sbx_limit_new((uint32_t)cfg.limit_rps, cfg.limit_window,
                                cfg.limit_arrivals, cfg.limit_steps,
                                cfg.limit_nsteps, wall_ms());
        if (limiter == NULL)
            die(EXIT_OSERR, "out of memory");
    }
    raise_nofile();

    /* Signals are taken by sigwait() below, in the main thread only. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGUSR1); /* the limit: next schedule step, or x2 */
    sigaddset(&sigs, SIGUSR2); /* the limit: halved */
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    if (timer_start() != 0)
        die(EXIT_OSERR, "cannot start the timer thread");
    if (sbx_callback_start(callbacks) != 0)
        die(EXIT_OSERR, "cannot start the callback thread");
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_mhd_request, NULL, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, cfg.threads, MHD_OPTION_CONNECTION_LIMIT,
        cfg.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        MHD_OPTION_NOTIFY_COMPLETED, on_mhd_completed, NULL,
        MHD_OPTION_URI_LOG_CALLBACK, on_mhd_uri, NULL, MHD_OPTION_ARRAY,
        tls_opts, MHD_OPTION_END);
    if (d == NULL)
        die(EXIT_OSERR, "cannot listen on 127.0.0.1:%u", cfg.port);
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0)
        die(EXIT_OSERR, "cannot tell which port was bound");
    printf("listening on %s://127.0.0.1:%u\n", cert ? "https" : "http",
           (unsigned int)info->port);
    fflush(stdout);

    do {
        if (sigwait(&sigs, &sig) != 0)
            sig = 0;
        if ((sig == SIGUSR1 || sig == SIGUSR2) && limiter != NULL)
            fprintf(stderr, "qys-sandbox: rate limit now %u/s\n",
                    sig == SIGUSR1 ? sbx_limit_next_step(limiter, wall_ms())
                                   : sbx_limit_halve(limiter, wall_ms()));
    } while (sig != SIGINT && sig != SIGTERM);

    /* No new connections; answers due within the grace period go out, later
     * ones are dropped; then wait (bounded) until those answers are sent. */
    listen_fd = MHD_quiesce_daemon(d);
    timer_stop(SHUTDOWN_GRACE_MS);
    wait_live_drained(SHUTDOWN_GRACE_MS / 2);
    MHD_stop_daemon(d);
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    sbx_callback_stop(callbacks);
    if (cfg.stats_file != NULL)
        write_stats_file(cfg.stats_file);

    sbx_auth_free(auth);
    sbx_callback_free(callbacks);
    curl_global_cleanup();
    free(stats.ps);
    sbx_nonce_free(nonces);
    sbx_limit_free(limiter);
    free(cfg.limit_steps);
    sbx_names_free(authed_list);
    sbx_names_free(invalid_list);
    free(cert);
    free(key);
    return 0;
}
