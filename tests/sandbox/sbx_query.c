#include "sbx_query.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Length of the well-formed UTF-8 sequence at p (n bytes left), or 0 when
 * it is malformed; *bad is then how many bytes one U+FFFD replaces (the
 * maximal subpart of an ill-formed sequence, as Unicode recommends and
 * Java's decoder does).
 */
static size_t utf8_seq(const unsigned char *p, size_t n, size_t *bad)
{
    unsigned char c = p[0];
    size_t need, i;
    unsigned char lo = 0x80, hi = 0xbf;

    *bad = 1;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 2;
    else if (c >= 0xe0 && c <= 0xef)
        need = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        need = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f; /* no surrogates */
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f; /* not above U+10FFFF */
    for (i = 1; i < need; i++) {
        if (i >= n || p[i] < lo || p[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xbf;
    }
    return need;
}

int sbx_query_decode(const char *s, size_t len, char **out)
{
    unsigned char *raw, *o;
    size_t n = 0, k = 0;

    *out = NULL;
    raw = malloc(len + 1);
    if (raw == NULL)
        return -2;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            raw[n++] = ' ';
        } else if (s[i] == '%') {
            int h, l;

            if (i + 2 >= len) {
                free(raw);
                return -1;
            }
            h = hexval(s[i + 1]);
            l = hexval(s[i + 2]);
            if (h < 0 || l < 0) {
                free(raw);
                return -1;
            }
            raw[n++] = (unsigned char)(h * 16 + l);
            i += 2;
        } else {
            raw[n++] = (unsigned char)s[i];
        }
    }
    /* each malformed sequence becomes U+FFFD (3 bytes): at most 3x */
    o = malloc(3 * n + 1);
    if (o == NULL) {
        free(raw);
        return -2;
    }
    for (size_t i = 0; i < n;) {
        size_t bad, m = utf8_seq(raw + i, n - i, &bad);

        if (m > 0) {
            memcpy(o + k, raw + i, m);
            k += m;
            i += m;
        } else {
            o[k++] = 0xef;
            o[k++] = 0xbf;
            o[k++] = 0xbd;
            i += bad;
        }
    }
    o[k] = '\0';
    free(raw);
    *out = (char *)o;
    return 0;
}

int sbx_query_get(const char *query, const char *name, char **value)
{
    const char *p = query;

    *value = NULL;
    if (query == NULL)
        return 0;
    while (*p != '\0') {
        const char *end = strchr(p, '&'), *eq;
        size_t plen;
        char *key;
        int rc;

        if (end == NULL)
            end = p + strlen(p);
        plen = (size_t)(end - p);
        eq = memchr(p, '=', plen);
        if (plen == 0 || eq == p)
            goto next; /* empty parameter or empty name: skipped */
        rc = sbx_query_decode(p, eq ? (size_t)(eq - p) : plen, &key);
        if (rc == -2)
            return -2;
        if (rc == 0 && strcmp(key, name) == 0) {
            free(key);
            if (eq == NULL) {
                *value = strdup("");
                return *value ? 1 : -2;
            }
            rc = sbx_query_decode(eq + 1, (size_t)(end - eq - 1), value);
            if (rc == -2)
                return -2;
            if (rc == 0)
                return 1;
            goto next; /* malformed value: the parameter is dropped */
        }
        free(key);
    next:
        p = *end == '&' ? end + 1 : end;
    }
    return 0;
}

char *sbx_query_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s), k = 0;
    char *o = malloc(3 * n + 1);

    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            o[k++] = (char)c;
        } else {
            o[k++] = '%';
            o[k++] = hex[c >> 4];
            o[k++] = hex[c & 0x0f];
        }
    }
    o[k] = '\0';
    return o;
}
