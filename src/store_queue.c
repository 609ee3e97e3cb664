#include "store_queue.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sign.h"
#include "store_internal.h"

#define COMPANY_COLS                                                           \
    "id, company_name, register_no, legal_person, applicant_name,"             \
    " applicant_contact, applicant_contact_type, callback_url, close_button,"  \
    " modify_fields, attempts, callback_token"

static const char sql_recover[] =
    "UPDATE companies SET status = 'pending', claimed_by = NULL,"
    " lease_until = NULL, updated_at = ?1"
    " WHERE status = 'in_flight' AND (claimed_by IS NULL OR claimed_by <> ?2)";
static const char sql_claim_retry[] =
    "UPDATE companies SET status = 'in_flight', claimed_by = ?3,"
    " updated_at = ?1"
    " WHERE id IN (SELECT id FROM companies WHERE status = 'retry_wait'"
    "              AND next_attempt_at <= ?1"
    "              ORDER BY next_attempt_at LIMIT ?2)"
    " RETURNING " COMPANY_COLS;
static const char sql_claim_pending[] =
    "UPDATE companies SET status = 'in_flight', claimed_by = ?3,"
    " updated_at = ?1"
    " WHERE id IN (SELECT id FROM companies WHERE status = 'pending'"
    "              LIMIT ?2)"
    " RETURNING " COMPANY_COLS;
static const char sql_set_token[] =
    "UPDATE companies SET callback_token = ?2 WHERE id = ?1";
static const char sql_retry_wait[] =
    "SELECT count(*), min(next_attempt_at) FROM companies"
    " WHERE status = 'retry_wait'";
static const char sql_release[] =
    "UPDATE companies SET status = 'pending', claimed_by = NULL,"
    " updated_at = ?2 WHERE id = ?1 AND status = 'in_flight'";
static const char sql_peek[] =
    "SELECT " COMPANY_COLS " FROM companies"
    " WHERE status = 'pending' OR (status = 'in_flight' AND ?3)"
    "    OR (status = 'retry_wait' AND next_attempt_at <= ?1)"
    " ORDER BY id LIMIT ?2";
static const char sql_update_company[] =
    "UPDATE companies SET status = ?2, attempts = ?3, next_attempt_at = ?4,"
    " ticket = coalesce(?5, ticket), ticket_at = coalesce(?6, ticket_at),"
    " last_http_status = ?7, last_code = ?8, last_message = ?9,"
    " claimed_by = NULL, updated_at = ?10,"
    " auth_next_check_at = CASE WHEN ?5 IS NULL THEN auth_next_check_at"
    "   ELSE ?11 END,"
    " auth_checks = CASE WHEN ?5 IS NULL THEN auth_checks ELSE 0 END,"
    " auth_poll_fails = CASE WHEN ?5 IS NULL THEN auth_poll_fails ELSE 0 END"
    " WHERE id = ?1";
static const char sql_insert_attempt[] =
    "INSERT INTO attempts (company_id, run_id, attempt_no, started_at,"
    " duration_ms, http_status, code, message, transport_error, outcome)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char sql_run_start[] =
    "INSERT INTO runs (started_at, pid, options, command)"
    " VALUES (?1, ?2, ?3, ?4)";
static const char sql_run_update[] =
    "UPDATE runs SET attempts = ?2, issued = ?3, already_authed = ?4,"
    " failed = ?5, retried = ?6, throttled = ?7, transport_errors = ?8,"
    " ended_at = ?9, exit_status = ?10, polls = ?11 WHERE id = ?1";

static int step_done(struct ab_store *s, sqlite3_stmt *st, struct ab_err *err,
                     const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ab_store_fail(s, rc, err, what);
    return 0;
}

int ab_queue_recover(struct ab_store *s, int64_t run_id, int64_t *n,
                     struct ab_err *err)
{
    if (s->pg)
        return ab_pg_queue_recover(s->pg, run_id, n, err);
    sqlite3_stmt *st = ab_store_stmt(s, sql_recover, err);
    int rc;

    if (!st)
        return err ? err->code : AB_EIO;
    sqlite3_bind_int64(st, 1, ab_now_ms());
    sqlite3_bind_int64(st, 2, run_id);
    if ((rc = step_done(s, st, err, "cannot recover companies in")) != 0)
        return rc;
    *n = sqlite3_changes64(s->db);
    return 0;
}

/* Copies column i; *oom set when a present value could not be copied (an
 * optional field must not silently vanish from the request). */
static char *dup_col(sqlite3_stmt *st, int i, int *oom)
{
    char *v = ab_store_col_dup(st, i);
    if (!v && sqlite3_column_type(st, i) != SQLITE_NULL)
        *oom = 1;
    return v;
}

/* 0, or AB_ENOMEM (c released). */
static int read_company(sqlite3_stmt *st, struct ab_company *c)
{
    const unsigned char *type;
    int oom = 0;

    ab_company_init(c);
    c->id = sqlite3_column_int64(st, 0);
    c->company_name = dup_col(st, 1, &oom);
    c->register_no = dup_col(st, 2, &oom);
    c->legal_person = dup_col(st, 3, &oom);
    c->applicant_name = dup_col(st, 4, &oom);
    c->applicant_contact = dup_col(st, 5, &oom);
    type = sqlite3_column_text(st, 6);
    if (!type || ab_company_parse_contact_type((const char *)type,
                                               &c->contact_type) != 0)
        c->contact_type = AB_CONTACT_INFER;
    c->callback_url = dup_col(st, 7, &oom);
    c->close_button = sqlite3_column_type(st, 8) == SQLITE_NULL
                          ? -1
                          : sqlite3_column_int(st, 8) != 0;
    c->modify_fields = dup_col(st, 9, &oom);
    c->attempts = sqlite3_column_int(st, 10);
    c->callback_token = dup_col(st, 11, &oom);
    /* NOT NULL in the schema; NULL here means a copy failed. */
    if (oom || !c->company_name || !c->applicant_contact) {
        ab_company_release(c);
        return AB_ENOMEM;
    }
    return 0;
}

static int claim_from(struct ab_store *s, const char *sql, int64_t now_ms,
                      int64_t run_id, int max, struct ab_company *out, int *n,
                      struct ab_err *err)
{
    sqlite3_stmt *st = ab_store_stmt(s, sql, err);
    int rc;

    if (!st)
        return err ? err->code : AB_EIO;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int(st, 2, max - *n);
    sqlite3_bind_int64(st, 3, run_id);
    while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (read_company(st, &out[*n]) != 0) {
            sqlite3_reset(st);
            return ab_err_set(err, AB_ENOMEM, "out of memory");
        }
        (*n)++;
    }
    if (*n < max && rc != SQLITE_DONE) {
        sqlite3_reset(st);
        return ab_store_fail(s, rc, err, "cannot claim companies in");
    }
    /* RETURNING rows are all computed by the first step; reset finishes. */
    sqlite3_reset(st);
    return 0;
}

/* Gives every claimed company that has neither a callback URL nor a token
 * its token, in the claim's transaction: the token is in the file before
 * any request carrying it goes out. */
static int assign_tokens(struct ab_store *s, struct ab_company *out, int n,
                         struct ab_err *err)
{
    char tok[AB_SIGN_TOKEN_LEN + 1];
    sqlite3_stmt *st;
    int i, rc;

    for (i = 0; i < n; i++) {
        struct ab_company *c = &out[i];
        if (c->callback_url || c->callback_token)
            continue;
        if (ab_sign_token(tok) != 0)
            return ab_err_set(err, AB_EIO,
                              "no randomness from OpenSSL for a "
                              "callback token");
        if (!(c->callback_token = strdup(tok)))
            return ab_err_set(err, AB_ENOMEM, "out of memory");
        ab_sign_wipe(tok, sizeof tok);
        if (!(st = ab_store_stmt(s, sql_set_token, err)))
            return err ? err->code : AB_EIO;
        sqlite3_bind_int64(st, 1, c->id);
        ab_store_bind_text(st, 2, c->callback_token);
        if ((rc = step_done(s, st, err, "cannot store a callback token in")))
            return rc;
    }
    return 0;
}

int ab_queue_claim(struct ab_store *s, int64_t now_ms, int64_t run_id, int max,
                   int tokens, struct ab_company *out, int *n,
                   struct ab_err *err)
{
    if (s->pg)
        return ab_pg_queue_claim(s->pg, now_ms, run_id, max, tokens, out, n,
                                 err);
    int rc, i;

    *n = 0;
    if (max <= 0)
        return 0;
    if ((rc = ab_store_begin(s, err)) != 0)
        return rc;
    rc = claim_from(s, sql_claim_retry, now_ms, run_id, max, out, n, err);
    if (rc == 0 && *n < max)
        rc = claim_from(s, sql_claim_pending, now_ms, run_id, max, out, n, err);
    if (rc == 0 && tokens)
        rc = assign_tokens(s, out, *n, err);
    if (rc == 0)
        rc = ab_store_commit(s, err);
    else
        ab_store_rollback(s);
    if (rc != 0) {
        for (i = 0; i < *n; i++)
            ab_company_release(&out[i]);
        *n = 0;
    }
    return rc;
}

int ab_queue_retry_wait(struct ab_store *s, int64_t *n, int64_t *next_at,
                        struct ab_err *err)
{
    if (s->pg)
        return ab_pg_queue_retry_wait(s->pg, n, next_at, err);
    sqlite3_stmt *st = ab_store_stmt(s, sql_retry_wait, err);
    int rc;

    *n = *next_at = 0;
    if (!st)
        return err ? err->code : AB_EIO;
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        sqlite3_reset(st);
        return ab_store_fail(s, rc, err, "cannot count retries in");
    }
    *n = sqlite3_column_int64(st, 0);
    *next_at = sqlite3_column_int64(st, 1); /* NULL (none) reads as 0 */
    sqlite3_reset(st);
    return 0;
}

int ab_queue_release(struct ab_store *s, const int64_t *ids, int n,
                     struct ab_err *err)
{
    if (s->pg)
        return ab_pg_queue_release(s->pg, ids, n, err);
    sqlite3_stmt *st;
    int i, rc;

    if (n == 0)
        return 0;
    if ((rc = ab_store_begin(s, err)) != 0)
        return rc;
    for (i = 0; i < n; i++) {
        if (!(st = ab_store_stmt(s, sql_release, err))) {
            ab_store_rollback(s);
            return err ? err->code : AB_EIO;
        }
        sqlite3_bind_int64(st, 1, ids[i]);
        sqlite3_bind_int64(st, 2, ab_now_ms());
        if ((rc = step_done(s, st, err, "cannot release companies in"))) {
            ab_store_rollback(s);
            return rc;
        }
    }
    return ab_store_commit(s, err);
}

int ab_queue_peek(struct ab_store *s, int64_t now_ms, int64_t limit,
                  int with_in_flight,
                  int (*fn)(void *ctx, struct ab_company *c), void *ctx,
                  struct ab_err *err)
{
    if (s->pg)
        return ab_pg_queue_peek(s->pg, now_ms, limit, with_in_flight, fn, ctx,
                                err);
    sqlite3_stmt *st = ab_store_stmt(s, sql_peek, err);
    struct ab_company c;
    int rc;

    if (!st)
        return err ? err->code : AB_EIO;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
    sqlite3_bind_int(st, 3, with_in_flight != 0);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int stop;
        if (read_company(st, &c) != 0) {
            sqlite3_reset(st);
            return ab_err_set(err, AB_ENOMEM, "out of memory");
        }
        stop = fn(ctx, &c);
        ab_company_release(&c);
        if (stop)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sqlite3_reset(st);
        return ab_store_fail(s, rc, err, "cannot read companies from");
    }
    sqlite3_reset(st);
    return 0;
}

int ab_queue_record(struct ab_store *s, const struct ab_queue_result *r,
                    struct ab_err *err)
{
    if (s->pg)
        return ab_pg_queue_record(s->pg, r, err);
    const struct ab_api_result *a = r->api;
    int issued = a->outcome == AB_OUT_ISSUED;
    int transport = a->http_status == 0;
    sqlite3_stmt *st;
    int rc;

    if (!(st = ab_store_stmt(s, sql_update_company, err)))
        return err ? err->code : AB_EIO;
    sqlite3_bind_int64(st, 1, r->company_id);
    ab_store_bind_text(st, 2, r->status);
    sqlite3_bind_int(st, 3, r->attempt_no);
    if (r->next_attempt_at)
        sqlite3_bind_int64(st, 4, r->next_attempt_at);
    if (issued) {
        ab_store_bind_text(st, 5, a->ticket);
        sqlite3_bind_int64(st, 6, r->started_at + r->duration_ms);
        if (r->next_check_at)
            sqlite3_bind_int64(st, 11, r->next_check_at);
    }
    if (!transport)
        sqlite3_bind_int64(st, 7, a->http_status);
    if (a->has_code)
        sqlite3_bind_int64(st, 8, a->code);
    ab_store_bind_text(st, 9, a->message[0] ? a->message : NULL);
    sqlite3_bind_int64(st, 10, ab_now_ms());
    if ((rc = step_done(s, st, err, "cannot record a result in")) != 0)
        return rc;
    if (sqlite3_changes64(s->db) == 0)
        return ab_err_set(err, AB_ENOENT,
                          "company #%lld was deleted from the database "
                          "('%s') while its request was out",
                          (long long)r->company_id, s->path);

    if (!(st = ab_store_stmt(s, sql_insert_attempt, err)))
        return err ? err->code : AB_EIO;
    sqlite3_bind_int64(st, 1, r->company_id);
    if (r->run_id)
        sqlite3_bind_int64(st, 2, r->run_id);
    sqlite3_bind_int(st, 3, r->attempt_no);
    sqlite3_bind_int64(st, 4, r->started_at);
    sqlite3_bind_int64(st, 5, r->duration_ms);
    if (!transport)
        sqlite3_bind_int64(st, 6, a->http_status);
    if (a->has_code)
        sqlite3_bind_int64(st, 7, a->code);
    if (!transport)
        ab_store_bind_text(st, 8, a->message[0] ? a->message : NULL);
    else
        ab_store_bind_text(st, 9, a->message);
    ab_store_bind_text(st, 10, ab_outcome_name(a->outcome));
    return step_done(s, st, err, "cannot record an attempt in");
}

int ab_queue_run_start(struct ab_store *s, const char *command,
                       const char *options_json, int64_t *run_id,
                       struct ab_err *err)
{
    if (s->pg)
        return ab_pg_queue_run_start(s->pg, command, options_json, run_id, err);
    sqlite3_stmt *st = ab_store_stmt(s, sql_run_start, err);
    int rc;

    if (!st)
        return err ? err->code : AB_EIO;
    sqlite3_bind_int64(st, 1, ab_now_ms());
    sqlite3_bind_int64(st, 2, (int64_t)getpid());
    ab_store_bind_text(st, 3, options_json);
    ab_store_bind_text(st, 4, command);
    if ((rc = step_done(s, st, err, "cannot record the run in")) != 0)
        return rc;
    *run_id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

int ab_queue_run_update(struct ab_store *s, const struct ab_run_stats *r,
                        int ended, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_queue_run_update(s->pg, r, ended, err);
    sqlite3_stmt *st = ab_store_stmt(s, sql_run_update, err);

    if (!st)
        return err ? err->code : AB_EIO;
    sqlite3_bind_int64(st, 1, r->run_id);
    sqlite3_bind_int64(st, 2, r->attempts);
    sqlite3_bind_int64(st, 3, r->done);
    sqlite3_bind_int64(st, 4, r->already_authed);
    sqlite3_bind_int64(st, 5, r->failed);
    sqlite3_bind_int64(st, 6, r->retries);
    sqlite3_bind_int64(st, 7, r->by_outcome[AB_OUT_THROTTLED]);
    sqlite3_bind_int64(st, 8, r->transport_errors);
    if (ended) {
        sqlite3_bind_int64(st, 9, ab_now_ms());
        sqlite3_bind_int(st, 10, r->exit_status);
    }
    sqlite3_bind_int64(st, 11, r->polls);
    return step_done(s, st, err, "cannot record the run in");
}

/* One run at a time (lock.h): its claims are its own until it ends. */
static void alone(struct ab_queue_share *out)
{
    out->shared = 0;
    out->lease_until = INT64_MAX;
    out->runners = 1;
    out->admitted = 1;
    out->app_rate = 0; /* its own */
    out->app_burst = 0;
}

int ab_queue_join(struct ab_store *s, int64_t run_id, int64_t lease_ms,
                  struct ab_queue_share *out, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_queue_join(s->pg, run_id, lease_ms, out, err);
    alone(out);
    return 0;
}

int ab_queue_renew(struct ab_store *s, int64_t run_id, int64_t now_ms,
                   double rate, double estimate, struct ab_queue_share *out,
                   struct ab_err *err)
{
    if (s->pg)
        return ab_pg_queue_renew(s->pg, run_id, now_ms, rate, estimate, out,
                                 err);
    alone(out);
    return 0;
}

int ab_queue_leave(struct ab_store *s, int64_t run_id, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_queue_leave(s->pg, run_id, err);
    (void)run_id;
    (void)err;
    return 0;
}

int ab_queue_held_elsewhere(struct ab_store *s, int64_t run_id, int64_t *n,
                            int64_t *due_in_ms, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_queue_held_elsewhere(s->pg, run_id, n, due_in_ms, err);
    (void)run_id;
    (void)err;
    *n = *due_in_ms = 0;
    return 0;
}
