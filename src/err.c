#include "err.h"

#include <stdarg.h>
#include <stdio.h>

int ab_err_set(struct ab_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void ab_err_clear(struct ab_err *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}
