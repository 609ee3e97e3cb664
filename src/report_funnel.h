/* report_funnel.h - the onboarding funnel (store_funnel.h) in every output:
 * the status text and JSON, the report's text, JSON and HTML (a funnel
 * chart), and the metrics file.
 *
 * Stages, each counting the companies that got at least that far:
 *   imported       every company in the database
 *   ticket issued  a current ticket (status done)
 *   in progress    the applicant started (in_progress, authenticated,
 *                  rejected)
 *   authenticated / rejected / expired   the ticket's outcome
 * then the companies by auth_status ("unknown": a ticket, nothing known
 * yet), the time from ticket to authenticated (p50/p90), and the rejection
 * reasons with their counts (the most frequent AB_FUNNEL_MAX_REASONS).
 *
 * Machine formats (JSON, metrics, data-* attributes) use the names above
 * with underscores and are never translated; the text and HTML labels
 * speak the caller's language (i18n.h). Every value from the database
 * (the vendor's reasons) goes through the safetext filter.
 */
#ifndef AB_REPORT_FUNNEL_H
#define AB_REPORT_FUNNEL_H

#include <jansson.h>
#include <stdio.h>

#include "err.h"
#include "i18n.h"
#include "store.h"
#include "store_funnel.h"

#define AB_FUNNEL_MAX_REASONS 10

struct ab_funnel_view {
    struct ab_funnel f;
    struct {
        char *reason; /* "" when the vendor gave none */
        int64_t count;
    } reasons[AB_FUNNEL_MAX_REASONS];
    int nreasons;
    int64_t other_reasons; /* rejected companies past the listed reasons */
};

/* Reads the funnel and the reasons (inside the caller's read transaction,
 * if any). On failure *v is empty (release it all the same). */
int ab_funnel_load(struct ab_store *s, struct ab_funnel_view *v,
                   struct ab_err *err);
void ab_funnel_view_release(struct ab_funnel_view *v);

/* Nothing to show: no ticket was ever issued. */
int ab_funnel_empty(const struct ab_funnel_view *v);

/* Indented text lines (status and the text report), in language l. */
void ab_funnel_print_text(FILE *f, const struct ab_funnel_view *v,
                          enum ab_lang l);

/* A new object: {"stages": {"imported", "ticket_issued", "in_progress",
 * "authenticated", "rejected", "expired": int}, "auth_status":
 * {"unknown", "not_started", "in_progress", "authenticated", "rejected",
 * "expired": int}, "already_authed": int, "ticket_to_authenticated_s":
 * {"n": int, "p50", "p90": num|null}, "rejection_reasons": [{"reason": str,
 * "count": int}], "other_rejections": int}. NULL when out of memory. */
json_t *ab_funnel_json(const struct ab_funnel_view *v);

/* A <figure> with the funnel chart (an inline SVG whose bars carry
 * data-stage and data-count) and the reasons table. */
void ab_funnel_print_html(FILE *f, const struct ab_funnel_view *v,
                          enum ab_lang l);

/* Prometheus text: authbatch_funnel_companies{stage},
 * authbatch_auth_status_companies{auth_status},
 * authbatch_ticket_to_authenticated_p50_seconds and _p90_seconds. */
void ab_funnel_print_metrics(FILE *f, const struct ab_funnel *fu);

#endif
