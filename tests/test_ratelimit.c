/* test_ratelimit.c - the GCRA limiter on a fake clock (microseconds): one
 * token at the start, never a full bucket; a steady rate; bursts after idle
 * time; throttling pauses and halves, then the rate climbs back a tenth of
 * the target per second; an unlimited limiter adopts half the observed rate
 * and becomes unlimited again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ratelimit.h"

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

static void test_ratelimit__starts_with_one_token(void **state)
{
    static const struct {
        double rate;
        int burst;
    } t[] = {{10, 1}, {10, 5}, {50, 50}, {1, 10}, {1000, 100}};
    size_t i;
    (void)state;

    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct ab_ratelimit rl;
        int64_t interval = (int64_t)(1e6 / t[i].rate);
        ab_ratelimit_init(&rl, t[i].rate, t[i].burst, T0);
        assert_int_equal(at_once(&rl, T0), 1);
        assert_int_equal(ab_ratelimit_next(&rl, T0), T0 + interval);
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
        struct ab_ratelimit rl;
        int n, want = (int)(t[i].rate * t[i].secs);
        ab_ratelimit_init(&rl, t[i].rate, t[i].burst, T0);
        n = drain(&rl, T0, T0 + t[i].secs * S, NULL);
        /* Starting with one token: no more than rate * secs (+1 for the
         * send at time zero), whatever the burst. */
        assert_true(n >= want - 1);
        assert_true(n <= want + 1);
    }
}

static void test_ratelimit__no_second_over_rate_plus_burst(void **state)
{
    struct ab_ratelimit rl;
    int64_t t = T0, sec_start = T0;
    int in_sec = 0, k;
    (void)state;

    /* Bursty arrivals: idle gaps then sends as fast as allowed. */
    ab_ratelimit_init(&rl, 50, 5, T0);
    for (k = 0; k < 20000; k++) {
        int64_t next = ab_ratelimit_next(&rl, t);
        if (next > t)
            t = next;
        if (k % 97 == 0)
            t += 300000; /* idle 0.3 s now and then: the bucket refills */
        if (ab_ratelimit_next(&rl, t) > t)
            continue;
        while (t >= sec_start + S) {
            sec_start += S;
            in_sec = 0;
        }
        ab_ratelimit_take(&rl, t);
        in_sec++;
        assert_true(in_sec <= 50 + 5);
    }
}

static void test_ratelimit__burst_after_idle(void **state)
{
    struct ab_ratelimit rl;
    (void)state;

    ab_ratelimit_init(&rl, 10, 5, T0);
    assert_int_equal(at_once(&rl, T0), 1);
    /* Idle long enough: the bucket fills to `burst`, never more. */
    assert_int_equal(at_once(&rl, T0 + 10 * S), 5);
    assert_int_equal(ab_ratelimit_next(&rl, T0 + 10 * S), T0 + 10 * S + S / 10);
    /* Half a second later, five intervals: five tokens again. */
    assert_int_equal(at_once(&rl, T0 + 10 * S + S / 2), 5);
    /* Burst 1: never two at once. */
    ab_ratelimit_init(&rl, 10, 1, T0);
    assert_int_equal(at_once(&rl, T0 + 60 * S), 1);
}

static void test_ratelimit__unlimited(void **state)
{
    struct ab_ratelimit rl;
    (void)state;

    ab_ratelimit_init(&rl, 0, 1, T0);
    assert_int_equal(at_once(&rl, T0), 100000);
    assert_true(ab_ratelimit_next(&rl, T0) <= T0);
}

static void test_ratelimit__throttle_halves_and_pauses(void **state)
{
    struct ab_ratelimit rl;
    int64_t now;
    (void)state;

    ab_ratelimit_init(&rl, 10, 1, T0);
    drain(&rl, T0, T0 + 5 * S, &now);
    ab_ratelimit_throttle(&rl, now, now + 2 * S, 0);
    assert_true(rl.rate == 5.0);
    /* Nothing goes during the pause. */
    assert_int_equal(ab_ratelimit_next(&rl, now), now + 2 * S);
    assert_int_equal(ab_ratelimit_next(&rl, now + S), now + 2 * S);
    /* After it: one token, then 5/s. */
    assert_int_equal(at_once(&rl, now + 2 * S), 1);
    assert_int_equal(ab_ratelimit_next(&rl, now + 2 * S), now + 2 * S + S / 5);
}

static void test_ratelimit__throttle_twice_halves_twice(void **state)
{
    struct ab_ratelimit rl;
    (void)state;

    ab_ratelimit_init(&rl, 40, 1, T0);
    ab_ratelimit_throttle(&rl, T0, T0 + S, 0);
    assert_true(rl.rate == 20.0);
    ab_ratelimit_throttle(&rl, T0 + S / 2, T0 + S / 2 + S, 0);
    assert_true(rl.rate == 10.0);
    /* The later pause wins. */
    assert_int_equal(ab_ratelimit_next(&rl, T0 + S), T0 + S / 2 + S);
}

static void test_ratelimit__climbs_back_step_by_step(void **state)
{
    /* Target 20, throttled to 10 with a 1 s pause at T0: +2/s per whole
     * second after the pause, until 20. */
    static const struct {
        int64_t at;
        double rate;
    } t[] = {
        {T0 + S / 2, 10},         {T0 + S, 10},
        {T0 + 2 * S - 1, 10},     {T0 + 2 * S, 12},
        {T0 + 2 * S + S / 2, 12}, {T0 + 3 * S, 14},
        {T0 + 5 * S, 18},         {T0 + 6 * S, 20},
        {T0 + 60 * S, 20},
    };
    struct ab_ratelimit rl;
    size_t i;
    (void)state;

    ab_ratelimit_init(&rl, 20, 1, T0);
    ab_ratelimit_throttle(&rl, T0, T0 + S, 0);
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        ab_ratelimit_next(&rl, t[i].at);
        assert_true(rl.rate > t[i].rate - 1e-9 && rl.rate < t[i].rate + 1e-9);
    }
}

static void test_ratelimit__long_quiet_climbs_all_at_once(void **state)
{
    struct ab_ratelimit rl;
    (void)state;

    ab_ratelimit_init(&rl, 100, 1, T0);
    ab_ratelimit_throttle(&rl, T0, T0 + S, 0);
    ab_ratelimit_throttle(&rl, T0, T0 + S, 0);
    assert_true(rl.rate == 25.0);
    ab_ratelimit_next(&rl, T0 + 100 * S);
    assert_true(rl.rate == 100.0); /* capped at the target */
}

static void test_ratelimit__unlimited_adopts_observed_rate(void **state)
{
    struct ab_ratelimit rl;
    int sent;
    (void)state;

    ab_ratelimit_init(&rl, 0, 1, T0);
    ab_ratelimit_throttle(&rl, T0, T0 + S, 200);
    assert_true(rl.rate == 100.0);
    assert_true(rl.target == 0.0);
    /* Paused, then 100/s. */
    assert_int_equal(ab_ratelimit_next(&rl, T0), T0 + S);
    sent = drain(&rl, T0 + S, T0 + 2 * S - 1, NULL);
    assert_true(sent >= 99 && sent <= 101);
    /* +20/s per second (a tenth of the observed 200)... */
    ab_ratelimit_next(&rl, T0 + 2 * S);
    assert_true(rl.rate == 120.0);
    ab_ratelimit_next(&rl, T0 + 4 * S);
    assert_true(rl.rate == 160.0);
    /* ...and unlimited again once it reaches the observed rate. */
    ab_ratelimit_next(&rl, T0 + 6 * S);
    assert_true(rl.rate == 0.0);
    assert_int_equal(at_once(&rl, T0 + 6 * S), 100000);
}

static void test_ratelimit__unlimited_without_observation(void **state)
{
    struct ab_ratelimit rl;
    (void)state;

    /* No rate seen yet: a positive floor, never zero (= unlimited). */
    ab_ratelimit_init(&rl, 0, 1, T0);
    ab_ratelimit_throttle(&rl, T0, T0 + S, 0);
    assert_true(rl.rate > 0);
    assert_int_equal(ab_ratelimit_next(&rl, T0), T0 + S);
}

static void test_ratelimit__rate_has_a_floor(void **state)
{
    struct ab_ratelimit rl;
    int i;
    (void)state;

    ab_ratelimit_init(&rl, 1, 1, T0);
    for (i = 0; i < 20; i++)
        ab_ratelimit_throttle(&rl, T0, T0 + S, 0);
    assert_true(rl.rate >= 0.1 - 1e-12);
    assert_true(ab_ratelimit_next(&rl, T0 + S) <= T0 + S + 10 * S);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit__starts_with_one_token),
        cmocka_unit_test(test_ratelimit__steady_rate),
        cmocka_unit_test(test_ratelimit__no_second_over_rate_plus_burst),
        cmocka_unit_test(test_ratelimit__burst_after_idle),
        cmocka_unit_test(test_ratelimit__unlimited),
        cmocka_unit_test(test_ratelimit__throttle_halves_and_pauses),
        cmocka_unit_test(test_ratelimit__throttle_twice_halves_twice),
        cmocka_unit_test(test_ratelimit__climbs_back_step_by_step),
        cmocka_unit_test(test_ratelimit__long_quiet_climbs_all_at_once),
        cmocka_unit_test(test_ratelimit__unlimited_adopts_observed_rate),
        cmocka_unit_test(test_ratelimit__unlimited_without_observation),
        cmocka_unit_test(test_ratelimit__rate_has_a_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
