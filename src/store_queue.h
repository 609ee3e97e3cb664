/* store_queue.h - the companies table as a work queue for `run`.
 *
 * A claimed row is status 'in_flight' with claimed_by = the run's id.
 * Claiming, releasing and recording happen inside transactions the caller
 * opens with ab_store_begin() (claim and release open their own).
 *
 * How many runs work on one database (SPEC §4 "one run per database"):
 *  - SQLite: one at a time (lock.h). A run that died leaves its rows
 *    'in_flight', and the next run (holding the lock, so every other run is
 *    over) puts them back with ab_queue_recover() before claiming.
 *  - PostgreSQL (store_pg.h): any number, on any hosts (the same host
 *    too). Each joins (ab_queue_join()), claims with FOR UPDATE SKIP LOCKED
 *    (no row is handed to two runs), and its claims carry a lease
 *    (lease_until, by the database's clock) that ab_queue_renew() extends
 *    while the run works. A row whose lease ran out is due again for
 *    whichever run claims next (the claim takes it like a pending row, and
 *    ab_queue_recover() puts such rows back to 'pending'); a result for a
 *    row the run no longer holds is not recorded (AB_ENOENT). The runs
 *    share --rate: ab_queue_renew() tells each how many are alive.
 */
#ifndef AB_STORE_QUEUE_H
#define AB_STORE_QUEUE_H

#include <stdint.h>

#include "api.h"
#include "company.h"
#include "runstats.h"
#include "store.h"

/* Puts rows that runs other than run_id left 'in_flight' back to
 * 'pending'; *n = how many. SQLite: call holding the run lock. PostgreSQL:
 * only rows whose lease ran out (or that have none), and every claim of a
 * run on this node (same kernel boot and pid namespace) whose process is
 * gone. */
int ab_queue_recover(struct ab_store *s, int64_t run_id, int64_t *n,
                     struct ab_err *err);

/* Claims up to max due companies (due 'retry_wait' first, then 'pending'),
 * marking them 'in_flight' for run_id in one transaction. Fills
 * out[0..*n) with new companies (release each with ab_company_release()).
 * With tokens, a claimed company that has neither a callback_url nor a
 * callback_token gets a fresh token (sign.h), stored in the same
 * transaction. AB_EBUSY when another writer holds the database: nothing
 * claimed. */
int ab_queue_claim(struct ab_store *s, int64_t now_ms, int64_t run_id, int max,
                   int tokens, struct ab_company *out, int *n,
                   struct ab_err *err);

/* How many companies wait for a retry and when the first is due (Unix ms,
 * 0 when none): an index range over 'retry_wait' only, so it stays cheap on
 * a million rows (ab_store_counts() scans every status). */
int ab_queue_retry_wait(struct ab_store *s, int64_t *n, int64_t *next_at,
                        struct ab_err *err);

/* Companies other runs hold now ('in_flight', claimed_by another run) and
 * how soon the first of their leases runs out (ms, 0 when one has already
 * or has none): what a run that found nothing to claim waits for on a
 * shared store. SQLite: always none (the lock: no other run). */
int ab_queue_held_elsewhere(struct ab_store *s, int64_t run_id, int64_t *n,
                            int64_t *due_in_ms, struct ab_err *err);

/* Puts claimed companies that were never sent back to 'pending'. */
int ab_queue_release(struct ab_store *s, const int64_t *ids, int n,
                     struct ab_err *err);

/* Visits up to limit due companies without changing anything (dry run);
 * 'in_flight' rows only with with_in_flight (they are due when no run
 * holds the lock, and another run's work when one does). fn returns
 * non-zero to stop early. */
int ab_queue_peek(struct ab_store *s, int64_t now_ms, int64_t limit,
                  int with_in_flight,
                  int (*fn)(void *ctx, struct ab_company *c), void *ctx,
                  struct ab_err *err);

/* One answered (or failed) attempt and the company's state after it.
 * Call inside a transaction. AB_ENOENT (nothing written) when the company
 * is no longer in the table (another program deleted it), or (shared
 * store) another run holds it now. 0, writing nothing, when this very
 * result is stored already: the retry of a commit whose answer was lost. */
struct ab_queue_result {
    int64_t company_id;
    int64_t run_id;
    int attempt_no;     /* the company's attempts after this one */
    int64_t started_at; /* Unix ms */
    int64_t duration_ms;
    const struct ab_api_result *api;
    const char *status;      /* the company's new status */
    int64_t next_attempt_at; /* for 'retry_wait', else 0 */
    /* For an issued ticket: when its first status check is due
     * (tracksched.h; 0: not tracked). A new ticket restarts the schedule
     * (auth_checks and auth_poll_fails back to 0). */
    int64_t next_check_at;
};
int ab_queue_record(struct ab_store *s, const struct ab_queue_result *r,
                    struct ab_err *err);

/* A run among the runs sharing the database, as ab_queue_join() and
 * ab_queue_renew() see it. */
struct ab_queue_share {
    int shared; /* 0: one run at a time (SQLite): no lease, no sharing */
    /* Until when (ms on this process's CLOCK_MONOTONIC) the run's claims
     * and its runners row are its own for sure: the lease counted from
     * before the renewal was sent. INT64_MAX when not shared. */
    int64_t lease_until;
    int runners;  /* live runs, this one included (>= 1) */
    int admitted; /* every other live run has renewed since this one
                     joined, so each counts it in its share */
    /* The lowest --rate among the live runs (0: none of them set one) and
     * the lowest --burst: the App's, whatever each run was given. */
    double app_rate;
    int app_burst;
};

/* Joins run_id to the runs sharing the database: from now on its claims
 * carry leases of lease_ms, and its runners row one too. Not shared
 * (SQLite): fills *out and changes nothing. */
int ab_queue_join(struct ab_store *s, int64_t run_id, int64_t lease_ms,
                  struct ab_queue_share *out, struct ab_err *err);

/* Renews the leases of run_id's claims that have not run out and of its
 * runners row (rate and estimate, req/s, are published there, 0 = none),
 * then counts the live runs. A failure changes nothing (the leases keep
 * running out); AB_EBUSY when the database cannot be reached. Not shared:
 * fills *out. now_ms is the wall clock (retries due). */
int ab_queue_renew(struct ab_store *s, int64_t run_id, int64_t now_ms,
                   double rate, double estimate, struct ab_queue_share *out,
                   struct ab_err *err);

/* Removes run_id's runners row (its claims were recorded or released), so
 * the others' shares grow at once, and lets go of the polls it read and
 * never answered (store_track.h). Not shared: nothing. */
int ab_queue_leave(struct ab_store *s, int64_t run_id, struct ab_err *err);

/* Runs table. command ("run", "track") goes to runs.command; options_json
 * is stored as is (it must hold no secret). */
int ab_queue_run_start(struct ab_store *s, const char *command,
                       const char *options_json, int64_t *run_id,
                       struct ab_err *err);
/* Updates the run's counters, polls included (inside the caller's
 * transaction, or alone);
 * with ended = 1 also its end time and exit status. */
int ab_queue_run_update(struct ab_store *s, const struct ab_run_stats *st,
                        int ended, struct ab_err *err);

#endif
