/* test_engine.c - the HTTP engine against a raw TCP server in a thread:
 * every copy of a request that leaves the process carries its own signed
 * headers, including the copy libcurl re-sends by itself when a reused
 * keep-alive connection is reset after the server read the request; the
 * answer's Date header reaches the caller; a redirect is not followed.
 * Each with the network loop on the caller's loop and on threads.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "api.h"
#include "engine.h"

#define MAX_SEEN 8

/* What the server does with the n-th request it reads (0-based). */
enum action { ANSWER, RESET, REDIRECT };

struct server {
    int lfd;
    int port;
    enum action script[MAX_SEEN];
    int nscript;
    /* What it saw, per request read. */
    char nonce[MAX_SEEN][64];
    char ts[MAX_SEEN][32];
    int conn[MAX_SEEN]; /* which accepted connection carried it */
    int seen;
    pthread_t thread;
};

/* Reads one request (headers, then Content-Length bytes of body) from fd
 * into buf; returns its length, or -1 when the peer closed first. */
static int read_request(int fd, char *buf, size_t cap)
{
    size_t len = 0, need = 0;
    char *end = NULL;

    for (;;) {
        ssize_t n;
        if (end && len >= need)
            return (int)len;
        n = read(fd, buf + len, cap - len - 1);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        if (!end && (end = strstr(buf, "\r\n\r\n"))) {
            const char *cl = strcasestr(buf, "\r\ncontent-length:");
            need = (size_t)(end + 4 - buf) +
                   (cl ? (size_t)strtoul(cl + 17, NULL, 10) : 0);
        }
    }
}

static void header_value(const char *req, const char *name, char *out, size_t n)
{
    const char *p = strcasestr(req, name);
    size_t len;

    out[0] = '\0';
    if (!p)
        return;
    p += strlen(name);
    while (*p == ' ')
        p++;
    len = strcspn(p, "\r\n");
    if (len >= n)
        len = n - 1;
    memcpy(out, p, len);
    out[len] = '\0';
}

static void *serve(void *arg)
{
    static const char ok[] =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "Date: Tue, 01 Dec 2026 08:00:00 GMT\r\nContent-Length: 11\r\n\r\n"
        "{\"code\":0}\n";
    static const char moved[] =
        "HTTP/1.1 301 Moved Permanently\r\nLocation: http://example.invalid/"
        "\r\nContent-Length: 0\r\n\r\n";
    struct server *s = arg;
    char buf[8192];
    int fd = -1, nconn = 0;

    while (s->seen < s->nscript) {
        if (fd < 0) {
            fd = accept(s->lfd, NULL, NULL);
            if (fd < 0)
                break;
            nconn++;
        }
        if (read_request(fd, buf, sizeof buf) < 0) {
            close(fd);
            fd = -1;
            continue;
        }
        header_value(buf, "\r\nx-qys-open-nonce:", s->nonce[s->seen],
                     sizeof s->nonce[0]);
        header_value(buf, "\r\nx-qys-open-timestamp:", s->ts[s->seen],
                     sizeof s->ts[0]);
        s->conn[s->seen] = nconn;
        switch (s->script[s->seen++]) {
        case ANSWER:
            if (write(fd, ok, sizeof ok - 1) != (ssize_t)(sizeof ok - 1))
                return NULL;
            break;
        case REDIRECT:
            if (write(fd, moved, sizeof moved - 1) !=
                (ssize_t)(sizeof moved - 1))
                return NULL;
            break;
        case RESET: {
            /* Read, then reset instead of answering: a proxy dropping the
             * connection mid-answer. */
            struct linger lg = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close(fd);
            fd = -1;
            break;
        }
        }
    }
    /* Let the client read the last answer before the socket goes. */
    if (fd >= 0) {
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, 2000);
        close(fd);
    }
    return NULL;
}

static void server_start(struct server *s)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->lfd, 8), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->lfd);
}

/* The client: requests one after another, each started from a timer once
 * the previous one is done (never from inside a completion callback). */
struct client {
    uv_loop_t loop;
    uv_timer_t next;
    struct ab_engine *e;
    char url[128];
    int total, started, done;
    int copies[MAX_SEEN];
    long status[MAX_SEEN];
    int64_t date_ms[MAX_SEEN];
    char location[MAX_SEEN][128];
    char error[MAX_SEEN][128];
};

static int presend(void *ctx, int copy, struct ab_headers *h)
{
    (void)ctx;
    (void)copy;
    return ab_api_sign_headers("tok", "sec", 1700000000000LL + copy, h) == 0
               ? 0
               : -1;
}

static void on_next(uv_timer_t *t);

static void on_done(void *ctx, const struct ab_http_result *r)
{
    struct client *c = ctx;
    int i = c->done++;

    c->copies[i] = r->copies;
    c->status[i] = r->status;
    c->date_ms[i] = r->server_date_ms;
    snprintf(c->location[i], sizeof c->location[i], "%s",
             r->location ? r->location : "");
    snprintf(c->error[i], sizeof c->error[i], "%s",
             r->transport_error ? r->transport_error : "");
    uv_timer_start(&c->next, on_next, 0, 0);
}

static void on_next(uv_timer_t *t)
{
    struct client *c = t->data;
    struct ab_engine_request rq = {0};

    if (c->started == c->total) {
        ab_engine_free(c->e);
        uv_close((uv_handle_t *)&c->next, NULL);
        return;
    }
    rq.method = "POST";
    rq.url = c->url;
    rq.body = strdup("{\"companyName\":\"x\"}");
    rq.body_len = strlen(rq.body);
    rq.presend = presend;
    rq.done = on_done;
    rq.ctx = c;
    c->started++;
    assert_int_equal(ab_engine_start(c->e, &rq, NULL), 0);
}

static void run_client(struct client *c, int port, int total, int threads)
{
    struct ab_engine_opts o = {0};

    o.threads = threads;
    o.timeout_ms = 10000;
    o.connect_timeout_ms = 5000;
    o.max_connections = 1;
    snprintf(c->url, sizeof c->url, "http://127.0.0.1:%d/companyauth/x", port);
    c->total = total;
    assert_int_equal(uv_loop_init(&c->loop), 0);
    assert_int_equal(ab_engine_new(&c->loop, &o, &c->e, NULL), 0);
    uv_timer_init(&c->loop, &c->next);
    c->next.data = c;
    uv_timer_start(&c->next, on_next, 0, 0);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c->loop), 0);
}

/* Each case runs with the network loop on the caller's loop (threads 0)
 * and on threads of its own (1, 2). */
static const int THREADS[] = {0, 1, 2};

static void resend_after_reset(int threads)
{
    struct server s = {.script = {ANSWER, RESET, ANSWER}, .nscript = 3};
    struct client c = {0};

    print_message("threads %d\n", threads);
    server_start(&s);
    run_client(&c, s.port, 2, threads);
    server_stop(&s);

    print_message("copies %d %d, status %ld %ld, error '%s' '%s', seen %d\n",
                  c.copies[0], c.copies[1], c.status[0], c.status[1],
                  c.error[0], c.error[1], s.seen);
    assert_int_equal(s.seen, 3);
    assert_int_equal(c.done, 2);
    /* The second request went out on the first, kept-alive connection; the
     * server read it and reset; libcurl sent it again on a new one. */
    assert_int_equal(s.conn[1], 1);
    assert_int_equal(s.conn[2], 2);
    assert_int_equal(c.copies[0], 1);
    assert_int_equal(c.copies[1], 2);
    assert_int_equal(c.status[1], 200);
    assert_string_equal(c.error[1], "");
    /* Three copies on the wire, three nonces, each signed on its own. */
    assert_int_equal(strlen(s.nonce[0]), 36);
    assert_string_not_equal(s.nonce[0], s.nonce[1]);
    assert_string_not_equal(s.nonce[1], s.nonce[2]);
    assert_string_not_equal(s.nonce[0], s.nonce[2]);
    assert_string_equal(s.ts[1], "1700000000000");
    assert_string_equal(s.ts[2], "1700000000001");
    /* Date: Tue, 01 Dec 2026 08:00:00 GMT */
    assert_true(c.date_ms[0] == 1796112000000LL);
}

static void test_engine__resend_after_reset_carries_a_fresh_nonce(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < sizeof THREADS / sizeof THREADS[0]; i++)
        resend_after_reset(THREADS[i]);
}

static void test_engine__redirect_is_an_answer_not_followed(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < sizeof THREADS / sizeof THREADS[0]; i++) {
        struct server s = {.script = {REDIRECT}, .nscript = 1};
        struct client c = {0};
        server_start(&s);
        run_client(&c, s.port, 1, THREADS[i]);
        server_stop(&s);
        assert_int_equal(s.seen, 1);
        assert_int_equal(c.status[0], 301);
        assert_string_equal(c.location[0], "http://example.invalid/");
    }
}

/* Requests to a server that never answers (the kernel accepts them into
 * the backlog), then the engine is cancelled or freed while they are out:
 * wherever each one is (a thread's inbox, curl, an answer on its way back),
 * its done runs exactly once, with "cancelled", and the loop closes clean. */
#define HELD 6

struct held {
    uv_timer_t t;
    struct ab_engine *e;
    int free_at_once, cancelled;
    int done[HELD], wrong;
};

static struct held *held_of; /* the case running now */

static void on_held(void *ctx, const struct ab_http_result *r)
{
    long i = (long)(intptr_t)ctx;

    held_of->done[i]++;
    if (!r->transport_error || strcmp(r->transport_error, "cancelled") != 0)
        held_of->wrong++;
}

static void on_held_timer(uv_timer_t *t)
{
    struct held *h = t->data;
    int i, n = 0;

    if (!h->free_at_once && !h->cancelled) {
        ab_engine_cancel_all(h->e);
        h->cancelled = 1;
        uv_timer_start(&h->t, on_held_timer, 10, 0);
        return;
    }
    for (i = 0; i < HELD; i++)
        n += h->done[i];
    if (!h->free_at_once && n < HELD) {
        uv_timer_start(&h->t, on_held_timer, 10, 0); /* soon after */
        return;
    }
    if (!h->free_at_once)
        assert_int_equal(ab_engine_in_flight(h->e), 0);
    ab_engine_free(h->e);
    uv_close((uv_handle_t *)&h->t, NULL);
}

static void held_requests(int threads, int free_at_once)
{
    struct server s = {.nscript = 0};
    struct ab_engine_opts o = {0};
    struct held h = {0};
    uv_loop_t loop;
    char url[128];
    long i;

    print_message("threads %d, %s\n", threads,
                  free_at_once ? "freed at once" : "cancelled");
    server_start(&s);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/companyauth/x", s.port);
    o.threads = threads;
    o.timeout_ms = 20000;
    o.connect_timeout_ms = 5000;
    o.max_connections = HELD;
    h.free_at_once = free_at_once;
    held_of = &h;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(ab_engine_new(&loop, &o, &h.e, NULL), 0);
    for (i = 0; i < HELD; i++) {
        struct ab_engine_request rq = {0};
        rq.method = "POST";
        rq.url = url;
        rq.body = strdup("{\"companyName\":\"x\"}");
        rq.body_len = strlen(rq.body);
        rq.presend = presend;
        rq.done = on_held;
        rq.ctx = (void *)(intptr_t)i;
        assert_int_equal(ab_engine_start(h.e, &rq, NULL), 0);
    }
    assert_int_equal(ab_engine_in_flight(h.e), HELD);
    uv_timer_init(&loop, &h.t);
    h.t.data = &h;
    uv_timer_start(&h.t, on_held_timer, free_at_once ? 0 : 100, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    server_stop(&s);
    for (i = 0; i < HELD; i++)
        assert_int_equal(h.done[i], 1);
    assert_int_equal(h.wrong, 0);
}

static void
test_engine__cancel_or_free_with_requests_out_ends_each_once(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < sizeof THREADS / sizeof THREADS[0]; i++) {
        held_requests(THREADS[i], 0);
        held_requests(THREADS[i], 1);
    }
}

/* A network thread that cannot be started (here: a stack limit no mmap can
 * meet) fails ab_engine_new with a reason and leaves nothing on the
 * caller's loop: the caller closes it at once, as dispatch.c does. */
static void
test_engine__thread_that_cannot_start_leaves_the_loop_clean(void **state)
{
    struct ab_engine_opts o = {0};
    struct rlimit saved, huge;
    int threads;
    (void)state;

    assert_int_equal(getrlimit(RLIMIT_STACK, &saved), 0);
    huge = saved;
    huge.rlim_cur = (rlim_t)1 << 46;
    if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < huge.rlim_cur)
        skip();
    o.timeout_ms = 1000;
    o.connect_timeout_ms = 1000;
    for (threads = 1; threads <= 2; threads++) {
        struct ab_engine *e = (struct ab_engine *)&o; /* not NULL */
        struct ab_err err = {0};
        uv_loop_t loop;
        int rc;

        assert_int_equal(uv_loop_init(&loop), 0);
        o.threads = threads;
        assert_int_equal(setrlimit(RLIMIT_STACK, &huge), 0);
        rc = ab_engine_new(&loop, &o, &e, &err);
        assert_int_equal(setrlimit(RLIMIT_STACK, &saved), 0);
        print_message("threads %d: rc %d '%s'\n", threads, rc, err.msg);
        assert_true(rc < 0);
        assert_null(e);
        assert_non_null(strstr(err.msg, "cannot start a network thread"));
        assert_int_equal(uv_loop_close(&loop), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine__resend_after_reset_carries_a_fresh_nonce),
        cmocka_unit_test(test_engine__redirect_is_an_answer_not_followed),
        cmocka_unit_test(
            test_engine__cancel_or_free_with_requests_out_ends_each_once),
        cmocka_unit_test(
            test_engine__thread_that_cannot_start_leaves_the_loop_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
