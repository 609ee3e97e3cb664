/* store_pg_report.c - store_report.h on PostgreSQL. Report queries run once
 * per command, so they are not prepared; company rows are streamed. */
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_pg_internal.h"
#include "store_report.h"

static const char what_read[] = "cannot read";

int ab_pg_read_begin(struct ab_pg *pg, struct ab_err *err)
{
    PGresult *r =
        ab_pg_once(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL,
                   err, "cannot start a read on");
    if (!r)
        return ab_pg_code(err);
    PQclear(r);
    pg->in_tx = 1;
    return 0;
}

void ab_pg_read_end(struct ab_pg *pg)
{
    if (pg->in_tx)
        ab_pg_commit(pg, NULL);
}

#define RUN_COLUMNS                                                            \
    "id, started_at, ended_at, pid, attempts, issued, already_authed,"         \
    " failed, retried, throttled, transport_errors, exit_status,"              \
    " coalesce(command, 'run'), polls"

static void read_run(const PGresult *r, int row, struct ab_run_row *out)
{
    out->id = ab_pg_i64(r, row, 0);
    out->started_at = ab_pg_i64(r, row, 1);
    out->ended_at = ab_pg_i64_or(r, row, 2, -1);
    out->pid = ab_pg_i64(r, row, 3);
    out->attempts = ab_pg_i64(r, row, 4);
    out->issued = ab_pg_i64(r, row, 5);
    out->already_authed = ab_pg_i64(r, row, 6);
    out->failed = ab_pg_i64(r, row, 7);
    out->retried = ab_pg_i64(r, row, 8);
    out->throttled = ab_pg_i64(r, row, 9);
    out->transport_errors = ab_pg_i64(r, row, 10);
    out->exit_status = (int)ab_pg_i64_or(r, row, 11, -1);
    out->polls = ab_pg_i64(r, row, 13);
    out->track = strcmp(PQgetvalue(r, row, 12), "track") == 0;
}

int ab_pg_last_run(struct ab_pg *pg, struct ab_run_row *out, int *found,
                   struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;

    memset(out, 0, sizeof *out);
    *found = 0;
    if (!(r = ab_pg_once(
              pg, "SELECT " RUN_COLUMNS " FROM runs ORDER BY id DESC LIMIT 1",
              NULL, err, what_read)))
        return ab_pg_code(err);
    if (PQntuples(r) == 1) {
        read_run(r, 0, out);
        *found = 1;
    }
    PQclear(r);
    if (!*found || out->ended_at >= 0)
        return 0;
    ab_pgq_init(&q);
    ab_pgq_i64(&q, out->id);
    if (!(r = ab_pg_once(pg, "SELECT count(*) FROM attempts WHERE run_id = $1",
                         &q, err, what_read)))
        return ab_pg_code(err);
    out->attempts = ab_pg_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

int ab_pg_last_success_ms(struct ab_pg *pg, int64_t *out, struct ab_err *err)
{
    PGresult *r;

    *out = 0;
    if (!(r = ab_pg_once(pg,
                         "SELECT coalesce(ended_at, started_at) FROM runs"
                         " WHERE exit_status = 0 ORDER BY id DESC LIMIT 1",
                         NULL, err, what_read)))
        return ab_pg_code(err);
    if (PQntuples(r) == 1)
        *out = ab_pg_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

int ab_pg_runs_each(struct ab_pg *pg, int limit,
                    int (*fn)(void *ctx, const struct ab_run_row *r), void *ctx,
                    struct ab_err *err)
{
    struct ab_run_row run;
    struct ab_pgq q;
    PGresult *r;
    int i, stop = 0;

    ab_pgq_init(&q);
    if (limit > 0)
        ab_pgq_i64(&q, limit);
    else
        ab_pgq_null(&q);
    if (!(r = ab_pg_once(pg,
                         "SELECT * FROM (SELECT " RUN_COLUMNS " FROM runs"
                         " ORDER BY id DESC LIMIT $1::bigint) x ORDER BY id",
                         &q, err, what_read)))
        return ab_pg_code(err);
    for (i = 0; i < PQntuples(r) && !stop; i++) {
        read_run(r, i, &run);
        stop = fn(ctx, &run);
    }
    PQclear(r);
    return stop;
}

struct companies_ctx {
    int with_tickets;
    int (*fn)(void *ctx, const struct ab_report_company *c);
    void *ctx;
};

static int on_company_row(void *ctx, const PGresult *r)
{
    struct companies_ctx *x = ctx;
    struct ab_report_company c;

    c.id = ab_pg_i64(r, 0, 0);
    c.company_name = ab_pg_str(r, 0, 1);
    c.register_no = ab_pg_str(r, 0, 2);
    c.status = ab_pg_str(r, 0, 3);
    c.attempts = ab_pg_i64(r, 0, 4);
    c.last_http_status = ab_pg_i64_or(r, 0, 5, -1);
    c.has_code = !ab_pg_isnull(r, 0, 6);
    c.last_code = ab_pg_i64(r, 0, 6);
    c.last_message = ab_pg_str(r, 0, 7);
    c.updated_at = ab_pg_i64(r, 0, 8);
    c.ticket = x->with_tickets ? ab_pg_str(r, 0, 9) : NULL;
    c.ticket_at = x->with_tickets ? ab_pg_i64_or(r, 0, 10, -1) : -1;
    c.auth_status = ab_pg_str(r, 0, 11);
    c.auth_reason = ab_pg_str(r, 0, 12);
    c.auth_changed_at = ab_pg_i64_or(r, 0, 13, -1);
    if (!c.company_name)
        c.company_name = "";
    if (!c.status)
        c.status = "";
    return x->fn(x->ctx, &c);
}

int ab_pg_report_companies(struct ab_pg *pg, const char *status,
                           int with_tickets,
                           int (*fn)(void *ctx,
                                     const struct ab_report_company *c),
                           void *ctx, struct ab_err *err)
{
    static const char sql_plain[] =
        "SELECT id, company_name, register_no, status, attempts,"
        " last_http_status, last_code, last_message, updated_at, NULL, NULL,"
        " auth_status, auth_reason, auth_changed_at"
        " FROM companies WHERE $1::text IS NULL OR status = $1 ORDER BY id";
    static const char sql_tickets[] =
        "SELECT id, company_name, register_no, status, attempts,"
        " last_http_status, last_code, last_message, updated_at, ticket,"
        " ticket_at, auth_status, auth_reason, auth_changed_at"
        " FROM companies WHERE $1::text IS NULL OR status = $1 ORDER BY id";
    struct companies_ctx x = {with_tickets, fn, ctx};
    struct ab_pgq q;

    ab_pgq_init(&q);
    ab_pgq_text(&q, status);
    return ab_pg_each(pg, with_tickets ? sql_tickets : sql_plain, &q,
                      on_company_row, &x, err, what_read);
}

int ab_pg_report_codes(struct ab_pg *pg,
                       int (*fn)(void *ctx, const struct ab_report_code *c),
                       void *ctx, struct ab_err *err)
{
    /* The message of the most recently updated company of each group; no
     * code first, as SQLite orders NULL. */
    static const char sql_groups[] =
        "SELECT last_code, count(*), count(*) FILTER (WHERE status ="
        " 'failed'), (array_agg(last_message ORDER BY updated_at DESC,"
        " id DESC))[1]"
        " FROM companies"
        " WHERE status NOT IN ('done', 'already_authed')"
        "   AND (last_code IS NOT NULL OR last_message IS NOT NULL)"
        " GROUP BY last_code ORDER BY count(*) DESC, last_code NULLS FIRST";
    static const char sql_examples[] =
        "SELECT company_name FROM companies"
        " WHERE last_code IS NOT DISTINCT FROM $1::bigint"
        "   AND status NOT IN ('done', 'already_authed')"
        "   AND (last_code IS NOT NULL OR last_message IS NOT NULL)"
        " ORDER BY id LIMIT 3";
    struct ab_report_code c;
    struct ab_pgq q;
    PGresult *g, *ex;
    int i, j, stop = 0;

    if (!(g = ab_pg_once(pg, sql_groups, NULL, err, what_read)))
        return ab_pg_code(err);
    for (i = 0; i < PQntuples(g) && !stop; i++) {
        memset(&c, 0, sizeof c);
        c.has_code = !ab_pg_isnull(g, i, 0);
        c.code = ab_pg_i64(g, i, 0);
        c.count = ab_pg_i64(g, i, 1);
        c.failed = ab_pg_i64(g, i, 2);
        c.message = ab_pg_str(g, i, 3);
        ab_pgq_init(&q);
        if (c.has_code)
            ab_pgq_i64(&q, c.code);
        else
            ab_pgq_null(&q);
        if (!(ex = ab_pg_once(pg, sql_examples, &q, err, what_read))) {
            PQclear(g);
            return ab_pg_code(err);
        }
        for (j = 0; j < PQntuples(ex) && j < 3; j++) {
            const char *name = ab_pg_str(ex, j, 0);
            c.examples[c.nexamples++] = name ? name : "";
        }
        stop = fn(ctx, &c);
        PQclear(ex);
    }
    PQclear(g);
    return stop;
}

static int percentiles(struct ab_pg *pg, const char *sql_total,
                       const char *sql_hist, struct ab_percentiles *out,
                       struct ab_err *err)
{
    static const int per_mille[3] = {500, 900, 990};
    int64_t rank[3], cum = 0, *dst[3];
    PGresult *r;
    int i, k;

    memset(out, 0, sizeof *out);
    dst[0] = &out->p50;
    dst[1] = &out->p90;
    dst[2] = &out->p99;
    if (!(r = ab_pg_once(pg, sql_total, NULL, err, what_read)))
        return ab_pg_code(err);
    out->n = ab_pg_i64(r, 0, 0);
    PQclear(r);
    if (out->n == 0)
        return 0;
    for (i = 0; i < 3; i++) {
        rank[i] = (out->n * per_mille[i] + 999) / 1000;
        if (rank[i] < 1)
            rank[i] = 1;
    }
    if (!(r = ab_pg_once(pg, sql_hist, NULL, err, what_read)))
        return ab_pg_code(err);
    i = 0;
    for (k = 0; k < PQntuples(r); k++) {
        int64_t v = ab_pg_i64(r, k, 0);
        cum += ab_pg_i64(r, k, 1);
        while (i < 3 && cum >= rank[i])
            *dst[i++] = v;
        out->max = v;
    }
    PQclear(r);
    return 0;
}

int ab_pg_attempts_percentiles(struct ab_pg *pg, struct ab_percentiles *out,
                               struct ab_err *err)
{
    return percentiles(
        pg, "SELECT count(*) FROM companies WHERE attempts > 0",
        "SELECT attempts, count(*) FROM companies WHERE attempts > 0"
        " GROUP BY attempts ORDER BY attempts",
        out, err);
}

int ab_pg_latency_percentiles(struct ab_pg *pg, struct ab_percentiles *out,
                              struct ab_err *err)
{
    return percentiles(pg, "SELECT count(*) FROM attempts",
                       "SELECT duration_ms, count(*) FROM attempts"
                       " GROUP BY duration_ms ORDER BY duration_ms",
                       out, err);
}

int ab_pg_latency_histogram(struct ab_pg *pg, int64_t *counts,
                            struct ab_err *err)
{
    PGresult *r;
    int b = 0, k;

    memset(counts, 0, sizeof(int64_t) * AB_LATENCY_BUCKETS);
    if (!(r = ab_pg_once(pg,
                         "SELECT duration_ms, count(*) FROM attempts"
                         " GROUP BY duration_ms ORDER BY duration_ms",
                         NULL, err, what_read)))
        return ab_pg_code(err);
    for (k = 0; k < PQntuples(r); k++) {
        int64_t v = ab_pg_i64(r, k, 0);
        while (b + 1 < AB_LATENCY_BUCKETS && v >= ab_latency_bucket_lo[b + 1])
            b++;
        counts[b] += ab_pg_i64(r, k, 1);
    }
    PQclear(r);
    return 0;
}

int ab_pg_attempts_span(struct ab_pg *pg, int64_t *first_ms, int64_t *last_ms,
                        int64_t *count, struct ab_err *err)
{
    PGresult *r;

    *first_ms = *last_ms = *count = 0;
    if (!(r = ab_pg_once(pg,
                         "SELECT min(started_at), max(started_at), count(*)"
                         " FROM attempts",
                         NULL, err, what_read)))
        return ab_pg_code(err);
    *first_ms = ab_pg_i64(r, 0, 0);
    *last_ms = ab_pg_i64(r, 0, 1);
    *count = ab_pg_i64(r, 0, 2);
    PQclear(r);
    return 0;
}

int ab_pg_throughput_each(struct ab_pg *pg, int64_t bucket_ms,
                          int (*fn)(void *ctx, int64_t bucket_start_ms,
                                    int64_t count),
                          void *ctx, struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;
    int k, stop = 0;

    if (bucket_ms <= 0)
        return ab_err_set(err, AB_EINVAL, "bucket width must be positive");
    ab_pgq_init(&q);
    ab_pgq_i64(&q, bucket_ms);
    if (!(r = ab_pg_once(pg,
                         "SELECT (started_at / $1::bigint) * $1::bigint AS b,"
                         " count(*) FROM attempts GROUP BY b ORDER BY b",
                         &q, err, what_read)))
        return ab_pg_code(err);
    for (k = 0; k < PQntuples(r) && !stop; k++)
        stop = fn(ctx, ab_pg_i64(r, k, 0), ab_pg_i64(r, k, 1));
    PQclear(r);
    return stop;
}

int ab_pg_retry_failed(struct ab_pg *pg, const int64_t *code, int64_t *changed,
                       struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;
    int rc;

    *changed = 0;
    if ((rc = ab_pg_begin(pg, err)) != 0)
        return rc;
    ab_pgq_init(&q);
    if (code)
        ab_pgq_i64(&q, *code);
    else
        ab_pgq_null(&q);
    ab_pgq_i64(&q, ab_now_ms());
    if (!(r = ab_pg_once(pg,
                         "UPDATE companies SET status = 'pending',"
                         " attempts = 0, next_attempt_at = NULL,"
                         " updated_at = $2::bigint WHERE status = 'failed'"
                         " AND ($1::bigint IS NULL OR last_code = $1)",
                         &q, err, "cannot update"))) {
        rc = ab_pg_code(err);
        ab_pg_rollback(pg);
        return rc;
    }
    *changed = ab_pg_changes(r);
    PQclear(r);
    return ab_pg_commit(pg, err);
}
