/* test_ratelimit.c - the limiter on a fake clock (microseconds).
 *
 * GCRA: one token at the start, never a full bucket; a steady rate; bursts
 * after idle time; no second over rate + burst; a throttled answer pauses at
 * least for its Retry-After and lowers the rate, never to nothing.
 *
 * Finding the limit (issue 11), against the simulated servers of
 * ratelimit_sim.h (fixed window, sliding window log, token bucket; code
 * 11990006 without Retry-After, HTTP 429 with it): goodput >= 0.9 of the
 * hidden limit with <= 2 % throttled in steady state; a rising limit
 * followed within 30 s; <= 5 % throttled in the 30 s after it falls; --rate
 * below the limit exact; Retry-After honoured; no collapse after a burst of
 * throttles; --rate 0 with a small concurrency; a concurrency bound is not
 * headroom. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "ratelimit.h"
#include "ratelimit_sim.h"

#define S 1000000LL   /* one second in us */
#define T0 (1000 * S) /* an arbitrary monotonic origin */

/* Sends as fast as the limiter allows from `from` until `until` (exclusive);
 * returns how many went out and leaves *now at the last send. */
static int drain(struct ab_ratelimit *rl, int64_t from, int64_t until,
                 int64_t *now)
{
    int64_t t = from;
    int n = 0;

    for (;;) {
        int64_t next = ab_ratelimit_next(rl, t);
        if (next > t)
            t = next;
        if (t >= until)
            break;
        ab_ratelimit_take(rl, t);
        n++;
    }
    if (now)
        *now = t;
    return n;
}

/* How many sends the limiter allows at exactly `t`. */
static int at_once(struct ab_ratelimit *rl, int64_t t)
{
    int n = 0;
    while (ab_ratelimit_next(rl, t) <= t && n < 100000) {
        ab_ratelimit_take(rl, t);
        n++;
    }
    return n;
}

/* Below the estimate by the cruise margin, and a little more. */
#define MARGIN_FLOOR 0.95

static void test_ratelimit__starts_with_one_token(void **state)
{
    static const struct {
        double rate;
        int burst;
    } t[] = {{10, 1}, {10, 5}, {50, 50}, {1, 10}, {1000, 100}};
    size_t i;
    (void)state;

    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct ab_ratelimit *rl;
        int64_t interval = (int64_t)(1e6 / t[i].rate);
        rl = ab_ratelimit_new(t[i].rate, t[i].burst, T0);
        assert_non_null(rl);
        assert_int_equal(at_once(rl, T0), 1);
        assert_int_equal(ab_ratelimit_next(rl, T0), T0 + interval);
        ab_ratelimit_free(rl);
    }
}

static void test_ratelimit__steady_rate(void **state)
{
    static const struct {
        double rate;
        int burst;
        int secs;
    } t[] = {{10, 1, 10}, {50, 1, 3}, {50, 10, 3}, {2.5, 1, 8}, {1000, 1, 2}};
    size_t i;
    (void)state;

    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct ab_ratelimit *rl;
        int n, want = (int)(t[i].rate * t[i].secs);
        rl = ab_ratelimit_new(t[i].rate, t[i].burst, T0);
        assert_non_null(rl);
        n = drain(rl, T0, T0 + t[i].secs * S, NULL);
        /* Starting with one token: no more than rate * secs (+1 for the
         * send at time zero), whatever the burst. */
        assert_true(n >= want - 1);
        assert_true(n <= want + 1);
        ab_ratelimit_free(rl);
    }
}

static void test_ratelimit__no_second_over_rate_plus_burst(void **state)
{
    struct ab_ratelimit *rl;
    int64_t t = T0, sec_start = T0;
    int in_sec = 0, k;
    (void)state;

    /* Bursty arrivals: idle gaps then sends as fast as allowed. */
    rl = ab_ratelimit_new(50, 5, T0);
    assert_non_null(rl);
    for (k = 0; k < 20000; k++) {
        int64_t next = ab_ratelimit_next(rl, t);
        if (next > t)
            t = next;
        if (k % 97 == 0)
            t += 300000; /* idle 0.3 s now and then: the bucket refills */
        if (ab_ratelimit_next(rl, t) > t)
            continue;
        while (t >= sec_start + S) {
            sec_start += S;
            in_sec = 0;
        }
        ab_ratelimit_take(rl, t);
        in_sec++;
        assert_true(in_sec <= 50 + 5);
    }
    ab_ratelimit_free(rl);
}

/* A run's share of --rate changes as runs join and leave (runner.h): a
 * lower ceiling holds from the change on, with no burst; a higher one is
 * used; 0 lifts it. */
static void test_ratelimit__set_ceiling(void **state)
{
    struct ab_ratelimit *rl;
    int64_t t;
    int n;
    (void)state;

    rl = ab_ratelimit_new(60, 1, T0);
    assert_non_null(rl);
    n = drain(rl, T0, T0 + 2 * S, &t);
    assert_true(n >= 119 && n <= 121);
    ab_ratelimit_set_ceiling(rl, 19, T0 + 2 * S);
    assert_true(ab_ratelimit_rate(rl) == 19);
    assert_true(at_once(rl, T0 + 2 * S) <= 1); /* no burst from it */
    n = drain(rl, T0 + 2 * S, T0 + 5 * S, NULL);
    assert_true(n >= 56 && n <= 58); /* 3 s at 19/s */
    ab_ratelimit_set_ceiling(rl, 29, T0 + 5 * S);
    assert_true(ab_ratelimit_rate(rl) == 29);
    n = drain(rl, T0 + 5 * S, T0 + 7 * S, NULL);
    assert_true(n >= 57 && n <= 59);
    ab_ratelimit_set_ceiling(rl, 0, T0 + 7 * S);
    assert_true(ab_ratelimit_rate(rl) == 0);
    ab_ratelimit_free(rl);
}

static void test_ratelimit__burst_after_idle(void **state)
{
    struct ab_ratelimit *rl;
    (void)state;

    rl = ab_ratelimit_new(10, 5, T0);
    assert_non_null(rl);
    assert_int_equal(at_once(rl, T0), 1);
    /* Idle long enough: the bucket fills to `burst`, never more. */
    assert_int_equal(at_once(rl, T0 + 10 * S), 5);
    assert_int_equal(ab_ratelimit_next(rl, T0 + 10 * S), T0 + 10 * S + S / 10);
    /* Half a second later, five intervals: five tokens again. */
    assert_int_equal(at_once(rl, T0 + 10 * S + S / 2), 5);
    /* Burst 1: never two at once. */
    ab_ratelimit_free(rl);
    rl = ab_ratelimit_new(10, 1, T0);
    assert_non_null(rl);
    assert_int_equal(at_once(rl, T0 + 60 * S), 1);
    ab_ratelimit_free(rl);
}

static void test_ratelimit__unlimited(void **state)
{
    struct ab_ratelimit *rl;
    (void)state;

    rl = ab_ratelimit_new(0, 1, T0);
    assert_non_null(rl);
    assert_int_equal(at_once(rl, T0), 100000);
    assert_true(ab_ratelimit_next(rl, T0) <= T0);
    ab_ratelimit_free(rl);
}

static void test_ratelimit__throttle_pauses_for_retry_after(void **state)
{
    struct ab_ratelimit *rl = ab_ratelimit_new(10, 1, T0);
    int64_t now;
    (void)state;

    assert_non_null(rl);
    drain(rl, T0, T0 + 5 * S, &now);
    ab_ratelimit_answer(rl, now, now - S / 10, 1, 2 * S);
    assert_true(ab_ratelimit_rate(rl) < 10.0);
    assert_true(ab_ratelimit_rate(rl) > 0.0);
    /* Nothing goes during the pause. */
    assert_true(ab_ratelimit_paused_until(rl) >= now + 2 * S);
    assert_true(ab_ratelimit_next(rl, now) >= now + 2 * S);
    assert_true(ab_ratelimit_next(rl, now + S) >= now + 2 * S);
    ab_ratelimit_free(rl);
}

static void test_ratelimit__rate_has_a_floor(void **state)
{
    struct ab_ratelimit *rl = ab_ratelimit_new(1, 1, T0);
    int64_t t = T0;
    int i;
    (void)state;

    assert_non_null(rl);
    for (i = 0; i < 50; i++) {
        t += S;
        ab_ratelimit_answer(rl, t, t, 1, 0);
    }
    assert_true(ab_ratelimit_rate(rl) > 0.0);
    assert_true(ab_ratelimit_next(rl, t) <= t + 20 * S);
    ab_ratelimit_free(rl);
}

/* A burst of throttled answers to requests sent before the first cut (64
 * in flight) cuts once and does not take the rate to nothing. */
static void test_ratelimit__burst_of_throttles_cuts_once(void **state)
{
    struct ab_ratelimit *rl = ab_ratelimit_new(100, 1, T0);
    struct ab_ratelimit_stats st;
    int64_t now, sent[64];
    int i, n = 0;
    (void)state;

    assert_non_null(rl);
    /* Five seconds at 100/s, every answer accepted, then 64 more sends
     * whose answers all come back throttled. */
    drain(rl, T0, T0 + 5 * S, &now);
    for (i = 0; i < 64; i++) {
        int64_t t = ab_ratelimit_next(rl, now);
        if (t > now)
            now = t;
        ab_ratelimit_take(rl, now);
        sent[n++] = now;
    }
    for (i = 0; i < n; i++)
        ab_ratelimit_answer(rl, now + 1000 * i, sent[i], 1, 0);
    ab_ratelimit_stats(rl, &st);
    assert_int_equal(st.episodes, 1);
    assert_int_equal(st.throttled, 64);
    assert_int_equal(st.phase, AB_RATELIMIT_CRUISE);
    /* The last second held 100 sends of which 64 were refused: the rate
     * is cut, but by no more than half of the first estimate. */
    assert_true(ab_ratelimit_rate(rl) < 100.0);
    assert_true(ab_ratelimit_rate(rl) >= 40.0);
    assert_true(st.estimate >= 45.0);
    ab_ratelimit_free(rl);
}

/* The first answers come back throttled, before a whole window of sending
 * (other runs sharing the App had filled the server's window): what this
 * limiter got accepted (nothing) is not the limit, and the rate does not
 * collapse to the floor (it was 0.1/s for the rest of an 18 s run). */
static void test_ratelimit__throttled_at_the_start_keeps_a_rate(void **state)
{
    struct ab_ratelimit *rl = ab_ratelimit_new(32, 1, T0);
    int64_t now = T0, sent[3];
    int i;
    (void)state;

    assert_non_null(rl);
    for (i = 0; i < 3; i++) {
        int64_t t = ab_ratelimit_next(rl, now);
        if (t > now)
            now = t;
        ab_ratelimit_take(rl, now);
        sent[i] = now;
    }
    ab_ratelimit_answer(rl, now + 5000, sent[0], 1, S);
    ab_ratelimit_answer(rl, now + 6000, sent[1], 0, 0);
    assert_true(ab_ratelimit_rate(rl) >= 0.25 * 32 * MARGIN_FLOOR);
    assert_true(ab_ratelimit_rate(rl) < 32);
    ab_ratelimit_free(rl);
}

/* Every throttled answer with a Retry-After pushes the pause to at least
 * its arrival + Retry-After; one without pauses nothing. */
static void test_ratelimit__retry_after_is_a_lower_bound(void **state)
{
    struct ab_ratelimit *rl = ab_ratelimit_new(50, 1, T0);
    int64_t now;
    (void)state;

    assert_non_null(rl);
    drain(rl, T0, T0 + 3 * S, &now);
    ab_ratelimit_answer(rl, now, now - 20000, 1, 0);
    assert_true(ab_ratelimit_paused_until(rl) <= now);
    ab_ratelimit_answer(rl, now + 1000, now - 10000, 1, 3 * S);
    ab_ratelimit_answer(rl, now + 5000, now - 5000, 1, S);
    assert_true(ab_ratelimit_paused_until(rl) >= now + 1000 + 3 * S);
    assert_true(ab_ratelimit_next(rl, now + 3 * S) >= now + 1000 + 3 * S);
    ab_ratelimit_free(rl);
}

static void test_ratelimit__phases(void **state)
{
    struct ab_ratelimit *rl = ab_ratelimit_new(400, 1, T0);
    struct ab_ratelimit_stats st;
    int64_t now, sent[400];
    int i, n = 0;
    (void)state;

    assert_non_null(rl);
    ab_ratelimit_stats(rl, &st);
    assert_int_equal(st.phase, AB_RATELIMIT_START);
    assert_true(st.estimate == 0.0);
    assert_string_equal(ab_ratelimit_phase_name(st.phase), "start");
    /* A second at 400/s, all of it refused: an estimate of half of that
     * (an episode never refines below half its first estimate). */
    drain(rl, T0, T0 + S, &now);
    while (n < 400) {
        int64_t t = ab_ratelimit_next(rl, now);
        if (t > now)
            now = t;
        ab_ratelimit_take(rl, now);
        sent[n++] = now;
    }
    for (i = 0; i < n; i++)
        ab_ratelimit_answer(rl, now + 1000, sent[i], 1, 0);
    ab_ratelimit_stats(rl, &st);
    assert_int_equal(st.phase, AB_RATELIMIT_CRUISE);
    assert_int_equal(st.episodes, 1);
    assert_true(st.estimate >= 190.0 && st.estimate <= 210.0);
    assert_true(st.rate < st.estimate);
    assert_string_equal(ab_ratelimit_phase_name(st.phase), "cruise");
    /* Sending clean at the cruise rate for the hold time: a probe, 3 %
     * above the estimate. */
    drain(rl, now, now + 5 * S, &now);
    ab_ratelimit_stats(rl, &st);
    assert_int_equal(st.phase, AB_RATELIMIT_PROBE);
    assert_int_equal(st.probes, 1);
    assert_true(st.rate > 1.02 * st.estimate && st.rate < 1.04 * st.estimate);
    assert_string_equal(ab_ratelimit_phase_name(st.phase), "probe");
    ab_ratelimit_free(rl);
}

/* ---- against simulated servers -------------------------------------- */

static const char *const server_names[] = {"fixed", "sliding", "bucket"};

/* The setting: --rate well above the limit, --concurrency 32,
 * answers after 5-10 ms. */
static struct sim_config scenario(enum sim_server server,
                                  enum sim_signal signal, double limit)
{
    struct sim_config c = {0};

    c.server = server;
    c.signal = signal;
    c.limit = limit;
    c.ceiling = limit > 400 ? 4 * limit : 400;
    c.concurrency = 32;
    c.latency_ms = 5;
    c.jitter_ms = 5;
    c.phase_ms = 337; /* the server's seconds are not the client's */
    c.secs = 90;
    c.seed = 11;
    return c;
}

static const char *signal_name(enum sim_signal g)
{
    return g == SIM_CODE ? "code" : "429";
}

/* Steady state: from `from` to the end of the run. */
static void assert_steady(const struct sim_result *r, const char *what,
                          int from, double min_goodput, double max_throttled)
{
    double good = sim_goodput(r, from, r->secs) / sim_limit(r, from, r->secs);
    double thr = sim_throttled_share(r, from, r->secs);

    print_message("    %-28s goodput %.3f of the limit, throttled %.2f %%, "
                  "%lld episodes, %lld probes\n",
                  what, good, 100 * thr, (long long)r->episodes,
                  (long long)r->probes);
    if (good < min_goodput || thr > max_throttled)
        sim_dump(r, what);
    assert_true(good >= min_goodput);
    assert_true(thr <= max_throttled);
    assert_int_equal(r->pause_violations, 0);
}

/* Goodput >= 0.9 of the limit, <= 2 % throttled, for both window models,
 * both signals and limits 30, 100, 500 (steady state: after 30 s). */
static void test_ratelimit_sim__windows_hold_the_limit(void **state)
{
    static const double limits[] = {30, 100, 500};
    static struct sim_result r;
    int sv, g;
    size_t l;
    (void)state;

    for (sv = SIM_FIXED; sv <= SIM_SLIDING; sv++)
        for (g = SIM_CODE; g <= SIM_429; g++)
            for (l = 0; l < sizeof limits / sizeof limits[0]; l++) {
                struct sim_config c = scenario(sv, g, limits[l]);
                char what[64];
                sim_run(&c, &r);
                snprintf(what, sizeof what, "%s %s %.0f/s", server_names[sv],
                         signal_name(g), limits[l]);
                assert_steady(&r, what, 30, 0.9, 0.02);
                /* Never above the ceiling + burst in any second. */
                assert_true(sim_max_sent(&r, 0, r.secs) <= c.ceiling + 1);
            }
}

/* The same with the server counting refused requests as well (a refusal
 * uses up the window): no collapse, the same goals. */
static void test_ratelimit_sim__windows_counting_arrivals(void **state)
{
    static struct sim_result r;
    int sv, g;
    (void)state;

    for (sv = SIM_FIXED; sv <= SIM_SLIDING; sv++)
        for (g = SIM_CODE; g <= SIM_429; g++) {
            struct sim_config c = scenario(sv, g, 100);
            char what[64];
            c.count_arrivals = 1;
            sim_run(&c, &r);
            snprintf(what, sizeof what, "%s %s arrivals", server_names[sv],
                     signal_name(g));
            assert_steady(&r, what, 30, 0.9, 0.025);
        }
}

/* A token bucket lets a probe's first seconds through on its burst, so the
 * estimate can run a few per cent high until the bucket is empty, and the
 * cruise is then throttled once more. A shallow bucket (a tenth of a
 * second) also makes the first estimate low (the burst is all that was
 * accepted when the first throttle came), so steady state here is counted
 * from 40 s, and with a Retry-After (a pause for each of those throttles)
 * it keeps 0.85 of the limit rather than 0.9. */
static void test_ratelimit_sim__token_bucket(void **state)
{
    static const double limits[] = {30, 100, 500};
    static struct sim_result r;
    int g, deep;
    size_t l;
    (void)state;

    for (deep = 0; deep <= 1; deep++)
        for (g = SIM_CODE; g <= SIM_429; g++)
            for (l = 0; l < sizeof limits / sizeof limits[0]; l++) {
                struct sim_config c = scenario(SIM_BUCKET, g, limits[l]);
                char what[64];
                c.bucket = deep ? limits[l] : limits[l] / 10;
                c.secs = 120;
                sim_run(&c, &r);
                snprintf(what, sizeof what, "bucket/%s %s %.0f/s",
                         deep ? "1s" : "0.1s", signal_name(g), limits[l]);
                assert_steady(&r, what, 40, !deep && g == SIM_429 ? 0.85 : 0.9,
                              0.02);
            }
}

/* Slow and jittery answers: 300 ms with 64 in flight; 5-105 ms. */
static void test_ratelimit_sim__latency(void **state)
{
    static struct sim_result r;
    int sv, g;
    (void)state;

    for (sv = SIM_FIXED; sv <= SIM_SLIDING; sv++)
        for (g = SIM_CODE; g <= SIM_429; g++) {
            struct sim_config c = scenario(sv, g, 100);
            char what[64];
            c.latency_ms = 300;
            c.concurrency = 64;
            sim_run(&c, &r);
            snprintf(what, sizeof what, "%s %s 300 ms", server_names[sv],
                     signal_name(g));
            assert_steady(&r, what, 30, 0.9, 0.02);
            c = scenario(sv, g, 100);
            c.jitter_ms = 100;
            sim_run(&c, &r);
            snprintf(what, sizeof what, "%s %s 5-105 ms", server_names[sv],
                     signal_name(g));
            assert_steady(&r, what, 30, 0.9, 0.02);
        }
}

/* The limit doubles at some point of the probe cycle: goodput reaches 0.9
 * of the new limit within 30 s, wherever in the cycle the rise falls. */
static void test_ratelimit_sim__follows_a_rising_limit(void **state)
{
    static struct sim_result r;
    int sv, g, at;
    (void)state;

    for (sv = SIM_FIXED; sv <= SIM_SLIDING; sv++)
        for (g = SIM_CODE; g <= SIM_429; g++) {
            int worst = 0;
            for (at = 50; at < 70; at += 3) {
                struct sim_config c = scenario(sv, g, 100);
                int took;
                c.secs = at + 40;
                c.limits[0].at_s = at;
                c.limits[0].value = 200;
                c.nlimits = 1;
                sim_run(&c, &r);
                took = sim_seconds_to_reach(&r, at, 0.9);
                if (took < 0 || took > 30)
                    sim_dump(&r, "rising limit");
                assert_true(took >= 0 && took <= 30);
                if (took > worst)
                    worst = took;
                assert_int_equal(r.pause_violations, 0);
            }
            print_message("    %-7s %-4s 100 -> 200/s: 0.9 of it within "
                          "%d s at worst\n",
                          server_names[sv], signal_name(g), worst);
        }
}

/* The limit halves: at most 5 % throttled over the next 30 s, and the rate
 * settles beneath the new limit (no collapse). */
static void test_ratelimit_sim__follows_a_falling_limit(void **state)
{
    static struct sim_result r;
    int sv, g;
    (void)state;

    for (sv = SIM_FIXED; sv <= SIM_SLIDING; sv++)
        for (g = SIM_CODE; g <= SIM_429; g++) {
            struct sim_config c = scenario(sv, g, 200);
            double thr, good;
            c.secs = 120;
            c.limits[0].at_s = 60;
            c.limits[0].value = 100;
            c.nlimits = 1;
            sim_run(&c, &r);
            thr = sim_throttled_share(&r, 60, 90);
            good = sim_goodput(&r, 75, 120) / 100;
            print_message("    %-7s %-4s 200 -> 100/s: throttled %.2f %% "
                          "in the next 30 s; then goodput %.3f\n",
                          server_names[sv], signal_name(g), 100 * thr, good);
            if (thr > 0.05 || good < 0.85)
                sim_dump(&r, "falling limit");
            assert_true(thr <= 0.05);
            assert_true(good >= 0.85);
            assert_int_equal(r.pause_violations, 0);
        }
}

/* --rate below the limit: exact (within 1 %), never above rate + burst in
 * any second, nothing throttled. */
static void test_ratelimit_sim__rate_below_the_limit_is_exact(void **state)
{
    static const int bursts[] = {1, 5};
    static struct sim_result r;
    size_t b;
    int sv;
    (void)state;

    for (sv = SIM_FIXED; sv <= SIM_SLIDING; sv++)
        for (b = 0; b < sizeof bursts / sizeof bursts[0]; b++) {
            struct sim_config c = scenario(sv, SIM_429, 100);
            double rate;
            c.ceiling = 50;
            c.burst = bursts[b];
            c.secs = 60;
            sim_run(&c, &r);
            rate = sim_sent_rate(&r, 1, r.secs);
            assert_true(rate >= 49.5 && rate <= 50.5);
            assert_true(sim_max_sent(&r, 0, r.secs) <= 50 + bursts[b]);
            assert_true(sim_throttled_share(&r, 0, r.secs) == 0.0);
            assert_int_equal(r.episodes, 0);
        }
}

/* --rate 0 --concurrency 8 against 100/s (the issue measured 35/s, in
 * bursts of 102 and then seconds of 2-7): the limit is found and held, no
 * second far above it, and few nearly empty seconds (a Retry-After pause
 * after each probe). */
static void test_ratelimit_sim__unlimited_small_concurrency(void **state)
{
    static struct sim_result r;
    int sv, g, i;
    (void)state;

    for (sv = SIM_FIXED; sv <= SIM_SLIDING; sv++)
        for (g = SIM_CODE; g <= SIM_429; g++) {
            struct sim_config c = scenario(sv, g, 100);
            char what[64];
            int empty = 0;
            c.ceiling = 0;
            c.concurrency = 8;
            c.secs = 120;
            sim_run(&c, &r);
            snprintf(what, sizeof what, "%s %s --rate 0 -c 8", server_names[sv],
                     signal_name(g));
            assert_steady(&r, what, 30, 0.9, 0.02);
            assert_true(sim_max_sent(&r, 30, r.secs) <= 110);
            for (i = 30; i < r.secs; i++)
                if (r.accepted[i] < 50)
                    empty++;
            assert_true(empty <= (r.secs - 30) / 15);
        }
}

/* With few requests in flight and slow answers the sends are bound by
 * concurrency / latency (8 / 200 ms = 40/s): the limiter does not take that
 * for headroom (its rate stays near the limit it found), and when the
 * answers are fast again it does not overshoot. */
static void test_ratelimit_sim__concurrency_bound_is_not_headroom(void **state)
{
    static struct sim_result r;
    int sv, g, i;
    (void)state;

    for (sv = SIM_FIXED; sv <= SIM_SLIDING; sv++)
        for (g = SIM_CODE; g <= SIM_429; g++) {
            struct sim_config c = scenario(sv, g, 100);
            c.concurrency = 8;
            c.secs = 120;
            c.latencies[0].at_s = 30;
            c.latencies[0].value = 200;
            c.latencies[1].at_s = 80;
            c.latencies[1].value = 5;
            c.nlatencies = 2;
            sim_run(&c, &r);
            for (i = 35; i < 80; i++) {
                assert_true(r.sent[i] <= 45);
                assert_true(r.rate[i] <= 110);
            }
            assert_true(sim_throttled_share(&r, 80, 90) <= 0.02);
            assert_true(sim_goodput(&r, 85, r.secs) >= 90);
        }
}

/* A long Retry-After: every pause honoured, and still most of the limit. */
static void test_ratelimit_sim__long_retry_after(void **state)
{
    static struct sim_result r;
    struct sim_config c = scenario(SIM_SLIDING, SIM_429, 100);
    (void)state;

    c.retry_after_s = 3;
    c.secs = 120;
    sim_run(&c, &r);
    assert_int_equal(r.pause_violations, 0);
    assert_steady(&r, "sliding 429 Retry-After: 3", 30, 0.8, 0.02);
}

/* Stray throttles that have nothing to do with the rate (0.1 % of the
 * requests, code 11990006, no limit at all): not taken for a limit, the
 * sends stay at what the concurrency allows (8 / 25 ms = 320/s). */
static void test_ratelimit_sim__stray_throttles_are_not_a_limit(void **state)
{
    static struct sim_result r;
    struct sim_config c = scenario(SIM_SLIDING, SIM_CODE, 100000);
    double sent;
    (void)state;

    c.noise = 0.001;
    c.ceiling = 0;
    c.concurrency = 8;
    c.latency_ms = 20;
    c.jitter_ms = 10;
    c.secs = 120;
    sim_run(&c, &r);
    sent = sim_sent_rate(&r, 30, r.secs);
    print_message("    0.1 %% stray throttles, no limit: %.1f sends/s "
                  "(concurrency bound 320)\n",
                  sent);
    assert_true(sent >= 0.9 * 320);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit__starts_with_one_token),
        cmocka_unit_test(test_ratelimit__steady_rate),
        cmocka_unit_test(test_ratelimit__no_second_over_rate_plus_burst),
        cmocka_unit_test(test_ratelimit__burst_after_idle),
        cmocka_unit_test(test_ratelimit__set_ceiling),
        cmocka_unit_test(test_ratelimit__unlimited),
        cmocka_unit_test(test_ratelimit__throttle_pauses_for_retry_after),
        cmocka_unit_test(test_ratelimit__rate_has_a_floor),
        cmocka_unit_test(test_ratelimit__burst_of_throttles_cuts_once),
        cmocka_unit_test(test_ratelimit__throttled_at_the_start_keeps_a_rate),
        cmocka_unit_test(test_ratelimit__retry_after_is_a_lower_bound),
        cmocka_unit_test(test_ratelimit__phases),
        cmocka_unit_test(test_ratelimit_sim__windows_hold_the_limit),
        cmocka_unit_test(test_ratelimit_sim__windows_counting_arrivals),
        cmocka_unit_test(test_ratelimit_sim__token_bucket),
        cmocka_unit_test(test_ratelimit_sim__latency),
        cmocka_unit_test(test_ratelimit_sim__follows_a_rising_limit),
        cmocka_unit_test(test_ratelimit_sim__follows_a_falling_limit),
        cmocka_unit_test(test_ratelimit_sim__rate_below_the_limit_is_exact),
        cmocka_unit_test(test_ratelimit_sim__unlimited_small_concurrency),
        cmocka_unit_test(test_ratelimit_sim__concurrency_bound_is_not_headroom),
        cmocka_unit_test(test_ratelimit_sim__long_retry_after),
        cmocka_unit_test(test_ratelimit_sim__stray_throttles_are_not_a_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
