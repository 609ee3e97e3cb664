/* test_progress.c - the progress texts, the bar's redraw rules, the log
 * cadence, the logger hook, and AUTO on a pseudo-terminal vs a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "progress.h"

static void stats(struct ab_run_stats *st, int64_t t_ms, int64_t finished)
{
    memset(st, 0, sizeof *st);
    st->run_id = 1;
    st->started_ms = 1700000000000;
    st->now_ms = st->started_ms + t_ms;
    st->total = 100;
    st->done = finished > 3 ? finished - 3 : 0;
    st->failed = finished > 3 ? 3 : finished;
    st->waiting = 4;
    st->in_flight = 8;
    st->attempts = finished + 5;
    st->rate_now = 2.5;
    st->exit_status = -1;
}

static char *slurp(FILE *f)
{
    long n;
    char *buf;

    fflush(f);
    n = ftell(f);
    rewind(f);
    buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    return buf;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static int setup(void **state)
{
    (void)state;
    ab_log_set_verbosity(0);
    return 0;
}

static void test_progress__parse_mode(void **state)
{
    enum ab_progress_mode m;
    (void)state;
    assert_int_equal(ab_progress_parse_mode("bar", &m), 0);
    assert_int_equal(m, AB_PROGRESS_BAR);
    assert_int_equal(ab_progress_parse_mode("none", &m), 0);
    assert_int_equal(m, AB_PROGRESS_NONE);
    assert_int_equal(ab_progress_parse_mode("auto", &m), 0);
    assert_int_equal(m, AB_PROGRESS_AUTO);
    assert_int_equal(ab_progress_parse_mode("BAR", &m), AB_EINVAL);
    assert_int_equal(ab_progress_parse_mode(NULL, &m), AB_EINVAL);
}

static void test_progress__format_duration(void **state)
{
    char b[32];
    (void)state;
    ab_progress_format_duration(b, sizeof b, 45);
    assert_string_equal(b, "45s");
    ab_progress_format_duration(b, sizeof b, 843);
    assert_string_equal(b, "14m03s");
    ab_progress_format_duration(b, sizeof b, 7500);
    assert_string_equal(b, "2h05m");
    ab_progress_format_duration(b, sizeof b, 273600);
    assert_string_equal(b, "3d04h");
    ab_progress_format_duration(b, sizeof b, -1);
    assert_string_equal(b, "?");
}

static void test_progress__bar_text_has_every_figure_and_fits(void **state)
{
    struct ab_run_stats st;
    char b[512];
    int cols[] = {20, 40, 80, 120, 300};
    size_t i;

    (void)state;
    stats(&st, 5000, 12);
    ab_progress_format_bar(b, sizeof b, &st, 843, 120);
    assert_non_null(strstr(b, "12/100 12.0%"));
    assert_non_null(strstr(b, "failed 3"));
    assert_non_null(strstr(b, "retrying 4"));
    assert_non_null(strstr(b, "in flight 8"));
    assert_non_null(strstr(b, "2.5/s"));
    assert_non_null(strstr(b, "ETA 14m03s"));
    assert_int_equal(b[0], '[');
    for (i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        ab_progress_format_bar(b, sizeof b, &st, 843, cols[i]);
        assert_true(strlen(b) <= (size_t)cols[i] - 1);
        assert_null(strchr(b, '\n'));
    }
    st.total = 0; /* unknown: no ratio, no bar, no ETA */
    ab_progress_format_bar(b, sizeof b, &st, -1, 120);
    assert_non_null(strstr(b, "12 finished"));
    assert_null(strstr(b, "ETA"));
    assert_null(strchr(b, '['));
}

static void test_progress__log_text(void **state)
{
    struct ab_run_stats st;
    char b[512];

    (void)state;
    stats(&st, 5000, 50);
    ab_progress_format_log(b, sizeof b, &st, 30);
    assert_string_equal(b, "progress: 50/100 finished (50.0%): 47 done, 0 "
                           "already authed, 3 failed; 4 retrying, 8 in "
                           "flight; 55 requests, 2.5/s; ETA 30s");
}

static void test_progress__bar_redraws_at_most_4_per_second(void **state)
{
    FILE *f = tmpfile();
    struct ab_progress *p = ab_progress_new_stream(AB_PROGRESS_BAR, f);
    struct ab_run_stats st;
    char *out;

    (void)state;
    assert_int_equal(ab_progress_mode(p), AB_PROGRESS_BAR);
    stats(&st, 0, 0);
    ab_progress_update(p, &st); /* draws */
    stats(&st, 100, 1);
    ab_progress_update(p, &st); /* too soon */
    stats(&st, 150, 2);
    ab_progress_update(p, &st); /* too soon */
    stats(&st, 260, 3);
    ab_progress_update(p, &st); /* draws */
    ab_progress_finish(p, &st); /* clears */
    stats(&st, 900, 4);
    ab_progress_update(p, &st); /* ignored after finish */
    out = slurp(f);
    assert_int_equal(count_of(out, "\033[K"), 3);
    assert_int_equal(count_of(out, "\r["), 2);
    assert_non_null(strstr(out, "3/100"));
    assert_null(strstr(out, "1/100"));
    assert_null(strstr(out, "4/100"));
    assert_null(strchr(out, '\n'));
    /* The last thing written clears the line. */
    assert_string_equal(out + strlen(out) - 4, "\r\033[K");
    free(out);
    ab_progress_free(p);
    fclose(f);
}

static void test_progress__log_messages_never_garble_the_bar(void **state)
{
    FILE *f = tmpfile();
    int saved = dup(2);
    struct ab_progress *p;
    struct ab_run_stats st;
    char *out, *msg, *redraw;

    (void)state;
    /* The logger writes to stderr: point stderr at the file too. */
    fflush(stderr);
    assert_true(dup2(fileno(f), 2) >= 0);
    p = ab_progress_new_stream(AB_PROGRESS_BAR, stderr);
    stats(&st, 0, 7);
    ab_progress_update(p, &st);
    ab_log_warn("something happened");
    ab_progress_free(p);
    ab_log_warn("after the bar");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    out = slurp(f);
    /* bar, clear, message on a clean line, bar again, clear on free;
     * no hook afterwards. */
    msg = strstr(out, "\r\033[Kauthbatch: warning: something happened\n");
    assert_non_null(msg);
    redraw = strstr(msg, "\n\r[");
    assert_non_null(redraw);
    assert_non_null(strstr(redraw, "7/100"));
    assert_non_null(strstr(out, "\r\033[Kauthbatch: warning: after the bar\n"));
    assert_int_equal(count_of(out, "7/100"), 2);
    free(out);
    fclose(f);
}

static void test_progress__log_every_10_seconds_and_at_the_end(void **state)
{
    FILE *f = tmpfile();
    struct ab_progress *p = ab_progress_new_stream(AB_PROGRESS_LOG, f);
    struct ab_run_stats st;
    int64_t t;
    char *out;

    (void)state;
    /* One company a second for 25 s, updates 4 times a second. */
    for (t = 0; t <= 25000; t += 250) {
        stats(&st, t, t / 1000);
        ab_progress_update(p, &st);
    }
    ab_progress_finish(p, &st);
    out = slurp(f);
    assert_int_equal(count_of(out, "authbatch: progress: "), 3);
    assert_int_equal(count_of(out, "\n"), 3);
    /* At 10 s: 10 finished at 1/s, 90 left: 1m30s. */
    assert_non_null(strstr(out, "progress: 10/100 finished (10.0%)"));
    assert_non_null(strstr(out, "ETA 1m30s"));
    assert_non_null(strstr(out, "progress: 20/100 finished"));
    assert_non_null(strstr(out, "progress: 25/100 finished"));
    assert_null(strchr(out, '\r'));
    free(out);
    ab_progress_free(p);
    fclose(f);
}

static void test_progress__quiet_and_none_print_nothing(void **state)
{
    FILE *f = tmpfile();
    struct ab_progress *p;
    struct ab_run_stats st;
    char *out;

    (void)state;
    ab_log_set_verbosity(-1);
    p = ab_progress_new_stream(AB_PROGRESS_BAR, f);
    assert_int_equal(ab_progress_mode(p), AB_PROGRESS_NONE);
    stats(&st, 20000, 5);
    ab_progress_update(p, &st);
    ab_progress_finish(p, &st);
    ab_progress_free(p);
    ab_log_set_verbosity(0);
    p = ab_progress_new_stream(AB_PROGRESS_NONE, f);
    ab_progress_update(p, &st);
    ab_progress_finish(p, &st);
    ab_progress_free(p);
    ab_progress_free(NULL);
    out = slurp(f);
    assert_string_equal(out, "");
    free(out);
    fclose(f);
}

static void test_progress__auto_is_bar_on_a_terminal_log_elsewhere(void **state)
{
    int master, slave;
    FILE *tty, *file = tmpfile();
    struct ab_progress *p;
    struct ab_run_stats st;
    char buf[1024];
    ssize_t n;

    (void)state;
    p = ab_progress_new_stream(AB_PROGRESS_AUTO, file);
    assert_int_equal(ab_progress_mode(p), AB_PROGRESS_LOG);
    ab_progress_free(p);
    fclose(file);

    setenv("TERM", "xterm", 1);
    if (openpty(&master, &slave, NULL, NULL, NULL) != 0) {
        fprintf(stderr, "skipping the terminal case: no pseudo-terminal\n");
        return;
    }
    tty = fdopen(slave, "w");
    assert_non_null(tty);
    p = ab_progress_new_stream(AB_PROGRESS_AUTO, tty);
    assert_int_equal(ab_progress_mode(p), AB_PROGRESS_BAR);
    stats(&st, 0, 42);
    ab_progress_update(p, &st);
    n = read(master, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "42/100"));
    assert_non_null(strstr(buf, "\033[K"));
    ab_progress_free(p);
    fclose(tty);
    close(master);
    setenv("TERM", "dumb", 1);
    assert_true(openpty(&master, &slave, NULL, NULL, NULL) == 0);
    tty = fdopen(slave, "w");
    p = ab_progress_new_stream(AB_PROGRESS_AUTO, tty);
    assert_int_equal(ab_progress_mode(p), AB_PROGRESS_LOG);
    ab_progress_free(p);
    fclose(tty);
    close(master);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_progress__parse_mode, setup),
        cmocka_unit_test_setup(test_progress__format_duration, setup),
        cmocka_unit_test_setup(
            test_progress__bar_text_has_every_figure_and_fits, setup),
        cmocka_unit_test_setup(test_progress__log_text, setup),
        cmocka_unit_test_setup(test_progress__bar_redraws_at_most_4_per_second,
                               setup),
        cmocka_unit_test_setup(test_progress__log_messages_never_garble_the_bar,
                               setup),
        cmocka_unit_test_setup(
            test_progress__log_every_10_seconds_and_at_the_end, setup),
        cmocka_unit_test_setup(test_progress__quiet_and_none_print_nothing,
                               setup),
        cmocka_unit_test_setup(
            test_progress__auto_is_bar_on_a_terminal_log_elsewhere, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
