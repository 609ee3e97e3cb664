#include "netloop.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"

#define MAX_BODY (1 << 20) /* answers are tiny; anything bigger is wrong */
#define POOL_MAX 256       /* idle requests (with their easy handles) kept */
#define RECV_BUFFER 8192   /* answers are small: curl's default is 16 KiB */
#define FIXED_HEADERS 2    /* "Expect:" and the content type */

struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct ab_netloop *e;
};

/* One request; kept in a pool once done, with its easy handle configured
 * (curl_easy_reset and re-setting every option cost more than the work):
 * only the method, URL and body change from one request to the next. */
struct req {
    struct req *prev, *next;
    int post; /* the method the easy handle is set up for */
    struct ab_netloop *e;
    CURL *easy;
    char *body;
    char *resp;
    size_t resp_len, resp_cap;
    int too_big;
    int copies;
    const char *doomed; /* set: fail this transfer with that reason */
    struct req *next_doomed;
    char errbuf[CURL_ERROR_SIZE];
    char date[64];    /* the last Date header of the answer */
    long retry_after; /* a numeric Retry-After, clamped; -1 if none */
    ab_engine_presend_cb presend;
    ab_engine_cb done;
    void *ctx;
    int64_t started_ms;
    uint64_t t0_ns;
    /* The header list curl reads when it builds each copy: nodes of our
     * own pointing into our own buffers, rewritten by presend before every
     * copy (libcurl does not copy the list, CURLOPT_HTTPHEADER). */
    char fixed[FIXED_HEADERS][48];
    struct ab_headers h;
    struct curl_slist nodes[FIXED_HEADERS + AB_HEADERS_MAX];
};

struct ab_netloop {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    uv_timer_t watchdog;
    struct ab_engine_opts o;
    char *cacert, *user_agent;
    struct req *reqs;
    struct req *doomed; /* transfers to fail once curl has returned */
    int in_flight;
    int broken;
    char broken_why[256];
    int closing;        /* in ab_netloop_free: the multi handle is going away */
    int depth;          /* > 0 while completion callbacks run */
    int free_requested; /* ab_netloop_free() came from a callback */
    int open_handles;   /* uv handles not yet closed, the engine included */
    struct sock_ctx **fds; /* live poll contexts by fd */
    int nfds;
    struct req *pool[POOL_MAX];
    int npool;
    /* The URL most requests go to, parsed once (CURLOPT_CURLU). */
    char *curlu_url;
    CURLU *curlu;
};

static void check_multi_info(struct ab_netloop *e);
static void complete(struct req *r, CURLcode code, const char *why);
static void engine_free_now(struct ab_netloop *e);

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The engine is freed when its last uv handle has closed (libuv design). */
static void handle_closed(struct ab_netloop *e)
{
    if (--e->open_handles == 0) {
        free(e->fds);
        curl_url_cleanup(e->curlu); /* after every easy handle using it */
        free(e->curlu_url);
        free(e->cacert);
        free(e->user_agent);
        free(e);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void on_sock_closed(uv_handle_t *h)
{
    struct sock_ctx *c = (struct sock_ctx *)h;
    struct ab_netloop *e = c->e;
    free(c);
    handle_closed(e);
}

/* Fails the transfers whose sockets could not be watched: curl gave them
 * to us inside its socket callback, where it cannot be called back. */
static void fail_doomed(struct ab_netloop *e)
{
    while (e->doomed) {
        struct req *r = e->doomed;
        e->doomed = r->next_doomed;
        curl_multi_remove_handle(e->multi, r->easy);
        complete(r, CURLE_COULDNT_CONNECT, r->doomed);
    }
}

/* curl's multi handle failed: its state is unknown (curl's documentation),
 * so no request in it can be trusted to finish. Every one completes now
 * with the reason, and no new one is accepted. */
static void break_engine(struct ab_netloop *e, const char *why)
{
    e->broken = 1;
    snprintf(e->broken_why, sizeof e->broken_why, "http engine failed: %s",
             why);
    ab_log_error("%s", e->broken_why);
    e->doomed = NULL;
    while (e->reqs) {
        struct req *r = e->reqs;
        curl_multi_remove_handle(e->multi, r->easy);
        complete(r, CURLE_FAILED_INIT, e->broken_why);
    }
}

static void socket_action(struct ab_netloop *e, curl_socket_t fd, int flags)
{
    int running;
    CURLMcode mc;

    if (e->broken || e->closing)
        return;
    e->depth++;
    mc = curl_multi_socket_action(e->multi, fd, flags, &running);
    if (mc != CURLM_OK) {
        break_engine(e, curl_multi_strerror(mc));
    } else {
        check_multi_info(e);
        fail_doomed(e);
    }
    if (--e->depth == 0 && e->free_requested)
        engine_free_now(e);
}

static void on_uv_poll(uv_poll_t *h, int status, int events)
{
    struct sock_ctx *c = (struct sock_ctx *)h;
    int flags = 0;

    if (status < 0) {
        /* libuv reports POLLERR (a reset, say) as an error status and stops
         * the handle. CURL_CSELECT_ERR alone makes curl 7.88 fail the
         * transfer with "select/poll returned error" without looking; with
         * IN and OUT too it reads or writes, meets the real error, and can
         * tell a dead reused connection (and re-send) from a failure. */
        flags = CURL_CSELECT_ERR | CURL_CSELECT_IN | CURL_CSELECT_OUT;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    socket_action(c->e, c->fd, flags);
}

static void on_uv_timeout(uv_timer_t *t)
{
    socket_action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static void on_uv_watchdog(uv_timer_t *t)
{
    struct ab_netloop *e = t->data;
    if (e->in_flight > 0)
        socket_action(e, CURL_SOCKET_TIMEOUT, 0);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct ab_netloop *e = userp;
    (void)multi;
    /* 0 means "soon": libuv runs a 0 ms timer on the next loop iteration,
     * never from inside this callback. */
    if (timeout_ms < 0)
        uv_timer_stop(&e->timer);
    else
        uv_timer_start(&e->timer, on_uv_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static int fd_slot(struct ab_netloop *e, curl_socket_t fd)
{
    if (fd >= e->nfds) {
        int n = e->nfds ? e->nfds : 64;
        struct sock_ctx **p;
        while (n <= fd)
            n *= 2;
        if (!(p = realloc(e->fds, (size_t)n * sizeof *p)))
            return -1;
        memset(p + e->nfds, 0, (size_t)(n - e->nfds) * sizeof *p);
        e->fds = p;
        e->nfds = n;
    }
    return 0;
}

/* The transfer on easy cannot be watched: fail it (after curl returns)
 * rather than let curl abort every transfer in the multi handle, which is
 * what a -1 from the socket callback would do. */
static void doom(struct ab_netloop *e, CURL *easy, const char *why)
{
    struct req *r = NULL;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
    if (!r || r->doomed)
        return;
    r->doomed = why;
    r->next_doomed = e->doomed;
    e->doomed = r;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
                          void *socketp)
{
    struct ab_netloop *e = userp;
    struct sock_ctx *c = socketp;
    int events = 0;

    if (what == CURL_POLL_REMOVE) {
        if (c) {
            uv_poll_stop(&c->poll);
            if (c->fd < e->nfds && e->fds[c->fd] == c)
                e->fds[c->fd] = NULL;
            uv_close((uv_handle_t *)&c->poll, on_sock_closed);
            if (!e->closing)
                curl_multi_assign(e->multi, fd, NULL);
        }
        return 0;
    }
    if (!c) {
        if (fd_slot(e, fd) != 0) {
            doom(e, easy, "cannot watch a socket: out of memory");
            return 0;
        }
        c = e->fds[fd];
        if (c) {
            /* A live handle still watches this fd number (the old socket
             * closed before its REMOVE): reuse it, never init a second. */
            uv_poll_stop(&c->poll);
        } else {
            if (!(c = calloc(1, sizeof *c))) {
                doom(e, easy, "cannot watch a socket: out of memory");
                return 0;
            }
            if (uv_poll_init_socket(e->loop, &c->poll, fd) != 0) {
                free(c);
                doom(e, easy, "cannot watch a socket");
                return 0;
            }
            c->poll.data = e;
            c->e = e;
            c->fd = fd;
            e->open_handles++;
            e->fds[fd] = c;
        }
        curl_multi_assign(e->multi, fd, c);
    }
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    if (uv_poll_start(&c->poll, events, on_uv_poll) != 0)
        doom(e, easy, "cannot watch a socket");
    return 0;
}

static size_t on_curl_write(char *ptr, size_t size, size_t nmemb, void *userp)
{
    struct req *r = userp;
    size_t n = size * nmemb;

    if (r->resp_len + n + 1 > MAX_BODY) {
        r->too_big = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (r->resp_len + n + 1 > r->resp_cap) {
        size_t cap = r->resp_cap ? r->resp_cap : 512;
        char *p;
        while (cap < r->resp_len + n + 1)
            cap *= 2;
        if (!(p = realloc(r->resp, cap)))
            return 0;
        r->resp = p;
        r->resp_cap = cap;
    }
    memcpy(r->resp + r->resp_len, ptr, n);
    r->resp_len += n;
    r->resp[r->resp_len] = '\0';
    return n;
}

/* A Retry-After in seconds, clamped to AB_ENGINE_MAX_RETRY_AFTER however
 * many digits it has (curl's own parse gives 0 for a number too large);
 * -1 when it is not a number (an HTTP-date: curl's parse decides). */
static long retry_after_secs(const char *v, size_t len)
{
    long s = 0;
    size_t i;

    if (len == 0)
        return -1;
    for (i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        if (s <= AB_ENGINE_MAX_RETRY_AFTER)
            s = s * 10 + (v[i] - '0');
    }
    return s > AB_ENGINE_MAX_RETRY_AFTER ? AB_ENGINE_MAX_RETRY_AFTER : s;
}

/* The value of header line buf[0..n) if it is `name` (lower case, with the
 * colon), trimmed; NULL otherwise. */
static const char *header_is(const char *buf, size_t n, const char *name,
                             size_t *len)
{
    size_t k = strlen(name);
    const char *v;

    if (n <= k || strncasecmp(buf, name, k) != 0)
        return NULL;
    v = buf + k;
    while (v < buf + n && (*v == ' ' || *v == '\t'))
        v++;
    *len = (size_t)(buf + n - v);
    while (*len > 0 &&
           (v[*len - 1] == '\r' || v[*len - 1] == '\n' || v[*len - 1] == ' '))
        (*len)--;
    return v;
}

/* Keeps the answer's Date header, for the caller's clock-skew check, and a
 * numeric Retry-After. */
static size_t on_curl_header(char *buf, size_t size, size_t nitems, void *userp)
{
    struct req *r = userp;
    size_t n = size * nitems, len;
    const char *v;

    if ((v = header_is(buf, n, "retry-after:", &len))) {
        r->retry_after = retry_after_secs(v, len);
    } else if ((v = header_is(buf, n, "date:", &len))) {
        if (len >= sizeof r->date)
            len = sizeof r->date - 1;
        memcpy(r->date, v, len);
        r->date[len] = '\0';
    }
    return n;
}

/* Links the header nodes: the fixed lines, then presend's. The head node
 * never moves, so the list curl holds stays valid across rebuilds. */
static void link_headers(struct req *r, int nfixed)
{
    int i, n = nfixed + r->h.n;

    for (i = 0; i < n; i++) {
        r->nodes[i].data = i < nfixed ? r->fixed[i] : r->h.line[i - nfixed];
        r->nodes[i].next = i + 1 < n ? &r->nodes[i + 1] : NULL;
    }
}

/* Before every copy of the request goes out (curl's pre-request hook runs
 * in the DO state, which a re-send on a new connection passes again):
 * fresh header lines from the caller. */
static int on_curl_prereq(void *userp, char *conn_primary_ip,
                          char *conn_local_ip, int conn_primary_port,
                          int conn_local_port)
{
    struct req *r = userp;
    int nfixed = r->body ? 2 : 1;
    (void)conn_primary_ip;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;

    explicit_bzero(r->h.line, sizeof r->h.line);
    r->h.n = 0;
    if (r->presend(r->ctx, r->copies, &r->h) != 0 || r->h.n < 0 ||
        r->h.n > AB_HEADERS_MAX) {
        r->h.n = 0;
        link_headers(r, nfixed);
        return CURL_PREREQFUNC_ABORT;
    }
    r->copies++;
    link_headers(r, nfixed);
    return CURL_PREREQFUNC_OK;
}

static void unlink_req(struct ab_netloop *e, struct req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        e->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    e->in_flight--;
}

static void destroy_req(struct req *r)
{
    explicit_bzero(r->h.line, sizeof r->h.line);
    r->h.n = 0;
    free(r->body);
    free(r->resp);
    if (r->easy)
        curl_easy_cleanup(r->easy);
    free(r);
}

/* Done with r: back to the pool, its easy handle as configured. */
static void free_req(struct ab_netloop *e, struct req *r, int reuse)
{
    /* The header lines carry the App Token: no copy outlives the request. */
    explicit_bzero(r->h.line, sizeof r->h.line);
    r->h.n = 0;
    free(r->body);
    r->body = NULL;
    if (!reuse || e->npool == POOL_MAX || e->free_requested) {
        destroy_req(r);
        return;
    }
    r->prev = r->next = r->next_doomed = NULL;
    r->resp_len = 0; /* the buffer stays for the next answer */
    r->too_big = r->copies = 0;
    r->doomed = NULL;
    r->errbuf[0] = r->date[0] = '\0';
    r->retry_after = -1;
    e->pool[e->npool++] = r;
}

/* An HTTP/2 server may answer (and end the stream) before it has read the
 * request body, as nginx's `return` does; curl 7.88 then fails the
 * transfer with CURLE_HTTP2_STREAM when it tries to send the rest, though
 * the whole answer arrived. Such an answer counts: the server gave it. */
static int answered(const struct req *r)
{
    long status = 0;

    return r->resp_len > 0 &&
           curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status) ==
               CURLE_OK &&
           status >= 200;
}

static void complete(struct req *r, CURLcode code, const char *why)
{
    struct ab_netloop *e = r->e;
    struct ab_http_result res;
    curl_off_t ra = 0;
    char *ct = NULL, *loc = NULL;

    memset(&res, 0, sizeof res);
    unlink_req(e, r);
    if (!why && code == CURLE_HTTP2_STREAM && answered(r))
        code = CURLE_OK; /* the answer arrived whole: it is the answer */
    res.started_ms = r->started_ms;
    res.duration_ms = (int64_t)((uv_hrtime() - r->t0_ns) / 1000000);
    res.copies = r->copies;
    if (why) {
        res.transport_error = why;
    } else if (code != CURLE_OK) {
        if (r->too_big)
            res.transport_error = "answer larger than 1 MiB";
        else if (code == CURLE_OPERATION_TIMEDOUT || !r->errbuf[0])
            /* After a silent re-send on a reset connection the error buffer
             * still holds the first error; the code tells the real end. */
            res.transport_error = curl_easy_strerror(code);
        else
            res.transport_error = r->errbuf;
    } else {
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
        if (r->retry_after >= 0)
            res.retry_after_s = r->retry_after;
        else if (curl_easy_getinfo(r->easy, CURLINFO_RETRY_AFTER, &ra) ==
                     CURLE_OK &&
                 ra > 0)
            res.retry_after_s = ra > AB_ENGINE_MAX_RETRY_AFTER
                                    ? AB_ENGINE_MAX_RETRY_AFTER
                                    : (long)ra;
        if (curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK)
            res.content_type = ct;
        if (res.status >= 300 && res.status < 400 &&
            curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK)
            res.location = loc;
        if (r->date[0]) {
            time_t t = curl_getdate(r->date, NULL);
            if (t > 0)
                res.server_date_ms = (int64_t)t * 1000;
        }
        res.body = r->resp ? r->resp : "";
        res.body_len = r->resp_len;
    }
    r->done(r->ctx, &res);
    free_req(e, r, 1);
}

static void check_multi_info(struct ab_netloop *e)
{
    CURLMsg *msg;
    int left;

    e->depth++;
    while (!e->free_requested &&
           (msg = curl_multi_info_read(e->multi, &left))) {
        CURL *easy;
        CURLcode code;
        struct req *r = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        /* Copy before remove_handle: msg does not survive it. */
        easy = msg->easy_handle;
        code = msg->data.result;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
        curl_multi_remove_handle(e->multi, easy);
        if (r->doomed) {
            /* Finished on its own before its failure was handled. */
            struct req **p = &e->doomed;
            while (*p && *p != r)
                p = &(*p)->next_doomed;
            if (*p)
                *p = r->next_doomed;
        }
        complete(r, code, NULL);
    }
    if (--e->depth == 0 && e->free_requested)
        engine_free_now(e);
}

int ab_netloop_new(uv_loop_t *loop, const struct ab_engine_opts *o,
                   struct ab_netloop **out, struct ab_err *err)
{
    struct ab_netloop *e;
    static int curl_ready;
    long maxc = o->max_connections > 0 ? o->max_connections : 8;

    *out = NULL;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return ab_err_set(err, AB_EIO, "cannot initialise libcurl");
        curl_ready = 1;
    }
    if (!(e = calloc(1, sizeof *e)))
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    e->loop = loop;
    e->o = *o;
    if ((o->cacert && !(e->cacert = strdup(o->cacert))) ||
        !(e->user_agent =
              strdup(o->user_agent ? o->user_agent : "authbatch")) ||
        !(e->multi = curl_multi_init())) {
        free(e->cacert);
        free(e->user_agent);
        free(e);
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    }
    e->o.cacert = e->cacert;
    e->o.user_agent = e->user_agent;
    if (e->o.timeout_ms < 1)
        e->o.timeout_ms = 1; /* curl reads 0 as "no timeout" */
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
    /* A socket-count guard, not the concurrency cap (the caller's job). */
    curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxc);
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, maxc + 4);
    uv_timer_init(loop, &e->timer);
    uv_timer_init(loop, &e->watchdog);
    e->timer.data = e;
    e->watchdog.data = e;
    e->open_handles = 2;
    uv_timer_start(&e->watchdog, on_uv_watchdog, 1000, 1000);
    uv_unref((uv_handle_t *)&e->watchdog);
    *out = e;
    return 0;
}

/* What never changes for a request object: set once, when it is made. */
static void configure(struct ab_netloop *e, struct req *r)
{
    CURL *easy = r->easy;

    snprintf(r->fixed[0], sizeof r->fixed[0], "Expect:");
    snprintf(r->fixed[1], sizeof r->fixed[1],
             "Content-Type: application/json;charset=UTF-8");
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, &r->nodes[0]);
    curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, on_curl_prereq);
    curl_easy_setopt(easy, CURLOPT_PREREQDATA, r);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, e->user_agent);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_curl_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_curl_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, r);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, (long)RECV_BUFFER);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, e->o.timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, e->o.connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
    /* Verification is on by default; say so, so no change elsewhere can
     * quietly turn it off. */
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (e->o.cacert)
        curl_easy_setopt(easy, CURLOPT_CAINFO, e->o.cacert);
}

/* A request object from the pool, or a new one configured. */
static struct req *get_req(struct ab_netloop *e)
{
    struct req *r;

    if (e->npool > 0)
        return e->pool[--e->npool];
    if (!(r = calloc(1, sizeof *r)))
        return NULL;
    if (!(r->easy = curl_easy_init())) {
        free(r);
        return NULL;
    }
    r->e = e;
    r->retry_after = -1;
    r->post = -1;
    configure(e, r);
    return r;
}

/* The URL, parsed once when it is the one most requests go to. */
static void set_url(struct ab_netloop *e, struct req *r, const char *url)
{
    if (!e->curlu_url) {
        CURLU *u = curl_url();
        if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            (e->curlu_url = strdup(url))) {
            e->curlu = u;
        } else {
            curl_url_cleanup(u);
        }
    }
    if (e->curlu && strcmp(url, e->curlu_url) == 0) {
        curl_easy_setopt(r->easy, CURLOPT_CURLU, e->curlu);
    } else {
        curl_easy_setopt(r->easy, CURLOPT_CURLU, NULL);
        curl_easy_setopt(r->easy, CURLOPT_URL, url);
    }
}

/* What changes from one request to the next: method, URL, body. */
static void set_request(struct ab_netloop *e, struct req *r,
                        const struct ab_engine_request *rq)
{
    CURL *easy = r->easy;
    int post = rq->body != NULL;

    link_headers(r, post ? 2 : 1);
    set_url(e, r, rq->url);
    if (post) {
        if (r->post != 1)
            curl_easy_setopt(easy, CURLOPT_POST, 1L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)rq->body_len);
    } else if (r->post != 0) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    }
    r->post = post;
    /* Wait for a TLS connection's ALPN answer rather than opening one
     * connection per request; never for plain HTTP/1 (it would serialise). */
    curl_easy_setopt(easy, CURLOPT_PIPEWAIT,
                     strncmp(rq->url, "https:", 6) == 0 ? 1L : 0L);
}

int ab_netloop_start(struct ab_netloop *e, const struct ab_engine_request *rq,
                     struct ab_err *err)
{
    struct req *r;

    if (e->broken) {
        free(rq->body);
        return ab_err_set(err, AB_EIO, "%s", e->broken_why);
    }
    if (!(r = get_req(e))) {
        free(rq->body);
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    }
    r->body = rq->body;
    r->presend = rq->presend;
    r->done = rq->done;
    r->ctx = rq->ctx;
    set_request(e, r, rq);
    r->started_ms = wall_ms();
    r->t0_ns = uv_hrtime();
    if (curl_multi_add_handle(e->multi, r->easy) != CURLM_OK) {
        free_req(e, r, 0);
        return ab_err_set(err, AB_EIO, "cannot add a request");
    }
    r->next = e->reqs;
    if (e->reqs)
        e->reqs->prev = r;
    e->reqs = r;
    e->in_flight++;
    return 0;
}

int ab_netloop_in_flight(const struct ab_netloop *e)
{
    return e->in_flight;
}

int ab_netloop_broken(const struct ab_netloop *e, const char **why)
{
    if (why)
        *why = e->broken ? e->broken_why : NULL;
    return e->broken;
}

void ab_netloop_cancel_all(struct ab_netloop *e)
{
    e->depth++;
    e->doomed = NULL;
    while (e->reqs) {
        struct req *r = e->reqs;
        curl_multi_remove_handle(e->multi, r->easy);
        complete(r, CURLE_ABORTED_BY_CALLBACK, "cancelled");
    }
    if (--e->depth == 0 && e->free_requested)
        engine_free_now(e);
}

void ab_netloop_free(struct ab_netloop *e)
{
    if (!e || e->free_requested)
        return;
    e->free_requested = 1;
    /* From inside a completion callback, curl's multi handle is still in
     * use further up the stack: free once the callbacks have returned. */
    if (e->depth == 0)
        engine_free_now(e);
}

static void engine_free_now(struct ab_netloop *e)
{
    int i;

    e->depth++; /* callbacks of the cancelled requests must not recurse */
    e->doomed = NULL;
    while (e->reqs) {
        struct req *r = e->reqs;
        curl_multi_remove_handle(e->multi, r->easy);
        complete(r, CURLE_ABORTED_BY_CALLBACK, "cancelled");
    }
    for (i = 0; i < e->npool; i++)
        destroy_req(e->pool[i]);
    e->npool = 0;
    e->closing = 1;
    /* May call on_curl_socket(REMOVE) for pooled connections. */
    curl_multi_cleanup(e->multi);
    e->multi = NULL;
    for (i = 0; i < e->nfds; i++) {
        struct sock_ctx *c = e->fds[i];
        if (c) {
            e->fds[i] = NULL;
            uv_poll_stop(&c->poll);
            uv_close((uv_handle_t *)&c->poll, on_sock_closed);
        }
    }
    uv_close((uv_handle_t *)&e->timer, on_handle_closed);
    uv_close((uv_handle_t *)&e->watchdog, on_handle_closed);
}
