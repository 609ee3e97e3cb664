/* claimq.h - the companies a run has claimed and not yet sent.
 *
 * Claims due companies from the store in batches (one short transaction
 * each, so a claimed company shows 'in_flight' only briefly before it is
 * sent), hands them out one at a time, and puts the ones never sent back
 * to 'pending' when the run stops. Counts what it claimed against --limit:
 * once `limit` companies were claimed (retries left by earlier runs count
 * too) it claims no more, so this run's own retries fall to the next run
 * and no company is counted twice.
 */
#ifndef AB_CLAIMQ_H
#define AB_CLAIMQ_H

#include <stdint.h>

#include "company.h"
#include "err.h"
#include "store.h"

struct ab_claimq;

/* batch: companies per claim (>= 1); limit: companies per run, 0 = no
 * limit; tokens: give claimed companies callback tokens (store_queue.h).
 * NULL when out of memory. */
struct ab_claimq *ab_claimq_new(struct ab_store *s, int64_t run_id, int batch,
                                int64_t limit, int tokens);

/* Frees the queue and the companies it holds (call _release first to
 * give them back). NULL is a no-op. */
void ab_claimq_free(struct ab_claimq *q);

/* Companies claimed and not yet handed out. */
int ab_claimq_len(const struct ab_claimq *q);

/* When empty, claims the next due companies. 0 (possibly nothing due),
 * AB_EBUSY (another writer holds the database: try later), or another
 * AB_E* code. *retries (may be NULL) receives how many of the newly
 * claimed companies had been tried before. */
int ab_claimq_refill(struct ab_claimq *q, int64_t now_ms, int64_t *retries,
                     struct ab_err *err);

/* Moves the next claimed company into *out (the caller owns it now) and
 * returns 1, or returns 0 when empty. */
int ab_claimq_pop(struct ab_claimq *q, struct ab_company *out);

/* Puts every claimed, unsent company back to 'pending'. On failure they
 * stay claimed (the next run recovers them) and the queue is empty. */
int ab_claimq_release(struct ab_claimq *q, struct ab_err *err);

/* Drops every claimed, unsent company without giving it back: they are
 * no longer this run's (its lease ran out, runner.h). */
void ab_claimq_forget(struct ab_claimq *q);

/* Non-zero once --limit companies were claimed. */
int ab_claimq_limit_reached(const struct ab_claimq *q);

#endif
