/* fuzz_validate.c - libFuzzer target: ab_validate_row() on arbitrary fields.
 *
 * The input is split on 0xFF bytes (never valid UTF-8, so never inside a
 * good field) into up to AB_COL_COUNT fields; a missing field is a missing
 * column. The first byte's bits say which columns the "file" has at all.
 * Besides the sanitizers, a row that passes must satisfy what the store and
 * the API rely on: every value NUL-terminated with its length, valid UTF-8,
 * no control characters, no surrounding spaces, within its length limit,
 * contact type MOBILE or EMAIL matching the contact, close_button -1/0/1.
 * A row that fails must have a non-empty reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, int col)
{
    fprintf(stderr, "fuzz_validate: column %d: %s\n", col, what);
    abort();
}

/* Code points in a valid UTF-8 string. */
static size_t cps(const char *s, size_t n)
{
    size_t i, k = 0;
    for (i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            k++;
    return k;
}

static size_t limit_of(int c)
{
    switch (c) {
    case AB_COL_COMPANY_NAME:
        return AB_VALIDATE_MAX_COMPANY_NAME;
    case AB_COL_LEGAL_PERSON:
    case AB_COL_APPLICANT_NAME:
        return AB_VALIDATE_MAX_PERSON;
    case AB_COL_APPLICANT_CONTACT:
        return AB_VALIDATE_MAX_CONTACT;
    case AB_COL_CALLBACK_URL:
        return AB_VALIDATE_MAX_CALLBACK_URL;
    case AB_COL_REGISTER_NO:
        return 18;
    default:
        return 1000;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ab_row_in in;
    struct ab_row_out *out;
    char reason[AB_VALIDATE_REASON_MAX];
    const char *p, *end;
    unsigned present;
    int c, rc;

    if (size < 2)
        return 0;
    present = data[0] | (data[1] & 1u) << 8;
    p = (const char *)data + 2;
    end = (const char *)data + size;
    memset(&in, 0, sizeof in);
    for (c = 0; c < AB_COL_COUNT; c++) {
        const char *q = memchr(p, 0xFF, (size_t)(end - p));
        if (!q)
            q = end;
        if (present & (1u << c)) {
            in.v[c] = p;
            in.n[c] = (size_t)(q - p);
        }
        p = q < end ? q + 1 : end;
    }
    /* The heap copy lets ASan see any overrun of buf. */
    out = malloc(sizeof *out);
    memset(reason, 'x', sizeof reason);
    rc = ab_validate_row(&in, out, reason, sizeof reason);
    if (rc != 0) {
        if (rc != AB_EDATA)
            die("unexpected return code", -1);
        if (!memchr(reason, '\0', sizeof reason) || !reason[0])
            die("reason empty or not terminated", -1);
        free(out);
        return 0;
    }
    for (c = 0; c < AB_COL_COUNT; c++) {
        const char *v = out->v[c];
        size_t n = out->n[c], i, bad;
        if (c == AB_COL_CLOSE_BUTTON) {
            if (v)
                die("closeButton has a string value", c);
            continue;
        }
        if (!v) {
            if (c == AB_COL_COMPANY_NAME || c == AB_COL_APPLICANT_CONTACT ||
                c == AB_COL_CONTACT_TYPE)
                die("required value absent", c);
            continue;
        }
        if (strlen(v) != n || n == 0)
            die("length wrong or empty value", c);
        if (ab_validate_utf8(v, n, &bad) != 0)
            die("invalid UTF-8 accepted", c);
        for (i = 0; i < n; i++) {
            unsigned char b = (unsigned char)v[i];
            if (b < 0x20 || b == 0x7F)
                die("control character accepted", c);
            if (b == 0xC2 && i + 1 < n && (unsigned char)v[i + 1] >= 0x80 &&
                (unsigned char)v[i + 1] < 0xA0)
                die("C1 control character accepted", c);
        }
        if (v[0] == ' ' || v[n - 1] == ' ')
            die("value not trimmed", c);
        if (cps(v, n) > limit_of(c))
            die("value over its length limit", c);
    }
    if (strcmp(out->v[AB_COL_CONTACT_TYPE], "EMAIL") == 0) {
        if (!strchr(out->v[AB_COL_APPLICANT_CONTACT], '@'))
            die("EMAIL contact without '@'", AB_COL_APPLICANT_CONTACT);
    } else if (strcmp(out->v[AB_COL_CONTACT_TYPE], "MOBILE") == 0) {
        if (out->n[AB_COL_APPLICANT_CONTACT] != 11 ||
            strspn(out->v[AB_COL_APPLICANT_CONTACT], "0123456789") != 11)
            die("MOBILE contact not 11 digits", AB_COL_APPLICANT_CONTACT);
    } else {
        die("contact type neither MOBILE nor EMAIL", AB_COL_CONTACT_TYPE);
    }
    if (out->close_button < -1 || out->close_button > 1)
        die("close_button out of range", AB_COL_CLOSE_BUTTON);
    free(out);
    return 0;
}
