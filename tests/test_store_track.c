/* test_store_track.c - the poller's side of the store (store_track.h):
 * companies due in schedule order through a cursor, a poll's result
 * (answered, retried, given up) with its event and dedupe key, a repeat
 * or a re-issued ticket changing nothing, a final status ending the
 * schedule, --now, and re-issuing tickets. */
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
#include "store_track.h"

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
    strcpy(f->dir, "/tmp/ab_test_store_track_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    if (ab_store_open(f->db, 0, &f->s, NULL) != 0)
        return -1;
    if (sqlite3_open(f->db, &f->raw) != SQLITE_OK)
        return -1;
    sqlite3_busy_timeout(f->raw, 5000);
    /* Four done companies with tickets at 1000, due at 5000, 3000, 3000
     * and never (authenticated); one pending. */
    exec(f->raw,
         "INSERT INTO companies (id, company_name, applicant_contact, status,"
         " ticket, ticket_at, auth_next_check_at, auth_status, callback_token,"
         " attempts, updated_at) VALUES"
         " (1, 'A&B', '13800000001', 'done', 't1', 1000, 5000, NULL, 'tok1',"
         "  1, 5),"
         " (2, 'B', '13800000002', 'done', 't2', 1000, 3000, 'in_progress',"
         "  'tok2', 2, 5),"
         " (3, 'C', '13800000003', 'done', 't3', 1000, 3000, 'rejected',"
         "  NULL, 1, 5),"
         " (4, 'D', '13800000004', 'done', 't4', 1000, NULL, 'authenticated',"
         "  NULL, 1, 5),"
         " (5, 'E', '13800000005', 'pending', NULL, NULL, NULL, NULL, NULL,"
         "  0, 5)");
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

static void release_all(struct ab_work *w, int n)
{
    int i;
    for (i = 0; i < n; i++)
        ab_company_release(&w[i].c);
}

static void test_store_track__due_in_schedule_order(void **state)
{
    struct fixture *f = *state;
    struct ab_work w[4];
    int64_t at = INT64_MIN, id = INT64_MIN;
    int n;

    /* Due at 4000: the two due at 3000, by id. */
    assert_int_equal(ab_track_due(f->s, 4000, &at, &id, 4, w, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_int_equal(w[0].kind, AB_WORK_POLL);
    assert_int_equal(w[0].c.id, 2);
    assert_string_equal(w[0].c.company_name, "B");
    assert_int_equal(w[0].ticket_at, 1000);
    assert_int_equal(w[1].c.id, 3);
    release_all(w, n);
    /* The cursor moved past them: nothing more due at 4000. */
    assert_int_equal(ab_track_due(f->s, 4000, &at, &id, 4, w, &n, NULL), 0);
    assert_int_equal(n, 0);
    /* At 6000 the one due at 5000, one at a time. */
    assert_int_equal(ab_track_due(f->s, 6000, &at, &id, 1, w, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(w[0].c.id, 1);
    assert_string_equal(w[0].c.company_name, "A&B");
    release_all(w, n);
    /* From the start again: all three (the authenticated and the pending
     * one are not tracked). */
    at = id = INT64_MIN;
    assert_int_equal(ab_track_due(f->s, 6000, &at, &id, 4, w, &n, NULL), 0);
    assert_int_equal(n, 3);
    release_all(w, n);
}

static void test_store_track__pending_and_now(void **state)
{
    struct fixture *f = *state;
    int64_t due, next, n;

    assert_int_equal(ab_track_pending(f->s, 4000, &due, &next, NULL), 0);
    assert_int_equal(due, 2);
    assert_int_equal(next, 3000);
    assert_int_equal(ab_track_all_due(f->s, 2000, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ab_track_pending(f->s, 2000, &due, &next, NULL), 0);
    assert_int_equal(due, 3);
    assert_string_equal(row(f->raw, "SELECT group_concat(x) FROM (SELECT"
                                    " coalesce(auth_next_check_at, '-') x"
                                    " FROM companies ORDER BY id)"),
                        "2000,2000,2000,-,-");
}

static struct ab_auth_obs obs(const char *raw, enum ab_auth a)
{
    struct ab_auth_obs o = {0};
    o.raw_status = raw;
    o.status = a;
    o.request_id = "2800000000000000001";
    o.fields_json = "{\"status\":4}";
    o.run_id = 0;
    o.observed_at = 7000;
    return o;
}

static void test_store_track__answered_then_repeat(void **state)
{
    struct fixture *f = *state;
    struct ab_auth_obs o = obs("4", AB_AUTH_IN_PROGRESS);
    struct ab_track_result r = {1, 1000, 1, AB_TRACK_ANSWERED, 0, 9000, &o};
    struct ab_auth_result out;
    int applied;

    assert_int_equal(ab_store_begin(f->s, NULL), 0);
    assert_int_equal(ab_track_record(f->s, &r, &applied, &out, NULL), 0);
    assert_int_equal(ab_store_commit(f->s, NULL), 0);
    assert_int_equal(applied, 1);
    assert_int_equal(out.after, AB_AUTH_IN_PROGRESS);
    assert_string_equal(row(f->raw, "SELECT auth_status, auth_checks,"
                                    " auth_next_check_at, auth_request_id,"
                                    " auth_changed_at FROM companies"
                                    " WHERE id = 1"),
                        "in_progress|1|9000|2800000000000000001|7000");
    assert_string_equal(row(f->raw, "SELECT source, raw_status, auth_status,"
                                    " applied, dedupe_key, fields FROM"
                                    " auth_events"),
                        "poll|4|in_progress|1|poll:1000:1|{\"status\":4}");

    /* The same check written again (a repeat): nothing changes. */
    assert_int_equal(ab_track_record(f->s, &r, &applied, &out, NULL), 0);
    assert_int_equal(applied, 0);
    assert_string_equal(row(f->raw, "SELECT count(*) FROM auth_events"), "1");
    assert_string_equal(row(f->raw, "SELECT auth_checks, auth_next_check_at"
                                    " FROM companies WHERE id = 1"),
                        "1|9000");

    /* The second check passes: final, nothing due any more. */
    o = obs("2", AB_AUTH_AUTHENTICATED);
    r.check_no = 2;
    r.next_at = 0;
    assert_int_equal(ab_track_record(f->s, &r, &applied, &out, NULL), 0);
    assert_int_equal(applied, 1);
    assert_string_equal(row(f->raw, "SELECT auth_status, auth_checks,"
                                    " coalesce(auth_next_check_at, '-')"
                                    " FROM companies WHERE id = 1"),
                        "authenticated|2|-");
    assert_string_equal(row(f->raw, "SELECT group_concat(dedupe_key) FROM"
                                    " auth_events"),
                        "poll:1000:1,poll:1000:2");
}

static void test_store_track__final_by_observation_clears_schedule(void **state)
{
    struct fixture *f = *state;
    struct ab_auth_obs o = obs("3", AB_AUTH_REJECTED);
    /* The dispatcher scheduled a next check (it did not know yet); the
     * store's rule wins: rejected ends it. */
    struct ab_track_result r = {2, 1000, 1, AB_TRACK_ANSWERED, 0, 9000, &o};
    int applied;

    o.reason = "营业执照与企业名称不一致";
    assert_int_equal(ab_track_record(f->s, &r, &applied, NULL, NULL), 0);
    assert_int_equal(applied, 1);
    assert_string_equal(row(f->raw, "SELECT auth_status, auth_reason,"
                                    " coalesce(auth_next_check_at, '-')"
                                    " FROM companies WHERE id = 2"),
                        "rejected|营业执照与企业名称不一致|-");
}

static void test_store_track__unknown_status_kept_raw(void **state)
{
    struct fixture *f = *state;
    struct ab_auth_obs o = obs("5", AB_AUTH_UNKNOWN);
    struct ab_track_result r = {2, 1000, 1, AB_TRACK_ANSWERED, 0, 9000, &o};
    int applied;

    assert_int_equal(ab_track_record(f->s, &r, &applied, NULL, NULL), 0);
    assert_int_equal(applied, 1);
    assert_string_equal(row(f->raw, "SELECT auth_status, auth_checks,"
                                    " auth_next_check_at FROM companies"
                                    " WHERE id = 2"),
                        "in_progress|1|9000");
    assert_string_equal(row(f->raw, "SELECT raw_status, coalesce(auth_status,"
                                    " '-'), applied FROM auth_events"),
                        "5|-|0");
}

static void test_store_track__retry_and_give_up(void **state)
{
    struct fixture *f = *state;
    struct ab_track_result r = {1, 1000, 1, AB_TRACK_RETRY, 2, 5500, NULL};
    int applied;

    assert_int_equal(ab_track_record(f->s, &r, &applied, NULL, NULL), 0);
    assert_int_equal(applied, 1);
    assert_string_equal(row(f->raw, "SELECT auth_checks, auth_poll_fails,"
                                    " auth_next_check_at FROM companies"
                                    " WHERE id = 1"),
                        "0|2|5500");
    r.what = AB_TRACK_GAVE_UP;
    r.next_at = 8000;
    assert_int_equal(ab_track_record(f->s, &r, &applied, NULL, NULL), 0);
    assert_string_equal(row(f->raw, "SELECT auth_checks, auth_poll_fails,"
                                    " auth_next_check_at FROM companies"
                                    " WHERE id = 1"),
                        "1|0|8000");
    assert_string_equal(row(f->raw, "SELECT count(*) FROM auth_events"), "0");
    /* Nothing: nothing at all. */
    r.what = AB_TRACK_NOTHING;
    r.check_no = 2;
    assert_int_equal(ab_track_record(f->s, &r, &applied, NULL, NULL), 0);
    assert_int_equal(applied, 0);
    assert_string_equal(row(f->raw, "SELECT auth_checks FROM companies"
                                    " WHERE id = 1"),
                        "1");
}

static void test_store_track__other_ticket_or_gone(void **state)
{
    struct fixture *f = *state;
    struct ab_auth_obs o = obs("2", AB_AUTH_AUTHENTICATED);
    struct ab_track_result r = {1, 999, 1, AB_TRACK_ANSWERED, 0, 0, &o};
    int applied;

    /* Polled about the ticket of 999; the company has another now. */
    assert_int_equal(ab_track_record(f->s, &r, &applied, NULL, NULL), 0);
    assert_int_equal(applied, 0);
    assert_string_equal(row(f->raw, "SELECT coalesce(auth_status, '-'),"
                                    " auth_checks FROM companies WHERE id = 1"),
                        "-|0");
    assert_string_equal(row(f->raw, "SELECT count(*) FROM auth_events"), "0");
    /* Deleted by another program. */
    r.company_id = 42;
    r.ticket_at = 1000;
    assert_int_equal(ab_track_record(f->s, &r, &applied, NULL, NULL),
                     AB_ENOENT);
}

static void test_store_track__reissue_auth(void **state)
{
    struct fixture *f = *state;
    int64_t n;

    exec(f->raw, "UPDATE companies SET auth_status = 'expired',"
                 " auth_request_id = 'r1', auth_checks = 4 WHERE id = 1");
    assert_int_equal(
        ab_track_reissue_auth(
            f->s, (1u << AB_AUTH_REJECTED) | (1u << AB_AUTH_EXPIRED), &n, NULL),
        0);
    assert_int_equal(n, 2);
    assert_string_equal(
        row(f->raw, "SELECT group_concat(x, ' ') FROM (SELECT id || ':' ||"
                    " status || ':' ||"
                    " attempts || ':' || coalesce(auth_status, '-') || ':' ||"
                    " coalesce(auth_request_id, '-') || ':' ||"
                    " coalesce(callback_token, '-') || ':' ||"
                    " coalesce(auth_next_check_at, '-') || ':' || auth_checks"
                    " || ':' || ticket x FROM companies"
                    " WHERE id IN (1, 3, 4) ORDER BY id)"),
        "1:pending:0:-:-:-:-:0:t1 3:pending:0:-:-:-:-:0:t3 "
        "4:done:1:authenticated:-:-:-:0:t4");
}

static void test_store_track__reissue_unused(void **state)
{
    struct fixture *f = *state;
    int64_t n;

    exec(f->raw, "UPDATE companies SET ticket_at = 500,"
                 " auth_status = 'not_started' WHERE id = 2");
    exec(f->raw, "UPDATE companies SET ticket_at = 500 WHERE id IN (3, 4)");
    /* Older than 800: company 2 (not started); 3 is rejected and 4
     * authenticated, so used; 1 is younger. */
    assert_int_equal(ab_track_reissue_unused(f->s, 800, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(row(f->raw, "SELECT group_concat(x, ' ') FROM (SELECT"
                                    " id || ':' || status x FROM companies"
                                    " ORDER BY id)"),
                        "1:done 2:pending 3:done 4:done 5:pending");
    assert_string_equal(row(f->raw, "SELECT coalesce(auth_status, '-'),"
                                    " coalesce(callback_token, '-')"
                                    " FROM companies WHERE id = 2"),
                        "-|-");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_store_track__due_in_schedule_order),
        T(test_store_track__pending_and_now),
        T(test_store_track__answered_then_repeat),
        T(test_store_track__final_by_observation_clears_schedule),
        T(test_store_track__unknown_status_kept_raw),
        T(test_store_track__retry_and_give_up),
        T(test_store_track__other_ticket_or_gone),
        T(test_store_track__reissue_auth),
        T(test_store_track__reissue_unused),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
