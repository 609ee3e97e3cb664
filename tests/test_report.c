/* test_report.c - status/report queries, every report format, and retry,
 * against tests/data/report_mix.sql (a known mix of outcomes; its header
 * lists the expected figures). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "store.h"
#include "store_internal.h"
#include "store_report.h"

struct fx {
    char dir[64];
    char path[128];
    struct ab_store *s;
};

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

static int open_db(struct fx *x, int with_fixture)
{
    struct ab_err err = {0};
    char sqlpath[512];
    const char *data = getenv("AB_TEST_DATA");
    char *sql;

    snprintf(x->dir, sizeof x->dir, "/tmp/ab_test_report.XXXXXX");
    if (!mkdtemp(x->dir))
        return -1;
    snprintf(x->path, sizeof x->path, "%s/t.db", x->dir);
    if (ab_store_open(x->path, 0, &x->s, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    if (!with_fixture)
        return 0;
    snprintf(sqlpath, sizeof sqlpath, "%s/report_mix.sql",
             data ? data : "tests/data");
    if (!(sql = read_all(sqlpath))) {
        fprintf(stderr, "cannot read %s\n", sqlpath);
        return -1;
    }
    if (ab_store_exec(x->s, sql, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        free(sql);
        return -1;
    }
    free(sql);
    return 0;
}

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof *x);
    if (!x || open_db(x, 1) != 0)
        return -1;
    *state = x;
    return 0;
}

static int setup_empty(void **state)
{
    struct fx *x = calloc(1, sizeof *x);
    if (!x || open_db(x, 0) != 0)
        return -1;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    char cmd[160];

    ab_store_close(x->s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", x->dir);
    if (system(cmd) != 0)
        return -1;
    free(x);
    return 0;
}

static char *render_opts(struct fx *x, struct ab_report_opts *o, int want_rc,
                         size_t *len_out);

/* Runs a report into a string (caller frees). */
static char *render(struct fx *x, enum ab_report_format fmt, const char *status,
                    int tickets, int bom, int64_t maxrows)
{
    struct ab_report_opts o = {0};

    o.format = fmt;
    o.status = status;
    o.with_tickets = tickets;
    o.bom = bom;
    o.html_max_rows = maxrows;
    return render_opts(x, &o, 0, NULL);
}

/* The same with every option; the report must return want_rc. */
static char *render_opts(struct fx *x, struct ab_report_opts *o, int want_rc,
                         size_t *len_out)
{
    struct ab_err err = {0};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc;

    assert_non_null(f);
    o->title = "fixture.db";
    o->now_ms = 1700010000000;
    rc = ab_report_write(x->s, o, f, &err);
    fclose(f);
    if (rc != want_rc)
        fprintf(stderr, "report: %s\n", err.msg);
    assert_int_equal(rc, want_rc);
    if (len_out)
        *len_out = len;
    return buf;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Store queries. */

static void test_store_report__counts_and_percentiles(void **state)
{
    struct fx *x = *state;
    struct ab_percentiles p;
    struct ab_counts n;

    assert_int_equal(ab_store_counts(x->s, &n, NULL), 0);
    assert_int_equal(n.total, 12);
    assert_int_equal(n.done, 3);
    assert_int_equal(n.already_authed, 1);
    assert_int_equal(n.failed, 3);
    assert_int_equal(n.retry_wait, 2);
    assert_int_equal(n.in_flight, 1);
    assert_int_equal(n.pending, 2);
    assert_int_equal(n.due_retry, 1);

    assert_int_equal(ab_store_attempts_percentiles(x->s, &p, NULL), 0);
    assert_int_equal(p.n, 10);
    assert_int_equal(p.p50, 1);
    assert_int_equal(p.p90, 3);
    assert_int_equal(p.p99, 4);
    assert_int_equal(p.max, 4);

    assert_int_equal(ab_store_latency_percentiles(x->s, &p, NULL), 0);
    assert_int_equal(p.n, 15);
    assert_int_equal(p.p50, 200);
    assert_int_equal(p.p90, 15000);
    assert_int_equal(p.p99, 45000);
    assert_int_equal(p.max, 45000);
}

static void test_store_report__latency_histogram_sums_to_attempts(void **state)
{
    struct fx *x = *state;
    int64_t h[AB_LATENCY_BUCKETS], sum = 0;
    int i;

    assert_int_equal(ab_store_latency_histogram(x->s, h, NULL), 0);
    for (i = 0; i < AB_LATENCY_BUCKETS; i++)
        sum += h[i];
    assert_int_equal(sum, 15);
    assert_int_equal(h[0], 1);  /* 5 ms */
    assert_int_equal(h[4], 4);  /* 100, 120, 120, 200 ms */
    assert_int_equal(h[11], 1); /* 45 s */
}

static void test_store_report__last_run_and_last_success(void **state)
{
    struct fx *x = *state;
    struct ab_run_row r;
    int64_t ms;
    int found;

    assert_int_equal(ab_store_last_run(x->s, &r, &found, NULL), 0);
    assert_true(found);
    assert_int_equal(r.id, 3);
    assert_int_equal(r.ended_at, -1);
    assert_int_equal(r.exit_status, -1);
    assert_int_equal(r.attempts, 0); /* counted from attempts: none */
    assert_int_equal(ab_store_last_success_ms(x->s, &ms, NULL), 0);
    assert_int_equal(ms, 1700003630000);
}

static void test_store_report__empty_database(void **state)
{
    struct fx *x = *state;
    struct ab_percentiles p;
    struct ab_run_row r;
    int64_t ms;
    int found = 1;

    assert_int_equal(ab_store_last_run(x->s, &r, &found, NULL), 0);
    assert_false(found);
    assert_int_equal(ab_store_last_success_ms(x->s, &ms, NULL), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(ab_store_latency_percentiles(x->s, &p, NULL), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(p.max, 0);
}

/* Text. */

static void test_report__text_has_counts_codes_percentiles(void **state)
{
    char *t = render(*state, AB_REPORT_TEXT, NULL, 0, 0, 0);

    assert_non_null(strstr(t, "companies 12, finished 7 (58.3%)"));
    assert_non_null(strstr(t, "  failed           3\n"));
    assert_non_null(strstr(t, "code 1005      2 companies (2 failed)"));
    assert_non_null(strstr(t, "e.g. Delta"));
    assert_non_null(strstr(t, "p50 200 ms, p90 15000 ms, p99 45000 ms"));
    /* The CR LF inside a message does not break the line. */
    assert_non_null(strstr(t, "legalPerson  second line"));
    assert_null(strstr(t, "TKT-SECRET"));
    free(t);
}

static void test_report__text_with_tickets(void **state)
{
    char *t = render(*state, AB_REPORT_TEXT, NULL, 1, 0, 0);
    assert_int_equal(count_of(t, "ticket=TKT-SECRET-"), 3);
    free(t);
}

/* JSON. */

static json_int_t jint(json_t *o, const char *path)
{
    json_t *v = json_object_get(o, path);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static void test_report__json_numbers_equal_database(void **state)
{
    char *t = render(*state, AB_REPORT_JSON, NULL, 0, 0, 0);
    json_error_t je;
    json_t *doc = json_loads(t, 0, &je), *sum, *counts, *errs, *rows, *lat;
    size_t i;

    if (!doc)
        fprintf(stderr, "json: %s at line %d\n", je.text, je.line);
    assert_non_null(doc);
    sum = json_object_get(doc, "summary");
    counts = json_object_get(sum, "counts");
    assert_int_equal(jint(sum, "total"), 12);
    assert_int_equal(jint(counts, "done"), 3);
    assert_int_equal(jint(counts, "already_authed"), 1);
    assert_int_equal(jint(counts, "failed"), 3);
    assert_int_equal(jint(counts, "retry_wait"), 2);
    assert_int_equal(jint(counts, "in_flight"), 1);
    assert_int_equal(jint(counts, "pending"), 2);

    errs = json_object_get(sum, "errors");
    assert_int_equal(json_array_size(errs), 3);
    assert_true(json_is_null(json_object_get(json_array_get(errs, 0), "code")));
    assert_int_equal(jint(json_array_get(errs, 1), "code"), 1005);
    assert_int_equal(jint(json_array_get(errs, 1), "companies"), 2);
    assert_int_equal(jint(json_array_get(errs, 1), "failed"), 2);
    assert_int_equal(
        json_array_size(json_object_get(json_array_get(errs, 1), "examples")),
        2);

    assert_int_equal(jint(json_object_get(sum, "attempts"), "p90"), 3);
    lat = json_object_get(sum, "latency_ms");
    assert_int_equal(jint(lat, "attempts"), 15);
    assert_int_equal(jint(lat, "p50"), 200);
    assert_int_equal(jint(lat, "max"), 45000);
    assert_int_equal(json_array_size(json_object_get(lat, "histogram")),
                     AB_LATENCY_BUCKETS);
    assert_int_equal(json_array_size(json_object_get(sum, "runs")), 3);
    assert_int_equal(jint(sum, "last_success_at_ms"), 1700003630000);

    rows = json_object_get(doc, "companies");
    assert_int_equal(json_array_size(rows), 12);
    for (i = 0; i < json_array_size(rows); i++)
        assert_null(json_object_get(json_array_get(rows, i), "ticket"));
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(rows, 4), "company_name")),
                        "测试有限公司");
    assert_null(strstr(t, "TKT-SECRET"));
    json_decref(doc);
    free(t);
}

/* The longest decimal number in s, in significant digits ("0.0130" is 3,
 * "58.333333333333336" 17): a double printed with %.17g shows up as 17. */
static int longest_number(const char *s)
{
    int best = 0;
    while (*s) {
        int n = 0, lead = 1;
        while ((*s >= '0' && *s <= '9') || (*s == '.' && n + lead > 0)) {
            if (*s != '.' && !(lead && *s == '0')) {
                lead = 0;
                n++;
            }
            s++;
        }
        if (n > best)
            best = n;
        if (*s)
            s++;
    }
    return best;
}

/* Numbers read as a person would write them (issue 16: "percent_done":
 * 42.857100000000003): no double printed in full, the per cent rounded to
 * two decimals as status --json does. */
static void test_report__json_numbers_are_rounded(void **state)
{
    char *t = render(*state, AB_REPORT_JSON, NULL, 0, 0, 0);
    json_t *doc = json_loads(t, 0, NULL);

    assert_non_null(doc);
    assert_true(json_real_value(json_object_get(json_object_get(doc, "summary"),
                                                "percent_finished")) == 58.33);
    if (longest_number(t) > 15)
        fail_msg("a number of %d digits in the JSON report", longest_number(t));
    json_decref(doc);
    free(t);
}

static void test_report__json_status_filter_and_tickets(void **state)
{
    char *t = render(*state, AB_REPORT_JSON, "done", 1, 0, 0);
    json_t *doc = json_loads(t, 0, NULL), *rows;
    size_t i;

    assert_non_null(doc);
    rows = json_object_get(doc, "companies");
    assert_int_equal(json_array_size(rows), 3);
    for (i = 0; i < 3; i++) {
        json_t *r = json_array_get(rows, i);
        assert_string_equal(json_string_value(json_object_get(r, "status")),
                            "done");
        assert_non_null(strstr(json_string_value(json_object_get(r, "ticket")),
                               "TKT-SECRET-"));
    }
    /* The summary still covers everything. */
    assert_int_equal(jint(json_object_get(doc, "summary"), "total"), 12);
    json_decref(doc);
    free(t);
}

static void test_report__json_empty_database(void **state)
{
    char *t = render(*state, AB_REPORT_JSON, NULL, 0, 0, 0);
    json_t *doc = json_loads(t, 0, NULL);

    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "companies")), 0);
    assert_true(json_is_null(json_object_get(
        json_object_get(json_object_get(doc, "summary"), "latency_ms"),
        "p50")));
    json_decref(doc);
    free(t);
}

/* CSV: a strict RFC 4180 reader. Returns the number of records, filling
 * fields[r][c] (up to 16 x 16) with new strings; -1 on a syntax error. */
#define MAXR 16
#define MAXC 16

static int parse_csv(const char *s, char *fields[MAXR][MAXC], int ncols[MAXR])
{
    int r = 0, c = 0;
    char buf[1024];
    size_t k = 0;

    memset(ncols, 0, sizeof(int) * MAXR);
    while (*s) {
        if (*s == '"') {
            s++;
            for (;;) {
                if (!*s)
                    return -1;
                if (*s == '"' && s[1] == '"') {
                    buf[k++] = '"';
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    buf[k++] = *s++;
                }
            }
        } else {
            while (*s && *s != ',' && *s != '\r' && *s != '\n') {
                if (*s == '"')
                    return -1; /* a quote inside an unquoted field */
                buf[k++] = *s++;
            }
        }
        buf[k] = '\0';
        if (r < MAXR && c < MAXC)
            fields[r][c] = strdup(buf);
        c++;
        k = 0;
        if (*s == ',') {
            s++;
        } else if (s[0] == '\r' && s[1] == '\n') {
            s += 2;
            if (r < MAXR)
                ncols[r] = c;
            r++;
            c = 0;
        } else {
            return -1; /* bare LF, or junk after a closing quote */
        }
    }
    return c == 0 ? r : -1;
}

static void free_csv(char *fields[MAXR][MAXC], int ncols[MAXR], int nrows)
{
    for (int r = 0; r < nrows && r < MAXR; r++)
        for (int c = 0; c < ncols[r] && c < MAXC; c++)
            free(fields[r][c]);
}

static void test_report__csv_parses_back_rfc4180(void **state)
{
    char *t = render(*state, AB_REPORT_CSV, NULL, 0, 0, 0);
    char *f[MAXR][MAXC];
    int nc[MAXR], n = parse_csv(t, f, nc);

    assert_int_equal(n, 13); /* header + 12 */
    for (int r = 0; r < n; r++)
        assert_int_equal(nc[r], 12);
    assert_string_equal(f[0][0], "id");
    assert_string_equal(f[0][7], "last_message");
    assert_string_equal(f[2][1], "Beta, \"Quoted\" Co");
    /* One line per field: the safetext filter, as in every format. */
    assert_string_equal(f[6][7], "invalid param: legalPerson  second line");
    assert_string_equal(f[5][1], "测试有限公司");
    assert_string_equal(f[9][6], ""); /* no code */
    assert_string_equal(f[7][6], "11990011");
    /* The raw text quotes exactly the fields that need it. */
    assert_non_null(strstr(t, "\"Beta, \"\"Quoted\"\" Co\""));
    assert_null(strstr(t, "\"Acme Ltd\""));
    assert_null(strstr(t, "TKT-SECRET"));
    assert_false(t[0] == '\xEF');
    free_csv(f, nc, n);
    free(t);
}

static void test_report__csv_bom_and_tickets(void **state)
{
    char *t = render(*state, AB_REPORT_CSV, "done", 1, 1, 0);
    char *f[MAXR][MAXC];
    int nc[MAXR], n;

    assert_memory_equal(t, "\xEF\xBB\xBF", 3);
    n = parse_csv(t + 3, f, nc);
    assert_int_equal(n, 4);
    assert_int_equal(nc[0], 14);
    assert_string_equal(f[0][9], "auth_status");
    assert_string_equal(f[0][12], "ticket");
    assert_string_equal(f[1][12], "TKT-SECRET-0001");
    free_csv(f, nc, n);
    free(t);
}

/* HTML: a small well-formedness check (every tag closed in order, void
 * elements self-closed, attributes quoted, no raw '<' in text). */
static int check_tags(const char *s, char *why, size_t n)
{
    char stack[64][32];
    int depth = 0;
    const char *p = s;

    while ((p = strchr(p, '<'))) {
        char name[32];
        size_t k = 0;
        int closing = 0;
        const char *end;

        if (strncmp(p, "<!--", 4) == 0) {
            p = strstr(p, "-->");
            if (!p)
                return snprintf(why, n, "open comment"), -1;
            continue;
        }
        if (strncmp(p, "<!DOCTYPE", 9) == 0 ||
            strncmp(p, "<![CDATA[", 9) == 0) {
            p = strstr(p, strncmp(p, "<![", 3) == 0 ? "]]>" : ">");
            if (!p)
                return snprintf(why, n, "open declaration"), -1;
            continue;
        }
        p++;
        if (*p == '/') {
            closing = 1;
            p++;
        }
        while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
               (*p >= 'A' && *p <= 'Z'))
            if (k < sizeof name - 1)
                name[k++] = *p++;
            else
                p++;
        name[k] = '\0';
        if (k == 0)
            return snprintf(why, n, "raw '<' near '%.20s'", p - 1), -1;
        /* Find the tag's end outside quoted attribute values. */
        end = p;
        while (*end && *end != '>') {
            if (*end == '"') {
                end = strchr(end + 1, '"');
                if (!end)
                    return snprintf(why, n, "open quote in <%s>", name), -1;
            } else if (*end == '=' && end[1] != '"') {
                return snprintf(why, n, "unquoted attribute in <%s>", name), -1;
            }
            end++;
        }
        if (!*end)
            return snprintf(why, n, "unterminated <%s>", name), -1;
        if (closing) {
            if (depth == 0 || strcmp(stack[depth - 1], name) != 0)
                return snprintf(why, n, "</%s> closes <%s>", name,
                                depth ? stack[depth - 1] : "(none)"),
                       -1;
            depth--;
        } else if (end[-1] != '/') {
            if (depth == 64)
                return snprintf(why, n, "too deep"), -1;
            snprintf(stack[depth++], sizeof stack[0], "%s", name);
        }
        p = end + 1;
    }
    if (depth != 0)
        return snprintf(why, n, "<%s> never closed", stack[depth - 1]), -1;
    return 0;
}

/* The value of attribute attr in the first element that contains marker. */
static long long attr_after(const char *s, const char *marker, const char *attr)
{
    const char *p = strstr(s, marker), *tag_end, *a;
    char key[64];

    if (!p)
        return -1;
    tag_end = strchr(p, '>');
    snprintf(key, sizeof key, " %s=\"", attr);
    a = strstr(p, key);
    if (!a || a > tag_end) {
        /* the attribute may precede the marker in the same tag */
        const char *start = p;
        while (start > s && *start != '<')
            start--;
        a = strstr(start, key);
        if (!a || a > tag_end)
            return -1;
    }
    return atoll(a + strlen(key));
}

static long long sum_attr(const char *s, const char *marker, const char *attr)
{
    long long sum = 0;
    const char *p = s;
    while ((p = strstr(p, marker))) {
        sum += attr_after(p, marker, attr);
        p += strlen(marker);
    }
    return sum;
}

static void test_report__html_wellformed_charts_equal_database(void **state)
{
    char *t = render(*state, AB_REPORT_HTML, NULL, 0, 0, 0);
    char why[128] = "";

    if (check_tags(t, why, sizeof why) != 0)
        fail_msg("html not well-formed: %s", why);
    assert_int_equal(attr_after(t, "data-status=\"done\"", "data-count"), 3);
    assert_int_equal(
        attr_after(t, "data-status=\"already_authed\"", "data-count"), 1);
    assert_int_equal(
        attr_after(t, "data-status=\"failed\" data-count", "data-count"), 3);
    assert_int_equal(
        attr_after(t, "data-status=\"retry_wait\" data-count", "data-count"),
        2);
    assert_int_equal(
        attr_after(t, "data-status=\"pending\" data-count", "data-count"), 2);
    assert_int_equal(attr_after(t, "data-code=\"1005\"", "data-count"), 2);
    assert_int_equal(attr_after(t, "data-code=\"11990011\"", "data-count"), 1);
    assert_int_equal(attr_after(t, "data-code=\"\"", "data-count"), 2);
    assert_int_equal(sum_attr(t, "data-lo-ms=", "data-count"), 15);
    assert_int_equal(sum_attr(t, "data-bucket-start=", "data-count"), 15);
    assert_int_equal(attr_after(t, "data-run-id=\"1\"", "data-attempts"), 9);
    assert_int_equal(attr_after(t, "data-run-id=\"2\"", "data-exit-status"), 0);
    assert_int_equal(count_of(t, "<tr data-status="), 12);
    /* Escaped, no external assets, no tickets. */
    assert_null(strstr(t, "<script>alert"));
    assert_non_null(strstr(t, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(t, "Lambda &amp; Sons"));
    assert_null(strstr(t, "src=\"http"));
    assert_null(strstr(t, "href=\"http"));
    assert_null(strstr(t, "@import"));
    assert_null(strstr(t, "TKT-SECRET"));
    assert_null(strstr(t, "cap-note"));
    free(t);
}

/* Reports in Simplified Chinese (issue 19). */

static void test_report__text_in_chinese(void **state)
{
    struct ab_report_opts o = {0};
    char *t;

    o.format = AB_REPORT_TEXT;
    o.lang = AB_LANG_ZH_CN;
    t = render_opts(*state, &o, 0, NULL);
    assert_non_null(strstr(t, "authbatch 报告：fixture.db"));
    assert_non_null(strstr(t, "企业 12 家，已处理完毕 7 家（58.3%）"));
    assert_non_null(strstr(t, "  已获取令牌       3\n"));
    assert_non_null(strstr(t, "  此前已认证       1\n"));
    assert_non_null(strstr(t, "响应码 1005    2 家企业（2 家失败）："));
    assert_non_null(strstr(t, "最近一次无失败的运行："));
    /* Status names translated in the rows, padded by display width. */
    assert_non_null(strstr(t, "\n已获取令牌        1  200"));
    assert_null(strstr(t, "companies"));
    assert_null(strstr(t, "done "));
    free(t);
}

static void test_report__html_in_chinese(void **state)
{
    struct ab_report_opts o = {0};
    char why[128] = "";
    char *t;

    o.format = AB_REPORT_HTML;
    o.lang = AB_LANG_ZH_CN;
    t = render_opts(*state, &o, 0, NULL);
    if (check_tags(t, why, sizeof why) != 0)
        fail_msg("html not well-formed: %s", why);
    assert_non_null(strstr(t, "<html lang=\"zh-CN\">"));
    assert_non_null(strstr(t, "<h1>authbatch 报告</h1>"));
    assert_non_null(strstr(t, "<h2>错误响应码</h2>"));
    assert_non_null(strstr(t, "最近一次无失败的运行"));
    assert_non_null(strstr(t, "<option value=\"done\">已获取令牌</option>"));
    assert_non_null(strstr(t, "<span class=\"st st-done\">已获取令牌</span>"));
    /* The data the charts carry keeps the machine names. */
    assert_int_equal(attr_after(t, "data-status=\"done\"", "data-count"), 3);
    assert_non_null(strstr(t, "'Noto Sans CJK SC'"));
    assert_non_null(strstr(t, "'Microsoft YaHei'"));
    assert_non_null(strstr(t, "'PingFang SC'"));
    /* The funnel chart's stage labels and tooltips too (its data keeps the
     * machine names). */
    assert_non_null(strstr(t, ">已获取令牌</text>"));
    assert_non_null(strstr(t, "<title>已导入: "));
    assert_non_null(strstr(t, ">已认证 "));
    assert_null(strstr(t, ">ticket issued</text>"));
    assert_null(strstr(t, "<title>imported: "));
    assert_non_null(strstr(t, "data-stage=\"ticket_issued\""));
    free(t);
    o.lang = AB_LANG_EN;
    t = render_opts(*state, &o, 0, NULL);
    assert_non_null(strstr(t, "<html lang=\"en\">"));
    assert_non_null(strstr(t, "last run with nothing failed"));
    assert_null(strstr(t, "successful run"));
    free(t);
}

/* JSON and CSV are machine formats: the same bytes in every language. */
static void test_report__machine_formats_ignore_the_language(void **state)
{
    struct ab_report_opts o = {0};
    enum ab_report_format fmts[] = {AB_REPORT_JSON, AB_REPORT_CSV};
    size_t i;

    for (i = 0; i < 2; i++) {
        char *en, *zh;
        o.format = fmts[i];
        o.lang = AB_LANG_EN;
        en = render_opts(*state, &o, 0, NULL);
        o.lang = AB_LANG_ZH_CN;
        zh = render_opts(*state, &o, 0, NULL);
        assert_string_equal(en, zh);
        free(en);
        free(zh);
    }
}

/* --encoding gb18030: the CSV a Chinese Excel opens without asking. */
static void test_report__csv_in_gb18030(void **state)
{
    struct ab_report_opts o = {0};
    size_t n;
    char *t;

    o.format = AB_REPORT_CSV;
    o.encoding = AB_CHARSET_GB18030;
    t = render_opts(*state, &o, 0, &n);
    assert_non_null(strstr(t, "id,company_name,register_no,status"));
    /* 测试有限公司 in GB18030; no UTF-8 left. */
    assert_non_null(memmem(t, n,
                           "\xB2\xE2\xCA\xD4\xD3\xD0\xCF\xDE\xB9\xAB"
                           "\xCB\xBE",
                           12));
    assert_null(memmem(t, n, "测试", strlen("测试")));
    free(t);
}

/* A ticket (or name, or message) holding escape sequences, as a hostile
 * server or another program could store: no report passes them on. */
static void test_report__control_characters_never_reach_output(void **state)
{
    struct fx *x = *state;
    struct ab_err err = {0};
    struct ab_report_opts o = {0};
    enum ab_report_format fmts[] = {AB_REPORT_TEXT, AB_REPORT_CSV,
                                    AB_REPORT_HTML};
    size_t i, k, n;

    assert_int_equal(
        ab_store_exec(x->s,
                      "UPDATE companies SET ticket = 'T' || char(27) || "
                      "'[2J' || char(27) || ']0;pwned' || char(7) || 'K' "
                      "|| char(155) || '31m', company_name = 'Acme' || "
                      "char(13) || char(27) || '[1A' WHERE id = 1",
                      &err),
        0);
    o.with_tickets = 1;
    for (i = 0; i < 3; i++) {
        char *t;
        o.format = fmts[i];
        t = render_opts(x, &o, 0, &n);
        for (k = 0; k < n; k++) {
            unsigned char c = (unsigned char)t[k];
            assert_false(c == 0x1b || c == 0x07 || c == 0x7f);
            assert_false(c == 0xc2 && k + 1 < n &&
                         (unsigned char)t[k + 1] >= 0x80 &&
                         (unsigned char)t[k + 1] < 0xa0);
            if (c == '\r')
                assert_true(fmts[i] == AB_REPORT_CSV && t[k + 1] == '\n');
        }
        assert_non_null(strstr(t, "T [2J ]0;pwned K 31m"));
        free(t);
    }
}

/* With one run, the runs chart is a note (the history table has it). */
static void test_report__single_run_has_no_chart(void **state)
{
    struct fx *x = *state;
    struct ab_err err = {0};
    struct ab_report_opts o = {0};
    char *t;

    assert_int_equal(ab_store_exec(x->s,
                                   "DELETE FROM attempts WHERE run_id > 1; "
                                   "DELETE FROM runs WHERE id > 1",
                                   &err),
                     0);
    o.format = AB_REPORT_HTML;
    t = render_opts(x, &o, 0, NULL);
    assert_null(strstr(t, "id=\"chart-runs\""));
    assert_non_null(strstr(t, "id=\"one-run\""));
    assert_non_null(strstr(t, "<table class=\"list\" id=\"runs\">"));
    free(t);
}

static void test_report__html_caps_rows_with_a_note(void **state)
{
    char *t = render(*state, AB_REPORT_HTML, NULL, 1, 0, 5);
    char why[128] = "";

    if (check_tags(t, why, sizeof why) != 0)
        fail_msg("html not well-formed: %s", why);
    assert_int_equal(count_of(t, "<tr data-status="), 5);
    assert_int_equal(attr_after(t, "id=\"cap-note\"", "data-total"), 12);
    /* The charts still count everything. */
    assert_int_equal(attr_after(t, "id=\"kpi-total\"", "data-count"), 12);
    assert_non_null(strstr(t, "TKT-SECRET-0001"));
    free(t);
}

static void test_report__html_empty_database(void **state)
{
    char *t = render(*state, AB_REPORT_HTML, NULL, 0, 0, 0);
    char why[128] = "";

    if (check_tags(t, why, sizeof why) != 0)
        fail_msg("html not well-formed: %s", why);
    assert_non_null(strstr(t, "No attempts yet."));
    free(t);
}

static void test_report__tag_checker_rejects_bad_markup(void **state)
{
    char why[128];
    (void)state;
    assert_int_equal(check_tags("<p><b>x</b></p>", why, sizeof why), 0);
    assert_int_equal(check_tags("<p><b>x</p></b>", why, sizeof why), -1);
    assert_int_equal(check_tags("<p>a < b</p>", why, sizeof why), -1);
    assert_int_equal(check_tags("<p class=x>a</p>", why, sizeof why), -1);
    assert_int_equal(check_tags("<p>", why, sizeof why), -1);
}

static void test_report__parse_format_and_status(void **state)
{
    enum ab_report_format f;
    (void)state;
    assert_int_equal(ab_report_parse_format("html", &f), 0);
    assert_int_equal(f, AB_REPORT_HTML);
    assert_int_equal(ab_report_parse_format("xml", &f), AB_EINVAL);
    assert_true(ab_report_valid_status("retry_wait"));
    assert_false(ab_report_valid_status("DONE"));
}

/* Retry. */

static int64_t scalar(struct fx *x, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    assert_int_equal(sqlite3_prepare_v2(x->s->db, sql, -1, &st, NULL),
                     SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_retry__requeues_failed_by_code(void **state)
{
    struct fx *x = *state;
    int64_t code = 1005, changed = -1;

    assert_int_equal(ab_store_retry_failed(x->s, &code, &changed, NULL), 0);
    assert_int_equal(changed, 2);
    assert_int_equal(scalar(x, "SELECT count(*) FROM companies WHERE"
                               " status = 'failed'"),
                     1);
    assert_int_equal(scalar(x, "SELECT count(*) FROM companies WHERE"
                               " id IN (3, 6) AND status = 'pending' AND"
                               " attempts = 0 AND next_attempt_at IS NULL"),
                     2);
}

static void test_retry__requeues_all_failed_never_done(void **state)
{
    struct fx *x = *state;
    int64_t changed = -1;

    assert_int_equal(ab_store_retry_failed(x->s, NULL, &changed, NULL), 0);
    assert_int_equal(changed, 3);
    assert_int_equal(scalar(x, "SELECT count(*) FROM companies WHERE"
                               " status = 'failed'"),
                     0);
    assert_int_equal(scalar(x, "SELECT count(*) FROM companies WHERE"
                               " status = 'done' AND ticket LIKE"
                               " 'TKT-SECRET-%'"),
                     3);
    assert_int_equal(scalar(x, "SELECT count(*) FROM companies WHERE"
                               " status IN ('retry_wait', 'in_flight',"
                               " 'already_authed')"),
                     4);
    /* Again: nothing left to move. */
    assert_int_equal(ab_store_retry_failed(x->s, NULL, &changed, NULL), 0);
    assert_int_equal(changed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_store_report__counts_and_percentiles, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store_report__latency_histogram_sums_to_attempts, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_store_report__last_run_and_last_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_report__empty_database,
                                        setup_empty, teardown),
        cmocka_unit_test_setup_teardown(
            test_report__text_has_counts_codes_percentiles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report__text_with_tickets, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_report__json_numbers_equal_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report__json_numbers_are_rounded,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_report__json_status_filter_and_tickets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report__json_empty_database,
                                        setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_report__csv_parses_back_rfc4180,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_report__csv_bom_and_tickets, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_report__html_wellformed_charts_equal_database, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_report__html_caps_rows_with_a_note,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_report__text_in_chinese, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_report__html_in_chinese, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_report__machine_formats_ignore_the_language, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report__csv_in_gb18030, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_report__control_characters_never_reach_output, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_report__single_run_has_no_chart,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_report__html_empty_database,
                                        setup_empty, teardown),
        cmocka_unit_test(test_report__tag_checker_rejects_bad_markup),
        cmocka_unit_test(test_report__parse_format_and_status),
        cmocka_unit_test_setup_teardown(test_retry__requeues_failed_by_code,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_retry__requeues_all_failed_never_done, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
