#include "store_track.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#define REISSUE_CHUNK 512

static const char sql_due[] =
    "SELECT id, company_name, ticket_at, auth_checks, auth_poll_fails,"
    " auth_next_check_at FROM companies"
    " WHERE auth_next_check_at IS NOT NULL AND auth_next_check_at <= ?1"
    "   AND (auth_next_check_at, id) > (?2, ?3)"
    " ORDER BY auth_next_check_at, id LIMIT ?4";
static const char sql_pending[] =
    "SELECT (SELECT count(*) FROM companies WHERE auth_next_check_at IS NOT"
    "        NULL AND auth_next_check_at <= ?1),"
    "       (SELECT min(auth_next_check_at) FROM companies"
    "        WHERE auth_next_check_at IS NOT NULL)";
static const char sql_first_due[] =
    "SELECT count(*) FROM companies WHERE auth_next_check_at IS NOT NULL"
    " AND auth_next_check_at <= ?1 AND auth_checks = 0";
static const char sql_all_due[] =
    "UPDATE companies SET auth_next_check_at = ?1"
    " WHERE auth_next_check_at IS NOT NULL AND auth_next_check_at > ?1";
/* The guard: the company still follows this ticket, is tracked, and has
 * not counted this check yet. */
#define GUARD                                                                  \
    " WHERE id = ?1 AND ticket_at IS ?2 AND auth_checks = ?3 - 1"              \
    " AND auth_next_check_at IS NOT NULL AND status = 'done'"
static const char sql_step[] =
    "UPDATE companies SET auth_checks = ?3, auth_poll_fails = 0,"
    " auth_next_check_at = CASE WHEN ?4 IS NULL OR auth_status IS NOT NULL"
    "   AND (auth_status = 'authenticated' OR auth_status = 'rejected'"
    "        OR auth_status = 'expired') THEN NULL ELSE ?4 END" GUARD;
static const char sql_retry[] =
    "UPDATE companies SET auth_poll_fails = ?4, auth_next_check_at = ?5" GUARD;
static const char sql_exists[] = "SELECT 1 FROM companies WHERE id = ?1";
static const char sql_reissue_auth[] =
    "SELECT id FROM companies WHERE status = 'done' AND auth_status = ?1"
    " LIMIT ?2";
static const char sql_reissue_unused[] =
    "SELECT id FROM companies WHERE status = 'done' AND ticket_at < ?1"
    " AND (auth_status IS NULL OR auth_status = 'not_started') LIMIT ?2";
static const char sql_requeue[] =
    "UPDATE companies SET status = 'pending', attempts = 0,"
    " next_attempt_at = NULL, auth_next_check_at = NULL, auth_checks = 0,"
    " auth_poll_fails = 0, updated_at = ?2 WHERE id = ?1";

int ab_track_due(struct ab_store *s, int64_t now_ms, int64_t *cur_at,
                 int64_t *cur_id, int max, struct ab_work *out, int *n,
                 struct ab_err *err)
{
    if (s->pg)
        return ab_pg_track_due(s->pg, now_ms, cur_at, cur_id, max, out, n, err);
    sqlite3_stmt *st = ab_store_stmt(s, sql_due, err);
    int rc;

    *n = 0;
    if (!st)
        return err ? err->code : AB_EIO;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, *cur_at);
    sqlite3_bind_int64(st, 3, *cur_id);
    sqlite3_bind_int(st, 4, max);
    while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct ab_work *w = &out[*n];
        memset(w, 0, sizeof *w);
        ab_company_init(&w->c);
        w->kind = AB_WORK_POLL;
        w->c.id = sqlite3_column_int64(st, 0);
        w->c.company_name = ab_store_col_dup(st, 1);
        w->ticket_at = sqlite3_column_int64(st, 2);
        w->checks = sqlite3_column_int(st, 3);
        w->c.attempts = sqlite3_column_int(st, 4);
        *cur_at = sqlite3_column_int64(st, 5);
        *cur_id = w->c.id;
        if (!w->c.company_name) {
            int i;
            sqlite3_reset(st);
            for (i = 0; i <= *n; i++)
                ab_company_release(&out[i].c);
            *n = 0;
            return ab_err_set(err, AB_ENOMEM, "out of memory");
        }
        (*n)++;
    }
    if (*n < max && rc != SQLITE_DONE) {
        int i;
        sqlite3_reset(st);
        for (i = 0; i < *n; i++)
            ab_company_release(&out[i].c);
        *n = 0;
        return ab_store_fail(s, rc, err, "cannot read the companies due in");
    }
    sqlite3_reset(st);
    return 0;
}

int ab_track_pending(struct ab_store *s, int64_t now_ms, int64_t *n_due,
                     int64_t *next_at, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_track_pending(s->pg, now_ms, n_due, next_at, err);
    sqlite3_stmt *st = ab_store_stmt(s, sql_pending, err);
    int rc;

    *n_due = *next_at = 0;
    if (!st)
        return err ? err->code : AB_EIO;
    sqlite3_bind_int64(st, 1, now_ms);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        sqlite3_reset(st);
        return ab_store_fail(s, rc, err, "cannot read the schedule in");
    }
    *n_due = sqlite3_column_int64(st, 0);
    *next_at = sqlite3_column_int64(st, 1); /* NULL (none) reads as 0 */
    sqlite3_reset(st);
    return 0;
}

int ab_track_first_due(struct ab_store *s, int64_t now_ms, int64_t *n,
                       struct ab_err *err)
{
    if (s->pg)
        return ab_pg_track_first_due(s->pg, now_ms, n, err);
    sqlite3_stmt *st = ab_store_stmt(s, sql_first_due, err);
    int rc;

    *n = 0;
    if (!st)
        return err ? err->code : AB_EIO;
    sqlite3_bind_int64(st, 1, now_ms);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        sqlite3_reset(st);
        return ab_store_fail(s, rc, err, "cannot read the schedule in");
    }
    *n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

int ab_track_all_due(struct ab_store *s, int64_t now_ms, int64_t *n,
                     struct ab_err *err)
{
    if (s->pg)
        return ab_pg_track_all_due(s->pg, now_ms, n, err);
    sqlite3_stmt *st;
    int rc;

    *n = 0;
    if ((rc = ab_store_begin(s, err)) != 0)
        return rc;
    if (!(st = ab_store_stmt(s, sql_all_due, err))) {
        ab_store_rollback(s);
        return err ? err->code : AB_EIO;
    }
    sqlite3_bind_int64(st, 1, now_ms);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        rc = ab_store_fail(s, rc, err, "cannot reschedule the polls in");
        ab_store_rollback(s);
        return rc;
    }
    *n = sqlite3_changes64(s->db);
    return ab_store_commit(s, err);
}

static int exists(struct ab_store *s, int64_t id, int *yes, struct ab_err *err)
{
    sqlite3_stmt *st = ab_store_stmt(s, sql_exists, err);
    int rc;

    if (!st)
        return err ? err->code : AB_EIO;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ab_store_fail(s, rc, err, "cannot read company from");
    *yes = rc == SQLITE_ROW;
    return 0;
}

/* Moves the schedule as r says; *changed 0 when the guard did not hold. */
static int move(struct ab_store *s, const struct ab_track_result *r,
                int *changed, struct ab_err *err)
{
    int retry = r->what == AB_TRACK_RETRY;
    sqlite3_stmt *st = ab_store_stmt(s, retry ? sql_retry : sql_step, err);
    int rc;

    if (!st)
        return err ? err->code : AB_EIO;
    sqlite3_bind_int64(st, 1, r->company_id);
    if (r->ticket_at)
        sqlite3_bind_int64(st, 2, r->ticket_at);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int(st, 3, r->check_no);
    if (retry) {
        sqlite3_bind_int(st, 4, r->fails);
        sqlite3_bind_int64(st, 5, r->next_at);
    } else if (r->next_at) {
        sqlite3_bind_int64(st, 4, r->next_at);
    } else {
        sqlite3_bind_null(st, 4);
    }
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ab_store_fail(s, rc, err, "cannot update the schedule in");
    *changed = sqlite3_changes(s->db) > 0;
    return 0;
}

int ab_track_record(struct ab_store *s, const struct ab_track_result *r,
                    int *applied, struct ab_auth_result *out,
                    struct ab_err *err)
{
    if (s->pg)
        return ab_pg_track_record(s->pg, r, applied, out, err);
    struct ab_auth_obs o;
    char key[64];
    int rc, changed = 0, yes = 0;

    if (applied)
        *applied = 0;
    if (out)
        memset(out, 0, sizeof *out);
    if (r->what == AB_TRACK_NOTHING)
        return 0;
    if ((rc = move(s, r, &changed, err)) != 0)
        return rc;
    if (!changed) {
        if ((rc = exists(s, r->company_id, &yes, err)) != 0)
            return rc;
        if (!yes)
            return ab_err_set(err, AB_ENOENT,
                              "company #%lld is no longer in '%s'",
                              (long long)r->company_id, s->path);
        return 0; /* a repeat, or a ticket re-issued meanwhile */
    }
    if (r->what == AB_TRACK_ANSWERED && r->obs) {
        o = *r->obs;
        o.company_id = r->company_id;
        o.source = AB_AUTH_SRC_POLL;
        snprintf(key, sizeof key, "poll:%lld:%d", (long long)r->ticket_at,
                 r->check_no);
        o.dedupe_key = key;
        if ((rc = ab_store_auth_record(s, &o, out, err)) != 0)
            return rc;
    }
    if (applied)
        *applied = 1;
    return 0;
}

/* Re-issues each company the select statement finds (bound by bind),
 * chunk by chunk, in one transaction. */
static int reissue(struct ab_store *s, const char *sql, const char *status,
                   int64_t before_ms, int64_t *changed, struct ab_err *err)
{
    int64_t ids[REISSUE_CHUNK], now = ab_now_ms();
    sqlite3_stmt *st;
    int rc, n, i;

    do {
        n = 0;
        if (!(st = ab_store_stmt(s, sql, err)))
            return err ? err->code : AB_EIO;
        if (status)
            ab_store_bind_text(st, 1, status);
        else
            sqlite3_bind_int64(st, 1, before_ms);
        sqlite3_bind_int(st, 2, REISSUE_CHUNK);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ids[n++] = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return ab_store_fail(s, rc, err, "cannot read companies from");
        for (i = 0; i < n; i++) {
            if ((rc = ab_store_auth_reset(s, ids[i], now, err)) != 0)
                return rc;
            if (!(st = ab_store_stmt(s, sql_requeue, err)))
                return err ? err->code : AB_EIO;
            sqlite3_bind_int64(st, 1, ids[i]);
            sqlite3_bind_int64(st, 2, now);
            rc = sqlite3_step(st);
            sqlite3_reset(st);
            if (rc != SQLITE_DONE)
                return ab_store_fail(s, rc, err, "cannot requeue companies in");
            (*changed)++;
        }
    } while (n == REISSUE_CHUNK);
    return 0;
}

int ab_track_reissue_auth(struct ab_store *s, unsigned mask, int64_t *changed,
                          struct ab_err *err)
{
    if (s->pg)
        return ab_pg_track_reissue_auth(s->pg, mask, changed, err);
    int rc, a;

    *changed = 0;
    if ((rc = ab_store_begin(s, err)) != 0)
        return rc;
    for (a = AB_AUTH_NONE + 1; a < AB_AUTH__COUNT && rc == 0; a++)
        if (mask & (1u << a))
            rc = reissue(s, sql_reissue_auth, ab_auth_name((enum ab_auth)a), 0,
                         changed, err);
    if (rc == 0)
        return ab_store_commit(s, err);
    ab_store_rollback(s);
    *changed = 0;
    return rc;
}

int ab_track_reissue_unused(struct ab_store *s, int64_t before_ms,
                            int64_t *changed, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_track_reissue_unused(s->pg, before_ms, changed, err);
    int rc;

    *changed = 0;
    if ((rc = ab_store_begin(s, err)) != 0)
        return rc;
    rc = reissue(s, sql_reissue_unused, NULL, before_ms, changed, err);
    if (rc == 0)
        return ab_store_commit(s, err);
    ab_store_rollback(s);
    *changed = 0;
    return rc;
}
