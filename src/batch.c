#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_queue.h"

struct ab_batch {
    struct ab_store *s;
    int64_t run_id;
    struct ab_result *r;
    int n, cap;
};

struct ab_batch *ab_batch_new(struct ab_store *s, int64_t run_id)
{
    struct ab_batch *b = calloc(1, sizeof *b);

    if (!b)
        return NULL;
    b->s = s;
    b->run_id = run_id;
    return b;
}

void ab_batch_free(struct ab_batch *b)
{
    if (!b)
        return;
    free(b->r);
    free(b);
}

struct ab_result *ab_batch_add(struct ab_batch *b)
{
    if (b->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 256;
        struct ab_result *p = realloc(b->r, (size_t)cap * sizeof *p);
        if (!p)
            return NULL;
        b->r = p;
        b->cap = cap;
    }
    memset(&b->r[b->n], 0, sizeof b->r[b->n]);
    return &b->r[b->n++];
}

int ab_batch_len(const struct ab_batch *b)
{
    return b->n;
}

/* A poll's result as the store takes it. */
static int record_poll(struct ab_batch *b, const struct ab_result *r,
                       int *applied, struct ab_err *err)
{
    const struct ab_api_poll *p = &r->poll.obs;
    struct ab_auth_obs o = {
        .raw_status = p->raw_status,
        .status = p->status,
        .request_id = p->request_id[0] ? p->request_id : NULL,
        .reason = p->reason[0] ? p->reason : NULL,
        .fields_json = p->fields[0] ? p->fields : NULL,
        .run_id = b->run_id,
        .observed_at = r->started_at + r->duration_ms,
    };
    struct ab_track_result t = {
        .company_id = r->company_id,
        .ticket_at = r->poll.ticket_at,
        .check_no = r->poll.check_no,
        .what = r->poll.what,
        .fails = r->poll.fails,
        .next_at = r->poll.next_at,
        .obs = &o,
    };
    return ab_track_record(b->s, &t, applied, NULL, err);
}

/* *counts: whether the result counts in the run's totals. */
static int record(struct ab_batch *b, const struct ab_result *r, int *counts,
                  struct ab_err *err)
{
    struct ab_queue_result q = {
        .company_id = r->company_id,
        .run_id = b->run_id,
        .attempt_no = r->attempt_no,
        .started_at = r->started_at,
        .duration_ms = r->duration_ms,
        .api = &r->api,
        .status = r->status,
        .next_attempt_at = r->next_attempt_at,
        .next_check_at = r->next_check_at,
    };
    *counts = 1;
    if (r->kind == AB_WORK_POLL)
        return record_poll(b, r, counts, err);
    return ab_queue_record(b->s, &q, err);
}

static void count(struct ab_run_stats *st, const struct ab_result *r)
{
    if (r->kind == AB_WORK_POLL) {
        if (r->final == AB_FINAL_DONE)
            st->polled++;
        else if (r->final == AB_FINAL_FAILED)
            st->polls_failed++;
        return;
    }
    switch (r->final) {
    case AB_FINAL_DONE:
        st->done++;
        break;
    case AB_FINAL_ALREADY_AUTHED:
        st->already_authed++;
        break;
    case AB_FINAL_FAILED:
        st->failed++;
        break;
    case AB_FINAL_NONE:
        break;
    }
}

/* One pass over the batch in one transaction. slow: a savepoint per row,
 * so a row that breaks a constraint is given up alone; otherwise such a
 * row fails the pass with AB_EDATA (the caller then makes a slow pass).
 * *tmp receives the counters as they are once this pass is committed. */
static int pass(struct ab_batch *b, int slow, struct ab_run_stats *tmp,
                int64_t *vanished, int64_t *dropped, struct ab_err *err)
{
    struct ab_err e = {0};
    int i, rc, counts;

    if ((rc = ab_store_begin(b->s, err)) != 0)
        return rc;
    for (i = 0; i < b->n; i++) {
        const struct ab_result *r = &b->r[i];
        if (slow && (rc = ab_store_savepoint(b->s, err)) != 0)
            goto out_rollback;
        rc = record(b, r, &counts, &e);
        if (rc == AB_ENOENT) {
            /* Deleted by another program since it was claimed, or (a
             * shared store) taken over by another run: there is nothing
             * of this run's left to attach the answer to. The store's
             * message says which. */
            ab_log_warn("%s: its result (%s) is not kept", e.msg,
                        ab_outcome_name(r->api.outcome));
            (*vanished)++;
            rc = 0;
        } else if (rc == AB_EDATA && slow) {
            ab_store_rollback_to(b->s);
            ab_log_error("company #%lld: its result (%s) cannot be stored "
                         "and is given up: %s",
                         (long long)r->company_id,
                         ab_outcome_name(r->api.outcome), e.msg);
            (*dropped)++;
            continue;
        } else if (rc != 0) {
            if (err)
                *err = e;
            goto out_rollback;
        } else if (counts) {
            count(tmp, r);
        }
        if (slow && (rc = ab_store_release(b->s, err)) != 0)
            goto out_rollback;
    }
    if ((rc = ab_queue_run_update(b->s, tmp, 0, err)) != 0)
        goto out_rollback;
    return ab_store_commit(b->s, err);

out_rollback:
    ab_store_rollback(b->s);
    return rc;
}

int ab_batch_commit(struct ab_batch *b, struct ab_run_stats *st,
                    int64_t *vanished, int64_t *dropped, struct ab_err *err)
{
    struct ab_run_stats tmp = *st;
    int64_t v = 0, d = 0;
    int rc;

    if (vanished)
        *vanished = 0;
    if (dropped)
        *dropped = 0;
    if (b->n == 0)
        return 0;
    rc = pass(b, 0, &tmp, &v, &d, err);
    if (rc == AB_EDATA) {
        tmp = *st;
        v = d = 0;
        rc = pass(b, 1, &tmp, &v, &d, err);
    }
    if (rc != 0)
        return rc;
    st->done = tmp.done;
    st->already_authed = tmp.already_authed;
    st->failed = tmp.failed;
    st->polled = tmp.polled;
    st->polls_failed = tmp.polls_failed;
    b->n = 0;
    if (vanished)
        *vanished = v;
    if (dropped)
        *dropped = d;
    return 0;
}
