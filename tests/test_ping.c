/* test_ping.c - healthchecks-style pings against a one-shot HTTP server on
 * 127.0.0.1 (a thread), and a refused connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "ping.h"

struct server {
    int fd;
    int port;
    int status; /* what to answer */
    char request[2048];
};

static void *serve_one(void *arg)
{
    struct server *s = arg;
    char answer[128];
    size_t got = 0;
    int c = accept(s->fd, NULL, NULL);

    if (c < 0)
        return NULL;
    /* Read up to the end of the headers. */
    while (got < sizeof s->request - 1) {
        ssize_t n = read(c, s->request + got, sizeof s->request - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        s->request[got] = '\0';
        if (strstr(s->request, "\r\n\r\n"))
            break;
    }
    snprintf(answer, sizeof answer,
             "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
             "OK",
             s->status);
    if (write(c, answer, strlen(answer)) < 0)
        perror("write");
    close(c);
    return NULL;
}

static void listen_local(struct server *s)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->fd, 4), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
}

static int ping_once(struct server *s, const char *base_path,
                     const char *suffix)
{
    pthread_t th;
    char url[256];
    int rc;

    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, base_path);
    memset(s->request, 0, sizeof s->request);
    assert_int_equal(pthread_create(&th, NULL, serve_one, s), 0);
    rc = ab_ping_send(url, suffix);
    pthread_join(th, NULL);
    return rc;
}

static void test_ping__start_success_and_exit_status(void **state)
{
    struct server s = {0};

    (void)state;
    s.status = 200;
    listen_local(&s);
    assert_int_equal(ping_once(&s, "/ping/abc-123", "/start"), 0);
    assert_int_equal(
        strncmp(s.request, "GET /ping/abc-123/start HTTP/1.1\r\n", 34), 0);
    assert_non_null(strstr(s.request, "User-Agent: authbatch/"));
    /* A trailing slash on the base is not doubled. */
    assert_int_equal(ping_once(&s, "/ping/abc-123/", ""), 0);
    assert_int_equal(strncmp(s.request, "GET /ping/abc-123 HTTP/1.1\r\n", 28),
                     0);
    assert_int_equal(ping_once(&s, "/ping/abc-123", "/75"), 0);
    assert_int_equal(strncmp(s.request, "GET /ping/abc-123/75 HTTP/1.1", 29),
                     0);
    /* A non-2xx answer is a failed ping. */
    s.status = 404;
    assert_int_equal(ping_once(&s, "/ping/abc-123", ""), AB_EIO);
    close(s.fd);
}

static void test_ping__failures_are_warnings_without_the_path(void **state)
{
    struct server s = {0};
    char url[128], *log = NULL;
    size_t len = 0;
    FILE *mem;
    int saved;
    FILE *tmp = tmpfile();

    (void)state;
    listen_local(&s);
    close(s.fd); /* nobody listens there any more: connection refused */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/secret-uuid-1234", s.port);
    fflush(stderr);
    saved = dup(2);
    assert_true(dup2(fileno(tmp), 2) >= 0);
    ab_ping(url, "/start"); /* returns; only a warning */
    assert_int_equal(ab_ping_send(url, ""), AB_EIO);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    mem = open_memstream(&log, &len);
    for (int ch; (ch = fgetc(tmp)) != EOF;)
        fputc(ch, mem);
    fclose(mem);
    fclose(tmp);
    assert_non_null(strstr(log, "warning: ping to '127.0.0.1' failed"));
    assert_null(strstr(log, "secret-uuid"));
    free(log);
    assert_int_equal(ab_ping_send(NULL, ""), AB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping__start_success_and_exit_status),
        cmocka_unit_test(test_ping__failures_are_warnings_without_the_path),
    };
    ab_log_set_verbosity(0);
    /* The local server must be reached directly. */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
