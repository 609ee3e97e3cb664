/* test_sign.c - the vendor signature against the published vector, and the
 * nonces that go with it: UUID v4 text, lower case, fresh every time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sign.h"

static void test_sign__published_vector(void **state)
{
    char out[AB_SIGN_HEX_LEN + 1];
    (void)state;

    assert_int_equal(ab_sign("test", "test", "1565753984643",
                             "254775d7-3c7c-4e9d-9880-1d4c5fb3dbd0", out),
                     0);
    assert_string_equal(out, "21b5903511219d969d137b54df8daa6c");
}

static void test_sign__every_part_counts(void **state)
{
    static const char *const want = "21b5903511219d969d137b54df8daa6c";
    const char *nonce = "254775d7-3c7c-4e9d-9880-1d4c5fb3dbd0";
    char out[AB_SIGN_HEX_LEN + 1];
    (void)state;

    assert_int_equal(ab_sign("test", "tesT", "1565753984643", nonce, out), 0);
    assert_string_not_equal(out, want);
    assert_int_equal(ab_sign("Test", "test", "1565753984643", nonce, out), 0);
    assert_string_not_equal(out, want);
    assert_int_equal(ab_sign("test", "test", "1565753984644", nonce, out), 0);
    assert_string_not_equal(out, want);
    assert_int_equal(ab_sign("test", "test", "1565753984643",
                             "254775d7-3c7c-4e9d-9880-1d4c5fb3dbd1", out),
                     0);
    assert_string_not_equal(out, want);
}

static void test_sign__plain_concatenation(void **state)
{
    /* MD5("testtest1565753984643254775d7-...") is all that is signed, so
     * moving characters between the parts keeps the signature. */
    char out[AB_SIGN_HEX_LEN + 1];
    (void)state;

    assert_int_equal(ab_sign("testte", "st", "1565753984643254775d7",
                             "-3c7c-4e9d-9880-1d4c5fb3dbd0", out),
                     0);
    assert_string_equal(out, "21b5903511219d969d137b54df8daa6c");
}

static void test_sign__utf8_bytes(void **state)
{
    /* printf '%s' "令牌秘钥1" | md5sum: the UTF-8 bytes, unchanged. */
    char out[AB_SIGN_HEX_LEN + 1];
    (void)state;

    assert_int_equal(ab_sign("令牌", "秘钥", "1", "", out), 0);
    assert_string_equal(out, "1a18d34c65f559521f243673b2c4e5b9");
}

static int is_hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void test_sign__nonce_is_uuid_v4_lower_case(void **state)
{
    char n[AB_SIGN_NONCE_LEN + 1];
    int i, k;
    (void)state;

    for (k = 0; k < 1000; k++) {
        memset(n, 'X', sizeof n);
        assert_int_equal(ab_sign_nonce(n), 0);
        assert_int_equal((int)strlen(n), 36);
        for (i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23)
                assert_int_equal(n[i], '-');
            else
                assert_true(is_hex_lower(n[i]));
        }
        assert_int_equal(n[14], '4');           /* version */
        assert_non_null(strchr("89ab", n[19])); /* RFC 4122 variant */
    }
}

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_sign__nonces_are_unique(void **state)
{
    enum { N = 20000 };
    char(*n)[AB_SIGN_NONCE_LEN + 1] = calloc(N, sizeof *n);
    int i;
    (void)state;

    assert_non_null(n);
    for (i = 0; i < N; i++)
        assert_int_equal(ab_sign_nonce(n[i]), 0);
    qsort(n, N, sizeof *n, cmp);
    for (i = 1; i < N; i++)
        assert_string_not_equal(n[i - 1], n[i]);
    free(n);
}

static void test_sign__wipe_clears(void **state)
{
    char buf[16] = "secret-secret";
    char zero[16] = {0};
    (void)state;

    ab_sign_wipe(buf, sizeof buf);
    assert_memory_equal(buf, zero, sizeof buf);
}

static void test_sign__equal_compares_bytes_and_lengths(void **state)
{
    (void)state;
    assert_int_equal(ab_sign_equal("abc", 3, "abc", 3), 1);
    assert_int_equal(ab_sign_equal("abc", 3, "abd", 3), 0);
    assert_int_equal(ab_sign_equal("abc", 3, "abcd", 4), 0);
    assert_int_equal(ab_sign_equal("abc", 2, "abd", 2), 1);
    assert_int_equal(ab_sign_equal("", 0, "", 0), 1);
    assert_int_equal(ab_sign_equal("a\0b", 3, "a\0c", 3), 0);
}

static void test_sign__tokens_are_22_url_safe_chars_and_unique(void **state)
{
    char t[200][AB_SIGN_TOKEN_LEN + 1];
    size_t i, j;
    (void)state;

    for (i = 0; i < 200; i++) {
        memset(t[i], 'x', sizeof t[i]);
        assert_int_equal(ab_sign_token(t[i]), 0);
        assert_int_equal(strlen(t[i]), AB_SIGN_TOKEN_LEN);
        assert_int_equal(strspn(t[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "abcdefghijklmnopqrstuvwxyz0123456789-_"),
                         AB_SIGN_TOKEN_LEN);
        for (j = 0; j < i; j++)
            assert_string_not_equal(t[i], t[j]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign__published_vector),
        cmocka_unit_test(test_sign__every_part_counts),
        cmocka_unit_test(test_sign__plain_concatenation),
        cmocka_unit_test(test_sign__utf8_bytes),
        cmocka_unit_test(test_sign__nonce_is_uuid_v4_lower_case),
        cmocka_unit_test(test_sign__nonces_are_unique),
        cmocka_unit_test(test_sign__wipe_clears),
        cmocka_unit_test(test_sign__equal_compares_bytes_and_lengths),
        cmocka_unit_test(test_sign__tokens_are_22_url_safe_chars_and_unique),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
