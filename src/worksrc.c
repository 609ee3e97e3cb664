#include "worksrc.h"

#include <stdlib.h>
#include <string.h>

#include "claimq.h"
#include "store_track.h"

/* The poll queue: a cursor over the schedule and what it last read. */
struct pollq {
    struct ab_store *s;
    int64_t cur_at, cur_id;
    int64_t limit, taken;
    struct ab_work *w;
    int head, len, cap;
};

struct ab_worksrc {
    enum ab_work_kind kind;
    struct ab_claimq *tq; /* tickets */
    struct pollq pq;      /* polls */
};

const char *ab_work_kind_name(enum ab_work_kind k)
{
    return k == AB_WORK_POLL ? "poll" : "ticket";
}

struct ab_worksrc *ab_worksrc_tickets(struct ab_store *s, int64_t run_id,
                                      int batch, int64_t limit, int tokens)
{
    struct ab_worksrc *w = calloc(1, sizeof *w);

    if (!w)
        return NULL;
    w->kind = AB_WORK_TICKET;
    if (!(w->tq = ab_claimq_new(s, run_id, batch, limit, tokens))) {
        free(w);
        return NULL;
    }
    return w;
}

struct ab_worksrc *ab_worksrc_polls(struct ab_store *s, int batch,
                                    int64_t limit)
{
    struct ab_worksrc *w = calloc(1, sizeof *w);

    if (!w)
        return NULL;
    w->kind = AB_WORK_POLL;
    w->pq.s = s;
    w->pq.cap = batch >= 1 ? batch : 1;
    w->pq.limit = limit;
    if (!(w->pq.w = calloc((size_t)w->pq.cap, sizeof *w->pq.w))) {
        free(w);
        return NULL;
    }
    ab_worksrc_rewind(w);
    return w;
}

void ab_worksrc_free(struct ab_worksrc *w)
{
    int i;

    if (!w)
        return;
    ab_claimq_free(w->tq);
    for (i = w->pq.head; i < w->pq.head + w->pq.len; i++)
        ab_company_release(&w->pq.w[i].c);
    free(w->pq.w);
    free(w);
}

enum ab_work_kind ab_worksrc_kind(const struct ab_worksrc *w)
{
    return w->kind;
}

int ab_worksrc_len(const struct ab_worksrc *w)
{
    return w->tq ? ab_claimq_len(w->tq) : w->pq.len;
}

int ab_worksrc_refill(struct ab_worksrc *w, int64_t now_ms, int64_t *retries,
                      struct ab_err *err)
{
    struct pollq *q = &w->pq;
    int max = q->cap, n = 0, i, rc;

    if (w->tq)
        return ab_claimq_refill(w->tq, now_ms, retries, err);
    if (retries)
        *retries = 0;
    if (q->len > 0)
        return 0;
    if (q->limit > 0) {
        int64_t left = q->limit - q->taken;
        if (left <= 0)
            return 0;
        if (left < max)
            max = (int)left;
    }
    q->head = 0;
    rc = ab_track_due(q->s, now_ms, &q->cur_at, &q->cur_id, max, q->w, &n, err);
    if (rc != 0)
        return rc;
    for (i = 0; retries && i < n; i++)
        if (q->w[i].c.attempts > 0)
            (*retries)++;
    q->len = n;
    q->taken += n;
    return 0;
}

int ab_worksrc_pop(struct ab_worksrc *w, struct ab_work *out)
{
    struct pollq *q = &w->pq;

    memset(out, 0, sizeof *out);
    if (w->tq) {
        out->kind = AB_WORK_TICKET;
        return ab_claimq_pop(w->tq, &out->c);
    }
    if (q->len == 0)
        return 0;
    *out = q->w[q->head];
    ab_company_init(&q->w[q->head].c);
    q->head++;
    q->len--;
    return 1;
}

int ab_worksrc_release(struct ab_worksrc *w, struct ab_err *err)
{
    struct pollq *q = &w->pq;

    if (w->tq)
        return ab_claimq_release(w->tq, err);
    /* Nothing was marked: unsent polls are simply still due. */
    while (q->len > 0) {
        ab_company_release(&q->w[q->head].c);
        q->head++;
        q->len--;
    }
    return 0;
}

int ab_worksrc_limit_reached(const struct ab_worksrc *w)
{
    if (w->tq)
        return ab_claimq_limit_reached(w->tq);
    return w->pq.limit > 0 && w->pq.taken >= w->pq.limit;
}

void ab_worksrc_rewind(struct ab_worksrc *w)
{
    if (w->tq)
        return;
    w->pq.cur_at = INT64_MIN;
    w->pq.cur_id = INT64_MIN;
}

void ab_worksrc_forget(struct ab_worksrc *w)
{
    if (w->tq)
        ab_claimq_forget(w->tq);
}
