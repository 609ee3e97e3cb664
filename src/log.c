#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static int verbosity;
static void (*hook_before)(void *);
static void (*hook_after)(void *);
static void *hook_ctx;

void ab_log_set_verbosity(int v)
{
    verbosity = v;
}

int ab_log_verbosity(void)
{
    return verbosity;
}

void ab_log_set_hook(void (*before)(void *), void (*after)(void *), void *ctx)
{
    /* Under the lock emit() holds: a line logged on another thread sees
     * the hooks whole, or not at all. */
    flockfile(stderr);
    hook_before = before;
    hook_after = after;
    hook_ctx = ctx;
    funlockfile(stderr);
}

static void emit(const char *level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void emit(const char *level, const char *fmt, va_list ap)
{
    /* One line at a time when several threads log (the receiver). */
    flockfile(stderr);
    if (hook_before)
        hook_before(hook_ctx);
    fprintf(stderr, "authbatch: %s", level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    if (hook_after)
        hook_after(hook_ctx);
    funlockfile(stderr);
}

#define AB_LOG_FN(name, level, min)                                            \
    void name(const char *fmt, ...)                                            \
    {                                                                          \
        va_list ap;                                                            \
        if (verbosity < (min))                                                 \
            return;                                                            \
        va_start(ap, fmt);                                                     \
        emit(level, fmt, ap);                                                  \
        va_end(ap);                                                            \
    }

AB_LOG_FN(ab_log_error, "error: ", -1)
AB_LOG_FN(ab_log_warn, "warning: ", 0)
AB_LOG_FN(ab_log_info, "", 0)
AB_LOG_FN(ab_log_debug, "debug: ", 1)
