/*
 * sbx_fault -- reproducible fault selection.
 *
 * One PRNG draw u in [0,1) per request that passed the auth checks picks at
 * most one fault: the fractions are laid end to end in the order of enum
 * sbx_fault, and u falls into one of them or past them all (no fault).
 */
#ifndef SBX_FAULT_H
#define SBX_FAULT_H

#include <stdint.h>

enum sbx_fault {
    SBX_FAULT_NONE = 0,
    SBX_FAULT_5XX,
    SBX_FAULT_RESET,
    SBX_FAULT_SLOW,
    SBX_FAULT_GARBAGE,
    SBX_FAULT_THROTTLE, /* HTTP 200, code 11990006 */
    SBX_FAULT_429,      /* HTTP 429 + Retry-After */
    /* processed in full (ticket issued), then TCP RST instead of an answer */
    SBX_FAULT_RESET_AFTER_READ,
    SBX_FAULT_COUNT
};

/* Fractions 0..1 indexed by enum sbx_fault; frac[SBX_FAULT_NONE] unused. */
struct sbx_fault_rates {
    double frac[SBX_FAULT_COUNT];
};

/* Returns 0 if every fraction is within 0..1 and their sum <= 1, else -1. */
int sbx_fault_rates_valid(const struct sbx_fault_rates *rates);

/* The fault u in [0,1) selects. Pure. */
enum sbx_fault sbx_fault_pick(const struct sbx_fault_rates *rates, double u);

/* Name used in the stats JSON ("5xx", "reset", ...). */
const char *sbx_fault_name(enum sbx_fault f);

/* splitmix64: the next 64-bit value from *state (not thread-safe). */
uint64_t sbx_rng_next(uint64_t *state);

/* Uniform double in [0,1) from *state. */
double sbx_rng_unit(uint64_t *state);

#endif
