#include "store_funnel.h"

#include <string.h>

#include "store_internal.h"

static const char sql_total[] = "SELECT count(*) FROM companies";
static const char sql_auth[] =
    "SELECT auth_status, count(*) FROM companies WHERE auth_status IS NOT NULL"
    " GROUP BY auth_status";
static const char sql_durations[] =
    "SELECT auth_changed_at - ticket_at d, count(*) FROM companies"
    " WHERE auth_status = 'authenticated' AND ticket_at IS NOT NULL"
    "   AND auth_changed_at >= ticket_at GROUP BY d ORDER BY d";
static const char sql_reasons[] =
    "SELECT coalesce(auth_reason, ''), count(*) n FROM companies"
    " WHERE auth_status = 'rejected' GROUP BY 1 ORDER BY n DESC, 1 LIMIT ?1";

static int read_durations(struct ab_store *s, struct ab_percentiles *p,
                          int64_t n, struct ab_err *err)
{
    static const int per_mille[3] = {500, 900, 990};
    int64_t rank[3], cum = 0, *dst[3] = {&p->p50, &p->p90, &p->p99};
    sqlite3_stmt *st;
    int rc, i = 0, k;

    memset(p, 0, sizeof *p);
    if (n == 0)
        return 0;
    if (!(st = ab_store_stmt(s, sql_durations, err)))
        return err ? err->code : AB_EIO;
    /* Nearest rank over the rows the query finds (n counts them first). */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        p->n += sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ab_store_fail(s, rc, err, "cannot read durations from");
    for (k = 0; k < 3; k++) {
        rank[k] = (p->n * per_mille[k] + 999) / 1000;
        if (rank[k] < 1)
            rank[k] = 1;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(st, 0);
        cum += sqlite3_column_int64(st, 1);
        while (i < 3 && cum >= rank[i])
            *dst[i++] = v;
        p->max = v;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE
               ? 0
               : ab_store_fail(s, rc, err, "cannot read durations from");
}

int ab_store_funnel(struct ab_store *s, struct ab_funnel *f, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_funnel(s->pg, f, err);
    struct ab_counts c;
    sqlite3_stmt *st;
    int64_t known = 0;
    int rc;

    memset(f, 0, sizeof *f);
    if ((rc = ab_store_counts(s, &c, err)) != 0)
        return rc;
    f->issued = c.done;
    f->already_authed = c.already_authed;
    if (!(st = ab_store_stmt(s, sql_total, err)))
        return err ? err->code : AB_EIO;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW)
        f->imported = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return ab_store_fail(s, rc, err, "cannot count companies in");
    if (!(st = ab_store_stmt(s, sql_auth, err)))
        return err ? err->code : AB_EIO;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        enum ab_auth a =
            ab_auth_lookup((const char *)sqlite3_column_text(st, 0));
        if (a > AB_AUTH_NONE && a < AB_AUTH__COUNT) {
            f->by_auth[a] = sqlite3_column_int64(st, 1);
            known += f->by_auth[a];
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ab_store_fail(s, rc, err, "cannot count statuses in");
    f->by_auth[AB_AUTH_NONE] = f->issued > known ? f->issued - known : 0;
    f->started = f->by_auth[AB_AUTH_IN_PROGRESS] +
                 f->by_auth[AB_AUTH_AUTHENTICATED] +
                 f->by_auth[AB_AUTH_REJECTED];
    return read_durations(s, &f->to_auth_ms, f->by_auth[AB_AUTH_AUTHENTICATED],
                          err);
}

int ab_store_funnel_reasons(struct ab_store *s, int limit,
                            int (*fn)(void *ctx, const char *reason,
                                      int64_t count),
                            void *ctx, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_funnel_reasons(s->pg, limit, fn, ctx, err);
    sqlite3_stmt *st = ab_store_stmt(s, sql_reasons, err);
    int rc, stop = 0;

    if (!st)
        return err ? err->code : AB_EIO;
    sqlite3_bind_int(st, 1, limit > 0 ? limit : -1);
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
        stop = fn(ctx, (const char *)sqlite3_column_text(st, 0),
                  sqlite3_column_int64(st, 1));
    sqlite3_reset(st);
    if (stop)
        return stop;
    return rc == SQLITE_DONE
               ? 0
               : ab_store_fail(s, rc, err, "cannot read reasons from");
}
