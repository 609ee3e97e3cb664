/* store_auth.h - observations of a company's authentication (SPEC §6): the
 * auth_events table and the auth_* columns of companies.
 *
 * Shared by the callback receiver (callbacks.h) and the poller (`track`).
 * One observation is one call of ab_store_auth_record(): it stores the
 * event and applies it to the company by the rules of authstatus.h (never
 * backwards). It runs inside a write transaction the caller opened with
 * ab_store_begin() (a poller batches many), or alone, when it opens and
 * commits its own. Inside a transaction it works under a savepoint: a
 * failure leaves the caller's transaction as it was before the call (so
 * one bad observation does not cost the batch), and the caller decides
 * whether to commit the rest.
 *
 * Idempotent: an observation whose dedupe_key the company already has in
 * auth_events (the partial unique index on (company_id, dedupe_key)) is a
 * repeated delivery of the same thing and changes nothing at all, not even
 * auth_checked_at. Observations with a NULL key are all stored.
 *
 * What an observation that is not a duplicate writes to companies:
 *   forward   auth_status, auth_changed_at = observed_at, auth_reason (the
 *             observation's, NULL clears an old one), auth_request_id (if
 *             the observation has one), updated_at;
 *   same      auth_reason and auth_request_id when the observation has
 *             them (a rejection's reason may be refined);
 *   backwards or unknown
 *             nothing but auth_request_id when the company has none yet;
 * and always auth_checked_at = the latest observed_at seen. updated_at
 * moves whenever auth_status, auth_reason or auth_request_id changes. A
 * company whose status is then authenticated, rejected or expired is no
 * longer polled (auth_next_check_at = NULL, tracksched.h), whoever made the
 * observation.
 */
#ifndef AB_STORE_AUTH_H
#define AB_STORE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "authstatus.h"
#include "err.h"
#include "store.h"

enum ab_auth_source {
    AB_AUTH_SRC_POLL,     /* a GET /companyauth/result answer */
    AB_AUTH_SRC_CALLBACK, /* a POST from the vendor to our receiver */
};

/* One observation. Strings are borrowed for the call; NULL means absent. */
struct ab_auth_obs {
    int64_t company_id;
    enum ab_auth_source source;
    const char *raw_status;  /* the vendor's value as received */
    enum ab_auth status;     /* its mapping; AB_AUTH_UNKNOWN when none */
    const char *request_id;  /* the vendor's requestId */
    const char *reason;      /* why (basicReason of a rejection) */
    const char *fields_json; /* what was received, as a JSON object text */
    const char *dedupe_key;  /* identical deliveries share it, or NULL */
    int64_t run_id;          /* runs.id of the poller's run, or 0 */
    int64_t observed_at;     /* Unix ms */
};

struct ab_auth_result {
    int duplicate;          /* already stored: nothing was changed */
    enum ab_auth_move move; /* how the observation compared (authstatus.h) */
    enum ab_auth before;    /* companies.auth_status before the call */
    enum ab_auth after;     /* ...and after it */
    int64_t event_id;       /* the new auth_events row; 0 when duplicate */
};

/* Records o and applies it. out may be NULL. AB_ENOENT: no company with
 * that id (nothing stored). Alone, AB_EBUSY when another writer holds the
 * database beyond the busy timeout. On any failure nothing of o is stored. */
int ab_store_auth_record(struct ab_store *s, const struct ab_auth_obs *o,
                         struct ab_auth_result *out, struct ab_err *err);

/* Sets *ok to 1 when token[0..n) is company id's callback_token, else 0:
 * no such company, no token stored, or another one. The comparison takes
 * the same time whatever the bytes (ab_sign_equal()), and the three
 * refusals look alike to the caller. A read; no transaction needed. */
int ab_store_auth_token_check(struct ab_store *s, int64_t id, const char *token,
                              size_t n, int *ok, struct ab_err *err);

/* A re-issued ticket starts over (authstatus.h): auth_status, auth_reason,
 * auth_request_id and callback_token become NULL; auth_changed_at = now_ms
 * if auth_status was set. The events stay. The tracking schedule
 * (auth_next_check_at, auth_checks) is the poller's to restart. Inside the
 * caller's transaction, or alone. AB_ENOENT: no such company. */
int ab_store_auth_reset(struct ab_store *s, int64_t company_id, int64_t now_ms,
                        struct ab_err *err);

#endif
