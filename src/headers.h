/* headers.h - the header lines of one HTTP request, in fixed buffers.
 *
 * Filled by api (the signed headers of one copy of a request) and read by
 * the engine, which points curl's header list at these buffers; fixed
 * sizes, so building a request's headers allocates nothing. A line is
 * "Name: value", NUL-terminated.
 */
#ifndef AB_HEADERS_H
#define AB_HEADERS_H

#define AB_HEADERS_MAX 8  /* lines per request */
#define AB_HEADER_LEN 320 /* bytes per line, NUL included */

struct ab_headers {
    int n; /* lines used, 0..AB_HEADERS_MAX */
    char line[AB_HEADERS_MAX][AB_HEADER_LEN];
};

#endif
