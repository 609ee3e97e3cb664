/* test_cbparse.c - callback bodies (cbparse.h) from tables: form and JSON
 * bodies, query fields, both applicant spellings, unknown fields kept, and
 * each strictness rule (sizes, duplicates, UTF-8, control characters,
 * media types). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cbparse.h"
#include "err.h"

#define N_(a) (sizeof(a) / sizeof((a)[0]))
#define FORM "application/x-www-form-urlencoded"
#define JSON "application/json"

/* NULL and "" differ: NULL in a want column means "absent". */
static void expect_str(const char *what, size_t row, const char *got,
                       const char *want)
{
    if (!want && !got)
        return;
    if (!want || !got || strcmp(want, got) != 0)
        fail_msg("row %zu: %s: got '%s', want '%s'", row, what,
                 got ? got : "(absent)", want ? want : "(absent)");
}

static void test_cbparse__accepts(void **state)
{
    static const struct {
        const char *query, *ctype, *body;
        const char *status, *request_id, *action_event, *name, *applicant,
            *phone, *fields, *key;
    } t[] = {
        /* The vendor's form, as the reference describes it. */
        {NULL, FORM,
         "status=1&requestId=R-1&actionEvent=7&authInfo=%7B%22name%22%3A%22"
         "%E7%A4%BA%E4%BE%8B%E5%85%AC%E5%8F%B8%22%2C%22applicantName%22%3A%"
         "22%E6%9D%8E%E5%9B%9B%22%2C%22applicantPhone%22%3A%2213800000000%"
         "22%7D",
         "1", "R-1", "7", "示例公司", "李四", "13800000000",
         "{\"status\":\"1\",\"requestId\":\"R-1\",\"actionEvent\":\"7\","
         "\"authInfo\":{\"name\":\"示例公司\",\"applicantName\":\"李四\","
         "\"applicantPhone\":\"13800000000\"}}",
         "cb:[\"1\",\"7\",\"R-1\"]"},
        /* '+' is a space, %2B a plus; a charset parameter; unknown field
         * kept. */
        {NULL, "application/x-www-form-urlencoded; charset=UTF-8",
         "status=0&requestId=a+b%2Bc&extra=x", "0", "a b+c", NULL, NULL, NULL,
         NULL, "{\"status\":\"0\",\"requestId\":\"a b+c\",\"extra\":\"x\"}",
         "cb:[\"0\",null,\"a b+c\"]"},
        /* The older spelling of the applicant. */
        {NULL, FORM, "status=2&authInfo=%7B%22applicant%22%3A%22Wang%22%7D",
         "2", NULL, NULL, NULL, "Wang", NULL, NULL, "cb:[\"2\",null,null]"},
        /* Both spellings: applicantName wins. */
        {NULL, JSON,
         "{\"status\":1,\"authInfo\":{\"applicant\":\"Old\","
         "\"applicantName\":\"New\"}}",
         "1", NULL, NULL, NULL, "New", NULL, NULL, NULL},
        /* JSON body: integers, authInfo as a string holding JSON, with
         * white space inside. */
        {NULL, JSON,
         "{\"status\": 1, \"requestId\": 123456789012, \"actionEvent\": 7,"
         " \"authInfo\": \"{\\n  \\\"name\\\": \\\"X\\\",\\n"
         "  \\\"registerNo\\\": \\\"91310000MA1FL4F902\\\"}\"}",
         "1", "123456789012", "7", "X", NULL, NULL,
         "{\"status\":1,\"requestId\":123456789012,\"actionEvent\":7,"
         "\"authInfo\":{\"name\":\"X\",\"registerNo\":\"91310000MA1FL4F902\"}"
         "}",
         "cb:[\"1\",\"7\",\"123456789012\"]"},
        /* No Content-Type: sniffed. */
        {NULL, NULL, "  {\"status\":\"0\"}", "0", NULL, NULL, NULL, NULL, NULL,
         NULL, NULL},
        {NULL, NULL, "status=0", "0", NULL, NULL, NULL, NULL, NULL, NULL, NULL},
        {NULL, "", "status=1", "1", NULL, NULL, NULL, NULL, NULL, NULL, NULL},
        /* A vendor-specific JSON type. */
        {NULL, "application/vnd.qys+json", "{\"status\":2}", "2", NULL, NULL,
         NULL, NULL, NULL, NULL, NULL},
        /* Fields in the query, none in the body. */
        {"status=1&requestId=Q", FORM, "", "1", "Q", NULL, NULL, NULL, NULL,
         NULL, NULL},
        {"requestId=Q", FORM, "status=1", "1", "Q", NULL, NULL, NULL, NULL,
         NULL, "cb:[\"1\",null,\"Q\"]"},
        /* Empty pairs, a trailing '&', a field without '='. */
        {NULL, FORM, "&status=1&&flag&", "1", NULL, NULL, NULL, NULL, NULL,
         "{\"status\":\"1\",\"flag\":\"\"}", NULL},
        /* Empty values are absent; authInfo empty or null is absent. */
        {NULL, FORM, "status=1&requestId=&authInfo=", "1", NULL, NULL, NULL,
         NULL, NULL, NULL, "cb:[\"1\",null,null]"},
        {NULL, JSON, "{\"status\":\"1\",\"authInfo\":null,\"requestId\":null}",
         "1", NULL, NULL, NULL, NULL, NULL, NULL, NULL},
        /* The applicant as an object with a name; a numeric phone. */
        {NULL, JSON,
         "{\"status\":0,\"authInfo\":{\"applicant\":{\"name\":\"Li\"},"
         "\"applicantPhone\":13800000000}}",
         "0", NULL, NULL, NULL, "Li", "13800000000", NULL, NULL},
        /* Unknown nested fields of any type are kept. */
        {NULL, JSON, "{\"status\":1,\"x\":[1,{\"y\":null}],\"z\":true}", "1",
         NULL, NULL, NULL, NULL, NULL,
         "{\"status\":1,\"x\":[1,{\"y\":null}],\"z\":true}", NULL},
        /* An unknown status value parses: mapping is not the parser's. */
        {NULL, FORM, "status=7", "7", NULL, NULL, NULL, NULL, NULL, NULL, NULL},
        /* Tab, newline and CJK are fine in authInfo's JSON text. */
        {NULL, FORM,
         "status=1&authInfo=%7B%09%22name%22%3A%22%E5%85%AC%22%0A%7D", "1",
         NULL, NULL, "公", NULL, NULL, NULL, NULL},
    };
    size_t i;
    (void)state;

    for (i = 0; i < N_(t); i++) {
        struct ab_cb cb;
        int rc = ab_cbparse(t[i].query, t[i].query ? strlen(t[i].query) : 0,
                            t[i].ctype, t[i].body, strlen(t[i].body), &cb);
        if (rc != 0)
            fail_msg("row %zu: refused (%d): %s", i, cb.fault, cb.reason);
        assert_int_equal(cb.fault, AB_CB_OK);
        expect_str("status", i, cb.status, t[i].status);
        expect_str("requestId", i, cb.request_id, t[i].request_id);
        expect_str("actionEvent", i, cb.action_event, t[i].action_event);
        expect_str("name", i, cb.name, t[i].name);
        expect_str("applicant", i, cb.applicant_name, t[i].applicant);
        expect_str("phone", i, cb.applicant_phone, t[i].phone);
        if (t[i].fields)
            expect_str("fields", i, cb.fields_json, t[i].fields);
        if (t[i].key)
            expect_str("dedupe key", i, cb.dedupe_key, t[i].key);
        assert_non_null(cb.fields_json);
        assert_non_null(cb.dedupe_key);
        ab_cb_release(&cb);
        assert_null(cb.status);
    }
}

static void test_cbparse__refuses(void **state)
{
    static const struct {
        const char *query, *ctype, *body;
        size_t len; /* 0: strlen(body) */
        enum ab_cb_fault fault;
        const char *reason; /* a substring of the reason */
    } t[] = {
        {NULL, FORM, "requestId=R", 0, AB_CB_MALFORMED, "no field 'status'"},
        {NULL, FORM, "", 0, AB_CB_MALFORMED, "no field 'status'"},
        {NULL, FORM, "status=", 0, AB_CB_MALFORMED, "'status' is empty"},
        {NULL, FORM, "status=1&status=1", 0, AB_CB_MALFORMED,
         "'status' appears twice"},
        {NULL, FORM, "x=1&status=1&x=2", 0, AB_CB_MALFORMED,
         "field 3 appears twice"},
        {"status=1", FORM, "status=1", 0, AB_CB_MALFORMED, "appears twice"},
        {"status=1", JSON, "{\"status\":1}", 0, AB_CB_MALFORMED,
         "appears twice"},
        {NULL, JSON, "{\"status\":1,\"status\":2}", 0, AB_CB_MALFORMED,
         "not JSON"},
        {NULL, FORM, "status=1&authInfo=%7B%22a%22%3A1%2C%22a%22%3A2%7D", 0,
         AB_CB_MALFORMED, "'authInfo' is not JSON"},
        {NULL, FORM, "status=%", 0, AB_CB_MALFORMED, "broken %-escape"},
        {NULL, FORM, "status=%4", 0, AB_CB_MALFORMED, "broken %-escape"},
        {NULL, FORM, "status=%zz", 0, AB_CB_MALFORMED, "broken %-escape"},
        {NULL, FORM, "%G1=1&status=1", 0, AB_CB_MALFORMED, "broken"},
        {NULL, FORM, "status=1&requestId=%FF", 0, AB_CB_MALFORMED,
         "'requestId' is not valid UTF-8"},
        {NULL, FORM, "status=1&requestId=%C0%AF", 0, AB_CB_MALFORMED,
         "UTF-8"}, /* overlong '/' */
        {NULL, FORM, "status=1&requestId=%ED%A0%80", 0, AB_CB_MALFORMED,
         "UTF-8"}, /* a surrogate */
        {NULL, FORM, "status=1&requestId=a%00b", 0, AB_CB_MALFORMED,
         "control character"},
        {NULL, FORM, "status=1&requestId=a%0Ab", 0, AB_CB_MALFORMED,
         "control character"},
        {NULL, FORM, "status=1&requestId=a%1B%5B2J", 0, AB_CB_MALFORMED,
         "control character"}, /* a terminal escape */
        {NULL, FORM, "status=1&requestId=a%7Fb", 0, AB_CB_MALFORMED,
         "control character"},
        {NULL, FORM, "status=1&requestId=a%C2%9Bb", 0, AB_CB_MALFORMED,
         "control character"}, /* C1 CSI */
        {NULL, FORM, "status=1&x%00y=1", 0, AB_CB_MALFORMED, "field 2"},
        {NULL, FORM, "=1&status=1", 0, AB_CB_MALFORMED, "empty name"},
        {NULL, JSON, "{\"status\":1,\"\\u001b\":1}", 0, AB_CB_MALFORMED,
         "control character"},
        {NULL, JSON, "{\"status\":1,\"x\":[\"a\\u0007\"]}", 0, AB_CB_MALFORMED,
         "control character"},
        {NULL, JSON, "{\"status\":\"1\\u0000\"}", 0, AB_CB_MALFORMED,
         "not JSON"},
        {NULL, JSON,
         "{\"status\":1,\"authInfo\":\"{\\\"name\\\":\\\"a\\u0001"
         "\\\"}\"}",
         0, AB_CB_MALFORMED, "control character"},
        {NULL, FORM, "status=1&authInfo=nope", 0, AB_CB_MALFORMED,
         "'authInfo' is not JSON"},
        {NULL, FORM, "status=1&authInfo=%5B1%5D", 0, AB_CB_MALFORMED,
         "'authInfo' is not a JSON object"},
        {NULL, JSON, "{\"status\":1,\"authInfo\":[1]}", 0, AB_CB_MALFORMED,
         "'authInfo' is not a JSON object"},
        {NULL, JSON, "[1]", 0, AB_CB_MALFORMED, "not a JSON object"},
        {NULL, JSON, "{\"status\":1} x", 0, AB_CB_MALFORMED, "not JSON"},
        {NULL, JSON, "{\"status\":1.5}", 0, AB_CB_MALFORMED,
         "neither a string nor an integer"},
        {NULL, JSON, "{\"status\":true}", 0, AB_CB_MALFORMED,
         "neither a string nor an integer"},
        {NULL, JSON, "{\"status\":\"12345678901234567\"}", 0, AB_CB_MALFORMED,
         "'status' is over 16 bytes"},
        {NULL, JSON, "{\"status\":1,\"x\":[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}",
         0, AB_CB_MALFORMED, "nested too deeply"},
        {NULL, JSON, "\xff{}", 0, AB_CB_MALFORMED, "not JSON"},
        {NULL, "multipart/form-data; boundary=x", "--x\r\n", 0,
         AB_CB_MEDIA_TYPE, "content type"},
        {NULL, "text/plain", "status=1", 0, AB_CB_MEDIA_TYPE, "content type"},
        {NULL, FORM "; charset=GBK", "status=1", 0, AB_CB_MEDIA_TYPE,
         "content type"},
        {NULL, "application/json\x1b[2J", "{}", 0, AB_CB_MEDIA_TYPE,
         "content type"},
    };
    size_t i;
    (void)state;

    for (i = 0; i < N_(t); i++) {
        struct ab_cb cb;
        size_t n = t[i].len ? t[i].len : strlen(t[i].body);
        int rc = ab_cbparse(t[i].query, t[i].query ? strlen(t[i].query) : 0,
                            t[i].ctype, t[i].body, n, &cb);
        if (rc != AB_EDATA)
            fail_msg("row %zu: accepted (rc %d)", i, rc);
        if (cb.fault != t[i].fault || !strstr(cb.reason, t[i].reason))
            fail_msg("row %zu: fault %d '%s', want %d '...%s...'", i, cb.fault,
                     cb.reason, t[i].fault, t[i].reason);
        assert_null(cb.status);
        assert_null(cb.fields_json);
        ab_cb_release(&cb);
    }
}

static void test_cbparse__limits(void **state)
{
    char *big = malloc(AB_CB_MAX_BODY + 2);
    struct ab_cb cb;
    size_t n;
    (void)state;

    /* A body of exactly the limit parses (status, then empty pairs);
     * one byte more is too large. */
    n = (size_t)snprintf(big, AB_CB_MAX_BODY + 2, "status=1");
    while (n + 1 <= AB_CB_MAX_BODY)
        big[n++] = '&';
    assert_int_equal(ab_cbparse(NULL, 0, FORM, big, n, &cb), 0);
    ab_cb_release(&cb);
    big[n++] = '&';
    assert_int_equal(ab_cbparse(NULL, 0, FORM, big, n, &cb), AB_EDATA);
    assert_int_equal(cb.fault, AB_CB_TOO_LARGE);
    ab_cb_release(&cb);

    /* A value at its limit, and one byte over. */
    n = (size_t)snprintf(big, AB_CB_MAX_BODY, "status=1&x=");
    memset(big + n, 'a', AB_CB_MAX_VALUE);
    assert_int_equal(ab_cbparse(NULL, 0, FORM, big, n + AB_CB_MAX_VALUE, &cb),
                     0);
    ab_cb_release(&cb);
    big[n + AB_CB_MAX_VALUE] = 'a';
    assert_int_equal(
        ab_cbparse(NULL, 0, FORM, big, n + AB_CB_MAX_VALUE + 1, &cb), AB_EDATA);
    assert_true(strstr(cb.reason, "field 2 is over") != NULL);
    ab_cb_release(&cb);

    /* The field count. */
    n = (size_t)snprintf(big, AB_CB_MAX_BODY, "status=1");
    for (int i = 1; i < AB_CB_MAX_FIELDS; i++)
        n += (size_t)snprintf(big + n, AB_CB_MAX_BODY - n, "&f%d=1", i);
    assert_int_equal(ab_cbparse(NULL, 0, FORM, big, n, &cb), 0);
    ab_cb_release(&cb);
    n += (size_t)snprintf(big + n, AB_CB_MAX_BODY - n, "&one=more");
    assert_int_equal(ab_cbparse(NULL, 0, FORM, big, n, &cb), AB_EDATA);
    assert_true(strstr(cb.reason, "more than 64 fields") != NULL);
    ab_cb_release(&cb);

    /* A name at its limit, and over. */
    n = (size_t)snprintf(big, AB_CB_MAX_BODY, "status=1&");
    memset(big + n, 'k', AB_CB_MAX_NAME);
    big[n + AB_CB_MAX_NAME] = '=';
    assert_int_equal(
        ab_cbparse(NULL, 0, FORM, big, n + AB_CB_MAX_NAME + 1, &cb), 0);
    ab_cb_release(&cb);
    memset(big + n, 'k', AB_CB_MAX_NAME + 1);
    big[n + AB_CB_MAX_NAME + 1] = '=';
    assert_int_equal(
        ab_cbparse(NULL, 0, FORM, big, n + AB_CB_MAX_NAME + 2, &cb), AB_EDATA);
    ab_cb_release(&cb);

    /* The query limit. */
    memset(big, '&', AB_CB_MAX_QUERY + 1);
    assert_int_equal(
        ab_cbparse(big, AB_CB_MAX_QUERY + 1, FORM, "status=1", 8, &cb),
        AB_EDATA);
    assert_int_equal(cb.fault, AB_CB_TOO_LARGE);
    ab_cb_release(&cb);

    /* requestId over its limit. */
    n = (size_t)snprintf(big, AB_CB_MAX_BODY, "status=1&requestId=");
    memset(big + n, 'r', AB_CB_MAX_REQUEST_ID + 1);
    assert_int_equal(
        ab_cbparse(NULL, 0, FORM, big, n + AB_CB_MAX_REQUEST_ID + 1, &cb),
        AB_EDATA);
    assert_true(strstr(cb.reason, "'requestId' is over 256 bytes") != NULL);
    ab_cb_release(&cb);
    free(big);
}

static void test_cbparse__reason_never_quotes_input(void **state)
{
    /* A hostile unknown field name is named by position, never echoed. */
    static const char body[] =
        "status=1&%1B%5D0%3Bpwned%07=1&%1B%5D0%3Bpwned%07=2";
    struct ab_cb cb;
    (void)state;

    assert_int_equal(ab_cbparse(NULL, 0, FORM, body, strlen(body), &cb),
                     AB_EDATA);
    assert_null(strstr(cb.reason, "pwned"));
    assert_null(strchr(cb.reason, '\x1b'));
    ab_cb_release(&cb);
}

static void test_cbparse__action_event_text(void **state)
{
    (void)state;
    assert_string_equal(ab_cb_action_event_text("2"),
                        "basic information rejected");
    assert_string_equal(ab_cb_action_event_text("4"),
                        "authorisation letter rejected");
    assert_null(ab_cb_action_event_text("3"));
    assert_null(ab_cb_action_event_text(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cbparse__accepts),
        cmocka_unit_test(test_cbparse__refuses),
        cmocka_unit_test(test_cbparse__limits),
        cmocka_unit_test(test_cbparse__reason_never_quotes_input),
        cmocka_unit_test(test_cbparse__action_event_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
