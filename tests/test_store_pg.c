/* Unit tests for the parts of the PostgreSQL store that need no server:
 * which specs name PostgreSQL, passwords found and never shown, the share
 * of the rate each of several runs gets. Against a real server:
 * tests/e2e/pg_*.sh and the e2e_pg_* variants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "runner.h"
#include "store.h"
#include "store_pg.h"

static void test_store_pg__engine_of_spec(void **state)
{
    static const struct {
        const char *spec;
        enum ab_store_engine want;
    } cases[] = {
        {"postgresql://u@db.example/ab", AB_STORE_PG},
        {"postgres://db/ab?sslmode=require", AB_STORE_PG},
        {"postgresql:///ab", AB_STORE_PG},
        {"service=authbatch", AB_STORE_PG},
        {"host=/tmp port=5433 dbname=ab", AB_STORE_PG},
        {"dbname=ab", AB_STORE_PG},
        {"authbatch.db", AB_STORE_SQLITE},
        {"./service=x.db", AB_STORE_SQLITE},
        {"/var/lib/ab/ab.db", AB_STORE_SQLITE},
        {"notakeyword=1", AB_STORE_SQLITE},
        {"Service=x", AB_STORE_SQLITE},
        {"postgresql:", AB_STORE_SQLITE},
        {":memory:", AB_STORE_SQLITE},
        {"", AB_STORE_SQLITE},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (ab_store_engine_of(cases[i].spec) != cases[i].want)
            fail_msg("'%s': wrong engine", cases[i].spec);
    }
}

static void test_store_pg__password_found(void **state)
{
    (void)state;
    assert_true(ab_store_spec_has_password("postgresql://u:pw@h/db"));
    assert_true(ab_store_spec_has_password("postgresql://h/db?password=pw"));
    assert_true(ab_store_spec_has_password("host=h password=pw dbname=d"));
    assert_true(ab_store_spec_has_password("host=h password = 'p w' x=1"));
    /* As libpq reads them: user info ends at '@' (a '?' before it is part
     * of the password), parameter names are percent-decoded, and the key
     * file's password is a password too. */
    assert_true(ab_store_spec_has_password("postgresql://u:pa?ss@h/db"));
    assert_true(ab_store_spec_has_password("postgresql://h/db?passwor%64=pw"));
    assert_true(ab_store_spec_has_password("postgresql://h/db?sslpassword=pw"));
    assert_true(ab_store_spec_has_password("host=h sslpassword=pw"));
    assert_false(ab_store_spec_has_password("postgresql://h/db?passfile=/p"));
    assert_false(ab_store_spec_has_password("postgresql://u@h/db"));
    assert_false(ab_store_spec_has_password("service=ab"));
    assert_false(ab_store_spec_has_password("pw.db"));
    assert_false(ab_store_spec_has_password("./password=x.db"));
}

static void test_store_pg__redacted_never_shows_the_password(void **state)
{
    static const struct {
        const char *spec, *shown;
    } cases[] = {
        {"postgresql://u:s3cret@h:5432/db", "postgresql://u@h:5432/db"},
        {"postgresql://u:s3cret@h/db?sslmode=require&password=s3cret",
         "postgresql://u@h/db?sslmode=require"},
        {"postgresql://h/db?password=s3cret&application_name=x",
         "postgresql://h/db?application_name=x"},
        {"postgres://u@h/db", "postgres://u@h/db"},
        {"postgresql://u:s3cret@/db?host=/tmp", "postgresql://u@/db?host=/tmp"},
        {"host=h password=s3cret dbname=d", "host=h dbname=d"},
        {"host=h password='s3 cr\\'et' dbname=d", "host=h dbname=d"},
        {"password = s3cret service=ab", "service=ab"},
        {"postgresql://u:s3c?ret@h/db", "postgresql://u@h/db"},
        {"postgresql://u:s3c?x=1@h/db?sslmode=require",
         "postgresql://u@h/db?sslmode=require"},
        {"postgresql://h/db?passwor%64=s3cret&sslmode=require",
         "postgresql://h/db?sslmode=require"},
        {"postgresql://h/db?sslpassword=s3cret", "postgresql://h/db"},
        {"host=h sslpassword=s3cret sslkey=/k", "host=h sslkey=/k"},
        {"service=ab", "service=ab"},
        {"authbatch.db", "authbatch.db"},
    };
    char out[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ab_store_spec_shown(cases[i].spec, out, sizeof out);
        assert_string_equal(out, cases[i].shown);
        assert_null(strstr(out, "s3"));
    }
    /* Cut short, still terminated. */
    ab_store_spec_shown("postgresql://u:s3cret@host.example/db", out, 12);
    assert_string_equal(out, "postgresql:");
}

static void test_store_pg__open_errors_never_show_the_password(void **state)
{
    /* libpq's own messages quote what it could not parse: the password,
     * or the whole URI. No server needed: these fail before connecting. */
    static const char *const specs[] = {
        "postgresql://u:s3c%zzret@127.0.0.1:1/db",
        "postgresql://u:s3cret@[::1/db",
        "postgresql://h/db?password=s3c%zzret",
        "host=127.0.0.1 port=1 password=s3cret sslmode=bogus",
    };
    struct ab_store *s;
    struct ab_err err;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        memset(&err, 0, sizeof err);
        s = NULL;
        assert_int_not_equal(ab_store_open(specs[i], 0, &s, &err), 0);
        assert_null(s);
        if (strstr(err.msg, "s3c"))
            fail_msg("'%s': the password is in '%s'", specs[i], err.msg);
    }
}

static void test_store_pg__shares_hold_rate_plus_burst(void **state)
{
    /* n runs at share s each, burst b each: no second above n * (s + b),
     * which must stay within rate + burst. */
    static const struct {
        double rate;
        int burst, runners;
        double want;
    } cases[] = {
        {50, 1, 1, 50}, {2.5, 1, 1, 2.5}, {50, 1, 2, 24},  {50, 1, 3, 16},
        {60, 1, 3, 19}, {10, 1, 3, 2},    {100, 5, 3, 30}, {0, 1, 3, 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double s =
            ab_runner_share(cases[i].rate, cases[i].burst, cases[i].runners);
        if (s != cases[i].want)
            fail_msg("rate %g burst %d runners %d: share %g, want %g",
                     cases[i].rate, cases[i].burst, cases[i].runners, s,
                     cases[i].want);
        if (cases[i].rate > 0 && cases[i].runners > 1)
            assert_true(cases[i].runners * (s + cases[i].burst) <=
                        cases[i].rate + cases[i].burst);
    }
    /* Too little to share by whole requests: an even split. */
    assert_true(ab_runner_share(2, 1, 3) > 0.66 &&
                ab_runner_share(2, 1, 3) < 0.67);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_pg__engine_of_spec),
        cmocka_unit_test(test_store_pg__password_found),
        cmocka_unit_test(test_store_pg__redacted_never_shows_the_password),
        cmocka_unit_test(test_store_pg__open_errors_never_show_the_password),
        cmocka_unit_test(test_store_pg__shares_hold_rate_plus_burst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
