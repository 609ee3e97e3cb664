/* test_import_sqlite.c - `import --from-sqlite`: a foreign schema read from a
 * real SQLite file into a real store, through the CSV import's rules; the
 * source opened read-only, never changed, nothing created next to it;
 * --query limited to one read-only SELECT; values of every SQLite type. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "err.h"
#include "import.h"
#include "import_sqlite.h"
#include "store.h"
#include "store_source.h"

#define MAX_SEEN 64

struct fixture {
    char dir[64];
    char db[96];
    char src[96];
    struct ab_store *s;
    sqlite3 *peek; /* our database, as another program would read it */
    struct ab_import_opts o;
    struct ab_import_result r;
    struct ab_err err;
    int nrejects;
    char sources[MAX_SEEN][128];
    int64_t at[MAX_SEEN];
    char reasons[MAX_SEEN][256];
    int nwarns;
    char warn[512];
};

static void on_reject(void *ctx, const char *source, int64_t line,
                      const char *reason)
{
    struct fixture *f = ctx;
    if (f->nrejects < MAX_SEEN) {
        snprintf(f->sources[f->nrejects], sizeof f->sources[0], "%s", source);
        f->at[f->nrejects] = line;
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
    strcpy(f->dir, "/tmp/ab_test_import_sqlite_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    snprintf(f->src, sizeof f->src, "%s/src/crm.db", f->dir);
    {
        char d[96];
        snprintf(d, sizeof d, "%s/src", f->dir);
        if (mkdir(d, 0755) != 0)
            return -1;
    }
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

/* Runs sql on a fresh connection to the source (creating it), then closes
 * it, so the file is complete on disk. */
static void make_source(struct fixture *f, const char *sql)
{
    sqlite3 *db;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(f->src, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("source sql: %s", msg);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static int import_table(struct fixture *f, const char *table)
{
    f->nrejects = f->nwarns = 0;
    f->warn[0] = '\0';
    return ab_import_sqlite(f->s, f->src, table, NULL, &f->o, &f->r, &f->err);
}

static int import_query(struct fixture *f, const char *sql)
{
    f->nrejects = f->nwarns = 0;
    f->warn[0] = '\0';
    return ab_import_sqlite(f->s, f->src, NULL, sql, &f->o, &f->r, &f->err);
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

/* Every row of sql, columns joined by '|', rows by '\n'. */
static const char *query_rows(struct fixture *f, const char *sql, char *buf,
                              size_t size)
{
    sqlite3_stmt *st;
    size_t len = 0;
    int i;
    buf[0] = '\0';
    assert_int_equal(sqlite3_prepare_v2(f->peek, sql, -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (i = 0; i < sqlite3_column_count(st); i++) {
            const char *t = (const char *)sqlite3_column_text(st, i);
            len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? "|" : "",
                                    t ? t : "NULL");
        }
        len += (size_t)snprintf(buf + len, size - len, "\n");
        assert_true(len < size);
    }
    sqlite3_finalize(st);
    return buf;
}

static void assert_reject(struct fixture *f, int i, int64_t at,
                          const char *reason_part)
{
    assert_true(i < f->nrejects);
    if (f->at[i] != at || !strstr(f->reasons[i], reason_part))
        fail_msg("reject %d: want %lld \"%s\", got %lld \"%s\"", i,
                 (long long)at, reason_part, (long long)f->at[i],
                 f->reasons[i]);
}

/* The whole file, for before/after comparisons. */
static char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long len;
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    len = ftell(fp);
    rewind(fp);
    buf = malloc((size_t)len + 1);
    assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return buf;
}

/* The names in the source's directory, sorted, joined by ' '. */
static void list_dir(struct fixture *f, char *out, size_t size)
{
    char d[96];
    struct dirent **names;
    size_t len = 0;
    int n, i;
    snprintf(d, sizeof d, "%s/src", f->dir);
    n = scandir(d, &names, NULL, alphasort);
    assert_true(n >= 0);
    out[0] = '\0';
    for (i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.')
            len += (size_t)snprintf(out + len, size - len, "%s ",
                                    names[i]->d_name);
        free(names[i]);
    }
    free(names);
}

/* A CRM's own schema: nothing named as we name it. */
static const char crm[] =
    "CREATE TABLE clients (cid INTEGER PRIMARY KEY, name TEXT, uscc TEXT,"
    " boss TEXT, contact TEXT, mobile, email TEXT, logo BLOB, note TEXT);"
    "INSERT INTO clients VALUES (10, '上海示例有限公司', '91310000ma1fl4f902',"
    " '张三', '李四', 13800001111, NULL, X'89504E47', 'vip');"
    "INSERT INTO clients VALUES (11, '北京示例有限公司', NULL, NULL, NULL,"
    " '+86 139-0000-2222', NULL, NULL, NULL);"
    "INSERT INTO clients VALUES (12, '坏代码有限公司', '91310000MA1FL4F903',"
    " NULL, NULL, 13800003333, NULL, NULL, NULL);"
    "INSERT INTO clients VALUES (13, '控制' || char(27) || '字符公司', NULL,"
    " NULL, NULL, 13800004444, NULL, NULL, NULL);"
    "INSERT INTO clients VALUES (14, '上海示例有限公司', NULL, NULL, NULL,"
    " 13800005555, NULL, NULL, NULL);"
    "INSERT INTO clients VALUES (15, '实数有限公司', NULL, NULL, NULL,"
    " 1.38e10, NULL, NULL, NULL);"
    "INSERT INTO clients VALUES (16, '二进制有限公司', NULL, NULL, NULL,"
    " X'3133383030303030303037', NULL, NULL, NULL);"
    "INSERT INTO clients VALUES (17, '邮箱有限公司', NULL, NULL, NULL,"
    " NULL, 'wang@example.com', NULL, NULL);";

static const char crm_query[] =
    "SELECT name AS companyName, uscc AS register_no, boss AS legalPerson,"
    " contact AS applicantName, coalesce(mobile, email) AS applicantContact,"
    " logo, note FROM clients ORDER BY cid";

static void test_import_sqlite__foreign_schema_through_a_query(void **state)
{
    struct fixture *f = *state;
    char buf[4096], src_name[160];

    make_source(f, crm);
    assert_int_equal(import_query(f, crm_query), 0);
    assert_true(f->r.committed);
    assert_int_equal(f->r.rows, 8);
    assert_int_equal(f->r.new_rows, 4);
    assert_int_equal(f->r.rejected, 4);
    /* Positions are row numbers of the query. */
    snprintf(src_name, sizeof src_name, "%s:query", f->src);
    assert_string_equal(f->sources[0], src_name);
    assert_reject(f, 0, 3,
                  "registerNo '91310000MA1FL4F903': wrong check character");
    assert_reject(f, 1, 4, "companyName contains a control character (U+001B");
    assert_reject(f, 2, 5,
                  "duplicate company '上海示例有限公司' (first on row 1)");
    assert_reject(f, 3, 7,
                  "applicantContact is a BLOB of 11 bytes, not text or a "
                  "number");
    /* Unknown columns: one warning naming them. */
    assert_int_equal(f->nwarns, 1);
    assert_string_equal(f->warn, "ignoring unknown columns 'logo', 'note'");
    /* Normalised as a CSV row would be: integer and real mobiles as digits,
     * +86 stripped, USCC upper case, e-mail type inferred. */
    assert_string_equal(
        query_rows(f,
                   "SELECT company_name, register_no, legal_person,"
                   " applicant_name, applicant_contact, applicant_contact_type,"
                   " status FROM companies ORDER BY id",
                   buf, sizeof buf),
        "上海示例有限公司|91310000MA1FL4F902|张三|李四|13800001111|MOBILE|"
        "pending\n"
        "北京示例有限公司|NULL|NULL|NULL|13900002222|MOBILE|pending\n"
        "实数有限公司|NULL|NULL|NULL|13800000000|MOBILE|pending\n"
        "邮箱有限公司|NULL|NULL|NULL|wang@example.com|EMAIL|pending\n");
    /* rejected_rows: the source, the position, the reason, the row as CSV
     * (a BLOB shown as X'hex'). */
    snprintf(buf, sizeof buf,
             "SELECT count(*) FROM rejected_rows WHERE source = '%s'",
             src_name);
    assert_int_equal(query_int(f, buf), 4);
    assert_string_equal(
        query_rows(f,
                   "SELECT line, CAST(raw AS TEXT) FROM rejected_rows"
                   " WHERE line IN (3, 7) ORDER BY line",
                   buf, sizeof buf),
        "3|坏代码有限公司,91310000MA1FL4F903,,,13800003333,,\n"
        "7|二进制有限公司,,,,X'3133383030303030303037',,\n");
}

static void test_import_sqlite__table_by_rowid(void **state)
{
    struct fixture *f = *state;
    char buf[1024];

    /* Our column names in snake_case, rowids with gaps, an extra column. */
    make_source(f, "CREATE TABLE companies_out (company_name TEXT,"
                   " applicant_contact, Register_No TEXT, memo TEXT);"
                   "INSERT INTO companies_out (rowid, company_name,"
                   " applicant_contact, register_no, memo) VALUES"
                   " (5, 'A', 13800000001, NULL, 'x'),"
                   " (9, 'B', 'abc', NULL, 'y'),"
                   " (40, 'C', 13800000003, '91310000MA1FL4F902', NULL),"
                   " (41, 'A', 13800000004, NULL, NULL);");
    assert_int_equal(import_table(f, "COMPANIES_OUT"), 0);
    assert_int_equal(f->r.new_rows, 2);
    assert_int_equal(f->r.rejected, 2);
    assert_reject(f, 0, 9, "applicantContact 'abc' is not a mainland mobile");
    assert_reject(f, 1, 41, "duplicate company 'A' (first on rowid 5)");
    snprintf(buf, sizeof buf, "%s:COMPANIES_OUT", f->src);
    assert_string_equal(f->sources[0], buf);
    assert_string_equal(f->warn, "ignoring unknown column 'memo'");
    assert_string_equal(query_rows(f,
                                   "SELECT group_concat(line) FROM"
                                   " (SELECT line FROM rejected_rows"
                                   " ORDER BY line)",
                                   buf, sizeof buf),
                        "9,41\n");
}

static void
test_import_sqlite__views_and_without_rowid_number_rows(void **state)
{
    struct fixture *f = *state;

    make_source(f, "CREATE TABLE w (companyName TEXT PRIMARY KEY,"
                   " applicantContact) WITHOUT ROWID;"
                   "INSERT INTO w VALUES ('A', 13800000001), ('B', 'bad'),"
                   " ('C', 'worse');"
                   "CREATE VIEW v AS SELECT companyName, applicantContact"
                   " FROM w WHERE companyName > 'A';");
    assert_int_equal(import_table(f, "w"), 0);
    assert_int_equal(f->r.rejected, 2);
    assert_reject(f, 0, 2, "applicantContact 'bad'");
    assert_reject(f, 1, 3, "applicantContact 'worse'");
    assert_int_equal(import_table(f, "v"), 0);
    assert_int_equal(f->r.rejected, 2);
    assert_reject(f, 0, 1, "applicantContact 'bad'");
    assert_reject(f, 1, 2, "applicantContact 'worse'");
}

static void test_import_sqlite__same_update_rules_as_csv(void **state)
{
    struct fixture *f = *state;
    char buf[256];

    make_source(f, "CREATE TABLE c (companyName, applicantContact);"
                   "INSERT INTO c VALUES ('A', 13800000001),"
                   " ('B', 13800000002), ('C', 13800000003);");
    assert_int_equal(import_table(f, "c"), 0);
    assert_int_equal(f->r.new_rows, 3);
    assert_int_equal(import_table(f, "c"), 0);
    assert_int_equal(f->r.unchanged, 3);
    assert_int_equal(sqlite3_exec(f->peek,
                                  "UPDATE companies SET status = 'done',"
                                  " ticket = 'T' WHERE company_name = 'C'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    make_source(f, "UPDATE c SET applicantContact = 13900000000;");
    assert_int_equal(import_table(f, "c"), 0);
    assert_int_equal(f->r.updated, 2);
    assert_int_equal(f->r.unchanged, 1);
    assert_string_equal(query_rows(f,
                                   "SELECT company_name, applicant_contact"
                                   " FROM companies ORDER BY id",
                                   buf, sizeof buf),
                        "A|13900000000\nB|13900000000\nC|13800000003\n");
}

static void test_import_sqlite__strict_and_rejects_file(void **state)
{
    struct fixture *f = *state;
    char path[128];
    size_t n;
    char *got;

    make_source(f, crm);
    snprintf(path, sizeof path, "%s/rejects.csv", f->dir);
    f->o.strict = 1;
    f->o.rejects_path = path;
    assert_int_equal(import_query(f, crm_query), AB_EDATA);
    f->o.strict = 0;
    f->o.rejects_path = NULL;
    assert_false(f->r.committed);
    assert_non_null(strstr(f->err.msg, "4 rows rejected, nothing imported"));
    assert_int_equal(query_int(f, "SELECT count(*) FROM companies"), 0);
    assert_int_equal(query_int(f, "SELECT count(*) FROM rejected_rows"), 0);
    /* The rejects file has the query's columns, so it imports as CSV. */
    got = slurp(path, &n);
    got[n] = '\0';
    assert_true(strncmp(got,
                        "companyName,register_no,legalPerson,applicantName,"
                        "applicantContact,logo,note,reason\r\n"
                        "坏代码有限公司,91310000MA1FL4F903,,,13800003333,,,",
                        strlen("companyName,register_no,legalPerson,"
                               "applicantName,applicantContact,logo,note,"
                               "reason\r\n"
                               "坏代码有限公司,91310000MA1FL4F903,,,"
                               "13800003333,,,")) == 0);
    free(got);
}

static void test_import_sqlite__missing_table_names_the_tables(void **state)
{
    struct fixture *f = *state;
    make_source(f, crm);
    make_source(f, "CREATE TABLE orders (x);");
    assert_int_equal(import_table(f, "client"), AB_EDATA);
    assert_non_null(strstr(f->err.msg, "no table or view 'client' in '"));
    assert_non_null(strstr(f->err.msg, "it has: clients, orders"));
}

static void test_import_sqlite__missing_column_suggests_a_query(void **state)
{
    struct fixture *f = *state;
    make_source(f, crm);
    assert_int_equal(import_table(f, "clients"), AB_EDATA);
    assert_non_null(strstr(f->err.msg, ":clients: missing required column "
                                       "'companyName'"));
    assert_non_null(strstr(f->err.msg, "SELECT name AS companyName"));
    assert_int_equal(query_int(f, "SELECT count(*) FROM companies"), 0);
}

/* Nothing but one read-only SELECT compiles, and the file is untouched. */
static void test_import_sqlite__query_may_only_read(void **state)
{
    static const struct {
        const char *sql, *want;
    } bad[] = {
        {"DELETE FROM clients", "would write to a table"},
        {"INSERT INTO clients (name) VALUES ('x')", "would write to a table"},
        {"UPDATE clients SET name = 'x'", "would write to a table"},
        {"DROP TABLE clients", "would change the schema"},
        {"CREATE TABLE x (a)", "would change the schema"},
        {"ATTACH 'other.db' AS o", "would attach or detach a database"},
        {"PRAGMA journal_mode = DELETE", "would run a PRAGMA"},
        {"PRAGMA table_info(clients)", "would run a PRAGMA"},
        {"BEGIN IMMEDIATE", "would control a transaction"},
        {"VACUUM", "but this one writes"}, /* no authorizer action */
        {"SELECT 1 AS companyName; DELETE FROM clients",
         "more than one statement"},
        {"WITH x AS (SELECT 1) INSERT INTO clients (name) SELECT * FROM x",
         "would write"},
        {"  -- nothing\n", "--query is empty"},
        {"SELEC name FROM clients", "syntax error"},
        {"SELECT nope FROM clients", "no such column: nope"},
    };
    struct fixture *f = *state;
    size_t i, n0, n1;
    char *before, *after, ls0[256], ls1[256];

    make_source(f, crm);
    before = slurp(f->src, &n0);
    list_dir(f, ls0, sizeof ls0);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = import_query(f, bad[i].sql);
        if (rc != AB_EINVAL || !strstr(f->err.msg, bad[i].want))
            fail_msg("'%s': want AB_EINVAL \"%s\", got %d \"%s\"", bad[i].sql,
                     bad[i].want, rc, f->err.msg);
    }
    after = slurp(f->src, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    list_dir(f, ls1, sizeof ls1);
    assert_string_equal(ls0, ls1);
    assert_string_equal(ls1, "crm.db ");
    free(before);
    free(after);
    /* A trailing semicolon and comment are fine; so are CTEs and VALUES. */
    assert_int_equal(
        import_query(f, "WITH c AS (SELECT name, mobile FROM clients WHERE"
                        " cid = 11) SELECT name AS companyName, mobile AS"
                        " applicantContact FROM c; -- done\n"),
        0);
    assert_int_equal(f->r.new_rows, 1);
    assert_int_equal(import_query(f, "VALUES ('Z', 13800000009)"), AB_EDATA);
    assert_non_null(strstr(f->err.msg, "missing required column"));
}

static void test_import_sqlite__not_a_database(void **state)
{
    struct fixture *f = *state;
    FILE *fp = fopen(f->src, "wb");
    assert_non_null(fp);
    fputs("companyName,applicantContact\nA,13800000001\n", fp);
    fclose(fp);
    assert_int_equal(import_table(f, "x"), AB_EDATA);
    assert_non_null(strstr(f->err.msg, "is not an SQLite 3 database"));
    fp = fopen(f->src, "wb");
    fclose(fp);
    assert_int_equal(import_table(f, "x"), AB_EDATA);
    unlink(f->src);
    assert_int_equal(import_table(f, "x"), AB_ENOENT);
    assert_non_null(strstr(f->err.msg, "No such file or directory"));
    f->src[strlen(f->src) - strlen("/crm.db")] = '\0';
    assert_int_equal(import_table(f, "x"), AB_ENOENT);
    assert_non_null(strstr(f->err.msg, "Is a directory"));
}

static void test_import_sqlite__not_from_our_own_database(void **state)
{
    struct fixture *f = *state;
    snprintf(f->src, sizeof f->src, "%s", f->db);
    assert_int_equal(import_table(f, "companies"), AB_EINVAL);
    assert_non_null(strstr(f->err.msg, "is the database authbatch writes to"));
}

/* A WAL-mode file closed cleanly has no -wal: read with immutable=1, and no
 * -wal or -shm appears (a plain read-only connection would create both). */
static void test_import_sqlite__wal_file_leaves_nothing_behind(void **state)
{
    struct fixture *f = *state;
    char ls0[256], ls1[256];
    size_t n0, n1;
    char *before, *after;

    make_source(f, "PRAGMA journal_mode = WAL;"
                   "CREATE TABLE c (companyName, applicantContact);"
                   "INSERT INTO c VALUES ('A', 13800000001);");
    list_dir(f, ls0, sizeof ls0);
    assert_string_equal(ls0, "crm.db ");
    assert_int_equal(chmod(f->src, 0444), 0);
    before = slurp(f->src, &n0);
    assert_int_equal(import_table(f, "c"), 0);
    assert_int_equal(f->r.new_rows, 1);
    list_dir(f, ls1, sizeof ls1);
    assert_string_equal(ls1, "crm.db ");
    after = slurp(f->src, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(before);
    free(after);
}

/* A WAL file whose -wal holds commits but whose -shm is gone cannot be read
 * without creating the -shm: refused, nothing created. */
static void test_import_sqlite__wal_without_shm_is_refused(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db;
    char ls[256], cmd[512];

    make_source(f, "PRAGMA journal_mode = WAL;"
                   "CREATE TABLE c (companyName, applicantContact);");
    /* A writer with a commit in its -wal, copied with the -wal only. */
    assert_int_equal(sqlite3_open(f->src, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA wal_autocheckpoint = 0;"
                                  "INSERT INTO c VALUES ('A', 13800000001)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    snprintf(cmd, sizeof cmd,
             "cd '%s/src' && cp crm.db c2.db && cp crm.db-wal c2.db-wal",
             f->dir);
    assert_int_equal(system(cmd), 0);
    /* With the writer still there (-wal and -shm present): mode=ro, and the
     * commit that is only in the -wal is seen. */
    assert_int_equal(import_table(f, "c"), 0);
    assert_int_equal(f->r.new_rows, 1);
    sqlite3_close(db);
    snprintf(f->src, sizeof f->src, "%s/src/c2.db", f->dir);
    assert_int_equal(import_table(f, "c"), AB_ENOENT);
    assert_non_null(strstr(f->err.msg, "c2.db-shm' is missing"));
    list_dir(f, ls, sizeof ls);
    assert_string_equal(ls, "c2.db c2.db-wal crm.db ");
}

/* immutable=1 takes no lock: a change to the file during the read must
 * fail it, so the import rolls back. */
static void test_import_sqlite__changed_during_immutable_read(void **state)
{
    struct fixture *f = *state;
    struct ab_source *src;
    struct ab_err err = {0};
    struct timeval tv[2];
    int64_t at;

    make_source(f, "PRAGMA journal_mode = WAL;"
                   "CREATE TABLE c (companyName, applicantContact);"
                   "INSERT INTO c VALUES ('A', 13800000001);");
    assert_int_equal(ab_source_open(f->src, &src, &err), 0);
    assert_int_equal(ab_source_immutable(src), 1);
    assert_int_equal(ab_source_select_table(src, "c", &err), 0);
    assert_int_equal(ab_source_step(src, &at, &err), 1);
    assert_int_equal(ab_source_verify(src, &err), 0);
    /* Another program writes (here: its mtime moves). */
    tv[0].tv_sec = tv[1].tv_sec = 1000000000;
    tv[0].tv_usec = tv[1].tv_usec = 0;
    assert_int_equal(utimes(f->src, tv), 0);
    assert_int_equal(ab_source_step(src, &at, &err), 0);
    assert_int_equal(ab_source_verify(src, &err), AB_EBUSY);
    assert_non_null(strstr(err.msg, "changed while it was read"));
    ab_source_close(src);
}

/* A rollback-journal file is read with mode=ro (locks, one snapshot). */
static void test_import_sqlite__rollback_file_read_locked(void **state)
{
    struct fixture *f = *state;
    struct ab_source *src;
    struct ab_err err = {0};

    make_source(f, "CREATE TABLE c (companyName, applicantContact);");
    assert_int_equal(ab_source_open(f->src, &src, &err), 0);
    assert_int_equal(ab_source_immutable(src), 0);
    ab_source_close(src);
}

static void test_import_sqlite__values_of_every_type(void **state)
{
    struct fixture *f = *state;
    char buf[1024], *big;
    size_t i;

    make_source(f, "CREATE TABLE c (companyName, applicantContact,"
                   " closeButton, legalPerson, memo);");
    /* A 100 KB value in an ignored column is cut, not a reason to reject;
     * in an imported one it is. */
    big = malloc(100001 + 200);
    strcpy(big, "INSERT INTO c VALUES ('Big', 13800000001, 1, NULL, '");
    for (i = strlen(big); i < 100050; i++)
        big[i] = 'x';
    strcpy(big + i, "'), ('BigName' || printf('%.70000c', 'y'), 13800000002,"
                    " NULL, NULL, NULL);");
    make_source(f, big);
    free(big);
    make_source(f, "INSERT INTO c VALUES"
                   " ('Real', 13800000003.0, 0.0, NULL, NULL),"
                   " ('Frac', 13800000004.5, NULL, NULL, NULL),"
                   " ('Neg', -1380000, NULL, NULL, NULL),"
                   " ('Num', 13800000006, 2, NULL, NULL),"
                   " ('Person', 13800000007, NULL, 42, NULL),"
                   " ('Blob', 13800000008, NULL, NULL, X'00'),"
                   " ('BlobP', 13800000009, NULL, zeroblob(40), NULL);");
    assert_int_equal(import_table(f, "c"), 0);
    assert_reject(f, 0, 2, "field 'companyName' is longer than 65536 bytes");
    assert_reject(f, 1, 4, "applicantContact '13800000004.5' is not a");
    assert_reject(f, 2, 5, "applicantContact '-1380000' is not a");
    assert_reject(f, 3, 6, "closeButton '2' must be true/false");
    assert_reject(f, 4, 9, "legalPerson is a BLOB of 40 bytes");
    assert_int_equal(f->r.rejected, 5);
    assert_string_equal(query_rows(f,
                                   "SELECT company_name, applicant_contact,"
                                   " close_button, legal_person"
                                   " FROM companies ORDER BY id",
                                   buf, sizeof buf),
                        "Big|13800000001|1|NULL\n"
                        "Real|13800000003|0|NULL\n"
                        "Person|13800000007|NULL|42\n"
                        "Blob|13800000008|NULL|NULL\n");
    assert_string_equal(
        query_rows(f,
                   "SELECT CAST(raw AS TEXT) FROM rejected_rows"
                   " WHERE line = 9",
                   buf, sizeof buf),
        "BlobP,13800000009,,X'"
        "0000000000000000000000000000000000000000000000000000000000000000"
        "...',\n");
}

static void test_import_sqlite__real_text(void **state)
{
    static const struct {
        double d;
        const char *want;
    } t[] = {
        {13800001111.0, "13800001111"},
        {1.38e10, "13800000000"},
        {0.0, "0"},
        {-0.0, "0"},
        {-42.0, "-42"},
        {0.5, "0.5"},
        {0.1, "0.1"},
        {1.0 / 3.0, "0.3333333333333333"},
        {13800001111.5, "13800001111.5"},
        {9007199254740991.0, "9007199254740991"},
        {9007199254740992.0, "9007199254740992"},
        {1e20, "1e+20"},
        {-1.5e-7, "-1.5e-07"},
    };
    char buf[64];
    size_t i;
    (void)state;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        ab_import_sqlite_real(t[i].d, buf, sizeof buf);
        if (strcmp(buf, t[i].want) != 0)
            fail_msg("%.17g: want \"%s\", got \"%s\"", t[i].d, t[i].want, buf);
    }
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_import_sqlite__foreign_schema_through_a_query),
        T(test_import_sqlite__table_by_rowid),
        T(test_import_sqlite__views_and_without_rowid_number_rows),
        T(test_import_sqlite__same_update_rules_as_csv),
        T(test_import_sqlite__strict_and_rejects_file),
        T(test_import_sqlite__missing_table_names_the_tables),
        T(test_import_sqlite__missing_column_suggests_a_query),
        T(test_import_sqlite__query_may_only_read),
        T(test_import_sqlite__not_a_database),
        T(test_import_sqlite__not_from_our_own_database),
        T(test_import_sqlite__wal_file_leaves_nothing_behind),
        T(test_import_sqlite__wal_without_shm_is_refused),
        T(test_import_sqlite__changed_during_immutable_read),
        T(test_import_sqlite__rollback_file_read_locked),
        T(test_import_sqlite__values_of_every_type),
        T(test_import_sqlite__real_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
