/* company.h - one company as the API and the database know it.
 *
 * All strings are owned by the struct (heap, NUL-terminated, valid UTF-8) and
 * freed by ab_company_release(); NULL means "absent" for optional fields.
 */
#ifndef AB_COMPANY_H
#define AB_COMPANY_H

#include <stdint.h>

enum ab_contact_type {
    AB_CONTACT_INFER = 0, /* decide from the contact: '@' means EMAIL */
    AB_CONTACT_MOBILE,
    AB_CONTACT_EMAIL,
};

struct ab_company {
    int64_t id; /* 0 until stored */
    char *company_name;
    char *register_no;
    char *legal_person;
    char *applicant_name;
    char *applicant_contact;
    enum ab_contact_type contact_type;
    char *callback_url;
    int close_button; /* -1 absent, 0 false, 1 true */
    char *modify_fields;
    int attempts;         /* attempts made so far (from the database) */
    char *callback_token; /* the secret of its callback URL, or NULL */
};

/* Zeroes c and marks optional scalars absent. */
void ab_company_init(struct ab_company *c);

/* Frees the strings and re-initialises c. */
void ab_company_release(struct ab_company *c);

/* "MOBILE"/"EMAIL"; for AB_CONTACT_INFER, decided from the contact. */
const char *ab_company_contact_type_name(const struct ab_company *c);

/* Parses "MOBILE"/"EMAIL" (any case); returns 0 or AB_EINVAL. */
int ab_company_parse_contact_type(const char *s, enum ab_contact_type *out);

#endif
