/* ratelimit_sim.h - the limiter against simulated rate-limited servers, on
 * a fake clock (test helper for test_ratelimit.c).
 *
 * The client side is the dispatcher's loop in miniature: up to
 * `concurrency` requests in flight, an endless queue, ab_ratelimit_next()
 * before each send and a 1 ms timer (fired a little late, like libuv's)
 * when it says "not yet", ab_ratelimit_answer() for every answer with the
 * send time as the dispatcher reports it (whole milliseconds of duration).
 * The server decides each request when it arrives (loopback: at once) and
 * answers after the latency (+ uniform jitter). Throttled requests are not
 * resent: the queue is endless, a retry is just another send.
 *
 * Server models: a fixed window (a counter per server second, whose
 * boundaries are offset from the client's clock by `phase_ms`), a sliding
 * window log (any trailing 1000 ms), and a token bucket (`limit` per second,
 * `bucket` tokens deep, starting full). The window models count accepted
 * requests, or every arrival with `count_arrivals`. The limit and the
 * latency can change at given times. `noise` throttles a share of the
 * requests at random, whatever the rate.
 *
 * All results are per whole second of the run, by the time the server
 * decided (accepted/throttled) or the client sent (sent); runs are at most
 * SIM_MAX_SECS long. Deterministic: the jitter comes from `seed`.
 */
#ifndef AB_RATELIMIT_SIM_H
#define AB_RATELIMIT_SIM_H

#include <stddef.h>
#include <stdint.h>

#define SIM_MAX_SECS 400
#define SIM_MAX_STEPS 8

enum sim_server { SIM_FIXED, SIM_SLIDING, SIM_BUCKET };
enum sim_signal {
    SIM_CODE, /* code 11990006 in an HTTP 200: no Retry-After */
    SIM_429   /* HTTP 429 with Retry-After */
};

struct sim_step {
    double at_s;  /* seconds after the start */
    double value; /* the new limit (req/s) or latency (ms) */
};

struct sim_config {
    enum sim_server server;
    enum sim_signal signal;
    double limit;         /* req/s at the start */
    int count_arrivals;   /* window models: refused requests count too */
    double bucket;        /* token bucket depth (0: limit / 10, at least 1) */
    double retry_after_s; /* SIM_429 (0: 1 s) */
    double phase_ms;      /* fixed window: offset of the server's seconds */
    double noise; /* share of admitted requests throttled anyway, at random
                     (a throttle that has nothing to do with the rate) */
    struct sim_step limits[SIM_MAX_STEPS];
    size_t nlimits;
    double ceiling; /* --rate (0 = none) */
    int burst;      /* --burst (0: 1) */
    int concurrency;
    double latency_ms; /* answer latency */
    double jitter_ms;  /* + uniform 0..jitter */
    struct sim_step latencies[SIM_MAX_STEPS];
    size_t nlatencies;
    double secs; /* run length, <= SIM_MAX_SECS */
    uint64_t seed;
};

struct sim_result {
    int secs;
    int64_t accepted[SIM_MAX_SECS];  /* server: accepted in second i */
    int64_t throttled[SIM_MAX_SECS]; /* server: throttled in second i */
    int64_t sent[SIM_MAX_SECS];      /* client: sends in second i */
    double limit[SIM_MAX_SECS];      /* server's limit at the end of i */
    double rate[SIM_MAX_SECS];       /* limiter's rate at the end of i */
    double estimate[SIM_MAX_SECS];   /* limiter's estimate at the end of i */
    int64_t pause_violations;        /* sends before a Retry-After had passed */
    int64_t episodes, probes;
};

/* Runs one simulation into *out (which it fills completely). */
void sim_run(const struct sim_config *cfg, struct sim_result *out);

/* Accepted requests per second over seconds [from, to). */
double sim_goodput(const struct sim_result *r, int from, int to);
/* Mean of the server's limit over seconds [from, to). */
double sim_limit(const struct sim_result *r, int from, int to);
/* Throttled / (accepted + throttled) over seconds [from, to). */
double sim_throttled_share(const struct sim_result *r, int from, int to);
/* Most sends in one client second over [from, to). */
int64_t sim_max_sent(const struct sim_result *r, int from, int to);
/* Mean sends per second over [from, to). */
double sim_sent_rate(const struct sim_result *r, int from, int to);
/* Seconds from `from` until goodput over three seconds first reaches
 * share * the limit of that time; -1 when it never does. */
int sim_seconds_to_reach(const struct sim_result *r, int from, double share);

/* One line per second on stderr (for looking at a run while tuning). */
void sim_dump(const struct sim_result *r, const char *title);

#endif
