/* test_import.c - CSV import into a real SQLite file: parsing, line numbers,
 * header rules, rejected rows, updates, idempotence, --strict, disk full. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "err.h"
#include "import.h"
#include "store.h"
#include "store_internal.h"

#define MAX_SEEN 64

struct fixture {
    char dir[64];
    char db[96];
    char csv[96];
    struct ab_store *s;
    sqlite3 *peek; /* a second connection, as another program would use */
    struct ab_import_opts o;
    struct ab_import_result r;
    struct ab_err err;
    int nrejects;
    int64_t lines[MAX_SEEN];
    char reasons[MAX_SEEN][256];
    int nwarns;
    char warn[512];
};

static void on_reject(void *ctx, const char *source, int64_t line,
                      const char *reason)
{
    struct fixture *f = ctx;
    (void)source;
    if (f->nrejects < MAX_SEEN) {
        f->lines[f->nrejects] = line;
        snprintf(f->reasons[f->nrejects], sizeof f->reasons[0], "%s", reason);
    }
    f->nrejects++;
}

static void on_warn(void *ctx, const char *source, const char *message)
{
    struct fixture *f = ctx;
    (void)source;
    f->nwarns++;
    snprintf(f->warn, sizeof f->warn, "%s", message);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/ab_test_import_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    snprintf(f->csv, sizeof f->csv, "%s/in.csv", f->dir);
    if (ab_store_open(f->db, 0, &f->s, NULL) != 0)
        return -1;
    if (sqlite3_open(f->db, &f->peek) != SQLITE_OK)
        return -1;
    sqlite3_busy_timeout(f->peek, 5000);
    f->o.on_reject = on_reject;
    f->o.on_warn = on_warn;
    f->o.ctx = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];
    sqlite3_close(f->peek);
    ab_store_close(f->s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/* Imports data (n bytes; strlen when 0) from f->csv. */
static int import_n(struct fixture *f, const char *data, size_t n)
{
    write_file(f->csv, data, n ? n : strlen(data));
    f->nrejects = 0;
    f->nwarns = 0;
    f->warn[0] = '\0';
    ab_err_clear(&f->err);
    return ab_import_file(f->s, f->csv, &f->o, &f->r, &f->err);
}

static int import_str(struct fixture *f, const char *data)
{
    return import_n(f, data, 0);
}

static int64_t query_int(struct fixture *f, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    assert_int_equal(sqlite3_prepare_v2(f->peek, sql, -1, &st, NULL),
                     SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Copies the first column of the first row into buf ("" for none/NULL). */
static const char *query_text(struct fixture *f, const char *sql, char *buf,
                              size_t size)
{
    sqlite3_stmt *st;
    buf[0] = '\0';
    assert_int_equal(sqlite3_prepare_v2(f->peek, sql, -1, &st, NULL),
                     SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return buf;
}

static void exec(struct fixture *f, const char *sql)
{
    assert_int_equal(sqlite3_exec(f->peek, sql, NULL, NULL, NULL), SQLITE_OK);
}

/* All of companies as text, for before/after comparisons. */
static char *dump_companies(struct fixture *f)
{
    sqlite3_stmt *st;
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    int i;

    assert_int_equal(sqlite3_prepare_v2(f->peek,
                                        "SELECT * FROM companies ORDER BY id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    out[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (i = 0; i < sqlite3_column_count(st); i++) {
            const char *t = (const char *)sqlite3_column_text(st, i);
            len +=
                (size_t)snprintf(out + len, cap - len, "%s|", t ? t : "NULL");
            assert_true(len < cap);
        }
        len += (size_t)snprintf(out + len, cap - len, "\n");
    }
    sqlite3_finalize(st);
    return out;
}

static void assert_counts(struct fixture *f, int64_t n, int64_t u, int64_t c,
                          int64_t rej)
{
    if (f->r.new_rows != n || f->r.updated != u || f->r.unchanged != c ||
        f->r.rejected != rej)
        fail_msg("counts: want %lld new %lld updated %lld unchanged %lld "
                 "rejected, got %lld %lld %lld %lld (%s)",
                 (long long)n, (long long)u, (long long)c, (long long)rej,
                 (long long)f->r.new_rows, (long long)f->r.updated,
                 (long long)f->r.unchanged, (long long)f->r.rejected,
                 f->nrejects ? f->reasons[0] : "");
}

static void assert_reject(struct fixture *f, int i, int64_t line,
                          const char *reason_part)
{
    assert_true(i < f->nrejects);
    if (f->lines[i] != line || !strstr(f->reasons[i], reason_part))
        fail_msg("reject %d: want line %lld \"%s\", got line %lld \"%s\"", i,
                 (long long)line, reason_part, (long long)f->lines[i],
                 f->reasons[i]);
}

/* --- parsing ------------------------------------------------------------ */

static void test_import__bom_and_crlf(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(import_str(f, "\xEF\xBB\xBF"
                                   "companyName,applicantContact\r\n"
                                   "A,13800138000\r\n"
                                   "B,13800138001\r\n"
                                   "C,1380013800\r\n"),
                     0);
    assert_counts(f, 2, 0, 0, 1);
    assert_reject(f, 0, 4, "is not a mainland mobile number");
    assert_int_equal(f->nwarns, 0);
    assert_true(f->r.committed);
}

static void test_import__quotes_commas_and_newlines(void **state)
{
    struct fixture *f = *state;
    char buf[128];
    assert_int_equal(
        import_str(f, "companyName,applicantContact,legalPerson\n"
                      "\"A, Inc.\",13800138000,\"He said \"\"hi\"\"\"\n"
                      "\"B\nCorp\",13800138001,x\n"
                      "C,1380013800,\n"
                      "\"D\",\"13800138002\",\"multi\r\nline\"\n"
                      "E,1380013800x\n"),
        0);
    assert_counts(f, 1, 0, 0, 4);
    assert_reject(f, 0, 3, "companyName contains a control character");
    assert_reject(f, 1, 5, "applicantContact '1380013800'");
    assert_reject(f, 2, 6, "legalPerson contains a control character");
    assert_reject(f, 3, 8, "applicantContact '1380013800x'");
    assert_string_equal(query_text(f,
                                   "SELECT legal_person FROM companies"
                                   " WHERE company_name = 'A, Inc.'",
                                   buf, sizeof buf),
                        "He said \"hi\"");
}

static void test_import__blank_lines_and_trailing_comma(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(import_str(f, "companyName,applicantContact\n"
                                   "\n"
                                   "A,13800138000,\n"
                                   "   \n"
                                   ",\n"
                                   "B,13800138001,,\n"
                                   "\n"
                                   "C,bad\n"
                                   "D,13800138002,extra\n"
                                   "E\n"),
                     0);
    assert_counts(f, 2, 0, 0, 3);
    assert_reject(f, 0, 8, "applicantContact 'bad'");
    assert_reject(f, 1, 9, "3 fields, header has 2");
    assert_reject(f, 2, 10, "applicantContact is required");
}

static void test_import__cr_only_line_ends(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(import_str(f, "companyName,applicantContact\r"
                                   "A,13800138000\r"
                                   "B,1\r"
                                   "C,13800138001"),
                     0);
    assert_counts(f, 2, 0, 0, 1);
    assert_reject(f, 0, 3, "applicantContact '1'");
}

static void test_import__malformed_quotes(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(import_str(f, "companyName,applicantContact\n"
                                   "A\"x,13800138000\n"
                                   "\"B\"x,13800138001\n"
                                   "C,13800138002\n"
                                   "\"D,13800138003\n"
                                   "E,13800138004\n"),
                     0);
    assert_counts(f, 1, 0, 0, 3);
    assert_reject(f, 0, 2, "a quote inside an unquoted field");
    assert_reject(f, 1, 3, "text after the closing quote");
    assert_reject(f, 2, 5, "unterminated quoted field starting at line 5");
}

static void test_import__line_numbers_across_chunks(void **state)
{
    struct fixture *f = *state;
    size_t cap = 400000, len = 0;
    char *data = malloc(cap);
    int i;

    len += (size_t)snprintf(data + len, cap - len,
                            "companyName,applicantContact,legalPerson\r\n");
    for (i = 2; i <= 6000; i++) {
        if (i == 1234)
            len += (size_t)snprintf(data + len, cap - len,
                                    "\"Multi\nline %d\",13800138000,x\r\n", i);
        else if (i == 4321)
            len +=
                (size_t)snprintf(data + len, cap - len, "Bad %d,12,x\r\n", i);
        else
            len +=
                (size_t)snprintf(data + len, cap - len,
                                 "Company %d,138%08d,\"p, %d\"\r\n", i, i, i);
    }
    assert_true(len > 3 * 64 * 1024);
    assert_int_equal(import_n(f, data, len), 0);
    free(data);
    /* the multi-line record took lines 1234-1235, so "Bad" is on 4322 */
    assert_counts(f, 5997, 0, 0, 2);
    assert_reject(f, 0, 1234, "companyName contains a control character");
    assert_reject(f, 1, 4322, "applicantContact '12'");
}

static void test_import__field_too_long(void **state)
{
    struct fixture *f = *state;
    size_t n = 300 * 1024, len = 0;
    char *data = malloc(n + 200);

    len += (size_t)sprintf(data, "companyName,applicantContact\nA,\"");
    memset(data + len, 'x', n);
    len += n;
    len += (size_t)sprintf(data + len, "\"\nB,13800138001\n");
    assert_int_equal(import_n(f, data, len), 0);
    free(data);
    assert_counts(f, 1, 0, 0, 1);
    assert_reject(f, 0, 2, "field 'applicantContact' is longer than 65536");
    /* the stored raw text is capped */
    assert_true(query_int(f, "SELECT length(raw) FROM rejected_rows") <=
                AB_IMPORT_MAX_RAW);
}

/* --- header ------------------------------------------------------------- */

static void test_import__header_only(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(import_str(f, "companyName,applicantContact\n"), 0);
    assert_counts(f, 0, 0, 0, 0);
    assert_true(f->r.committed);
}

static void test_import__empty_file(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(import_str(f, ""), AB_EDATA);
    assert_non_null(strstr(f->err.msg, "empty file, expected a header row"));
    assert_int_equal(import_str(f, "\xEF\xBB\xBF"), AB_EDATA);
    assert_non_null(strstr(f->err.msg, "empty file, expected a header row"));
    assert_int_equal(import_str(f, "\n\n  \n"), AB_EDATA);
    assert_false(f->r.committed);
}

static void test_import__missing_required_column_writes_nothing(void **state)
{
    struct fixture *f = *state;
    exec(f, "INSERT INTO rejected_rows (source, line, reason, created_at)"
            " VALUES ('x', 1, 'old', 0)");
    assert_int_equal(import_str(f, "companyName,legalPerson\nA,x\n"), AB_EDATA);
    assert_non_null(
        strstr(f->err.msg, "missing required column 'applicantContact'"));
    assert_non_null(strstr(f->err.msg, f->csv));
    assert_int_equal(import_str(f, "applicant_contact\n13800138000\n"),
                     AB_EDATA);
    assert_non_null(
        strstr(f->err.msg, "missing required column 'companyName'"));
    assert_int_equal(query_int(f, "SELECT count(*) FROM companies"), 0);
    assert_int_equal(query_int(f, "SELECT count(*) FROM rejected_rows"), 1);
}

/* --delimiter ';' on a comma file: the header is one column holding the
 * right names; the message must say why they are not found. */
static void test_import__wrong_delimiter_named(void **state)
{
    struct fixture *f = *state;
    f->o.delimiter = ';';
    assert_int_equal(import_str(f, "companyName,applicantContact\n"
                                   "A,13800138000\n"),
                     AB_EDATA);
    assert_non_null(strstr(f->err.msg,
                           "missing required column 'companyName'; the header "
                           "is one column when split at the --delimiter "
                           "given, but it holds ','"));
    f->o.delimiter = '\t';
    assert_int_equal(import_str(f, "companyName;applicantContact\n"), AB_EDATA);
    assert_non_null(strstr(f->err.msg, "but it holds ';'"));
    /* A header that really lacks the column gets no such hint. */
    f->o.delimiter = ',';
    assert_int_equal(import_str(f, "companyName\tlegalPerson\n"), AB_EDATA);
    assert_non_null(strstr(f->err.msg, "holds tabs"));
    assert_int_equal(import_str(f, "companyName,legalPerson\n"), AB_EDATA);
    assert_null(strstr(f->err.msg, "--delimiter"));
    assert_int_equal(query_int(f, "SELECT count(*) FROM companies"), 0);
}

static void test_import__duplicate_column(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(import_str(f, "companyName,applicantContact,"
                                   "company_name\nA,13800138000,B\n"),
                     AB_EDATA);
    assert_non_null(strstr(f->err.msg, "duplicate column 'companyName'"));
    assert_int_equal(query_int(f, "SELECT count(*) FROM companies"), 0);
}

static void test_import__unknown_columns_warned_once(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(import_str(f, "foo,companyName,applicantContact,Bar,\n"
                                   "1,A,13800138000,2,\n"
                                   "3,B,13800138001,4,\n"),
                     0);
    assert_counts(f, 2, 0, 0, 0);
    assert_int_equal(f->nwarns, 1);
    assert_non_null(strstr(f->warn, "'foo', 'Bar'"));
}

/* Regression: unknown header names were echoed raw, so a crafted header
 * could send escape sequences to the operator's terminal. */
static void test_import__unknown_column_warning_is_printable(void **state)
{
    struct fixture *f = *state;
    const char *p;
    assert_int_equal(import_str(f, "companyName,applicantContact,"
                                   "\x1b[2J\x1b]0;x\x07Y,\xc2\x9b"
                                   "31m\n"
                                   "A,13800138000,,\n"),
                     0);
    assert_int_equal(f->nwarns, 1);
    for (p = f->warn; *p; p++)
        assert_false((unsigned char)*p < 0x20 || *p == 0x7f ||
                     ((unsigned char)*p == 0xc2 &&
                      (unsigned char)p[1] >= 0x80 &&
                      (unsigned char)p[1] < 0xa0));
    assert_non_null(strstr(f->warn, "'?[2J?]0;x?Y', '??31m'"));
}

/* Regression: a UTF-16 or binary file was reported as "missing required
 * column 'companyName'", which does not tell the user what is wrong. */
static void test_import__utf16_and_binary_named(void **state)
{
    struct fixture *f = *state;
    static const char u16[] = "\xff\xfe"
                              "c\0o\0,\0x\0\n\0";
    /* UTF-16 is read now (the BOM decides), unless UTF-8 is insisted on. */
    assert_int_equal(import_n(f, u16, sizeof u16 - 1), AB_EDATA);
    assert_non_null(strstr(f->err.msg, "missing required column"));
    f->o.encoding = AB_CHARSET_UTF8;
    assert_int_equal(import_n(f, u16, sizeof u16 - 1), AB_EDATA);
    assert_non_null(strstr(f->err.msg, ": line 1: the file starts with a "
                                       "UTF-16LE byte order mark, but "
                                       "--encoding UTF-8 was given"));
    f->o.encoding = AB_CHARSET_AUTO;
    /* Without its BOM, UTF-16 is NUL bytes: named as such. */
    assert_int_equal(import_n(f, u16 + 2, sizeof u16 - 3), AB_EDATA);
    assert_non_null(strstr(f->err.msg, "NUL bytes"));
    assert_non_null(strstr(f->err.msg, "--encoding utf-16"));
    assert_int_equal(import_n(f,
                              "ab\x01"
                              "cd,\x01\xff\n",
                              10),
                     AB_EDATA);
    assert_non_null(strstr(f->err.msg, "the header is not UTF-8 text"));
    assert_int_equal(import_str(f, "companyName,legalPerson\nA,B\n"), AB_EDATA);
    assert_non_null(strstr(f->err.msg, "missing required column "
                                       "'applicantContact'"));
    assert_int_equal(query_int(f, "SELECT count(*) FROM companies"), 0);
}

static void test_import__snake_case_headers(void **state)
{
    struct fixture *f = *state;
    char buf[64];
    assert_int_equal(
        import_str(f, "COMPANY_NAME,applicant_contact,applicant_contact_type,"
                      "register_no,close_button,modify_fields\n"
                      "A,a@example.com,email,91440300708461136t,TRUE,"
                      "\"legalperson, corpName\"\n"),
        0);
    assert_counts(f, 1, 0, 0, 0);
    assert_string_equal(query_text(f,
                                   "SELECT applicant_contact_type || ' ' ||"
                                   " register_no || ' ' || close_button ||"
                                   " ' ' || modify_fields FROM companies",
                                   buf, sizeof buf),
                        "EMAIL 91440300708461136T 1 legalPerson,corpName");
}

/* --- store semantics ---------------------------------------------------- */

static void test_import__duplicate_in_file_names_first_line(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(import_str(f, "companyName,applicantContact\n"
                                   "A,13800138000\n"
                                   "B,13800138001\n"
                                   " A ,13900139000\n"),
                     0);
    assert_counts(f, 2, 0, 0, 1);
    assert_reject(f, 0, 4, "duplicate company 'A' (first on line 2)");
    /* the first one wins */
    assert_int_equal(query_int(f, "SELECT applicant_contact FROM companies"
                                  " WHERE company_name = 'A'"),
                     13800138000LL);
}

static void test_import__idempotent(void **state)
{
    struct fixture *f = *state;
    char path[512];
    char *before, *after;
    const char *data = getenv("AB_TEST_DATA");

    snprintf(path, sizeof path, "%s/sample.csv", data ? data : "tests/data");
    assert_int_equal(ab_import_file(f->s, path, &f->o, &f->r, &f->err), 0);
    assert_counts(f, 6, 0, 0, 0);
    before = dump_companies(f);
    assert_int_equal(ab_import_file(f->s, path, &f->o, &f->r, &f->err), 0);
    assert_counts(f, 0, 0, 6, 0);
    after = dump_companies(f);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_import__rejects_replaced_per_source(void **state)
{
    struct fixture *f = *state;
    const char *csv = "companyName,applicantContact\nA,1\nB,2\nC,13800138000\n";
    assert_int_equal(import_str(f, csv), 0);
    assert_int_equal(import_str(f, csv), 0);
    assert_counts(f, 0, 0, 1, 2);
    assert_int_equal(query_int(f, "SELECT count(*) FROM rejected_rows"), 2);
    assert_int_equal(query_int(f, "SELECT min(line) FROM rejected_rows"), 2);
}

static void test_import__updates_pending_row(void **state)
{
    struct fixture *f = *state;
    char buf[64];
    assert_int_equal(import_str(f, "companyName,applicantContact\n"
                                   "A,13800138000\nB,13800138001\n"),
                     0);
    exec(f, "UPDATE companies SET updated_at = 1");
    assert_int_equal(import_str(f, "companyName,applicantContact,legalPerson\n"
                                   "A,13900139000,张三\nB,13800138001,\n"),
                     0);
    assert_counts(f, 0, 1, 1, 0);
    assert_string_equal(query_text(f,
                                   "SELECT applicant_contact || legal_person"
                                   " FROM companies WHERE company_name = 'A'",
                                   buf, sizeof buf),
                        "13900139000张三");
    assert_int_equal(query_int(f, "SELECT updated_at FROM companies"
                                  " WHERE company_name = 'B'"),
                     1);
    assert_true(query_int(f, "SELECT updated_at FROM companies"
                             " WHERE company_name = 'A'") > 1);
}

static void test_import__finished_and_in_flight_rows_untouched(void **state)
{
    struct fixture *f = *state;
    char *before, *after;
    assert_int_equal(import_str(f, "companyName,applicantContact\n"
                                   "Done,13800138000\nAuthed,13800138001\n"
                                   "Busy,13800138002\n"),
                     0);
    exec(f, "UPDATE companies SET status = 'done', ticket = 'T'"
            " WHERE company_name = 'Done';"
            "UPDATE companies SET status = 'already_authed'"
            " WHERE company_name = 'Authed';"
            "UPDATE companies SET status = 'in_flight'"
            " WHERE company_name = 'Busy'");
    before = dump_companies(f);
    assert_int_equal(import_str(f, "companyName,applicantContact\n"
                                   "Done,13900000000\nAuthed,13900000001\n"
                                   "Busy,13900000002\n"),
                     0);
    assert_counts(f, 0, 0, 3, 0);
    assert_int_equal(f->r.in_flight, 1);
    assert_int_equal(f->nwarns, 1);
    assert_non_null(strstr(f->warn, "in_flight"));
    after = dump_companies(f);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_import__corrected_failed_row_goes_back_to_pending(void **state)
{
    struct fixture *f = *state;
    char buf[32];
    assert_int_equal(import_str(f, "companyName,applicantContact\n"
                                   "A,13800138000\nB,13800138001\n"),
                     0);
    exec(f, "UPDATE companies SET status = 'failed', attempts = 3,"
            " last_code = 1005");
    assert_int_equal(import_str(f, "companyName,applicantContact\n"
                                   "A,13900139000\nB,13800138001\n"),
                     0);
    assert_counts(f, 0, 1, 1, 0);
    assert_string_equal(query_text(f,
                                   "SELECT status || attempts FROM companies"
                                   " WHERE company_name = 'A'",
                                   buf, sizeof buf),
                        "pending0");
    assert_string_equal(query_text(f,
                                   "SELECT status || attempts FROM companies"
                                   " WHERE company_name = 'B'",
                                   buf, sizeof buf),
                        "failed3");
}

static void test_import__strict_rolls_back(void **state)
{
    struct fixture *f = *state;
    f->o.strict = 1;
    assert_int_equal(import_str(f, "companyName,applicantContact\n"
                                   "A,13800138000\nB,1\nC,13800138002\n"
                                   "D,2\n"),
                     AB_EDATA);
    f->o.strict = 0;
    assert_int_equal(f->nrejects, 2); /* every reason is reported */
    assert_false(f->r.committed);
    assert_non_null(strstr(f->err.msg, "nothing imported"));
    assert_int_equal(query_int(f, "SELECT count(*) FROM companies"), 0);
    assert_int_equal(query_int(f, "SELECT count(*) FROM rejected_rows"), 0);
}

static void test_import__rejects_file(void **state)
{
    struct fixture *f = *state;
    char path[128], got[512];
    FILE *fp;
    size_t n;

    snprintf(path, sizeof path, "%s/rejects.csv", f->dir);
    f->o.rejects_path = path;
    assert_int_equal(import_str(f, "companyName,applicantContact,note\n"
                                   "A,13800138000,ok\n"
                                   "\"B, Ltd\",12,\"say \"\"x\"\"\"\n"
                                   "C\n"),
                     0);
    f->o.rejects_path = NULL;
    fp = fopen(path, "rb");
    assert_non_null(fp);
    n = fread(got, 1, sizeof got - 1, fp);
    fclose(fp);
    got[n] = '\0';
    assert_string_equal(
        got, "companyName,applicantContact,note,reason\r\n"
             "\"B, Ltd\",12,\"say \"\"x\"\"\",\"applicantContact '12' is not a "
             "mainland mobile number (11 digits starting 13-19, optionally "
             "+86)\"\r\n"
             "C,,,applicantContact is required\r\n");
}

/* --- the files Excel writes (issue 19) ---------------------------------- */

/* The names of the round trips: an extension-A and a plane-2 character, the
 * middle dot, full-width punctuation, in UTF-8 and in GB18030. */
#define RARE_UTF8 "䶮𠀀·科技（上海）有限公司"
#define RARE_GB                                                                \
    "\xFE\x9F\x95\x32\x82\x36\xA1\xA4\xBF\xC6\xBC\xBC\xA3\xA8\xC9\xCF\xBA\xA3" \
    "\xA3\xA9\xD3\xD0\xCF\xDE\xB9\xAB\xCB\xBE"

static void assert_name_hex(struct fixture *f, int64_t id, const char *utf8)
{
    char sql[128], got[512], want[512];
    size_t i;

    for (i = 0; utf8[i]; i++)
        snprintf(want + 2 * i, 3, "%02X", (unsigned char)utf8[i]);
    snprintf(sql, sizeof sql,
             "SELECT hex(company_name) FROM companies WHERE id = %lld",
             (long long)id);
    assert_string_equal(query_text(f, sql, got, sizeof got), want);
}

/* "CSV (逗号分隔)" on Chinese Windows: GB18030/GBK, CRLF, no BOM. */
static void test_import__excel_gb18030_csv(void **state)
{
    struct fixture *f = *state;
    static const char in[] =
        "companyName,applicantName,applicantContact\r\n" RARE_GB
        ",\xC0\xEE\xCB\xC4,13800138000\r\n"
        "\xCA\xBE\xC0\xFD,\xD5\xC5\xC8\xFD,13800138001\r\n";
    char buf[64];

    assert_int_equal(import_n(f, in, sizeof in - 1), 0);
    assert_counts(f, 2, 0, 0, 0);
    assert_int_equal(f->r.encoding, AB_CHARSET_GB18030);
    assert_true(f->r.detected);
    assert_false(f->r.bom);
    assert_name_hex(f, 1, RARE_UTF8);
    assert_name_hex(f, 2, "示例");
    assert_string_equal(query_text(f,
                                   "SELECT applicant_name FROM companies "
                                   "WHERE id = 1",
                                   buf, sizeof buf),
                        "李四");
    ab_import_describe(&f->r, buf, sizeof buf);
    assert_string_equal(buf,
                        "read as GB18030 (Excel's CSV on Chinese Windows)");
}

/* "CSV UTF-8": a BOM, CRLF. */
static void test_import__excel_utf8_bom_csv(void **state)
{
    struct fixture *f = *state;
    char buf[64];

    assert_int_equal(import_str(f, "\xEF\xBB\xBF"
                                   "companyName,applicantContact\r\n" RARE_UTF8
                                   ",13800138000\r\n"),
                     0);
    assert_counts(f, 1, 0, 0, 0);
    assert_int_equal(f->r.encoding, AB_CHARSET_UTF8);
    assert_true(f->r.bom);
    assert_name_hex(f, 1, RARE_UTF8);
    ab_import_describe(&f->r, buf, sizeof buf);
    assert_string_equal(buf, "");
}

/* "Unicode text": UTF-16LE with a BOM, tab-separated, CRLF. */
static void test_import__excel_unicode_text(void **state)
{
    struct fixture *f = *state;
    static const char utf8[] =
        "companyName\tapplicantContact\tlegalPerson\r\n" RARE_UTF8
        "\t13800138000\t\"张, 三\"\r\n";
    char in[512], buf[128];
    size_t i, n = 2;

    /* UTF-8 to UTF-16LE by hand (the BMP, plus the one surrogate pair). */
    memcpy(in, "\xFF\xFE", 2);
    for (i = 0; utf8[i];) {
        const unsigned char *u = (const unsigned char *)utf8 + i;
        unsigned long cp;
        if (u[0] < 0x80)
            cp = u[0], i += 1;
        else if (u[0] < 0xE0)
            cp = (u[0] & 0x1Fu) << 6 | (u[1] & 0x3Fu), i += 2;
        else if (u[0] < 0xF0)
            cp = (u[0] & 0x0Fu) << 12 | (u[1] & 0x3Fu) << 6 | (u[2] & 0x3Fu),
            i += 3;
        else
            cp = (u[0] & 0x07u) << 18 | (u[1] & 0x3Fu) << 12 |
                 (u[2] & 0x3Fu) << 6 | (u[3] & 0x3Fu),
            i += 4;
        if (cp >= 0x10000) {
            unsigned long hi = 0xD800 + ((cp - 0x10000) >> 10);
            unsigned long lo = 0xDC00 + ((cp - 0x10000) & 0x3FF);
            in[n++] = (char)(hi & 0xFF), in[n++] = (char)(hi >> 8);
            in[n++] = (char)(lo & 0xFF), in[n++] = (char)(lo >> 8);
        } else {
            in[n++] = (char)(cp & 0xFF), in[n++] = (char)(cp >> 8);
        }
    }
    assert_int_equal(import_n(f, in, n), 0);
    assert_counts(f, 1, 0, 0, 0);
    assert_int_equal(f->r.encoding, AB_CHARSET_UTF16LE);
    assert_int_equal(f->r.delimiter, '\t');
    assert_name_hex(f, 1, RARE_UTF8);
    assert_string_equal(
        query_text(f, "SELECT legal_person FROM companies", buf, sizeof buf),
        "张, 三");
    ab_import_describe(&f->r, buf, sizeof buf);
    assert_string_equal(buf, "read as UTF-16LE with a byte order mark, "
                             "tab-separated (Excel's Unicode text)");
}

/* A GB18030 character cut short: its row is rejected naming the line; the
 * rows around it are imported. Also at the very end of the file. */
static void test_import__truncated_gb18030_rejected_with_line(void **state)
{
    struct fixture *f = *state;
    static const char in[] = "companyName,applicantContact\r\n"
                             "\xCA\xBE\xC0\xFD,13800138000\r\n"
                             "\xCA\xBE\xC0,13800138001\r\n"
                             "\xD2\xBB,13800138002\r\n"
                             "\xCA";

    f->o.encoding = AB_CHARSET_GB18030;
    assert_int_equal(import_n(f, in, sizeof in - 1), 0);
    assert_counts(f, 2, 0, 0, 2);
    assert_reject(f, 0, 3, "bytes 0xC0 0x2C on line 3 are not valid GB18030");
    assert_reject(f, 1, 5,
                  "the file ends inside a GB18030 character (0xCA) on line 5");
    assert_int_equal(query_int(f, "SELECT count(*) FROM rejected_rows"), 2);
}

/* The same in auto mode, past the window the decision is made on. */
static void test_import__truncated_gb18030_after_the_window(void **state)
{
    struct fixture *f = *state;
    size_t cap = 200000, len = 0;
    char *data = malloc(cap);
    int i;

    len += (size_t)snprintf(data, cap, "companyName,applicantContact\r\n");
    for (i = 0; i < 4000; i++)
        len += (size_t)snprintf(data + len, cap - len,
                                "\xCA\xBE\xC0\xFD%d,138%08d\r\n", i, i);
    len += (size_t)snprintf(data + len, cap - len, "\xD6,13900000000\r\n");
    assert_true(len > AB_CHARSET_WINDOW);
    assert_int_equal(import_n(f, data, len), 0);
    free(data);
    assert_int_equal(f->r.encoding, AB_CHARSET_GB18030);
    assert_counts(f, 4000, 0, 0, 1);
    assert_reject(f, 0, 4002, "bytes 0xD6 0x2C");
    assert_reject(f, 0, 4002, "on line 4002");
}

/* --encoding utf-8 stays as strict as ever: GB18030 bytes are rejected as
 * invalid UTF-8, row by row, with a hint. */
static void test_import__utf8_stays_strict(void **state)
{
    struct fixture *f = *state;
    static const char in[] = "companyName,applicantContact\r\n"
                             "\xCA\xBE\xC0\xFD,13800138000\r\n";

    f->o.encoding = AB_CHARSET_UTF8;
    assert_int_equal(import_n(f, in, sizeof in - 1), 0);
    assert_counts(f, 0, 0, 0, 1);
    assert_reject(f, 0, 2, "is not valid UTF-8");
    assert_int_equal(f->r.not_utf8, 1);
    assert_non_null(strstr(f->warn, "not valid UTF-8"));
    assert_non_null(strstr(f->warn, "--encoding"));
}

static void test_import__separator_from_the_header(void **state)
{
    struct fixture *f = *state;
    char buf[64];

    /* Semicolons (Excel in locales whose decimal mark is a comma). */
    assert_int_equal(import_str(f, "\n  \ncompanyName;applicantContact;"
                                   "legalPerson\nA, Ltd;13800138000;\"x;y\"\n"),
                     0);
    assert_counts(f, 1, 0, 0, 0);
    assert_int_equal(f->r.delimiter, ';');
    assert_string_equal(
        query_text(f, "SELECT legal_person FROM companies", buf, sizeof buf),
        "x;y");
    /* Named: a tab, even if the header has commas in quotes. */
    f->o.delimiter = '\t';
    assert_int_equal(import_str(f, "companyName\tapplicantContact\n"
                                   "B\t13800138001\n"),
                     0);
    assert_counts(f, 1, 0, 0, 0);
    /* A header line longer than the held window still imports. */
    f->o.delimiter = 0;
    {
        size_t cap = 80000, len = 0;
        char *data = malloc(cap);
        len += (size_t)snprintf(data, cap, "companyName,applicantContact,");
        while (len < 70000)
            len += (size_t)snprintf(data + len, cap - len, "x%zu,", len);
        len += (size_t)snprintf(data + len, cap - len, "z\nC,13800138002\n");
        assert_int_equal(import_n(f, data, len), AB_EDATA); /* > 256 columns */
        free(data);
        assert_non_null(strstr(f->err.msg, "columns"));
    }
}

/* The rejects file comes back the way the input was: GB18030 in, GB18030
 * out (Excel opens it the same way); UTF-16 in, UTF-16 with tabs out. */
static void test_import__rejects_file_in_the_input_encoding(void **state)
{
    struct fixture *f = *state;
    static const char gb[] = "companyName,applicantContact\r\n"
                             "\xCA\xBE\xC0\xFD,12\r\n";
    static const char u16[] = "\xFF\xFE"
                              "c\0o\0m\0p\0a\0n\0y\0N\0a\0m\0e\0\t\0"
                              "a\0p\0p\0l\0i\0c\0a\0n\0t\0C\0o\0n\0t\0a\0c\0t\0"
                              "\r\0\n\0\x3A\x79\t\0\x31\0\x32\0\r\0\n\0";
    char path[128], got[1024];
    FILE *fp;
    size_t n;

    snprintf(path, sizeof path, "%s/rejects.csv", f->dir);
    f->o.rejects_path = path;
    assert_int_equal(import_n(f, gb, sizeof gb - 1), 0);
    fp = fopen(path, "rb");
    assert_non_null(fp);
    n = fread(got, 1, sizeof got - 1, fp);
    fclose(fp);
    assert_true(n > 40);
    assert_memory_equal(got,
                        "companyName,applicantContact,reason\r\n"
                        "\xCA\xBE\xC0\xFD,12,",
                        42);

    assert_int_equal(import_n(f, u16, sizeof u16 - 1), 0);
    assert_counts(f, 0, 0, 0, 1);
    fp = fopen(path, "rb");
    assert_non_null(fp);
    n = fread(got, 1, sizeof got - 1, fp);
    fclose(fp);
    /* BOM, the header, then "示\t12\t" in UTF-16LE. */
    assert_memory_equal(got,
                        "\xFF\xFE"
                        "c\0",
                        4);
    assert_non_null(memmem(got, n,
                           "r\0e\0a\0s\0o\0n\0\r\0\n\0\x3A\x79\t\0"
                           "1\0"
                           "2\0\t\0",
                           26));
    f->o.rejects_path = NULL;
}

static void test_import__missing_file(void **state)
{
    struct fixture *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/nope.csv", f->dir);
    assert_int_equal(ab_import_file(f->s, path, &f->o, &f->r, &f->err),
                     AB_ENOENT);
    assert_non_null(strstr(f->err.msg, "cannot open '"));
    assert_non_null(strstr(f->err.msg, "No such file or directory"));
}

static void test_import__disk_full_rolls_back(void **state)
{
    struct fixture *f = *state;
    size_t cap = 2000000, len = 0;
    char *data = malloc(cap);
    char *before, *after;
    int i;

    assert_int_equal(import_str(f, "companyName,applicantContact\n"
                                   "Kept,13800138000\n"),
                     0);
    before = dump_companies(f);
    /* the database may grow by a few pages only */
    exec(f, "PRAGMA wal_checkpoint(TRUNCATE)");
    {
        int64_t pages = query_int(f, "PRAGMA page_count");
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld",
                 (long long)pages + 4);
        assert_int_equal(ab_store_exec(f->s, sql, NULL), 0);
    }
    len += (size_t)snprintf(data, cap, "companyName,applicantContact\n");
    for (i = 0; i < 20000; i++)
        len += (size_t)snprintf(data + len, cap - len,
                                "A rather long company name number %d,"
                                "138%08d\n",
                                i, i);
    assert_int_equal(import_n(f, data, len), AB_EFULL);
    free(data);
    assert_false(f->r.committed);
    assert_non_null(strstr(f->err.msg, "full"));
    after = dump_companies(f);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_import__bom_and_crlf),
        T(test_import__quotes_commas_and_newlines),
        T(test_import__blank_lines_and_trailing_comma),
        T(test_import__cr_only_line_ends),
        T(test_import__malformed_quotes),
        T(test_import__line_numbers_across_chunks),
        T(test_import__field_too_long),
        T(test_import__header_only),
        T(test_import__empty_file),
        T(test_import__missing_required_column_writes_nothing),
        T(test_import__wrong_delimiter_named),
        T(test_import__duplicate_column),
        T(test_import__unknown_columns_warned_once),
        T(test_import__unknown_column_warning_is_printable),
        T(test_import__utf16_and_binary_named),
        T(test_import__snake_case_headers),
        T(test_import__duplicate_in_file_names_first_line),
        T(test_import__idempotent),
        T(test_import__rejects_replaced_per_source),
        T(test_import__updates_pending_row),
        T(test_import__finished_and_in_flight_rows_untouched),
        T(test_import__corrected_failed_row_goes_back_to_pending),
        T(test_import__strict_rolls_back),
        T(test_import__rejects_file),
        T(test_import__excel_gb18030_csv),
        T(test_import__excel_utf8_bom_csv),
        T(test_import__excel_unicode_text),
        T(test_import__truncated_gb18030_rejected_with_line),
        T(test_import__truncated_gb18030_after_the_window),
        T(test_import__utf8_stays_strict),
        T(test_import__separator_from_the_header),
        T(test_import__rejects_file_in_the_input_encoding),
        T(test_import__missing_file),
        T(test_import__disk_full_rolls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
