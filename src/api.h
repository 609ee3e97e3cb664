/* api.h - the vendor endpoints as data: requests out, outcome classes in.
 *
 * No I/O. ab_api_body() turns a company into the compact UTF-8 JSON body of
 * POST /companyauth/miniappexchange (absent optional fields omitted, never
 * null or ""). ab_api_classify() turns what came back (transport error, or
 * HTTP status + body) into one outcome class of SPEC §2, with the code,
 * message and ticket it carried. ab_api_result_url() and
 * ab_api_classify_result() do the same for GET /companyauth/result (SPEC
 * §6), the poll of `track`: same envelope, same classes, the answer's
 * result read tolerantly into struct ab_api_poll.
 */
#ifndef AB_API_H
#define AB_API_H

#include <stddef.h>
#include <stdint.h>

#include "authstatus.h"
#include "company.h"
#include "headers.h"
#include "outcome.h"

#define AB_API_PATH "/companyauth/miniappexchange"
#define AB_API_RESULT_PATH "/companyauth/result"
#define AB_API_MAX_EXTRA 32

/* Codes that `run --retry-codes` / `--fatal-codes` move to another class. */
struct ab_api_codes {
    long retry[AB_API_MAX_EXTRA];
    int nretry;
    long fatal[AB_API_MAX_EXTRA];
    int nfatal;
};

/* Parses "1,2,3" into codes (appending); returns 0 or AB_EINVAL. */
int ab_api_parse_codes(const char *s, long *codes, int *n);

/* Returns a new malloc'd NUL-terminated body (caller frees), or NULL when
 * out of memory. */
char *ab_api_body(const struct ab_company *c);

/* Fills h with the header lines of one copy of a request (SPEC §1): the
 * App Token, the timestamp now_ms, a fresh UUIDv4 nonce, the signature of
 * the four, and the version header. Call once per copy that goes on the
 * wire (the engine's presend). The token line is a secret: wipe h after
 * use. 0, or AB_EIO when OpenSSL gave no randomness or digest. */
int ab_api_sign_headers(const char *token, const char *secret, int64_t now_ms,
                        struct ab_headers *h);

/* The same lines with the token and signature replaced by "<redacted>",
 * for --dry-run. */
int ab_api_redacted_headers(int64_t now_ms, struct ab_headers *h);

struct ab_api_result {
    enum ab_outcome outcome;
    long http_status; /* 0 when no HTTP answer arrived */
    /* Not the vendor's API answering: an HTTP answer without its JSON
     * envelope (no code) that is not a 5xx, 408 or 429 (e.g. a proxy's HTML
     * 400, a captive portal's 200). outcome is AB_OUT_TRANSIENT then. */
    int foreign;
    /* The answer says the configuration is wrong, whoever the company: a
     * redirect (3xx) or no such endpoint (404, 405). outcome is
     * AB_OUT_FATAL then, and no second opinion changes it. */
    int config;
    int has_code;
    long code;         /* the vendor's code (8-digit responseCode mapped) */
    char message[512]; /* the vendor's message, a transport error, or why the
                          body was not understood; UTF-8, NUL-terminated */
    char ticket[1024]; /* non-empty only for AB_OUT_ISSUED; a longer ticket
                          is AB_OUT_REJECTED with a message saying so */
};

/* transport_error: NULL if an HTTP answer arrived, else curl's text.
 * content_type (may be NULL) names what a non-vendor answer was. extra may
 * be NULL. Always fills *r. */
void ab_api_classify(const char *transport_error, long http_status,
                     const char *content_type, const char *body,
                     size_t body_len, const struct ab_api_codes *extra,
                     struct ab_api_result *r);

/* --- GET /companyauth/result (SPEC §6) ---------------------------------- */

/* Writes s percent-encoded by RFC 3986 to dst (capacity n, NUL-terminated,
 * cut short when n is too small): the unreserved characters A-Z a-z 0-9
 * - . _ ~ as they are, every other byte (UTF-8 bytes one by one) as %XX in
 * upper-case hex. So '&', '+', '=', '%', ' ' and CJK never reach the
 * vendor's query parser raw (a raw '&' would end the name, a raw '+' read
 * as a space). Returns the encoded length, whatever n (snprintf-style):
 * ab_api_query_escape(s, NULL, 0) measures. */
size_t ab_api_query_escape(const char *s, char *dst, size_t n);

/* A new malloc'd "<base_url>/companyauth/result?companyName=<escaped>"
 * (caller frees), or NULL when out of memory. base_url has no trailing
 * slash. The query is not signed (SPEC §1): the headers are the same four
 * as the ticket's (ab_api_sign_headers()). */
char *ab_api_result_url(const char *base_url, const char *company_name);

/* What a result answer said of the company, read tolerantly: unknown
 * members ignored; the applicant under `applicantName` or `applicant`;
 * numbers or strings where strings are expected. Texts are cleaned like
 * ab_api_result.message (valid UTF-8, no control characters) and cut to
 * fit. */
struct ab_api_poll {
    int has_status;      /* the answer had result.status */
    char raw_status[32]; /* as received: "2", "-1", "x", "null", ... */
    enum ab_auth status; /* its mapping (authstatus.h); AB_AUTH_UNKNOWN for a
                            value the mapping does not know */
    char request_id[128];
    char reason[512]; /* basicReason */
    char applicant[256];
    char fields[2048]; /* the whole answer as received (valid JSON: it
                          parsed), "" when larger than this */
};

/* As ab_api_classify(), for an answer of the result endpoint: code 0 with
 * a result object holding a status is AB_OUT_ISSUED ("answered"), whatever
 * the status value (an unknown one is kept raw in p->raw_status, its
 * mapping AB_AUTH_UNKNOWN); code 0 without one is AB_OUT_TRANSIENT. Always
 * fills *r and *p (p->has_status 0 unless answered). */
void ab_api_classify_result(const char *transport_error, long http_status,
                            const char *content_type, const char *body,
                            size_t body_len, const struct ab_api_codes *extra,
                            struct ab_api_result *r, struct ab_api_poll *p);

#endif
