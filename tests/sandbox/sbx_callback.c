#include "sbx_callback.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "sbx_clock.h"
#include "sbx_query.h"

#define FORM_CTYPE "application/x-www-form-urlencoded;charset=UTF-8"
#define JSON_CTYPE "application/json;charset=UTF-8"

struct delivery {
    struct delivery *next;
    size_t company;
    int64_t due_ms;  /* when the event happened */
    int64_t next_ms; /* earliest start of the next attempt */
    int64_t started_ms;
    int attempts;
    int status, action_event;
    char *company_name, *request_id, *url, *body;
    const char *ctype;
    /* while in flight (sender thread only) */
    CURL *easy;
    struct curl_slist *hdrs;
    char *answer;
    size_t alen;
    int overflow;
    char errbuf[CURL_ERROR_SIZE];
};

struct cstate {
    struct delivery *head, *tail;
    int in_flight;
    json_t *accepted; /* statuses, in order */
    json_t *given_up;
    size_t refused;
    size_t pending;
};

struct hentry {
    int64_t t;
    size_t company;
};

struct counters {
    uint64_t queued, attempts, accepted, failed_attempts, given_up, refused,
        cancelled, dropped;
};

struct sbx_callbacks {
    struct sbx_callback_opts opts;
    pthread_mutex_t mu;
    pthread_t thread;
    int running, stopping;
    CURLM *multi;
    struct cstate *cs;
    size_t ncs;
    struct hentry *heap;
    size_t nheap, capheap;
    json_t *log;
    struct counters n;
};

/* ---- pure parts --------------------------------------------------- */

int sbx_callback_url_allowed(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int ok = 0;

    if (u == NULL)
        return 0;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
        ok = (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
             (strcmp(host, "127.0.0.1") == 0 ||
              strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0);
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

int sbx_callback_accepted(long http_status, const char *body, size_t len)
{
    json_t *root, *code;
    int ok;

    if (http_status != 200 || body == NULL)
        return 0;
    root = json_loadb(body, len, 0, NULL);
    code = json_is_object(root) ? json_object_get(root, "code") : NULL;
    ok = json_is_integer(code) && json_integer_value(code) == 0;
    json_decref(root);
    return ok;
}

static int append_field(char **buf, size_t *len, const char *name,
                        const char *value)
{
    char *enc = sbx_query_encode(value);
    size_t need;
    char *nb;

    if (enc == NULL)
        return -1;
    need = *len + strlen(name) + strlen(enc) + 3;
    nb = realloc(*buf, need);
    if (nb == NULL) {
        free(enc);
        return -1;
    }
    *buf = nb;
    *len += (size_t)snprintf(nb + *len, need - *len, "%s%s=%s",
                             *len > 0 ? "&" : "", name, enc);
    free(enc);
    return 0;
}

char *sbx_callback_body(const struct sbx_callback_msg *msg, int json, int extra,
                        const char **ctype)
{
    char num[2][16];
    char *buf = NULL;
    size_t len = 0;

    if (json) {
        json_t *o = json_pack("{s:i,s:s,s:s,s:i}", "status", msg->status,
                              "requestId", msg->request_id, "authInfo",
                              msg->auth_info, "actionEvent", msg->action_event);

        if (o != NULL && extra)
            json_object_set_new(o, "tenantType", json_string("COMPANY"));
        buf = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        *ctype = JSON_CTYPE;
        return buf;
    }
    snprintf(num[0], sizeof num[0], "%d", msg->status);
    snprintf(num[1], sizeof num[1], "%d", msg->action_event);
    *ctype = FORM_CTYPE;
    if (append_field(&buf, &len, "status", num[0]) != 0 ||
        append_field(&buf, &len, "requestId", msg->request_id) != 0 ||
        append_field(&buf, &len, "authInfo", msg->auth_info) != 0 ||
        append_field(&buf, &len, "actionEvent", num[1]) != 0 ||
        (extra && append_field(&buf, &len, "tenantType", "COMPANY") != 0)) {
        free(buf);
        return NULL;
    }
    return buf;
}

int64_t sbx_callback_retry_delay(int attempt, int64_t minute_ms)
{
    /* once at once, then two more after one minute: 0, 1 min, 0 */
    return attempt == 2 ? minute_ms : 0;
}

/* ---- state (cb->mu held) ------------------------------------------ */

static void heap_push(struct sbx_callbacks *cb, int64_t t, size_t company)
{
    size_t i;

    if (cb->nheap == cb->capheap) {
        size_t ncap = cb->capheap ? cb->capheap * 2 : 256;
        struct hentry *nh = realloc(cb->heap, ncap * sizeof *nh);

        if (nh == NULL)
            return; /* picked up again by the next event of the company */
        cb->heap = nh;
        cb->capheap = ncap;
    }
    i = cb->nheap++;
    cb->heap[i].t = t;
    cb->heap[i].company = company;
    while (i > 0 && cb->heap[(i - 1) / 2].t > cb->heap[i].t) {
        struct hentry tmp = cb->heap[i];

        cb->heap[i] = cb->heap[(i - 1) / 2];
        cb->heap[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}

static struct hentry heap_pop(struct sbx_callbacks *cb)
{
    struct hentry top = cb->heap[0];
    size_t i = 0;

    cb->heap[0] = cb->heap[--cb->nheap];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < cb->nheap && cb->heap[l].t < cb->heap[m].t)
            m = l;
        if (r < cb->nheap && cb->heap[r].t < cb->heap[m].t)
            m = r;
        if (m == i)
            break;
        struct hentry tmp = cb->heap[i];

        cb->heap[i] = cb->heap[m];
        cb->heap[m] = tmp;
        i = m;
    }
    return top;
}

static struct cstate *company_state(struct sbx_callbacks *cb, size_t company)
{
    if (company >= cb->ncs) {
        size_t n = cb->ncs ? cb->ncs : 64;
        struct cstate *nv;

        while (n <= company)
            n *= 2;
        nv = realloc(cb->cs, n * sizeof *nv);
        if (nv == NULL)
            return NULL;
        memset(nv + cb->ncs, 0, (n - cb->ncs) * sizeof *nv);
        cb->cs = nv;
        cb->ncs = n;
    }
    return &cb->cs[company];
}

static void delivery_free(struct delivery *d)
{
    if (d == NULL)
        return;
    free(d->company_name);
    free(d->request_id);
    free(d->url);
    free(d->body);
    free(d->answer);
    curl_slist_free_all(d->hdrs);
    free(d);
}

/* Remove the head of cs and schedule the next delivery, if any. */
static void pop_head(struct sbx_callbacks *cb, struct cstate *cs, int64_t now)
{
    struct delivery *d = cs->head, *next = d->next;

    cs->head = next;
    if (next == NULL)
        cs->tail = NULL;
    cs->pending--;
    delivery_free(d);
    if (next != NULL) {
        next->next_ms = next->due_ms > now ? next->due_ms : now;
        heap_push(cb, next->next_ms, next->company);
    }
}

static void log_attempt(struct sbx_callbacks *cb, const struct delivery *d,
                        long http_status, int accepted, int refused,
                        const char *error)
{
    json_t *e = json_pack("{s:I,s:s,s:s,s:i,s:i,s:i,s:I,s:I,s:b,s:b}", "seq",
                          (json_int_t)(json_array_size(cb->log) + 1), "company",
                          d->company_name, "requestId", d->request_id, "status",
                          d->status, "actionEvent", d->action_event, "attempt",
                          d->attempts, "at_ms", (json_int_t)d->started_ms,
                          "http_status", (json_int_t)http_status, "accepted",
                          accepted, "refused", refused);

    if (e == NULL)
        return;
    json_object_set_new(e, "error", error ? json_string(error) : json_null());
    json_array_append_new(cb->log, e);
}

static size_t on_curl_write(char *p, size_t size, size_t n, void *arg)
{
    struct delivery *d = arg;
    size_t len = size * n;
    char *nb;

    if (d->overflow || d->alen + len > SBX_CALLBACK_MAX_ANSWER) {
        d->overflow = 1;
        return len; /* read on, keep nothing more: not accepted */
    }
    nb = realloc(d->answer, d->alen + len + 1);
    if (nb == NULL) {
        d->overflow = 1;
        return len;
    }
    memcpy(nb + d->alen, p, len);
    d->alen += len;
    nb[d->alen] = '\0';
    d->answer = nb;
    return len;
}

static void start_attempt(struct sbx_callbacks *cb, struct cstate *cs,
                          struct delivery *d, int64_t now)
{
    char ct[96];

    d->attempts++;
    d->started_ms = now;
    cb->n.attempts++;
    if (!sbx_callback_url_allowed(d->url)) {
        log_attempt(cb, d, 0, 0, 1, "not a loopback http(s) URL: refused");
        cb->n.refused++;
        cs->refused++;
        pop_head(cb, cs, now);
        return;
    }
    free(d->answer);
    d->answer = NULL;
    d->alen = 0;
    d->overflow = 0;
    d->errbuf[0] = '\0';
    d->easy = curl_easy_init();
    snprintf(ct, sizeof ct, "Content-Type: %s", d->ctype);
    curl_slist_free_all(d->hdrs);
    d->hdrs = curl_slist_append(NULL, ct);
    if (d->easy == NULL || d->hdrs == NULL) {
        curl_easy_cleanup(d->easy);
        d->easy = NULL;
        log_attempt(cb, d, 0, 0, 0, "out of memory");
        cb->n.failed_attempts++;
        d->next_ms = now + 100;
        heap_push(cb, d->next_ms, d->company);
        d->attempts--;
        return;
    }
    curl_easy_setopt(d->easy, CURLOPT_URL, d->url);
    curl_easy_setopt(d->easy, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(d->easy, CURLOPT_HTTPHEADER, d->hdrs);
    curl_easy_setopt(d->easy, CURLOPT_USERAGENT, "qys-sandbox-callback/1");
    curl_easy_setopt(d->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(d->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(d->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(d->easy, CURLOPT_TIMEOUT_MS, (long)cb->opts.timeout_ms);
    curl_easy_setopt(d->easy, CURLOPT_WRITEFUNCTION, on_curl_write);
    curl_easy_setopt(d->easy, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(d->easy, CURLOPT_ERRORBUFFER, d->errbuf);
    curl_easy_setopt(d->easy, CURLOPT_PRIVATE, d);
    cs->in_flight = 1;
    curl_multi_add_handle(cb->multi, d->easy);
}

static void finish_attempt(struct sbx_callbacks *cb, CURL *easy, CURLcode rc)
{
    struct delivery *d = NULL;
    struct cstate *cs;
    long http = 0;
    int ok;
    int64_t now = sbx_clock_now_ms();

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&d);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http);
    curl_multi_remove_handle(cb->multi, easy);
    curl_easy_cleanup(easy);
    d->easy = NULL;
    cs = &cb->cs[d->company];
    cs->in_flight = 0;
    ok = rc == CURLE_OK && !d->overflow &&
         sbx_callback_accepted(http, d->answer, d->alen);
    log_attempt(cb, d, http, ok, 0,
                rc != CURLE_OK
                    ? (d->errbuf[0] ? d->errbuf : curl_easy_strerror(rc))
                : ok ? NULL
                     : "answer is not HTTP 200 {\"code\":0}");
    if (ok) {
        cb->n.accepted++;
        json_array_append_new(cs->accepted, json_integer(d->status));
        pop_head(cb, cs, now);
        return;
    }
    cb->n.failed_attempts++;
    if (d->attempts >= SBX_CALLBACK_ATTEMPTS) {
        cb->n.given_up++;
        json_array_append_new(cs->given_up, json_integer(d->status));
        pop_head(cb, cs, now);
        return;
    }
    d->next_ms =
        now + sbx_callback_retry_delay(d->attempts, cb->opts.minute_ms);
    heap_push(cb, d->next_ms, d->company);
}

static void *sender_main(void *arg)
{
    struct sbx_callbacks *cb = arg;

    pthread_mutex_lock(&cb->mu);
    while (!cb->stopping) {
        int64_t now = sbx_clock_now_ms(), wait = 1000;
        CURLMsg *m;
        int left, running;

        while (cb->nheap > 0 && cb->heap[0].t <= now) {
            struct hentry e = heap_pop(cb);
            struct cstate *cs = &cb->cs[e.company];

            if (cs->head != NULL && !cs->in_flight && cs->head->next_ms <= now)
                start_attempt(cb, cs, cs->head, now);
        }
        if (cb->nheap > 0 && cb->heap[0].t - now < wait)
            wait = cb->heap[0].t - now;
        pthread_mutex_unlock(&cb->mu);
        curl_multi_poll(cb->multi, NULL, 0, (int)(wait > 0 ? wait : 0), NULL);
        curl_multi_perform(cb->multi, &running);
        pthread_mutex_lock(&cb->mu);
        while ((m = curl_multi_info_read(cb->multi, &left)) != NULL)
            if (m->msg == CURLMSG_DONE)
                finish_attempt(cb, m->easy_handle, m->data.result);
    }
    pthread_mutex_unlock(&cb->mu);
    return NULL;
}

/* ---- public ------------------------------------------------------- */

struct sbx_callbacks *sbx_callback_new(const struct sbx_callback_opts *opts)
{
    struct sbx_callbacks *cb = calloc(1, sizeof *cb);

    if (cb == NULL)
        return NULL;
    cb->opts = *opts;
    cb->multi = curl_multi_init();
    cb->log = json_array();
    if (cb->multi == NULL || cb->log == NULL) {
        curl_multi_cleanup(cb->multi);
        json_decref(cb->log);
        free(cb);
        return NULL;
    }
    pthread_mutex_init(&cb->mu, NULL);
    return cb;
}

int sbx_callback_start(struct sbx_callbacks *cb)
{
    if (pthread_create(&cb->thread, NULL, sender_main, cb) != 0)
        return -1;
    cb->running = 1;
    return 0;
}

void sbx_callback_stop(struct sbx_callbacks *cb)
{
    if (cb == NULL || !cb->running)
        return;
    pthread_mutex_lock(&cb->mu);
    cb->stopping = 1;
    pthread_mutex_unlock(&cb->mu);
    curl_multi_wakeup(cb->multi);
    pthread_join(cb->thread, NULL);
    cb->running = 0;
    pthread_mutex_lock(&cb->mu);
    for (size_t i = 0; i < cb->ncs; i++) {
        struct cstate *cs = &cb->cs[i];

        while (cs->head != NULL) {
            struct delivery *d = cs->head;

            if (d->easy != NULL) {
                curl_multi_remove_handle(cb->multi, d->easy);
                curl_easy_cleanup(d->easy);
            }
            cs->head = d->next;
            cb->n.dropped++;
            delivery_free(d);
        }
        cs->tail = NULL;
        cs->pending = 0;
        cs->in_flight = 0;
    }
    cb->nheap = 0;
    pthread_mutex_unlock(&cb->mu);
}

void sbx_callback_free(struct sbx_callbacks *cb)
{
    if (cb == NULL)
        return;
    sbx_callback_stop(cb);
    for (size_t i = 0; i < cb->ncs; i++) {
        struct delivery *d = cb->cs[i].head, *next;

        for (; d != NULL; d = next) {
            next = d->next;
            delivery_free(d);
        }
        json_decref(cb->cs[i].accepted);
        json_decref(cb->cs[i].given_up);
    }
    free(cb->cs);
    free(cb->heap);
    json_decref(cb->log);
    curl_multi_cleanup(cb->multi);
    pthread_mutex_destroy(&cb->mu);
    free(cb);
}

int sbx_callback_add(struct sbx_callbacks *cb, size_t company, int64_t due_ms,
                     const char *url, const struct sbx_callback_msg *msg)
{
    struct delivery *d = calloc(1, sizeof *d);
    struct cstate *cs;

    if (d == NULL)
        return -1;
    d->company = company;
    d->due_ms = due_ms;
    d->status = msg->status;
    d->action_event = msg->action_event;
    d->company_name = strdup(msg->company);
    d->request_id = strdup(msg->request_id);
    d->url = strdup(url);
    d->body = sbx_callback_body(msg, cb->opts.json_body, cb->opts.extra_field,
                                &d->ctype);
    if (d->company_name == NULL || d->request_id == NULL || d->url == NULL ||
        d->body == NULL)
        goto out_oom;
    pthread_mutex_lock(&cb->mu);
    cs = company_state(cb, company);
    if (cs == NULL ||
        (cs->accepted == NULL && (cs->accepted = json_array()) == NULL) ||
        (cs->given_up == NULL && (cs->given_up = json_array()) == NULL)) {
        pthread_mutex_unlock(&cb->mu);
        goto out_oom;
    }
    if (cs->tail != NULL) {
        cs->tail->next = d;
    } else {
        cs->head = d;
        d->next_ms = due_ms;
        heap_push(cb, due_ms, company);
    }
    cs->tail = d;
    cs->pending++;
    cb->n.queued++;
    pthread_mutex_unlock(&cb->mu);
    if (cb->running)
        curl_multi_wakeup(cb->multi);
    return 0;

out_oom:
    delivery_free(d);
    return -1;
}

size_t sbx_callback_cancel(struct sbx_callbacks *cb, size_t company,
                           int64_t now_ms)
{
    struct delivery **pp, *prev = NULL;
    struct cstate *cs;
    size_t n = 0;
    int head_gone = 0;

    pthread_mutex_lock(&cb->mu);
    if (company >= cb->ncs)
        goto out;
    cs = &cb->cs[company];
    for (pp = &cs->head; *pp != NULL;) {
        struct delivery *d = *pp;

        if (d->due_ms > now_ms && d->easy == NULL &&
            !(d == cs->head && cs->in_flight)) {
            if (d == cs->head)
                head_gone = 1;
            *pp = d->next;
            delivery_free(d);
            n++;
            continue;
        }
        prev = d;
        pp = &d->next;
    }
    cs->tail = prev;
    cs->pending -= n;
    cb->n.cancelled += n;
    if (head_gone && cs->head != NULL && !cs->in_flight) {
        cs->head->next_ms =
            cs->head->due_ms > now_ms ? cs->head->due_ms : now_ms;
        heap_push(cb, cs->head->next_ms, company);
    }
out:
    pthread_mutex_unlock(&cb->mu);
    if (head_gone && cb->running)
        curl_multi_wakeup(cb->multi);
    return n;
}

json_t *sbx_callback_log_json(struct sbx_callbacks *cb)
{
    json_t *o;

    pthread_mutex_lock(&cb->mu);
    o = json_pack("{s:O}", "attempts", cb->log);
    if (o != NULL) /* a copy: the log goes on growing */
        json_object_set_new(o, "attempts",
                            json_deep_copy(json_object_get(o, "attempts")));
    pthread_mutex_unlock(&cb->mu);
    return o;
}

json_t *sbx_callback_stats_json(struct sbx_callbacks *cb)
{
    json_t *o;
    uint64_t pending = 0, in_flight = 0;

    pthread_mutex_lock(&cb->mu);
    for (size_t i = 0; i < cb->ncs; i++) {
        pending += cb->cs[i].pending;
        in_flight += (uint64_t)cb->cs[i].in_flight;
    }
    o = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "queued",
        (json_int_t)cb->n.queued, "attempts", (json_int_t)cb->n.attempts,
        "accepted", (json_int_t)cb->n.accepted, "failed_attempts",
        (json_int_t)cb->n.failed_attempts, "given_up",
        (json_int_t)cb->n.given_up, "refused", (json_int_t)cb->n.refused,
        "cancelled", (json_int_t)cb->n.cancelled, "dropped",
        (json_int_t)cb->n.dropped, "pending", (json_int_t)pending, "in_flight",
        (json_int_t)in_flight);
    pthread_mutex_unlock(&cb->mu);
    return o;
}

json_t *sbx_callback_company_json(struct sbx_callbacks *cb, size_t company)
{
    json_t *o;

    pthread_mutex_lock(&cb->mu);
    if (company < cb->ncs && cb->cs[company].accepted != NULL) {
        struct cstate *cs = &cb->cs[company];

        o = json_pack(
            "{s:o,s:o,s:I,s:I}", "accepted", json_deep_copy(cs->accepted),
            "given_up", json_deep_copy(cs->given_up), "refused",
            (json_int_t)cs->refused, "pending", (json_int_t)cs->pending);
    } else {
        o = json_pack("{s:[],s:[],s:i,s:i}", "accepted", "given_up", "refused",
                      0, "pending", 0);
    }
    pthread_mutex_unlock(&cb->mu);
    return o;
}
