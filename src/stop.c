#include "stop.h"

#include "cli.h"

/* In rank order: a later row outranks an earlier one. */
static const struct {
    const char *name;
    int exit_status; /* -1: decided by what is left */
} table[AB_STOP__COUNT] = {
    [AB_STOP_NONE] = {"running", -1},
    [AB_STOP_COMPLETE] = {"complete", -1},
    [AB_STOP_HORIZON] = {"retries due later", -1},
    [AB_STOP_LIMIT] = {"limit reached", -1},
    [AB_STOP_RUNTIME] = {"max runtime reached", -1},
    [AB_STOP_SIGNAL] = {"interrupted", -1},
    [AB_STOP_UNREACHABLE] = {"unreachable", AB_EXIT_UNAVAILABLE},
    [AB_STOP_NOT_VENDOR] = {"not the vendor's API", AB_EXIT_UNAVAILABLE},
    [AB_STOP_CONFIG] = {"configuration", AB_EXIT_CONFIG},
    [AB_STOP_FATAL] = {"refused", AB_EXIT_NOPERM},
    [AB_STOP_DB] = {"database", AB_EXIT_IOERR},
    [AB_STOP_SOFTWARE] = {"internal error", AB_EXIT_SOFTWARE},
};

int ab_stop_request(struct ab_stopper *s, enum ab_stop why,
                    const struct ab_err *msg)
{
    if (why <= s->why)
        return 0;
    s->why = why;
    if (msg)
        s->msg = *msg;
    else
        ab_err_clear(&s->msg);
    return 1;
}

const char *ab_stop_name(enum ab_stop why)
{
    return why < AB_STOP__COUNT ? table[why].name : "?";
}

int ab_stop_exit_status(enum ab_stop why, int work_left, int failed_this_run)
{
    if (why < AB_STOP__COUNT && table[why].exit_status >= 0)
        return table[why].exit_status;
    if (work_left)
        return AB_EXIT_TEMPFAIL;
    return failed_this_run ? AB_EXIT_FAILED : AB_EXIT_OK;
}
