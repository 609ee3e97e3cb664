/* test_validate.c - the row rules of validate.h, from a table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "validate.h"

#define NONE AB_COL_COUNT

/* One case: a valid base row (companyName 示例公司, applicantContact
 * 13800138000) with up to two fields replaced. want_reason NULL means the
 * row must pass, and then want_value (if set) is the normalised value of
 * check_col (default: the first replaced column). */
struct vcase {
    const char *name;
    enum ab_col col;
    const char *value;
    enum ab_col col2;
    const char *value2;
    const char *want_reason;
    const char *want_value;
    enum ab_col check_col;
};

#define OK(n, c, v, want)                                                      \
    {                                                                          \
        n, c, v, NONE, NULL, NULL, want, c                                     \
    }
#define OK2(n, c, v, c2, v2, want, cc)                                         \
    {                                                                          \
        n, c, v, c2, v2, NULL, want, cc                                        \
    }
#define BAD(n, c, v, why)                                                      \
    {                                                                          \
        n, c, v, NONE, NULL, why, NULL, NONE                                   \
    }
#define BAD2(n, c, v, c2, v2, why)                                             \
    {                                                                          \
        n, c, v, c2, v2, why, NULL, NONE                                       \
    }

static const char long100[] =
    "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五"
    "六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十"
    "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十";

static char long101[sizeof long100 + 8];
static char long51[64];
static char long50[64];
static char url501[520];

static const struct vcase cases[] = {
    /* mobiles */
    OK("mobile plain", AB_COL_APPLICANT_CONTACT, "13800138000", "13800138000"),
    OK("mobile +86 with spaces and hyphens", AB_COL_APPLICANT_CONTACT,
       "+86 139-0013-9000", "13900139000"),
    OK("mobile 86 prefix", AB_COL_APPLICANT_CONTACT, "8615900001111",
       "15900001111"),
    OK("mobile 0086 prefix", AB_COL_APPLICANT_CONTACT, "0086 186 0000 2222",
       "18600002222"),
    OK("mobile 19x", AB_COL_APPLICANT_CONTACT, "19912345678", "19912345678"),
    BAD("mobile 10 digits", AB_COL_APPLICANT_CONTACT, "1380013800",
        "is not a mainland mobile number"),
    BAD("mobile 12 digits", AB_COL_APPLICANT_CONTACT, "138001380001",
        "is not a mainland mobile number"),
    BAD("mobile leading 2", AB_COL_APPLICANT_CONTACT, "23800138000",
        "is not a mainland mobile number"),
    BAD("mobile second digit 2", AB_COL_APPLICANT_CONTACT, "12800138000",
        "is not a mainland mobile number"),
    BAD("mobile with letters", AB_COL_APPLICANT_CONTACT, "1380013800a",
        "is not a mainland mobile number"),
    BAD("mobile +1 country", AB_COL_APPLICANT_CONTACT, "+1 13800138000",
        "is not a mainland mobile number"),
    BAD("mobile landline", AB_COL_APPLICANT_CONTACT, "010-12345678",
        "is not a mainland mobile number"),
    /* emails */
    OK("email", AB_COL_APPLICANT_CONTACT, "li.si@example.com",
       "li.si@example.com"),
    OK2("email declared, lower case type", AB_COL_APPLICANT_CONTACT,
        "a@b.example.cn", AB_COL_CONTACT_TYPE, "email", "EMAIL",
        AB_COL_CONTACT_TYPE),
    OK2("email inferred type", AB_COL_APPLICANT_CONTACT, "x@y.org",
        AB_COL_CONTACT_TYPE, "", "EMAIL", AB_COL_CONTACT_TYPE),
    OK2("mobile inferred type", AB_COL_APPLICANT_CONTACT, "13800138000",
        AB_COL_CONTACT_TYPE, NULL, "MOBILE", AB_COL_CONTACT_TYPE),
    BAD("email two @", AB_COL_APPLICANT_CONTACT, "a@b@c.com",
        "more than one '@'"),
    BAD("email no dot in domain", AB_COL_APPLICANT_CONTACT, "a@localhost",
        "domain without a dot"),
    BAD("email empty local part", AB_COL_APPLICANT_CONTACT, "@example.com",
        "empty local part"),
    BAD("email empty label", AB_COL_APPLICANT_CONTACT, "a@example..com",
        "empty domain label"),
    BAD("email space in local part", AB_COL_APPLICANT_CONTACT,
        "li si@example.com", "contains a space"),
    BAD("email bad domain char", AB_COL_APPLICANT_CONTACT, "a@exa_mple.com",
        "domain with a character"),
    BAD2("email declared MOBILE", AB_COL_APPLICANT_CONTACT, "a@b.com",
         AB_COL_CONTACT_TYPE, "MOBILE", "is not a mainland mobile number"),
    BAD2("mobile declared EMAIL", AB_COL_APPLICANT_CONTACT, "13800138000",
         AB_COL_CONTACT_TYPE, "Email", "is not an email address"),
    BAD("contact type unknown", AB_COL_CONTACT_TYPE, "FAX",
        "applicantContactType 'FAX' must be MOBILE or EMAIL"),
    BAD("contact missing", AB_COL_APPLICANT_CONTACT, "   ",
        "applicantContact is required"),
    /* registerNo */
    OK("uscc sample", AB_COL_REGISTER_NO, "91310000MA1FL4F902",
       "91310000MA1FL4F902"),
    OK("uscc with letter check", AB_COL_REGISTER_NO, "91440300708461136T",
       "91440300708461136T"),
    OK("uscc check char 0", AB_COL_REGISTER_NO, "911101000000000040",
       "911101000000000040"),
    OK("uscc check char Y", AB_COL_REGISTER_NO, "52310000500000003Y",
       "52310000500000003Y"),
    OK("uscc lower case normalised", AB_COL_REGISTER_NO, "91440300708461136t",
       "91440300708461136T"),
    BAD("uscc wrong check char", AB_COL_REGISTER_NO, "91310000MA1FL4F903",
        "wrong check character '3' (expected '2')"),
    BAD("uscc letter I not allowed", AB_COL_REGISTER_NO, "91310000MI1FL4F902",
        "character 10 'I' is not allowed"),
    BAD("uscc bad authority class", AB_COL_REGISTER_NO, "B1310000MA1FL4F902",
        "is not a registration authority class"),
    BAD("uscc letters in division code", AB_COL_REGISTER_NO,
        "9131A000MA1FL4F902", "characters 3-8 must be digits"),
    OK("legacy 15-digit", AB_COL_REGISTER_NO, "110108000000016",
       "110108000000016"),
    BAD("legacy 15-digit wrong check", AB_COL_REGISTER_NO, "110108000000017",
        "wrong check digit"),
    BAD("legacy with letter", AB_COL_REGISTER_NO, "11010800000001X",
        "digits only"),
    BAD("register no 17 chars", AB_COL_REGISTER_NO, "9131000MA1FL4F902",
        "is 17 characters"),
    /* callbackUrl */
    OK("url https", AB_COL_CALLBACK_URL, "https://example.com/cb?x=1",
       "https://example.com/cb?x=1"),
    OK("url HTTP upper case scheme, port", AB_COL_CALLBACK_URL,
       "HTTP://example.com:8080", "HTTP://example.com:8080"),
    BAD("url ftp", AB_COL_CALLBACK_URL, "ftp://example.com",
        "must start with http:// or https://"),
    BAD("url no host", AB_COL_CALLBACK_URL, "https:///path", "has no host"),
    BAD("url port only", AB_COL_CALLBACK_URL, "http://:80/x", "has no host"),
    BAD("url with space", AB_COL_CALLBACK_URL, "https://exa mple.com",
        "contains a space"),
    BAD("url too long", AB_COL_CALLBACK_URL, url501,
        "callbackUrl is 501 characters long, at most 500"),
    /* closeButton */
    OK2("closeButton TRUE", AB_COL_CLOSE_BUTTON, "TRUE", NONE, NULL, NULL,
        NONE),
    OK2("closeButton no", AB_COL_CLOSE_BUTTON, "no", NONE, NULL, NULL, NONE),
    BAD("closeButton maybe", AB_COL_CLOSE_BUTTON, "maybe",
        "closeButton 'maybe' must be true/false, 1/0 or yes/no"),
    BAD("closeButton 2", AB_COL_CLOSE_BUTTON, "2", "closeButton '2'"),
    /* modifyFields */
    OK("modifyFields spaces and case", AB_COL_MODIFY_FIELDS,
       " corpname , registerNo ", "corpName,registerNo"),
    OK("modifyFields all three", AB_COL_MODIFY_FIELDS,
       "legalPerson,corpName,registerNo", "legalPerson,corpName,registerNo"),
    BAD("modifyFields repeat", AB_COL_MODIFY_FIELDS, "corpName,corpName",
        "modifyFields repeats 'corpName'"),
    BAD("modifyFields unknown", AB_COL_MODIFY_FIELDS, "corpName,address",
        "modifyFields item 'address' is not one of"),
    BAD("modifyFields empty item", AB_COL_MODIFY_FIELDS,
        "corpName,,legalPerson", "has an empty item"),
    BAD("modifyFields trailing comma", AB_COL_MODIFY_FIELDS, "corpName,",
        "has an empty item"),
    /* encoding and control characters */
    BAD("invalid utf-8 byte", AB_COL_LEGAL_PERSON, "张\xff三",
        "legalPerson is not valid UTF-8 (bad byte 0xFF at byte 4)"),
    BAD("overlong slash", AB_COL_APPLICANT_NAME, "a\xc0\xaf",
        "applicantName is not valid UTF-8"),
    BAD("overlong 3-byte", AB_COL_APPLICANT_NAME, "\xe0\x80\xaf",
        "applicantName is not valid UTF-8"),
    BAD("surrogate", AB_COL_COMPANY_NAME, "a\xed\xa0\x80",
        "companyName is not valid UTF-8"),
    BAD("above U+10FFFF", AB_COL_COMPANY_NAME, "\xf4\x90\x80\x80",
        "companyName is not valid UTF-8"),
    BAD("truncated sequence", AB_COL_COMPANY_NAME, "公\xe5\x8f",
        "companyName is not valid UTF-8"),
    BAD("tab inside", AB_COL_COMPANY_NAME, "示例\t公司",
        "companyName contains a control character (U+0009 at character 3)"),
    BAD("newline inside", AB_COL_LEGAL_PERSON, "a\nb",
        "legalPerson contains a control character (U+000A"),
    BAD("DEL", AB_COL_APPLICANT_NAME, "ab\x7f",
        "applicantName contains a control character (U+007F"),
    BAD("C1 control", AB_COL_APPLICANT_NAME, "ab\xc2\x85",
        "applicantName contains a control character (U+0085"),
    /* trimming and lengths */
    OK("trim ascii, NBSP and U+3000", AB_COL_COMPANY_NAME,
       "\xe3\x80\x80 \t示例公司\xc2\xa0\xe3\x80\x80", "示例公司"),
    OK("inner U+3000 kept", AB_COL_COMPANY_NAME, "示例\xe3\x80\x80公司",
       "示例\xe3\x80\x80公司"),
    BAD("companyName only spaces", AB_COL_COMPANY_NAME, " \xe3\x80\x80 ",
        "companyName is required"),
    OK("companyName 100 chars", AB_COL_COMPANY_NAME, long100, long100),
    BAD("companyName 101 chars", AB_COL_COMPANY_NAME, long101,
        "companyName is 101 characters long, at most 100 allowed"),
    OK("legalPerson 50 chars", AB_COL_LEGAL_PERSON, long50, long50),
    BAD("legalPerson 51 chars", AB_COL_LEGAL_PERSON, long51,
        "legalPerson is 51 characters long, at most 50 allowed"),
    BAD("applicantName 51 chars", AB_COL_APPLICANT_NAME, long51,
        "applicantName is 51 characters long"),
    OK("empty optional is absent", AB_COL_LEGAL_PERSON, "  ", NULL),
};

static void setup_strings(void)
{
    size_t i;
    memcpy(long101, long100, sizeof long100 - 1);
    strcpy(long101 + sizeof long100 - 1, "一");
    for (i = 0; i < 50; i++)
        long50[i] = 'a';
    long50[50] = '\0';
    memcpy(long51, long50, 50);
    long51[50] = 'b';
    long51[51] = '\0';
    strcpy(url501, "https://example.com/");
    for (i = strlen(url501); i < 501; i++)
        url501[i] = 'x';
    url501[501] = '\0';
}

static void run_case(const struct vcase *c)
{
    struct ab_row_in in;
    struct ab_row_out out;
    char reason[AB_VALIDATE_REASON_MAX];
    int rc;

    memset(&in, 0, sizeof in);
    in.v[AB_COL_COMPANY_NAME] = "示例公司";
    in.n[AB_COL_COMPANY_NAME] = strlen("示例公司");
    in.v[AB_COL_APPLICANT_CONTACT] = "13800138000";
    in.n[AB_COL_APPLICANT_CONTACT] = 11;
    in.v[c->col] = c->value;
    in.n[c->col] = c->value ? strlen(c->value) : 0;
    if (c->col2 != NONE) {
        in.v[c->col2] = c->value2;
        in.n[c->col2] = c->value2 ? strlen(c->value2) : 0;
    }
    reason[0] = '\0';
    rc = ab_validate_row(&in, &out, reason, sizeof reason);
    if (c->want_reason) {
        if (rc != AB_EDATA || !strstr(reason, c->want_reason))
            fail_msg("%s: want reason containing \"%s\", got rc %d \"%s\"",
                     c->name, c->want_reason, rc, reason);
        return;
    }
    if (rc != 0)
        fail_msg("%s: want valid, got \"%s\"", c->name, reason);
    if (c->check_col != NONE) {
        const char *got = out.v[c->check_col];
        if (!c->want_value ? got != NULL
                           : !got || strcmp(got, c->want_value) != 0 ||
                                 out.n[c->check_col] != strlen(got))
            fail_msg("%s: want value \"%s\", got \"%s\"", c->name,
                     c->want_value ? c->want_value : "(absent)",
                     got ? got : "(absent)");
    }
}

static void test_validate__table(void **state)
{
    size_t i;
    (void)state;
    setup_strings();
    assert_true(sizeof cases / sizeof cases[0] >= 40);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
}

static void test_validate__close_button_values(void **state)
{
    static const struct {
        const char *v;
        int want;
    } t[] = {{"true", 1}, {"False", 0}, {"1", 1}, {"0", 0},
             {"YES", 1},  {"no", 0},    {"", -1}, {" ", -1}};
    struct ab_row_in in;
    struct ab_row_out out;
    char reason[AB_VALIDATE_REASON_MAX];
    size_t i;
    (void)state;

    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        memset(&in, 0, sizeof in);
        in.v[AB_COL_COMPANY_NAME] = "C";
        in.n[AB_COL_COMPANY_NAME] = 1;
        in.v[AB_COL_APPLICANT_CONTACT] = "13800138000";
        in.n[AB_COL_APPLICANT_CONTACT] = 11;
        in.v[AB_COL_CLOSE_BUTTON] = t[i].v;
        in.n[AB_COL_CLOSE_BUTTON] = strlen(t[i].v);
        assert_int_equal(ab_validate_row(&in, &out, reason, sizeof reason), 0);
        assert_int_equal(out.close_button, t[i].want);
        assert_null(out.v[AB_COL_CLOSE_BUTTON]);
    }
}

static void test_validate__nul_byte_is_a_control_character(void **state)
{
    struct ab_row_in in;
    struct ab_row_out out;
    char reason[AB_VALIDATE_REASON_MAX];
    (void)state;

    memset(&in, 0, sizeof in);
    in.v[AB_COL_COMPANY_NAME] = "A\0B";
    in.n[AB_COL_COMPANY_NAME] = 3;
    in.v[AB_COL_APPLICANT_CONTACT] = "13800138000";
    in.n[AB_COL_APPLICANT_CONTACT] = 11;
    assert_int_equal(ab_validate_row(&in, &out, reason, sizeof reason),
                     AB_EDATA);
    assert_non_null(strstr(reason, "U+0000"));
}

static void test_validate__company_name_required(void **state)
{
    struct ab_row_in in;
    struct ab_row_out out;
    char reason[AB_VALIDATE_REASON_MAX];
    (void)state;

    memset(&in, 0, sizeof in);
    in.v[AB_COL_APPLICANT_CONTACT] = "13800138000";
    in.n[AB_COL_APPLICANT_CONTACT] = 11;
    assert_int_equal(ab_validate_row(&in, &out, reason, sizeof reason),
                     AB_EDATA);
    assert_string_equal(reason, "companyName is required");
}

static void test_validate__column_lookup(void **state)
{
    (void)state;
    assert_int_equal(ab_validate_col_lookup("companyName", 11),
                     AB_COL_COMPANY_NAME);
    assert_int_equal(ab_validate_col_lookup("COMPANY_NAME", 12),
                     AB_COL_COMPANY_NAME);
    assert_int_equal(ab_validate_col_lookup("applicant_contact_type", 22),
                     AB_COL_CONTACT_TYPE);
    assert_int_equal(ab_validate_col_lookup("callbackurl", 11),
                     AB_COL_CALLBACK_URL);
    assert_int_equal(ab_validate_col_lookup("company", 7), -1);
    assert_int_equal(ab_validate_col_lookup("", 0), -1);
    assert_string_equal(ab_validate_col_name(AB_COL_MODIFY_FIELDS),
                        "modifyFields");
}

static void test_validate__uscc_check_char(void **state)
{
    (void)state;
    assert_int_equal(ab_validate_uscc_check("91310000MA1FL4F90"), '2');
    assert_int_equal(ab_validate_uscc_check("91440300708461136"), 'T');
    assert_int_equal(ab_validate_uscc_check("91440300708461I36"), 0);
}

static void test_validate__utf8(void **state)
{
    size_t at = 99;
    (void)state;
    assert_int_equal(ab_validate_utf8("plain", 5, NULL), 0);
    assert_int_equal(ab_validate_utf8("契约锁", strlen("契约锁"), NULL), 0);
    assert_int_equal(ab_validate_utf8("\xf0\x9f\x98\x80", 4, NULL), 0);
    assert_int_equal(ab_validate_utf8("ab\x80", 3, &at), -1);
    assert_int_equal(at, 2);
    assert_int_equal(ab_validate_utf8("\xc1\xbf", 2, &at), -1);
    assert_int_equal(at, 0);
}

/* --- ab_validate_claimed: a company read from the database -------------- */

/* One case: the base company (示例公司, 13800138000, type inferred, no
 * closeButton) with one string field replaced and, optionally, its contact
 * type and close button; then either the normalised value of that field
 * (want_value; NULL = freed as absent) and contact type, or a reason. */
struct ccase {
    const char *name;
    enum ab_col col;
    const char *value;
    enum ab_contact_type type;
    int close_button;
    const char *want_value;
    enum ab_contact_type want_type;
    const char *want_reason;
};

static const struct ccase claimed[] = {
    {"mobile +86 with hyphens", AB_COL_APPLICANT_CONTACT, "+86 138-0000-1111",
     AB_CONTACT_INFER, -1, "13800001111", AB_CONTACT_MOBILE, NULL},
    {"mobile 0086, declared", AB_COL_APPLICANT_CONTACT, "0086 139 0000 2222",
     AB_CONTACT_MOBILE, -1, "13900002222", AB_CONTACT_MOBILE, NULL},
    {"email trimmed, type inferred", AB_COL_APPLICANT_CONTACT,
     " li.si@example.com\xe3\x80\x80", AB_CONTACT_INFER, -1,
     "li.si@example.com", AB_CONTACT_EMAIL, NULL},
    {"register number upper-cased", AB_COL_REGISTER_NO, "91310000ma1fl4f902",
     AB_CONTACT_INFER, -1, "91310000MA1FL4F902", AB_CONTACT_MOBILE, NULL},
    {"name trimmed of U+3000 and U+00A0", AB_COL_COMPANY_NAME,
     "\xe3\x80\x80示例公司\xc2\xa0", AB_CONTACT_INFER, -1, "示例公司",
     AB_CONTACT_MOBILE, NULL},
    {"modifyFields re-spelled", AB_COL_MODIFY_FIELDS, "corpname , REGISTERNO",
     AB_CONTACT_INFER, -1, "corpName,registerNo", AB_CONTACT_MOBILE, NULL},
    {"blank optional field freed", AB_COL_REGISTER_NO, " \t ", AB_CONTACT_INFER,
     -1, NULL, AB_CONTACT_MOBILE, NULL},
    {"callback URL kept", AB_COL_CALLBACK_URL, "HTTPS://cb.example.com/x",
     AB_CONTACT_INFER, 1, "HTTPS://cb.example.com/x", AB_CONTACT_MOBILE, NULL},
    {"legal person kept", AB_COL_LEGAL_PERSON, "张三", AB_CONTACT_INFER, 0,
     "张三", AB_CONTACT_MOBILE, NULL},
    {"contact abc", AB_COL_APPLICANT_CONTACT, "abc", AB_CONTACT_INFER, -1, NULL,
     AB_CONTACT_INFER,
     "applicantContact 'abc' is not a mainland mobile number"},
    {"email declared as MOBILE", AB_COL_APPLICANT_CONTACT, "a@b.example",
     AB_CONTACT_MOBILE, -1, NULL, AB_CONTACT_INFER,
     "applicantContact 'a@b.example' is not a mainland mobile number"},
    {"mobile declared as EMAIL", AB_COL_APPLICANT_CONTACT, "13800138000",
     AB_CONTACT_EMAIL, -1, NULL, AB_CONTACT_INFER, "is not an email address"},
    {"wrong USCC check character", AB_COL_REGISTER_NO, "91310000MA1FL4F903",
     AB_CONTACT_INFER, -1, NULL, AB_CONTACT_INFER,
     "registerNo '91310000MA1FL4F903': wrong check character '3' (expected "
     "'2')"},
    {"name not UTF-8", AB_COL_COMPANY_NAME, "Co\xe9", AB_CONTACT_INFER, -1,
     NULL, AB_CONTACT_INFER,
     "companyName is not valid UTF-8 (bad byte 0xE9 at byte 3)"},
    {"control character", AB_COL_APPLICANT_NAME, "Li\x1b[2J", AB_CONTACT_INFER,
     -1, NULL, AB_CONTACT_INFER, "applicantName contains a control character"},
    {"ftp callback", AB_COL_CALLBACK_URL, "ftp://example.com/",
     AB_CONTACT_INFER, -1, NULL, AB_CONTACT_INFER,
     "must start with http:// or https://"},
    {"modifyFields unknown item", AB_COL_MODIFY_FIELDS, "address",
     AB_CONTACT_INFER, -1, NULL, AB_CONTACT_INFER,
     "modifyFields item 'address'"},
};

static char **claimed_field(struct ab_company *c, enum ab_col col)
{
    switch (col) {
    case AB_COL_COMPANY_NAME:
        return &c->company_name;
    case AB_COL_REGISTER_NO:
        return &c->register_no;
    case AB_COL_LEGAL_PERSON:
        return &c->legal_person;
    case AB_COL_APPLICANT_NAME:
        return &c->applicant_name;
    case AB_COL_APPLICANT_CONTACT:
        return &c->applicant_contact;
    case AB_COL_CALLBACK_URL:
        return &c->callback_url;
    case AB_COL_MODIFY_FIELDS:
        return &c->modify_fields;
    default:
        return NULL;
    }
}

static void run_claimed(const struct ccase *k)
{
    struct ab_company c;
    char why[AB_VALIDATE_REASON_MAX], **f;
    const char *got;
    int rc;

    ab_company_init(&c);
    c.id = 42;
    c.attempts = 3;
    c.company_name = strdup("示例公司");
    c.applicant_contact = strdup("13800138000");
    f = claimed_field(&c, k->col);
    assert_non_null(f);
    free(*f);
    *f = strdup(k->value);
    c.contact_type = k->type;
    c.close_button = k->close_button;
    why[0] = '\0';
    rc = ab_validate_claimed(&c, why, sizeof why);
    if (k->want_reason) {
        if (rc != AB_EDATA || !strstr(why, k->want_reason))
            fail_msg("%s: want reason containing \"%s\", got rc %d \"%s\"",
                     k->name, k->want_reason, rc, why);
        /* Left exactly as it was. */
        if (!*f || strcmp(*f, k->value) != 0 || c.contact_type != k->type ||
            c.close_button != k->close_button)
            fail_msg("%s: the company was changed on failure", k->name);
    } else {
        if (rc != 0)
            fail_msg("%s: want valid, got \"%s\"", k->name, why);
        got = *f;
        if (!k->want_value ? got != NULL
                           : !got || strcmp(got, k->want_value) != 0)
            fail_msg("%s: want \"%s\", got \"%s\"", k->name,
                     k->want_value ? k->want_value : "(absent)",
                     got ? got : "(absent)");
        if (c.contact_type != k->want_type)
            fail_msg("%s: want contact type %d, got %d", k->name, k->want_type,
                     c.contact_type);
        if (c.close_button != k->close_button)
            fail_msg("%s: close button changed", k->name);
    }
    assert_int_equal(c.id, 42);
    assert_int_equal(c.attempts, 3);
    ab_company_release(&c);
}

static void test_validate__claimed_table(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof claimed / sizeof claimed[0]; i++)
        run_claimed(&claimed[i]);
}

/* The other fields come out normalised too, and in place: the same
 * buffers, so nothing is allocated. */
static void test_validate__claimed_normalises_in_place(void **state)
{
    struct ab_company c;
    char why[AB_VALIDATE_REASON_MAX];
    char *contact, *reg;
    (void)state;

    ab_company_init(&c);
    c.company_name = strdup("示例公司");
    c.applicant_contact = contact = strdup(" +86 138-0000-1111 ");
    c.register_no = reg = strdup("91310000ma1fl4f902");
    c.legal_person = strdup("");
    assert_int_equal(ab_validate_claimed(&c, why, sizeof why), 0);
    assert_ptr_equal(c.applicant_contact, contact);
    assert_ptr_equal(c.register_no, reg);
    assert_string_equal(c.applicant_contact, "13800001111");
    assert_string_equal(c.register_no, "91310000MA1FL4F902");
    assert_null(c.legal_person);
    assert_int_equal(c.contact_type, AB_CONTACT_MOBILE);
    /* Normalising again changes nothing. */
    assert_int_equal(ab_validate_claimed(&c, why, sizeof why), 0);
    assert_string_equal(c.applicant_contact, "13800001111");
    ab_company_release(&c);
}

static void test_validate__claimed_requires_name_and_contact(void **state)
{
    struct ab_company c;
    char why[AB_VALIDATE_REASON_MAX];
    (void)state;

    ab_company_init(&c);
    c.applicant_contact = strdup("13800138000");
    assert_int_equal(ab_validate_claimed(&c, why, sizeof why), AB_EDATA);
    assert_string_equal(why, "companyName is required");
    ab_company_release(&c);
    c.company_name = strdup("A");
    assert_int_equal(ab_validate_claimed(&c, why, sizeof why), AB_EDATA);
    assert_string_equal(why, "applicantContact is required");
    ab_company_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate__table),
        cmocka_unit_test(test_validate__close_button_values),
        cmocka_unit_test(test_validate__nul_byte_is_a_control_character),
        cmocka_unit_test(test_validate__company_name_required),
        cmocka_unit_test(test_validate__column_lookup),
        cmocka_unit_test(test_validate__uscc_check_char),
        cmocka_unit_test(test_validate__utf8),
        cmocka_unit_test(test_validate__claimed_table),
        cmocka_unit_test(test_validate__claimed_normalises_in_place),
        cmocka_unit_test(test_validate__claimed_requires_name_and_contact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
