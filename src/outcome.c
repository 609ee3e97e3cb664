#include "outcome.h"

const char *ab_outcome_name(enum ab_outcome o)
{
    static const char *const names[AB_OUT__COUNT] = {
        "issued",    "already_authed", "rejected",
        "throttled", "transient",      "fatal",
    };
    return (unsigned)o < AB_OUT__COUNT ? names[o] : "unknown";
}
