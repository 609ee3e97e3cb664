/* csvout.h - writing RFC 4180 CSV.
 *
 * A field is quoted when it holds the separator (a comma unless said
 * otherwise), a double quote, CR or LF, or starts or ends with a space or
 * tab (so a reader that trims unquoted fields gets it back unchanged);
 * quotes inside are doubled. Rows end in CRLF. Bytes are written as given:
 * no encoding check (charset.h's encoder converts, safetext.h filters).
 */
#ifndef AB_CSVOUT_H
#define AB_CSVOUT_H

#include <stddef.h>
#include <stdio.h>

/* Writes one field to f, preceded by a comma unless first. Returns 0, or -1
 * with errno set when the write failed. */
int ab_csvout_field(FILE *f, const char *s, size_t n, int first);

/* The same with another separator (';' or tab, as Excel writes them). */
int ab_csvout_field_sep(FILE *f, const char *s, size_t n, int first, char sep);

/* Ends a row (CRLF). 0 or -1. */
int ab_csvout_end_row(FILE *f);

/* Appends one field (and its comma unless first) to buf, which holds *len of
 * size bytes; stops at size - 1 and keeps buf NUL-terminated. Returns 0, or
 * -1 when the field did not fit (buf then holds what fitted). */
int ab_csvout_append(char *buf, size_t size, size_t *len, const char *s,
                     size_t n, int first);

#endif
