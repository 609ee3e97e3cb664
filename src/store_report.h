/* store_report.h - read-side queries for status, report and metrics, and the
 * one write they need (retry).
 *
 * Everything here reads through the store's cached statements. Queries over
 * companies that a report needs are streamed row by row through a callback;
 * nothing holds the whole table in memory. The queries `status` uses read
 * only the status index and the (small) runs table, so they stay instant on
 * millions of rows.
 *
 * Strings handed to callbacks are borrowed: valid only during the call.
 */
#ifndef AB_STORE_REPORT_H
#define AB_STORE_REPORT_H

#include <stdint.h>

#include "err.h"
#include "store.h"

/* A read transaction, so that every query of one report sees the same
 * snapshot even while a run is writing. _end never fails visibly. */
int ab_store_read_begin(struct ab_store *s, struct ab_err *err);
void ab_store_read_end(struct ab_store *s);

/* One row of the runs table. Absent values are -1 (ended_at, exit_status). */
struct ab_run_row {
    int64_t id;
    int64_t started_at, ended_at; /* Unix ms */
    int64_t pid;
    int64_t attempts, issued, already_authed, failed, retried, throttled,
        transport_errors;
    int exit_status;
    int64_t polls; /* status polls (`track`, `run --track`) */
    int track;     /* a `track` run (runs.command) */
};

/* The newest run; *found is 0 when there is none. For a run without an end
 * (running, or crashed) attempts is counted from the attempts table. */
int ab_store_last_run(struct ab_store *s, struct ab_run_row *out, int *found,
                      struct ab_err *err);

/* Unix ms when the last run that exited 0 ended (its start if it has no
 * end); 0 when no run ever succeeded. */
int ab_store_last_success_ms(struct ab_store *s, int64_t *out,
                             struct ab_err *err);

/* Calls fn for the newest `limit` runs (0 = all) in ascending id order; fn
 * returning non-zero stops the walk and becomes the return value. */
int ab_store_runs_each(struct ab_store *s, int limit,
                       int (*fn)(void *ctx, const struct ab_run_row *r),
                       void *ctx, struct ab_err *err);

/* One company as a report shows it. Absent numbers are -1 (has_* say so for
 * last_code, which may legitimately be negative). */
struct ab_report_company {
    int64_t id;
    const char *company_name;
    const char *register_no; /* NULL if absent */
    const char *status;
    int64_t attempts;
    int64_t last_http_status; /* -1 if absent */
    int has_code;
    int64_t last_code;
    const char *last_message; /* NULL if absent */
    int64_t updated_at;       /* Unix ms */
    const char *ticket;       /* NULL unless asked for and present */
    int64_t ticket_at;        /* -1 unless asked for and present */
    const char *auth_status;  /* SPEC §6; NULL until known */
    const char *auth_reason;  /* NULL if absent */
    int64_t auth_changed_at;  /* -1 if absent */
};

/* Streams companies in id order, only those with `status` unless NULL.
 * Tickets are read from the database only when with_tickets is non-zero.
 * fn returning non-zero stops the walk and becomes the return value. */
int ab_store_report_companies(struct ab_store *s, const char *status,
                              int with_tickets,
                              int (*fn)(void *ctx,
                                        const struct ab_report_company *c),
                              void *ctx, struct ab_err *err);

/* The last answer of companies not (yet) finished successfully (every status
 * but done and already_authed), grouped by last_code: how many, how many of
 * them are failed, the most recent message, and up to 3 example names.
 * Groups come largest first; companies with neither code nor message are
 * left out. */
struct ab_report_code {
    int has_code; /* 0: no vendor code (transport or HTTP error) */
    int64_t code;
    int64_t count;
    int64_t failed;
    const char *message; /* NULL if none */
    int nexamples;
    const char *examples[3];
};

int ab_store_report_codes(struct ab_store *s,
                          int (*fn)(void *ctx, const struct ab_report_code *c),
                          void *ctx, struct ab_err *err);

/* Nearest-rank percentiles of a distribution. All 0 when n is 0. */
struct ab_percentiles {
    int64_t n;
    int64_t p50, p90, p99, max;
};

/* companies.attempts over companies tried at least once. */
int ab_store_attempts_percentiles(struct ab_store *s,
                                  struct ab_percentiles *out,
                                  struct ab_err *err);

/* attempts.duration_ms over every attempt. */
int ab_store_latency_percentiles(struct ab_store *s, struct ab_percentiles *out,
                                 struct ab_err *err);

/* Fixed latency buckets for the histogram, in ms: [lo, hi), the last one
 * open-ended (hi = -1). counts[] receives the attempts in each. */
#define AB_LATENCY_BUCKETS 12
extern const int64_t ab_latency_bucket_lo[AB_LATENCY_BUCKETS];
int ab_store_latency_histogram(struct ab_store *s,
                               int64_t counts[AB_LATENCY_BUCKETS],
                               struct ab_err *err);

/* Attempts per time bucket: the first and last attempts.started_at, then fn
 * for each non-empty bucket of width bucket_ms in ascending order. The
 * caller picks bucket_ms from the span (ab_store_attempts_span). */
int ab_store_attempts_span(struct ab_store *s, int64_t *first_ms,
                           int64_t *last_ms, int64_t *count,
                           struct ab_err *err);
int ab_store_throughput_each(struct ab_store *s, int64_t bucket_ms,
                             int (*fn)(void *ctx, int64_t bucket_start_ms,
                                       int64_t count),
                             void *ctx, struct ab_err *err);

/* Puts failed companies (only those whose last_code equals *code, unless
 * code is NULL) back to pending with attempts 0 and no next_attempt_at, in
 * one BEGIN IMMEDIATE transaction. Rows in any other status are never
 * touched. *changed receives how many rows moved. */
int ab_store_retry_failed(struct ab_store *s, const int64_t *code,
                          int64_t *changed, struct ab_err *err);

#endif
