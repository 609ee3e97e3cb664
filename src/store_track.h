/* store_track.h - the companies table as the poller's work (`track`, SPEC
 * §6), and re-issuing tickets.
 *
 * A company is tracked while companies.auth_next_check_at is set: the
 * ticket's schedule (tracksched.h) puts it there when the ticket is stored
 * (store_queue.c), each answered poll moves it on, a final status clears
 * it. Polls are reads: nothing is claimed or marked in flight (one run per
 * database holds the lock, and the vendor's answer is the same whoever
 * asks), so a run that dies leaves nothing to recover: what it had not
 * committed is simply still due. On PostgreSQL, where runs share the
 * database, ab_track_due() also claims what it reads (claimed_by and a
 * lease on the done row, store_pg_track.c), so that two runs do not poll
 * one company; a run that dies leaves it due when that lease runs out.
 *
 * What a poll leaves, in one transaction with the others of its batch
 * (ab_track_record()):
 *   answered   the observation (store_auth.h: event row, auth_* columns,
 *              never backwards), auth_checks = its check number,
 *              auth_poll_fails = 0, auth_next_check_at = the schedule's next
 *              (NULL once the company's status is final);
 *   given up   the same without an observation: the schedule moves on;
 *   retry      auth_poll_fails, auth_next_check_at = the retry's time;
 *   nothing    (never sent, or the run stopped before a verdict): the
 *              company stays due as it was.
 * A poll's event carries the dedupe key "poll:<ticket_at>:<check>", and its
 * result is applied only while the company still has that ticket and has
 * not counted that check yet: a result written twice (or one about a ticket
 * re-issued meanwhile) changes nothing.
 */
#ifndef AB_STORE_TRACK_H
#define AB_STORE_TRACK_H

#include <stdint.h>

#include "authstatus.h"
#include "err.h"
#include "store.h"
#include "store_auth.h"
#include "work.h"

/* Up to max companies due for a poll at now_ms (auth_next_check_at <=
 * now_ms), in schedule order after the cursor (*cur_at, *cur_id), which
 * moves past the last one read; start a cursor at INT64_MIN, INT64_MIN.
 * Fills out[0..*n) with kind AB_WORK_POLL (release each c with
 * ab_company_release()). A read: no transaction needed, nothing changed. */
int ab_track_due(struct ab_store *s, int64_t now_ms, int64_t *cur_at,
                 int64_t *cur_id, int max, struct ab_work *out, int *n,
                 struct ab_err *err);

/* Tracked companies: *n_due due at now_ms, *next_at the earliest check
 * (0 when none is tracked). From the schedule's index. */
int ab_track_pending(struct ab_store *s, int64_t now_ms, int64_t *n_due,
                     int64_t *next_at, struct ab_err *err);

/* Tickets whose first check is due at now_ms (auth_checks 0). */
int ab_track_first_due(struct ab_store *s, int64_t now_ms, int64_t *n,
                       struct ab_err *err);

/* `track --now`: every tracked company due at now_ms; *n how many were
 * moved forward. */
int ab_track_all_due(struct ab_store *s, int64_t now_ms, int64_t *n,
                     struct ab_err *err);

enum ab_track_what {
    AB_TRACK_NOTHING = 0, /* leave the company as it is */
    AB_TRACK_ANSWERED,    /* obs holds what the vendor said */
    AB_TRACK_GAVE_UP,     /* no answer to use; the schedule moves on */
    AB_TRACK_RETRY,       /* due again at next_at, fails failed attempts */
};

struct ab_track_result {
    int64_t company_id;
    int64_t ticket_at; /* the ticket polled about (ab_work.ticket_at) */
    int check_no;      /* ab_work.checks + 1 */
    enum ab_track_what what;
    int fails;       /* AB_TRACK_RETRY: failed attempts now */
    int64_t next_at; /* when due again (0: not, for a final one) */
    const struct ab_auth_obs *obs; /* AB_TRACK_ANSWERED (dedupe_key and
                                      company_id are filled in here) */
};

/* Applies one poll's result inside the caller's transaction. *applied
 * (may be NULL) is 1 when it changed the company, 0 when it was a repeat
 * or about another ticket; out (may be NULL) gets the observation's
 * effect. AB_ENOENT: the company is gone (nothing written); AB_EDATA: a
 * constraint refused it (the caller's savepoint undoes it). */
int ab_track_record(struct ab_store *s, const struct ab_track_result *r,
                    int *applied, struct ab_auth_result *out,
                    struct ab_err *err);

/* Re-issuing (SPEC §6): puts companies back to 'pending' for a new ticket,
 * attempts reset, the auth state reset by ab_store_auth_reset() (so the
 * old ticket's callbacks get 404), the schedule cleared; the old ticket
 * stays in the row until the new one replaces it. One transaction.
 *
 * ab_track_reissue_auth: done companies whose auth_status is one of the
 * mask's (bit 1 << enum ab_auth; e.g. rejected, expired).
 * ab_track_reissue_unused: done companies whose ticket was stored before
 * before_ms and whose auth_status is NULL or not_started. */
int ab_track_reissue_auth(struct ab_store *s, unsigned mask, int64_t *changed,
                          struct ab_err *err);
int ab_track_reissue_unused(struct ab_store *s, int64_t before_ms,
                            int64_t *changed, struct ab_err *err);

#endif
