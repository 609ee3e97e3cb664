/* validate.h - one input row checked and normalised, with a precise reason.
 *
 * Pure: no I/O, no allocation, no globals (ab_validate_claimed() frees the
 * blank fields of the company it is given). The import reads a record (a CSV
 * line, a row of another program's SQLite table), maps its fields to the
 * columns below and calls ab_validate_row(); a row that fails is rejected
 * with the reason text, a row that passes goes to the store exactly as
 * normalised here. `run` applies the same rules to every company it claims
 * (ab_validate_claimed()), because rows other programs insert straight into
 * the companies table never went through an import.
 *
 * Rules, applied to every field in this order:
 *  1. trim: ASCII space and tab, U+00A0 (no-break space) and U+3000
 *     (ideographic space) at both ends;
 *  2. the field must be valid UTF-8 (no overlong forms, no surrogates, nothing
 *     above U+10FFFF) and contain no control character (C0 including tab and
 *     newline inside the value, DEL, C1);
 *  3. an empty field means "absent";
 *  4. length limits, counted in Unicode code points (AB_VALIDATE_MAX_*);
 *  5. the column's own format, below.
 *
 * Column formats:
 *  - companyName: required. Its uniqueness is the store's business.
 *  - applicantContact: required. MOBILE: a mainland mobile number; spaces and
 *    hyphens are removed, then a leading +86, 0086 or 86 country code, and
 *    exactly 11 digits must remain, `1` then 3-9 then 9 digits; stored as
 *    those 11 digits. EMAIL: exactly one '@', a non-empty local part without
 *    spaces, a domain of at least two dot-separated labels of [A-Za-z0-9-];
 *    stored as given (trimmed).
 *  - applicantContactType: optional, MOBILE or EMAIL in any case, stored upper
 *    case. When absent it is inferred: a contact with '@' is EMAIL, otherwise
 *    MOBILE. A contact that does not fit its (declared or inferred) type is
 *    rejected, and the inferred type is stored.
 *  - registerNo: optional. Either an 18-character unified social credit code
 *    (GB 32100-2015: charset 0-9 and A-Y without I O S V Z; first character a
 *    registration-authority class 1-9, A, N or Y; characters 3-8 digits, the
 *    administrative division; the last a check character, weights 3^i mod 31),
 *    stored upper case; or a legacy 15-digit registration number whose last
 *    digit is its ISO 7064 MOD 11,10 check digit. The GB 11714 check of the
 *    organisation code inside a USCC (characters 9-17) is deliberately not
 *    verified: codes assigned since 2015 (the "MA..." series, as in
 *    91310000MA1FL4F902) do not all satisfy it, so it would reject real codes.
 *  - callbackUrl: optional; http:// or https:// (any case), a non-empty host,
 *    no spaces.
 *  - closeButton: optional; true/false, 1/0, yes/no in any case.
 *  - modifyFields: optional; comma-separated items, spaces around items
 *    ignored, each one of corpName, registerNo, legalPerson (any case), no
 *    repeats, no empty items; stored as "corpName,registerNo" style.
 */
#ifndef AB_VALIDATE_H
#define AB_VALIDATE_H

#include <stddef.h>

#include "company.h"

/* The input columns, in the API's order. */
enum ab_col {
    AB_COL_COMPANY_NAME,
    AB_COL_REGISTER_NO,
    AB_COL_LEGAL_PERSON,
    AB_COL_APPLICANT_NAME,
    AB_COL_APPLICANT_CONTACT,
    AB_COL_CONTACT_TYPE,
    AB_COL_CALLBACK_URL,
    AB_COL_CLOSE_BUTTON,
    AB_COL_MODIFY_FIELDS,
    AB_COL_COUNT
};

/* Length limits in code points. */
#define AB_VALIDATE_MAX_COMPANY_NAME 100
#define AB_VALIDATE_MAX_PERSON 50 /* legalPerson, applicantName */
#define AB_VALIDATE_MAX_CONTACT 100
#define AB_VALIDATE_MAX_CALLBACK_URL 500

/* A reason fits in this many bytes, NUL included. */
#define AB_VALIDATE_REASON_MAX 256

/* The camelCase name of a column ("companyName"), as in the API. */
const char *ab_validate_col_name(enum ab_col c);

/* Finds the column named by name[0..n) -- camelCase or snake_case, any case
 * ("companyName", "company_name", "COMPANYNAME"). Returns the column, or -1. */
int ab_validate_col_lookup(const char *name, size_t n);

/* A row as read: v[c] points at n[c] bytes (not necessarily NUL-terminated;
 * may contain NUL bytes, which are rejected as control characters); v[c] ==
 * NULL when the file has no such column. Borrowed for the call. */
struct ab_row_in {
    const char *v[AB_COL_COUNT];
    size_t n[AB_COL_COUNT];
};

/* A valid row, normalised: v[c] is NUL-terminated UTF-8 of n[c] bytes, or
 * NULL when absent. v[] points into buf, except v[AB_COL_CONTACT_TYPE] which
 * is always set, to a static "MOBILE" or "EMAIL". v[AB_COL_CLOSE_BUTTON] is
 * always NULL; close_button is -1 (absent), 0 or 1 instead. */
struct ab_row_out {
    const char *v[AB_COL_COUNT];
    size_t n[AB_COL_COUNT];
    int close_button;
    char buf[4096]; /* big enough for every value within its limits */
};

/* Checks and normalises in into out. Returns 0, or AB_EDATA with reason
 * (reason_size bytes, NUL-terminated) naming the column and the problem, e.g.
 * "applicantContact '1380013800' is not a mainland mobile number". On
 * failure out is unspecified. */
int ab_validate_row(const struct ab_row_in *in, struct ab_row_out *out,
                    char *reason, size_t reason_size);

/* The same rules for a company claimed from the database, before its request
 * is built: c's fields are read as an input row (contact_type
 * AB_CONTACT_INFER and close_button -1 read as absent) and, when valid,
 * replaced in place by their normalised form (trimmed; a mobile as its 11
 * digits, "+86 138-0000-1111" -> "13800001111"; registerNo upper case;
 * modifyFields as "corpName,registerNo"; contact_type always MOBILE or
 * EMAIL). Normalising never lengthens a value, so the strings are rewritten
 * in their own buffers; an optional field that is blank is freed and set to
 * NULL. c->id and c->attempts are untouched.
 *
 * Returns 0, or AB_EDATA with why (whylen bytes, NUL-terminated) saying what
 * is wrong, in ab_validate_row()'s words ("applicantContact 'abc' is not a
 * mainland mobile number ..."); c is then left exactly as it was. Such a
 * company must not be sent. */
int ab_validate_claimed(struct ab_company *c, char *why, size_t whylen);

/* Building blocks, exported for tests and other callers. */

/* 0 if s[0..n) is valid UTF-8; otherwise -1 and *bad_at is the byte offset of
 * the first bad sequence. */
int ab_validate_utf8(const char *s, size_t n, size_t *bad_at);

/* The check character a unified social credit code with these first 17
 * characters must end with, or 0 when one of them is outside the charset. */
char ab_validate_uscc_check(const char *first17);

#endif
