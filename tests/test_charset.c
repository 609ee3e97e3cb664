/* test_charset.c - the streaming decoder (detection, byte order marks,
 * invalid and truncated sequences, any chunking) and the encoder (no silent
 * substitutes), against glibc's iconv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charset.h"

struct out {
    char text[1 << 18];
    size_t n;
    int errors, truncated;
    unsigned char bad[4];
    size_t nbad;
};

static void on_text(void *ctx, const char *s, size_t n)
{
    struct out *o = ctx;
    assert_true(o->n + n < sizeof o->text);
    memcpy(o->text + o->n, s, n);
    o->n += n;
    o->text[o->n] = '\0';
}

static void on_error(void *ctx, const unsigned char *b, size_t n, int truncated)
{
    struct out *o = ctx;
    if (o->errors++ == 0) {
        memcpy(o->bad, b, n);
        o->nbad = n;
        o->truncated = truncated;
    }
}

/* Decodes in[0..n) fed `step` bytes at a time (0: all at once). */
static enum ab_charset decode(enum ab_charset cs, const char *in, size_t n,
                              size_t step, struct out *o, int *rc)
{
    struct ab_decoder_sink sink = {on_text, on_error, o};
    struct ab_decoder *d;
    struct ab_err err = {0};
    enum ab_charset got;
    size_t i;

    memset(o, 0, sizeof *o);
    assert_int_equal(ab_decoder_new(cs, &sink, &d, &err), 0);
    *rc = 0;
    for (i = 0; i < n && *rc == 0; i += step ? step : n)
        *rc = ab_decoder_feed(d, in + i, step && n - i > step ? step : n - i,
                              &err);
    if (*rc == 0)
        *rc = ab_decoder_finish(d, &err);
    got = ab_decoder_charset(d);
    ab_decoder_free(d);
    return got;
}

/* Every chunking gives the same text. */
static void decode_all_steps(enum ab_charset cs, const char *in, size_t n,
                             enum ab_charset want_cs, const char *want)
{
    static const size_t steps[] = {0, 1, 2, 3, 5, 7, 4096};
    struct out *o = malloc(sizeof *o);
    size_t i;
    int rc;

    assert_non_null(o);
    for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        assert_int_equal(decode(cs, in, n, steps[i], o, &rc), want_cs);
        assert_int_equal(rc, 0);
        assert_int_equal(o->errors, 0);
        assert_string_equal(o->text, want);
    }
    free(o);
}

/* The rare names of the round-trip tests: an extension-A character, a
 * plane-2 character (4 bytes in both), the middle dot, full-width
 * punctuation. In GB18030 (as glibc and Python both write them). */
static const char rare_utf8[] = "䶮𠀀·公司（测试）：，";
static const char rare_gb[] =
    "\xFE\x9F\x95\x32\x82\x36\xA1\xA4\xB9\xAB\xCB\xBE"
    "\xA3\xA8\xB2\xE2\xCA\xD4\xA3\xA9\xA3\xBA\xA3\xAC";

static void test_charset__ascii_and_utf8_pass_through(void **state)
{
    (void)state;
    decode_all_steps(AB_CHARSET_AUTO, "a,b\r\nc,d\n", 10, AB_CHARSET_AUTO,
                     "a,b\r\nc,d\n");
    decode_all_steps(AB_CHARSET_AUTO, "\xEF\xBB\xBFname,中文\n", 15,
                     AB_CHARSET_UTF8, "name,中文\n");
    decode_all_steps(AB_CHARSET_UTF8, "x,示例\n", 10, AB_CHARSET_UTF8,
                     "x,示例\n");
}

/* "中文" in UTF-8 also happens to read as GB18030 (E4B8 ADE6 9687): valid
 * UTF-8 wins. */
static void test_charset__valid_utf8_wins_over_gb18030(void **state)
{
    (void)state;
    decode_all_steps(AB_CHARSET_AUTO, "c\n中文\n", 9, AB_CHARSET_UTF8,
                     "c\n中文\n");
}

static void test_charset__gb18030_detected_after_ascii(void **state)
{
    char in[256];
    size_t n;

    (void)state;
    n = (size_t)snprintf(in, sizeof in, "companyName,x\r\n%s,1\r\n", rare_gb);
    decode_all_steps(AB_CHARSET_AUTO, in, n, AB_CHARSET_GB18030,
                     "companyName,x\r\n䶮𠀀·公司（测试）：，,1\r\n");
    decode_all_steps(AB_CHARSET_GB18030, rare_gb, sizeof rare_gb - 1,
                     AB_CHARSET_GB18030, rare_utf8);
    /* GB18030's own byte order mark. */
    decode_all_steps(AB_CHARSET_AUTO, "\x84\x31\x95\x33\xCA\xBE", 6,
                     AB_CHARSET_GB18030, "示");
    /* Windows code page 936 puts the euro sign at 0x80. */
    decode_all_steps(AB_CHARSET_GB18030, "\x80\xA2\xE3", 3, AB_CHARSET_GB18030,
                     "€€");
}

static void test_charset__utf16_by_byte_order_mark(void **state)
{
    static const char le[] = "\xFF\xFE"
                             "c\0\t\0\x3A\x79\x8B\x4F\n\0\x40\xD8\x00\xDC";
    static const char be[] = "\xFE\xFF"
                             "\0c\0\t\x79\x3A\x4F\x8B\0\n\xD8\x40\xDC\x00";
    (void)state;
    decode_all_steps(AB_CHARSET_AUTO, le, sizeof le - 1, AB_CHARSET_UTF16LE,
                     "c\t示例\n𠀀");
    decode_all_steps(AB_CHARSET_UTF16, be, sizeof be - 1, AB_CHARSET_UTF16BE,
                     "c\t示例\n𠀀");
    /* --encoding utf-16 without a BOM: little-endian, as Windows writes. */
    decode_all_steps(AB_CHARSET_UTF16, le + 2, sizeof le - 3,
                     AB_CHARSET_UTF16LE, "c\t示例\n𠀀");
}

static void test_charset__bom_contradicting_the_encoding(void **state)
{
    struct out *o = malloc(sizeof *o);
    int rc;

    (void)state;
    assert_non_null(o);
    decode(AB_CHARSET_UTF8, "\xFF\xFEx\0", 4, 0, o, &rc);
    assert_int_equal(rc, AB_EDATA);
    assert_int_equal(o->n, 0);
    decode(AB_CHARSET_GB18030, "\xEF\xBB\xBFx", 4, 1, o, &rc);
    assert_int_equal(rc, AB_EDATA);
    free(o);
}

static void test_charset__invalid_and_truncated_sequences(void **state)
{
    struct out *o = malloc(sizeof *o);
    size_t step;
    int rc;

    (void)state;
    assert_non_null(o);
    for (step = 0; step < 4; step++) {
        /* A lead byte followed by a comma: reported, replaced, resumed. */
        decode(AB_CHARSET_GB18030, "\xCA\xBE\xC0,\xCA\xBE", 6, step, o, &rc);
        assert_int_equal(rc, 0);
        assert_int_equal(o->errors, 1);
        assert_int_equal(o->truncated, 0);
        assert_int_equal(o->nbad, 2);
        assert_memory_equal(o->bad, "\xC0,", 2);
        assert_string_equal(o->text, "示\xEF\xBF\xBD,示");
        /* The input ends inside a character. */
        decode(AB_CHARSET_GB18030, "a\xCA", 2, step, o, &rc);
        assert_int_equal(o->errors, 1);
        assert_int_equal(o->truncated, 1);
        assert_string_equal(o->text, "a\xEF\xBF\xBD");
        /* An unpaired surrogate in UTF-16. */
        decode(AB_CHARSET_UTF16LE,
               "a\0\x00\xD8"
               "b\0",
               6, step, o, &rc);
        assert_int_equal(o->errors, 1);
        assert_string_equal(o->text, "a\xEF\xBF\xBD"
                                     "b");
        /* An odd byte at the end of UTF-16. */
        decode(AB_CHARSET_UTF16LE, "a\0b", 3, step, o, &rc);
        assert_int_equal(o->truncated, 1);
    }
    free(o);
}

/* Neither UTF-8 nor clean GB18030: UTF-8, so validation rejects the rows
 * (and names the bytes) rather than guessing. */
static void test_charset__neither_is_utf8(void **state)
{
    struct out *o = malloc(sizeof *o);
    int rc;

    (void)state;
    assert_non_null(o);
    assert_int_equal(
        decode(AB_CHARSET_AUTO, "x\n\xCA\xBE\xC0,\xFF\n", 8, 0, o, &rc),
        AB_CHARSET_UTF8);
    assert_int_equal(o->errors, 0);
    assert_memory_equal(o->text, "x\n\xCA\xBE\xC0,\xFF\n", 8);
    free(o);
}

/* The decision is made on a window: what comes after it is decoded as
 * decided, bad bytes there are errors of their own. */
static void test_charset__decision_window(void **state)
{
    size_t n = AB_CHARSET_WINDOW + 4096, i;
    char *in = malloc(n);
    struct out *o = malloc(sizeof *o);
    int rc;

    (void)state;
    assert_non_null(in);
    assert_non_null(o);
    memcpy(in, "h\n", 2);
    for (i = 2; i + 2 <= n; i += 2)
        memcpy(in + i, "\xD6\xD0", 2); /* 中 (CA BE would be UTF-8) */
    in[n - 3] = ',';                   /* a lead byte before it: cut */
    assert_int_equal(decode(AB_CHARSET_AUTO, in, n, 1000, o, &rc),
                     AB_CHARSET_GB18030);
    assert_int_equal(rc, 0);
    assert_int_equal(o->errors, 1);
    free(o);
    free(in);
}

/* Regression: the sink's work (SQLite, libcsv) changes errno; a full output
 * buffer (E2BIG) was then taken for an invalid sequence, one row in ~150,000
 * of a 1M-row import. */
static void on_text_clobbering(void *ctx, const char *s, size_t n)
{
    on_text(ctx, s, n);
    errno = EILSEQ;
}

static void test_charset__sink_may_change_errno(void **state)
{
    size_t n = 120000, i;
    char *in = malloc(n);
    struct out *o = malloc(sizeof *o);
    struct ab_decoder_sink sink = {on_text_clobbering, on_error, o};
    struct ab_decoder *d;
    struct ab_err err = {0};

    (void)state;
    assert_non_null(in);
    assert_non_null(o);
    memset(o, 0, sizeof *o);
    for (i = 0; i + 2 <= n; i += 2)
        memcpy(in + i, "\xD6\xD0", 2);
    assert_int_equal(ab_decoder_new(AB_CHARSET_GB18030, &sink, &d, &err), 0);
    assert_int_equal(ab_decoder_feed(d, in, n, &err), 0);
    assert_int_equal(ab_decoder_finish(d, &err), 0);
    ab_decoder_free(d);
    assert_int_equal(o->errors, 0);
    assert_int_equal(o->n, n / 2 * 3);
    free(o);
    free(in);
}

/* Encoding. */

static char *encode(enum ab_charset cs, int bom, const char *s, size_t n,
                    int bytewise, size_t *outlen, int *rc, char *msg)
{
    struct ab_encoder *e;
    struct ab_err err = {0};
    char *buf = NULL;
    size_t len = 0, i;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    assert_int_equal(ab_encoder_open(f, cs, bom, &e, &err), 0);
    if (bytewise)
        for (i = 0; i < n; i++)
            fputc(s[i], ab_encoder_stream(e)), fflush(ab_encoder_stream(e));
    else
        fwrite(s, 1, n, ab_encoder_stream(e));
    *rc = ab_encoder_close(e, &err);
    if (msg)
        strcpy(msg, err.msg);
    fclose(f);
    *outlen = len;
    return buf;
}

static void test_charset__encoder_round_trips(void **state)
{
    size_t n;
    int rc, bytewise;
    char *b;

    (void)state;
    for (bytewise = 0; bytewise < 2; bytewise++) {
        b = encode(AB_CHARSET_GB18030, 0, rare_utf8, sizeof rare_utf8 - 1,
                   bytewise, &n, &rc, NULL);
        assert_int_equal(rc, 0);
        assert_int_equal(n, sizeof rare_gb - 1);
        assert_memory_equal(b, rare_gb, n);
        free(b);
        b = encode(AB_CHARSET_UTF16LE, 1, "a𠀀", 5, bytewise, &n, &rc, NULL);
        assert_int_equal(rc, 0);
        assert_int_equal(n, 8);
        assert_memory_equal(b,
                            "\xFF\xFE"
                            "a\0\x40\xD8\x00\xDC",
                            8);
        free(b);
        b = encode(AB_CHARSET_UTF8, 1, "中", 3, bytewise, &n, &rc, NULL);
        assert_int_equal(rc, 0);
        assert_memory_equal(b, "\xEF\xBB\xBF中", 6);
        free(b);
    }
}

/* A failed conversion is an error naming the text, never a '?'. */
static void test_charset__encoder_never_substitutes(void **state)
{
    char msg[512];
    size_t n;
    int rc;
    char *b;

    (void)state;
    b = encode(AB_CHARSET_GB18030, 0,
               "ab\xED\xA0\x80"
               "cd",
               7, 0, &n, &rc, msg);
    assert_int_equal(rc, AB_EDATA);
    assert_null(memchr(b, '?', n));
    assert_non_null(strstr(msg, "not UTF-8 (0xED)"));
    assert_non_null(strstr(msg, "cannot be written as GB18030"));
    free(b);
    b = encode(AB_CHARSET_GB18030, 0, "ab\xE4\xB8", 4, 1, &n, &rc, msg);
    assert_int_equal(rc, AB_EDATA); /* cut short at the end */
    free(b);
}

static void test_charset__encoder_auto_waits_for_the_encoding(void **state)
{
    struct ab_encoder *e;
    struct ab_err err = {0};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    assert_int_equal(ab_encoder_open(f, AB_CHARSET_AUTO, 0, &e, &err), 0);
    fputs("head,er\r\n", ab_encoder_stream(e));
    assert_int_equal(ab_encoder_set_charset(e, AB_CHARSET_GB18030), 0);
    fputs("示\r\n", ab_encoder_stream(e));
    assert_int_equal(ab_encoder_close(e, &err), 0);
    fclose(f);
    assert_int_equal(len, 13);
    assert_memory_equal(buf, "head,er\r\n\xCA\xBE\r\n", 13);
    free(buf);

    buf = NULL;
    f = open_memstream(&buf, &len);
    assert_int_equal(ab_encoder_open(f, AB_CHARSET_AUTO, 0, &e, &err), 0);
    fputs("示", ab_encoder_stream(e));
    assert_int_equal(ab_encoder_close(e, &err), AB_EDATA);
    fclose(f);
    free(buf);
}

static void test_charset__names_and_utf8_len(void **state)
{
    enum ab_charset cs;

    (void)state;
    assert_int_equal(ab_charset_parse("GB18030", &cs), 0);
    assert_int_equal(cs, AB_CHARSET_GB18030);
    assert_int_equal(ab_charset_parse("gbk", &cs), 0);
    assert_int_equal(cs, AB_CHARSET_GB18030);
    assert_int_equal(ab_charset_parse("UTF-16", &cs), 0);
    assert_int_equal(cs, AB_CHARSET_UTF16);
    assert_int_equal(ab_charset_parse("latin1", &cs), AB_EINVAL);
    assert_string_equal(ab_charset_name(AB_CHARSET_UTF16LE), "UTF-16LE");
    assert_int_equal(ab_utf8_len("\xF0\xA0\x80\x80", 4), 4);
    assert_int_equal(ab_utf8_len("\xF0\xA0\x80", 3), 0);
    assert_int_equal(ab_utf8_len("\xED\xA0\x80", 3), 0); /* surrogate */
    assert_int_equal(ab_utf8_len("\xC0\xAF", 2), 0);     /* overlong */
    assert_int_equal(ab_utf8_len("\xC2\x9B", 2), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_charset__ascii_and_utf8_pass_through),
        cmocka_unit_test(test_charset__valid_utf8_wins_over_gb18030),
        cmocka_unit_test(test_charset__gb18030_detected_after_ascii),
        cmocka_unit_test(test_charset__utf16_by_byte_order_mark),
        cmocka_unit_test(test_charset__bom_contradicting_the_encoding),
        cmocka_unit_test(test_charset__invalid_and_truncated_sequences),
        cmocka_unit_test(test_charset__neither_is_utf8),
        cmocka_unit_test(test_charset__decision_window),
        cmocka_unit_test(test_charset__sink_may_change_errno),
        cmocka_unit_test(test_charset__encoder_round_trips),
        cmocka_unit_test(test_charset__encoder_never_substitutes),
        cmocka_unit_test(test_charset__encoder_auto_waits_for_the_encoding),
        cmocka_unit_test(test_charset__names_and_utf8_len),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
