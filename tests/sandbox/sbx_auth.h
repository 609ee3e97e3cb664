/*
 * sbx_auth -- the vendor's records behind both endpoints: every ticket it
 * issued (the ledger) and, per company, the applicant's story since its
 * latest ticket, which GET /companyauth/result reports and the callbacks
 * announce.
 *
 * A ticket starts a story (sbx_story) drawn from the seed, the company name
 * and the ticket's number for that company; it unfolds on a compressed
 * clock (minute_ms real ms per vendor minute) from the time the ticket was
 * issued. A new ticket for the same company restarts the story: the
 * previous ticket's future callbacks are cancelled and its state is frozen
 * as it was when it was superseded (what ?requestId= of it reports). A
 * ticket whose answer never reached the client (delivered = 0) has a story
 * that never starts. Every ticket has a requestId, 19 decimal digits
 * derived from its ledger seq.
 *
 * Thread-safe: one mutex. When a callback sender is given, issuing a ticket
 * with a callbackUrl queues the story's callbacks there (lock order: this
 * module's mutex, then the sender's).
 *
 * Times: now_ms arguments are the sandbox's clock (sbx_clock_now_ms), passed
 * in so tests can drive the clock.
 */
#ifndef SBX_AUTH_H
#define SBX_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sbx_callback.h"
#include "sbx_check.h"
#include "sbx_story.h"

#define SBX_REQUEST_ID_LEN 19
#define SBX_TICKET_LEN 32

/* How the result spells the applicant's name field. */
enum sbx_applicant_field {
    SBX_APPLICANT_NAME = 0, /* "applicantName" (Java SDK v2) */
    SBX_APPLICANT,          /* "applicant" (C# SDK 3.0.2) */
    SBX_APPLICANT_MIXED,    /* either, drawn per answer */
};

struct sbx_auth_opts {
    uint64_t seed;
    struct sbx_fate_mix mix;
    int64_t minute_ms; /* real ms per vendor minute (> 0) */
    enum sbx_applicant_field applicant_field;
    int unknown_status;  /* a status value clients do not know, e.g. 5 */
    double unknown_frac; /* fraction of result answers carrying it */
};

struct sbx_auth;

/* New, empty records; cb (borrowed, may be NULL: no callbacks) must outlive
 * them. NULL on OOM. */
struct sbx_auth *sbx_auth_new(const struct sbx_auth_opts *opts,
                              struct sbx_callbacks *cb);
void sbx_auth_free(struct sbx_auth *a);

/*
 * Issue a ticket for the request f (borrowed) at now_ms; delivered says
 * whether its answer is about to be sent. Writes the ticket (32 lower-case
 * hex) to ticket. Returns the ticket's seq (1, 2, ...), or 0 on OOM or
 * RNG failure (nothing recorded).
 */
size_t sbx_auth_issue(struct sbx_auth *a, const struct sbx_ticket_fields *f,
                      int delivered, int64_t now_ms,
                      char ticket[SBX_TICKET_LEN + 1]);

/* The answer carrying ticket seq did not reach the client after all: its
 * story never starts and its pending callbacks are cancelled. */
void sbx_auth_undelivered(struct sbx_auth *a, size_t seq, int64_t now_ms);

/* The requestId of ticket seq. */
void sbx_auth_request_id(size_t seq, char out[SBX_REQUEST_ID_LEN + 1]);

enum sbx_auth_by { SBX_AUTH_BY_NAME, SBX_AUTH_BY_REQUEST_ID };

/*
 * The "result" object of GET /companyauth/result for key (a company name,
 * or a requestId) at now_ms: {"status":-1} when there is no record, else
 * status, requestId, name, registerNo, legalPerson, applicantName or
 * applicant, applicantPhone (MOBILE contacts), authInfo (a JSON string) and,
 * for a rejection, basicReason; members with no value are left out.
 * u_unknown and u_spelling are uniform draws in [0,1) (the caller owns the
 * randomness): the first swaps in opts.unknown_status when below
 * opts.unknown_frac (records only), the second picks the spelling in mixed
 * mode. Returns a new reference, or NULL on OOM.
 */
json_t *sbx_auth_result(struct sbx_auth *a, enum sbx_auth_by by,
                        const char *key, int64_t now_ms, double u_unknown,
                        double u_spelling);

/* {"tickets":[{"seq","company","ticket","requestId","delivered"}]} */
json_t *sbx_auth_ledger_json(struct sbx_auth *a);

/*
 * The true state of every company with a ticket, at now_ms:
 * {"at_ms":..,"settled":bool,"companies":[{"company","status","requestId",
 * "basicReason"|null,"fate","tickets","delivered","final","changes_at_ms"|
 * null,"callbacks":{..}}]} in first-ticket order; settled when every
 * company is final.
 */
json_t *sbx_auth_truth_json(struct sbx_auth *a, int64_t now_ms);

/* Tickets issued, and of those never delivered. */
void sbx_auth_counts(struct sbx_auth *a, size_t *tickets, size_t *undelivered);

#endif
