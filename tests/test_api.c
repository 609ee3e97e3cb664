/* test_api.c - the endpoint as data: the exact request body for a company,
 * and the outcome class of every kind of answer in SPEC §2, as a table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "err.h"
#include "sign.h"

/* Borrowed strings: the struct is never released. */
static struct ab_company company(const char *name, const char *contact)
{
    struct ab_company c;
    ab_company_init(&c);
    c.company_name = (char *)name;
    c.applicant_contact = (char *)contact;
    return c;
}

static void body_is(const struct ab_company *c, const char *want)
{
    char *got = ab_api_body(c);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_api__body_minimal_is_compact(void **state)
{
    struct ab_company c = company("Acme Ltd", "13800000000");
    (void)state;

    body_is(&c, "{\"companyName\":\"Acme Ltd\",\"applicant\":{\"contact\":"
                "\"13800000000\",\"contactType\":\"MOBILE\"}}");
}

static void test_api__body_all_fields(void **state)
{
    struct ab_company c = company("Acme Ltd", "a@acme.example");
    (void)state;

    c.applicant_name = "Li Lei";
    c.contact_type = AB_CONTACT_EMAIL;
    c.register_no = "91110000600037341L";
    c.legal_person = "Han Meimei";
    c.callback_url = "https://cb.example/qys?x=1&y=2";
    c.close_button = 0;
    c.modify_fields = "corpName,registerNo";
    body_is(&c, "{\"companyName\":\"Acme Ltd\",\"applicant\":{\"name\":"
                "\"Li Lei\",\"contact\":\"a@acme.example\",\"contactType\":"
                "\"EMAIL\"},\"registerNo\":\"91110000600037341L\","
                "\"legalPerson\":\"Han Meimei\",\"callbackUrl\":"
                "\"https://cb.example/qys?x=1&y=2\",\"closeButton\":false,"
                "\"modifyFields\":\"corpName,registerNo\"}");
}

static void test_api__body_omits_absent_and_empty(void **state)
{
    struct ab_company c = company("Acme Ltd", "13800000000");
    char *got;
    (void)state;

    c.applicant_name = "";
    c.register_no = "";
    c.legal_person = NULL;
    c.callback_url = "";
    c.modify_fields = "";
    got = ab_api_body(&c);
    assert_non_null(got);
    assert_null(strstr(got, "null"));
    assert_null(strstr(got, "\"\""));
    assert_null(strstr(got, "closeButton"));
    assert_null(strstr(got, "name\""));
    assert_null(strstr(got, "registerNo"));
    assert_null(strstr(got, ", "));
    assert_null(strstr(got, ": "));
    free(got);
}

static void test_api__body_close_button_is_boolean(void **state)
{
    struct ab_company c = company("A", "1");
    char *got;
    (void)state;

    c.close_button = 1;
    got = ab_api_body(&c);
    assert_non_null(strstr(got, "\"closeButton\":true"));
    free(got);
    c.close_button = 0;
    got = ab_api_body(&c);
    assert_non_null(strstr(got, "\"closeButton\":false"));
    free(got);
}

static void test_api__body_contact_type_inferred(void **state)
{
    static const struct {
        const char *contact;
        enum ab_contact_type type;
        const char *want;
    } t[] = {
        {"13800000000", AB_CONTACT_INFER, "MOBILE"},
        {"li@acme.example", AB_CONTACT_INFER, "EMAIL"},
        {"li@acme.example", AB_CONTACT_MOBILE, "MOBILE"},
        {"13800000000", AB_CONTACT_EMAIL, "EMAIL"},
    };
    size_t i;
    (void)state;

    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct ab_company c = company("A", t[i].contact);
        char want[64], *got;
        c.contact_type = t[i].type;
        snprintf(want, sizeof want, "\"contactType\":\"%s\"", t[i].want);
        got = ab_api_body(&c);
        assert_non_null(strstr(got, want));
        free(got);
    }
}

static void test_api__body_utf8_raw(void **state)
{
    struct ab_company c = company("契约锁（北京）有限公司", "13800000000");
    (void)state;

    c.legal_person = "张三 \"Zhang\"\\";
    body_is(&c, "{\"companyName\":\"契约锁（北京）有限公司\",\"applicant\":"
                "{\"contact\":\"13800000000\",\"contactType\":\"MOBILE\"},"
                "\"legalPerson\":\"张三 \\\"Zhang\\\"\\\\\"}");
}

/* The body as jansson's json_dumps(JSON_COMPACT) writes it: the reference
 * for whatever ab_api_body() does inside. NULL where jansson refuses (a
 * string that is not valid UTF-8). */
static char *reference_body(const struct ab_company *c)
{
    json_t *o = json_object(), *a = json_object();
    char *out = NULL;
    int rc = 0;

#define ADD(obj, key, v)                                                       \
    do {                                                                       \
        if ((v) && *(v)) {                                                     \
            json_t *js = json_string(v);                                       \
            rc |= js ? json_object_set_new(obj, key, js) : -1;                 \
        }                                                                      \
    } while (0)
    ADD(o, "companyName", c->company_name);
    ADD(a, "name", c->applicant_name);
    ADD(a, "contact", c->applicant_contact);
    rc |= json_object_set_new(a, "contactType",
                              json_string(ab_company_contact_type_name(c)));
    rc |= json_object_set(o, "applicant", a);
    ADD(o, "registerNo", c->register_no);
    ADD(o, "legalPerson", c->legal_person);
    ADD(o, "callbackUrl", c->callback_url);
    if (c->close_button >= 0)
        rc |= json_object_set_new(o, "closeButton",
                                  json_boolean(c->close_button));
    ADD(o, "modifyFields", c->modify_fields);
#undef ADD
    if (rc == 0)
        out = json_dumps(o, JSON_COMPACT);
    json_decref(a);
    json_decref(o);
    return out;
}

static void test_api__body_matches_jansson(void **state)
{
    static const char *const names[] = {
        "Acme Ltd",
        "quote \" backslash \\ slash / end",
        "tab\tnewline\ncr\rbell\x01\x1f del\x7f",
        "契约锁（北京）有限公司 😀 \xe2\x80\xa8 line separator",
        "</script><!-- & ' >",
        "\xc3\xa9t\xc3\xa9 caf\xc3\xa9",
        "x\xff bad utf-8",
        "truncated \xe5\xa5",
        "overlong \xc0\xaf",
        "surrogate \xed\xa0\x80",
    };
    size_t i;
    int k;
    (void)state;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        for (k = 0; k < 4; k++) {
            struct ab_company c =
                company(names[i], k & 1 ? "a@b.example" : names[i]);
            char *want, *got;
            c.close_button = k - 2 < 0 ? -1 : k - 2;
            if (k >= 2) {
                c.applicant_name = (char *)names[i];
                c.register_no = "91110000600037341L";
                c.legal_person = (char *)names[i];
                c.callback_url = "https://cb.example/a?b=c&d=\"e\"";
                c.modify_fields = "corpName";
            }
            want = reference_body(&c);
            got = ab_api_body(&c);
            print_message("%s / %d\n", names[i], k);
            if (!want) {
                assert_null(got);
            } else {
                assert_non_null(got);
                assert_string_equal(got, want);
            }
            free(want);
            free(got);
        }
    }
}

/* --- classification ---------------------------------------------------- */

struct row {
    const char *what;
    const char *transport; /* NULL: an HTTP answer */
    long http;
    const char *body;
    enum ab_outcome want;
    long code; /* checked when has_code */
    int has_code;
    const char *message; /* substring expected in r.message, or NULL */
    const char *ticket;  /* expected ticket, or NULL for none */
};

static const struct row ROWS[] = {
    {"issued", NULL, 200,
     "{\"code\":0,\"message\":\"SUCCESS\",\"result\":{\"ticket\":"
     "\"6f1c0e6c9d1f4f7e9a3b2c1d0e9f8a7b\"}}",
     AB_OUT_ISSUED, 0, 1, "SUCCESS", "6f1c0e6c9d1f4f7e9a3b2c1d0e9f8a7b"},
    {"code 0 without result", NULL, 200, "{\"code\":0,\"message\":\"SUCCESS\"}",
     AB_OUT_TRANSIENT, 0, 1, "without a usable ticket", NULL},
    {"code 0 empty ticket", NULL, 200,
     "{\"code\":0,\"result\":{\"ticket\":\"\"}}", AB_OUT_TRANSIENT, 0, 1, NULL,
     NULL},
    {"code 0 ticket not a string", NULL, 200,
     "{\"code\":0,\"result\":{\"ticket\":42}}", AB_OUT_TRANSIENT, 0, 1, NULL,
     NULL},
    {"code 0 result null", NULL, 200, "{\"code\":0,\"result\":null}",
     AB_OUT_TRANSIENT, 0, 1, NULL, NULL},
    {"1605 already authed", NULL, 200,
     "{\"code\":1605,\"message\":\"COMPANY ALREADY AUTHED\"}",
     AB_OUT_ALREADY_AUTHED, 1605, 1, "ALREADY AUTHED", NULL},
    {"1005 invalid param", NULL, 200,
     "{\"code\":1005,\"message\":\"INVALID PARAM\"}", AB_OUT_REJECTED, 1005, 1,
     "INVALID PARAM", NULL},
    {"11990011 length over limit", NULL, 200,
     "{\"code\":11990011,\"message\":\"长度超过限制\"}", AB_OUT_REJECTED,
     11990011, 1, "长度超过限制", NULL},
    {"unknown code", NULL, 200, "{\"code\":123456,\"message\":\"?\"}",
     AB_OUT_REJECTED, 123456, 1, NULL, NULL},
    {"HTTP 429 with JSON", NULL, 429,
     "{\"code\":429,\"message\":\"TOO MANY REQUESTS\"}", AB_OUT_THROTTLED, 429,
     1, "TOO MANY", NULL},
    {"HTTP 429 empty", NULL, 429, "", AB_OUT_THROTTLED, 0, 0, "429", NULL},
    {"11990006 throttled", NULL, 200,
     "{\"code\":11990006,\"message\":\"接口调用频繁\"}", AB_OUT_THROTTLED,
     11990006, 1, "接口调用频繁", NULL},
    {"transport reset", "Connection reset by peer", 0, NULL, AB_OUT_TRANSIENT,
     0, 0, "reset by peer", NULL},
    {"transport timeout", "Operation timed out after 1000 milliseconds", 0,
     NULL, AB_OUT_TRANSIENT, 0, 0, "timed out", NULL},
    {"HTTP 500 html", NULL, 500, "<html><body>500</body></html>",
     AB_OUT_TRANSIENT, 0, 0, "500", NULL},
    {"HTTP 502 empty", NULL, 502, "", AB_OUT_TRANSIENT, 0, 0, "502", NULL},
    {"HTTP 503 html", NULL, 503, "<html>busy</html>", AB_OUT_TRANSIENT, 0, 0,
     "503", NULL},
    {"HTTP 504 html", NULL, 504, "<html>gateway</html>", AB_OUT_TRANSIENT, 0, 0,
     "504", NULL},
    {"HTTP 500 with a success body", NULL, 500,
     "{\"code\":0,\"result\":{\"ticket\":\"abc\"}}", AB_OUT_TRANSIENT, 0, 1,
     NULL, NULL},
    {"1001 busy", NULL, 200, "{\"code\":1001,\"message\":\"系统繁忙\"}",
     AB_OUT_TRANSIENT, 1001, 1, "系统繁忙", NULL},
    {"200 truncated JSON", NULL, 200, "{\"code\":0,\"resu", AB_OUT_TRANSIENT, 0,
     0, "envelope", NULL},
    {"200 truncated ticket", NULL, 200,
     "{\"code\":0,\"message\":\"SUCCESS\",\"result\":{\"ticket\":\"",
     AB_OUT_TRANSIENT, 0, 0, NULL, NULL},
    {"200 html", NULL, 200, "<html>hi</html>", AB_OUT_TRANSIENT, 0, 0, NULL,
     NULL},
    {"200 empty", NULL, 200, "", AB_OUT_TRANSIENT, 0, 0, NULL, NULL},
    {"200 JSON array", NULL, 200, "[1,2]", AB_OUT_TRANSIENT, 0, 0, NULL, NULL},
    {"200 JSON without code", NULL, 200, "{\"message\":\"hi\"}",
     AB_OUT_TRANSIENT, 0, 0, NULL, NULL},
    {"200 duplicate keys", NULL, 200,
     "{\"code\":0,\"code\":1005,\"result\":{\"ticket\":\"x\"}}",
     AB_OUT_TRANSIENT, 0, 0, NULL, NULL},
    {"441 header required", NULL, 441,
     "{\"code\":441,\"message\":\"HEADER REQUIRED,x-qys-open-nonce\","
     "\"responseCode\":\"11990441\"}",
     AB_OUT_FATAL, 441, 1, "HEADER REQUIRED", NULL},
    {"442 invalid token", NULL, 442,
     "{\"code\":442,\"message\":\"INVALID TOKEN\",\"responseCode\":"
     "\"11990442\"}",
     AB_OUT_FATAL, 442, 1, "INVALID TOKEN", NULL},
    {"443 invalid signature", NULL, 443,
     "{\"code\":443,\"message\":\"INVALID SIGNATURE\"}", AB_OUT_FATAL, 443, 1,
     "INVALID SIGNATURE", NULL},
    {"444 timestamp", NULL, 444,
     "{\"code\":444,\"message\":\"TIMESTAMP "
     "EXPIRED\"}",
     AB_OUT_FATAL, 444, 1, NULL, NULL},
    {"445 nonce replayed", NULL, 445, "{\"code\":445}", AB_OUT_FATAL, 445, 1,
     NULL, NULL},
    {"442 without body", NULL, 442, "", AB_OUT_FATAL, 0, 0, "442", NULL},
    {"401 unauthorised", NULL, 401, "", AB_OUT_FATAL, 0, 0, NULL, NULL},
    {"1002 permission denied", NULL, 200,
     "{\"code\":1002,\"message\":\"没有权限\"}", AB_OUT_FATAL, 1002, 1,
     "没有权限", NULL},
    {"1601 insufficient balance", NULL, 200,
     "{\"code\":1601,\"message\":\"余额不足\"}", AB_OUT_FATAL, 1601, 1,
     "余额不足", NULL},
    {"code 443 in a 200", NULL, 200, "{\"code\":443}", AB_OUT_FATAL, 443, 1,
     NULL, NULL},
    {"responseCode success", NULL, 200,
     "{\"responseCode\":\"00000000\",\"message\":\"ok\",\"result\":"
     "{\"ticket\":\"t1\"}}",
     AB_OUT_ISSUED, 0, 1, NULL, "t1"},
    {"responseCode success without ticket", NULL, 200,
     "{\"responseCode\":\"00000000\"}", AB_OUT_TRANSIENT, 0, 1, NULL, NULL},
    {"responseCode 1005", NULL, 200,
     "{\"responseCode\":\"11990005\",\"message\":\"bad\"}", AB_OUT_REJECTED,
     1005, 1, "bad", NULL},
    {"responseCode 1001", NULL, 200, "{\"responseCode\":\"21990001\"}",
     AB_OUT_TRANSIENT, 1001, 1, NULL, NULL},
    {"responseCode 1002", NULL, 200, "{\"responseCode\":\"14990002\"}",
     AB_OUT_FATAL, 1002, 1, NULL, NULL},
    {"responseCode throttled", NULL, 200, "{\"responseCode\":\"11990006\"}",
     AB_OUT_THROTTLED, 11990006, 1, NULL, NULL},
    {"responseCode unknown", NULL, 200, "{\"responseCode\":\"12345678\"}",
     AB_OUT_REJECTED, 12345678, 1, NULL, NULL},
    {"code wins over responseCode", NULL, 200,
     "{\"code\":1605,\"responseCode\":\"11990005\"}", AB_OUT_ALREADY_AUTHED,
     1605, 1, NULL, NULL},
    {"404 without body", NULL, 404, "", AB_OUT_FATAL, 0, 0, "base-url", NULL},
    {"404 html", NULL, 404, "<html>Not Found</html>", AB_OUT_FATAL, 0, 0,
     "base-url", NULL},
    {"404 with a JSON code", NULL, 404,
     "{\"code\":404,\"message\":\"NOT FOUND\"}", AB_OUT_FATAL, 404, 1, NULL,
     NULL},
    {"405", NULL, 405, "", AB_OUT_FATAL, 0, 0, NULL, NULL},
    {"408", NULL, 408, "", AB_OUT_TRANSIENT, 0, 0, NULL, NULL},
    {"400 without a code", NULL, 400, "<html>bad</html>", AB_OUT_TRANSIENT, 0,
     0, "400", NULL},
};

static void test_api__classify_table(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        const struct row *w = &ROWS[i];
        struct ab_api_result r;
        memset(&r, 0x5a, sizeof r);
        ab_api_classify(w->transport, w->http, NULL, w->body,
                        w->body ? strlen(w->body) : 0, NULL, &r);
        print_message("%s\n", w->what);
        assert_int_equal(r.outcome, w->want);
        assert_int_equal(r.http_status, w->transport ? 0 : w->http);
        assert_int_equal(r.has_code, w->has_code);
        if (w->has_code)
            assert_int_equal(r.code, w->code);
        assert_true(strlen(r.message) < sizeof r.message);
        if (w->message)
            assert_non_null(strstr(r.message, w->message));
        if (w->want != AB_OUT_ISSUED)
            assert_string_equal(r.ticket, "");
        if (w->ticket)
            assert_string_equal(r.ticket, w->ticket);
        /* Every class except issued says why in the message. */
        if (w->want != AB_OUT_ISSUED && w->want != AB_OUT_ALREADY_AUTHED &&
            w->want != AB_OUT_REJECTED)
            assert_true(r.message[0] != '\0' || w->has_code);
    }
}

static void test_api__body_length_counts_not_nul(void **state)
{
    const char body[] = "{\"code\":1605}trailing";
    struct ab_api_result r;
    (void)state;

    ab_api_classify(NULL, 200, NULL, body, 13, NULL, &r);
    assert_int_equal(r.outcome, AB_OUT_ALREADY_AUTHED);
}

static void test_api__long_message_cut_on_a_character(void **state)
{
    char body[2048], *p;
    struct ab_api_result r;
    int i;
    (void)state;

    p = body + sprintf(body, "{\"code\":1005,\"message\":\"x");
    for (i = 0; i < 400; i++)
        p += sprintf(p, "错"); /* 3 bytes each: 1201 bytes of message */
    sprintf(p, "\"}");
    ab_api_classify(NULL, 200, NULL, body, strlen(body), NULL, &r);
    assert_int_equal(r.outcome, AB_OUT_REJECTED);
    assert_true(strlen(r.message) <= sizeof r.message - 1);
    /* 'x' then whole 3-byte characters only. */
    assert_int_equal((strlen(r.message) - 1) % 3, 0);
}

static void test_api__message_control_characters_become_spaces(void **state)
{
    const char body[] =
        "{\"code\":1005,\"message\":\"bad\\u001b[2Jname\\r\\nX\\u007f\"}";
    struct ab_api_result r;
    (void)state;

    ab_api_classify(NULL, 200, NULL, body, strlen(body), NULL, &r);
    assert_int_equal(r.outcome, AB_OUT_REJECTED);
    assert_string_equal(r.message, "bad [2Jname  X ");
    ab_api_classify("Recv failure:\tConnection reset\n", 0, NULL, NULL, 0, NULL,
                    &r);
    assert_string_equal(r.message, "Recv failure: Connection reset ");
}

/* Answers that are not the vendor's, and answers that say the base URL is
 * wrong: flagged for the dispatcher's breaker and its configuration stop. */
static void test_api__foreign_and_config_answers(void **state)
{
    static const struct {
        long http;
        const char *ctype, *body;
        enum ab_outcome want;
        int foreign, config;
        const char *message;
    } t[] = {
        {200, "text/html", "<html>portal</html>", AB_OUT_TRANSIENT, 1, 0,
         "text/html"},
        {400, "text/html", "<html>bad request</html>", AB_OUT_TRANSIENT, 1, 0,
         "HTTP 400 (text/html)"},
        {200, NULL, "", AB_OUT_TRANSIENT, 1, 0, "no content type"},
        {200, "application/json", "{\"code\":0,\"result\":{\"ticket\":\"x\"}}",
         AB_OUT_ISSUED, 0, 0, NULL},
        {400, "application/json", "{\"code\":1005,\"message\":\"bad\"}",
         AB_OUT_REJECTED, 0, 0, "bad"},
        {502, "text/html", "<html>bad gateway</html>", AB_OUT_TRANSIENT, 0, 0,
         NULL},
        {429, NULL, "", AB_OUT_THROTTLED, 0, 0, NULL},
        {408, NULL, "", AB_OUT_TRANSIENT, 0, 0, NULL},
        {403, "text/html", "<html>forbidden</html>", AB_OUT_FATAL, 0, 0, NULL},
        {301, "text/html", "<html>moved</html>", AB_OUT_FATAL, 0, 1,
         "redirected"},
        {302, NULL, "", AB_OUT_FATAL, 0, 1, "base-url"},
        {404, "application/json", "{\"code\":404}", AB_OUT_FATAL, 0, 1,
         "base-url"},
        {405, NULL, "", AB_OUT_FATAL, 0, 1, "base-url"},
    };
    size_t i;
    (void)state;

    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct ab_api_result r;
        ab_api_classify(NULL, t[i].http, t[i].ctype, t[i].body,
                        strlen(t[i].body), NULL, &r);
        print_message("HTTP %ld %s\n", t[i].http, t[i].body);
        assert_int_equal(r.outcome, t[i].want);
        assert_int_equal(r.foreign, t[i].foreign);
        assert_int_equal(r.config, t[i].config);
        if (t[i].message && !strstr(r.message, t[i].message))
            fail_msg("want '%s' in '%s'", t[i].message, r.message);
    }
}

/* Every copy of a request gets its own timestamp, nonce and signature, and
 * the signature is MD5(token + secret + timestamp + nonce). */
static void test_api__signed_headers_are_fresh_per_copy(void **state)
{
    struct ab_headers a, b;
    char ts[32], nonce[64], sig[AB_SIGN_HEX_LEN + 1];
    (void)state;

    assert_int_equal(ab_api_sign_headers("tok", "sec", 1565753984643LL, &a), 0);
    assert_int_equal(ab_api_sign_headers("tok", "sec", 1565753984643LL, &b), 0);
    assert_int_equal(a.n, 5);
    assert_string_equal(a.line[0], "x-qys-open-accesstoken: tok");
    assert_string_equal(a.line[1], "x-qys-open-timestamp: 1565753984643");
    assert_true(strncmp(a.line[2], "x-qys-open-nonce: ", 18) == 0);
    assert_int_equal(strlen(a.line[2] + 18), AB_SIGN_NONCE_LEN);
    assert_string_not_equal(a.line[2], b.line[2]);
    assert_string_not_equal(a.line[3], b.line[3]);
    assert_true(strncmp(a.line[4], "version: authbatch-", 19) == 0);
    snprintf(ts, sizeof ts, "%.20s", a.line[1] + 22);
    snprintf(nonce, sizeof nonce, "%.40s", a.line[2] + 18);
    assert_int_equal(ab_sign("tok", "sec", ts, nonce, sig), 0);
    assert_string_equal(a.line[3] + 22, sig);
    /* The dry run's copy names neither token nor signature. */
    assert_int_equal(ab_api_redacted_headers(1, &a), 0);
    assert_string_equal(a.line[0], "x-qys-open-accesstoken: <redacted>");
    assert_string_equal(a.line[3], "x-qys-open-signature: <redacted>");
}

static void test_api__oversized_ticket_not_issued(void **state)
{
    char body[2048];
    struct ab_api_result r;
    (void)state;

    snprintf(body, sizeof body,
             "{\"code\":0,\"result\":{\"ticket\":\"%01100d\"}}", 7);
    ab_api_classify(NULL, 200, NULL, body, strlen(body), NULL, &r);
    assert_int_equal(r.outcome, AB_OUT_REJECTED);
    assert_string_equal(r.ticket, "");
    assert_non_null(strstr(r.message, "ticket of 1100 bytes"));

    /* A ticket with an embedded NUL is not a usable ticket. */
    snprintf(body, sizeof body,
             "{\"code\":0,\"result\":{\"ticket\":\"ab\\u0000cd\"}}");
    ab_api_classify(NULL, 200, NULL, body, strlen(body), NULL, &r);
    assert_int_equal(r.outcome, AB_OUT_TRANSIENT);
}

static void test_api__code_overrides(void **state)
{
    struct ab_api_codes x;
    struct ab_api_result r;
    const char *b1003 = "{\"code\":1003,\"message\":\"temporary\"}";
    const char *b1005 = "{\"code\":1005,\"message\":\"bad\"}";
    const char *b1605 = "{\"code\":1605}";
    (void)state;

    memset(&x, 0, sizeof x);
    ab_api_classify(NULL, 200, NULL, b1003, strlen(b1003), &x, &r);
    assert_int_equal(r.outcome, AB_OUT_REJECTED);

    assert_int_equal(ab_api_parse_codes("1003,1004", x.retry, &x.nretry), 0);
    assert_int_equal(ab_api_parse_codes("1005", x.fatal, &x.nfatal), 0);
    assert_int_equal(x.nretry, 2);
    ab_api_classify(NULL, 200, NULL, b1003, strlen(b1003), &x, &r);
    assert_int_equal(r.outcome, AB_OUT_TRANSIENT);
    assert_int_equal(r.code, 1003);
    ab_api_classify(NULL, 200, NULL, b1005, strlen(b1005), &x, &r);
    assert_int_equal(r.outcome, AB_OUT_FATAL);
    /* Fatal wins when a code is in both lists. */
    assert_int_equal(ab_api_parse_codes("1605", x.fatal, &x.nfatal), 0);
    assert_int_equal(ab_api_parse_codes("1605", x.retry, &x.nretry), 0);
    ab_api_classify(NULL, 200, NULL, b1605, strlen(b1605), &x, &r);
    assert_int_equal(r.outcome, AB_OUT_FATAL);
    /* Overrides never touch the HTTP-level classes. */
    ab_api_classify(NULL, 503, NULL, "", 0, &x, &r);
    assert_int_equal(r.outcome, AB_OUT_TRANSIENT);
}

static void test_api__parse_codes(void **state)
{
    long codes[AB_API_MAX_EXTRA];
    int n = 0, i;
    char many[512] = "1";
    (void)state;

    assert_int_equal(ab_api_parse_codes("", codes, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(ab_api_parse_codes("1,22,11990006", codes, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(codes[2], 11990006);
    assert_int_equal(ab_api_parse_codes("7", codes, &n), 0); /* appends */
    assert_int_equal(n, 4);
    n = 0;
    assert_int_equal(ab_api_parse_codes("1,,2", codes, &n), AB_EINVAL);
    n = 0;
    assert_int_equal(ab_api_parse_codes("abc", codes, &n), AB_EINVAL);
    n = 0;
    assert_int_equal(ab_api_parse_codes("1;2", codes, &n), AB_EINVAL);
    for (i = 1; i <= AB_API_MAX_EXTRA; i++)
        strcat(many, ",1");
    n = 0;
    assert_int_equal(ab_api_parse_codes(many, codes, &n), AB_EINVAL);
    assert_true(n <= AB_API_MAX_EXTRA);
}

/* --- GET /companyauth/result -------------------------------------------- */

static void escaped_is(const char *in, const char *want)
{
    char buf[512];
    size_t n = ab_api_query_escape(in, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
    assert_int_equal(ab_api_query_escape(in, NULL, 0), strlen(want));
}

static int hexval(char c)
{
    return c >= 'A' ? c - 'A' + 10 : c - '0';
}

/* The query value as a servlet decodes it (tests/sandbox/sbx_query.c):
 * '+' is a space, %XX a byte. */
static void form_decode(const char *s, char *out)
{
    for (; *s; s++, out++) {
        if (*s == '+')
            *out = ' ';
        else if (*s == '%' && s[1] && s[2]) {
            *out = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        } else
            *out = *s;
    }
    *out = '\0';
}

static void test_api__query_escape_tricky_names(void **state)
{
    static const char *const names[] = {
        "A&B+C=D",           "上海A&B+C (有限) 公司=x",
        "100% Pure & Co",    "a+b=c&d=e",
        "  spaces  around ", "/?#[]@!$'()*,;:",
        "Tab\tand\"quote\"", "北京市海淀区中关村科技有限公司",
        "x==y&&z++",
    };
    char enc[512], dec[512];
    size_t i, k;
    (void)state;

    escaped_is("Acme-Ltd_1.0~x", "Acme-Ltd_1.0~x");
    escaped_is("A&B+C=D", "A%26B%2BC%3DD");
    escaped_is("上海A&B+C (有限) 公司=x",
               "%E4%B8%8A%E6%B5%B7A%26B%2BC%20%28%E6%9C%89%E9%99%90%29%20"
               "%E5%85%AC%E5%8F%B8%3Dx");
    escaped_is("100% off", "100%25%20off");
    escaped_is("", "");
    escaped_is("/?#[]@!$'()*,;:",
               "%2F%3F%23%5B%5D%40%21%24%27%28%29%2A%2C%3B%3A");
    escaped_is("\x7f\xff", "%7F%FF");
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        ab_api_query_escape(names[i], enc, sizeof enc);
        /* Only unreserved characters and escapes go out raw: nothing a
         * query parser splits on or reads as a space. */
        for (k = 0; enc[k]; k++)
            assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
                                   "opqrstuvwxyz0123456789-._~%",
                                   enc[k]));
        form_decode(enc, dec);
        assert_string_equal(dec, names[i]);
    }
}

static void test_api__query_escape_cut_short(void **state)
{
    char buf[6];
    (void)state;

    /* Never past the buffer, always terminated, the full length told. */
    assert_int_equal(ab_api_query_escape("A&B&C", buf, sizeof buf), 9);
    assert_string_equal(buf, "A%26B");
    assert_int_equal(ab_api_query_escape("abcdefgh", buf, 1), 8);
    assert_string_equal(buf, "");
}

static void test_api__result_url(void **state)
{
    char *u = ab_api_result_url("http://127.0.0.1:8080", "A&B+C=D 有限");
    (void)state;

    assert_non_null(u);
    assert_string_equal(u, "http://127.0.0.1:8080/companyauth/result"
                           "?companyName=A%26B%2BC%3DD%20%E6%9C%89%E9%99%90");
    free(u);
}

struct result_case {
    long http;
    const char *transport;
    const char *body;
    enum ab_outcome outcome;
    int has_status;
    const char *raw;
    enum ab_auth status;
    const char *request_id, *reason, *applicant;
};

static void test_api__classify_result_table(void **state)
{
    static const struct result_case cases[] = {
        /* The mapping of SPEC §6, and the members read. */
        {200, NULL,
         "{\"code\":0,\"message\":\"SUCCESS\",\"result\":{\"status\":2,"
         "\"requestId\":\"2800000000000000001\",\"name\":\"A&B\","
         "\"applicantName\":\"张三\"}}",
         AB_OUT_ISSUED, 1, "2", AB_AUTH_AUTHENTICATED, "2800000000000000001",
         "", "张三"},
        {200, NULL,
         "{\"code\":0,\"result\":{\"status\":3,\"basicReason\":"
         "\"营业执照与企业名称不一致\",\"applicant\":\"李四\"}}",
         AB_OUT_ISSUED, 1, "3", AB_AUTH_REJECTED, "",
         "营业执照与企业名称不一致", "李四"},
        {200, NULL, "{\"code\":0,\"result\":{\"status\":-1}}", AB_OUT_ISSUED, 1,
         "-1", AB_AUTH_NOT_STARTED, "", "", ""},
        {200, NULL, "{\"code\":0,\"result\":{\"status\":1}}", AB_OUT_ISSUED, 1,
         "1", AB_AUTH_NOT_STARTED, "", "", ""},
        {200, NULL, "{\"code\":0,\"result\":{\"status\":4}}", AB_OUT_ISSUED, 1,
         "4", AB_AUTH_IN_PROGRESS, "", "", ""},
        {200, NULL, "{\"code\":0,\"result\":{\"status\":6}}", AB_OUT_ISSUED, 1,
         "6", AB_AUTH_EXPIRED, "", "", ""},
        /* Tolerance: unknown members, numbers as text and the other way
         * round, responseCode only. */
        {200, NULL,
         "{\"code\":0,\"result\":{\"status\":4,\"tenantType\":\"COMPANY\","
         "\"extra\":{\"a\":[1,2]},\"requestId\":2800000000000000009}}",
         AB_OUT_ISSUED, 1, "4", AB_AUTH_IN_PROGRESS, "2800000000000000009", "",
         ""},
        {200, NULL,
         "{\"responseCode\":\"00000000\",\"result\":{\"status\":"
         "\"2\"}}",
         AB_OUT_ISSUED, 1, "2", AB_AUTH_AUTHENTICATED, "", "", ""},
        /* Unknown values: kept raw, never guessed. */
        {200, NULL, "{\"code\":0,\"result\":{\"status\":5}}", AB_OUT_ISSUED, 1,
         "5", AB_AUTH_UNKNOWN, "", "", ""},
        {200, NULL, "{\"code\":0,\"result\":{\"status\":\"PASSED\"}}",
         AB_OUT_ISSUED, 1, "PASSED", AB_AUTH_UNKNOWN, "", "", ""},
        {200, NULL, "{\"code\":0,\"result\":{\"status\":null}}", AB_OUT_ISSUED,
         1, "null", AB_AUTH_UNKNOWN, "", "", ""},
        {200, NULL, "{\"code\":0,\"result\":{\"status\":2.0}}", AB_OUT_ISSUED,
         1, "2.0", AB_AUTH_UNKNOWN, "", "", ""},
        /* No status to read: retried like a ticket-less code 0. */
        {200, NULL, "{\"code\":0,\"message\":\"SUCCESS\"}", AB_OUT_TRANSIENT, 0,
         "", AB_AUTH_UNKNOWN, "", "", ""},
        {200, NULL, "{\"code\":0,\"result\":{\"name\":\"x\"}}",
         AB_OUT_TRANSIENT, 0, "", AB_AUTH_UNKNOWN, "", "", ""},
        {200, NULL, "{\"code\":0,\"result\":\"2\"}", AB_OUT_TRANSIENT, 0, "",
         AB_AUTH_UNKNOWN, "", "", ""},
        /* The same classes as the ticket endpoint's. */
        {200, NULL, "{\"code\":1005,\"message\":\"INVALID PARAM\"}",
         AB_OUT_REJECTED, 0, "", AB_AUTH_UNKNOWN, "", "", ""},
        {200, NULL, "{\"code\":11990006,\"message\":\"busy\"}",
         AB_OUT_THROTTLED, 0, "", AB_AUTH_UNKNOWN, "", "", ""},
        {429, NULL, "", AB_OUT_THROTTLED, 0, "", AB_AUTH_UNKNOWN, "", "", ""},
        {502, NULL, "<html>bad gateway</html>", AB_OUT_TRANSIENT, 0, "",
         AB_AUTH_UNKNOWN, "", "", ""},
        {443, NULL, "{\"code\":443,\"message\":\"INVALID SIGNATURE\"}",
         AB_OUT_FATAL, 0, "", AB_AUTH_UNKNOWN, "", "", ""},
        {200, NULL, "{\"code\":1002,\"message\":\"PERMISSION DENIED\"}",
         AB_OUT_FATAL, 0, "", AB_AUTH_UNKNOWN, "", "", ""},
        {0, "Connection reset by peer", NULL, AB_OUT_TRANSIENT, 0, "",
         AB_AUTH_UNKNOWN, "", "", ""},
        {200, NULL, "{\"code\":0,\"result\":{\"status\":2", AB_OUT_TRANSIENT, 0,
         "", AB_AUTH_UNKNOWN, "", "", ""},
    };
    struct ab_api_result r;
    struct ab_api_poll p;
    size_t i;
    (void)state;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct result_case *c = &cases[i];
        ab_api_classify_result(c->transport, c->http, "application/json",
                               c->body, c->body ? strlen(c->body) : 0, NULL, &r,
                               &p);
        if (r.outcome != c->outcome || p.has_status != c->has_status)
            fail_msg("case %zu: outcome %s has_status %d (%s)", i,
                     ab_outcome_name(r.outcome), p.has_status, r.message);
        assert_string_equal(p.raw_status, c->raw);
        assert_int_equal(p.status, c->status);
        assert_string_equal(p.request_id, c->request_id);
        assert_string_equal(p.reason, c->reason);
        assert_string_equal(p.applicant, c->applicant);
    }
}

static void test_api__classify_result_keeps_fields(void **state)
{
    const char *body = "{\"code\":0,\"result\":{\"status\":4,"
                       "\"name\":\"A&B\",\"future\":true}}";
    struct ab_api_result r;
    struct ab_api_poll p;
    json_t *f;
    char big[8192];
    int n;
    (void)state;

    ab_api_classify_result(NULL, 200, NULL, body, strlen(body), NULL, &r, &p);
    assert_int_equal(r.outcome, AB_OUT_ISSUED);
    /* The answer as received. */
    assert_string_equal(p.fields, body);
    f = json_loads(p.fields, 0, NULL);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(f, "result"), "name")),
                        "A&B");
    assert_true(
        json_is_true(json_object_get(json_object_get(f, "result"), "future")));
    json_decref(f);

    /* A result too large to keep whole is left out, not cut into invalid
     * JSON; its status is read all the same. */
    n = snprintf(big, sizeof big,
                 "{\"code\":0,\"result\":{\"status\":6,"
                 "\"authInfo\":\"");
    memset(big + n, 'x', 4000);
    strcpy(big + n + 4000, "\"}}");
    ab_api_classify_result(NULL, 200, NULL, big, strlen(big), NULL, &r, &p);
    assert_int_equal(r.outcome, AB_OUT_ISSUED);
    assert_int_equal(p.status, AB_AUTH_EXPIRED);
    assert_string_equal(p.fields, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api__body_minimal_is_compact),
        cmocka_unit_test(test_api__body_all_fields),
        cmocka_unit_test(test_api__body_omits_absent_and_empty),
        cmocka_unit_test(test_api__body_close_button_is_boolean),
        cmocka_unit_test(test_api__body_contact_type_inferred),
        cmocka_unit_test(test_api__body_utf8_raw),
        cmocka_unit_test(test_api__body_matches_jansson),
        cmocka_unit_test(test_api__classify_table),
        cmocka_unit_test(test_api__body_length_counts_not_nul),
        cmocka_unit_test(test_api__long_message_cut_on_a_character),
        cmocka_unit_test(test_api__message_control_characters_become_spaces),
        cmocka_unit_test(test_api__oversized_ticket_not_issued),
        cmocka_unit_test(test_api__foreign_and_config_answers),
        cmocka_unit_test(test_api__signed_headers_are_fresh_per_copy),
        cmocka_unit_test(test_api__code_overrides),
        cmocka_unit_test(test_api__parse_codes),
        cmocka_unit_test(test_api__query_escape_tricky_names),
        cmocka_unit_test(test_api__query_escape_cut_short),
        cmocka_unit_test(test_api__result_url),
        cmocka_unit_test(test_api__classify_result_table),
        cmocka_unit_test(test_api__classify_result_keeps_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
