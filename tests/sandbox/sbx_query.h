/*
 * sbx_query -- query strings and form bodies as the vendor's servers read
 * and write them.
 *
 * The vendor's open platform is a Java service; a servlet container (Tomcat)
 * splits the query string on '&', each parameter on its first '=', and
 * decodes names and values as application/x-www-form-urlencoded: '+' is a
 * space, %XX a byte, the bytes read as UTF-8 with every malformed sequence
 * replaced by U+FFFD. A parameter with a malformed escape ('%' not followed
 * by two hex digits) is dropped. getParameter() returns the first value of
 * a name. So a client that does not percent-encode '&', '+' or '=' inside a
 * value gets another value than it meant: "A&B" becomes "A" (and a
 * parameter "B"), "A+B" becomes "A B".
 *
 * Pure functions; every string returned is new (free() it).
 */
#ifndef SBX_QUERY_H
#define SBX_QUERY_H

#include <stddef.h>

/*
 * Decode one component (len bytes of s) as above. Returns 0 and *out (new,
 * NUL-terminated; it may hold U+FFFD), -1 for a malformed escape (*out
 * NULL), -2 when out of memory.
 */
int sbx_query_decode(const char *s, size_t len, char **out);

/*
 * The first value of parameter name in query (the part after '?', without
 * it; may be NULL), as getParameter() returns it. Returns 1 and *value
 * (new; "" for "name" or "name="), 0 when absent (*value NULL), -2 when out
 * of memory.
 */
int sbx_query_get(const char *query, const char *name, char **value);

/*
 * Percent-encode s by RFC 3986 (unreserved characters A-Z a-z 0-9 - . _ ~
 * kept, every other byte as %XX, upper-case hex): the encoding of a form
 * field or query value that every decoder reads back exactly. Returns a new
 * string or NULL when out of memory.
 */
char *sbx_query_encode(const char *s);

#endif
