/* test_ratelimit.c - the limiter on a fake clock (microseconds): one token
 * at the start, never a full bucket; a steady rate; bursts after idle time;
 * no second over rate + burst; a throttled answer pauses at least for its
 * Retry-After and lowers the rate, never to nothing. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit__starts_with_one_token),
        cmocka_unit_test(test_ratelimit__steady_rate),
        cmocka_unit_test(test_ratelimit__no_second_over_rate_plus_burst),
        cmocka_unit_test(test_ratelimit__burst_after_idle),
        cmocka_unit_test(test_ratelimit__unlimited),
        cmocka_unit_test(test_ratelimit__throttle_pauses_for_retry_after),
        cmocka_unit_test(test_ratelimit__rate_has_a_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
