/* err.h - error codes and the message that travels with them.
 *
 * Fallible functions return 0 or a negative AB_E* code and, when the caller
 * passes a non-NULL `struct ab_err *`, fill in a one-line message: lower case,
 * what failed first, the subject quoted ("cannot open database 'x.db': ...").
 * Foreign error codes (SQLITE_*, CURLcode, uv errno) never cross a module edge.
 */
#ifndef AB_ERR_H
#define AB_ERR_H

enum {
    AB_OK = 0,
    AB_EINVAL = -1,  /* bad argument or malformed input */
    AB_EIO = -2,     /* database or file I/O failed */
    AB_ENOMEM = -3,  /* out of memory */
    AB_EBUSY = -4,   /* locked by someone else */
    AB_ENOENT = -5,  /* file missing or unreadable */
    AB_ECONFIG = -6, /* configuration (credentials, options) unusable */
    AB_EDATA = -7,   /* input data rejected */
    AB_ESCHEMA = -8, /* database from a newer authbatch */
    AB_EFULL = -9,   /* disk full */
};

struct ab_err {
    int code;
    char msg[512];
};

/* Sets err (if not NULL) and returns code, so callers can write
 * `return ab_err_set(err, AB_EIO, "cannot ...", ...);`. */
int ab_err_set(struct ab_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears err (if not NULL). */
void ab_err_clear(struct ab_err *err);

#endif
