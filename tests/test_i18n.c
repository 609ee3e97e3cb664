/* test_i18n.c - the zh-CN catalogue (complete, same conversions as the
 * English key, no duplicate keys), language selection from the locale. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "i18n.h"

/* The printf conversions of s, in order ("%%" left out), into out. */
static void conversions(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s; s++) {
        if (*s != '%')
            continue;
        if (s[1] == '%') {
            s++;
            continue;
        }
        while (*s && !strchr("sdizuxXfgec", *s) && k + 1 < n)
            out[k++] = *s++;
        if (*s && k + 1 < n)
            out[k++] = *s;
        if (k + 1 < n)
            out[k++] = ' ';
        if (!*s)
            break;
    }
    out[k] = '\0';
}

static void test_i18n__catalogue_complete_and_consistent(void **state)
{
    const char *en, *zh, *en2, *zh2;
    char a[128], b[128];
    size_t i, j;

    (void)state;
    for (i = 0; ab_i18n_entry(i, &en, &zh) == 0; i++) {
        assert_non_null(zh);
        assert_true(zh[0] != '\0');
        conversions(en, a, sizeof a);
        conversions(zh, b, sizeof b);
        if (strcmp(a, b) != 0)
            fail_msg("conversions differ for \"%s\": '%s' vs '%s'", en, a, b);
        /* Same leading and trailing line ends: the layout is the key's. */
        assert_int_equal(en[strlen(en) - 1] == '\n',
                         zh[strlen(zh) - 1] == '\n');
        for (j = i + 1; ab_i18n_entry(j, &en2, &zh2) == 0; j++)
            if (strcmp(en, en2) == 0)
                fail_msg("key twice: \"%s\"", en);
        assert_string_equal(ab_tr(AB_LANG_ZH_CN, en), zh);
        assert_ptr_equal(ab_tr(AB_LANG_EN, en), en);
    }
    assert_true(i > 100);
    /* A key not in the catalogue prints in English. */
    assert_string_equal(ab_tr(AB_LANG_ZH_CN, "no such key"), "no such key");
}

/* AB_I18N_CHECK=1 names a missing key on stderr, once: what the e2e tests
 * rely on to find untranslated labels. */
static void test_i18n__check_names_missing_keys(void **state)
{
    char path[] = "/tmp/ab_test_i18n_XXXXXX", buf[512];
    int fd = mkstemp(path), saved = dup(2);
    FILE *f;
    size_t n;

    (void)state;
    assert_true(fd >= 0 && saved >= 0);
    fflush(stderr);
    dup2(fd, 2);
    setenv("AB_I18N_CHECK", "1", 1);
    ab_tr(AB_LANG_ZH_CN, "missing\nkey");
    ab_tr(AB_LANG_ZH_CN, "missing\nkey");
    ab_tr(AB_LANG_ZH_CN, "companies"); /* present: nothing said */
    unsetenv("AB_I18N_CHECK");
    ab_tr(AB_LANG_ZH_CN, "missing too");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    unlink(path);
    buf[n] = '\0';
    assert_string_equal(buf, "authbatch: i18n: no zh-CN text for "
                             "\"missing\\nkey\"\n");
}

static void test_i18n__status_names(void **state)
{
    (void)state;
    assert_string_equal(ab_i18n_status(AB_LANG_EN, "already_authed"),
                        "already_authed");
    assert_string_equal(ab_i18n_status(AB_LANG_ZH_CN, "already_authed"),
                        "此前已认证");
    assert_string_equal(ab_i18n_status(AB_LANG_ZH_CN, "done"), "已获取令牌");
    assert_string_equal(ab_i18n_status(AB_LANG_ZH_CN, "odd"), "odd");
}

static void test_i18n__language_from_the_locale(void **state)
{
    enum ab_lang l;

    (void)state;
    unsetenv("LC_ALL");
    unsetenv("LC_MESSAGES");
    unsetenv("LANG");
    assert_int_equal(ab_i18n_from_env(), AB_LANG_EN);
    setenv("LANG", "zh_CN.UTF-8", 1);
    assert_int_equal(ab_i18n_from_env(), AB_LANG_ZH_CN);
    setenv("LC_MESSAGES", "en_US.UTF-8", 1); /* before LANG */
    assert_int_equal(ab_i18n_from_env(), AB_LANG_EN);
    setenv("LC_ALL", "zh_CN.GB18030", 1); /* before everything */
    assert_int_equal(ab_i18n_from_env(), AB_LANG_ZH_CN);
    setenv("LC_ALL", "", 1); /* empty: as if unset */
    assert_int_equal(ab_i18n_from_env(), AB_LANG_EN);
    unsetenv("LC_ALL");
    unsetenv("LC_MESSAGES");
    unsetenv("LANG");
    assert_int_equal(ab_i18n_parse("zh-CN", &l), 0);
    assert_int_equal(l, AB_LANG_ZH_CN);
    assert_int_equal(ab_i18n_parse("zh_cn", &l), 0);
    assert_int_equal(ab_i18n_parse("en", &l), 0);
    assert_int_equal(l, AB_LANG_EN);
    assert_int_equal(ab_i18n_parse("fr", &l), -1);
    assert_string_equal(ab_i18n_tag(AB_LANG_ZH_CN), "zh-CN");
}

static void test_i18n__durations(void **state)
{
    char b[32];
    (void)state;
    ab_i18n_duration(AB_LANG_ZH_CN, b, sizeof b, 843);
    assert_string_equal(b, "14分03秒");
    ab_i18n_duration(AB_LANG_ZH_CN, b, sizeof b, 7500);
    assert_string_equal(b, "2小时05分");
    ab_i18n_duration(AB_LANG_EN, b, sizeof b, 843);
    assert_string_equal(b, "14m03s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_i18n__catalogue_complete_and_consistent),
        cmocka_unit_test(test_i18n__check_names_missing_keys),
        cmocka_unit_test(test_i18n__status_names),
        cmocka_unit_test(test_i18n__language_from_the_locale),
        cmocka_unit_test(test_i18n__durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
