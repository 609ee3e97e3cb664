#include "store_import.h"

#include <string.h>

#include "store_internal.h"

static const char sql_seen_create[] =
    "CREATE TEMP TABLE IF NOT EXISTS ab_import_seen"
    " (id INTEGER PRIMARY KEY, line INTEGER NOT NULL)";
static const char sql_seen_clear[] = "DELETE FROM temp.ab_import_seen";
static const char sql_seen_add[] =
    "INSERT INTO temp.ab_import_seen (id, line) VALUES (?1, ?2)"
    " ON CONFLICT (id) DO NOTHING";
static const char sql_seen_line[] =
    "SELECT line FROM temp.ab_import_seen WHERE id = ?1";
static const char sql_rejects_clear[] =
    "DELETE FROM rejected_rows WHERE source = ?1";
static const char sql_insert[] =
    "INSERT INTO companies (company_name, register_no, legal_person,"
    " applicant_name, applicant_contact, applicant_contact_type,"
    " callback_url, close_button, modify_fields, created_at, updated_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)"
    " ON CONFLICT (company_name) DO NOTHING";
static const char sql_find[] =
    "SELECT id, status, ticket IS NOT NULL, register_no, legal_person,"
    " applicant_name, applicant_contact, applicant_contact_type,"
    " callback_url, close_button, modify_fields"
    " FROM companies WHERE company_name = ?1";
static const char sql_update[] =
    "UPDATE companies SET register_no = ?2, legal_person = ?3,"
    " applicant_name = ?4, applicant_contact = ?5,"
    " applicant_contact_type = ?6, callback_url = ?7, close_button = ?8,"
    " modify_fields = ?9, updated_at = ?10,"
    " status = CASE status WHEN 'failed' THEN 'pending' ELSE status END,"
    " attempts = CASE status WHEN 'failed' THEN 0 ELSE attempts END,"
    " next_attempt_at = CASE status WHEN 'failed' THEN NULL"
    "                   ELSE next_attempt_at END"
    " WHERE id = ?1";
static const char sql_reject[] =
    "INSERT INTO rejected_rows (source, line, reason, raw, created_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";
static const char sql_rejects_list[] =
    "SELECT line, reason, raw FROM rejected_rows WHERE source = ?1"
    " ORDER BY line, id";

/* The request columns ?2..?9 in sql_insert/sql_update and 3..10 in sql_find,
 * in this order. */
static const enum ab_col req_cols[] = {
    AB_COL_REGISTER_NO,       AB_COL_LEGAL_PERSON,  AB_COL_APPLICANT_NAME,
    AB_COL_APPLICANT_CONTACT, AB_COL_CONTACT_TYPE,  AB_COL_CALLBACK_URL,
    AB_COL_CLOSE_BUTTON,      AB_COL_MODIFY_FIELDS,
};
#define NREQ (sizeof req_cols / sizeof req_cols[0])

static int step_done(struct ab_store *s, sqlite3_stmt *st, struct ab_err *err)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        rc = ab_store_fail(s, rc, err, "cannot import into");
        sqlite3_reset(st);
        return rc;
    }
    return 0;
}

static int stmt_fail(struct ab_err *err)
{
    return err && err->code ? err->code : AB_EIO;
}

int ab_store_import_begin(struct ab_store *s, const char *source,
                          struct ab_err *err)
{
    if (s->pg)
        return ab_pg_import_begin(s->pg, source, err);
    sqlite3_stmt *st;
    int rc;

    /* Created outside the transaction, so a rollback never drops it from
     * under the cached statements. */
    if ((rc = ab_store_exec(s, sql_seen_create, err)) != 0)
        return rc;
    if ((rc = ab_store_begin(s, err)) != 0)
        return rc;
    if ((rc = ab_store_exec(s, sql_seen_clear, err)) != 0)
        return rc;
    if (!(st = ab_store_stmt(s, sql_rejects_clear, err)))
        return stmt_fail(err);
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    return step_done(s, st, err);
}

static void bind_request(sqlite3_stmt *st, const struct ab_row_out *row)
{
    size_t i;
    for (i = 0; i < NREQ; i++) {
        enum ab_col c = req_cols[i];
        int at = (int)i + 2;
        if (c == AB_COL_CLOSE_BUTTON) {
            if (row->close_button < 0)
                sqlite3_bind_null(st, at);
            else
                sqlite3_bind_int(st, at, row->close_button);
        } else if (row->v[c]) {
            sqlite3_bind_text(st, at, row->v[c], (int)row->n[c], SQLITE_STATIC);
        } else {
            sqlite3_bind_null(st, at);
        }
    }
}

/* Does the stored row (sql_find, request columns from column 3) hold the
 * same request fields as row? */
static int same_request(sqlite3_stmt *st, const struct ab_row_out *row)
{
    size_t i;
    for (i = 0; i < NREQ; i++) {
        enum ab_col c = req_cols[i];
        int col = (int)i + 3;
        int null = sqlite3_column_type(st, col) == SQLITE_NULL;
        if (c == AB_COL_CLOSE_BUTTON) {
            if (row->close_button < 0
                    ? !null
                    : null || sqlite3_column_int(st, col) != row->close_button)
                return 0;
        } else if (!row->v[c]) {
            if (!null)
                return 0;
        } else {
            const void *t;
            if (null)
                return 0;
            t = sqlite3_column_text(st, col);
            if ((size_t)sqlite3_column_bytes(st, col) != row->n[c] ||
                memcmp(t, row->v[c], row->n[c]) != 0)
                return 0;
        }
    }
    return 1;
}

/* Adds id to the seen set; returns 1 if it was new, 0 with *first_line set
 * if it was there already, or a negative AB_E*. */
static int seen_add(struct ab_store *s, int64_t id, int64_t line,
                    int64_t *first_line, struct ab_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (!(st = ab_store_stmt(s, sql_seen_add, err)))
        return stmt_fail(err);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, line);
    if ((rc = step_done(s, st, err)) != 0)
        return rc;
    if (sqlite3_changes(s->db) == 1)
        return 1;
    if (!(st = ab_store_stmt(s, sql_seen_line, err)))
        return stmt_fail(err);
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = ab_store_fail(s, rc, err, "cannot import into");
        sqlite3_reset(st);
        return rc;
    }
    *first_line = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

int ab_store_import_row(struct ab_store *s, const struct ab_row_out *row,
                        int64_t line, int64_t now,
                        enum ab_import_outcome *outcome, int64_t *first_line,
                        struct ab_err *err)
{
    if (s->pg)
        return ab_pg_import_row(s->pg, row, line, now, outcome, first_line,
                                err);
    sqlite3_stmt *st;
    int64_t id;
    int rc, finished, in_flight, same;
    const char *status;

    *first_line = 0;
    if (!(st = ab_store_stmt(s, sql_insert, err)))
        return stmt_fail(err);
    sqlite3_bind_text(st, 1, row->v[AB_COL_COMPANY_NAME],
                      (int)row->n[AB_COL_COMPANY_NAME], SQLITE_STATIC);
    bind_request(st, row);
    sqlite3_bind_int64(st, 10, now);
    if ((rc = step_done(s, st, err)) != 0)
        return rc;
    if (sqlite3_changes(s->db) == 1) {
        id = sqlite3_last_insert_rowid(s->db);
        if ((rc = seen_add(s, id, line, first_line, err)) < 0)
            return rc;
        *outcome = AB_IMPORT_NEW;
        return 0;
    }

    /* The company exists: from an earlier import, or earlier in this file. */
    if (!(st = ab_store_stmt(s, sql_find, err)))
        return stmt_fail(err);
    sqlite3_bind_text(st, 1, row->v[AB_COL_COMPANY_NAME],
                      (int)row->n[AB_COL_COMPANY_NAME], SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = ab_store_fail(s, rc == SQLITE_DONE ? SQLITE_INTERNAL : rc, err,
                           "cannot import into");
        sqlite3_reset(st);
        return rc;
    }
    id = sqlite3_column_int64(st, 0);
    status = (const char *)sqlite3_column_text(st, 1);
    status = status ? status : "";
    finished = sqlite3_column_int(st, 2) || strcmp(status, "done") == 0 ||
               strcmp(status, "already_authed") == 0;
    in_flight = strcmp(status, "in_flight") == 0;
    same = same_request(st, row);
    sqlite3_reset(st);

    if ((rc = seen_add(s, id, line, first_line, err)) < 0)
        return rc;
    if (rc == 0) {
        *outcome = AB_IMPORT_DUPLICATE;
        return 0;
    }
    if (in_flight) {
        *outcome = AB_IMPORT_IN_FLIGHT;
        return 0;
    }
    if (finished || same) {
        *outcome = AB_IMPORT_UNCHANGED;
        return 0;
    }
    if (!(st = ab_store_stmt(s, sql_update, err)))
        return stmt_fail(err);
    sqlite3_bind_int64(st, 1, id);
    bind_request(st, row);
    sqlite3_bind_int64(st, 10, now);
    if ((rc = step_done(s, st, err)) != 0)
        return rc;
    *outcome = AB_IMPORT_UPDATED;
    return 0;
}

int ab_store_import_reject(struct ab_store *s, const char *source, int64_t line,
                           const char *reason, const void *raw, size_t rawlen,
                           int64_t now, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_import_reject(s->pg, source, line, reason, raw, rawlen,
                                   now, err);
    sqlite3_stmt *st = ab_store_stmt(s, sql_reject, err);
    if (!st)
        return stmt_fail(err);
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, line);
    sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
    if (raw)
        sqlite3_bind_blob(st, 4, raw, (int)rawlen, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_int64(st, 5, now);
    return step_done(s, st, err);
}

int ab_store_import_end(struct ab_store *s, int commit, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_import_end(s->pg, commit, err);
    int rc = 0;

    if (commit) {
        if ((rc = ab_store_exec(s, sql_seen_clear, err)) == 0)
            rc = ab_store_commit(s, err);
        else
            ab_store_rollback(s);
    } else {
        ab_store_rollback(s);
    }
    /* After a rollback the seen set is empty again: it was filled inside the
     * transaction. */
    return rc;
}

int ab_store_rejects_each(struct ab_store *s, const char *source,
                          int (*fn)(void *ctx, int64_t line, const char *reason,
                                    const void *raw, size_t rawlen),
                          void *ctx, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_rejects_each(s->pg, source, fn, ctx, err);
    sqlite3_stmt *st = ab_store_stmt(s, sql_rejects_list, err);
    int rc;

    if (!st)
        return stmt_fail(err);
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *reason = (const char *)sqlite3_column_text(st, 1);
        const void *raw = sqlite3_column_blob(st, 2);
        int r = fn(ctx, sqlite3_column_int64(st, 0), reason ? reason : "", raw,
                   (size_t)sqlite3_column_bytes(st, 2));
        if (r != 0) {
            sqlite3_reset(st);
            return r;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = ab_store_fail(s, rc, err, "cannot read rejected rows from");
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    return 0;
}
