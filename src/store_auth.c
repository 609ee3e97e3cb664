#include "store_auth.h"

#include <stdlib.h>
#include <string.h>

#include "sign.h"
#include "store_internal.h"

static const char sql_company[] =
    "SELECT auth_status, auth_reason, auth_request_id, auth_checked_at"
    " FROM companies WHERE id = ?1";
static const char sql_event[] =
    "INSERT INTO auth_events (company_id, source, raw_status, auth_status,"
    " applied, request_id, reason, fields, dedupe_key, run_id, observed_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    " ON CONFLICT (company_id, dedupe_key) WHERE dedupe_key IS NOT NULL"
    " DO NOTHING";
static const char sql_apply[] =
    "UPDATE companies SET auth_status = ?2, auth_reason = ?3,"
    " auth_request_id = ?4, auth_checked_at = ?5,"
    " auth_changed_at = CASE WHEN ?6 THEN ?7 ELSE auth_changed_at END,"
    " updated_at = CASE WHEN ?8 THEN ?7 ELSE updated_at END,"
    " auth_next_check_at = CASE WHEN ?9 THEN NULL ELSE auth_next_check_at END"
    " WHERE id = ?1";
/* Prepared once like the others: a poller records thousands of
 * observations a second, each under its own savepoint. */
static const char sql_savepoint[] = "SAVEPOINT ab_auth_record";
static const char sql_rollback_to[] = "ROLLBACK TO ab_auth_record";
static const char sql_release[] = "RELEASE ab_auth_record";
static const char sql_token[] =
    "SELECT callback_token FROM companies WHERE id = ?1";
static const char sql_reset[] =
    "UPDATE companies SET auth_changed_at = CASE WHEN auth_status IS NULL"
    " THEN auth_changed_at ELSE ?2 END, auth_status = NULL,"
    " auth_reason = NULL, auth_request_id = NULL, callback_token = NULL,"
    " updated_at = ?2 WHERE id = ?1";

/* The company's auth columns as read, copied out of the statement. */
struct current {
    enum ab_auth status;
    char *reason;
    char *request_id;
    int64_t checked_at; /* 0 when NULL */
};

static void current_release(struct current *c)
{
    free(c->reason);
    free(c->request_id);
}

static int str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static int read_current(struct ab_store *s, int64_t id, struct current *c,
                        struct ab_err *err)
{
    sqlite3_stmt *st = ab_store_stmt(s, sql_company, err);
    int rc;

    memset(c, 0, sizeof *c);
    if (!st)
        return err ? err->code : AB_EIO;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return ab_err_set(err, AB_ENOENT, "no company with id %lld in '%s'",
                          (long long)id, ab_store_path(s));
    }
    if (rc != SQLITE_ROW)
        return ab_store_fail(s, rc, err, "cannot read company from");
    c->status = ab_auth_lookup((const char *)sqlite3_column_text(st, 0));
    c->reason = ab_store_col_dup(st, 1);
    c->request_id = ab_store_col_dup(st, 2);
    c->checked_at = sqlite3_column_int64(st, 3);
    if ((sqlite3_column_type(st, 1) != SQLITE_NULL && !c->reason) ||
        (sqlite3_column_type(st, 2) != SQLITE_NULL && !c->request_id)) {
        sqlite3_reset(st);
        current_release(c);
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    }
    sqlite3_reset(st);
    /* The CHECK constraint allows only known names; be safe anyway. */
    if (c->status == AB_AUTH_UNKNOWN)
        c->status = AB_AUTH_NONE;
    return 0;
}

static int insert_event(struct ab_store *s, const struct ab_auth_obs *o,
                        int applied, int *inserted, struct ab_err *err)
{
    sqlite3_stmt *st = ab_store_stmt(s, sql_event, err);
    int rc;

    if (!st)
        return err ? err->code : AB_EIO;
    sqlite3_bind_int64(st, 1, o->company_id);
    sqlite3_bind_text(st, 2,
                      o->source == AB_AUTH_SRC_POLL ? "poll" : "callback", -1,
                      SQLITE_STATIC);
    ab_store_bind_text(st, 3, o->raw_status);
    ab_store_bind_text(st, 4, ab_auth_name(o->status));
    sqlite3_bind_int(st, 5, applied);
    ab_store_bind_text(st, 6, o->request_id);
    ab_store_bind_text(st, 7, o->reason);
    ab_store_bind_text(st, 8, o->fields_json);
    ab_store_bind_text(st, 9, o->dedupe_key);
    if (o->run_id > 0)
        sqlite3_bind_int64(st, 10, o->run_id);
    else
        sqlite3_bind_null(st, 10);
    sqlite3_bind_int64(st, 11, o->observed_at);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ab_store_fail(s, rc, err, "cannot record an auth event in");
    *inserted = sqlite3_changes(s->db) > 0;
    return 0;
}

/* The observation's effect, inside a transaction or savepoint. */
static int record(struct ab_store *s, const struct ab_auth_obs *o,
                  struct ab_auth_result *out, struct ab_err *err)
{
    struct current c;
    const char *reason, *request_id;
    sqlite3_stmt *st;
    int64_t checked;
    int rc, inserted = 0, changed;

    if ((rc = read_current(s, o->company_id, &c, err)) != 0)
        return rc;
    out->before = out->after = c.status;
    out->move = ab_auth_decide(c.status, o->status);
    if ((rc = insert_event(s, o, out->move == AB_AUTH_MOVE_FORWARD, &inserted,
                           err)) != 0)
        goto out;
    if (!inserted) {
        out->duplicate = 1;
        goto out;
    }
    out->event_id = sqlite3_last_insert_rowid(s->db);
    switch (out->move) {
    case AB_AUTH_MOVE_FORWARD:
        out->after = o->status;
        reason = o->reason;
        request_id = o->request_id ? o->request_id : c.request_id;
        break;
    case AB_AUTH_MOVE_SAME:
        reason = o->reason ? o->reason : c.reason;
        request_id = o->request_id ? o->request_id : c.request_id;
        break;
    default:
        reason = c.reason;
        request_id = c.request_id ? c.request_id : o->request_id;
        break;
    }
    changed = out->after != out->before || !str_eq(reason, c.reason) ||
              !str_eq(request_id, c.request_id);
    checked = o->observed_at > c.checked_at ? o->observed_at : c.checked_at;
    if (!(st = ab_store_stmt(s, sql_apply, err))) {
        rc = err ? err->code : AB_EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, o->company_id);
    ab_store_bind_text(st, 2, ab_auth_name(out->after));
    ab_store_bind_text(st, 3, reason);
    ab_store_bind_text(st, 4, request_id);
    sqlite3_bind_int64(st, 5, checked);
    sqlite3_bind_int(st, 6, out->after != out->before);
    sqlite3_bind_int64(st, 7, o->observed_at);
    sqlite3_bind_int(st, 8, changed);
    /* A verdict on the ticket: nothing more to poll (tracksched.h). */
    sqlite3_bind_int(st, 9, ab_auth_rank(out->after) >= 3);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    rc = rc == SQLITE_DONE
             ? 0
             : ab_store_fail(s, rc, err, "cannot update the company in");
out:
    current_release(&c);
    return rc;
}

/* Runs a cached statement without results. */
static int run_stmt(struct ab_store *s, const char *sql, struct ab_err *err)
{
    sqlite3_stmt *st = ab_store_stmt(s, sql, err);
    int rc;

    if (!st)
        return err ? err->code : AB_EIO;
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0
                             : ab_store_fail(s, rc, err, "cannot record in");
}

int ab_store_auth_record(struct ab_store *s, const struct ab_auth_obs *o,
                         struct ab_auth_result *out, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_auth_record(s->pg, o, out, err);
    struct ab_auth_result dummy;
    int rc, alone = sqlite3_get_autocommit(s->db);

    if (!out)
        out = &dummy;
    memset(out, 0, sizeof *out);
    if (alone)
        rc = ab_store_begin(s, err);
    else
        rc = run_stmt(s, sql_savepoint, err);
    if (rc != 0)
        return rc;
    rc = record(s, o, out, err);
    if (alone) {
        if (rc == 0)
            return ab_store_commit(s, err);
        ab_store_rollback(s);
        return rc;
    }
    if (rc != 0) {
        run_stmt(s, sql_rollback_to, NULL);
        memset(out, 0, sizeof *out);
    }
    run_stmt(s, sql_release, NULL);
    return rc;
}

int ab_store_auth_token_check(struct ab_store *s, int64_t id, const char *token,
                              size_t n, int *ok, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_auth_token_check(s->pg, id, token, n, ok, err);
    /* Compared against something of the same length when the company has
     * no token, so a refusal costs the same either way. */
    static const char nothing[256];
    sqlite3_stmt *st = ab_store_stmt(s, sql_token, err);
    const unsigned char *t;
    int rc, have;
    size_t tn;

    *ok = 0;
    if (!st)
        return err ? err->code : AB_EIO;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sqlite3_reset(st);
        return ab_store_fail(s, rc, err, "cannot read company from");
    }
    t = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    tn = t ? (size_t)sqlite3_column_bytes(st, 0) : 0;
    have = t && tn > 0;
    if (have)
        *ok = ab_sign_equal(t, tn, token, n);
    else if (n <= sizeof nothing)
        (void)ab_sign_equal(nothing, n, token, n);
    sqlite3_reset(st);
    return 0;
}

int ab_store_auth_reset(struct ab_store *s, int64_t company_id, int64_t now_ms,
                        struct ab_err *err)
{
    if (s->pg)
        return ab_pg_auth_reset(s->pg, company_id, now_ms, err);
    sqlite3_stmt *st;
    int rc, alone = sqlite3_get_autocommit(s->db);

    if (alone && (rc = ab_store_begin(s, err)) != 0)
        return rc;
    if (!(st = ab_store_stmt(s, sql_reset, err))) {
        rc = err ? err->code : AB_EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, company_id);
    sqlite3_bind_int64(st, 2, now_ms);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        rc = ab_store_fail(s, rc, err, "cannot reset the company in");
    else if (sqlite3_changes(s->db) == 0)
        rc = ab_err_set(err, AB_ENOENT, "no company with id %lld in '%s'",
                        (long long)company_id, ab_store_path(s));
    else
        rc = 0;
out:
    if (!alone)
        return rc;
    if (rc == 0)
        return ab_store_commit(s, err);
    ab_store_rollback(s);
    return rc;
}
