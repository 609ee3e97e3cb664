/* creds.h - the App Token and App Secret.
 *
 * Read from QYS_ACCESS_TOKEN / QYS_ACCESS_SECRET, or from a credentials file
 * of `access_token=` / `access_secret=` lines (blank lines and # comments
 * allowed) that must not be readable by group or others. Never from argv.
 * Loading also marks the process non-dumpable, so no core file carries the
 * secret. ab_creds_release() wipes the memory.
 */
#ifndef AB_CREDS_H
#define AB_CREDS_H

#include "err.h"

#define AB_CREDS_MAX 256

struct ab_creds {
    char token[AB_CREDS_MAX];
    char secret[AB_CREDS_MAX];
};

/* file may be NULL (environment only). AB_ECONFIG with a message naming the
 * file and line (never the value) when something is wrong or missing. */
int ab_creds_load(struct ab_creds *c, const char *file, struct ab_err *err);

/* Wipes both values. */
void ab_creds_release(struct ab_creds *c);

#endif
