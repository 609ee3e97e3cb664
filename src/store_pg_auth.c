/* store_pg_auth.c - store_auth.h on PostgreSQL. The company's row is read
 * FOR UPDATE, so two writers (receivers on several hosts, a poller) apply
 * their observations of one company one after the other, as SQLite's
 * single writer does. */
#include <stdlib.h>
#include <string.h>

#include "sign.h"
#include "store.h"
#include "store_auth.h"
#include "store_pg_internal.h"

static const char sql_company[] =
    "SELECT auth_status, auth_reason, auth_request_id, auth_checked_at"
    " FROM companies WHERE id = $1::bigint FOR UPDATE";
static const char sql_event[] =
    "INSERT INTO auth_events (company_id, source, raw_status, auth_status,"
    " applied, request_id, reason, fields, dedupe_key, run_id, observed_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    " ON CONFLICT (company_id, dedupe_key) WHERE dedupe_key IS NOT NULL"
    " DO NOTHING RETURNING id";
static const char sql_apply[] =
    "UPDATE companies SET auth_status = $2, auth_reason = $3,"
    " auth_request_id = $4, auth_checked_at = $5::bigint,"
    " auth_changed_at = CASE WHEN $6::boolean THEN $7::bigint"
    " ELSE auth_changed_at END,"
    " updated_at = CASE WHEN $8::boolean THEN $7::bigint ELSE updated_at END,"
    " auth_next_check_at = CASE WHEN $9::boolean THEN NULL"
    "   ELSE auth_next_check_at END"
    " WHERE id = $1::bigint";
static const char sql_token[] =
    "SELECT callback_token FROM companies WHERE id = $1::bigint";
static const char sql_reset[] =
    "UPDATE companies SET auth_changed_at = CASE WHEN auth_status IS NULL"
    " THEN auth_changed_at ELSE $2::bigint END, auth_status = NULL,"
    " auth_reason = NULL, auth_request_id = NULL, callback_token = NULL,"
    " updated_at = $2::bigint WHERE id = $1::bigint";

struct current {
    enum ab_auth status;
    char *reason;
    char *request_id;
    int64_t checked_at;
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

static int read_current(struct ab_pg *pg, int64_t id, struct current *c,
                        struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;

    memset(c, 0, sizeof *c);
    ab_pgq_init(&q);
    ab_pgq_i64(&q, id);
    if (!(r = ab_pg_run(pg, sql_company, &q, err, "cannot read company from")))
        return ab_pg_code(err);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ab_err_set(err, AB_ENOENT, "no company with id %lld in '%s'",
                          (long long)id, pg->shown);
    }
    c->status = ab_auth_lookup(ab_pg_str(r, 0, 0));
    c->reason = ab_pg_dup(r, 0, 1);
    c->request_id = ab_pg_dup(r, 0, 2);
    c->checked_at = ab_pg_i64(r, 0, 3);
    if ((!ab_pg_isnull(r, 0, 1) && !c->reason) ||
        (!ab_pg_isnull(r, 0, 2) && !c->request_id)) {
        PQclear(r);
        current_release(c);
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    }
    PQclear(r);
    if (c->status == AB_AUTH_UNKNOWN)
        c->status = AB_AUTH_NONE;
    return 0;
}

static int insert_event(struct ab_pg *pg, const struct ab_auth_obs *o,
                        int applied, int64_t *event_id, struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;

    ab_pgq_init(&q);
    ab_pgq_i64(&q, o->company_id);
    ab_pgq_text(&q, o->source == AB_AUTH_SRC_POLL ? "poll" : "callback");
    ab_pgq_text(&q, o->raw_status);
    ab_pgq_text(&q, ab_auth_name(o->status));
    ab_pgq_i64(&q, applied);
    ab_pgq_text(&q, o->request_id);
    ab_pgq_text(&q, o->reason);
    ab_pgq_text(&q, o->fields_json);
    ab_pgq_text(&q, o->dedupe_key);
    if (o->run_id > 0)
        ab_pgq_i64(&q, o->run_id);
    else
        ab_pgq_null(&q);
    ab_pgq_i64(&q, o->observed_at);
    if (!(r = ab_pg_run(pg, sql_event, &q, err,
                        "cannot record an auth event in")))
        return ab_pg_code(err);
    *event_id = PQntuples(r) ? ab_pg_i64(r, 0, 0) : 0;
    PQclear(r);
    return 0;
}

static int record(struct ab_pg *pg, const struct ab_auth_obs *o,
                  struct ab_auth_result *out, struct ab_err *err)
{
    struct current c;
    const char *reason, *request_id;
    struct ab_pgq q;
    int64_t checked, event_id = 0;
    int rc, changed;

    if ((rc = read_current(pg, o->company_id, &c, err)) != 0)
        return rc;
    out->before = out->after = c.status;
    out->move = ab_auth_decide(c.status, o->status);
    if ((rc = insert_event(pg, o, out->move == AB_AUTH_MOVE_FORWARD, &event_id,
                           err)) != 0)
        goto out;
    if (!event_id) {
        out->duplicate = 1;
        goto out;
    }
    out->event_id = event_id;
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
    ab_pgq_init(&q);
    ab_pgq_i64(&q, o->company_id);
    ab_pgq_text(&q, ab_auth_name(out->after));
    ab_pgq_text(&q, reason);
    ab_pgq_text(&q, request_id);
    ab_pgq_i64(&q, checked);
    ab_pgq_bool(&q, out->after != out->before);
    ab_pgq_i64(&q, o->observed_at);
    ab_pgq_bool(&q, changed);
    /* A verdict on the ticket: nothing more to poll (tracksched.h). */
    ab_pgq_bool(&q, ab_auth_rank(out->after) >= 3);
    rc =
        ab_pg_cmd(pg, sql_apply, &q, NULL, err, "cannot update the company in");
out:
    current_release(&c);
    return rc;
}

int ab_pg_auth_record(struct ab_pg *pg, const struct ab_auth_obs *o,
                      struct ab_auth_result *out, struct ab_err *err)
{
    static const char sp[] = "ab_auth_record";
    struct ab_auth_result dummy;
    int rc, alone = !ab_pg_in_tx(pg);

    if (!out)
        out = &dummy;
    memset(out, 0, sizeof *out);
    rc = alone ? ab_pg_begin(pg, err) : ab_pg_savepoint(pg, sp, err);
    if (rc != 0)
        return rc;
    rc = record(pg, o, out, err);
    if (alone) {
        if (rc == 0)
            return ab_pg_commit(pg, err);
        ab_pg_rollback(pg);
        return rc;
    }
    if (rc != 0) {
        ab_pg_rollback_to(pg, sp);
        memset(out, 0, sizeof *out);
    } else {
        ab_pg_release(pg, sp, NULL);
    }
    return rc;
}

int ab_pg_auth_token_check(struct ab_pg *pg, int64_t id, const char *token,
                           size_t n, int *ok, struct ab_err *err)
{
    static const char nothing[256];
    struct ab_pgq q;
    PGresult *r;
    const char *t;
    size_t tn;

    *ok = 0;
    ab_pgq_init(&q);
    ab_pgq_i64(&q, id);
    if (!(r = ab_pg_run(pg, sql_token, &q, err, "cannot read company from")))
        return ab_pg_code(err);
    t = PQntuples(r) ? ab_pg_str(r, 0, 0) : NULL;
    tn = t ? strlen(t) : 0;
    if (t && tn > 0)
        *ok = ab_sign_equal(t, tn, token, n);
    else if (n <= sizeof nothing)
        (void)ab_sign_equal(nothing, n, token, n);
    PQclear(r);
    return 0;
}

int ab_pg_auth_reset(struct ab_pg *pg, int64_t company_id, int64_t now_ms,
                     struct ab_err *err)
{
    struct ab_pgq q;
    int64_t changed = 0;
    int rc, alone = !ab_pg_in_tx(pg);

    if (alone && (rc = ab_pg_begin(pg, err)) != 0)
        return rc;
    ab_pgq_init(&q);
    ab_pgq_i64(&q, company_id);
    ab_pgq_i64(&q, now_ms);
    rc = ab_pg_cmd(pg, sql_reset, &q, &changed, err,
                   "cannot reset the company in");
    if (rc == 0 && changed == 0)
        rc = ab_err_set(err, AB_ENOENT, "no company with id %lld in '%s'",
                        (long long)company_id, pg->shown);
    if (!alone)
        return rc;
    if (rc == 0)
        return ab_pg_commit(pg, err);
    ab_pg_rollback(pg);
    return rc;
}
