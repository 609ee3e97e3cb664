/* safetext.h - text from the database made safe to show.
 *
 * Names, messages and tickets in the database came from CSV files, other
 * programs and the network. Before any of it reaches a terminal or a report
 * (text, CSV, HTML), one filter applies: every control character -- C0
 * (U+0000-U+001F, tab and line ends included), DEL and C1 (U+0080-U+009F,
 * which some terminals read as escape sequences) -- becomes a space, and
 * bytes that are not valid UTF-8 become U+FFFD. The result is one line of
 * valid UTF-8 that cannot move a cursor, clear a screen or set a title.
 *
 * The same module measures what a terminal shows: display columns, with
 * East Asian wide and full-width characters counting two.
 */
#ifndef AB_SAFETEXT_H
#define AB_SAFETEXT_H

#include <stddef.h>
#include <stdio.h>

/* The filtered text of s[0..n) into dst, NUL-terminated; dst must hold
 * 3 * n + 1 bytes (each bad byte may become the 3-byte U+FFFD). Returns the
 * length written. */
size_t ab_safetext(char *dst, const char *s, size_t n);

/* Writes the filtered text of s (NUL-terminated; NULL: nothing) to f.
 * Returns 0, or -1 when the write failed. */
int ab_safetext_fputs(const char *s, FILE *f);

/* The same for HTML text and attribute values: filtered, then the five
 * markup characters (& < > " ') written as entities. */
int ab_safetext_html(const char *s, FILE *f);

/* Display columns of s (UTF-8; NULL: 0) as filtered. */
int ab_safetext_width(const char *s);

/* Writes the filtered s to f, then spaces up to `width` columns (at least
 * one space when min_gap is set and s fills the width). Left-aligned. */
int ab_safetext_pad(FILE *f, const char *s, int width, int min_gap);

/* The same, right-aligned: spaces first. */
int ab_safetext_rpad(FILE *f, const char *s, int width);

#endif
