/*
 * sbx_check -- the vendor's request checks, as pure functions.
 *
 * The server (sandbox.c) runs them in the vendor's order:
 *   1. route                     (sandbox.c)
 *   2. four x-qys-open-* headers  sbx_check_auth     -> HTTP 441
 *   3. token known                sbx_check_auth     -> HTTP 442
 *   4. signature                  sbx_check_auth     -> HTTP 443
 *   5. timestamp within window    sbx_check_auth     -> HTTP 444
 *   6. nonce not replayed         sbx_nonce          -> HTTP 445
 *   7. content type               sbx_check_content_type -> 200/1005
 *   8. body shape                 sbx_check_body     -> 200/1005
 *   9. business answer            sbx_check_company  -> 1605 / 1005 / 0
 * Each check fills a struct sbx_answer when it refuses the request.
 */
#ifndef SBX_CHECK_H
#define SBX_CHECK_H

#include <stddef.h>
#include <stdint.h>

#define SBX_HDR_TOKEN "x-qys-open-accesstoken"
#define SBX_HDR_TIMESTAMP "x-qys-open-timestamp"
#define SBX_HDR_NONCE "x-qys-open-nonce"
#define SBX_HDR_SIGNATURE "x-qys-open-signature"

/* Default timestamp skew and nonce memory: 10 minutes. */
#define SBX_WINDOW_MS_DEFAULT (10 * 60 * 1000)

/* The answer the sandbox sends for a refused (or accepted) request. */
struct sbx_answer {
    unsigned int http_status;
    long long code;
    char message[256];
    const char *response_code; /* static string, or NULL: not sent */
};

/* The four signing headers as received; NULL or "" means absent. */
struct sbx_auth_input {
    const char *token;
    const char *timestamp;
    const char *nonce;
    const char *signature;
};

/* Fill ans with an answer; message is copied (and truncated to fit). */
void sbx_answer_set(struct sbx_answer *ans, unsigned int http_status,
                    long long code, const char *message,
                    const char *response_code);

/*
 * Compact JSON body for ans: {"code":..,"message":..[,"responseCode":..]}.
 * Returns a new string the caller frees with free(), or NULL on OOM.
 */
char *sbx_answer_json(const struct sbx_answer *ans);

/*
 * Checks 2-5. want_token/secret are the configured credentials, now_ms the
 * wall clock in Unix ms, window_ms the allowed |now - timestamp|.
 * Returns 0 when all pass (ans untouched), otherwise the refusing code
 * (441..444) with ans filled.
 */
int sbx_check_auth(const struct sbx_auth_input *in, const char *want_token,
                   const char *secret, int64_t now_ms, int64_t window_ms,
                   struct sbx_answer *ans);

/* The 445 answer (check 6 itself lives in sbx_nonce). */
void sbx_answer_replay(struct sbx_answer *ans);

/*
 * The vendor's refusal with a fatal-looking code, as a check or the vendor's
 * application would send it: 441-445 (the checks' own answers, HTTP status =
 * code; 441 names the token header), 1002 PERMISSION DENIED and 1601
 * INSUFFICIENT BALANCE (HTTP 200). Returns 0 with ans filled, or -1 (ans
 * untouched) for any other code.
 */
int sbx_answer_fatal(long long code, struct sbx_answer *ans);

/*
 * Check 7: content_type (may be NULL) must start with application/json,
 * case-insensitively. Returns 0, or 1005 with ans filled.
 */
int sbx_check_content_type(const char *content_type, struct sbx_answer *ans);

/*
 * Check 8: body shape. On success returns 0 and *company is a new string
 * (caller frees) holding companyName. On failure returns 1005, fills ans
 * ("INVALID PARAM: <what>") and sets *company to NULL.
 */
int sbx_check_body(const char *body, size_t len, char **company,
                   struct sbx_answer *ans);

/* What a valid ticket request says about the company and its applicant;
 * every string owned (NULL when absent). */
struct sbx_ticket_fields {
    char *company;
    char *register_no;
    char *legal_person;
    char *applicant_name;
    char *contact;
    int contact_mobile; /* contactType MOBILE (else EMAIL) */
    char *callback_url;
};

/* Free the strings of f and zero it. */
void sbx_ticket_fields_release(struct sbx_ticket_fields *f);

/*
 * Check 8 as sbx_check_body, keeping every field: 0 and *out filled
 * (release it), or 1005 with ans filled and *out zeroed.
 */
int sbx_check_ticket_body(const char *body, size_t len,
                          struct sbx_ticket_fields *out,
                          struct sbx_answer *ans);

/* How the sandbox is configured to treat a company name. */
enum sbx_company_kind {
    SBX_COMPANY_NORMAL = 0,
    SBX_COMPANY_AUTHED,
    SBX_COMPANY_INVALID,
};

/*
 * A sorted, immutable set of company names, loaded from a file with one name
 * per line (surrounding blanks and CR are trimmed, empty lines skipped).
 */
struct sbx_names;

/*
 * Load path. Returns 0 and *out (new; sbx_names_free it), or -1 with a
 * message in err (errlen bytes) when the file cannot be read.
 */
int sbx_names_load(const char *path, struct sbx_names **out, char *err,
                   size_t errlen);
void sbx_names_free(struct sbx_names *names);
int sbx_names_contains(const struct sbx_names *names, const char *name);

/* Business configuration; all members borrowed, any may be NULL. */
struct sbx_business {
    const char *authed_marker;
    const char *invalid_marker;
    const struct sbx_names *authed_list;
    const struct sbx_names *invalid_list;
};

/*
 * Check 9. "Invalid" wins over "authed" when a name is configured as both.
 * For AUTHED and INVALID, ans is filled with the 1605 / 1005 answer.
 */
enum sbx_company_kind sbx_check_company(const struct sbx_business *biz,
                                        const char *company,
                                        struct sbx_answer *ans);

#endif
