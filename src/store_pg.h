/* store_pg.h - the PostgreSQL implementation of the store's headers.
 *
 * For the store_*.c files only. Every public store function (store.h,
 * store_queue.h, store_import.h, store_report.h, store_auth.h) has the same
 * contract on both engines; the SQLite implementation in store_*.c hands
 * the call to its ab_pg_* twin here when the store was opened on a
 * PostgreSQL database (struct ab_store's pg is set), so nothing outside the
 * store knows which engine it talks to. Only store_pg*.c include
 * <libpq-fe.h>.
 *
 * Which engine (ab_pg_spec()): a store spec that starts with
 * "postgresql://" or "postgres://" (a libpq URI), or a libpq key=value
 * connection string whose first keyword libpq knows ("service=NAME",
 * "host=... dbname=..."), is PostgreSQL; anything else is a SQLite path (a
 * file whose name looks like "key=value" is written "./key=value").
 *
 * What differs underneath, not in the contracts (README "Choosing a
 * store"):
 *  - tables and columns are those of SPEC §3 and §6; migrations are
 *    schema/pg/NNN_*.sql, the PostgreSQL form of schema/NNN_*.sql (same
 *    numbers), tracked in the one-row table authbatch_schema and applied
 *    under an advisory lock, so processes opening at once migrate once;
 *  - write transactions are READ COMMITTED, and rows are claimed with
 *    FOR UPDATE SKIP LOCKED: several runs share the queue; a claim carries
 *    a lease (lease_until) that its run renews (ab_queue_renew());
 *  - a read transaction (ab_store_read_begin()) is REPEATABLE READ;
 *  - the busy timeout is lock_timeout; "durable" is synchronous_commit;
 *  - a connection that breaks makes calls fail with AB_EBUSY ("cannot
 *    reach"): outside a transaction the next call reconnects (at most once
 *    a second); inside one, the caller's rollback ends it first;
 *  - a password in the spec is never shown: ab_store_path() is the spec
 *    with it removed.
 */
#ifndef AB_STORE_PG_H
#define AB_STORE_PG_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "company.h"
#include "err.h"
#include "runstats.h"
#include "store_import.h"

struct ab_pg;
struct ab_counts;
struct ab_queue_result;
struct ab_queue_share;
struct ab_row_out;
struct ab_run_row;
struct ab_report_company;
struct ab_report_code;
struct ab_percentiles;
struct ab_auth_obs;
struct ab_auth_result;

/* Pure (no connection): does spec name a PostgreSQL database? */
int ab_pg_spec(const char *spec);

/* Pure: does spec carry a password (URI user:password@, password=)? */
int ab_pg_has_password(const char *spec);

/* Pure: spec without its password, into out (always NUL-terminated). */
void ab_pg_redact(const char *spec, char *out, size_t n);

/* store.h */
int ab_pg_open(const char *spec, int flags, struct ab_pg **out,
               struct ab_err *err);
void ab_pg_close(struct ab_pg *pg);
const char *ab_pg_shown(const struct ab_pg *pg);
int ab_pg_schema_version(struct ab_pg *pg);
int ab_pg_schema_latest(void);
int ab_pg_begin(struct ab_pg *pg, struct ab_err *err);
int ab_pg_commit(struct ab_pg *pg, struct ab_err *err);
void ab_pg_rollback(struct ab_pg *pg);
int ab_pg_in_tx(const struct ab_pg *pg);
int ab_pg_savepoint(struct ab_pg *pg, const char *name, struct ab_err *err);
int ab_pg_release(struct ab_pg *pg, const char *name, struct ab_err *err);
void ab_pg_rollback_to(struct ab_pg *pg, const char *name);
int ab_pg_durable(struct ab_pg *pg, struct ab_err *err);
void ab_pg_set_busy_timeout(struct ab_pg *pg, int ms);
int ab_pg_counts(struct ab_pg *pg, struct ab_counts *out, struct ab_err *err);

/* store_queue.h */
int ab_pg_queue_recover(struct ab_pg *pg, int64_t run_id, int64_t *n,
                        struct ab_err *err);
int ab_pg_queue_claim(struct ab_pg *pg, int64_t now_ms, int64_t run_id, int max,
                      int tokens, struct ab_company *out, int *n,
                      struct ab_err *err);
int ab_pg_queue_retry_wait(struct ab_pg *pg, int64_t *n, int64_t *next_at,
                           struct ab_err *err);
int ab_pg_queue_release(struct ab_pg *pg, const int64_t *ids, int n,
                        struct ab_err *err);
int ab_pg_queue_peek(struct ab_pg *pg, int64_t now_ms, int64_t limit,
                     int with_in_flight,
                     int (*fn)(void *ctx, struct ab_company *c), void *ctx,
                     struct ab_err *err);
int ab_pg_queue_record(struct ab_pg *pg, const struct ab_queue_result *r,
                       struct ab_err *err);
int ab_pg_queue_run_start(struct ab_pg *pg, const char *command,
                          const char *options_json, int64_t *run_id,
                          struct ab_err *err);
int ab_pg_queue_run_update(struct ab_pg *pg, const struct ab_run_stats *st,
                           int ended, struct ab_err *err);
int ab_pg_queue_join(struct ab_pg *pg, int64_t run_id, int64_t lease_ms,
                     struct ab_queue_share *out, struct ab_err *err);
int ab_pg_queue_renew(struct ab_pg *pg, int64_t run_id, int64_t now_ms,
                      double rate, double estimate, struct ab_queue_share *out,
                      struct ab_err *err);
int ab_pg_queue_leave(struct ab_pg *pg, int64_t run_id, struct ab_err *err);
int ab_pg_queue_held_elsewhere(struct ab_pg *pg, int64_t run_id, int64_t *n,
                               int64_t *due_in_ms, struct ab_err *err);

/* store_import.h */
int ab_pg_import_begin(struct ab_pg *pg, const char *source,
                       struct ab_err *err);
int ab_pg_import_row(struct ab_pg *pg, const struct ab_row_out *row,
                     int64_t line, int64_t now, enum ab_import_outcome *outcome,
                     int64_t *first_line, struct ab_err *err);
int ab_pg_import_reject(struct ab_pg *pg, const char *source, int64_t line,
                        const char *reason, const void *raw, size_t rawlen,
                        int64_t now, struct ab_err *err);
int ab_pg_import_end(struct ab_pg *pg, int commit, struct ab_err *err);
int ab_pg_rejects_each(struct ab_pg *pg, const char *source,
                       int (*fn)(void *ctx, int64_t line, const char *reason,
                                 const void *raw, size_t rawlen),
                       void *ctx, struct ab_err *err);

/* store_report.h */
int ab_pg_read_begin(struct ab_pg *pg, struct ab_err *err);
void ab_pg_read_end(struct ab_pg *pg);
int ab_pg_last_run(struct ab_pg *pg, struct ab_run_row *out, int *found,
                   struct ab_err *err);
int ab_pg_last_success_ms(struct ab_pg *pg, int64_t *out, struct ab_err *err);
int ab_pg_runs_each(struct ab_pg *pg, int limit,
                    int (*fn)(void *ctx, const struct ab_run_row *r), void *ctx,
                    struct ab_err *err);
int ab_pg_report_companies(struct ab_pg *pg, const char *status,
                           int with_tickets,
                           int (*fn)(void *ctx,
                                     const struct ab_report_company *c),
                           void *ctx, struct ab_err *err);
int ab_pg_report_codes(struct ab_pg *pg,
                       int (*fn)(void *ctx, const struct ab_report_code *c),
                       void *ctx, struct ab_err *err);
int ab_pg_attempts_percentiles(struct ab_pg *pg, struct ab_percentiles *out,
                               struct ab_err *err);
int ab_pg_latency_percentiles(struct ab_pg *pg, struct ab_percentiles *out,
                              struct ab_err *err);
int ab_pg_latency_histogram(struct ab_pg *pg, int64_t *counts,
                            struct ab_err *err);
int ab_pg_attempts_span(struct ab_pg *pg, int64_t *first_ms, int64_t *last_ms,
                        int64_t *count, struct ab_err *err);
int ab_pg_throughput_each(struct ab_pg *pg, int64_t bucket_ms,
                          int (*fn)(void *ctx, int64_t bucket_start_ms,
                                    int64_t count),
                          void *ctx, struct ab_err *err);
int ab_pg_retry_failed(struct ab_pg *pg, const int64_t *code, int64_t *changed,
                       struct ab_err *err);

/* store_auth.h */
int ab_pg_auth_record(struct ab_pg *pg, const struct ab_auth_obs *o,
                      struct ab_auth_result *out, struct ab_err *err);
int ab_pg_auth_token_check(struct ab_pg *pg, int64_t id, const char *token,
                           size_t n, int *ok, struct ab_err *err);
int ab_pg_auth_reset(struct ab_pg *pg, int64_t company_id, int64_t now_ms,
                     struct ab_err *err);

/* store_track.h */
struct ab_work;
struct ab_track_result;
int ab_pg_track_due(struct ab_pg *pg, int64_t now_ms, int64_t *cur_at,
                    int64_t *cur_id, int max, struct ab_work *out, int *n,
                    struct ab_err *err);
int ab_pg_track_pending(struct ab_pg *pg, int64_t now_ms, int64_t *n_due,
                        int64_t *next_at, struct ab_err *err);
int ab_pg_track_first_due(struct ab_pg *pg, int64_t now_ms, int64_t *n,
                          struct ab_err *err);
int ab_pg_track_all_due(struct ab_pg *pg, int64_t now_ms, int64_t *n,
                        struct ab_err *err);
int ab_pg_track_record(struct ab_pg *pg, const struct ab_track_result *r,
                       int *applied, struct ab_auth_result *out,
                       struct ab_err *err);
int ab_pg_track_reissue_auth(struct ab_pg *pg, unsigned mask, int64_t *changed,
                             struct ab_err *err);
int ab_pg_track_reissue_unused(struct ab_pg *pg, int64_t before_ms,
                               int64_t *changed, struct ab_err *err);

/* store_funnel.h */
struct ab_funnel;
int ab_pg_funnel(struct ab_pg *pg, struct ab_funnel *f, struct ab_err *err);
int ab_pg_funnel_reasons(struct ab_pg *pg, int limit,
                         int (*fn)(void *ctx, const char *reason,
                                   int64_t count),
                         void *ctx, struct ab_err *err);

#endif
