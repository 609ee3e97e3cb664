/* test_callbacks.c - the receiver's pure parts (callbacks.h): which request
 * paths are callback paths (the last two segments, traversals refused),
 * --listen parsing, the metrics text, the result names. The server itself is
 * tested end to end (tests/e2e/callbacks_*.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "callbacks.h"

#define N_(a) (sizeof(a) / sizeof((a)[0]))
#define TOK "tok0000000000000000001" /* 22 characters */

static void test_callbacks__paths(void **state)
{
    static const struct {
        const char *path;
        int rc;
        int64_t id;
        const char *token;
    } t[] = {
        {"/17/" TOK, 0, 17, TOK},
        {"/qys/callback/17/" TOK, 0, 17, TOK},
        {"/a-b_c~d.e/%41/9223372036854775807/" TOK, 0, INT64_MAX, TOK},
        {"/1/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_", 0, 1,
         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"},
        /* shapes that are not callback paths */
        {"", -1, 0, NULL},
        {"17/" TOK, -1, 0, NULL},
        {"/" TOK, -1, 0, NULL},
        {"/17/" TOK "/", -1, 0, NULL},
        {"//17/" TOK, -1, 0, NULL},
        {"/a//17/" TOK, -1, 0, NULL},
        {"/017/" TOK, -1, 0, NULL},
        {"/0/" TOK, -1, 0, NULL},
        {"/-1/" TOK, -1, 0, NULL},
        {"/+1/" TOK, -1, 0, NULL},
        {"/1a/" TOK, -1, 0, NULL},
        {"/9223372036854775808/" TOK, -1, 0, NULL},
        {"/99999999999999999999/" TOK, -1, 0, NULL},
        {"/17/tok000000000000000001", -1, 0, NULL}, /* 21 characters */
        {"/17/" TOK ".", -1, 0, NULL},
        {"/17/" TOK "~", -1, 0, NULL},
        {"/17/%74ok0000000000000000001", -1, 0, NULL},
        {"/17/" TOK "%", -1, 0, NULL},
        {"/a%zz/17/" TOK, -1, 0, NULL},
        {"/a%4/17/" TOK, -1, 0, NULL},
        {"/a%00/17/" TOK, -1, 0, NULL},
        {"/a b/17/" TOK, -1, 0, NULL},
        {"/a;b/17/" TOK, -1, 0, NULL},
        {"/a\"b/17/" TOK, -1, 0, NULL},
        {"/a\xe4\xb8\xad/17/" TOK, -1, 0, NULL},
        /* traversals */
        {"/../17/" TOK, -2, 0, NULL},
        {"/./17/" TOK, -2, 0, NULL},
        {"/a/../17/" TOK, -2, 0, NULL},
        {"/%2e%2e/17/" TOK, -2, 0, NULL},
        {"/%2E./17/" TOK, -2, 0, NULL},
        {"/a%2F17/17/" TOK, -2, 0, NULL},
        {"/a%2f17/17/" TOK, -2, 0, NULL},
        {"/a%5C/17/" TOK, -2, 0, NULL},
        {"/a\\b/17/" TOK, -2, 0, NULL},
    };
    size_t i;
    (void)state;

    for (i = 0; i < N_(t); i++) {
        int64_t id = -5;
        const char *tok = NULL;
        size_t tn = 0;
        int rc = ab_callbacks_parse_path(t[i].path, strlen(t[i].path), &id,
                                         &tok, &tn);
        if (rc != t[i].rc)
            fail_msg("path '%s': got %d, want %d", t[i].path, rc, t[i].rc);
        if (rc == 0) {
            assert_int_equal(id, t[i].id);
            assert_int_equal(tn, strlen(t[i].token));
            assert_memory_equal(tok, t[i].token, tn);
        }
    }
}

static void test_callbacks__path_limits(void **state)
{
    char p[1100];
    int64_t id;
    const char *tok;
    size_t tn, n;
    (void)state;

    /* 1024 bytes pass, 1025 do not. */
    n = (size_t)snprintf(p, sizeof p, "/1/%s", TOK);
    memmove(p + 1024 - n, p, n + 1);
    memset(p, 'a', 1024 - n);
    p[0] = '/';
    assert_int_equal(ab_callbacks_parse_path(p, 1024, &id, &tok, &tn), 0);
    memmove(p + 1, p, 1025); /* one more 'a' in the first segment */
    p[0] = '/';
    p[1] = 'a';
    assert_int_equal(ab_callbacks_parse_path(p, 1025, &id, &tok, &tn), -1);
    /* A token of 128 passes, 129 does not. */
    n = (size_t)snprintf(p, sizeof p, "/1/");
    memset(p + n, 'x', 128);
    assert_int_equal(ab_callbacks_parse_path(p, n + 128, &id, &tok, &tn), 0);
    assert_int_equal(tn, 128);
    memset(p + n, 'x', 129);
    assert_int_equal(ab_callbacks_parse_path(p, n + 129, &id, &tok, &tn), -1);
    /* Only n bytes are read: what follows is the query. */
    snprintf(p, sizeof p, "/5/%s?status=1", TOK);
    assert_int_equal(ab_callbacks_parse_path(p, 3 + 22, &id, &tok, &tn), 0);
    assert_int_equal(id, 5);
}

static void test_callbacks__listen(void **state)
{
    static const struct {
        const char *s;
        int rc;
        const char *host;
        unsigned port;
    } t[] = {
        {"127.0.0.1:8080", 0, "127.0.0.1", 8080},
        {"0.0.0.0:0", 0, "0.0.0.0", 0},
        {"localhost:65535", 0, "localhost", 65535},
        {"[::1]:443", 0, "::1", 443},
        {"[::]:1", 0, "::", 1},
        {"127.0.0.1", -1, NULL, 0},
        {":8080", -1, NULL, 0},
        {"127.0.0.1:", -1, NULL, 0},
        {"127.0.0.1:65536", -1, NULL, 0},
        {"127.0.0.1:123456", -1, NULL, 0},
        {"127.0.0.1:8o", -1, NULL, 0},
        {"127.0.0.1:-1", -1, NULL, 0},
        {"::1:80", -1, NULL, 0},
        {"[::1]80", -1, NULL, 0},
        {"[::1", -1, NULL, 0},
        {"[]:80", -1, NULL, 0},
        {"", -1, NULL, 0},
    };
    size_t i;
    (void)state;

    for (i = 0; i < N_(t); i++) {
        char host[64] = "";
        unsigned port = 99999;
        int rc = ab_callbacks_parse_listen(t[i].s, host, sizeof host, &port);
        if (rc != t[i].rc)
            fail_msg("listen '%s': got %d, want %d", t[i].s, rc, t[i].rc);
        if (rc == 0) {
            assert_string_equal(host, t[i].host);
            assert_int_equal(port, t[i].port);
        }
    }
    {
        char small[4];
        unsigned port;
        assert_int_equal(ab_callbacks_parse_listen("localhost:1", small,
                                                   sizeof small, &port),
                         -1);
    }
}

static void test_callbacks__metrics_text(void **state)
{
    struct ab_callbacks_stats st = {0};
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    int i;
    (void)state;

    st.requests[AB_CBR_APPLIED] = 3;
    st.requests[AB_CBR_TOKEN] = 2;
    st.connections = 4;
    st.max_connections = 512;
    st.connections_cut = 1;
    st.commits = 2;
    st.started_ms = 1700000000123;
    st.running = 1;
    ab_callbacks_metrics_print(f, &st);
    fclose(f);
    assert_non_null(strstr(
        buf, "authbatch_callbacks_requests_total{result=\"applied\"} 3\n"));
    assert_non_null(strstr(
        buf, "authbatch_callbacks_requests_total{result=\"token\"} 2\n"));
    assert_non_null(strstr(buf, "authbatch_callbacks_connections 4\n"));
    assert_non_null(strstr(buf, "authbatch_callbacks_connection_limit 512\n"));
    assert_non_null(
        strstr(buf, "authbatch_callbacks_connections_cut_total 1\n"));
    assert_non_null(strstr(buf, "authbatch_callbacks_commits_total 2\n"));
    assert_non_null(strstr(
        buf, "authbatch_callbacks_start_timestamp_seconds 1700000000.123\n"));
    assert_non_null(strstr(
        buf, "authbatch_callbacks_last_stored_timestamp_seconds 0.000\n"));
    assert_non_null(strstr(buf, "authbatch_callbacks_running 1\n"));
    /* Every result has its sample, named as ab_cbr_name says. */
    for (i = 0; i < AB_CBR__COUNT; i++) {
        char line[128];
        snprintf(line, sizeof line,
                 "authbatch_callbacks_requests_total{result=\"%s\"} ",
                 ab_cbr_name((enum ab_cbr)i));
        assert_non_null(strstr(buf, line));
    }
    assert_string_equal(ab_cbr_name(AB_CBR_UNKNOWN_STATUS), "unknown_status");
    assert_string_equal(ab_cbr_name(AB_CBR__COUNT), "?");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_callbacks__paths),
        cmocka_unit_test(test_callbacks__path_limits),
        cmocka_unit_test(test_callbacks__listen),
        cmocka_unit_test(test_callbacks__metrics_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
