/* authstatus.h - what the vendor says of a company's authentication, and
 * which observation may replace which. Pure: no I/O, no allocation.
 *
 * companies.auth_status is NULL until something is known, then one of the
 * names below (SPEC §6). Two vendor scales map into it:
 *
 *   GET /companyauth/result  result.status   callback `status`
 *     -1 no record, 1 not submitted -> not_started
 *     4 in progress                 -> in_progress     0 -> in_progress
 *     2 passed                      -> authenticated   1 -> authenticated
 *     3 rejected (basicReason)      -> rejected        2 -> rejected
 *     6 expired                     -> expired
 *
 * Any other value, or text that is not a decimal integer, maps to
 * AB_AUTH_UNKNOWN: it is kept raw in the event and never guessed at.
 *
 * Never backwards. Each status has a rank; an observation changes
 * auth_status only if its rank is higher than the current one:
 *
 *   rank 0  NULL (nothing known yet)
 *   rank 1  not_started
 *   rank 2  in_progress
 *   rank 3  rejected, expired   (a verdict on this ticket)
 *   rank 4  authenticated       (final: nothing replaces it)
 *
 * So in_progress -> rejected -> authenticated is allowed (an applicant may
 * resubmit after a rejection and pass), but in_progress after
 * authenticated, not_started after in_progress, or expired after rejected
 * (and the other way round: the first verdict stands) are kept as events
 * only. Callbacks arrive out of order (the vendor retries a failed delivery
 * after a minute, by which time the next one may have landed), so rank, not
 * arrival time, decides.
 *
 * A re-issued ticket (`retry --auth rejected,expired`, `run
 * --reissue-after`) starts over: re-issuing sets auth_status, auth_reason
 * and auth_request_id back to NULL and clears callback_token, so the next
 * `run --callback-base` hands the new ticket a new callback URL. The old
 * ticket's late callbacks then fail the token check (404) instead of
 * stamping the new ticket with the old verdict; an authentication made
 * through the old ticket is still seen by `track`, which asks by company
 * name. store_auth.h has the reset (ab_store_auth_reset()).
 */
#ifndef AB_AUTHSTATUS_H
#define AB_AUTHSTATUS_H

/* In rank order; AB_AUTH_NONE is SQL NULL. */
enum ab_auth {
    AB_AUTH_UNKNOWN = -1, /* a vendor value we do not know */
    AB_AUTH_NONE = 0,     /* NULL: nothing known yet */
    AB_AUTH_NOT_STARTED,
    AB_AUTH_IN_PROGRESS,
    AB_AUTH_REJECTED,
    AB_AUTH_EXPIRED,
    AB_AUTH_AUTHENTICATED,
    AB_AUTH__COUNT
};

/* "not_started", ..., "authenticated"; NULL for AB_AUTH_NONE and
 * AB_AUTH_UNKNOWN (both are SQL NULL in the database). */
const char *ab_auth_name(enum ab_auth a);

/* The status named by name (as stored), AB_AUTH_NONE for NULL, or
 * AB_AUTH_UNKNOWN for any other text. */
enum ab_auth ab_auth_lookup(const char *name);

/* The rank above (0 for NONE and UNKNOWN). */
int ab_auth_rank(enum ab_auth a);

/* The vendor's values, as integers or as the text received (a decimal
 * integer with an optional '-', nothing else: " 1" and "1.0" are unknown). */
enum ab_auth ab_auth_from_result_code(long long v);
enum ab_auth ab_auth_from_callback_code(long long v);
enum ab_auth ab_auth_from_result(const char *raw);
enum ab_auth ab_auth_from_callback(const char *raw);

enum ab_auth_move {
    AB_AUTH_MOVE_FORWARD,   /* next replaces cur */
    AB_AUTH_MOVE_SAME,      /* next == cur: nothing to change but details */
    AB_AUTH_MOVE_BACKWARDS, /* next ranks at or below cur: an event only */
    AB_AUTH_MOVE_UNKNOWN,   /* next is AB_AUTH_UNKNOWN: an event only */
};

/* Whether an observation of next may replace the current status cur (which
 * is never AB_AUTH_UNKNOWN: the database holds known names or NULL). An
 * observation of AB_AUTH_NONE is never made; it counts as backwards. */
enum ab_auth_move ab_auth_decide(enum ab_auth cur, enum ab_auth next);

/* "forward", "same", "backwards", "unknown". */
const char *ab_auth_move_name(enum ab_auth_move m);

#endif
