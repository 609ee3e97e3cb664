/* test_store.c - opening, migrating and counting (store.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "err.h"
#include "schema.h"
#include "store.h"

struct fixture {
    char dir[64];
    char db[96];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/ab_test_store_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_store__new_file_gets_latest_schema(void **state)
{
    struct fixture *f = *state;
    struct ab_store *s;
    struct ab_counts n;

    assert_int_equal(ab_store_open(f->db, 0, &s, NULL), 0);
    assert_int_equal(ab_store_schema_version(s), ab_store_schema_latest());
    assert_true(ab_store_schema_latest() >= 2);
    assert_int_equal(ab_store_counts(s, &n, NULL), 0);
    assert_int_equal(n.total, 0);
    ab_store_close(s);
}

/* Other systems keep triggers, indexes and views on the public companies
 * table: upgrading a database from schema 003 (the last one that rebuilt
 * the table) keeps them all, and they still work. */
static void test_store__upgrade_keeps_other_systems_objects(void **state)
{
    struct fixture *f = *state;
    struct ab_store *s;
    sqlite3 *db;
    int i;

    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    for (i = 0; i < 3; i++)
        exec(db, ab_schema_steps[i].sql);
    exec(db, "PRAGMA user_version = 3");
    exec(db, "CREATE TABLE crm_log (company TEXT, at INTEGER);"
             "CREATE TRIGGER crm_on_ticket AFTER UPDATE OF ticket ON companies"
             " WHEN new.ticket IS NOT NULL BEGIN"
             " INSERT INTO crm_log VALUES (new.company_name, 1); END;"
             "CREATE INDEX crm_by_contact ON companies (applicant_contact);"
             "CREATE VIEW crm_done AS SELECT company_name FROM companies"
             " WHERE status = 'done';"
             "INSERT INTO companies (company_name, applicant_contact)"
             " VALUES ('A', '13800138000')");
    sqlite3_close(db);

    assert_int_equal(ab_store_open(f->db, 0, &s, NULL), 0);
    assert_int_equal(ab_store_schema_version(s), ab_store_schema_latest());
    ab_store_close(s);

    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE"
                                   " name IN ('crm_on_ticket',"
                                   " 'crm_by_contact', 'crm_done')"),
                     3);
    exec(db, "UPDATE companies SET status = 'done', ticket = 'T'");
    assert_int_equal(query_int(db, "SELECT count(*) FROM crm_log"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM crm_done"), 1);
    sqlite3_close(db);
}

static void test_store__upgrades_version_1_keeping_rows(void **state)
{
    struct fixture *f = *state;
    struct ab_store *s;
    struct ab_counts n;
    sqlite3 *db;

    /* A database as authbatch with only schema 001 left it. */
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(ab_schema_steps[0].version, 1);
    exec(db, ab_schema_steps[0].sql);
    exec(db, "PRAGMA user_version = 1");
    exec(db, "INSERT INTO companies (company_name, applicant_contact)"
             " VALUES ('A', '13800138000');"
             "INSERT INTO companies (company_name, applicant_contact, status,"
             " ticket) VALUES ('B', 'b@example.com', 'done', 'T1');"
             "INSERT INTO rejected_rows (source, line, reason, created_at)"
             " VALUES ('old.csv', 3, 'bad', 0)");
    sqlite3_close(db);

    assert_int_equal(ab_store_open(f->db, 0, &s, NULL), 0);
    assert_int_equal(ab_store_schema_version(s), ab_store_schema_latest());
    assert_int_equal(ab_store_counts(s, &n, NULL), 0);
    assert_int_equal(n.total, 2);
    assert_int_equal(n.pending, 1);
    assert_int_equal(n.done, 1);
    ab_store_close(s);

    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(query_int(db, "PRAGMA user_version"),
                     ab_store_schema_latest());
    assert_int_equal(query_int(db, "SELECT count(*) FROM rejected_rows"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM companies"
                                   " WHERE ticket = 'T1'"),
                     1);
    /* the tables of schema 002 exist */
    assert_int_equal(query_int(db, "SELECT count(*) FROM runs"), 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM attempts"), 0);
    sqlite3_close(db);
}

static void test_store__refuses_newer_schema(void **state)
{
    struct fixture *f = *state;
    struct ab_store *s = (struct ab_store *)1;
    struct ab_err err = {0};
    sqlite3 *db;
    char sql[64];

    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d",
             ab_store_schema_latest() + 1);
    exec(db, sql);
    sqlite3_close(db);
    assert_int_equal(ab_store_open(f->db, 0, &s, &err), AB_ESCHEMA);
    assert_null(s);
    assert_non_null(strstr(err.msg, "newer than this authbatch"));
}

/* A user who points --db at another program's SQLite file (the CRM file
 * meant for import --from-sqlite) must get a refusal, not our tables added
 * to that file and its journal mode switched to WAL. */
static void test_store__refuses_foreign_database(void **state)
{
    struct fixture *f = *state;
    struct ab_store *s = (struct ab_store *)1;
    struct ab_err err = {0};
    sqlite3 *db;

    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    exec(db, "CREATE TABLE clients (cid INTEGER PRIMARY KEY, name TEXT);"
             "INSERT INTO clients (name) VALUES ('CRM A')");
    sqlite3_close(db);
    assert_int_equal(ab_store_open(f->db, 0, &s, &err), AB_ESCHEMA);
    assert_null(s);
    assert_non_null(strstr(err.msg, "not an authbatch database"));
    assert_non_null(strstr(err.msg, "clients"));

    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master"), 1);
    assert_int_equal(query_int(db, "PRAGMA user_version"), 0);
    {
        /* still a rollback-journal file: not switched to WAL */
        sqlite3_stmt *st;
        assert_int_equal(
            sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
            SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), "delete");
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

static void test_store__counts_see_rows_of_other_programs(void **state)
{
    struct fixture *f = *state;
    struct ab_store *s;
    struct ab_counts n;
    sqlite3 *db;

    assert_int_equal(ab_store_open(f->db, 0, &s, NULL), 0);
    assert_int_equal(ab_store_counts(s, &n, NULL), 0);
    assert_int_equal(n.total, 0);

    /* Another program inserts pending rows directly, as SPEC §3 allows. */
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    exec(db, "INSERT INTO companies (company_name, applicant_contact)"
             " VALUES ('X', '13800138000'), ('Y', 'y@example.com');"
             "INSERT INTO companies (company_name, applicant_contact, status,"
             " next_attempt_at) VALUES ('Z', '13800138001', 'retry_wait', 1)");
    sqlite3_close(db);

    assert_int_equal(ab_store_counts(s, &n, NULL), 0);
    assert_int_equal(n.total, 3);
    assert_int_equal(n.pending, 2);
    assert_int_equal(n.retry_wait, 1);
    assert_int_equal(n.due_retry, 1);
    assert_int_equal(n.next_retry_at, 1);
    ab_store_close(s);
}

static void test_store__read_only_open_of_missing_file_fails(void **state)
{
    struct fixture *f = *state;
    struct ab_store *s;
    struct ab_err err = {0};
    assert_int_not_equal(ab_store_open(f->db, AB_STORE_READONLY, &s, &err), 0);
    assert_non_null(strstr(err.msg, "cannot open database"));
}

/* Regression: a missing directory gave only SQLite's "unable to open
 * database file"; the message now says which directory is missing. */
static void test_store__missing_directory_named(void **state)
{
    struct fixture *f = *state;
    struct ab_store *s;
    struct ab_err err = {0};
    char path[160], want[160];
    snprintf(path, sizeof path, "%s/no/such/t.db", f->dir);
    snprintf(want, sizeof want, "(directory '%s/no/such' does not exist)",
             f->dir);
    assert_int_equal(ab_store_open(path, 0, &s, &err), AB_EIO);
    assert_null(s);
    if (!strstr(err.msg, want))
        fail_msg("message: %s", err.msg);
}

/* --db naming a directory (the directory the user meant the file to go
 * in) says so; SQLite alone says only "unable to open database file". */
static void test_store__directory_as_database_named(void **state)
{
    struct fixture *f = *state;
    struct ab_store *s;
    struct ab_err err = {0};
    char want[160];
    snprintf(want, sizeof want, "('%s' is a directory", f->dir);
    assert_int_equal(ab_store_open(f->dir, 0, &s, &err), AB_EIO);
    assert_null(s);
    if (!strstr(err.msg, want))
        fail_msg("message: %s", err.msg);
}

/* Hardening: the database holds tickets; a new file is not readable by
 * group or others (SQLite alone would create it 0644). */
static void test_store__new_file_is_private(void **state)
{
    struct fixture *f = *state;
    struct ab_store *s;
    struct stat st;
    char wal[128];
    assert_int_equal(ab_store_open(f->db, 0, &s, NULL), 0);
    assert_int_equal(stat(f->db, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
    snprintf(wal, sizeof wal, "%s-wal", f->db);
    if (stat(wal, &st) == 0)
        assert_int_equal(st.st_mode & 077, 0);
    ab_store_close(s);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_store__new_file_gets_latest_schema),
        T(test_store__upgrades_version_1_keeping_rows),
        T(test_store__upgrade_keeps_other_systems_objects),
        T(test_store__refuses_newer_schema),
        T(test_store__refuses_foreign_database),
        T(test_store__counts_see_rows_of_other_programs),
        T(test_store__read_only_open_of_missing_file_fails),
        T(test_store__missing_directory_named),
        T(test_store__directory_as_database_named),
        T(test_store__new_file_is_private),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
