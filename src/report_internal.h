/* report_internal.h - shared by the report*.c renderers only. */
#ifndef AB_REPORT_INTERNAL_H
#define AB_REPORT_INTERNAL_H

#include <stddef.h>

#include "report.h"
#include "report_funnel.h"
#include "store_report.h"

#define AB_REPORT_MAX_RUNS 100  /* run history shown */
#define AB_REPORT_MAX_CODES 200 /* error groups shown; the rest summed up */

struct ab_report_codeinfo {
    int has_code;
    int64_t code;
    int64_t count, failed;
    char *message;
    int nexamples;
    char *examples[3];
};

/* Everything a report shows except the company rows. */
struct ab_report_summary {
    struct ab_counts counts;
    struct ab_percentiles attempts; /* per company tried */
    struct ab_percentiles latency;  /* per attempt, ms */
    int64_t latency_hist[AB_LATENCY_BUCKETS];
    struct ab_report_codeinfo *codes;
    size_t ncodes;
    int64_t other_codes_count; /* companies in groups past the cap */
    struct ab_run_row *runs;   /* oldest first, at most AB_REPORT_MAX_RUNS */
    size_t nruns;
    int64_t last_success_ms;      /* 0: never */
    struct ab_funnel_view funnel; /* report_funnel.h */
    int64_t now_ms;
    const char *title;
};

int ab_report_summary_load(struct ab_store *s, struct ab_report_summary *sum,
                           struct ab_err *err);
void ab_report_summary_release(struct ab_report_summary *sum);

/* Requests per second of a run, 0 when it has no duration yet. */
double ab_report_run_rate(const struct ab_run_row *r);

/* "2024-05-01T04:00:00Z" (UTC) and "2024-05-01 12:00:00 +0800" (local). */
void ab_report_iso_utc(char *buf, size_t n, int64_t ms);
void ab_report_local_time(char *buf, size_t n, int64_t ms);

/* The status names, in display order. */
extern const char *const ab_report_statuses[6];
int64_t ab_report_count_of(const struct ab_counts *c, const char *status);

int ab_report_text(struct ab_store *s, const struct ab_report_opts *o,
                   const struct ab_report_summary *sum, FILE *out,
                   struct ab_err *err);
int ab_report_json(struct ab_store *s, const struct ab_report_opts *o,
                   const struct ab_report_summary *sum, FILE *out,
                   struct ab_err *err);
int ab_report_csv(struct ab_store *s, const struct ab_report_opts *o,
                  const struct ab_report_summary *sum, FILE *out,
                  struct ab_err *err);
int ab_report_html(struct ab_store *s, const struct ab_report_opts *o,
                   const struct ab_report_summary *sum, FILE *out,
                   struct ab_err *err);

#endif
