/* worksrc.h - where the dispatcher's work comes from: one source per kind
 * of work (work.h), behind one small interface.
 *
 *   tickets  companies due for a ticket, claimed from the store in batches
 *            (claimq.h: marked in_flight, given back when never sent);
 *   polls    companies due for a status poll (store_track.h), read in
 *            schedule order from a cursor; nothing is marked, so nothing
 *            needs giving back.
 *
 * The dispatcher asks its sources in priority order (tickets first) and
 * sends what the first one that has work hands out. Each source counts
 * what it handed out against its own limit (0 = none).
 */
#ifndef AB_WORKSRC_H
#define AB_WORKSRC_H

#include <stdint.h>

#include "err.h"
#include "store.h"
#include "work.h"

struct ab_worksrc;

/* batch: companies per claim or read (>= 1); limit: companies this run, 0
 * = no limit; tokens: give claimed companies callback tokens
 * (store_queue.h). NULL when out of memory. */
struct ab_worksrc *ab_worksrc_tickets(struct ab_store *s, int64_t run_id,
                                      int batch, int64_t limit, int tokens);
struct ab_worksrc *ab_worksrc_polls(struct ab_store *s, int batch,
                                    int64_t limit);

/* Frees the source and the work it holds (call _release first to give
 * claimed work back). NULL is a no-op. */
void ab_worksrc_free(struct ab_worksrc *w);

enum ab_work_kind ab_worksrc_kind(const struct ab_worksrc *w);

/* Work held and not yet handed out. */
int ab_worksrc_len(const struct ab_worksrc *w);

/* When empty, fetches the next due work. 0 (possibly nothing due),
 * AB_EBUSY (another writer holds the database: try later), or another
 * AB_E* code. *retries (may be NULL) receives how many of the new pieces
 * had been tried before. */
int ab_worksrc_refill(struct ab_worksrc *w, int64_t now_ms, int64_t *retries,
                      struct ab_err *err);

/* Moves the next piece into *out (the caller owns out->c now) and returns
 * 1, or returns 0 when empty. */
int ab_worksrc_pop(struct ab_worksrc *w, struct ab_work *out);

/* Gives back every piece held and never handed out (tickets: back to
 * 'pending'; polls: nothing to do). On failure they stay claimed (the next
 * run recovers them) and the source is empty. */
int ab_worksrc_release(struct ab_worksrc *w, struct ab_err *err);

/* Tickets: drops every claimed, unsent piece without giving it back (the
 * run's lease on them ran out, runner.h). Polls: a no-op (nothing is
 * claimed). */
void ab_worksrc_forget(struct ab_worksrc *w);

/* Non-zero once the limit was handed out. */
int ab_worksrc_limit_reached(const struct ab_worksrc *w);

/* Polls: the next refill reads the schedule from its start again, for work
 * that became due behind the cursor. Call only when nothing the source
 * handed out is still outstanding (in flight or uncommitted), or it would
 * be handed out twice. Tickets: a no-op. */
void ab_worksrc_rewind(struct ab_worksrc *w);

#endif
