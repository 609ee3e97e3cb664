/* test_retry.c - the retry policy from a table: capped full-jitter backoff
 * with the random draw passed in, Retry-After as a lower bound, giving up at
 * --max-attempts, and the final/stop verdicts of the other classes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "retry.h"

static const struct ab_retry_policy P = {
    .max_attempts = 5,
    .base_ms = 500,
    .max_ms = 60000,
};

static void test_retry__full_jitter_bounds(void **state)
{
    /* The ceiling doubles per attempt: 500, 1000, 2000, 4000. */
    static const struct {
        int attempts;
        double u;
        int64_t want;
    } t[] = {
        {1, 0.0, 0},     {1, 0.5, 250},    {1, 0.999, 499}, {2, 0.0, 0},
        {2, 0.999, 999}, {3, 0.999, 1998}, {4, 0.25, 1000}, {4, 0.999, 3996},
    };
    size_t i;
    (void)state;

    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t d = -1;
        assert_int_equal(
            ab_retry_decide(&P, AB_OUT_TRANSIENT, t[i].attempts, 0, t[i].u, &d),
            AB_RETRY_LATER);
        assert_int_equal(d, t[i].want);
    }
}

static void test_retry__delay_never_reaches_ceiling(void **state)
{
    int a;
    (void)state;

    for (a = 1; a < 5; a++) {
        int64_t d;
        int64_t ceiling = 500LL << (a - 1);
        ab_retry_decide(&P, AB_OUT_THROTTLED, a, 0, 0.9999999, &d);
        assert_true(d >= 0);
        assert_true(d < ceiling);
    }
}

static void test_retry__capped(void **state)
{
    struct ab_retry_policy p = {
        .max_attempts = 100, .base_ms = 500, .max_ms = 3000};
    static const int attempts[] = {4, 5, 10, 31, 32, 63, 64, 99};
    size_t i;
    (void)state;

    for (i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
        int64_t d;
        assert_int_equal(
            ab_retry_decide(&p, AB_OUT_TRANSIENT, attempts[i], 0, 0.999, &d),
            AB_RETRY_LATER);
        assert_int_equal(d, 2997); /* 0.999 * 3000: never past the cap */
    }
}

static void test_retry__huge_base_does_not_overflow(void **state)
{
    struct ab_retry_policy p = {
        .max_attempts = 1000, .base_ms = 86400000, .max_ms = 86400000};
    int64_t d;
    (void)state;

    assert_int_equal(ab_retry_decide(&p, AB_OUT_TRANSIENT, 999, 0, 0.5, &d),
                     AB_RETRY_LATER);
    assert_int_equal(d, 43200000);
}

static void test_retry__honours_retry_after(void **state)
{
    int64_t d;
    (void)state;

    /* A lower bound: it replaces a shorter jitter... */
    assert_int_equal(ab_retry_decide(&P, AB_OUT_THROTTLED, 1, 2000, 0.0, &d),
                     AB_RETRY_LATER);
    assert_int_equal(d, 2000);
    assert_int_equal(ab_retry_decide(&P, AB_OUT_THROTTLED, 1, 2000, 0.999, &d),
                     AB_RETRY_LATER);
    assert_int_equal(d, 2000);
    /* ...even beyond the cap... */
    assert_int_equal(ab_retry_decide(&P, AB_OUT_TRANSIENT, 3, 120000, 0.5, &d),
                     AB_RETRY_LATER);
    assert_int_equal(d, 120000);
    /* ...and a longer jitter stays. */
    assert_int_equal(ab_retry_decide(&P, AB_OUT_TRANSIENT, 4, 1000, 0.999, &d),
                     AB_RETRY_LATER);
    assert_int_equal(d, 3996);
}

static void test_retry__gives_up_at_max_attempts(void **state)
{
    int64_t d = -1;
    (void)state;

    assert_int_equal(ab_retry_decide(&P, AB_OUT_TRANSIENT, 4, 0, 0.5, &d),
                     AB_RETRY_LATER);
    assert_int_equal(ab_retry_decide(&P, AB_OUT_TRANSIENT, 5, 0, 0.5, &d),
                     AB_RETRY_GIVE_UP);
    assert_int_equal(d, 0);
}

static void test_retry__throttling_gets_more_attempts(void **state)
{
    int64_t d = -1;
    int last = P.max_attempts * AB_RETRY_THROTTLE_FACTOR;
    (void)state;

    assert_int_equal(
        ab_retry_decide(&P, AB_OUT_THROTTLED, P.max_attempts, 1000, 0.5, &d),
        AB_RETRY_LATER);
    assert_true(d >= 1000);
    assert_int_equal(
        ab_retry_decide(&P, AB_OUT_THROTTLED, last - 1, 0, 0.5, &d),
        AB_RETRY_LATER);
    assert_int_equal(ab_retry_decide(&P, AB_OUT_THROTTLED, last, 0, 0.5, &d),
                     AB_RETRY_GIVE_UP);
    assert_int_equal(d, 0);
}

static void test_retry__one_attempt_means_no_retry(void **state)
{
    struct ab_retry_policy p = {
        .max_attempts = 1, .base_ms = 500, .max_ms = 60000};
    int64_t d;
    (void)state;

    assert_int_equal(ab_retry_decide(&p, AB_OUT_TRANSIENT, 1, 0, 0.5, &d),
                     AB_RETRY_GIVE_UP);
}

static void test_retry__final_and_stop_verdicts(void **state)
{
    static const struct {
        enum ab_outcome o;
        enum ab_retry_verdict v;
    } t[] = {
        {AB_OUT_ISSUED, AB_RETRY_FINAL},
        {AB_OUT_ALREADY_AUTHED, AB_RETRY_FINAL},
        {AB_OUT_REJECTED, AB_RETRY_FINAL},
        {AB_OUT_FATAL, AB_RETRY_STOP},
        {AB_OUT_THROTTLED, AB_RETRY_LATER},
        {AB_OUT_TRANSIENT, AB_RETRY_LATER},
    };
    size_t i;
    int attempts;
    (void)state;

    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        for (attempts = 1; attempts <= 4; attempts++) {
            int64_t d = -1;
            assert_int_equal(
                ab_retry_decide(&P, t[i].o, attempts, 5000, 0.5, &d), t[i].v);
            if (t[i].v != AB_RETRY_LATER)
                assert_int_equal(d, 0);
        }
    }
    /* Final verdicts do not depend on the attempts left. */
    {
        int64_t d;
        assert_int_equal(ab_retry_decide(&P, AB_OUT_REJECTED, 99, 0, 0.5, &d),
                         AB_RETRY_FINAL);
        assert_int_equal(ab_retry_decide(&P, AB_OUT_FATAL, 99, 0, 0.5, &d),
                         AB_RETRY_STOP);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry__full_jitter_bounds),
        cmocka_unit_test(test_retry__delay_never_reaches_ceiling),
        cmocka_unit_test(test_retry__capped),
        cmocka_unit_test(test_retry__huge_base_does_not_overflow),
        cmocka_unit_test(test_retry__honours_retry_after),
        cmocka_unit_test(test_retry__gives_up_at_max_attempts),
        cmocka_unit_test(test_retry__throttling_gets_more_attempts),
        cmocka_unit_test(test_retry__one_attempt_means_no_retry),
        cmocka_unit_test(test_retry__final_and_stop_verdicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
