/* store_pg_track.c - store_track.h and store_funnel.h on PostgreSQL.
 *
 * Runs share the database here, so reading the companies due for a poll
 * claims them as tickets are claimed, without changing their status: the
 * read (FOR UPDATE SKIP LOCKED) sets claimed_by and a lease_until on the
 * done row, other runs skip it while that lease holds, the run renews it
 * with its other leases (ab_queue_renew()), and the poll's result (or the
 * run's end, ab_queue_leave()) lets go of it. A run that dies leaves its
 * polls due when the lease runs out (at once for a run on the same node,
 * ab_queue_recover()). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_auth.h"
#include "store_funnel.h"
#include "store_pg_internal.h"
#include "store_track.h"

#define REISSUE_CHUNK 512
#define POLL_LEASE_MS 60000 /* before ab_queue_join() */

static const char sql_due[] =
    "WITH c AS (SELECT id FROM companies"
    " WHERE auth_next_check_at IS NOT NULL AND auth_next_check_at <= $1::bigint"
    "   AND (auth_next_check_at, id) > ($2::bigint, $3::bigint)"
    "   AND (claimed_by IS NULL OR claimed_by = $5::bigint"
    "        OR lease_until IS NULL OR lease_until < " AB_PG_NOW ")"
    " ORDER BY auth_next_check_at, id LIMIT $4::bigint"
    " FOR UPDATE SKIP LOCKED)"
    " UPDATE companies t SET claimed_by = nullif($5::bigint, 0),"
    " lease_until = " AB_PG_NOW " + $6::bigint FROM c"
    " WHERE t.id = c.id RETURNING t.id, t.company_name, t.ticket_at,"
    " t.auth_checks, t.auth_poll_fails, t.auth_next_check_at";
static const char sql_pending[] =
    "SELECT (SELECT count(*) FROM companies WHERE auth_next_check_at IS NOT"
    "        NULL AND auth_next_check_at <= $1::bigint),"
    "       (SELECT min(auth_next_check_at) FROM companies"
    "        WHERE auth_next_check_at IS NOT NULL)";
static const char sql_first_due[] =
    "SELECT count(*) FROM companies WHERE auth_next_check_at IS NOT NULL"
    " AND auth_next_check_at <= $1::bigint AND auth_checks = 0";
static const char sql_all_due[] =
    "UPDATE companies SET auth_next_check_at = $1::bigint"
    " WHERE auth_next_check_at IS NOT NULL AND auth_next_check_at > $1::bigint";
#define GUARD                                                                  \
    " WHERE id = $1::bigint AND ticket_at IS NOT DISTINCT FROM $2::bigint"     \
    " AND auth_checks = $3::integer - 1"                                       \
    " AND auth_next_check_at IS NOT NULL AND status = 'done'"
static const char sql_step[] =
    "UPDATE companies SET auth_checks = $3::integer, auth_poll_fails = 0,"
    " claimed_by = NULL, lease_until = NULL,"
    " auth_next_check_at = CASE WHEN $4::bigint IS NULL OR auth_status IS NOT"
    "   NULL AND (auth_status = 'authenticated' OR auth_status = 'rejected'"
    "   OR auth_status = 'expired') THEN NULL ELSE $4::bigint END" GUARD;
static const char sql_retry[] =
    "UPDATE companies SET auth_poll_fails = $4::integer,"
    " auth_next_check_at = $5::bigint, claimed_by = NULL, lease_until = "
    "NULL" GUARD;
static const char sql_exists[] =
    "SELECT 1 FROM companies WHERE id = $1::bigint";
static const char sql_reissue_auth[] =
    "SELECT id FROM companies WHERE status = 'done' AND auth_status = $1"
    " LIMIT $2::bigint";
static const char sql_reissue_unused[] =
    "SELECT id FROM companies WHERE status = 'done' AND ticket_at < $1::bigint"
    " AND (auth_status IS NULL OR auth_status = 'not_started')"
    " LIMIT $2::bigint";
static const char sql_requeue[] =
    "UPDATE companies SET status = 'pending', attempts = 0,"
    " next_attempt_at = NULL, auth_next_check_at = NULL, auth_checks = 0,"
    " auth_poll_fails = 0, updated_at = $2::bigint WHERE id = $1::bigint";

int ab_pg_track_due(struct ab_pg *pg, int64_t now_ms, int64_t *cur_at,
                    int64_t *cur_id, int max, struct ab_work *out, int *n,
                    struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;
    int i;

    *n = 0;
    ab_pgq_init(&q);
    ab_pgq_i64(&q, now_ms);
    ab_pgq_i64(&q, *cur_at);
    ab_pgq_i64(&q, *cur_id);
    ab_pgq_i64(&q, max);
    ab_pgq_i64(&q, pg->run_id);
    ab_pgq_i64(&q, pg->lease_ms > 0 ? pg->lease_ms : POLL_LEASE_MS);
    if (!(r = ab_pg_run(pg, sql_due, &q, err,
                        "cannot read the companies due in")))
        return ab_pg_code(err);
    for (i = 0; i < PQntuples(r) && *n < max; i++) {
        struct ab_work *w = &out[*n];
        int64_t was = ab_pg_i64(r, i, 5), id = ab_pg_i64(r, i, 0);
        memset(w, 0, sizeof *w);
        ab_company_init(&w->c);
        w->kind = AB_WORK_POLL;
        w->c.id = id;
        w->c.company_name = ab_pg_dup(r, i, 1);
        w->ticket_at = ab_pg_i64(r, i, 2);
        w->checks = (int)ab_pg_i64(r, i, 3);
        w->c.attempts = (int)ab_pg_i64(r, i, 4);
        /* The cursor passes the last in schedule order (RETURNING keeps
         * none). */
        if (was > *cur_at || (was == *cur_at && id > *cur_id)) {
            *cur_at = was;
            *cur_id = id;
        }
        if (!w->c.company_name) {
            int k;
            for (k = 0; k <= *n; k++)
                ab_company_release(&out[k].c);
            *n = 0;
            PQclear(r);
            return ab_err_set(err, AB_ENOMEM, "out of memory");
        }
        (*n)++;
    }
    PQclear(r);
    return 0;
}

int ab_pg_track_pending(struct ab_pg *pg, int64_t now_ms, int64_t *n_due,
                        int64_t *next_at, struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;

    *n_due = *next_at = 0;
    ab_pgq_init(&q);
    ab_pgq_i64(&q, now_ms);
    if (!(r = ab_pg_run(pg, sql_pending, &q, err,
                        "cannot read the schedule in")))
        return ab_pg_code(err);
    *n_due = ab_pg_i64(r, 0, 0);
    *next_at = ab_pg_i64(r, 0, 1);
    PQclear(r);
    return 0;
}

int ab_pg_track_first_due(struct ab_pg *pg, int64_t now_ms, int64_t *n,
                          struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;

    *n = 0;
    ab_pgq_init(&q);
    ab_pgq_i64(&q, now_ms);
    if (!(r = ab_pg_run(pg, sql_first_due, &q, err,
                        "cannot read the schedule in")))
        return ab_pg_code(err);
    *n = ab_pg_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

int ab_pg_track_all_due(struct ab_pg *pg, int64_t now_ms, int64_t *n,
                        struct ab_err *err)
{
    struct ab_pgq q;
    int rc;

    *n = 0;
    if ((rc = ab_pg_begin(pg, err)) != 0)
        return rc;
    ab_pgq_init(&q);
    ab_pgq_i64(&q, now_ms);
    if ((rc = ab_pg_cmd(pg, sql_all_due, &q, n, err,
                        "cannot reschedule the polls in")) != 0) {
        ab_pg_rollback(pg);
        return rc;
    }
    return ab_pg_commit(pg, err);
}

static int move(struct ab_pg *pg, const struct ab_track_result *r, int *changed,
                struct ab_err *err)
{
    int retry = r->what == AB_TRACK_RETRY;
    struct ab_pgq q;
    int64_t k = 0;
    int rc;

    ab_pgq_init(&q);
    ab_pgq_i64(&q, r->company_id);
    if (r->ticket_at)
        ab_pgq_i64(&q, r->ticket_at);
    else
        ab_pgq_null(&q);
    ab_pgq_i64(&q, r->check_no);
    if (retry) {
        ab_pgq_i64(&q, r->fails);
        ab_pgq_i64(&q, r->next_at);
    } else if (r->next_at) {
        ab_pgq_i64(&q, r->next_at);
    } else {
        ab_pgq_null(&q);
    }
    rc = ab_pg_cmd(pg, retry ? sql_retry : sql_step, &q, &k, err,
                   "cannot update the schedule in");
    *changed = k > 0;
    return rc;
}

int ab_pg_track_record(struct ab_pg *pg, const struct ab_track_result *r,
                       int *applied, struct ab_auth_result *out,
                       struct ab_err *err)
{
    struct ab_auth_obs o;
    struct ab_pgq q;
    PGresult *res;
    char key[64];
    int rc, changed = 0, yes;

    if (applied)
        *applied = 0;
    if (out)
        memset(out, 0, sizeof *out);
    if (r->what == AB_TRACK_NOTHING)
        return 0;
    if ((rc = move(pg, r, &changed, err)) != 0)
        return rc;
    if (!changed) {
        ab_pgq_init(&q);
        ab_pgq_i64(&q, r->company_id);
        if (!(res = ab_pg_run(pg, sql_exists, &q, err,
                              "cannot read company from")))
            return ab_pg_code(err);
        yes = PQntuples(res) > 0;
        PQclear(res);
        if (!yes)
            return ab_err_set(err, AB_ENOENT,
                              "company #%lld is no longer in '%s'",
                              (long long)r->company_id, pg->shown);
        return 0;
    }
    if (r->what == AB_TRACK_ANSWERED && r->obs) {
        o = *r->obs;
        o.company_id = r->company_id;
        o.source = AB_AUTH_SRC_POLL;
        snprintf(key, sizeof key, "poll:%lld:%d", (long long)r->ticket_at,
                 r->check_no);
        o.dedupe_key = key;
        if ((rc = ab_pg_auth_record(pg, &o, out, err)) != 0)
            return rc;
    }
    if (applied)
        *applied = 1;
    return 0;
}

static int reissue(struct ab_pg *pg, const char *sql, const char *status,
                   int64_t before_ms, int64_t *changed, struct ab_err *err)
{
    int64_t ids[REISSUE_CHUNK], now = ab_now_ms();
    struct ab_pgq q;
    PGresult *r;
    int rc, n, i;

    do {
        ab_pgq_init(&q);
        if (status)
            ab_pgq_text(&q, status);
        else
            ab_pgq_i64(&q, before_ms);
        ab_pgq_i64(&q, REISSUE_CHUNK);
        if (!(r = ab_pg_run(pg, sql, &q, err, "cannot read companies from")))
            return ab_pg_code(err);
        n = PQntuples(r);
        for (i = 0; i < n && i < REISSUE_CHUNK; i++)
            ids[i] = ab_pg_i64(r, i, 0);
        PQclear(r);
        for (i = 0; i < n; i++) {
            if ((rc = ab_pg_auth_reset(pg, ids[i], now, err)) != 0)
                return rc;
            ab_pgq_init(&q);
            ab_pgq_i64(&q, ids[i]);
            ab_pgq_i64(&q, now);
            if ((rc = ab_pg_cmd(pg, sql_requeue, &q, NULL, err,
                                "cannot requeue companies in")) != 0)
                return rc;
            (*changed)++;
        }
    } while (n == REISSUE_CHUNK);
    return 0;
}

int ab_pg_track_reissue_auth(struct ab_pg *pg, unsigned mask, int64_t *changed,
                             struct ab_err *err)
{
    int rc, a;

    *changed = 0;
    if ((rc = ab_pg_begin(pg, err)) != 0)
        return rc;
    for (a = AB_AUTH_NONE + 1; a < AB_AUTH__COUNT && rc == 0; a++)
        if (mask & (1u << a))
            rc = reissue(pg, sql_reissue_auth, ab_auth_name((enum ab_auth)a), 0,
                         changed, err);
    if (rc == 0)
        return ab_pg_commit(pg, err);
    ab_pg_rollback(pg);
    *changed = 0;
    return rc;
}

int ab_pg_track_reissue_unused(struct ab_pg *pg, int64_t before_ms,
                               int64_t *changed, struct ab_err *err)
{
    int rc;

    *changed = 0;
    if ((rc = ab_pg_begin(pg, err)) != 0)
        return rc;
    rc = reissue(pg, sql_reissue_unused, NULL, before_ms, changed, err);
    if (rc == 0)
        return ab_pg_commit(pg, err);
    ab_pg_rollback(pg);
    *changed = 0;
    return rc;
}

/* ---- store_funnel.h -------------------------------------------------- */

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
    " WHERE auth_status = 'rejected' GROUP BY 1 ORDER BY n DESC, 1"
    " LIMIT $1::bigint";

static int read_durations(struct ab_pg *pg, struct ab_percentiles *p, int64_t n,
                          struct ab_err *err)
{
    static const int per_mille[3] = {500, 900, 990};
    int64_t rank[3], cum = 0, *dst[3] = {&p->p50, &p->p90, &p->p99};
    PGresult *r;
    int i = 0, k, row;

    memset(p, 0, sizeof *p);
    if (n == 0)
        return 0;
    if (!(r = ab_pg_run(pg, sql_durations, NULL, err,
                        "cannot read durations from")))
        return ab_pg_code(err);
    for (row = 0; row < PQntuples(r); row++)
        p->n += ab_pg_i64(r, row, 1);
    for (k = 0; k < 3; k++) {
        rank[k] = (p->n * per_mille[k] + 999) / 1000;
        if (rank[k] < 1)
            rank[k] = 1;
    }
    for (row = 0; row < PQntuples(r); row++) {
        int64_t v = ab_pg_i64(r, row, 0);
        cum += ab_pg_i64(r, row, 1);
        while (i < 3 && cum >= rank[i])
            *dst[i++] = v;
        p->max = v;
    }
    PQclear(r);
    return 0;
}

int ab_pg_funnel(struct ab_pg *pg, struct ab_funnel *f, struct ab_err *err)
{
    struct ab_counts c;
    PGresult *r;
    int64_t known = 0;
    int rc, row;

    memset(f, 0, sizeof *f);
    if ((rc = ab_pg_counts(pg, &c, err)) != 0)
        return rc;
    f->issued = c.done;
    f->already_authed = c.already_authed;
    if (!(r = ab_pg_run(pg, sql_total, NULL, err, "cannot count companies in")))
        return ab_pg_code(err);
    f->imported = ab_pg_i64(r, 0, 0);
    PQclear(r);
    if (!(r = ab_pg_run(pg, sql_auth, NULL, err, "cannot count statuses in")))
        return ab_pg_code(err);
    for (row = 0; row < PQntuples(r); row++) {
        enum ab_auth a = ab_auth_lookup(ab_pg_str(r, row, 0));
        if (a > AB_AUTH_NONE && a < AB_AUTH__COUNT) {
            f->by_auth[a] = ab_pg_i64(r, row, 1);
            known += f->by_auth[a];
        }
    }
    PQclear(r);
    f->by_auth[AB_AUTH_NONE] = f->issued > known ? f->issued - known : 0;
    f->started = f->by_auth[AB_AUTH_IN_PROGRESS] +
                 f->by_auth[AB_AUTH_AUTHENTICATED] +
                 f->by_auth[AB_AUTH_REJECTED];
    return read_durations(pg, &f->to_auth_ms, f->by_auth[AB_AUTH_AUTHENTICATED],
                          err);
}

int ab_pg_funnel_reasons(struct ab_pg *pg, int limit,
                         int (*fn)(void *ctx, const char *reason,
                                   int64_t count),
                         void *ctx, struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;
    int row, stop = 0;

    ab_pgq_init(&q);
    if (limit > 0)
        ab_pgq_i64(&q, limit);
    else
        ab_pgq_null(&q);
    if (!(r = ab_pg_run(pg, sql_reasons, &q, err, "cannot read reasons from")))
        return ab_pg_code(err);
    for (row = 0; row < PQntuples(r) && !stop; row++)
        stop = fn(ctx, ab_pg_str(r, row, 0), ab_pg_i64(r, row, 1));
    PQclear(r);
    return stop;
}
