/* store_pg_import.c - store_import.h on PostgreSQL.
 *
 * As store_import.c: one transaction, a TEMP table for the seen set (here
 * ON COMMIT DELETE ROWS, so the end of the transaction empties it). Runs
 * may claim rows while an import goes on: a row is updated only while it
 * is not in flight (the UPDATE checks, and an import that finds a row
 * claimed meanwhile reports IN_FLIGHT); a row the import updated stays
 * locked until it commits, and claims skip it until then. */
#include <string.h>

#include "store.h"
#include "store_import.h"
#include "store_pg_internal.h"

static const char sql_seen_create[] =
    "CREATE TEMP TABLE IF NOT EXISTS ab_import_seen"
    " (id bigint PRIMARY KEY, line bigint NOT NULL) ON COMMIT DELETE ROWS";
static const char sql_seen_add[] =
    "INSERT INTO ab_import_seen (id, line) VALUES ($1::bigint, $2::bigint)"
    " ON CONFLICT (id) DO NOTHING";
static const char sql_seen_line[] =
    "SELECT line FROM ab_import_seen WHERE id = $1::bigint";
static const char sql_rejects_clear[] =
    "DELETE FROM rejected_rows WHERE source = $1";
static const char sql_insert[] =
    "INSERT INTO companies (company_name, register_no, legal_person,"
    " applicant_name, applicant_contact, applicant_contact_type,"
    " callback_url, close_button, modify_fields, created_at, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::integer, $9, $10::bigint,"
    " $10::bigint) ON CONFLICT (company_name) DO NOTHING RETURNING id";
static const char sql_find[] =
    "SELECT id, status, ticket IS NOT NULL, register_no, legal_person,"
    " applicant_name, applicant_contact, applicant_contact_type,"
    " callback_url, close_button, modify_fields"
    " FROM companies WHERE company_name = $1";
static const char sql_update[] =
    "UPDATE companies SET register_no = $2, legal_person = $3,"
    " applicant_name = $4, applicant_contact = $5,"
    " applicant_contact_type = $6, callback_url = $7,"
    " close_button = $8::integer, modify_fields = $9,"
    " updated_at = $10::bigint,"
    " status = CASE status WHEN 'failed' THEN 'pending' ELSE status END,"
    " attempts = CASE status WHEN 'failed' THEN 0 ELSE attempts END,"
    " next_attempt_at = CASE status WHEN 'failed' THEN NULL"
    "                   ELSE next_attempt_at END"
    " WHERE id = $1::bigint AND status <> 'in_flight'";
static const char sql_reject[] =
    "INSERT INTO rejected_rows (source, line, reason, raw, created_at)"
    " VALUES ($1, $2::bigint, $3, $4::bytea, $5::bigint)";
static const char sql_rejects_list[] =
    "SELECT line, reason, raw FROM rejected_rows WHERE source = $1"
    " ORDER BY line, id";

/* The request columns $2..$9 in sql_insert/sql_update and 3..10 in
 * sql_find, in this order. */
static const enum ab_col req_cols[] = {
    AB_COL_REGISTER_NO,       AB_COL_LEGAL_PERSON,  AB_COL_APPLICANT_NAME,
    AB_COL_APPLICANT_CONTACT, AB_COL_CONTACT_TYPE,  AB_COL_CALLBACK_URL,
    AB_COL_CLOSE_BUTTON,      AB_COL_MODIFY_FIELDS,
};
#define NREQ (sizeof req_cols / sizeof req_cols[0])

int ab_pg_import_begin(struct ab_pg *pg, const char *source, struct ab_err *err)
{
    struct ab_pgq q;
    int rc;

    /* Created outside the transaction, so a rollback never drops it. */
    if (!pg->import_ready) {
        if ((rc = ab_pg_cmd(pg, sql_seen_create, NULL, NULL, err,
                            "cannot import into")) != 0)
            return rc;
        pg->import_ready = 1;
    }
    if ((rc = ab_pg_begin(pg, err)) != 0)
        return rc;
    ab_pgq_init(&q);
    ab_pgq_text(&q, source);
    return ab_pg_cmd(pg, sql_rejects_clear, &q, NULL, err,
                     "cannot import into");
}

static void bind_request(struct ab_pgq *q, const struct ab_row_out *row)
{
    size_t i;
    for (i = 0; i < NREQ; i++) {
        enum ab_col c = req_cols[i];
        if (c == AB_COL_CLOSE_BUTTON) {
            if (row->close_button < 0)
                ab_pgq_null(q);
            else
                ab_pgq_i64(q, row->close_button);
        } else {
            ab_pgq_textn(q, row->v[c], row->n[c]);
        }
    }
}

static int same_request(const PGresult *r, const struct ab_row_out *row)
{
    size_t i;
    for (i = 0; i < NREQ; i++) {
        enum ab_col c = req_cols[i];
        int col = (int)i + 3;
        int null = ab_pg_isnull(r, 0, col);
        if (c == AB_COL_CLOSE_BUTTON) {
            if (row->close_button < 0
                    ? !null
                    : null || ab_pg_i64(r, 0, col) != row->close_button)
                return 0;
        } else if (!row->v[c]) {
            if (!null)
                return 0;
        } else {
            if (null || (size_t)PQgetlength(r, 0, col) != row->n[c] ||
                memcmp(PQgetvalue(r, 0, col), row->v[c], row->n[c]) != 0)
                return 0;
        }
    }
    return 1;
}

/* 1 if id was new in the seen set, 0 with *first_line set, or AB_E*. */
static int seen_add(struct ab_pg *pg, int64_t id, int64_t line,
                    int64_t *first_line, struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;
    int64_t changed = 0;
    int rc;

    ab_pgq_init(&q);
    ab_pgq_i64(&q, id);
    ab_pgq_i64(&q, line);
    if ((rc = ab_pg_cmd(pg, sql_seen_add, &q, &changed, err,
                        "cannot import into")) != 0)
        return rc;
    if (changed == 1)
        return 1;
    ab_pgq_init(&q);
    ab_pgq_i64(&q, id);
    if (!(r = ab_pg_run(pg, sql_seen_line, &q, err, "cannot import into")))
        return ab_pg_code(err);
    *first_line = PQntuples(r) ? ab_pg_i64(r, 0, 0) : 0;
    PQclear(r);
    return 0;
}

int ab_pg_import_row(struct ab_pg *pg, const struct ab_row_out *row,
                     int64_t line, int64_t now, enum ab_import_outcome *outcome,
                     int64_t *first_line, struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;
    int64_t id, changed = 0;
    int rc, finished, in_flight, same;
    const char *status;

    *first_line = 0;
    ab_pgq_init(&q);
    ab_pgq_textn(&q, row->v[AB_COL_COMPANY_NAME], row->n[AB_COL_COMPANY_NAME]);
    bind_request(&q, row);
    ab_pgq_i64(&q, now);
    if (!(r = ab_pg_run(pg, sql_insert, &q, err, "cannot import into")))
        return ab_pg_code(err);
    if (PQntuples(r) == 1) {
        id = ab_pg_i64(r, 0, 0);
        PQclear(r);
        if ((rc = seen_add(pg, id, line, first_line, err)) < 0)
            return rc;
        *outcome = AB_IMPORT_NEW;
        return 0;
    }
    PQclear(r);

    ab_pgq_init(&q);
    ab_pgq_textn(&q, row->v[AB_COL_COMPANY_NAME], row->n[AB_COL_COMPANY_NAME]);
    if (!(r = ab_pg_run(pg, sql_find, &q, err, "cannot import into")))
        return ab_pg_code(err);
    if (PQntuples(r) != 1) {
        PQclear(r);
        return ab_err_set(err, AB_EIO,
                          "cannot import into '%s': a company neither "
                          "inserted nor found",
                          pg->shown);
    }
    id = ab_pg_i64(r, 0, 0);
    status = ab_pg_str(r, 0, 1);
    status = status ? status : "";
    finished = strcmp(ab_pg_str(r, 0, 2), "t") == 0 ||
               strcmp(status, "done") == 0 ||
               strcmp(status, "already_authed") == 0;
    in_flight = strcmp(status, "in_flight") == 0;
    same = same_request(r, row);
    PQclear(r);

    if ((rc = seen_add(pg, id, line, first_line, err)) < 0)
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
    ab_pgq_init(&q);
    ab_pgq_i64(&q, id);
    bind_request(&q, row);
    ab_pgq_i64(&q, now);
    if ((rc = ab_pg_cmd(pg, sql_update, &q, &changed, err,
                        "cannot import into")) != 0)
        return rc;
    /* Claimed by a run between the read and the update. */
    *outcome = changed ? AB_IMPORT_UPDATED : AB_IMPORT_IN_FLIGHT;
    return 0;
}

int ab_pg_import_reject(struct ab_pg *pg, const char *source, int64_t line,
                        const char *reason, const void *raw, size_t rawlen,
                        int64_t now, struct ab_err *err)
{
    struct ab_pgq q;

    ab_pgq_init(&q);
    ab_pgq_text(&q, source);
    ab_pgq_i64(&q, line);
    ab_pgq_text(&q, reason);
    if (raw)
        ab_pgq_bytes(&q, raw, rawlen);
    else
        ab_pgq_null(&q);
    ab_pgq_i64(&q, now);
    return ab_pg_cmd(pg, sql_reject, &q, NULL, err, "cannot import into");
}

int ab_pg_import_end(struct ab_pg *pg, int commit, struct ab_err *err)
{
    if (commit)
        return ab_pg_commit(pg, err);
    ab_pg_rollback(pg);
    return 0;
}

struct rejects_ctx {
    int (*fn)(void *ctx, int64_t line, const char *reason, const void *raw,
              size_t rawlen);
    void *ctx;
    int oom;
};

static int on_reject_row(void *ctx, const PGresult *r)
{
    struct rejects_ctx *c = ctx;
    unsigned char *raw = NULL;
    size_t n = 0;
    const char *reason = ab_pg_str(r, 0, 1);
    int rc;

    if (!ab_pg_isnull(r, 0, 2) &&
        !(raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 2),
                                &n))) {
        c->oom = 1;
        return -1;
    }
    rc = c->fn(c->ctx, ab_pg_i64(r, 0, 0), reason ? reason : "", raw, n);
    PQfreemem(raw);
    return rc;
}

int ab_pg_rejects_each(struct ab_pg *pg, const char *source,
                       int (*fn)(void *ctx, int64_t line, const char *reason,
                                 const void *raw, size_t rawlen),
                       void *ctx, struct ab_err *err)
{
    struct rejects_ctx c = {fn, ctx, 0};
    struct ab_pgq q;
    int rc;

    ab_pgq_init(&q);
    ab_pgq_text(&q, source);
    rc = ab_pg_each(pg, sql_rejects_list, &q, on_reject_row, &c, err,
                    "cannot read rejected rows from");
    if (c.oom)
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    return rc;
}
