/* store_pg_queue.c - store_queue.h on PostgreSQL: claims with FOR UPDATE
 * SKIP LOCKED and leases, results guarded by the claim, and the runners
 * table through which the runs sharing the database count each other. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "sign.h"
#include "store.h"
#include "store_pg_internal.h"
#include "store_queue.h"

/* Claims made before ab_queue_join() (a caller that never renews) run out
 * after this long. */
#define DEFAULT_LEASE_MS 60000
/* Rows of runners gone this long are deleted when a run joins. */
#define RUNNERS_KEPT_MS (24LL * 3600 * 1000)

#define COMPANY_COLS                                                           \
    "t.id, t.company_name, t.register_no, t.legal_person, t.applicant_name,"   \
    " t.applicant_contact, t.applicant_contact_type, t.callback_url,"          \
    " t.close_button, t.modify_fields, t.attempts, t.callback_token"

#define CLAIM_SET                                                              \
    " UPDATE companies t SET status = 'in_flight', claimed_by = $3,"           \
    " lease_until = " AB_PG_NOW " + $4::bigint, updated_at = $1::bigint"       \
    " FROM c WHERE t.id = c.id RETURNING " COMPANY_COLS

static const char sql_recover[] =
    "UPDATE companies SET status = 'pending', claimed_by = NULL,"
    " lease_until = NULL, updated_at = $1::bigint"
    " WHERE status = 'in_flight'"
    " AND (lease_until IS NULL OR lease_until < " AB_PG_NOW ")"
    " AND (claimed_by IS NULL OR claimed_by <> $2::bigint)";
static const char sql_claim_retry[] =
    "WITH c AS (SELECT id FROM companies WHERE status = 'retry_wait'"
    " AND next_attempt_at <= $1::bigint ORDER BY next_attempt_at"
    " LIMIT $2::bigint FOR UPDATE SKIP LOCKED)" CLAIM_SET;
static const char sql_claim_lapsed[] =
    "WITH c AS (SELECT id FROM companies WHERE status = 'in_flight'"
    " AND (lease_until IS NULL OR lease_until < " AB_PG_NOW ")"
    " ORDER BY id LIMIT $2::bigint FOR UPDATE SKIP LOCKED)" CLAIM_SET;
static const char sql_claim_pending[] =
    "WITH c AS (SELECT id FROM companies WHERE status = 'pending'"
    " ORDER BY id LIMIT $2::bigint FOR UPDATE SKIP LOCKED)" CLAIM_SET;
static const char sql_set_token[] =
    "UPDATE companies SET callback_token = $2 WHERE id = $1::bigint";
static const char sql_retry_wait[] =
    "SELECT count(*), min(next_attempt_at) FROM companies"
    " WHERE status = 'retry_wait'";
static const char sql_release[] =
    "UPDATE companies SET status = 'pending', claimed_by = NULL,"
    " lease_until = NULL, updated_at = $2::bigint"
    " WHERE id = ANY ($1::bigint[]) AND status = 'in_flight'"
    " AND ($3::bigint = 0 OR claimed_by = $3::bigint)";
static const char sql_peek[] =
    "SELECT " COMPANY_COLS " FROM companies t"
    " WHERE t.status = 'pending'"
    "    OR (t.status = 'in_flight' AND $3::boolean"
    "        AND (t.lease_until IS NULL OR t.lease_until < " AB_PG_NOW "))"
    "    OR (t.status = 'retry_wait' AND t.next_attempt_at <= $1::bigint)"
    " ORDER BY t.id LIMIT $2::bigint";
/* The company's new state and its attempt row in one statement (one round
 * trip): no attempt row when the update found nothing this run holds. */
static const char sql_record[] =
    "WITH u AS (UPDATE companies SET status = $2, attempts = $3::integer,"
    " next_attempt_at = $4::bigint, ticket = coalesce($5, ticket),"
    " ticket_at = coalesce($6::bigint, ticket_at),"
    " last_http_status = $7::integer, last_code = $8::bigint,"
    " last_message = $9, claimed_by = NULL, lease_until = NULL,"
    " updated_at = $10::bigint,"
    " auth_next_check_at = CASE WHEN $5::text IS NULL THEN auth_next_check_at"
    "   ELSE $12::bigint END,"
    " auth_checks = CASE WHEN $5::text IS NULL THEN auth_checks ELSE 0 END,"
    " auth_poll_fails = CASE WHEN $5::text IS NULL THEN auth_poll_fails"
    "   ELSE 0 END"
    " WHERE id = $1::bigint AND ($11::bigint = 0"
    " OR (status = 'in_flight' AND claimed_by = $11::bigint)) RETURNING id)"
    " INSERT INTO attempts (company_id, run_id, attempt_no, started_at,"
    " duration_ms, http_status, code, message, transport_error, outcome)"
    " SELECT id, $13::bigint, $3::integer, $14::bigint, $15::bigint,"
    " $7::integer, $8::bigint, $16::text, $17::text, $18::text FROM u";
static const char sql_holder[] =
    "SELECT status, claimed_by FROM companies WHERE id = $1::bigint";
/* This very result, stored by a commit whose answer never came back (the
 * connection broke after the server committed). */
static const char sql_stored[] =
    "SELECT 1 FROM attempts WHERE company_id = $1::bigint"
    " AND run_id = $2::bigint AND attempt_no = $3::integer"
    " AND started_at = $4::bigint AND outcome = $5::text LIMIT 1";
static const char sql_run_start[] =
    "INSERT INTO runs (started_at, pid, options, command)"
    " VALUES ($1, $2, $3, $4) RETURNING id";
static const char sql_run_update[] =
    "UPDATE runs SET attempts = $2, issued = $3, already_authed = $4,"
    " failed = $5, retried = $6, throttled = $7, transport_errors = $8,"
    " ended_at = coalesce($9::bigint, ended_at),"
    " exit_status = coalesce($10::integer, exit_status), polls = $11"
    " WHERE id = $1";
static const char sql_join[] =
    "INSERT INTO runners (run_id, host, pid, node, joined_at, beat_at,"
    " lease_until, rate, estimate) VALUES ($1, $2, $3, $5, " AB_PG_NOW
    ", " AB_PG_NOW ", " AB_PG_NOW " + $4::bigint, 0, 0)"
    " ON CONFLICT (run_id) DO UPDATE SET lease_until = excluded.lease_until";
static const char sql_same_node[] =
    "SELECT run_id, pid FROM runners WHERE node = $1 AND run_id <> $2::bigint"
    " AND lease_until >= " AB_PG_NOW;
static const char sql_reap_claims[] =
    "UPDATE companies SET status = CASE status WHEN 'in_flight' THEN"
    " 'pending' ELSE status END, claimed_by = NULL, lease_until = NULL,"
    " updated_at = CASE status WHEN 'in_flight' THEN $2::bigint"
    " ELSE updated_at END WHERE claimed_by = $1::bigint";
static const char sql_reap_runner[] =
    "UPDATE runners SET lease_until = 0 WHERE run_id = $1::bigint";
/* After the insert is committed: a run that renews after this moment
 * counts this one (its count is a later statement). */
static const char sql_joined[] = "UPDATE runners SET joined_at = " AB_PG_NOW
                                 ", beat_at = " AB_PG_NOW " WHERE run_id = $1";
static const char sql_forget_runners[] =
    "DELETE FROM runners WHERE lease_until < " AB_PG_NOW " - $1::bigint";
/* Tickets in flight and polls (store_pg_track.c) alike. */
static const char sql_renew_claims[] =
    "UPDATE companies SET lease_until = " AB_PG_NOW " + $2::bigint"
    " WHERE claimed_by = $1::bigint AND lease_until >= " AB_PG_NOW;
/* Says whether the row's lease had run out: the others stopped counting
 * this run, so it must be admitted again (sql_joined) before it sends. */
static const char sql_renew_runner[] =
    "UPDATE runners r SET beat_at = " AB_PG_NOW ", lease_until = " AB_PG_NOW
    " + $2::bigint, rate = $3, estimate = $4 FROM (SELECT lease_until"
    " AS was FROM runners WHERE run_id = $1) o WHERE r.run_id = $1"
    " RETURNING o.was < " AB_PG_NOW;
/* Also the App's rate: the lowest --rate (0 is none) and --burst that the
 * live runs were started with (their runs.options, authbatch's JSON). */
static const char sql_share[] =
    "SELECT count(*),"
    " count(*) FILTER (WHERE r.run_id <> $1 AND r.beat_at <= me.joined_at),"
    " coalesce(min(nullif((u.options::jsonb->>'rate')::float8, 0)), 0),"
    " coalesce(min((u.options::jsonb->>'burst')::bigint), 0)"
    " FROM runners r JOIN runs u ON u.id = r.run_id,"
    " (SELECT joined_at FROM runners WHERE run_id = $1) me"
    " WHERE r.lease_until >= " AB_PG_NOW " OR r.run_id = $1";
static const char sql_leave[] = "DELETE FROM runners WHERE run_id = $1";
/* Polls read and never answered: free for the others now. */
static const char sql_leave_polls[] =
    "UPDATE companies SET claimed_by = NULL, lease_until = NULL"
    " WHERE claimed_by = $1::bigint AND status <> 'in_flight'";
static const char sql_elsewhere[] =
    "SELECT count(*), greatest(0, coalesce(min(lease_until) FILTER (WHERE"
    " lease_until IS NOT NULL AND NOT (claimed_by IS NULL)), 0) - " AB_PG_NOW
    "), count(*) FILTER (WHERE lease_until IS NULL OR claimed_by IS NULL)"
    " FROM companies WHERE status = 'in_flight'"
    " AND (claimed_by IS NULL OR claimed_by <> $1::bigint)";

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* This kernel's boot and pid namespace, or "" when unknown: two runs with
 * the same node see each other's pids. */
static void node_id(char *out, size_t n)
{
    char boot[64] = "", ns[64];
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    ssize_t len;

    out[0] = '\0';
    if (f) {
        if (!fgets(boot, sizeof boot, f))
            boot[0] = '\0';
        fclose(f);
    }
    boot[strcspn(boot, "\n")] = '\0';
    len = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    if (!boot[0] || len <= 0)
        return;
    ns[len] = '\0';
    snprintf(out, n, "%s %s", boot, ns);
}

/* Runs on this node whose process is gone: their claims are due now. A
 * reused pid looks alive, and the lease decides as for any other run. */
static int reap_dead_here(struct ab_pg *pg, int64_t run_id, int64_t *n,
                          struct ab_err *err)
{
    char node[160];
    struct ab_pgq q;
    PGresult *r;
    int i, rc = 0;

    node_id(node, sizeof node);
    if (!node[0])
        return 0;
    ab_pgq_init(&q);
    ab_pgq_text(&q, node);
    ab_pgq_i64(&q, run_id);
    if (!(r = ab_pg_run(pg, sql_same_node, &q, err,
                        "cannot recover companies in")))
        return ab_pg_code(err);
    for (i = 0; i < PQntuples(r) && rc == 0; i++) {
        int64_t dead = ab_pg_i64(r, i, 0), pid = ab_pg_i64(r, i, 1), k = 0;
        if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        ab_pgq_init(&q);
        ab_pgq_i64(&q, dead);
        ab_pgq_i64(&q, ab_now_ms());
        if ((rc = ab_pg_cmd(pg, sql_reap_claims, &q, &k, err,
                            "cannot recover companies in")) == 0) {
            ab_pgq_init(&q);
            ab_pgq_i64(&q, dead);
            rc = ab_pg_cmd(pg, sql_reap_runner, &q, NULL, err,
                           "cannot recover companies in");
        }
        *n += k;
    }
    PQclear(r);
    return rc;
}

int ab_pg_queue_recover(struct ab_pg *pg, int64_t run_id, int64_t *n,
                        struct ab_err *err)
{
    struct ab_pgq q;
    int64_t k = 0;
    int rc;

    *n = 0;
    if ((rc = reap_dead_here(pg, run_id, n, err)) != 0)
        return rc;
    ab_pgq_init(&q);
    ab_pgq_i64(&q, ab_now_ms());
    ab_pgq_i64(&q, run_id);
    rc = ab_pg_cmd(pg, sql_recover, &q, &k, err, "cannot recover companies in");
    *n += k;
    return rc;
}

/* Copies column i; *oom set when a present value could not be copied. */
static char *dup_col(const PGresult *r, int row, int i, int *oom)
{
    char *v = ab_pg_dup(r, row, i);
    if (!v && !ab_pg_isnull(r, row, i))
        *oom = 1;
    return v;
}

/* 0, or AB_ENOMEM (c released). */
static int read_company(const PGresult *r, int row, struct ab_company *c)
{
    const char *type;
    int oom = 0;

    ab_company_init(c);
    c->id = ab_pg_i64(r, row, 0);
    c->company_name = dup_col(r, row, 1, &oom);
    c->register_no = dup_col(r, row, 2, &oom);
    c->legal_person = dup_col(r, row, 3, &oom);
    c->applicant_name = dup_col(r, row, 4, &oom);
    c->applicant_contact = dup_col(r, row, 5, &oom);
    type = ab_pg_str(r, row, 6);
    if (!type || ab_company_parse_contact_type(type, &c->contact_type) != 0)
        c->contact_type = AB_CONTACT_INFER;
    c->callback_url = dup_col(r, row, 7, &oom);
    c->close_button = ab_pg_isnull(r, row, 8) ? -1 : ab_pg_i64(r, row, 8) != 0;
    c->modify_fields = dup_col(r, row, 9, &oom);
    c->attempts = (int)ab_pg_i64(r, row, 10);
    c->callback_token = dup_col(r, row, 11, &oom);
    if (oom || !c->company_name || !c->applicant_contact) {
        ab_company_release(c);
        return AB_ENOMEM;
    }
    return 0;
}

static int claim_from(struct ab_pg *pg, const char *sql, int64_t now_ms,
                      int64_t run_id, int max, struct ab_company *out, int *n,
                      struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;
    int i;

    ab_pgq_init(&q);
    ab_pgq_i64(&q, now_ms);
    ab_pgq_i64(&q, max - *n);
    ab_pgq_i64(&q, run_id);
    ab_pgq_i64(&q, pg->lease_ms > 0 ? pg->lease_ms : DEFAULT_LEASE_MS);
    if (!(r = ab_pg_run(pg, sql, &q, err, "cannot claim companies in")))
        return ab_pg_code(err);
    for (i = 0; i < PQntuples(r) && *n < max; i++) {
        if (read_company(r, i, &out[*n]) != 0) {
            PQclear(r);
            return ab_err_set(err, AB_ENOMEM, "out of memory");
        }
        (*n)++;
    }
    PQclear(r);
    return 0;
}

static int assign_tokens(struct ab_pg *pg, struct ab_company *out, int n,
                         struct ab_err *err)
{
    char tok[AB_SIGN_TOKEN_LEN + 1];
    struct ab_pgq q;
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
        ab_pgq_init(&q);
        ab_pgq_i64(&q, c->id);
        ab_pgq_text(&q, c->callback_token);
        if ((rc = ab_pg_cmd(pg, sql_set_token, &q, NULL, err,
                            "cannot store a callback token in")) != 0)
            return rc;
    }
    return 0;
}

static int release_ids(struct ab_pg *pg, const int64_t *ids, int n,
                       int64_t run_id, struct ab_err *err);

/* The companies of a claim whose COMMIT failed, back to 'pending' if that
 * commit happened after all: they are this run's in the database, and no
 * one else's while it renews them, yet it never got them. */
static int release_unsure(struct ab_pg *pg, struct ab_err *err)
{
    int rc;

    if (pg->nunsure == 0)
        return 0;
    if ((rc = release_ids(pg, pg->unsure, pg->nunsure, pg->unsure_run, err)) !=
        0)
        return rc;
    pg->nunsure = 0;
    return 0;
}

static void remember_unsure(struct ab_pg *pg, int64_t run_id,
                            const struct ab_company *out, int n)
{
    int64_t *t;
    int i;

    /* Still unreleased ones stay: they are of the same run. */
    if (!(t = realloc(pg->unsure, (size_t)(pg->nunsure + n) * sizeof *t)))
        return; /* their leases run out: due again then */
    pg->unsure = t;
    for (i = 0; i < n; i++)
        pg->unsure[pg->nunsure++] = out[i].id;
    pg->unsure_run = run_id;
}

int ab_pg_queue_claim(struct ab_pg *pg, int64_t now_ms, int64_t run_id, int max,
                      int tokens, struct ab_company *out, int *n,
                      struct ab_err *err)
{
    int rc, i, committing = 0;

    *n = 0;
    if (max <= 0)
        return 0;
    if ((rc = release_unsure(pg, err)) != 0)
        return rc;
    if ((rc = ab_pg_begin(pg, err)) != 0)
        return rc;
    rc = claim_from(pg, sql_claim_retry, now_ms, run_id, max, out, n, err);
    if (rc == 0 && *n < max)
        rc = claim_from(pg, sql_claim_lapsed, now_ms, run_id, max, out, n, err);
    if (rc == 0 && *n < max)
        rc =
            claim_from(pg, sql_claim_pending, now_ms, run_id, max, out, n, err);
    if (rc == 0 && tokens)
        rc = assign_tokens(pg, out, *n, err);
    if (rc == 0) {
        committing = 1;
        rc = ab_pg_commit(pg, err);
    } else {
        ab_pg_rollback(pg);
    }
    if (rc != 0) {
        if (committing && run_id)
            remember_unsure(pg, run_id, out, *n);
        for (i = 0; i < *n; i++)
            ab_company_release(&out[i]);
        *n = 0;
    }
    return rc;
}

int ab_pg_queue_retry_wait(struct ab_pg *pg, int64_t *n, int64_t *next_at,
                           struct ab_err *err)
{
    PGresult *r;

    *n = *next_at = 0;
    if (!(r = ab_pg_run(pg, sql_retry_wait, NULL, err,
                        "cannot count retries in")))
        return ab_pg_code(err);
    *n = ab_pg_i64(r, 0, 0);
    *next_at = ab_pg_i64(r, 0, 1);
    PQclear(r);
    return 0;
}

int ab_pg_queue_release(struct ab_pg *pg, const int64_t *ids, int n,
                        struct ab_err *err)
{
    return release_ids(pg, ids, n, pg->run_id, err);
}

static int release_ids(struct ab_pg *pg, const int64_t *ids, int n,
                       int64_t run_id, struct ab_err *err)
{
    struct ab_pgq q;
    char *arr, *p;
    int i, rc;

    if (n == 0)
        return 0;
    if (!(arr = malloc((size_t)n * 21 + 3)))
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    p = arr;
    *p++ = '{';
    for (i = 0; i < n; i++)
        p += sprintf(p, "%s%lld", i ? "," : "", (long long)ids[i]);
    *p++ = '}';
    *p = '\0';
    ab_pgq_init(&q);
    ab_pgq_text(&q, arr);
    ab_pgq_i64(&q, ab_now_ms());
    ab_pgq_i64(&q, run_id);
    rc = ab_pg_cmd(pg, sql_release, &q, NULL, err,
                   "cannot release companies in");
    free(arr);
    return rc;
}

struct peek_ctx {
    int (*fn)(void *ctx, struct ab_company *c);
    void *ctx;
    int oom;
};

static int on_peek_row(void *ctx, const PGresult *r)
{
    struct peek_ctx *p = ctx;
    struct ab_company c;
    int stop;

    if (read_company(r, 0, &c) != 0) {
        p->oom = 1;
        return 1;
    }
    stop = p->fn(p->ctx, &c);
    ab_company_release(&c);
    return stop ? 2 : 0;
}

int ab_pg_queue_peek(struct ab_pg *pg, int64_t now_ms, int64_t limit,
                     int with_in_flight,
                     int (*fn)(void *ctx, struct ab_company *c), void *ctx,
                     struct ab_err *err)
{
    struct peek_ctx p = {fn, ctx, 0};
    struct ab_pgq q;
    int rc;

    ab_pgq_init(&q);
    ab_pgq_i64(&q, now_ms);
    if (limit > 0)
        ab_pgq_i64(&q, limit);
    else
        ab_pgq_null(&q); /* LIMIT NULL: all */
    ab_pgq_bool(&q, with_in_flight);
    rc = ab_pg_each(pg, sql_peek, &q, on_peek_row, &p, err,
                    "cannot read companies from");
    if (p.oom)
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    return rc > 0 ? 0 : rc;
}

/* Why a result found no row to update: this run stored it already (0:
 * the retry of a commit whose answer was lost), the company is gone, or
 * another run holds it now (both AB_ENOENT: nothing is written). */
static int not_held(struct ab_pg *pg, const struct ab_queue_result *r,
                    struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *res;
    int rc;

    if (r->run_id) {
        ab_pgq_init(&q);
        ab_pgq_i64(&q, r->company_id);
        ab_pgq_i64(&q, r->run_id);
        ab_pgq_i64(&q, r->attempt_no);
        ab_pgq_i64(&q, r->started_at);
        ab_pgq_text(&q, ab_outcome_name(r->api->outcome));
        if (!(res = ab_pg_run(pg, sql_stored, &q, err,
                              "cannot record a result in")))
            return ab_pg_code(err);
        rc = PQntuples(res) > 0;
        PQclear(res);
        if (rc)
            return 0;
    }
    ab_pgq_init(&q);
    ab_pgq_i64(&q, r->company_id);
    if (!(res =
              ab_pg_run(pg, sql_holder, &q, err, "cannot record a result in")))
        return ab_pg_code(err);
    if (PQntuples(res) == 0)
        rc = ab_err_set(err, AB_ENOENT,
                        "company #%lld was deleted from the database "
                        "('%s') while its request was out",
                        (long long)r->company_id, pg->shown);
    else if (!ab_pg_isnull(res, 0, 1) && ab_pg_i64(res, 0, 1) != r->run_id)
        rc = ab_err_set(err, AB_ENOENT,
                        "company #%lld was claimed by run #%lld after this "
                        "run's lease on it ran out",
                        (long long)r->company_id,
                        (long long)ab_pg_i64(res, 0, 1));
    else
        rc = ab_err_set(err, AB_ENOENT,
                        "company #%lld is no longer claimed by this run "
                        "(status '%s')",
                        (long long)r->company_id, ab_pg_str(res, 0, 0));
    PQclear(res);
    return rc;
}

int ab_pg_queue_record(struct ab_pg *pg, const struct ab_queue_result *r,
                       struct ab_err *err)
{
    const struct ab_api_result *a = r->api;
    int issued = a->outcome == AB_OUT_ISSUED;
    int transport = a->http_status == 0;
    struct ab_pgq q;
    int64_t changed = 0;
    int rc, again;

    /* A second result for the company in this transaction (a held
     * refusal, then its second opinion): the first one let go of the
     * claim, so this one is not checked against it. */
    again = ab_pg_recorded(pg, r->company_id, 0);
    ab_pgq_init(&q);
    ab_pgq_i64(&q, r->company_id);
    ab_pgq_text(&q, r->status);
    ab_pgq_i64(&q, r->attempt_no);
    if (r->next_attempt_at)
        ab_pgq_i64(&q, r->next_attempt_at);
    else
        ab_pgq_null(&q);
    if (issued) {
        ab_pgq_text(&q, a->ticket);
        ab_pgq_i64(&q, r->started_at + r->duration_ms);
    } else {
        ab_pgq_null(&q);
        ab_pgq_null(&q);
    }
    if (!transport)
        ab_pgq_i64(&q, a->http_status);
    else
        ab_pgq_null(&q);
    if (a->has_code)
        ab_pgq_i64(&q, a->code);
    else
        ab_pgq_null(&q);
    ab_pgq_text(&q, a->message[0] ? a->message : NULL);
    ab_pgq_i64(&q, ab_now_ms());
    ab_pgq_i64(&q, again ? 0 : r->run_id);
    if (issued && r->next_check_at)
        ab_pgq_i64(&q, r->next_check_at);
    else
        ab_pgq_null(&q);
    if (r->run_id)
        ab_pgq_i64(&q, r->run_id);
    else
        ab_pgq_null(&q);
    ab_pgq_i64(&q, r->started_at);
    ab_pgq_i64(&q, r->duration_ms);
    if (!transport) {
        ab_pgq_text(&q, a->message[0] ? a->message : NULL);
        ab_pgq_null(&q);
    } else {
        ab_pgq_null(&q);
        ab_pgq_text(&q, a->message);
    }
    ab_pgq_text(&q, ab_outcome_name(a->outcome));
    if ((rc = ab_pg_cmd(pg, sql_record, &q, &changed, err,
                        "cannot record a result in")) != 0)
        return rc;
    if (changed == 0)
        return not_held(pg, r, err);
    if (!again && ab_pg_recorded(pg, r->company_id, 1) < 0)
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    return 0;
}

int ab_pg_queue_run_start(struct ab_pg *pg, const char *command,
                          const char *options_json, int64_t *run_id,
                          struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;

    ab_pgq_init(&q);
    ab_pgq_i64(&q, ab_now_ms());
    ab_pgq_i64(&q, (int64_t)getpid());
    ab_pgq_text(&q, options_json);
    ab_pgq_text(&q, command);
    if (!(r = ab_pg_run(pg, sql_run_start, &q, err,
                        "cannot record the run in")))
        return ab_pg_code(err);
    *run_id = ab_pg_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

int ab_pg_queue_run_update(struct ab_pg *pg, const struct ab_run_stats *st,
                           int ended, struct ab_err *err)
{
    struct ab_pgq q;

    ab_pgq_init(&q);
    ab_pgq_i64(&q, st->run_id);
    ab_pgq_i64(&q, st->attempts);
    ab_pgq_i64(&q, st->done);
    ab_pgq_i64(&q, st->already_authed);
    ab_pgq_i64(&q, st->failed);
    ab_pgq_i64(&q, st->retries);
    ab_pgq_i64(&q, st->by_outcome[AB_OUT_THROTTLED]);
    ab_pgq_i64(&q, st->transport_errors);
    if (ended) {
        ab_pgq_i64(&q, ab_now_ms());
        ab_pgq_i64(&q, st->exit_status);
    } else {
        ab_pgq_null(&q);
        ab_pgq_null(&q);
    }
    ab_pgq_i64(&q, st->polls);
    return ab_pg_cmd(pg, sql_run_update, &q, NULL, err,
                     "cannot record the run in");
}

/* ---- runs sharing the database --------------------------------------- */

static int share(struct ab_pg *pg, int64_t run_id, int64_t sent_ms,
                 struct ab_queue_share *out, struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;

    ab_pgq_init(&q);
    ab_pgq_i64(&q, run_id);
    if (!(r = ab_pg_run(pg, sql_share, &q, err, "cannot count the runs of")))
        return ab_pg_code(err);
    out->shared = 1;
    out->lease_until = sent_ms + pg->lease_ms;
    out->runners = PQntuples(r) ? (int)ab_pg_i64(r, 0, 0) : 1;
    if (out->runners < 1)
        out->runners = 1;
    out->admitted = PQntuples(r) && ab_pg_i64(r, 0, 1) == 0;
    out->app_rate = PQntuples(r) ? ab_pg_f64(r, 0, 2) : 0;
    out->app_burst = PQntuples(r) ? (int)ab_pg_i64(r, 0, 3) : 0;
    PQclear(r);
    return 0;
}

int ab_pg_queue_join(struct ab_pg *pg, int64_t run_id, int64_t lease_ms,
                     struct ab_queue_share *out, struct ab_err *err)
{
    char host[256], node[160];
    struct ab_pgq q;
    int64_t sent = mono_ms();
    int rc;

    node_id(node, sizeof node);
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';
    pg->lease_ms = lease_ms > 0 ? lease_ms : DEFAULT_LEASE_MS;
    pg->run_id = run_id;
    ab_pgq_init(&q);
    ab_pgq_i64(&q, RUNNERS_KEPT_MS);
    if ((rc = ab_pg_cmd(pg, sql_forget_runners, &q, NULL, err,
                        "cannot join the runs of")) != 0)
        return rc;
    ab_pgq_init(&q);
    ab_pgq_i64(&q, run_id);
    ab_pgq_text(&q, host);
    ab_pgq_i64(&q, (int64_t)getpid());
    ab_pgq_i64(&q, pg->lease_ms);
    ab_pgq_text(&q, node[0] ? node : NULL);
    if ((rc = ab_pg_cmd(pg, sql_join, &q, NULL, err,
                        "cannot join the runs of")) != 0)
        return rc;
    ab_pgq_init(&q);
    ab_pgq_i64(&q, run_id);
    if ((rc = ab_pg_cmd(pg, sql_joined, &q, NULL, err,
                        "cannot join the runs of")) != 0)
        return rc;
    return share(pg, run_id, sent, out, err);
}

int ab_pg_queue_renew(struct ab_pg *pg, int64_t run_id, int64_t now_ms,
                      double rate, double estimate, struct ab_queue_share *out,
                      struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;
    int64_t sent = mono_ms(), changed = 0;
    int rc, lapsed;

    (void)now_ms;
    ab_pgq_init(&q);
    ab_pgq_i64(&q, run_id);
    ab_pgq_i64(&q, pg->lease_ms);
    if ((rc = ab_pg_cmd(pg, sql_renew_claims, &q, NULL, err,
                        "cannot renew the leases in")) != 0)
        return rc;
    ab_pgq_f64(&q, rate);
    ab_pgq_f64(&q, estimate);
    if (!(r = ab_pg_run(pg, sql_renew_runner, &q, err,
                        "cannot renew the leases in")))
        return ab_pg_code(err);
    changed = PQntuples(r);
    lapsed = changed && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (changed == 0) /* its row was deleted: join again */
        return ab_pg_queue_join(pg, run_id, pg->lease_ms, out, err);
    if (lapsed) {
        ab_pgq_init(&q);
        ab_pgq_i64(&q, run_id);
        if ((rc = ab_pg_cmd(pg, sql_joined, &q, NULL, err,
                            "cannot renew the leases in")) != 0)
            return rc;
    }
    return share(pg, run_id, sent, out, err);
}

int ab_pg_queue_leave(struct ab_pg *pg, int64_t run_id, struct ab_err *err)
{
    struct ab_pgq q;
    int rc;

    ab_pgq_init(&q);
    ab_pgq_i64(&q, run_id);
    if ((rc = ab_pg_cmd(pg, sql_leave_polls, &q, NULL, err,
                        "cannot leave the runs of")) != 0)
        return rc;
    return ab_pg_cmd(pg, sql_leave, &q, NULL, err, "cannot leave the runs of");
}

int ab_pg_queue_held_elsewhere(struct ab_pg *pg, int64_t run_id, int64_t *n,
                               int64_t *due_in_ms, struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;

    *n = *due_in_ms = 0;
    ab_pgq_init(&q);
    ab_pgq_i64(&q, run_id);
    if (!(r = ab_pg_run(pg, sql_elsewhere, &q, err,
                        "cannot count the claims in")))
        return ab_pg_code(err);
    *n = ab_pg_i64(r, 0, 0);
    /* Rows without a lease or a holder are due now. */
    *due_in_ms = ab_pg_i64(r, 0, 2) > 0 ? 0 : ab_pg_i64(r, 0, 1);
    PQclear(r);
    return 0;
}
