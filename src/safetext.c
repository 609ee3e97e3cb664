#include "safetext.h"

#include <string.h>

#include "charset.h"

/* Next unit of s[0..n): *len bytes, and what to show for them in *out
 * (*outlen bytes): the bytes themselves, a space, or U+FFFD. */
static void next_unit(const char *s, size_t n, size_t *len, const char **out,
                      size_t *outlen)
{
    unsigned char c = (unsigned char)s[0];
    size_t k;

    if (c < 0x20 || c == 0x7F) {
        *len = 1;
        *out = " ";
        *outlen = 1;
        return;
    }
    if (c < 0x80) {
        *len = *outlen = 1;
        *out = s;
        return;
    }
    k = ab_utf8_len(s, n);
    if (k == 0) {
        *len = 1;
        *out = "\xEF\xBF\xBD";
        *outlen = 3;
    } else if (k == 2 && c == 0xC2 && (unsigned char)s[1] < 0xA0) {
        *len = 2; /* C1 control */
        *out = " ";
        *outlen = 1;
    } else {
        *len = *outlen = k;
        *out = s;
    }
}

size_t ab_safetext(char *dst, const char *s, size_t n)
{
    size_t i = 0, o = 0, len, outlen;
    const char *out;

    while (i < n) {
        next_unit(s + i, n - i, &len, &out, &outlen);
        memcpy(dst + o, out, outlen);
        o += outlen;
        i += len;
    }
    dst[o] = '\0';
    return o;
}

int ab_safetext_fputs(const char *s, FILE *f)
{
    size_t n, i = 0, run = 0, len, outlen;
    const char *out;

    if (!s)
        return 0;
    n = strlen(s);
    /* Write clean runs in one go; replace the rest unit by unit. */
    while (i < n) {
        next_unit(s + i, n - i, &len, &out, &outlen);
        if (out == s + i) {
            run += len;
            i += len;
            continue;
        }
        if (run && fwrite(s + i - run, 1, run, f) != run)
            return -1;
        run = 0;
        if (fwrite(out, 1, outlen, f) != outlen)
            return -1;
        i += len;
    }
    if (run && fwrite(s + i - run, 1, run, f) != run)
        return -1;
    return 0;
}

int ab_safetext_html(const char *s, FILE *f)
{
    size_t n, i = 0, len, outlen, k;
    const char *out;

    if (!s)
        return 0;
    n = strlen(s);
    while (i < n) {
        next_unit(s + i, n - i, &len, &out, &outlen);
        for (k = 0; k < outlen; k++) {
            const char *e = NULL;
            switch (out[k]) {
            case '&':
                e = "&amp;";
                break;
            case '<':
                e = "&lt;";
                break;
            case '>':
                e = "&gt;";
                break;
            case '"':
                e = "&quot;";
                break;
            case '\'':
                e = "&#39;";
                break;
            }
            if (e ? fputs(e, f) < 0 : fputc(out[k], f) == EOF)
                return -1;
        }
        i += len;
    }
    return 0;
}

/* Code point of the valid sequence s[0..k). */
static unsigned long code_point(const unsigned char *u, size_t k)
{
    switch (k) {
    case 1:
        return u[0];
    case 2:
        return (u[0] & 0x1Fu) << 6 | (u[1] & 0x3Fu);
    case 3:
        return (u[0] & 0x0Fu) << 12 | (u[1] & 0x3Fu) << 6 | (u[2] & 0x3Fu);
    default:
        return (unsigned long)(u[0] & 0x07u) << 18 | (u[1] & 0x3Fu) << 12 |
               (u[2] & 0x3Fu) << 6 | (u[3] & 0x3Fu);
    }
}

/* East Asian Wide (W) and Fullwidth (F) ranges, the ones text here uses:
 * Hangul Jamo, CJK radicals to Yi, Hangul syllables, CJK compatibility,
 * vertical and small forms, full-width forms, and planes 2-3. */
static int wide(unsigned long cp)
{
    return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
           (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
           (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0xFE10 && cp <= 0xFE19) || (cp >= 0xFE30 && cp <= 0xFE6F) ||
           (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6) ||
           (cp >= 0x1F300 && cp <= 0x1F64F) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

int ab_safetext_width(const char *s)
{
    size_t n, i = 0, len, outlen;
    const char *out;
    int w = 0;

    if (!s)
        return 0;
    n = strlen(s);
    while (i < n) {
        next_unit(s + i, n - i, &len, &out, &outlen);
        if (outlen == 1)
            w++;
        else if ((unsigned char)out[0] == 0xCC ||
                 ((unsigned char)out[0] == 0xCD &&
                  (unsigned char)out[1] < 0xB0))
            ; /* U+0300-U+036F combining marks take no column */
        else
            w += wide(code_point((const unsigned char *)out, outlen)) ? 2 : 1;
        i += len;
    }
    return w;
}

static int spaces(FILE *f, int n)
{
    while (n-- > 0)
        if (putc(' ', f) == EOF)
            return -1;
    return 0;
}

int ab_safetext_pad(FILE *f, const char *s, int width, int min_gap)
{
    int w = ab_safetext_width(s);
    if (ab_safetext_fputs(s, f) != 0)
        return -1;
    return spaces(f, w < width ? width - w : min_gap ? 1 : 0);
}

int ab_safetext_rpad(FILE *f, const char *s, int width)
{
    int w = ab_safetext_width(s);
    if (spaces(f, width - w) != 0)
        return -1;
    return ab_safetext_fputs(s, f);
}
