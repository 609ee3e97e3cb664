#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* mkstemp, fdopen */
#endif
/* Unit tests for the sandbox's pure checks (sbx_sign, sbx_check,
 * sbx_nonce, sbx_fault, sbx_limit). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sbx_check.h"
#include "sbx_fault.h"
#include "sbx_limit.h"
#include "sbx_nonce.h"
#include "sbx_sign.h"

#define TS "1565753984643"
#define NONCE "254775d7-3c7c-4e9d-9880-1d4c5fb3dbd0"
#define SIG "21b5903511219d969d137b54df8daa6c"
#define NOW 1565753984643LL
#define WIN 600000LL

static void test_sign__published_vector(void **state)
{
    char out[SBX_SIGN_HEX_LEN + 1];

    (void)state;
    assert_int_equal(sbx_sign_md5hex("test", "test", TS, NONCE, out), 0);
    assert_string_equal(out, SIG);
}

static void test_sign__equal_is_exact(void **state)
{
    (void)state;
    assert_true(sbx_sign_equal(SIG, SIG));
    assert_false(sbx_sign_equal("21B5903511219D969D137B54DF8DAA6C", SIG));
    assert_false(sbx_sign_equal("21b5903511219d969d137b54df8daa6", SIG));
    assert_false(sbx_sign_equal("", SIG));
}

static struct sbx_auth_input good_input(void)
{
    struct sbx_auth_input in = {"test", TS, NONCE, SIG};

    return in;
}

static void test_auth__accepts_vector(void **state)
{
    struct sbx_auth_input in = good_input();
    struct sbx_answer ans = {0};

    (void)state;
    assert_int_equal(sbx_check_auth(&in, "test", "test", NOW, WIN, &ans), 0);
}

static void test_auth__missing_headers_in_order(void **state)
{
    static const char *const want[4] = {
        "HEADER REQUIRED,x-qys-open-accesstoken",
        "HEADER REQUIRED,x-qys-open-timestamp",
        "HEADER REQUIRED,x-qys-open-nonce",
        "HEADER REQUIRED,x-qys-open-signature"};
    struct sbx_answer ans;

    (void)state;
    for (int i = 0; i < 4; i++) {
        struct sbx_auth_input in = good_input();
        const char **f[4] = {&in.token, &in.timestamp, &in.nonce,
                             &in.signature};

        *f[i] = (i % 2) ? NULL : ""; /* absent and empty both count */
        assert_int_equal(sbx_check_auth(&in, "test", "test", NOW, WIN, &ans),
                         441);
        assert_int_equal(ans.http_status, 441);
        assert_string_equal(ans.message, want[i]);
        assert_string_equal(ans.response_code, "11990441");
    }
    /* with several missing, the first in order is named */
    {
        struct sbx_auth_input in = {NULL, NULL, NULL, NULL};

        assert_int_equal(sbx_check_auth(&in, "x", "y", NOW, WIN, &ans), 441);
        assert_string_equal(ans.message, want[0]);
    }
}

static void test_auth__token_before_signature(void **state)
{
    struct sbx_auth_input in = good_input();
    struct sbx_answer ans;
    char *json;

    (void)state;
    in.token = "other";
    in.signature = "bad";
    assert_int_equal(sbx_check_auth(&in, "test", "test", NOW, WIN, &ans), 442);
    json = sbx_answer_json(&ans);
    assert_string_equal(json, "{\"code\":442,\"message\":\"INVALID TOKEN\","
                              "\"responseCode\":\"11990442\"}");
    free(json);
}

static void test_auth__bad_signature(void **state)
{
    struct sbx_auth_input in = good_input();
    struct sbx_answer ans;
    char *json;

    (void)state;
    in.signature = "21B5903511219D969D137B54DF8DAA6C"; /* upper case */
    assert_int_equal(sbx_check_auth(&in, "test", "test", NOW, WIN, &ans), 443);
    json = sbx_answer_json(&ans);
    assert_string_equal(json,
                        "{\"code\":443,\"message\":\"INVALID SIGNATURE\"}");
    free(json);
    in = good_input();
    assert_int_equal(sbx_check_auth(&in, "test", "wrong", NOW, WIN, &ans), 443);
}

static void test_auth__signature_before_timestamp(void **state)
{
    struct sbx_auth_input in = good_input();
    struct sbx_answer ans;

    (void)state;
    in.signature = "00000000000000000000000000000000";
    /* stale timestamp, but the signature is checked first */
    assert_int_equal(
        sbx_check_auth(&in, "test", "test", NOW + 3600000, WIN, &ans), 443);
}

static void test_auth__timestamp_window(void **state)
{
    struct sbx_auth_input in = good_input();
    struct sbx_answer ans;

    (void)state;
    assert_int_equal(sbx_check_auth(&in, "test", "test", NOW + WIN, WIN, &ans),
                     0);
    assert_int_equal(sbx_check_auth(&in, "test", "test", NOW - WIN, WIN, &ans),
                     0);
    assert_int_equal(
        sbx_check_auth(&in, "test", "test", NOW + WIN + 1, WIN, &ans), 444);
    assert_string_equal(ans.message, "TIMESTAMP EXPIRED");
    assert_int_equal(
        sbx_check_auth(&in, "test", "test", NOW - WIN - 1, WIN, &ans), 444);
}

static void test_auth__timestamp_must_be_decimal_ms(void **state)
{
    static const char *const bad[] = {
        "1565753984.643", "-1565753984643", "1565753984643 ", "0x1",
        "1e12",           "1565753984"}; /* seconds: stale */
    struct sbx_answer ans;
    char sig[SBX_SIGN_HEX_LEN + 1];

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sbx_auth_input in = {"test", bad[i], NONCE, sig};

        assert_int_equal(sbx_sign_md5hex("test", "test", bad[i], NONCE, sig),
                         0);
        assert_int_equal(sbx_check_auth(&in, "test", "test", NOW, WIN, &ans),
                         444);
    }
}

static void test_content_type(void **state)
{
    struct sbx_answer ans;

    (void)state;
    assert_int_equal(
        sbx_check_content_type("application/json;charset=UTF-8", &ans), 0);
    assert_int_equal(sbx_check_content_type("Application/JSON", &ans), 0);
    assert_int_equal(sbx_check_content_type("text/plain", &ans), 1005);
    assert_int_equal(ans.http_status, 200);
    assert_string_equal(ans.message, "INVALID PARAM: content type");
    assert_int_equal(sbx_check_content_type(NULL, &ans), 1005);
}

static int body_rc(const char *body, char **company, struct sbx_answer *ans)
{
    return sbx_check_body(body, strlen(body), company, ans);
}

static void test_body__valid(void **state)
{
    static const char *const ok[] = {
        "{\"companyName\":\"A\",\"applicant\":{\"contact\":\"13800000000\","
        "\"contactType\":\"MOBILE\"}}",
        "{\"companyName\":\"B\",\"applicant\":{\"name\":\"n\",\"contact\":"
        "\"a@b.c\",\"contactType\":\"EMAIL\"},\"registerNo\":\"1\","
        "\"legalPerson\":\"p\",\"callbackUrl\":\"https://x\",\"closeButton\":"
        "false,\"modifyFields\":\"corpName,registerNo,legalPerson\"}",
    };
    struct sbx_answer ans;
    char *company;

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(body_rc(ok[i], &company, &ans), 0);
        assert_non_null(company);
        free(company);
    }
}

static void test_body__invalid(void **state)
{
    static const struct {
        const char *body;
        const char *msg;
    } bad[] = {
        {"", "INVALID PARAM: body is not valid JSON"},
        {"[1]", "INVALID PARAM: body must be a JSON object"},
        {"{\"applicant\":{\"contact\":\"1\",\"contactType\":\"MOBILE\"}}",
         "INVALID PARAM: companyName is required"},
        {"{\"companyName\":\"\",\"applicant\":{\"contact\":\"1\","
         "\"contactType\":\"MOBILE\"}}",
         "INVALID PARAM: companyName must be a non-empty string"},
        {"{\"companyName\":\"A\"}", "INVALID PARAM: applicant is required"},
        {"{\"companyName\":\"A\",\"applicant\":{\"contact\":\"1\","
         "\"contactType\":\"PHONE\"}}",
         "INVALID PARAM: applicant.contactType must be MOBILE or EMAIL"},
        {"{\"companyName\":\"A\",\"applicant\":{\"contactType\":\"EMAIL\"}}",
         "INVALID PARAM: applicant.contact must be a non-empty string"},
        {"{\"companyName\":\"A\",\"applicant\":{\"contact\":\"1\","
         "\"contactType\":\"MOBILE\"},\"closeButton\":\"true\"}",
         "INVALID PARAM: closeButton must be a boolean"},
        {"{\"companyName\":\"A\",\"applicant\":{\"contact\":\"1\","
         "\"contactType\":\"MOBILE\"},\"modifyFields\":\"corpName,license\"}",
         "INVALID PARAM: modifyFields must be a comma list of "
         "corpName,registerNo,legalPerson"},
        {"{\"companyName\":\"A\",\"applicant\":{\"contact\":\"1\","
         "\"contactType\":\"MOBILE\"},\"registerNo\":null}",
         "INVALID PARAM: registerNo is null"},
        {"{\"companyName\":\"A\",\"applicant\":{\"contact\":\"1\","
         "\"contactType\":\"MOBILE\",\"name\":null}}",
         "INVALID PARAM: applicant.name is null"},
        {"{\"companyName\":\"A\",\"applicant\":{\"contact\":\"1\","
         "\"contactType\":\"MOBILE\"},\"legalPerson\":7}",
         "INVALID PARAM: legalPerson must be a string"},
        {"{\"companyName\":\"A\",\"applicant\":{\"contact\":\"1\","
         "\"contactType\":\"MOBILE\"},\"callbackUrl\":\"\"}",
         "INVALID PARAM: callbackUrl is empty"},
        {"{\"companyName\":\"A\",\"companyName\":\"B\",\"applicant\":{"
         "\"contact\":\"1\",\"contactType\":\"MOBILE\"}}",
         "INVALID PARAM: body is not valid JSON"},
    };
    struct sbx_answer ans;
    char *company;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(body_rc(bad[i].body, &company, &ans), 1005);
        assert_null(company);
        assert_int_equal(ans.http_status, 200);
        assert_int_equal(ans.code, 1005);
        assert_string_equal(ans.message, bad[i].msg);
    }
}

static void test_company__markers_and_lists(void **state)
{
    struct sbx_names *list;
    struct sbx_answer ans;
    char err[128];
    char path[] = "/tmp/sbx_names_XXXXXX";
    int fd = mkstemp(path);
    FILE *f;
    struct sbx_business biz = {"[AUTHED]", "[INVALID]", NULL, NULL};

    (void)state;
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("  Listed Co  \r\n\nOther Co\n", f);
    fclose(f);
    assert_int_equal(sbx_names_load(path, &list, err, sizeof err), 0);
    unlink(path);
    biz.authed_list = list;
    assert_int_equal(sbx_check_company(&biz, "Plain Co", &ans),
                     SBX_COMPANY_NORMAL);
    assert_int_equal(sbx_check_company(&biz, "X [AUTHED] Co", &ans),
                     SBX_COMPANY_AUTHED);
    assert_int_equal(ans.code, 1605);
    assert_string_equal(ans.message, "COMPANY ALREADY AUTHED");
    assert_int_equal(sbx_check_company(&biz, "Listed Co", &ans),
                     SBX_COMPANY_AUTHED);
    assert_int_equal(sbx_check_company(&biz, "Y [INVALID] [AUTHED]", &ans),
                     SBX_COMPANY_INVALID);
    assert_int_equal(ans.code, 1005);
    assert_string_equal(ans.message, "INVALID PARAM");
    sbx_names_free(list);
    assert_int_equal(sbx_names_load("/nonexistent/x", &list, err, sizeof err),
                     -1);
}

static void test_nonce__replay_within_window_only(void **state)
{
    struct sbx_nonce_set *set = sbx_nonce_new(1000);
    char buf[32];

    (void)state;
    assert_non_null(set);
    assert_int_equal(sbx_nonce_check_add(set, "a", 0, 0), 0); /* peek */
    assert_int_equal(sbx_nonce_check_add(set, "a", 0, 0), 0);
    assert_int_equal(sbx_nonce_count(set), 0);
    assert_int_equal(sbx_nonce_check_add(set, "a", 0, 1), 0);
    assert_int_equal(sbx_nonce_check_add(set, "a", 999, 1), 1);
    assert_int_equal(sbx_nonce_check_add(set, "b", 500, 1), 0);
    assert_int_equal(sbx_nonce_check_add(set, "a", 1000, 1), 0); /* expired */
    /* time never goes back: "b" (expires 1500) is still remembered */
    assert_int_equal(sbx_nonce_check_add(set, "b", 10, 1), 1);
    /* memory is bounded by the window, through table growth */
    for (int i = 0; i < 5000; i++) {
        snprintf(buf, sizeof buf, "n%d", i);
        assert_int_equal(sbx_nonce_check_add(set, buf, 2000 + i / 10, 1), 0);
    }
    assert_true(sbx_nonce_count(set) <= 5000);
    assert_int_equal(sbx_nonce_check_add(set, "late", 100000, 1), 0);
    assert_int_equal(sbx_nonce_count(set), 1);
    sbx_nonce_free(set);
    sbx_nonce_free(NULL);
}

static void test_fault__pick_partitions_unit_interval(void **state)
{
    struct sbx_fault_rates r = {{0}};

    (void)state;
    r.frac[SBX_FAULT_5XX] = 0.1;
    r.frac[SBX_FAULT_RESET] = 0.2;
    assert_int_equal(sbx_fault_rates_valid(&r), 0);
    assert_int_equal(sbx_fault_pick(&r, 0.0), SBX_FAULT_5XX);
    assert_int_equal(sbx_fault_pick(&r, 0.099), SBX_FAULT_5XX);
    assert_int_equal(sbx_fault_pick(&r, 0.1), SBX_FAULT_RESET);
    assert_int_equal(sbx_fault_pick(&r, 0.299), SBX_FAULT_RESET);
    assert_int_equal(sbx_fault_pick(&r, 0.3001), SBX_FAULT_NONE);
    r.frac[SBX_FAULT_429] = 0.8;
    assert_int_equal(sbx_fault_rates_valid(&r), -1);
}

static void test_fault__rng_reproducible_and_uniform(void **state)
{
    uint64_t a = 1, b = 1;
    int hist[10] = {0};

    (void)state;
    for (int i = 0; i < 100000; i++) {
        double u = sbx_rng_unit(&a);

        assert_true(u == sbx_rng_unit(&b));
        assert_true(u >= 0.0 && u < 1.0);
        hist[(int)(u * 10)]++;
    }
    for (int i = 0; i < 10; i++)
        assert_in_range(hist[i], 9500, 10500);
}

/* ---- sbx_limit ---------------------------------------------------- */

#define T1 1700000000000LL /* a wall-clock second boundary, ms */

static int admitted(struct sbx_limit *l, int64_t t, int n)
{
    int ok = 0;

    while (n-- > 0)
        ok += !sbx_limit_check(l, t);
    return ok;
}

static void test_limit__fixed_window(void **state)
{
    struct sbx_limit *l = sbx_limit_new(5, SBX_LIMIT_FIXED, 0, NULL, 0, T1);
    (void)state;

    assert_non_null(l);
    /* Five per wall-clock second, wherever in it they come. */
    assert_int_equal(admitted(l, T1 + 990, 8), 5);
    assert_int_equal(admitted(l, T1 + 1000, 8), 5);
    assert_int_equal(admitted(l, T1 + 1999, 1), 0);
    /* A request decided late still counts in the second it arrived in. */
    assert_int_equal(admitted(l, T1 + 2000, 2), 2);
    assert_int_equal(admitted(l, T1 + 1500, 1), 0);
    assert_int_equal(admitted(l, T1 + 2500, 3), 3);
    assert_int_equal(admitted(l, T1 + 2600, 1), 0);
    sbx_limit_free(l);
}

static void test_limit__sliding_window(void **state)
{
    struct sbx_limit *l = sbx_limit_new(5, SBX_LIMIT_SLIDING, 0, NULL, 0, T1);
    (void)state;

    assert_non_null(l);
    /* Any trailing 1000 ms: 5 at 990, then nothing until 1990. */
    assert_int_equal(admitted(l, T1 + 990, 8), 5);
    assert_int_equal(admitted(l, T1 + 1000, 1), 0);
    assert_int_equal(admitted(l, T1 + 1989, 1), 0);
    assert_int_equal(admitted(l, T1 + 1990, 8), 5);
    /* Spread out: one every 200 ms is 5 per second, never a sixth. */
    sbx_limit_free(l);
    l = sbx_limit_new(5, SBX_LIMIT_SLIDING, 0, NULL, 0, T1);
    assert_non_null(l);
    for (int k = 0; k < 50; k++) {
        assert_int_equal(admitted(l, T1 + 200 * k, 1), 1);
        if (k >= 4) /* (200k - 900, 200k + 100] holds k-4..k */
            assert_int_equal(admitted(l, T1 + 200 * k + 100, 1), 0);
    }
    sbx_limit_free(l);
}

/* Counting arrivals: refused requests use up the window too. */
static void test_limit__counts_arrivals(void **state)
{
    struct sbx_limit *a = sbx_limit_new(5, SBX_LIMIT_SLIDING, 1, NULL, 0, T1);
    struct sbx_limit *b = sbx_limit_new(5, SBX_LIMIT_SLIDING, 0, NULL, 0, T1);
    int k, na = 0, nb = 0;
    (void)state;

    assert_non_null(a);
    assert_non_null(b);
    /* One every 150 ms (6.7/s): accepted-counting admits 5 of every
     * trailing second; arrival-counting refuses while 5 arrivals are in
     * the window, whatever their fate. */
    for (k = 0; k < 100; k++) {
        na += admitted(a, T1 + 150 * k, 1);
        nb += admitted(b, T1 + 150 * k, 1);
    }
    assert_true(nb >= 70 && nb <= 80);
    assert_true(na < nb);
    sbx_limit_free(a);
    sbx_limit_free(b);
}

static void test_limit__schedule_and_signals(void **state)
{
    struct sbx_limit_step *steps;
    struct sbx_limit *l;
    char err[160];
    size_t n;
    (void)state;

    assert_int_equal(
        sbx_limit_parse_schedule("2:10,4.5:0,6:3", &steps, &n, err, sizeof err),
        0);
    assert_int_equal(n, 3);
    assert_int_equal(steps[1].at_ms, 4500);
    l = sbx_limit_new(1, SBX_LIMIT_FIXED, 0, steps, n, T1);
    free(steps);
    assert_non_null(l);
    assert_int_equal(admitted(l, T1 + 1000, 4), 1);
    assert_int_equal(sbx_limit_rps(l, T1 + 2000), 10);
    assert_int_equal(admitted(l, T1 + 2000, 12), 10);
    assert_int_equal(admitted(l, T1 + 4600, 50), 50); /* 0: no limit */
    assert_int_equal(sbx_limit_rps(l, T1 + 6000), 3);
    /* SIGUSR1 with no step left doubles; SIGUSR2 halves. */
    assert_int_equal(sbx_limit_next_step(l, T1 + 7000), 6);
    assert_int_equal(sbx_limit_halve(l, T1 + 7000), 3);
    sbx_limit_free(l);
    /* SIGUSR1 applies the next step early; the later ones keep their time. */
    assert_int_equal(
        sbx_limit_parse_schedule("10:20,20:40", &steps, &n, err, sizeof err),
        0);
    l = sbx_limit_new(5, SBX_LIMIT_FIXED, 0, steps, n, T1);
    free(steps);
    assert_non_null(l);
    assert_int_equal(sbx_limit_next_step(l, T1 + 1000), 20);
    assert_int_equal(sbx_limit_rps(l, T1 + 15000), 20);
    assert_int_equal(sbx_limit_rps(l, T1 + 20000), 40);
    sbx_limit_free(l);
}

static void test_limit__schedule_errors(void **state)
{
    static const char *const bad[] = {
        "",         "10",    "10:",   ":5",   "x:5",           "10:5,",
        "10:5,5:6", "10:-1", "10:5x", "-1:5", "10:99999999999"};
    struct sbx_limit_step *steps;
    char err[160];
    size_t i, n;
    (void)state;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(
            sbx_limit_parse_schedule(bad[i], &steps, &n, err, sizeof err), -1);
        assert_null(steps);
        assert_true(err[0] != '\0');
    }
}

static void test_limit__json(void **state)
{
    struct sbx_limit *l = sbx_limit_new(2, SBX_LIMIT_SLIDING, 1, NULL, 0, T1);
    json_t *o, *ps;
    (void)state;

    assert_non_null(l);
    admitted(l, T1 + 10, 3);
    admitted(l, T1 + 1005, 1); /* (5, 1005] holds the 3 arrivals at 10 */
    o = sbx_limit_json(l, T1 + 1005);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "rps")), 2);
    assert_string_equal(json_string_value(json_object_get(o, "window")),
                        "sliding");
    assert_string_equal(json_string_value(json_object_get(o, "counts")),
                        "arrivals");
    assert_int_equal(json_integer_value(json_object_get(o, "accepted")), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "throttled")), 2);
    ps = json_object_get(json_object_get(o, "per_second"), "1700000000");
    assert_int_equal(json_integer_value(json_array_get(ps, 0)), 2);
    assert_int_equal(json_integer_value(json_array_get(ps, 1)), 1);
    assert_int_equal(json_integer_value(json_array_get(ps, 2)), 2);
    ps = json_object_get(json_object_get(o, "per_second"), "1700000001");
    assert_int_equal(json_integer_value(json_array_get(ps, 1)), 1);
    json_decref(o);
    sbx_limit_free(l);
}

struct hammer {
    struct sbx_limit *l;
    int ok;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;

    h->ok = admitted(h->l, T1 + 500, 1000);
    return NULL;
}

/* Four threads at once: exactly the limit is admitted. */
static void test_limit__thread_safe(void **state)
{
    struct sbx_limit *l = sbx_limit_new(1234, SBX_LIMIT_FIXED, 0, NULL, 0, T1);
    struct hammer h[4];
    pthread_t th[4];
    int i, total = 0;
    (void)state;

    assert_non_null(l);
    for (i = 0; i < 4; i++) {
        h[i].l = l;
        assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += h[i].ok;
    }
    assert_int_equal(total, 1234);
    sbx_limit_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign__published_vector),
        cmocka_unit_test(test_sign__equal_is_exact),
        cmocka_unit_test(test_auth__accepts_vector),
        cmocka_unit_test(test_auth__missing_headers_in_order),
        cmocka_unit_test(test_auth__token_before_signature),
        cmocka_unit_test(test_auth__bad_signature),
        cmocka_unit_test(test_auth__signature_before_timestamp),
        cmocka_unit_test(test_auth__timestamp_window),
        cmocka_unit_test(test_auth__timestamp_must_be_decimal_ms),
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_body__valid),
        cmocka_unit_test(test_body__invalid),
        cmocka_unit_test(test_company__markers_and_lists),
        cmocka_unit_test(test_nonce__replay_within_window_only),
        cmocka_unit_test(test_fault__pick_partitions_unit_interval),
        cmocka_unit_test(test_fault__rng_reproducible_and_uniform),
        cmocka_unit_test(test_limit__fixed_window),
        cmocka_unit_test(test_limit__sliding_window),
        cmocka_unit_test(test_limit__counts_arrivals),
        cmocka_unit_test(test_limit__schedule_and_signals),
        cmocka_unit_test(test_limit__schedule_errors),
        cmocka_unit_test(test_limit__json),
        cmocka_unit_test(test_limit__thread_safe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
