#include "authstatus.h"

#include <string.h>

static const char *const names[AB_AUTH__COUNT] = {
    [AB_AUTH_NOT_STARTED] = "not_started",
    [AB_AUTH_IN_PROGRESS] = "in_progress",
    [AB_AUTH_REJECTED] = "rejected",
    [AB_AUTH_EXPIRED] = "expired",
    [AB_AUTH_AUTHENTICATED] = "authenticated",
};

static const int ranks[AB_AUTH__COUNT] = {
    [AB_AUTH_NONE] = 0,        [AB_AUTH_NOT_STARTED] = 1,
    [AB_AUTH_IN_PROGRESS] = 2, [AB_AUTH_REJECTED] = 3,
    [AB_AUTH_EXPIRED] = 3,     [AB_AUTH_AUTHENTICATED] = 4,
};

const char *ab_auth_name(enum ab_auth a)
{
    if (a <= AB_AUTH_NONE || a >= AB_AUTH__COUNT)
        return NULL;
    return names[a];
}

enum ab_auth ab_auth_lookup(const char *name)
{
    int a;

    if (!name)
        return AB_AUTH_NONE;
    for (a = AB_AUTH_NONE + 1; a < AB_AUTH__COUNT; a++)
        if (strcmp(name, names[a]) == 0)
            return (enum ab_auth)a;
    return AB_AUTH_UNKNOWN;
}

int ab_auth_rank(enum ab_auth a)
{
    if (a <= AB_AUTH_NONE || a >= AB_AUTH__COUNT)
        return 0;
    return ranks[a];
}

enum ab_auth ab_auth_from_result_code(long long v)
{
    switch (v) {
    case -1:
    case 1:
        return AB_AUTH_NOT_STARTED;
    case 2:
        return AB_AUTH_AUTHENTICATED;
    case 3:
        return AB_AUTH_REJECTED;
    case 4:
        return AB_AUTH_IN_PROGRESS;
    case 6:
        return AB_AUTH_EXPIRED;
    default:
        return AB_AUTH_UNKNOWN;
    }
}

enum ab_auth ab_auth_from_callback_code(long long v)
{
    switch (v) {
    case 0:
        return AB_AUTH_IN_PROGRESS;
    case 1:
        return AB_AUTH_AUTHENTICATED;
    case 2:
        return AB_AUTH_REJECTED;
    default:
        return AB_AUTH_UNKNOWN;
    }
}

/* A decimal integer: optional '-', 1 to 18 digits, nothing else. */
static int parse_int(const char *s, long long *out)
{
    long long v = 0;
    int neg = 0, n = 0;

    if (!s)
        return -1;
    if (*s == '-') {
        neg = 1;
        s++;
    }
    for (; *s; s++, n++) {
        if (*s < '0' || *s > '9' || n == 18)
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (n == 0)
        return -1;
    *out = neg ? -v : v;
    return 0;
}

enum ab_auth ab_auth_from_result(const char *raw)
{
    long long v;
    return parse_int(raw, &v) == 0 ? ab_auth_from_result_code(v)
                                   : AB_AUTH_UNKNOWN;
}

enum ab_auth ab_auth_from_callback(const char *raw)
{
    long long v;
    return parse_int(raw, &v) == 0 ? ab_auth_from_callback_code(v)
                                   : AB_AUTH_UNKNOWN;
}

enum ab_auth_move ab_auth_decide(enum ab_auth cur, enum ab_auth next)
{
    if (next == AB_AUTH_UNKNOWN || next < AB_AUTH_NONE ||
        next >= AB_AUTH__COUNT)
        return AB_AUTH_MOVE_UNKNOWN;
    if (next == AB_AUTH_NONE)
        return AB_AUTH_MOVE_BACKWARDS;
    if (next == cur)
        return AB_AUTH_MOVE_SAME;
    return ab_auth_rank(next) > ab_auth_rank(cur) ? AB_AUTH_MOVE_FORWARD
                                                  : AB_AUTH_MOVE_BACKWARDS;
}

const char *ab_auth_move_name(enum ab_auth_move m)
{
    switch (m) {
    case AB_AUTH_MOVE_FORWARD:
        return "forward";
    case AB_AUTH_MOVE_SAME:
        return "same";
    case AB_AUTH_MOVE_BACKWARDS:
        return "backwards";
    case AB_AUTH_MOVE_UNKNOWN:
        break;
    }
    return "unknown";
}
