/* Unit tests for the sandbox's model of the vendor beyond the ticket
 * checks: its clock (sbx_clock), fatal answers, front ends (sbx_front),
 * query decoding (sbx_query), the applicants (sbx_story), the records
 * behind the result endpoint (sbx_auth) and the callbacks' pure parts
 * (sbx_callback). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "sbx_auth.h"
#include "sbx_callback.h"
#include "sbx_check.h"
#include "sbx_clock.h"
#include "sbx_front.h"
#include "sbx_query.h"
#include "sbx_story.h"

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

/* ---- sbx_query ---------------------------------------------------- */

static char *dec(const char *s)
{
    char *out = NULL;

    if (sbx_query_decode(s, strlen(s), &out) != 0)
        return NULL;
    return out;
}

static void test_query__decodes_like_a_servlet(void **state)
{
    static const struct {
        const char *in, *want;
    } ok[] = {
        {"", ""},
        {"plain", "plain"},
        {"A+B", "A B"},
        {"A%2BB", "A+B"},
        {"A%26B", "A&B"},
        {"K%3DV", "K=V"},
        {"%e4%b8%8a%E6%B5%B7", "\xe4\xb8\x8a\xe6\xb5\xb7"}, /* 上海 */
        {"%20%2520", " %20"},
        {"%E4%B8", "\xef\xbf\xbd"},             /* truncated: U+FFFD */
        {"%FFx", "\xef\xbf\xbdx"},              /* invalid byte */
        {"%C0%AF", "\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong */
        {"%ED%A0%80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
        {"%F0%9F%98%80", "\xf0\x9f\x98\x80"},                  /* U+1F600 */
        {"\xe4\xb8\x8a", "\xe4\xb8\x8a"}, /* raw UTF-8 kept */
    };
    static const char *const malformed[] = {"%", "%4", "A%G0", "%%", "50%"};
    char *out;

    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        out = dec(ok[i].in);
        assert_non_null(out);
        assert_string_equal(out, ok[i].want);
        free(out);
    }
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        assert_int_equal(
            sbx_query_decode(malformed[i], strlen(malformed[i]), &out), -1);
        assert_null(out);
    }
}

static void expect_param(const char *query, const char *name, const char *want)
{
    char *v = NULL;
    int rc = sbx_query_get(query, name, &v);

    if (want == NULL) {
        assert_int_equal(rc, 0);
        assert_null(v);
    } else {
        assert_int_equal(rc, 1);
        assert_string_equal(v, want);
    }
    free(v);
}

static void test_query__get_parameter(void **state)
{
    (void)state;
    /* encoded properly, every tricky name comes back */
    expect_param("companyName=A%26B%2BC%3DD%20%E4%B8%8A", "companyName",
                 "A&B+C=D \xe4\xb8\x8a");
    /* not encoded: & splits, + is a space, a later = stays in the value */
    expect_param("companyName=A&B+C=D", "companyName", "A");
    expect_param("companyName=A&B+C=D", "B C", "D");
    expect_param("companyName=K=V", "companyName", "K=V");
    /* the first value wins; names are decoded and exact */
    expect_param("a=1&a=2", "a", "1");
    expect_param("comp%61nyName=x", "companyName", "x");
    expect_param("companyname=x", "companyName", NULL);
    /* a name without = has an empty value; empty parts are skipped */
    expect_param("&&a&b=2", "a", "");
    expect_param("=x&b=2", "b", "2");
    /* a malformed escape drops that parameter only */
    expect_param("a=50%&a=ok", "a", "ok");
    expect_param("a=50%", "a", NULL);
    expect_param("", "a", NULL);
    expect_param(NULL, "a", NULL);
}

static void test_query__encode_round_trips(void **state)
{
    static const char *const names[] = {
        "A&B",
        "X+Y",
        "K=V",
        "a b",
        "100%",
        "~._-",
        "\xe4\xb8\x8a\xe6\xb5\xb7 (\xe6\x9c\x89) \xe5\x85\xac\xe5\x8f\xb8"};
    char *e, *d;

    (void)state;
    e = sbx_query_encode("A&B+C=D e~");
    assert_string_equal(e, "A%26B%2BC%3DD%20e~");
    free(e);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        e = sbx_query_encode(names[i]);
        d = dec(e);
        assert_string_equal(d, names[i]);
        free(e);
        free(d);
    }
}

/* ---- sbx_story ---------------------------------------------------- */

static void test_story__mix_parse(void **state)
{
    struct sbx_fate_mix m, d;
    char err[128];

    (void)state;
    sbx_fate_mix_default(&d);
    assert_int_equal(
        sbx_fate_mix_parse("pass=0.5,reject=0.15,progress=0.1,never=0.15,"
                           "expire=0.1",
                           &m, err, sizeof err),
        0);
    for (int i = 0; i < SBX_FATE_COUNT; i++)
        assert_true(m.frac[i] == d.frac[i]);
    assert_int_equal(sbx_fate_mix_parse("reject=1", &m, err, sizeof err), 0);
    assert_true(m.frac[SBX_FATE_REJECT] == 1.0 && m.frac[SBX_FATE_PASS] == 0);
    assert_int_equal(sbx_fate_mix_parse("pass=0.5", &m, err, sizeof err), -1);
    assert_string_equal(err, "the fractions add up to 0.5, not 1");
    assert_int_equal(sbx_fate_mix_parse("pass=1,win=0", &m, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "unknown fate 'win'"));
    assert_int_equal(
        sbx_fate_mix_parse("pass=0.5,pass=0.5", &m, err, sizeof err), -1);
    assert_int_equal(sbx_fate_mix_parse("pass", &m, err, sizeof err), -1);
    assert_int_equal(sbx_fate_mix_parse("pass=x", &m, err, sizeof err), -1);
    assert_int_equal(sbx_fate_mix_parse("pass=2,never=-1", &m, err, sizeof err),
                     -1);
}

static void test_story__draw_is_seeded_and_follows_the_mix(void **state)
{
    struct sbx_fate_mix mix;
    struct sbx_story a, b;
    int hist[SBX_FATE_COUNT] = {0};
    char name[32];
    int differ = 0;

    (void)state;
    sbx_fate_mix_default(&mix);
    for (int i = 0; i < 100000; i++) {
        snprintf(name, sizeof name, "Co %d", i);
        sbx_story_draw(7, name, 1, &mix, &a);
        sbx_story_draw(7, name, 1, &mix, &b);
        assert_int_equal(a.fate, b.fate);
        assert_int_equal(a.start, b.start);
        assert_int_equal(a.finish, b.finish);
        hist[a.fate]++;
        assert_in_range(a.start, 60, 299);
        assert_in_range(a.finish - a.start, 120, 599);
        assert_int_equal(a.expire, 1800);
        if (a.fate == SBX_FATE_REJECT)
            assert_non_null(a.reason);
        else
            assert_null(a.reason);
        sbx_story_draw(8, name, 1, &mix, &b);
        differ += a.fate != b.fate;
    }
    /* within 1 point of the mix (the standard deviation is ~0.16) */
    for (int f = 0; f < SBX_FATE_COUNT; f++)
        assert_in_range(hist[f], (int)(mix.frac[f] * 100000) - 1000,
                        (int)(mix.frac[f] * 100000) + 1000);
    assert_true(differ > 30000); /* another seed, other fates */
}

static void test_story__reissue_redraws(void **state)
{
    struct sbx_fate_mix mix;
    struct sbx_story s1, s2;
    char name[32];
    int second_pass = 0, n_reject = 0;

    (void)state;
    sbx_fate_mix_default(&mix);
    /* a rejected applicant passes on the second ticket with p = 0.5 */
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "Re Co %d", i);
        sbx_story_draw(1, name, 1, &mix, &s1);
        if (s1.fate != SBX_FATE_REJECT)
            continue;
        n_reject++;
        sbx_story_draw(1, name, 2, &mix, &s2);
        second_pass += s2.fate == SBX_FATE_PASS;
    }
    assert_true(n_reject > 2000);
    assert_in_range(second_pass * 100 / n_reject, 45, 55);
}

static void test_story__timeline(void **state)
{
    struct sbx_story st = {SBX_FATE_PASS, 100, 400, 1800, NULL};
    struct sbx_story_event ev[2];

    (void)state;
    assert_int_equal(sbx_story_status(&st, -5), 1);
    assert_int_equal(sbx_story_status(&st, 99), 1);
    assert_int_equal(sbx_story_status(&st, 100), 4);
    assert_int_equal(sbx_story_status(&st, 399), 4);
    assert_int_equal(sbx_story_status(&st, 400), 2);
    assert_int_equal(sbx_story_status(&st, 100000), 2);
    assert_int_equal(sbx_story_next_change(&st, 0), 100);
    assert_int_equal(sbx_story_next_change(&st, 100), 400);
    assert_int_equal(sbx_story_next_change(&st, 400), -1);
    assert_int_equal(sbx_story_events(&st, ev), 2);
    assert_true(ev[0].at == 100 && ev[0].status == 0 &&
                ev[0].action_event == 0);
    assert_true(ev[1].at == 400 && ev[1].status == 1 &&
                ev[1].action_event == 7);
    /* the status at an event's moment is already the new one */
    assert_int_equal(sbx_story_status(&st, ev[0].at), 4);

    st.fate = SBX_FATE_REJECT;
    st.reason = "r";
    assert_int_equal(sbx_story_status(&st, 400), 3);
    assert_int_equal(sbx_story_events(&st, ev), 2);
    assert_true(ev[1].status == 2 && ev[1].action_event == 2);

    st.fate = SBX_FATE_PROGRESS;
    assert_int_equal(sbx_story_status(&st, 100000), 4);
    assert_int_equal(sbx_story_next_change(&st, 100), -1);
    assert_int_equal(sbx_story_events(&st, ev), 1);

    st.fate = SBX_FATE_NEVER;
    assert_int_equal(sbx_story_status(&st, 100000), 1);
    assert_int_equal(sbx_story_next_change(&st, 0), -1);
    assert_int_equal(sbx_story_events(&st, ev), 0);

    st.fate = SBX_FATE_EXPIRE;
    assert_int_equal(sbx_story_status(&st, 1799), 1);
    assert_int_equal(sbx_story_status(&st, 1800), 6);
    assert_int_equal(sbx_story_next_change(&st, 0), 1800);
    assert_int_equal(sbx_story_events(&st, ev), 0);

    /* a vendor minute of 10 real ms */
    st.fate = SBX_FATE_PASS;
    sbx_story_scale(&st, 10);
    assert_true(st.start == 16 && st.finish == 66 && st.expire == 300);

    sbx_story_undelivered(&st);
    assert_int_equal(st.fate, SBX_FATE_NEVER);
    assert_int_equal(sbx_story_status(&st, 100000), 1);
}

/* ---- sbx_auth ----------------------------------------------------- */

#define T0 1800000000000LL
#define MIN 600 /* real ms per vendor minute in these tests */

static struct sbx_auth *new_auth(const char *mix)
{
    struct sbx_auth_opts o = {0};
    char err[128];

    o.seed = 11;
    o.minute_ms = MIN;
    assert_int_equal(sbx_fate_mix_parse(mix, &o.mix, err, sizeof err), 0);
    return sbx_auth_new(&o, NULL);
}

static size_t issue(struct sbx_auth *a, const char *name, int64_t now)
{
    struct sbx_ticket_fields f = {0};
    char t[SBX_TICKET_LEN + 1];
    size_t seq;

    f.company = (char *)name;
    f.applicant_name = (char *)"Li";
    f.contact = (char *)"13800000000";
    f.contact_mobile = 1;
    seq = sbx_auth_issue(a, &f, 1, now, t);
    assert_true(seq > 0);
    assert_int_equal(strlen(t), SBX_TICKET_LEN);
    return seq;
}

static int result_status(struct sbx_auth *a, enum sbx_auth_by by,
                         const char *key, int64_t now)
{
    json_t *r = sbx_auth_result(a, by, key, now, 1.0, 1.0);
    int st;

    assert_non_null(r);
    st = (int)json_integer_value(json_object_get(r, "status"));
    json_decref(r);
    return st;
}

static void test_auth__story_unfolds_on_the_clock(void **state)
{
    struct sbx_auth *a = new_auth("pass=1");
    struct sbx_story st;
    char rid[SBX_REQUEST_ID_LEN + 1];
    json_t *r;
    size_t seq;

    (void)state;
    assert_int_equal(result_status(a, SBX_AUTH_BY_NAME, "A&B", T0), -1);
    seq = issue(a, "A&B", T0);
    assert_int_equal(seq, 1);
    sbx_story_draw(11, "A&B", 1, &(struct sbx_fate_mix){{1, 0, 0, 0, 0}}, &st);
    sbx_story_scale(&st, MIN);
    assert_int_equal(result_status(a, SBX_AUTH_BY_NAME, "A&B", T0), 1);
    assert_int_equal(
        result_status(a, SBX_AUTH_BY_NAME, "A&B", T0 + st.start - 1), 1);
    assert_int_equal(result_status(a, SBX_AUTH_BY_NAME, "A&B", T0 + st.start),
                     4);
    assert_int_equal(result_status(a, SBX_AUTH_BY_NAME, "A&B", T0 + st.finish),
                     2);
    sbx_auth_request_id(seq, rid);
    assert_string_equal(rid, "2800000000000000001");
    assert_int_equal(
        result_status(a, SBX_AUTH_BY_REQUEST_ID, rid, T0 + st.finish), 2);
    assert_int_equal(
        result_status(a, SBX_AUTH_BY_REQUEST_ID, "2800000000000000002", T0),
        -1);
    assert_int_equal(result_status(a, SBX_AUTH_BY_REQUEST_ID, "1", T0), -1);
    r = sbx_auth_result(a, SBX_AUTH_BY_NAME, "A&B", T0, 1.0, 1.0);
    assert_string_equal(json_string_value(json_object_get(r, "name")), "A&B");
    assert_string_equal(json_string_value(json_object_get(r, "applicantName")),
                        "Li");
    assert_string_equal(json_string_value(json_object_get(r, "applicantPhone")),
                        "13800000000");
    assert_null(json_object_get(r, "registerNo"));
    assert_null(json_object_get(r, "basicReason"));
    json_decref(r);
    sbx_auth_free(a);
}

static void test_auth__reissue_restarts_and_freezes_the_old(void **state)
{
    struct sbx_auth *a = new_auth("reject=1");
    char rid1[SBX_REQUEST_ID_LEN + 1];
    json_t *truth, *c;
    size_t tickets, undelivered;
    int64_t late = T0 + 40 * MIN;

    (void)state;
    sbx_auth_request_id(issue(a, "Co", T0), rid1);
    assert_int_equal(result_status(a, SBX_AUTH_BY_NAME, "Co", late), 3);
    {
        json_t *r = sbx_auth_result(a, SBX_AUTH_BY_NAME, "Co", late, 1, 1);

        assert_true(json_is_string(json_object_get(r, "basicReason")));
        json_decref(r);
    }
    issue(a, "Co", late);
    assert_int_equal(result_status(a, SBX_AUTH_BY_NAME, "Co", late), 1);
    assert_int_equal(result_status(a, SBX_AUTH_BY_REQUEST_ID, rid1, late), 3);
    /* superseded before its story ended: frozen as it was */
    issue(a, "Early", T0);
    issue(a, "Early", T0 + 1);
    assert_int_equal(
        result_status(a, SBX_AUTH_BY_REQUEST_ID, "2800000000000000003", late),
        1);
    truth = sbx_auth_truth_json(a, late);
    assert_false(json_is_true(json_object_get(truth, "settled")));
    c = json_array_get(json_object_get(truth, "companies"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "company")), "Co");
    assert_int_equal(json_integer_value(json_object_get(c, "tickets")), 2);
    assert_int_equal(json_integer_value(json_object_get(c, "status")), 1);
    assert_string_equal(json_string_value(json_object_get(c, "requestId")),
                        "2800000000000000002");
    assert_true(json_is_null(json_object_get(c, "basicReason")));
    json_decref(truth);
    truth = sbx_auth_truth_json(a, late + 40 * MIN);
    assert_true(json_is_true(json_object_get(truth, "settled")));
    json_decref(truth);
    sbx_auth_counts(a, &tickets, &undelivered);
    assert_int_equal(tickets, 4);
    assert_int_equal(undelivered, 0);
    sbx_auth_free(a);
}

static void test_auth__undelivered_never_starts(void **state)
{
    struct sbx_auth *a = new_auth("pass=1");
    size_t tickets, undelivered;
    json_t *ledger;

    (void)state;
    sbx_auth_undelivered(a, issue(a, "Lost", T0), T0);
    sbx_auth_undelivered(a, 1, T0); /* twice: counted once */
    sbx_auth_undelivered(a, 99, T0);
    assert_int_equal(result_status(a, SBX_AUTH_BY_NAME, "Lost", T0 + 99 * MIN),
                     1);
    sbx_auth_counts(a, &tickets, &undelivered);
    assert_int_equal(tickets, 1);
    assert_int_equal(undelivered, 1);
    ledger = sbx_auth_ledger_json(a);
    assert_false(json_is_true(json_object_get(
        json_array_get(json_object_get(ledger, "tickets"), 0), "delivered")));
    json_decref(ledger);
    sbx_auth_free(a);
}

static void test_auth__unknown_status_and_spelling(void **state)
{
    struct sbx_auth_opts o = {0};
    struct sbx_auth *a;
    json_t *r;

    (void)state;
    o.seed = 1;
    o.minute_ms = MIN;
    o.mix.frac[SBX_FATE_NEVER] = 1;
    o.unknown_status = 5;
    o.unknown_frac = 0.25;
    o.applicant_field = SBX_APPLICANT_MIXED;
    a = sbx_auth_new(&o, NULL);
    issue(a, "U", T0);
    r = sbx_auth_result(a, SBX_AUTH_BY_NAME, "U", T0, 0.2, 0.2);
    assert_int_equal(json_integer_value(json_object_get(r, "status")), 5);
    assert_non_null(json_object_get(r, "applicant"));
    assert_null(json_object_get(r, "applicantName"));
    json_decref(r);
    r = sbx_auth_result(a, SBX_AUTH_BY_NAME, "U", T0, 0.3, 0.7);
    assert_int_equal(json_integer_value(json_object_get(r, "status")), 1);
    assert_non_null(json_object_get(r, "applicantName"));
    json_decref(r);
    /* no record: -1, never the unknown value */
    r = sbx_auth_result(a, SBX_AUTH_BY_NAME, "none", T0, 0.0, 0.0);
    assert_int_equal(json_integer_value(json_object_get(r, "status")), -1);
    json_decref(r);
    sbx_auth_free(a);
}

/* ---- sbx_callback (pure parts) ------------------------------------ */

static void test_callback__allowed_urls(void **state)
{
    (void)state;
    assert_true(sbx_callback_url_allowed("http://127.0.0.1:8080/cb/1/tok"));
    assert_true(sbx_callback_url_allowed("http://localhost/cb"));
    assert_true(sbx_callback_url_allowed("https://LOCALHOST:9/x"));
    assert_true(sbx_callback_url_allowed("http://[::1]:5/x"));
    assert_false(sbx_callback_url_allowed("http://example.com/cb"));
    assert_false(sbx_callback_url_allowed("http://127.0.0.2/cb"));
    assert_false(sbx_callback_url_allowed("http://127.0.0.1.nip.io/cb"));
    assert_false(sbx_callback_url_allowed("http://user@10.0.0.1/cb"));
    assert_false(sbx_callback_url_allowed("ftp://127.0.0.1/cb"));
    assert_false(sbx_callback_url_allowed("file:///etc/passwd"));
    assert_false(sbx_callback_url_allowed("not a url"));
}

static void test_callback__accepted_answers(void **state)
{
    static const char *const yes[] = {
        "{\"code\":0}", " {\"code\": 0, \"message\": \"ok\", \"data\": []} "};
    static const char *const no[] = {"{\"code\":1}",   "{\"code\":\"0\"}",
                                     "{\"code\":0.0}", "[0]",
                                     "success",        "",
                                     "{\"msg\":0}"};

    (void)state;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(sbx_callback_accepted(200, yes[i], strlen(yes[i])));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(sbx_callback_accepted(200, no[i], strlen(no[i])));
    assert_false(sbx_callback_accepted(201, yes[0], strlen(yes[0])));
    assert_false(sbx_callback_accepted(500, yes[0], strlen(yes[0])));
    assert_false(sbx_callback_accepted(200, NULL, 0));
}

static void test_callback__bodies(void **state)
{
    struct sbx_callback_msg m = {"A&B", "2800000000000000001", 1, 7,
                                 "{\"name\":\"A&B\"}"};
    const char *ct;
    char *b;
    json_t *o;

    (void)state;
    b = sbx_callback_body(&m, 0, 0, &ct);
    assert_string_equal(b, "status=1&requestId=2800000000000000001&authInfo="
                           "%7B%22name%22%3A%22A%26B%22%7D&actionEvent=7");
    assert_string_equal(ct, "application/x-www-form-urlencoded;charset=UTF-8");
    free(b);
    b = sbx_callback_body(&m, 0, 1, &ct);
    assert_non_null(strstr(b, "&tenantType=COMPANY"));
    free(b);
    b = sbx_callback_body(&m, 1, 1, &ct);
    assert_string_equal(ct, "application/json;charset=UTF-8");
    o = json_loads(b, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "actionEvent")), 7);
    assert_string_equal(json_string_value(json_object_get(o, "authInfo")),
                        "{\"name\":\"A&B\"}");
    assert_string_equal(json_string_value(json_object_get(o, "tenantType")),
                        "COMPANY");
    json_decref(o);
    free(b);
}

static void test_callback__retry_pattern(void **state)
{
    (void)state;
    /* attempt 1 fails: again at once; 2: a minute later; 3: at once */
    assert_int_equal(sbx_callback_retry_delay(1, 600), 0);
    assert_int_equal(sbx_callback_retry_delay(2, 600), 600);
    assert_int_equal(sbx_callback_retry_delay(3, 600), 0);
    assert_int_equal(SBX_CALLBACK_ATTEMPTS, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock__http_date_is_imf_fixdate),
        cmocka_unit_test(test_clock__offset_shifts_now_and_date),
        cmocka_unit_test(test_fatal__answers_like_the_checks),
        cmocka_unit_test(test_front__modes_and_answers),
        cmocka_unit_test(test_query__decodes_like_a_servlet),
        cmocka_unit_test(test_query__get_parameter),
        cmocka_unit_test(test_query__encode_round_trips),
        cmocka_unit_test(test_story__mix_parse),
        cmocka_unit_test(test_story__draw_is_seeded_and_follows_the_mix),
        cmocka_unit_test(test_story__reissue_redraws),
        cmocka_unit_test(test_story__timeline),
        cmocka_unit_test(test_auth__story_unfolds_on_the_clock),
        cmocka_unit_test(test_auth__reissue_restarts_and_freezes_the_old),
        cmocka_unit_test(test_auth__undelivered_never_starts),
        cmocka_unit_test(test_auth__unknown_status_and_spelling),
        cmocka_unit_test(test_callback__allowed_urls),
        cmocka_unit_test(test_callback__accepted_answers),
        cmocka_unit_test(test_callback__bodies),
        cmocka_unit_test(test_callback__retry_pattern),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
