#include "sbx_fault.h"

int sbx_fault_rates_valid(const struct sbx_fault_rates *rates)
{
    double sum = 0;

    for (int i = 1; i < SBX_FAULT_COUNT; i++) {
        double f = rates->frac[i];

        if (!(f >= 0.0 && f <= 1.0))
            return -1;
        sum += f;
    }
    return sum <= 1.0 + 1e-9 ? 0 : -1;
}

enum sbx_fault sbx_fault_pick(const struct sbx_fault_rates *rates, double u)
{
    double edge = 0;

    for (int i = 1; i < SBX_FAULT_COUNT; i++) {
        edge += rates->frac[i];
        if (u < edge)
            return (enum sbx_fault)i;
    }
    return SBX_FAULT_NONE;
}

const char *sbx_fault_name(enum sbx_fault f)
{
    switch (f) {
    case SBX_FAULT_5XX:
        return "5xx";
    case SBX_FAULT_RESET:
        return "reset";
    case SBX_FAULT_SLOW:
        return "slow";
    case SBX_FAULT_GARBAGE:
        return "garbage";
    case SBX_FAULT_THROTTLE:
        return "throttle_code";
    case SBX_FAULT_429:
        return "http_429";
    case SBX_FAULT_RESET_AFTER_READ:
        return "reset_after_read";
    case SBX_FAULT_NONE:
    case SBX_FAULT_COUNT:
        break;
    }
    return "none";
}

uint64_t sbx_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double sbx_rng_unit(uint64_t *state)
{
    return (double)(sbx_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}
