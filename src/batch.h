/* batch.h - answered attempts waiting to be committed, and committing them.
 *
 * The dispatcher adds one result per finished attempt (answered, failed at
 * transport level, or never sent); ab_batch_commit() writes them all, and
 * the run's counters, in one transaction. Nothing is dropped on a failure:
 *
 *  - the database busy (another writer holds the lock): the commit rolls
 *    back, every result stays in the batch, and AB_EBUSY tells the caller
 *    to try again later (and to stop sending meanwhile);
 *  - a company deleted by another program since it was claimed: its result
 *    is skipped and counted in *vanished (nothing to attach it to);
 *  - one row breaking a constraint (another program's trigger, say): that
 *    row's result alone is given up (counted in *dropped, with a warning
 *    naming the company), the rest is committed.
 *
 * The run's totals of finished companies (done, already authed, failed)
 * and of polls (answered, given up) count committed results only:
 * ab_batch_commit() adds them to *st in the same transaction that writes
 * the runs row, so the row, the companies and the counters always agree. A
 * poll's result that the store finds to be a repeat (store_track.h) counts
 * nothing.
 */
#ifndef AB_BATCH_H
#define AB_BATCH_H

#include <stdint.h>

#include "api.h"
#include "runstats.h"
#include "store.h"
#include "store_track.h"
#include "work.h"

/* What a finished company counts as once committed. */
enum ab_result_final {
    AB_FINAL_NONE = 0, /* not finished (retry_wait, pending) */
    AB_FINAL_DONE,
    AB_FINAL_ALREADY_AUTHED,
    AB_FINAL_FAILED,
};

struct ab_result {
    enum ab_work_kind kind; /* a ticket's result, or a poll's */
    int64_t company_id;
    int attempt_no;                  /* the company's attempts after this one */
    int64_t started_at, duration_ms; /* Unix ms */
    const char *status;              /* new status (a string literal) */
    int64_t next_attempt_at;         /* for 'retry_wait', else 0 */
    enum ab_result_final final;
    int charged; /* the attempt counts against the company */
    struct ab_api_result api;
    int64_t next_check_at; /* tickets issued: the first status check */
    /* Polls (store_track.h): final is AB_FINAL_DONE for an answered poll,
     * AB_FINAL_FAILED for one given up; status and next_attempt_at are
     * unused. */
    struct {
        int64_t ticket_at;
        int check_no;
        enum ab_track_what what;
        int fails;
        int64_t next_at;
        struct ab_api_poll obs;
    } poll;
};

struct ab_batch;

/* A new empty batch writing to s for run_id. NULL when out of memory. */
struct ab_batch *ab_batch_new(struct ab_store *s, int64_t run_id);

/* Frees the batch and whatever it still holds; NULL is a no-op. */
void ab_batch_free(struct ab_batch *b);

/* A zeroed slot for one more result, owned by the batch; NULL when out of
 * memory (the batch is unchanged). */
struct ab_result *ab_batch_add(struct ab_batch *b);

/* Results waiting. */
int ab_batch_len(const struct ab_batch *b);

/* Commits every waiting result and st's counters (the runs row). 0: all
 * written (or skipped as described above) and the batch is empty;
 * AB_EBUSY: nothing written, everything kept; another AB_E* code: nothing
 * written, everything kept, err says why. vanished and dropped (may be
 * NULL) receive the counts of this commit. */
int ab_batch_commit(struct ab_batch *b, struct ab_run_stats *st,
                    int64_t *vanished, int64_t *dropped, struct ab_err *err);

#endif
