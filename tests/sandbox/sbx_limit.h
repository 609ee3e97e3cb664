/*
 * sbx_limit -- the vendor's hidden rate limit, as the sandbox models it
 * (issue 11): N requests per second in a fixed wall-clock second or in any
 * trailing 1000 ms, counting the requests it admitted or every arrival, a
 * limit that changes on a schedule or on demand, and per-second counts of
 * what it admitted and refused.
 *
 * Pure (time is passed in: wall-clock ms) and thread-safe (one mutex).
 * What the refusal looks like (HTTP 429 + Retry-After, or code 11990006)
 * is the caller's business.
 */
#ifndef SBX_LIMIT_H
#define SBX_LIMIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum sbx_limit_window {
    SBX_LIMIT_FIXED,  /* per wall-clock second */
    SBX_LIMIT_SLIDING /* any trailing 1000 ms (1 ms resolution) */
};

struct sbx_limit_step {
    int64_t at_ms; /* after the limiter's start */
    uint32_t rps;  /* the limit from then on; 0 = none */
};

struct sbx_limit;

/*
 * A new limiter started at start_ms: rps requests per window (0 = no limit
 * until a step sets one); count_arrivals: refused requests use up the
 * window too. steps (copied) must be in increasing at_ms. NULL on OOM.
 */
struct sbx_limit *sbx_limit_new(uint32_t rps, enum sbx_limit_window window,
                                int count_arrivals,
                                const struct sbx_limit_step *steps,
                                size_t nsteps, int64_t start_ms);
void sbx_limit_free(struct sbx_limit *l);

/*
 * Decides a request that arrived at now_ms: 1 = over the limit (refuse),
 * 0 = admitted. Applies the schedule's due steps first. A request decided
 * after a later one (threads) still counts in the second it arrived in, as
 * long as that is the current or the previous one.
 */
int sbx_limit_check(struct sbx_limit *l, int64_t now_ms);

/* The limit in force at now_ms (schedule applied); 0 = none. */
uint32_t sbx_limit_rps(struct sbx_limit *l, int64_t now_ms);

/*
 * On demand (the sandbox's SIGUSR1): applies the next pending schedule step
 * now (the later ones keep their times); with none pending, doubles the
 * limit. sbx_limit_halve() (SIGUSR2) halves it (at least 1). Both return
 * the new limit.
 */
uint32_t sbx_limit_next_step(struct sbx_limit *l, int64_t now_ms);
uint32_t sbx_limit_halve(struct sbx_limit *l, int64_t now_ms);

/*
 * The state at now_ms (the schedule applied):
 * {"rps":N,"window":"fixed"|"sliding","counts":"accepted"|"arrivals",
 *  "accepted":N,"throttled":N,"per_second":{"<unix s>":[accepted,
 *  throttled,limit],...}} (new reference), or NULL on OOM.
 */
json_t *sbx_limit_json(struct sbx_limit *l, int64_t now_ms);

/*
 * Parses "T:N[,T:N...]" (T seconds after the start, may have a fraction;
 * N requests per second) into a new array (*out, free()), times increasing.
 * Returns 0, or -1 with a message in err.
 */
int sbx_limit_parse_schedule(const char *s, struct sbx_limit_step **out,
                             size_t *n, char *err, size_t errlen);

#endif
