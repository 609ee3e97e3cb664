/* stop.h - why a run stops, which reason wins, and the exit status each
 * one means (SPEC §5).
 *
 * A run may meet several reasons to stop (a signal arrives while the
 * database is failing); the one with the highest rank wins and is what the
 * run reports, message and exit status together. A reason that "keeps
 * in-flight requests" lets them finish; the others cancel nothing either
 * (cancelling is the second signal's job) but no new request is sent.
 */
#ifndef AB_STOP_H
#define AB_STOP_H

#include "err.h"

enum ab_stop {
    AB_STOP_NONE = 0,
    AB_STOP_COMPLETE,    /* nothing due is left that this run could do */
    AB_STOP_HORIZON,     /* what is left is due too late for this run */
    AB_STOP_LIMIT,       /* --limit reached */
    AB_STOP_RUNTIME,     /* --max-runtime reached */
    AB_STOP_SIGNAL,      /* SIGINT/SIGTERM */
    AB_STOP_UNREACHABLE, /* transport failures and no answer */
    AB_STOP_NOT_VENDOR,  /* answers that are not the vendor's API's */
    AB_STOP_CONFIG,      /* e.g. redirected: --base-url is wrong */
    AB_STOP_FATAL,       /* credentials or account refused, twice */
    AB_STOP_DB,          /* results cannot be stored */
    AB_STOP_SOFTWARE,    /* the HTTP engine or the process failed */
    AB_STOP__COUNT
};

/* The stop a run is heading for: the winning reason and its message. */
struct ab_stopper {
    enum ab_stop why;
    struct ab_err msg; /* empty for the polite reasons */
};

/* Records a reason (msg may be NULL); it wins if it outranks the current
 * one. Returns 1 when it won. */
int ab_stop_request(struct ab_stopper *s, enum ab_stop why,
                    const struct ab_err *msg);

/* "complete", "signal", ... for logs. */
const char *ab_stop_name(enum ab_stop why);

/* The exit status of a run that stopped for why: the fixed status of a
 * failure (69, 70, 74, 77, 78), or for the polite reasons 75 when work is
 * left, 1 when companies failed in this run, else 0. */
int ab_stop_exit_status(enum ab_stop why, int work_left, int failed_this_run);

#endif
