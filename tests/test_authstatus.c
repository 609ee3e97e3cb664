/* test_authstatus.c - the vendor's two status scales and the "never
 * backwards" rule (authstatus.h), from tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "authstatus.h"

#define N_(a) (sizeof(a) / sizeof((a)[0]))

static void test_authstatus__result_scale(void **state)
{
    static const struct {
        const char *raw;
        enum ab_auth want;
    } t[] = {
        {"-1", AB_AUTH_NOT_STARTED},
        {"1", AB_AUTH_NOT_STARTED},
        {"4", AB_AUTH_IN_PROGRESS},
        {"2", AB_AUTH_AUTHENTICATED},
        {"3", AB_AUTH_REJECTED},
        {"6", AB_AUTH_EXPIRED},
        {"0", AB_AUTH_UNKNOWN},
        {"5", AB_AUTH_UNKNOWN},
        {"7", AB_AUTH_UNKNOWN},
        {"-2", AB_AUTH_UNKNOWN},
        {"", AB_AUTH_UNKNOWN},
        {"-", AB_AUTH_UNKNOWN},
        {" 2", AB_AUTH_UNKNOWN},
        {"2 ", AB_AUTH_UNKNOWN},
        {"2.0", AB_AUTH_UNKNOWN},
        {"+2", AB_AUTH_UNKNOWN},
        {"0x2", AB_AUTH_UNKNOWN},
        {"passed", AB_AUTH_UNKNOWN},
        {"1234567890123456789", AB_AUTH_UNKNOWN},
        {"99999999999999999999999", AB_AUTH_UNKNOWN},
    };
    size_t i;
    (void)state;

    for (i = 0; i < N_(t); i++) {
        if (ab_auth_from_result(t[i].raw) != t[i].want)
            fail_msg("result status '%s': got %d, want %d", t[i].raw,
                     ab_auth_from_result(t[i].raw), t[i].want);
    }
    assert_int_equal(ab_auth_from_result(NULL), AB_AUTH_UNKNOWN);
    assert_int_equal(ab_auth_from_result_code(2), AB_AUTH_AUTHENTICATED);
    assert_int_equal(ab_auth_from_result_code(-1), AB_AUTH_NOT_STARTED);
    assert_int_equal(ab_auth_from_result_code(5), AB_AUTH_UNKNOWN);
}

static void test_authstatus__callback_scale(void **state)
{
    static const struct {
        const char *raw;
        enum ab_auth want;
    } t[] = {
        {"0", AB_AUTH_IN_PROGRESS},  {"1", AB_AUTH_AUTHENTICATED},
        {"2", AB_AUTH_REJECTED},     {"3", AB_AUTH_UNKNOWN},
        {"4", AB_AUTH_UNKNOWN},      {"6", AB_AUTH_UNKNOWN},
        {"-1", AB_AUTH_UNKNOWN},     {"", AB_AUTH_UNKNOWN},
        {"true", AB_AUTH_UNKNOWN},   {"1\n", AB_AUTH_UNKNOWN},
        {"00", AB_AUTH_IN_PROGRESS}, {"-0", AB_AUTH_IN_PROGRESS},
    };
    size_t i;
    (void)state;

    for (i = 0; i < N_(t); i++) {
        if (ab_auth_from_callback(t[i].raw) != t[i].want)
            fail_msg("callback status '%s': got %d, want %d", t[i].raw,
                     ab_auth_from_callback(t[i].raw), t[i].want);
    }
    /* The scales differ: 2 is a rejection here, a pass in the result. */
    assert_int_equal(ab_auth_from_callback_code(2), AB_AUTH_REJECTED);
    assert_int_equal(ab_auth_from_result_code(2), AB_AUTH_AUTHENTICATED);
}

static void test_authstatus__names_round_trip(void **state)
{
    int a;
    (void)state;

    for (a = AB_AUTH_NONE + 1; a < AB_AUTH__COUNT; a++) {
        const char *n = ab_auth_name((enum ab_auth)a);
        assert_non_null(n);
        assert_int_equal(ab_auth_lookup(n), a);
    }
    assert_null(ab_auth_name(AB_AUTH_NONE));
    assert_null(ab_auth_name(AB_AUTH_UNKNOWN));
    assert_int_equal(ab_auth_lookup(NULL), AB_AUTH_NONE);
    assert_int_equal(ab_auth_lookup("Authenticated"), AB_AUTH_UNKNOWN);
    assert_int_equal(ab_auth_lookup(""), AB_AUTH_UNKNOWN);
    assert_string_equal(ab_auth_name(AB_AUTH_NOT_STARTED), "not_started");
    assert_string_equal(ab_auth_name(AB_AUTH_AUTHENTICATED), "authenticated");
}

/* Every (current, next) pair, spelled out: F forward, S same, B backwards,
 * U unknown. Rows are the current status, columns the observation. */
static void test_authstatus__never_backwards(void **state)
{
    enum {
        F = AB_AUTH_MOVE_FORWARD,
        S = AB_AUTH_MOVE_SAME,
        B = AB_AUTH_MOVE_BACKWARDS,
        U = AB_AUTH_MOVE_UNKNOWN
    };
    /* columns: UNKNOWN NONE not_started in_progress rejected expired
     * authenticated */
    static const int want[AB_AUTH__COUNT][AB_AUTH__COUNT + 1] = {
        /* NONE          */ {U, B, F, F, F, F, F},
        /* not_started   */ {U, B, S, F, F, F, F},
        /* in_progress   */ {U, B, B, S, F, F, F},
        /* rejected      */ {U, B, B, B, S, B, F},
        /* expired       */ {U, B, B, B, B, S, F},
        /* authenticated */ {U, B, B, B, B, B, S},
    };
    int cur, next;
    (void)state;

    for (cur = AB_AUTH_NONE; cur < AB_AUTH__COUNT; cur++)
        for (next = AB_AUTH_UNKNOWN; next < AB_AUTH__COUNT; next++) {
            int got =
                (int)ab_auth_decide((enum ab_auth)cur, (enum ab_auth)next);
            if (got != want[cur][next + 1])
                fail_msg(
                    "decide(%s, %s): got %s, want %s",
                    ab_auth_name((enum ab_auth)cur)
                        ? ab_auth_name((enum ab_auth)cur)
                        : "NULL",
                    ab_auth_name((enum ab_auth)next)
                        ? ab_auth_name((enum ab_auth)next)
                        : "-",
                    ab_auth_move_name((enum ab_auth_move)got),
                    ab_auth_move_name((enum ab_auth_move)want[cur][next + 1]));
        }
}

static void test_authstatus__ranks_order_the_funnel(void **state)
{
    (void)state;
    assert_int_equal(ab_auth_rank(AB_AUTH_NONE), 0);
    assert_int_equal(ab_auth_rank(AB_AUTH_UNKNOWN), 0);
    assert_true(ab_auth_rank(AB_AUTH_NOT_STARTED) <
                ab_auth_rank(AB_AUTH_IN_PROGRESS));
    assert_true(ab_auth_rank(AB_AUTH_IN_PROGRESS) <
                ab_auth_rank(AB_AUTH_REJECTED));
    assert_int_equal(ab_auth_rank(AB_AUTH_REJECTED),
                     ab_auth_rank(AB_AUTH_EXPIRED));
    assert_true(ab_auth_rank(AB_AUTH_EXPIRED) <
                ab_auth_rank(AB_AUTH_AUTHENTICATED));
    assert_string_equal(ab_auth_move_name(AB_AUTH_MOVE_BACKWARDS), "backwards");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authstatus__result_scale),
        cmocka_unit_test(test_authstatus__callback_scale),
        cmocka_unit_test(test_authstatus__names_round_trip),
        cmocka_unit_test(test_authstatus__never_backwards),
        cmocka_unit_test(test_authstatus__ranks_order_the_funnel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
