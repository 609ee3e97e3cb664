#include "validate.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static const struct {
    const char *camel;
    const char *flat; /* lower case, no underscores: the lookup key */
} cols[AB_COL_COUNT] = {
    [AB_COL_COMPANY_NAME] = {"companyName", "companyname"},
    [AB_COL_REGISTER_NO] = {"registerNo", "registerno"},
    [AB_COL_LEGAL_PERSON] = {"legalPerson", "legalperson"},
    [AB_COL_APPLICANT_NAME] = {"applicantName", "applicantname"},
    [AB_COL_APPLICANT_CONTACT] = {"applicantContact", "applicantcontact"},
    [AB_COL_CONTACT_TYPE] = {"applicantContactType", "applicantcontacttype"},
    [AB_COL_CALLBACK_URL] = {"callbackUrl", "callbackurl"},
    [AB_COL_CLOSE_BUTTON] = {"closeButton", "closebutton"},
    [AB_COL_MODIFY_FIELDS] = {"modifyFields", "modifyfields"},
};

/* Every value within its limit fits in ab_row_out.buf (4 bytes a code
 * point, a NUL each; contact type and close button take no room). */
_Static_assert(4 * (AB_VALIDATE_MAX_COMPANY_NAME + 18 +
                    2 * AB_VALIDATE_MAX_PERSON + AB_VALIDATE_MAX_CONTACT +
                    AB_VALIDATE_MAX_CALLBACK_URL + 40) +
                       AB_COL_COUNT <=
                   sizeof(((struct ab_row_out *)0)->buf),
               "ab_row_out.buf too small");

const char *ab_validate_col_name(enum ab_col c)
{
    return (unsigned)c < AB_COL_COUNT ? cols[c].camel : "?";
}

int ab_validate_col_lookup(const char *name, size_t n)
{
    char key[32];
    size_t i, k = 0;

    for (i = 0; i < n; i++) {
        char ch = name[i];
        if (ch == '_')
            continue;
        if (k == sizeof key - 1)
            return -1;
        key[k++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    key[k] = '\0';
    for (i = 0; i < AB_COL_COUNT; i++)
        if (strcmp(key, cols[i].flat) == 0)
            return (int)i;
    return -1;
}

static int fail(char *reason, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *reason, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, size, fmt, ap);
    va_end(ap);
    return AB_EDATA;
}

/* Decodes one UTF-8 sequence at s (n > 0 bytes left); returns its length and
 * the code point, or 0 when invalid. */
static size_t utf8_next(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len, i;
    unsigned lo = 0x80, hi = 0xBF;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        *cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        *cp = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        *cp = c & 0x07;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        unsigned b = s[i];
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF))
            return 0;
        *cp = (*cp << 6) | (b & 0x3F);
    }
    return len;
}

int ab_validate_utf8(const char *s, size_t n, size_t *bad_at)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, len;
    unsigned cp;

    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        if ((len = utf8_next(u + i, n - i, &cp)) == 0) {
            if (bad_at)
                *bad_at = i;
            return -1;
        }
        i += len;
    }
    return 0;
}

static int is_space_at_start(const unsigned char *s, size_t n, size_t *len)
{
    if (n >= 1 && (s[0] == ' ' || s[0] == '\t'))
        *len = 1;
    else if (n >= 2 && s[0] == 0xC2 && s[1] == 0xA0)
        *len = 2;
    else if (n >= 3 && s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80)
        *len = 3;
    else
        return 0;
    return 1;
}

static int is_space_at_end(const unsigned char *s, size_t n, size_t *len)
{
    if (n >= 1 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        *len = 1;
    else if (n >= 2 && s[n - 2] == 0xC2 && s[n - 1] == 0xA0)
        *len = 2;
    else if (n >= 3 && s[n - 3] == 0xE3 && s[n - 2] == 0x80 && s[n - 1] == 0x80)
        *len = 3;
    else
        return 0;
    return 1;
}

/* Trims, checks encoding and control characters, counts code points.
 * Returns 0 with *s and *n trimmed and *chars set, or AB_EDATA with reason. */
static int check_text(enum ab_col c, const char **s, size_t *n, size_t *chars,
                      char *reason, size_t rsize)
{
    const unsigned char *u = (const unsigned char *)*s;
    size_t len = *n, k, i, count = 0;
    unsigned cp;

    while (is_space_at_start(u, len, &k)) {
        u += k;
        len -= k;
    }
    while (is_space_at_end(u, len, &k))
        len -= k;
    for (i = 0; i < len;) {
        if (u[i] < 0x80) {
            cp = u[i];
            k = 1;
        } else if ((k = utf8_next(u + i, len - i, &cp)) == 0) {
            return fail(reason, rsize,
                        "%s is not valid UTF-8 (bad byte 0x%02X at byte %zu)",
                        cols[c].camel, u[i], i + 1);
        }
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
            return fail(reason, rsize,
                        "%s contains a control character (U+%04X at "
                        "character %zu)",
                        cols[c].camel, cp, count + 1);
        i += k;
        count++;
    }
    *s = (const char *)u;
    *n = len;
    *chars = count;
    return 0;
}

/* Quotes a (valid, control-free) value for a reason: at most 40 bytes, cut
 * at a character boundary, "..." when cut. */
static const char *show(const char *s, size_t n, char *buf, size_t size)
{
    size_t max = 40;
    if (n <= max) {
        snprintf(buf, size, "%.*s", (int)n, s);
    } else {
        while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
            max--;
        snprintf(buf, size, "%.*s...", (int)max, s);
    }
    return buf;
}

static char *put(struct ab_row_out *out, size_t *used, enum ab_col c,
                 const char *s, size_t n)
{
    char *d = out->buf + *used;
    memcpy(d, s, n);
    d[n] = '\0';
    out->v[c] = d;
    out->n[c] = n;
    *used += n + 1;
    return d;
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static char upper(char ch)
{
    return (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : ch;
}

static int ieq(const char *s, size_t n, const char *word)
{
    size_t i;
    for (i = 0; i < n && word[i]; i++)
        if (upper(s[i]) != upper(word[i]))
            return 0;
    return i == n && word[i] == '\0';
}

/* Mobile: writes the 11 normalised digits to d; 0 or -1. */
static int normalise_mobile(const char *s, size_t n, char *d)
{
    char tmp[AB_VALIDATE_MAX_CONTACT * 4 + 1];
    size_t i, k = 0;
    const char *p;

    for (i = 0; i < n && k < sizeof tmp - 1; i++)
        if (s[i] != ' ' && s[i] != '-')
            tmp[k++] = s[i];
    if (i < n)
        return -1;
    p = tmp;
    if (k == 14 && memcmp(p, "+86", 3) == 0) {
        p += 3;
        k -= 3;
    } else if (k == 15 && memcmp(p, "0086", 4) == 0) {
        p += 4;
        k -= 4;
    } else if (k == 13 && memcmp(p, "86", 2) == 0) {
        p += 2;
        k -= 2;
    }
    if (k != 11 || p[0] != '1' || p[1] < '3' || p[1] > '9')
        return -1;
    for (i = 0; i < 11; i++)
        if (!is_digit(p[i]))
            return -1;
    memcpy(d, p, 11);
    d[11] = '\0';
    return 0;
}

static const char *email_problem(const char *s, size_t n)
{
    const char *at = NULL, *dom, *end = s + n, *label;
    size_t i;
    int dots = 0;

    for (i = 0; i < n; i++) {
        if (s[i] == '@') {
            if (at)
                return "has more than one '@'";
            at = s + i;
        } else if (s[i] == ' ') {
            return "contains a space";
        }
    }
    if (!at)
        return "has no '@'";
    if (at == s)
        return "has an empty local part";
    dom = at + 1;
    if (dom == end)
        return "has an empty domain";
    for (label = dom; label <= end; label++) {
        const char *q = label;
        while (q < end && *q != '.') {
            char ch = *q;
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  is_digit(ch) || ch == '-'))
                return "has a domain with a character other than letters, "
                       "digits, '-' and '.'";
            q++;
        }
        if (q == label)
            return "has an empty domain label";
        if (q == end)
            break;
        dots++;
        label = q;
    }
    if (dots == 0)
        return "has a domain without a dot";
    return NULL;
}

static const char uscc_charset[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

static int uscc_value(char ch)
{
    const char *p = ch ? strchr(uscc_charset, ch) : NULL;
    return p ? (int)(p - uscc_charset) : -1;
}

char ab_validate_uscc_check(const char *first17)
{
    static const int w[17] = {1,  3,  9,  27, 19, 26, 16, 17, 20,
                              29, 25, 13, 8,  24, 10, 30, 28};
    int i, sum = 0, c;
    for (i = 0; i < 17; i++) {
        int v = uscc_value(first17[i]);
        if (v < 0)
            return 0;
        sum += v * w[i];
    }
    c = 31 - sum % 31;
    return uscc_charset[c == 31 ? 0 : c];
}

/* ISO 7064 MOD 11,10 over the 15 digits (the last one the check digit). */
static int mod11_10_ok(const char *d)
{
    int i, p = 10;
    for (i = 0; i < 14; i++) {
        int s = (p % 11) + (d[i] - '0');
        s %= 10;
        p = (s == 0 ? 10 : s) * 2;
    }
    return ((p % 11) + (d[14] - '0')) % 10 == 1;
}

static int check_register_no(const char *s, size_t n, size_t chars, char *d,
                             char *reason, size_t rsize)
{
    char buf[64];
    size_t i;

    if (n == 18) {
        char want;
        for (i = 0; i < 18; i++) {
            d[i] = upper(s[i]);
            if (uscc_value(d[i]) < 0)
                return fail(reason, rsize,
                            "registerNo '%s': character %zu '%c' is not "
                            "allowed in a unified social credit code",
                            show(s, n, buf, sizeof buf), i + 1, s[i]);
        }
        d[18] = '\0';
        if (!strchr("123456789ANY", d[0]))
            return fail(reason, rsize,
                        "registerNo '%s': '%c' is not a registration "
                        "authority class (1-9, A, N, Y)",
                        d, d[0]);
        for (i = 2; i < 8; i++)
            if (!is_digit(d[i]))
                return fail(reason, rsize,
                            "registerNo '%s': characters 3-8 must be "
                            "digits (administrative division code)",
                            d);
        want = ab_validate_uscc_check(d);
        if (d[17] != want)
            return fail(reason, rsize,
                        "registerNo '%s': wrong check character '%c' "
                        "(expected '%c')",
                        d, d[17], want);
        return 0;
    }
    if (n == 15) {
        for (i = 0; i < 15; i++) {
            if (!is_digit(s[i]))
                return fail(reason, rsize,
                            "registerNo '%s': a 15-character registration "
                            "number has digits only",
                            show(s, n, buf, sizeof buf));
            d[i] = s[i];
        }
        d[15] = '\0';
        if (!mod11_10_ok(d))
            return fail(reason, rsize,
                        "registerNo '%s': wrong check digit (ISO 7064 MOD "
                        "11,10)",
                        d);
        return 0;
    }
    return fail(reason, rsize,
                "registerNo '%s' is %zu characters: expected an "
                "18-character unified social credit code or a 15-digit "
                "registration number",
                show(s, n, buf, sizeof buf), chars);
}

static int check_url(const char *s, size_t n, char *reason, size_t rsize)
{
    char buf[64];
    size_t i, start, end;

    for (i = 0; i < n; i++)
        if (s[i] == ' ')
            return fail(reason, rsize, "callbackUrl '%s' contains a space",
                        show(s, n, buf, sizeof buf));
    if (n >= 7 && ieq(s, 7, "http://"))
        start = 7;
    else if (n >= 8 && ieq(s, 8, "https://"))
        start = 8;
    else
        return fail(reason, rsize,
                    "callbackUrl '%s' must start with http:// or https://",
                    show(s, n, buf, sizeof buf));
    end = start;
    while (end < n && s[end] != '/' && s[end] != '?' && s[end] != '#')
        end++;
    /* authority = [userinfo@]host[:port] */
    for (i = end; i > start; i--)
        if (s[i - 1] == '@') {
            start = i;
            break;
        }
    for (i = start; i < end; i++)
        if (s[i] == ':')
            break;
    if (i == start)
        return fail(reason, rsize, "callbackUrl '%s' has no host",
                    show(s, n, buf, sizeof buf));
    return 0;
}

static int check_modify_fields(const char *s, size_t n, char *d, size_t *dn,
                               char *reason, size_t rsize)
{
    static const char *const names[] = {"corpName", "registerNo",
                                        "legalPerson"};
    char buf[64];
    int seen[3] = {0, 0, 0};
    size_t i = 0, k = 0;

    for (;;) {
        size_t a = i, b;
        int j;
        while (i < n && s[i] != ',')
            i++;
        b = i;
        while (a < b && s[a] == ' ')
            a++;
        while (b > a && s[b - 1] == ' ')
            b--;
        if (a == b)
            return fail(reason, rsize, "modifyFields '%s' has an empty item",
                        show(s, n, buf, sizeof buf));
        for (j = 0; j < 3; j++)
            if (ieq(s + a, b - a, names[j]))
                break;
        if (j == 3)
            return fail(reason, rsize,
                        "modifyFields item '%s' is not one of corpName, "
                        "registerNo, legalPerson",
                        show(s + a, b - a, buf, sizeof buf));
        if (seen[j]++)
            return fail(reason, rsize, "modifyFields repeats '%s'", names[j]);
        if (k)
            d[k++] = ',';
        memcpy(d + k, names[j], strlen(names[j]));
        k += strlen(names[j]);
        if (i == n)
            break;
        i++; /* the comma */
    }
    d[k] = '\0';
    *dn = k;
    return 0;
}

int ab_validate_row(const struct ab_row_in *in, struct ab_row_out *out,
                    char *reason, size_t rsize)
{
    const char *v[AB_COL_COUNT];
    size_t n[AB_COL_COUNT], chars[AB_COL_COUNT];
    size_t used = 0;
    char buf[64];
    int c, rc, email;

    memset(out->v, 0, sizeof out->v);
    memset(out->n, 0, sizeof out->n);
    out->close_button = -1;
    for (c = 0; c < AB_COL_COUNT; c++) {
        v[c] = in->v[c];
        n[c] = v[c] ? in->n[c] : 0;
        chars[c] = 0;
        if (v[c] && (rc = check_text((enum ab_col)c, &v[c], &n[c], &chars[c],
                                     reason, rsize)) != 0)
            return rc;
        if (n[c] == 0)
            v[c] = NULL;
    }

    if (!v[AB_COL_COMPANY_NAME])
        return fail(reason, rsize, "companyName is required");
    if (!v[AB_COL_APPLICANT_CONTACT])
        return fail(reason, rsize, "applicantContact is required");

#define LIMIT(col, max)                                                        \
    if (chars[col] > (max))                                                    \
        return fail(reason, rsize,                                             \
                    "%s is %zu characters long, at most %d allowed",           \
                    cols[col].camel, chars[col], (max));
    LIMIT(AB_COL_COMPANY_NAME, AB_VALIDATE_MAX_COMPANY_NAME)
    LIMIT(AB_COL_LEGAL_PERSON, AB_VALIDATE_MAX_PERSON)
    LIMIT(AB_COL_APPLICANT_NAME, AB_VALIDATE_MAX_PERSON)
    LIMIT(AB_COL_APPLICANT_CONTACT, AB_VALIDATE_MAX_CONTACT)
    LIMIT(AB_COL_CALLBACK_URL, AB_VALIDATE_MAX_CALLBACK_URL)
#undef LIMIT

    put(out, &used, AB_COL_COMPANY_NAME, v[AB_COL_COMPANY_NAME],
        n[AB_COL_COMPANY_NAME]);
    if (v[AB_COL_LEGAL_PERSON])
        put(out, &used, AB_COL_LEGAL_PERSON, v[AB_COL_LEGAL_PERSON],
            n[AB_COL_LEGAL_PERSON]);
    if (v[AB_COL_APPLICANT_NAME])
        put(out, &used, AB_COL_APPLICANT_NAME, v[AB_COL_APPLICANT_NAME],
            n[AB_COL_APPLICANT_NAME]);

    /* Contact and its type. */
    {
        const char *ct = v[AB_COL_CONTACT_TYPE];
        const char *s = v[AB_COL_APPLICANT_CONTACT];
        size_t sn = n[AB_COL_APPLICANT_CONTACT];

        if (ct) {
            if (ieq(ct, n[AB_COL_CONTACT_TYPE], "MOBILE"))
                email = 0;
            else if (ieq(ct, n[AB_COL_CONTACT_TYPE], "EMAIL"))
                email = 1;
            else
                return fail(reason, rsize,
                            "applicantContactType '%s' must be MOBILE or "
                            "EMAIL",
                            show(ct, n[AB_COL_CONTACT_TYPE], buf, sizeof buf));
        } else {
            email = memchr(s, '@', sn) != NULL;
        }
        out->v[AB_COL_CONTACT_TYPE] = email ? "EMAIL" : "MOBILE";
        out->n[AB_COL_CONTACT_TYPE] = email ? 5 : 6;
        if (email) {
            const char *why = email_problem(s, sn);
            if (why)
                return fail(reason, rsize,
                            "applicantContact '%s' is not an email address: "
                            "it %s",
                            show(s, sn, buf, sizeof buf), why);
            put(out, &used, AB_COL_APPLICANT_CONTACT, s, sn);
        } else {
            char *d = out->buf + used;
            if (normalise_mobile(s, sn, d) != 0)
                return fail(reason, rsize,
                            "applicantContact '%s' is not a mainland mobile "
                            "number (11 digits starting 13-19, optionally "
                            "+86)",
                            show(s, sn, buf, sizeof buf));
            out->v[AB_COL_APPLICANT_CONTACT] = d;
            out->n[AB_COL_APPLICANT_CONTACT] = 11;
            used += 12;
        }
    }

    if (v[AB_COL_REGISTER_NO]) {
        char *d = out->buf + used;
        if ((rc = check_register_no(
                 v[AB_COL_REGISTER_NO], n[AB_COL_REGISTER_NO],
                 chars[AB_COL_REGISTER_NO], d, reason, rsize)) != 0)
            return rc;
        out->v[AB_COL_REGISTER_NO] = d;
        out->n[AB_COL_REGISTER_NO] = n[AB_COL_REGISTER_NO];
        used += n[AB_COL_REGISTER_NO] + 1;
    }

    if (v[AB_COL_CALLBACK_URL]) {
        if ((rc = check_url(v[AB_COL_CALLBACK_URL], n[AB_COL_CALLBACK_URL],
                            reason, rsize)) != 0)
            return rc;
        put(out, &used, AB_COL_CALLBACK_URL, v[AB_COL_CALLBACK_URL],
            n[AB_COL_CALLBACK_URL]);
    }

    if (v[AB_COL_CLOSE_BUTTON]) {
        const char *s = v[AB_COL_CLOSE_BUTTON];
        size_t sn = n[AB_COL_CLOSE_BUTTON];
        if (ieq(s, sn, "true") || ieq(s, sn, "1") || ieq(s, sn, "yes"))
            out->close_button = 1;
        else if (ieq(s, sn, "false") || ieq(s, sn, "0") || ieq(s, sn, "no"))
            out->close_button = 0;
        else
            return fail(reason, rsize,
                        "closeButton '%s' must be true/false, 1/0 or yes/no",
                        show(s, sn, buf, sizeof buf));
    }

    if (v[AB_COL_MODIFY_FIELDS]) {
        char *d = out->buf + used;
        size_t dn = 0;
        /* The normalised list is at most "corpName,registerNo,legalPerson". */
        if (n[AB_COL_MODIFY_FIELDS] > 200)
            return fail(reason, rsize,
                        "modifyFields is %zu characters long: at most the "
                        "three items corpName, registerNo, legalPerson",
                        chars[AB_COL_MODIFY_FIELDS]);
        if ((rc = check_modify_fields(v[AB_COL_MODIFY_FIELDS],
                                      n[AB_COL_MODIFY_FIELDS], d, &dn, reason,
                                      rsize)) != 0)
            return rc;
        out->v[AB_COL_MODIFY_FIELDS] = d;
        out->n[AB_COL_MODIFY_FIELDS] = dn;
        used += dn + 1;
    }
    return 0;
}

int ab_validate_claimed(struct ab_company *c, char *why, size_t whylen)
{
    char **field[AB_COL_COUNT] = {NULL};
    struct ab_row_in in;
    struct ab_row_out out;
    int col, rc;

    field[AB_COL_COMPANY_NAME] = &c->company_name;
    field[AB_COL_REGISTER_NO] = &c->register_no;
    field[AB_COL_LEGAL_PERSON] = &c->legal_person;
    field[AB_COL_APPLICANT_NAME] = &c->applicant_name;
    field[AB_COL_APPLICANT_CONTACT] = &c->applicant_contact;
    field[AB_COL_CALLBACK_URL] = &c->callback_url;
    field[AB_COL_MODIFY_FIELDS] = &c->modify_fields;

    memset(&in, 0, sizeof in);
    for (col = 0; col < AB_COL_COUNT; col++) {
        if (field[col] && *field[col]) {
            in.v[col] = *field[col];
            in.n[col] = strlen(*field[col]);
        }
    }
    if (c->contact_type == AB_CONTACT_MOBILE ||
        c->contact_type == AB_CONTACT_EMAIL) {
        in.v[AB_COL_CONTACT_TYPE] = ab_company_contact_type_name(c);
        in.n[AB_COL_CONTACT_TYPE] = strlen(in.v[AB_COL_CONTACT_TYPE]);
    }
    if (c->close_button >= 0) {
        in.v[AB_COL_CLOSE_BUTTON] = c->close_button ? "1" : "0";
        in.n[AB_COL_CLOSE_BUTTON] = 1;
    }
    if ((rc = ab_validate_row(&in, &out, why, whylen)) != 0)
        return rc;

    for (col = 0; col < AB_COL_COUNT; col++) {
        if (!field[col] || !*field[col])
            continue;
        if (!out.v[col]) {
            free(*field[col]);
            *field[col] = NULL;
            continue;
        }
        /* Trimming, dropping separators and re-spelling keywords in their
         * own length never make a value longer. */
        assert(out.n[col] <= in.n[col]);
        memcpy(*field[col], out.v[col], out.n[col] + 1);
    }
    c->contact_type = strcmp(out.v[AB_COL_CONTACT_TYPE], "EMAIL") == 0
                          ? AB_CONTACT_EMAIL
                          : AB_CONTACT_MOBILE;
    c->close_button = out.close_button;
    return 0;
}
