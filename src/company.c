#include "company.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"

void ab_company_init(struct ab_company *c)
{
    memset(c, 0, sizeof *c);
    c->close_button = -1;
}

void ab_company_release(struct ab_company *c)
{
    free(c->company_name);
    free(c->register_no);
    free(c->legal_person);
    free(c->applicant_name);
    free(c->applicant_contact);
    free(c->callback_url);
    free(c->modify_fields);
    if (c->callback_token) {
        /* A secret: it authenticates the vendor's callbacks. */
        explicit_bzero(c->callback_token, strlen(c->callback_token));
        free(c->callback_token);
    }
    ab_company_init(c);
}

const char *ab_company_contact_type_name(const struct ab_company *c)
{
    switch (c->contact_type) {
    case AB_CONTACT_MOBILE:
        return "MOBILE";
    case AB_CONTACT_EMAIL:
        return "EMAIL";
    case AB_CONTACT_INFER:
        break;
    }
    return c->applicant_contact && strchr(c->applicant_contact, '@') ? "EMAIL"
                                                                     : "MOBILE";
}

int ab_company_parse_contact_type(const char *s, enum ab_contact_type *out)
{
    if (strcasecmp(s, "MOBILE") == 0)
        *out = AB_CONTACT_MOBILE;
    else if (strcasecmp(s, "EMAIL") == 0)
        *out = AB_CONTACT_EMAIL;
    else
        return AB_EINVAL;
    return 0;
}
