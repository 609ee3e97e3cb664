/* test_tracksched.c - the tracking schedule on a fake clock: the documented
 * defaults, doubling to the cap, a final status ends it, small values for
 * tests, and a ticket followed for a week. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tracksched.h"

#define MIN (60 * 1000LL)
#define HOUR (60 * MIN)

static void test_tracksched__defaults_are_documented(void **state)
{
    struct ab_tracksched p;
    (void)state;

    ab_tracksched_defaults(&p);
    assert_int_equal(p.first_ms, 2 * MIN);
    assert_int_equal(p.max_ms, 24 * HOUR);
}

static void test_tracksched__doubles_to_the_cap(void **state)
{
    static const int64_t want[] = {
        2 * MIN,   4 * MIN,   8 * MIN,   16 * MIN,  32 * MIN,
        64 * MIN,  128 * MIN, 256 * MIN, 512 * MIN, 1024 * MIN,
        24 * HOUR, 24 * HOUR, 24 * HOUR,
    };
    struct ab_tracksched p;
    size_t i;
    (void)state;

    ab_tracksched_defaults(&p);
    for (i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(ab_tracksched_delay(&p, (int)i), want[i]);
    /* Far along, still the cap: no overflow. */
    assert_int_equal(ab_tracksched_delay(&p, 100000), 24 * HOUR);
}

static void test_tracksched__final_statuses_end_it(void **state)
{
    struct ab_tracksched p;
    (void)state;

    ab_tracksched_defaults(&p);
    assert_int_equal(ab_tracksched_next(&p, 1, AB_AUTH_AUTHENTICATED, 1000), 0);
    assert_int_equal(ab_tracksched_next(&p, 3, AB_AUTH_REJECTED, 1000), 0);
    assert_int_equal(ab_tracksched_next(&p, 9, AB_AUTH_EXPIRED, 1000), 0);
    /* Not final: nothing known, not started, in progress, a value the
     * mapping does not know. */
    assert_int_equal(ab_tracksched_next(&p, 1, AB_AUTH_NONE, 1000),
                     1000 + 4 * MIN);
    assert_int_equal(ab_tracksched_next(&p, 1, AB_AUTH_NOT_STARTED, 1000),
                     1000 + 4 * MIN);
    assert_int_equal(ab_tracksched_next(&p, 2, AB_AUTH_IN_PROGRESS, 1000),
                     1000 + 8 * MIN);
    assert_int_equal(ab_tracksched_next(&p, 2, AB_AUTH_UNKNOWN, 1000),
                     1000 + 8 * MIN);
}

static void test_tracksched__seconds_for_tests(void **state)
{
    struct ab_tracksched p = {0, 2000};
    (void)state;

    /* First check at once, then at least a second apart, capped. */
    assert_int_equal(ab_tracksched_delay(&p, 0), 0);
    assert_int_equal(ab_tracksched_delay(&p, 1), 2000);
    assert_int_equal(ab_tracksched_delay(&p, 5), 2000);
    p.first_ms = 300;
    p.max_ms = 300;
    assert_int_equal(ab_tracksched_delay(&p, 0), 300);
    assert_int_equal(ab_tracksched_delay(&p, 1), 1000);
    p.first_ms = 1000;
    p.max_ms = 60000;
    assert_int_equal(ab_tracksched_delay(&p, 1), 2000);
    assert_int_equal(ab_tracksched_delay(&p, 3), 8000);
    assert_int_equal(ab_tracksched_delay(&p, 6), 60000);
}

/* A fake clock: a ticket at t0 whose applicant never starts, polled each
 * time it is due for a week. */
static void test_tracksched__a_week_on_a_fake_clock(void **state)
{
    struct ab_tracksched p;
    int64_t t0 = 1700000000000LL, now, due;
    int checks = 0, first_day = 0;
    (void)state;

    ab_tracksched_defaults(&p);
    due = t0 + ab_tracksched_delay(&p, 0);
    assert_int_equal(due - t0, 2 * MIN);
    for (now = t0; now < t0 + 7 * 24 * HOUR; now += MIN) {
        if (now < due)
            continue;
        checks++;
        if (now < t0 + 24 * HOUR)
            first_day++;
        due = ab_tracksched_next(&p, checks, AB_AUTH_NOT_STARTED, now);
        assert_true(due - now <= 24 * HOUR);
    }
    /* 2m 6m 14m 30m 62m 126m 4h14m 8h30m 17h02m in the first day; about
     * one a day after the first day and a half. */
    assert_int_equal(first_day, 9);
    assert_true(checks >= 14 && checks <= 17);
    /* An applicant who passes on the third check: nothing is due after. */
    assert_int_equal(ab_tracksched_next(&p, 3, AB_AUTH_AUTHENTICATED, now), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tracksched__defaults_are_documented),
        cmocka_unit_test(test_tracksched__doubles_to_the_cap),
        cmocka_unit_test(test_tracksched__final_statuses_end_it),
        cmocka_unit_test(test_tracksched__seconds_for_tests),
        cmocka_unit_test(test_tracksched__a_week_on_a_fake_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
