/* test_safetext.c - the filter every printed value passes (control
 * characters, C1, invalid UTF-8) and display widths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetext.h"

static void test_safetext__controls_become_spaces(void **state)
{
    char out[128];
    /* ESC sequences (clear screen, set title), BEL, CR LF, tab, DEL, and
     * C1 CSI (U+009B) as UTF-8. */
    const char *in = "a\x1b[2J\x1b]0;t\x07"
                     "b\r\nc\td\x7f"
                     "e\xc2\x9b"
                     "31m";
    (void)state;
    ab_safetext(out, in, strlen(in));
    assert_string_equal(out, "a [2J ]0;t b  c d e 31m");
}

static void test_safetext__invalid_utf8_becomes_replacement(void **state)
{
    char out[64];
    (void)state;
    assert_int_equal(ab_safetext(out,
                                 "x\xff"
                                 "y\xed\xa0\x80"
                                 "中",
                                 9),
                     17);
    assert_string_equal(out, "x\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd\xef\xbf"
                             "\xbd中");
    /* Valid text is kept byte for byte: rare and 4-byte characters too. */
    ab_safetext(out, "䶮𠀀·（）", strlen("䶮𠀀·（）"));
    assert_string_equal(out, "䶮𠀀·（）");
}

static void test_safetext__fputs_equals_buffer(void **state)
{
    const char *in = "T\x1b[31mK\xc2\x85"
                     "E\xffT\n";
    char want[64], *got = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&got, &len);

    (void)state;
    ab_safetext(want, in, strlen(in));
    assert_int_equal(ab_safetext_fputs(in, f), 0);
    assert_int_equal(ab_safetext_fputs(NULL, f), 0);
    fclose(f);
    assert_string_equal(got, want);
    free(got);
}

static void test_safetext__width_and_padding(void **state)
{
    char *got = NULL;
    size_t len = 0;
    FILE *f;

    (void)state;
    assert_int_equal(ab_safetext_width("done"), 4);
    assert_int_equal(ab_safetext_width("已获取令牌"), 10);
    assert_int_equal(ab_safetext_width("𠀀（a）"), 7);
    assert_int_equal(ab_safetext_width("e\xcc\x81"), 1); /* combining */
    assert_int_equal(ab_safetext_width(NULL), 0);
    f = open_memstream(&got, &len);
    ab_safetext_pad(f, "失败", 8, 0);
    fputc('|', f);
    ab_safetext_rpad(f, "令牌", 6);
    fputc('|', f);
    ab_safetext_pad(f, "already_authed", 14, 1);
    fputc('|', f);
    fclose(f);
    assert_string_equal(got, "失败    |  令牌|already_authed |");
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safetext__controls_become_spaces),
        cmocka_unit_test(test_safetext__invalid_utf8_becomes_replacement),
        cmocka_unit_test(test_safetext__fputs_equals_buffer),
        cmocka_unit_test(test_safetext__width_and_padding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
