#include "store_report.h"

#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* Report queries run once per command, so they are prepared and finalized
 * here instead of filling the store's statement cache, which the run's hot
 * statements need. */
static sqlite3_stmt *prep(struct ab_store *s, const char *sql,
                          struct ab_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        ab_store_fail(s, rc, err, "cannot prepare query on");
        return NULL;
    }
    return st;
}

static int fail_read(struct ab_store *s, int rc, struct ab_err *err)
{
    return ab_store_fail(s, rc, err, "cannot read");
}

static int prep_code(struct ab_err *err)
{
    return err && err->code ? err->code : AB_EIO;
}

int ab_store_read_begin(struct ab_store *s, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_read_begin(s->pg, err);
    return ab_store_exec(s, "BEGIN", err);
}

void ab_store_read_end(struct ab_store *s)
{
    if (s->pg) {
        ab_pg_read_end(s->pg);
        return;
    }
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
}

static int64_t col_or(sqlite3_stmt *st, int i, int64_t dflt)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL
               ? dflt
               : sqlite3_column_int64(st, i);
}

#define RUN_COLUMNS                                                            \
    "id, started_at, ended_at, pid, attempts, issued, already_authed,"         \
    " failed, retried, throttled, transport_errors, exit_status,"              \
    " coalesce(command, 'run'), polls"

static void read_run(sqlite3_stmt *st, struct ab_run_row *r)
{
    r->id = sqlite3_column_int64(st, 0);
    r->started_at = sqlite3_column_int64(st, 1);
    r->ended_at = col_or(st, 2, -1);
    r->pid = sqlite3_column_int64(st, 3);
    r->attempts = sqlite3_column_int64(st, 4);
    r->issued = sqlite3_column_int64(st, 5);
    r->already_authed = sqlite3_column_int64(st, 6);
    r->failed = sqlite3_column_int64(st, 7);
    r->retried = sqlite3_column_int64(st, 8);
    r->throttled = sqlite3_column_int64(st, 9);
    r->transport_errors = sqlite3_column_int64(st, 10);
    r->exit_status = (int)col_or(st, 11, -1);
    r->polls = sqlite3_column_int64(st, 13);
    r->track = strcmp((const char *)sqlite3_column_text(st, 12), "track") == 0;
}

int ab_store_last_run(struct ab_store *s, struct ab_run_row *out, int *found,
                      struct ab_err *err)
{
    if (s->pg)
        return ab_pg_last_run(s->pg, out, found, err);
    sqlite3_stmt *st;
    int rc;

    memset(out, 0, sizeof *out);
    *found = 0;
    if (!(st = prep(s,
                    "SELECT " RUN_COLUMNS " FROM runs ORDER BY id DESC LIMIT 1",
                    err)))
        return prep_code(err);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        read_run(st, out);
        *found = 1;
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail_read(s, rc, err);
    if (!*found || out->ended_at >= 0)
        return 0;
    /* Unfinished: the counters are written at the end, so count the
     * attempts so far (a range of the attempts_run index). */
    if (!(st = prep(s, "SELECT count(*) FROM attempts WHERE run_id = ?1", err)))
        return prep_code(err);
    sqlite3_bind_int64(st, 1, out->id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->attempts = sqlite3_column_int64(st, 0);
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail_read(s, rc, err);
}

int ab_store_last_success_ms(struct ab_store *s, int64_t *out,
                             struct ab_err *err)
{
    if (s->pg)
        return ab_pg_last_success_ms(s->pg, out, err);
    sqlite3_stmt *st;
    int rc;

    *out = 0;
    if (!(st = prep(s,
                    "SELECT coalesce(ended_at, started_at) FROM runs"
                    " WHERE exit_status = 0 ORDER BY id DESC LIMIT 1",
                    err)))
        return prep_code(err);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail_read(s, rc, err);
}

int ab_store_runs_each(struct ab_store *s, int limit,
                       int (*fn)(void *ctx, const struct ab_run_row *r),
                       void *ctx, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_runs_each(s->pg, limit, fn, ctx, err);
    sqlite3_stmt *st;
    struct ab_run_row r;
    int rc, stop = 0;

    if (!(st = prep(s,
                    "SELECT * FROM (SELECT " RUN_COLUMNS " FROM runs"
                    " ORDER BY id DESC LIMIT ?1) ORDER BY id",
                    err)))
        return prep_code(err);
    sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_run(st, &r);
        if ((stop = fn(ctx, &r)) != 0)
            break;
    }
    if (stop) {
        sqlite3_finalize(st);
        return stop;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail_read(s, rc, err);
}

int ab_store_report_companies(struct ab_store *s, const char *status,
                              int with_tickets,
                              int (*fn)(void *ctx,
                                        const struct ab_report_company *c),
                              void *ctx, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_report_companies(s->pg, status, with_tickets, fn, ctx,
                                      err);
    /* Tickets are never even read unless asked for. */
    static const char sql_plain[] =
        "SELECT id, company_name, register_no, status, attempts,"
        " last_http_status, last_code, last_message, updated_at, NULL, NULL,"
        " auth_status, auth_reason, auth_changed_at"
        " FROM companies WHERE ?1 IS NULL OR status = ?1 ORDER BY id";
    static const char sql_tickets[] =
        "SELECT id, company_name, register_no, status, attempts,"
        " last_http_status, last_code, last_message, updated_at, ticket,"
        " ticket_at, auth_status, auth_reason, auth_changed_at"
        " FROM companies WHERE ?1 IS NULL OR status = ?1 ORDER BY id";
    sqlite3_stmt *st;
    struct ab_report_company c;
    int rc, stop = 0;

    if (!(st = prep(s, with_tickets ? sql_tickets : sql_plain, err)))
        return prep_code(err);
    ab_store_bind_text(st, 1, status);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        c.id = sqlite3_column_int64(st, 0);
        c.company_name = (const char *)sqlite3_column_text(st, 1);
        c.register_no = (const char *)sqlite3_column_text(st, 2);
        c.status = (const char *)sqlite3_column_text(st, 3);
        c.attempts = sqlite3_column_int64(st, 4);
        c.last_http_status = col_or(st, 5, -1);
        c.has_code = sqlite3_column_type(st, 6) != SQLITE_NULL;
        c.last_code = sqlite3_column_int64(st, 6);
        c.last_message = (const char *)sqlite3_column_text(st, 7);
        c.updated_at = sqlite3_column_int64(st, 8);
        c.ticket =
            with_tickets ? (const char *)sqlite3_column_text(st, 9) : NULL;
        c.ticket_at = with_tickets ? col_or(st, 10, -1) : -1;
        c.auth_status = (const char *)sqlite3_column_text(st, 11);
        c.auth_reason = (const char *)sqlite3_column_text(st, 12);
        c.auth_changed_at = col_or(st, 13, -1);
        if (!c.company_name)
            c.company_name = "";
        if (!c.status)
            c.status = "";
        if ((stop = fn(ctx, &c)) != 0)
            break;
    }
    sqlite3_finalize(st);
    if (stop)
        return stop;
    return rc == SQLITE_DONE ? 0 : fail_read(s, rc, err);
}

int ab_store_report_codes(struct ab_store *s,
                          int (*fn)(void *ctx, const struct ab_report_code *c),
                          void *ctx, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_report_codes(s->pg, fn, ctx, err);
    /* The message of the most recently updated company of each group
     * (SQLite's bare-column rule for max()). */
    static const char sql_groups[] =
        "SELECT last_code, count(*), sum(status = 'failed'), last_message,"
        " max(updated_at)"
        " FROM companies"
        " WHERE status NOT IN ('done', 'already_authed')"
        "   AND (last_code IS NOT NULL OR last_message IS NOT NULL)"
        " GROUP BY last_code ORDER BY count(*) DESC, last_code";
    static const char sql_examples[] =
        "SELECT company_name FROM companies"
        " WHERE last_code IS ?1 AND status NOT IN ('done', 'already_authed')"
        "   AND (last_code IS NOT NULL OR last_message IS NOT NULL)"
        " ORDER BY id LIMIT 3";
    sqlite3_stmt *st, *ex;
    struct ab_report_code c;
    char *names[3];
    int rc, erc, i, stop = 0;

    if (!(st = prep(s, sql_groups, err)))
        return prep_code(err);
    if (!(ex = prep(s, sql_examples, err))) {
        sqlite3_finalize(st);
        return prep_code(err);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&c, 0, sizeof c);
        c.has_code = sqlite3_column_type(st, 0) != SQLITE_NULL;
        c.code = sqlite3_column_int64(st, 0);
        c.count = sqlite3_column_int64(st, 1);
        c.failed = sqlite3_column_int64(st, 2);
        c.message = (const char *)sqlite3_column_text(st, 3);
        sqlite3_reset(ex);
        if (c.has_code)
            sqlite3_bind_int64(ex, 1, c.code);
        else
            sqlite3_bind_null(ex, 1);
        while ((erc = sqlite3_step(ex)) == SQLITE_ROW && c.nexamples < 3) {
            names[c.nexamples] = ab_store_col_dup(ex, 0);
            if (names[c.nexamples])
                c.examples[c.nexamples] = names[c.nexamples];
            else
                c.examples[c.nexamples] = "";
            c.nexamples++;
        }
        if (erc != SQLITE_ROW && erc != SQLITE_DONE) {
            for (i = 0; i < c.nexamples; i++)
                free(names[i]);
            rc = erc;
            break;
        }
        stop = fn(ctx, &c);
        for (i = 0; i < c.nexamples; i++)
            free(names[i]);
        if (stop)
            break;
    }
    sqlite3_finalize(ex);
    sqlite3_finalize(st);
    if (stop)
        return stop;
    return rc == SQLITE_DONE ? 0 : fail_read(s, rc, err);
}

/* Nearest rank: the smallest value whose cumulative count reaches
 * ceil(p * n). The query yields (value, count) in ascending value order. */
static int percentiles(struct ab_store *s, const char *sql_total,
                       const char *sql_hist, struct ab_percentiles *out,
                       struct ab_err *err)
{
    static const int per_mille[3] = {500, 900, 990};
    int64_t rank[3], cum = 0, *dst[3];
    sqlite3_stmt *st;
    int rc, i;

    memset(out, 0, sizeof *out);
    dst[0] = &out->p50;
    dst[1] = &out->p90;
    dst[2] = &out->p99;
    if (!(st = prep(s, sql_total, err)))
        return prep_code(err);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->n = sqlite3_column_int64(st, 0);
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail_read(s, rc, err);
    if (out->n == 0)
        return 0;
    for (i = 0; i < 3; i++) {
        rank[i] = (out->n * per_mille[i] + 999) / 1000;
        if (rank[i] < 1)
            rank[i] = 1;
    }
    if (!(st = prep(s, sql_hist, err)))
        return prep_code(err);
    i = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(st, 0);
        cum += sqlite3_column_int64(st, 1);
        while (i < 3 && cum >= rank[i])
            *dst[i++] = v;
        out->max = v;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail_read(s, rc, err);
}

int ab_store_attempts_percentiles(struct ab_store *s,
                                  struct ab_percentiles *out,
                                  struct ab_err *err)
{
    if (s->pg)
        return ab_pg_attempts_percentiles(s->pg, out, err);
    return percentiles(
        s, "SELECT count(*) FROM companies WHERE attempts > 0",
        "SELECT attempts, count(*) FROM companies WHERE attempts > 0"
        " GROUP BY attempts ORDER BY attempts",
        out, err);
}

int ab_store_latency_percentiles(struct ab_store *s, struct ab_percentiles *out,
                                 struct ab_err *err)
{
    if (s->pg)
        return ab_pg_latency_percentiles(s->pg, out, err);
    return percentiles(s, "SELECT count(*) FROM attempts",
                       "SELECT duration_ms, count(*) FROM attempts"
                       " GROUP BY duration_ms ORDER BY duration_ms",
                       out, err);
}

const int64_t ab_latency_bucket_lo[AB_LATENCY_BUCKETS] = {
    0, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
};

int ab_store_latency_histogram(struct ab_store *s,
                               int64_t counts[AB_LATENCY_BUCKETS],
                               struct ab_err *err)
{
    if (s->pg)
        return ab_pg_latency_histogram(s->pg, counts, err);
    sqlite3_stmt *st;
    int rc, b;

    memset(counts, 0, sizeof(int64_t) * AB_LATENCY_BUCKETS);
    if (!(st = prep(s,
                    "SELECT duration_ms, count(*) FROM attempts"
                    " GROUP BY duration_ms ORDER BY duration_ms",
                    err)))
        return prep_code(err);
    b = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(st, 0);
        while (b + 1 < AB_LATENCY_BUCKETS && v >= ab_latency_bucket_lo[b + 1])
            b++;
        counts[b] += sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail_read(s, rc, err);
}

int ab_store_attempts_span(struct ab_store *s, int64_t *first_ms,
                           int64_t *last_ms, int64_t *count, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_attempts_span(s->pg, first_ms, last_ms, count, err);
    sqlite3_stmt *st;
    int rc;

    *first_ms = *last_ms = *count = 0;
    if (!(st = prep(s,
                    "SELECT min(started_at), max(started_at), count(*)"
                    " FROM attempts",
                    err)))
        return prep_code(err);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *first_ms = col_or(st, 0, 0);
        *last_ms = col_or(st, 1, 0);
        *count = sqlite3_column_int64(st, 2);
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail_read(s, rc, err);
}

int ab_store_throughput_each(struct ab_store *s, int64_t bucket_ms,
                             int (*fn)(void *ctx, int64_t bucket_start_ms,
                                       int64_t count),
                             void *ctx, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_throughput_each(s->pg, bucket_ms, fn, ctx, err);
    sqlite3_stmt *st;
    int rc, stop = 0;

    if (bucket_ms <= 0)
        return ab_err_set(err, AB_EINVAL, "bucket width must be positive");
    if (!(st = prep(s,
                    "SELECT (started_at / ?1) * ?1 AS b, count(*)"
                    " FROM attempts GROUP BY b ORDER BY b",
                    err)))
        return prep_code(err);
    sqlite3_bind_int64(st, 1, bucket_ms);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        stop =
            fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
        if (stop)
            break;
    }
    sqlite3_finalize(st);
    if (stop)
        return stop;
    return rc == SQLITE_DONE ? 0 : fail_read(s, rc, err);
}

int ab_store_retry_failed(struct ab_store *s, const int64_t *code,
                          int64_t *changed, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_retry_failed(s->pg, code, changed, err);
    sqlite3_stmt *st;
    int rc;

    *changed = 0;
    if ((rc = ab_store_begin(s, err)) != 0)
        return rc;
    if (!(st = prep(s,
                    "UPDATE companies SET status = 'pending', attempts = 0,"
                    " next_attempt_at = NULL, updated_at = ?2"
                    " WHERE status = 'failed'"
                    "   AND (?1 IS NULL OR last_code = ?1)",
                    err))) {
        ab_store_rollback(s);
        return prep_code(err);
    }
    if (code)
        sqlite3_bind_int64(st, 1, *code);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int64(st, 2, ab_now_ms());
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        rc = ab_store_fail(s, rc, err, "cannot update");
        ab_store_rollback(s);
        return rc;
    }
    *changed = sqlite3_changes64(s->db);
    return ab_store_commit(s, err);
}
