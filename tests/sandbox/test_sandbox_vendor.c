/* Unit tests for the sandbox's model of the vendor beyond the ticket
 * checks: its clock (sbx_clock). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sbx_check.h"
#include "sbx_clock.h"
#include "sbx_front.h"

static void test_clock__http_date_is_imf_fixdate(void **state)
{
    char out[SBX_HTTP_DATE_LEN + 1];

    (void)state;
    /* the example of RFC 7231 section 7.1.1.1 */
    assert_int_equal(sbx_clock_http_date(784111777000LL, out), 0);
    assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    /* milliseconds are cut, not rounded */
    assert_int_equal(sbx_clock_http_date(784111777999LL, out), 0);
    assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_int_equal(sbx_clock_http_date(0, out), 0);
    assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_int_equal(sbx_clock_http_date(-1, out), 0);
    assert_string_equal(out, "Wed, 31 Dec 1969 23:59:59 GMT");
    assert_int_equal(sbx_clock_http_date(951782400000LL, out), 0);
    assert_string_equal(out, "Tue, 29 Feb 2000 00:00:00 GMT");
    assert_int_equal(strlen(out), SBX_HTTP_DATE_LEN);
    assert_int_equal(sbx_clock_http_date(INT64_MAX, out), -1);
    assert_string_equal(out, "");
}

static void test_clock__offset_shifts_now_and_date(void **state)
{
    char a[SBX_HTTP_DATE_LEN + 1], b[SBX_HTTP_DATE_LEN + 1];
    int64_t t0, t1;

    (void)state;
    sbx_clock_set_offset(0);
    t0 = sbx_clock_now_ms();
    sbx_clock_set_offset(700000);
    t1 = sbx_clock_now_ms();
    assert_in_range(t1 - t0, 700000, 700000 + 1000);
    assert_int_equal(sbx_clock_http_date_now(a), 0);
    assert_int_equal(sbx_clock_http_date(sbx_clock_now_ms(), b), 0);
    /* equal unless a second boundary passed in between */
    if (strcmp(a, b) != 0) {
        assert_int_equal(sbx_clock_http_date_now(a), 0);
        assert_string_equal(a, b);
    }
    sbx_clock_set_offset(-90000);
    assert_in_range(t0 - sbx_clock_now_ms(), 90000 - 1000, 90000);
    sbx_clock_set_offset(0);
}

static void test_fatal__answers_like_the_checks(void **state)
{
    static const struct {
        long long code;
        const char *json;
        unsigned int http;
    } want[] = {
        {441,
         "{\"code\":441,\"message\":\"HEADER REQUIRED,x-qys-open-accesstoken\","
         "\"responseCode\":\"11990441\"}",
         441},
        {442,
         "{\"code\":442,\"message\":\"INVALID TOKEN\",\"responseCode\":"
         "\"11990442\"}",
         442},
        {443, "{\"code\":443,\"message\":\"INVALID SIGNATURE\"}", 443},
        {444, "{\"code\":444,\"message\":\"TIMESTAMP EXPIRED\"}", 444},
        {445, "{\"code\":445,\"message\":\"NONCE REPLAYED\"}", 445},
        {1002, "{\"code\":1002,\"message\":\"PERMISSION DENIED\"}", 200},
        {1601, "{\"code\":1601,\"message\":\"INSUFFICIENT BALANCE\"}", 200},
    };
    struct sbx_answer ans;

    (void)state;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *json;

        assert_int_equal(sbx_answer_fatal(want[i].code, &ans), 0);
        assert_int_equal(ans.http_status, want[i].http);
        json = sbx_answer_json(&ans);
        assert_string_equal(json, want[i].json);
        free(json);
    }
    assert_int_equal(sbx_answer_fatal(0, &ans), -1);
    assert_int_equal(sbx_answer_fatal(1005, &ans), -1);
    assert_int_equal(sbx_answer_fatal(446, &ans), -1);
}

static void test_front__modes_and_answers(void **state)
{
    static const char *const names[] = {"redirect", "html400", "portal"};
    static const unsigned int status[] = {301, 400, 200};
    struct sbx_front_answer fa;
    enum sbx_front m;

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(sbx_front_parse(names[i], &m), 0);
        assert_string_equal(sbx_front_name(m), names[i]);
        sbx_front_answer(m, &fa);
        assert_int_equal(fa.http_status, status[i]);
        assert_non_null(strstr(fa.content_type, "text/html"));
        /* an HTML page, never the vendor's JSON envelope */
        assert_non_null(strstr(fa.body, "<html"));
        assert_null(strstr(fa.body, "\"code\""));
        if (m == SBX_FRONT_REDIRECT)
            assert_string_equal(fa.location, "https://example.invalid/");
        else
            assert_null(fa.location);
    }
    assert_int_equal(sbx_front_parse("none", &m), -1);
    assert_int_equal(sbx_front_parse("Redirect", &m), -1);
    assert_int_equal(sbx_front_parse("", &m), -1);
    assert_string_equal(sbx_front_name(SBX_FRONT_NONE), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock__http_date_is_imf_fixdate),
        cmocka_unit_test(test_clock__offset_shifts_now_and_date),
        cmocka_unit_test(test_fatal__answers_like_the_checks),
        cmocka_unit_test(test_front__modes_and_answers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
