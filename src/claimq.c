#include "claimq.h"

#include <stdlib.h>

#include "store_queue.h"

#define RELEASE_CHUNK 256

struct ab_claimq {
    struct ab_store *s;
    int64_t run_id;
    int64_t limit, claimed;
    int tokens;
    struct ab_company *c;
    int head, len, cap;
};

struct ab_claimq *ab_claimq_new(struct ab_store *s, int64_t run_id, int batch,
                                int64_t limit, int tokens)
{
    struct ab_claimq *q = calloc(1, sizeof *q);

    if (!q)
        return NULL;
    q->cap = batch >= 1 ? batch : 1;
    if (!(q->c = calloc((size_t)q->cap, sizeof *q->c))) {
        free(q);
        return NULL;
    }
    q->s = s;
    q->run_id = run_id;
    q->limit = limit;
    q->tokens = tokens;
    return q;
}

void ab_claimq_free(struct ab_claimq *q)
{
    int i;

    if (!q)
        return;
    for (i = q->head; i < q->head + q->len; i++)
        ab_company_release(&q->c[i]);
    free(q->c);
    free(q);
}

int ab_claimq_len(const struct ab_claimq *q)
{
    return q->len;
}

int ab_claimq_limit_reached(const struct ab_claimq *q)
{
    return q->limit > 0 && q->claimed >= q->limit;
}

int ab_claimq_refill(struct ab_claimq *q, int64_t now_ms, int64_t *retries,
                     struct ab_err *err)
{
    int max = q->cap, n = 0, i, rc;

    if (retries)
        *retries = 0;
    if (q->len > 0)
        return 0;
    if (q->limit > 0) {
        int64_t left = q->limit - q->claimed;
        if (left <= 0)
            return 0;
        if (left < max)
            max = (int)left;
    }
    q->head = 0;
    rc = ab_queue_claim(q->s, now_ms, q->run_id, max, q->tokens, q->c, &n, err);
    if (rc != 0)
        return rc;
    for (i = 0; retries && i < n; i++)
        if (q->c[i].attempts > 0)
            (*retries)++;
    q->len = n;
    q->claimed += n;
    return 0;
}

int ab_claimq_pop(struct ab_claimq *q, struct ab_company *out)
{
    if (q->len == 0)
        return 0;
    *out = q->c[q->head];
    ab_company_init(&q->c[q->head]);
    q->head++;
    q->len--;
    return 1;
}

int ab_claimq_release(struct ab_claimq *q, struct ab_err *err)
{
    int64_t ids[RELEASE_CHUNK];
    int rc = 0, n = 0;

    while (q->len > 0) {
        ids[n++] = q->c[q->head].id;
        ab_company_release(&q->c[q->head]);
        q->head++;
        q->len--;
        if (n == RELEASE_CHUNK || q->len == 0) {
            if (rc == 0)
                rc = ab_queue_release(q->s, ids, n, err);
            n = 0;
        }
    }
    return rc;
}

void ab_claimq_forget(struct ab_claimq *q)
{
    while (q->len > 0) {
        ab_company_release(&q->c[q->head]);
        q->head++;
        q->len--;
    }
}
