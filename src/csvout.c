#include "csvout.h"

#include <string.h>

static int needs_quotes(const char *s, size_t n, char sep)
{
    size_t i;
    if (n &&
        (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        return 1;
    for (i = 0; i < n; i++)
        if (s[i] == sep || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            return 1;
    return 0;
}

int ab_csvout_field(FILE *f, const char *s, size_t n, int first)
{
    return ab_csvout_field_sep(f, s, n, first, ',');
}

int ab_csvout_field_sep(FILE *f, const char *s, size_t n, int first, char sep)
{
    size_t i, start;

    if (!first && putc(sep, f) == EOF)
        return -1;
    if (!needs_quotes(s, n, sep))
        return n && fwrite(s, 1, n, f) != n ? -1 : 0;
    if (putc('"', f) == EOF)
        return -1;
    for (i = start = 0; i < n; i++) {
        if (s[i] != '"')
            continue;
        /* write up to and including the quote, then the quote again */
        if (fwrite(s + start, 1, i + 1 - start, f) != i + 1 - start ||
            putc('"', f) == EOF)
            return -1;
        start = i + 1;
    }
    if (n > start && fwrite(s + start, 1, n - start, f) != n - start)
        return -1;
    return putc('"', f) == EOF ? -1 : 0;
}

int ab_csvout_end_row(FILE *f)
{
    return fputs("\r\n", f) == EOF ? -1 : 0;
}

int ab_csvout_append(char *buf, size_t size, size_t *len, const char *s,
                     size_t n, int first)
{
    size_t k = *len, i;
    int q = needs_quotes(s, n, ',');

    if (size == 0)
        return -1;
#define PUT(ch)                                                                \
    do {                                                                       \
        if (k + 1 >= size)                                                     \
            goto out_full;                                                     \
        buf[k++] = (ch);                                                       \
    } while (0)
    if (!first)
        PUT(',');
    if (q)
        PUT('"');
    for (i = 0; i < n; i++) {
        if (s[i] == '"')
            PUT('"');
        PUT(s[i]);
    }
    if (q)
        PUT('"');
#undef PUT
    buf[k] = '\0';
    *len = k;
    return 0;

out_full:
    buf[k] = '\0';
    *len = k;
    return -1;
}
