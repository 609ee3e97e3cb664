/* test_store_auth.c - recording observations (store_auth.h): the event row
 * and the company's auth columns, idempotence on the dedupe key, the never
 * backwards rule, batching inside the caller's transaction, a failure that
 * leaves the batch intact, the token check and the reset of a re-issue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "err.h"
#include "store.h"
#include "store_auth.h"

struct fixture {
    char dir[64];
    char db[96];
    struct ab_store *s;
    sqlite3 *raw; /* a second connection, to look */
};

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/ab_test_store_auth_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    if (ab_store_open(f->db, 0, &f->s, NULL) != 0)
        return -1;
    if (sqlite3_open(f->db, &f->raw) != SQLITE_OK)
        return -1;
    sqlite3_busy_timeout(f->raw, 5000);
    exec(f->raw, "INSERT INTO companies (id, company_name, applicant_contact,"
                 " callback_token, updated_at) VALUES"
                 " (1, 'A', '13800000001', 'tok-a-0123456789abcdefg', 5),"
                 " (2, 'B', '13800000002', 'tok-b-0123456789abcdefg', 5),"
                 " (3, 'C', '13800000003', NULL, 5)");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];
    sqlite3_close(f->raw);
    ab_store_close(f->s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* The first row of sql as "a|b|c" (NULL as "-"), into a static buffer. */
static const char *row(sqlite3 *db, const char *sql)
{
    static char out[1024];
    sqlite3_stmt *st;
    size_t n = 0;
    int i;

    out[0] = '\0';
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW) {
        for (i = 0; i < sqlite3_column_count(st); i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);
            n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", i ? "|" : "",
                                  v ? v : "-");
        }
    }
    sqlite3_finalize(st);
    return out;
}

static struct ab_auth_obs cb(int64_t id, const char *raw, const char *req,
                             const char *key, int64_t at)
{
    struct ab_auth_obs o = {
        .company_id = id,
        .source = AB_AUTH_SRC_CALLBACK,
        .raw_status = raw,
        .status = ab_auth_from_callback(raw),
        .request_id = req,
        .fields_json = "{\"status\":\"x\"}",
        .dedupe_key = key,
        .observed_at = at,
    };
    return o;
}

static void test_store_auth__callback_applies_and_is_recorded(void **state)
{
    struct fixture *f = *state;
    struct ab_auth_obs o = cb(1, "0", "R1", "k0", 1000);
    struct ab_auth_result r;
    struct ab_err err = {0};

    assert_int_equal(ab_store_auth_record(f->s, &o, &r, &err), 0);
    assert_int_equal(r.duplicate, 0);
    assert_int_equal(r.move, AB_AUTH_MOVE_FORWARD);
    assert_int_equal(r.before, AB_AUTH_NONE);
    assert_int_equal(r.after, AB_AUTH_IN_PROGRESS);
    assert_true(r.event_id > 0);
    assert_string_equal(row(f->raw,
                            "SELECT auth_status, auth_reason, auth_request_id,"
                            " auth_checked_at, auth_changed_at, updated_at"
                            " FROM companies WHERE id = 1"),
                        "in_progress|-|R1|1000|1000|1000");
    assert_string_equal(
        row(f->raw, "SELECT company_id, source, raw_status, auth_status,"
                    " applied, request_id, reason, fields, dedupe_key,"
                    " run_id, observed_at FROM auth_events"),
        "1|callback|0|in_progress|1|R1|-|{\"status\":\"x\"}|k0|-|1000");
    /* The other companies are untouched. */
    assert_string_equal(row(f->raw, "SELECT count(*) FROM companies"
                                    " WHERE auth_status IS NOT NULL"),
                        "1");
}

static void test_store_auth__repeated_delivery_changes_nothing(void **state)
{
    struct fixture *f = *state;
    struct ab_auth_obs o = cb(1, "1", "R1", "k1", 1000);
    struct ab_auth_result r;
    char before[1024];

    assert_int_equal(ab_store_auth_record(f->s, &o, &r, NULL), 0);
    snprintf(before, sizeof before, "%s",
             row(f->raw, "SELECT auth_status, auth_request_id,"
                         " auth_checked_at, auth_changed_at, updated_at"
                         " FROM companies WHERE id = 1"));
    o.observed_at = 9000; /* the vendor's retry, later */
    assert_int_equal(ab_store_auth_record(f->s, &o, &r, NULL), 0);
    assert_int_equal(r.duplicate, 1);
    assert_int_equal(r.event_id, 0);
    assert_int_equal(r.after, AB_AUTH_AUTHENTICATED);
    assert_string_equal(row(f->raw, "SELECT auth_status, auth_request_id,"
                                    " auth_checked_at, auth_changed_at,"
                                    " updated_at FROM companies WHERE id = 1"),
                        before);
    assert_string_equal(row(f->raw, "SELECT count(*) FROM auth_events"), "1");
    /* The same key on another company is another observation. */
    o.company_id = 2;
    assert_int_equal(ab_store_auth_record(f->s, &o, &r, NULL), 0);
    assert_int_equal(r.duplicate, 0);
    assert_string_equal(row(f->raw, "SELECT count(*) FROM auth_events"), "2");
    /* A NULL key is never a duplicate. */
    o.dedupe_key = NULL;
    assert_int_equal(ab_store_auth_record(f->s, &o, &r, NULL), 0);
    assert_int_equal(ab_store_auth_record(f->s, &o, &r, NULL), 0);
    assert_int_equal(r.duplicate, 0);
    assert_string_equal(row(f->raw, "SELECT count(*) FROM auth_events"), "4");
}

static void test_store_auth__never_backwards(void **state)
{
    struct fixture *f = *state;
    struct ab_auth_obs o;
    struct ab_auth_result r;

    o = cb(1, "1", "R1", "auth", 2000); /* authenticated first ... */
    assert_int_equal(ab_store_auth_record(f->s, &o, &r, NULL), 0);
    o = cb(1, "0", "R1", "prog", 3000); /* ... the late in_progress */
    assert_int_equal(ab_store_auth_record(f->s, &o, &r, NULL), 0);
    assert_int_equal(r.duplicate, 0);
    assert_int_equal(r.move, AB_AUTH_MOVE_BACKWARDS);
    assert_int_equal(r.after, AB_AUTH_AUTHENTICATED);
    assert_string_equal(row(f->raw, "SELECT auth_status, auth_checked_at,"
                                    " auth_changed_at, updated_at"
                                    " FROM companies WHERE id = 1"),
                        "authenticated|3000|2000|2000");
    assert_string_equal(row(f->raw, "SELECT group_concat(auth_status || ':'"
                                    " || applied, ',') FROM (SELECT * FROM"
                                    " auth_events ORDER BY id)"),
                        "authenticated:1,in_progress:0");
    /* A rejection after authenticated is an event only as well. */
    o = cb(1, "2", "R1", "rej", 4000);
    assert_int_equal(ab_store_auth_record(f->s, &o, &r, NULL), 0);
    assert_int_equal(r.move, AB_AUTH_MOVE_BACKWARDS);
    assert_string_equal(
        row(f->raw, "SELECT auth_status FROM companies WHERE id = 1"),
        "authenticated");
}

static void test_store_auth__rejection_reason_then_pass(void **state)
{
    struct fixture *f = *state;
    struct ab_auth_obs o = {
        .company_id = 2,
        .source = AB_AUTH_SRC_POLL,
        .raw_status = "3",
        .status = ab_auth_from_result("3"),
        .reason = "licence does not match",
        .run_id = 0,
        .observed_at = 100,
    };
    struct ab_auth_result r;

    assert_int_equal(ab_store_auth_record(f->s, &o, &r, NULL), 0);
    assert_string_equal(row(f->raw, "SELECT auth_status, auth_reason,"
                                    " auth_request_id FROM companies"
                                    " WHERE id = 2"),
                        "rejected|licence does not match|-");
    /* The same verdict with a refined reason and a request id. */
    o.reason = "licence expired";
    o.request_id = "R9";
    o.observed_at = 200;
    assert_int_equal(ab_store_auth_record(f->s, &o, &r, NULL), 0);
    assert_int_equal(r.move, AB_AUTH_MOVE_SAME);
    assert_string_equal(row(f->raw, "SELECT auth_status, auth_reason,"
                                    " auth_request_id, auth_changed_at,"
                                    " updated_at FROM companies WHERE id = 2"),
                        "rejected|licence expired|R9|100|200");
    /* Resubmitted and passed: forward, the reason cleared. */
    o.raw_status = "2";
    o.status = ab_auth_from_result("2");
    o.reason = NULL;
    o.request_id = NULL;
    o.observed_at = 300;
    assert_int_equal(ab_store_auth_record(f->s, &o, &r, NULL), 0);
    assert_int_equal(r.move, AB_AUTH_MOVE_FORWARD);
    assert_string_equal(row(f->raw, "SELECT auth_status, auth_reason,"
                                    " auth_request_id, auth_changed_at"
                                    " FROM companies WHERE id = 2"),
                        "authenticated|-|R9|300");
    assert_string_equal(row(f->raw, "SELECT source, run_id FROM auth_events"
                                    " LIMIT 1"),
                        "poll|-");
}

static void test_store_auth__unknown_status_is_kept_raw(void **state)
{
    struct fixture *f = *state;
    struct ab_auth_obs o = {
        .company_id = 1,
        .source = AB_AUTH_SRC_POLL,
        .raw_status = "5",
        .status = ab_auth_from_result("5"),
        .request_id = "R5",
        .observed_at = 700,
    };
    struct ab_auth_result r;

    assert_int_equal(o.status, AB_AUTH_UNKNOWN);
    assert_int_equal(ab_store_auth_record(f->s, &o, &r, NULL), 0);
    assert_int_equal(r.move, AB_AUTH_MOVE_UNKNOWN);
    assert_int_equal(r.after, AB_AUTH_NONE);
    assert_string_equal(row(f->raw, "SELECT raw_status, auth_status, applied"
                                    " FROM auth_events"),
                        "5|-|0");
    /* Status unchanged; the request id learnt; the look counted. */
    assert_string_equal(row(f->raw, "SELECT auth_status, auth_request_id,"
                                    " auth_checked_at, auth_changed_at"
                                    " FROM companies WHERE id = 1"),
                        "-|R5|700|-");
}

static void test_store_auth__out_of_order_deliveries(void **state)
{
    /* The vendor's order is in progress, then the verdict; a failed first
     * delivery of in_progress is retried after the verdict landed. Both
     * orders end the same way, with both events stored. */
    static const char *const orders[2][2] = {{"0", "1"}, {"1", "0"}};
    struct fixture *f = *state;
    int k, i;

    for (k = 0; k < 2; k++) {
        for (i = 0; i < 2; i++) {
            struct ab_auth_obs o =
                cb(1 + k, orders[k][i], "R", orders[k][i], 10 + i);
            assert_int_equal(ab_store_auth_record(f->s, &o, NULL, NULL), 0);
        }
    }
    assert_string_equal(row(f->raw, "SELECT group_concat(auth_status, ',')"
                                    " FROM companies WHERE id IN (1, 2)"),
                        "authenticated,authenticated");
    assert_string_equal(row(f->raw, "SELECT count(*), sum(applied)"
                                    " FROM auth_events"),
                        "4|3");
}

static void test_store_auth__batch_in_callers_transaction(void **state)
{
    struct fixture *f = *state;
    struct ab_auth_obs o;
    struct ab_auth_result r;
    struct ab_err err = {0};

    assert_int_equal(ab_store_begin(f->s, NULL), 0);
    o = cb(1, "0", "R1", "a", 1);
    assert_int_equal(ab_store_auth_record(f->s, &o, &r, NULL), 0);
    /* An unknown company fails alone; the batch goes on. */
    o = cb(99, "1", "R1", "b", 2);
    assert_int_equal(ab_store_auth_record(f->s, &o, &r, &err), AB_ENOENT);
    assert_non_null(strstr(err.msg, "no company with id 99"));
    o = cb(2, "1", "R2", "c", 3);
    assert_int_equal(ab_store_auth_record(f->s, &o, &r, NULL), 0);
    /* Nothing visible to others until the caller commits. */
    assert_string_equal(row(f->raw, "SELECT count(*) FROM auth_events"), "0");
    assert_int_equal(ab_store_commit(f->s, NULL), 0);
    assert_string_equal(row(f->raw, "SELECT count(*) FROM auth_events"), "2");
    assert_string_equal(row(f->raw,
                            "SELECT group_concat(id || ':' || auth_status,"
                            " ',') FROM (SELECT * FROM companies"
                            " WHERE auth_status IS NOT NULL"
                            " ORDER BY id)"),
                        "1:in_progress,2:authenticated");
}

static void test_store_auth__failure_leaves_the_batch(void **state)
{
    struct fixture *f = *state;
    struct ab_auth_obs o;
    struct ab_err err = {0};

    /* A trigger that refuses one company's update after its event row is
     * written: the savepoint must take the event back, and only it. */
    exec(f->raw, "CREATE TRIGGER refuse BEFORE UPDATE OF auth_status ON"
                 " companies WHEN NEW.id = 2 BEGIN SELECT RAISE(ABORT,"
                 " 'refused by test'); END");
    assert_int_equal(ab_store_begin(f->s, NULL), 0);
    o = cb(1, "0", "R1", "a", 1);
    assert_int_equal(ab_store_auth_record(f->s, &o, NULL, NULL), 0);
    o = cb(2, "0", "R2", "b", 2);
    assert_int_not_equal(ab_store_auth_record(f->s, &o, NULL, &err), 0);
    assert_non_null(strstr(err.msg, "refused by test"));
    o = cb(1, "1", "R1", "c", 3);
    assert_int_equal(ab_store_auth_record(f->s, &o, NULL, NULL), 0);
    assert_int_equal(ab_store_commit(f->s, NULL), 0);
    assert_string_equal(row(f->raw, "SELECT group_concat(company_id, ',')"
                                    " FROM auth_events"),
                        "1,1");
    assert_string_equal(row(f->raw, "SELECT group_concat(ifnull(auth_status,"
                                    " '-'), ',') FROM (SELECT * FROM"
                                    " companies ORDER BY id)"),
                        "authenticated,-,-");
    /* Alone, the same failure rolls back and leaves no transaction. */
    o = cb(2, "0", "R2", "d", 4);
    assert_int_not_equal(ab_store_auth_record(f->s, &o, NULL, &err), 0);
    assert_string_equal(row(f->raw, "SELECT count(*) FROM auth_events"), "2");
    assert_int_equal(ab_store_begin(f->s, NULL), 0);
    ab_store_rollback(f->s);
}

static void test_store_auth__busy_database_is_ebusy(void **state)
{
    struct fixture *f = *state;
    struct ab_store *s2;
    struct ab_auth_obs o = cb(1, "1", "R1", "k", 1);
    struct ab_err err = {0};

    setenv("AUTHBATCH_BUSY_TIMEOUT_MS", "50", 1);
    assert_int_equal(ab_store_open(f->db, 0, &s2, NULL), 0);
    unsetenv("AUTHBATCH_BUSY_TIMEOUT_MS");
    exec(f->raw, "BEGIN IMMEDIATE");
    assert_int_equal(ab_store_auth_record(s2, &o, NULL, &err), AB_EBUSY);
    exec(f->raw, "COMMIT");
    assert_string_equal(row(f->raw, "SELECT count(*) FROM auth_events"), "0");
    assert_int_equal(ab_store_auth_record(s2, &o, NULL, &err), 0);
    assert_string_equal(row(f->raw, "SELECT count(*) FROM auth_events"), "1");
    ab_store_close(s2);
}

static void test_store_auth__token_check(void **state)
{
    static const struct {
        int64_t id;
        const char *token;
        int ok;
    } t[] = {
        {1, "tok-a-0123456789abcdefg", 1},
        {2, "tok-b-0123456789abcdefg", 1},
        {1, "tok-b-0123456789abcdefg", 0}, /* another company's */
        {1, "tok-a-0123456789abcdefh", 0}, /* one character off */
        {1, "tok-a-0123456789abcdef", 0},  /* a prefix */
        {1, "tok-a-0123456789abcdefgh", 0},
        {1, "", 0},
        {3, "", 0}, /* no token stored: nothing matches */
        {3, "anything-0123456789abc", 0},
        {42, "tok-a-0123456789abcdefg", 0}, /* no such company */
    };
    struct fixture *f = *state;
    size_t i;

    exec(f->raw, "INSERT INTO companies (id, company_name, applicant_contact,"
                 " callback_token) VALUES (4, 'D', '13800000004', '')");
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        int ok = -1;
        assert_int_equal(ab_store_auth_token_check(f->s, t[i].id, t[i].token,
                                                   strlen(t[i].token), &ok,
                                                   NULL),
                         0);
        if (ok != t[i].ok)
            fail_msg("token check %zu (id %lld): got %d", i, (long long)t[i].id,
                     ok);
    }
    {
        int ok = -1;
        assert_int_equal(ab_store_auth_token_check(f->s, 4, "", 0, &ok, NULL),
                         0);
        assert_int_equal(ok, 0); /* an empty stored token matches nothing */
    }
}

static void test_store_auth__reset_starts_over(void **state)
{
    struct fixture *f = *state;
    struct ab_auth_obs o = cb(1, "2", "R1", "rej", 50);
    struct ab_auth_result r;
    struct ab_err err = {0};

    assert_int_equal(ab_store_auth_record(f->s, &o, &r, NULL), 0);
    assert_int_equal(ab_store_auth_reset(f->s, 1, 60, NULL), 0);
    assert_string_equal(row(f->raw, "SELECT ifnull(auth_status, '-'),"
                                    " ifnull(auth_request_id, '-'),"
                                    " ifnull(callback_token, '-'),"
                                    " auth_changed_at, updated_at"
                                    " FROM companies WHERE id = 1"),
                        "-|-|-|60|60");
    assert_string_equal(row(f->raw, "SELECT count(*) FROM auth_events"), "1");
    /* The new ticket's in_progress moves forward again. */
    o = cb(1, "0", "R2", "prog2", 70);
    assert_int_equal(ab_store_auth_record(f->s, &o, &r, NULL), 0);
    assert_int_equal(r.move, AB_AUTH_MOVE_FORWARD);
    /* A company that never had a status keeps its auth_changed_at. */
    assert_int_equal(ab_store_auth_reset(f->s, 3, 80, NULL), 0);
    assert_string_equal(row(f->raw, "SELECT ifnull(auth_changed_at, '-')"
                                    " FROM companies WHERE id = 3"),
                        "-");
    assert_int_equal(ab_store_auth_reset(f->s, 77, 80, &err), AB_ENOENT);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_store_auth__callback_applies_and_is_recorded),
        T(test_store_auth__repeated_delivery_changes_nothing),
        T(test_store_auth__never_backwards),
        T(test_store_auth__rejection_reason_then_pass),
        T(test_store_auth__unknown_status_is_kept_raw),
        T(test_store_auth__out_of_order_deliveries),
        T(test_store_auth__batch_in_callers_transaction),
        T(test_store_auth__failure_leaves_the_batch),
        T(test_store_auth__busy_database_is_ebusy),
        T(test_store_auth__token_check),
        T(test_store_auth__reset_starts_over),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
