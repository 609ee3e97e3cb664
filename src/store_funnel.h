/* store_funnel.h - the onboarding funnel as the database knows it (SPEC
 * §6): imported -> ticket issued -> in progress -> authenticated /
 * rejected / expired, for `status`, `report` and the metrics file.
 *
 * Counts come from the status and auth_status indexes, so they stay
 * instant on millions of rows; the time from ticket to authenticated sorts
 * the authenticated companies' durations (one pass), the reasons group the
 * rejected ones. Read them inside one ab_store_read_begin() to see one
 * snapshot.
 */
#ifndef AB_STORE_FUNNEL_H
#define AB_STORE_FUNNEL_H

#include <stdint.h>

#include "authstatus.h"
#include "err.h"
#include "store.h"
#include "store_report.h"

struct ab_funnel {
    int64_t imported;       /* every company */
    int64_t issued;         /* a ticket issued and current (status done) */
    int64_t already_authed; /* the vendor said 1605: no ticket needed */
    /* Companies by auth_status; [AB_AUTH_NONE]: ticket issued, nothing
     * known yet. */
    int64_t by_auth[AB_AUTH__COUNT];
    /* The applicant started: in_progress, authenticated or rejected. */
    int64_t started;
    /* ticket_at -> auth_changed_at of the authenticated, in ms. */
    struct ab_percentiles to_auth_ms;
};

/* Fills *f. */
int ab_store_funnel(struct ab_store *s, struct ab_funnel *f,
                    struct ab_err *err);

/* The reasons of rejected companies (auth_reason; NULL as "" ), most
 * frequent first, at most limit (0 = all); fn returning non-zero stops
 * the walk and becomes the return value. The reason is borrowed. */
int ab_store_funnel_reasons(struct ab_store *s, int limit,
                            int (*fn)(void *ctx, const char *reason,
                                      int64_t count),
                            void *ctx, struct ab_err *err);

#endif
