/*
 * sbx_front -- what a misconfigured front end answers instead of the vendor
 * (--front MODE): a redirect (a wrong --base-url), a proxy's HTML error page,
 * a captive portal's login page. None of them has the vendor's JSON
 * envelope; a client must not take them for the vendor's answers.
 *
 * Pure: the answers are static data.
 */
#ifndef SBX_FRONT_H
#define SBX_FRONT_H

enum sbx_front {
    SBX_FRONT_NONE = 0,
    SBX_FRONT_REDIRECT, /* HTTP 301 to https://example.invalid/, HTML body */
    SBX_FRONT_HTML400,  /* HTTP 400 text/html, nginx-like */
    SBX_FRONT_PORTAL,   /* HTTP 200 text/html captive-portal login page */
};

/* One front-end answer; every member is a static string (location may be
 * NULL: no Location header). */
struct sbx_front_answer {
    unsigned int http_status;
    const char *content_type;
    const char *location;
    const char *body;
};

/* "redirect", "html400", "portal" -> 0 and *out; anything else -> -1. */
int sbx_front_parse(const char *name, enum sbx_front *out);

/* The mode's name as --front takes it ("none" for SBX_FRONT_NONE). */
const char *sbx_front_name(enum sbx_front mode);

/* The answer of mode (not SBX_FRONT_NONE). */
void sbx_front_answer(enum sbx_front mode, struct sbx_front_answer *out);

#endif
