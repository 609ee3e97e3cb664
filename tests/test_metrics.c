/* test_metrics.c - the Prometheus text file: content, the running/ended
 * conventions, atomic replacement, and (when promtool is installed) the
 * official validator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"

static void fill(struct ab_run_stats *st, struct ab_counts *n)
{
    memset(st, 0, sizeof *st);
    memset(n, 0, sizeof *n);
    st->run_id = 7;
    st->started_ms = 1700000000000;
    st->now_ms = 1700000090500;
    st->total = 100;
    st->done = 40;
    st->already_authed = 5;
    st->failed = 3;
    st->attempts = 60;
    st->by_outcome[AB_OUT_ISSUED] = 40;
    st->by_outcome[AB_OUT_ALREADY_AUTHED] = 5;
    st->by_outcome[AB_OUT_REJECTED] = 3;
    st->by_outcome[AB_OUT_THROTTLED] = 4;
    st->by_outcome[AB_OUT_TRANSIENT] = 8;
    st->retries = 12;
    st->throttles = 2;
    st->transport_errors = 3;
    st->in_flight = 8;
    st->waiting = 6;
    st->rate_limit = 5;
    st->rate_now = 4.25;
    st->exit_status = -1;
    n->pending = 44;
    n->retry_wait = 6;
    n->in_flight = 8;
    n->done = 40;
    n->already_authed = 5;
    n->failed = 3;
    n->total = 106;
}

static char *print(const struct ab_run_stats *st, const struct ab_counts *n,
                   int64_t last_success)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    ab_metrics_print(f, st, n, last_success, NULL);
    fclose(f);
    return buf;
}

static void test_metrics__running_run(void **state)
{
    struct ab_run_stats st;
    struct ab_counts n;
    char *t;

    (void)state;
    fill(&st, &n);
    t = print(&st, &n, 1690000000000);
    assert_non_null(strstr(t, "# TYPE authbatch_companies gauge\n"));
    assert_non_null(strstr(t, "authbatch_companies{status=\"pending\"} 44\n"));
    assert_non_null(strstr(t, "authbatch_companies{status=\"failed\"} 3\n"));
    assert_non_null(strstr(t, "# TYPE authbatch_run_requests_total counter\n"));
    assert_non_null(
        strstr(t, "authbatch_run_requests_total{outcome=\"throttled\"} 4\n"));
    assert_non_null(
        strstr(t, "authbatch_run_requests_total{outcome=\"fatal\"} 0\n"));
    assert_non_null(strstr(t, "authbatch_run_retries_total 12\n"));
    assert_non_null(strstr(t, "authbatch_run_throttles_total 2\n"));
    assert_non_null(strstr(t, "authbatch_run_transport_errors_total 3\n"));
    assert_non_null(strstr(t, "authbatch_run_duration_seconds 90.500\n"));
    assert_non_null(
        strstr(t, "authbatch_run_start_timestamp_seconds 1700000000.000\n"));
    assert_non_null(strstr(t, "authbatch_run_in_flight_requests 8\n"));
    assert_non_null(
        strstr(t, "authbatch_run_rate_limit_requests_per_second 5.000\n"));
    assert_non_null(strstr(t, "authbatch_run_running 1\n"));
    assert_non_null(strstr(t, "authbatch_run_exit_status -1\n"));
    assert_non_null(
        strstr(t, "authbatch_last_success_timestamp_seconds 1690000000.000\n"));
    free(t);
}

static void test_metrics__successful_end_is_the_last_success(void **state)
{
    struct ab_run_stats st;
    struct ab_counts n;
    char *t;

    (void)state;
    fill(&st, &n);
    st.exit_status = 0;
    t = print(&st, &n, 1690000000000);
    assert_non_null(strstr(t, "authbatch_run_running 0\n"));
    assert_non_null(strstr(t, "authbatch_run_exit_status 0\n"));
    assert_non_null(
        strstr(t, "authbatch_last_success_timestamp_seconds 1700000090.500\n"));
    free(t);

    st.exit_status = 75;
    t = print(&st, &n, 0);
    assert_non_null(strstr(t, "authbatch_run_exit_status 75\n"));
    assert_non_null(
        strstr(t, "authbatch_last_success_timestamp_seconds 0.000\n"));
    free(t);
}

static void test_metrics__every_sample_has_help_and_type(void **state)
{
    struct ab_run_stats st;
    struct ab_counts n;
    char *t, *line, *save = NULL, name[128], helped[128] = "";

    (void)state;
    fill(&st, &n);
    t = print(&st, &n, 0);
    for (line = strtok_r(t, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (sscanf(line, "# HELP %127s", name) == 1) {
            snprintf(helped, sizeof helped, "%s", name);
            continue;
        }
        if (line[0] == '#')
            continue;
        /* A sample: its family was introduced just before; no timestamp
         * (exactly one space-separated value after the name). */
        assert_int_equal(strncmp(line, helped, strlen(helped)), 0);
        assert_null(strchr(strchr(line, ' ') + 1, ' '));
    }
    free(t);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    assert_non_null(d);
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void test_metrics__write_replaces_atomically(void **state)
{
    char dir[] = "/tmp/ab_test_metrics.XXXXXX", path[128], cmd[256];
    struct ab_run_stats st;
    struct ab_counts n;
    struct ab_err err = {0};
    struct stat sb;
    const char *promtool = "/usr/bin/promtool";
    FILE *f;
    char buf[64];

    (void)state;
    fill(&st, &n);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/authbatch.prom", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("old\n", f);
    fclose(f);
    assert_int_equal(ab_metrics_write(path, &st, &n, 0, NULL, &err), 0);
    assert_int_equal(ab_metrics_write(path, &st, &n, 0, NULL, &err), 0);
    /* Replaced, readable by the collector, no temporary file left. */
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_int_equal(strncmp(buf, "# HELP", 6), 0);
    assert_int_equal(count_entries(dir), 1);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_mode & S_IRUSR);

    if (access(promtool, X_OK) == 0) {
        snprintf(cmd, sizeof cmd, "%s check metrics < '%s'", promtool, path);
        assert_int_equal(system(cmd), 0);
    } else {
        fprintf(stderr,
                "skipping promtool check: %s not installed "
                "(Debian package prometheus)\n",
                promtool);
    }

    /* A directory that does not exist: an error, nothing written. */
    snprintf(path, sizeof path, "%s/missing/authbatch.prom", dir);
    assert_int_not_equal(ab_metrics_write(path, &st, &n, 0, NULL, &err), 0);
    assert_non_null(strstr(err.msg, "missing/authbatch.prom"));

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics__running_run),
        cmocka_unit_test(test_metrics__successful_end_is_the_last_success),
        cmocka_unit_test(test_metrics__every_sample_has_help_and_type),
        cmocka_unit_test(test_metrics__write_replaces_atomically),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
