/* cmd_status.c - `authbatch status [--json]`: counts per status, progress,
 * retries due, the last run.
 *
 * Instant on millions of rows: the counts come from a covering scan of the
 * status index, the retry figures from index ranges, the last run from the
 * runs table (small), and for an unfinished run the attempts so far from an
 * index range of attempts_run.
 *
 * --json prints one object:
 *   {"database": str, "schema_version": int,
 *    "total": int, "counts": {"pending", "in_flight", "retry_wait", "done",
 *                             "already_authed", "failed": int},
 *    "finished": int, "percent_done": num,   (done + already_authed + failed)
 *    "due_retry": int,
 *    "retry": {"waiting": int, "due": int, "next_at": str|null,
 *              "next_at_ms": int|null},
 *    "last_run": null | {"id", "pid", "started_at": str, "started_at_ms",
 *              "ended_at_ms": int|null, "duration_s": num|null (null for a
 *              run that neither ended nor runs), "running": bool,
 *              "exit_status": int|null, "command": "run"|"track",
 *              "polls", "attempts", "issued",
 *              "already_authed", "failed", "retried", "throttled",
 *              "requests_per_second": num|null},
 *    "funnel": {...} (report_funnel.h),
 *    "last_success_at": str|null, "last_success_at_ms": int|null}
 * Times are UTC ISO 8601 strings plus Unix milliseconds; percent_done is
 * rounded to two decimals.
 *
 * The text speaks --lang (default from the locale, see i18n.h); --json
 * never changes with it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "cmd.h"
#include "i18n.h"
#include "log.h"
#include "report_funnel.h"
#include "safetext.h"
#include "store.h"
#include "store_report.h"

struct status {
    struct ab_counts n;
    struct ab_run_row run;
    int have_run;
    int running; /* no end, and its pid is alive */
    int64_t last_success_ms;
    int64_t now_ms;
    int schema_version;
    struct ab_funnel_view funnel; /* report_funnel.h */
};

static int64_t finished(const struct ab_counts *n)
{
    return n->done + n->already_authed + n->failed;
}

static double pct(int64_t part, int64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static int64_t run_duration_ms(const struct status *st)
{
    int64_t end = st->run.ended_at >= 0 ? st->run.ended_at : st->now_ms;
    return end > st->run.started_at ? end - st->run.started_at : 0;
}

static double run_rate(const struct status *st)
{
    int64_t d = run_duration_ms(st);
    return d > 0 ? (double)st->run.attempts * 1000.0 / (double)d : 0.0;
}

static void local_time(char *buf, size_t n, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S %z", &tm))
        snprintf(buf, n, "?");
}

/* "label" padded to the value column (display width, for Chinese). */
static void label(enum ab_lang l, const char *en, int indent)
{
    printf("%*s", indent, "");
    ab_safetext_pad(stdout, ab_tr(l, en), 16 - indent, 1);
}

static void count_line(enum ab_lang l, const char *status, int64_t v)
{
    printf("  ");
    ab_safetext_pad(stdout, ab_i18n_status(l, status), 16, 1);
    printf("%" PRId64, v);
}

static void print_text(const struct status *st, const char *db, enum ab_lang l)
{
    const struct ab_counts *n = &st->n;
    char when[64], dur[32];

    label(l, "database", 0);
    ab_safetext_fputs(db, stdout);
    putchar('\n');
    label(l, "companies", 0);
    printf("%" PRId64 "\n", n->total);
    count_line(l, "pending", n->pending);
    putchar('\n');
    count_line(l, "in_flight", n->in_flight);
    putchar('\n');
    count_line(l, "retry_wait", n->retry_wait);
    printf(ab_tr(l, " (%" PRId64 " due)\n"), n->due_retry);
    count_line(l, "done", n->done);
    putchar('\n');
    count_line(l, "already_authed", n->already_authed);
    putchar('\n');
    count_line(l, "failed", n->failed);
    putchar('\n');
    label(l, "finished", 0);
    printf(ab_tr(l, "%.1f%% (%" PRId64 " of %" PRId64 "; %.1f%% failed)\n"),
           pct(finished(n), n->total), finished(n), n->total,
           pct(n->failed, n->total));
    if (n->retry_wait) {
        label(l, "next retry", 0);
        if (n->next_retry_at > st->now_ms) {
            local_time(when, sizeof when, n->next_retry_at);
            ab_i18n_duration(l, dur, sizeof dur,
                             (double)(n->next_retry_at - st->now_ms) / 1000.0);
            printf(ab_tr(l, "%s (in %s)\n"), when, dur);
        } else {
            printf("%s\n", ab_tr(l, "due now"));
        }
    }
    if (!ab_funnel_empty(&st->funnel))
        ab_funnel_print_text(stdout, &st->funnel, l);
    label(l, "last run", 0);
    if (!st->have_run) {
        printf("%s\n", ab_tr(l, "none"));
    } else {
        local_time(when, sizeof when, st->run.started_at);
        ab_i18n_duration(l, dur, sizeof dur,
                         (double)run_duration_ms(st) / 1000.0);
        printf(ab_tr(l, "#%" PRId64 " started %s, "), st->run.id, when);
        if (st->run.ended_at >= 0)
            printf(ab_tr(l, "took %s, exit %d\n"), dur, st->run.exit_status);
        else if (st->running)
            printf(ab_tr(l, "running for %s (pid %" PRId64 ")\n"), dur,
                   st->run.pid);
        else
            printf(ab_tr(l, "did not finish (pid %" PRId64 " is gone)\n"),
                   st->run.pid);
        printf("%16s", "");
        if (st->run.polls > 0)
            printf(ab_tr(l, "%" PRId64 " status polls; "), st->run.polls);
        printf(ab_tr(l, "%" PRId64 " requests"), st->run.attempts);
        if (st->run.ended_at >= 0 || st->running)
            printf(ab_tr(l, ", %.1f/s"), run_rate(st));
        if (st->run.ended_at >= 0)
            printf(ab_tr(l, "; %" PRId64 " issued, %" PRId64
                            " already authed, %" PRId64 " failed"),
                   st->run.issued, st->run.already_authed, st->run.failed);
        putchar('\n');
    }
    label(l, "last clean run", 0);
    if (st->last_success_ms) {
        local_time(when, sizeof when, st->last_success_ms);
        printf("%s\n", when);
    } else {
        printf("%s\n", ab_tr(l, "none yet (a clean run ends with exit 0: "
                                "nothing failed, nothing left)"));
    }
    if (n->total == 0)
        printf("\n%s\n", ab_tr(l, "No companies yet: import them with "
                                  "'authbatch import FILE' (see 'authbatch "
                                  "import --help')."));
}

static json_t *jtime(int64_t ms)
{
    char buf[40];
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !gmtime_r(&t, &tm) ||
        !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return json_null();
    return json_string(buf);
}

static json_t *jint_or_null(int present, int64_t v)
{
    return present ? json_integer((json_int_t)v) : json_null();
}

static int print_json(const struct status *st, const char *db)
{
    const struct ab_counts *n = &st->n;
    json_t *o = json_object(), *c = json_object(), *r = json_object();
    int rc;
    int has_next = n->retry_wait > 0 && n->next_retry_at > 0;

    json_object_set_new(o, "database", json_string(db));
    json_object_set_new(o, "schema_version", json_integer(st->schema_version));
    json_object_set_new(o, "total", json_integer(n->total));
    json_object_set_new(c, "pending", json_integer(n->pending));
    json_object_set_new(c, "in_flight", json_integer(n->in_flight));
    json_object_set_new(c, "retry_wait", json_integer(n->retry_wait));
    json_object_set_new(c, "done", json_integer(n->done));
    json_object_set_new(c, "already_authed", json_integer(n->already_authed));
    json_object_set_new(c, "failed", json_integer(n->failed));
    json_object_set_new(o, "counts", c);
    json_object_set_new(o, "finished", json_integer(finished(n)));
    json_object_set_new(
        o, "percent_done",
        json_real(round(pct(finished(n), n->total) * 100.0) / 100.0));
    json_object_set_new(o, "due_retry", json_integer(n->due_retry));
    json_object_set_new(r, "waiting", json_integer(n->retry_wait));
    json_object_set_new(r, "due", json_integer(n->due_retry));
    json_object_set_new(r, "next_at",
                        has_next ? jtime(n->next_retry_at) : json_null());
    json_object_set_new(r, "next_at_ms",
                        jint_or_null(has_next, n->next_retry_at));
    json_object_set_new(o, "retry", r);
    if (st->have_run) {
        json_t *l = json_object();
        json_object_set_new(l, "id", json_integer(st->run.id));
        json_object_set_new(l, "pid", json_integer(st->run.pid));
        json_object_set_new(l, "started_at", jtime(st->run.started_at));
        json_object_set_new(l, "started_at_ms",
                            json_integer(st->run.started_at));
        json_object_set_new(
            l, "ended_at_ms",
            jint_or_null(st->run.ended_at >= 0, st->run.ended_at));
        json_object_set_new(
            l, "duration_s",
            st->run.ended_at >= 0 || st->running
                ? json_real((double)run_duration_ms(st) / 1000.0)
                : json_null());
        json_object_set_new(l, "running", json_boolean(st->running));
        json_object_set_new(
            l, "exit_status",
            jint_or_null(st->run.exit_status >= 0, st->run.exit_status));
        json_object_set_new(l, "command",
                            json_string(st->run.track ? "track" : "run"));
        json_object_set_new(l, "polls", json_integer(st->run.polls));
        json_object_set_new(l, "attempts", json_integer(st->run.attempts));
        json_object_set_new(l, "issued", json_integer(st->run.issued));
        json_object_set_new(l, "already_authed",
                            json_integer(st->run.already_authed));
        json_object_set_new(l, "failed", json_integer(st->run.failed));
        json_object_set_new(l, "retried", json_integer(st->run.retried));
        json_object_set_new(l, "throttled", json_integer(st->run.throttled));
        json_object_set_new(l, "requests_per_second",
                            st->run.ended_at >= 0 || st->running
                                ? json_real(run_rate(st))
                                : json_null());
        json_object_set_new(o, "last_run", l);
    } else {
        json_object_set_new(o, "last_run", json_null());
    }
    json_object_set_new(o, "funnel", ab_funnel_json(&st->funnel));
    json_object_set_new(o, "last_success_at", jtime(st->last_success_ms));
    json_object_set_new(
        o, "last_success_at_ms",
        jint_or_null(st->last_success_ms > 0, st->last_success_ms));
    /* 15 significant digits: 42.86 prints as 42.86, not 42.859999... */
    rc = json_dumpf(o, stdout,
                    JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                        JSON_REAL_PRECISION(15));
    json_decref(o);
    putchar('\n');
    return rc;
}

static int pid_alive(int64_t pid)
{
    if (pid <= 0)
        return 0;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int ab_cmd_status(const struct ab_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"lang", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ab_store *s;
    struct status st = {0};
    struct ab_err err = {0};
    enum ab_lang lang = ab_i18n_from_env();
    int c, rc, json = 0;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'l':
            if (ab_i18n_parse(optarg, &lang) != 0) {
                ab_log_error("status: unknown language '%s' (zh-CN, en)",
                             optarg);
                return AB_EXIT_USAGE;
            }
            break;
        case 'h':
            printf("usage: authbatch [--db PATH] status [--json] "
                   "[--lang zh-CN|en]\n\n"
                   "Counts companies by status, how far the work is, when "
                   "the next retry is due,\nand the last run. --json prints "
                   "the same as one JSON object (see README).\n\n"
                   "  --json            one JSON object (never translated)\n"
                   "  --lang zh-CN|en   the language of the text (default: "
                   "zh-CN when LC_ALL,\n"
                   "                    LC_MESSAGES or LANG starts with "
                   "'zh', else en)\n");
            return AB_EXIT_OK;
        default:
            fprintf(stderr, "usage: authbatch status [--json] "
                            "[--lang zh-CN|en]\n");
            return AB_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        ab_log_error("status: unexpected argument '%s'", argv[optind]);
        return AB_EXIT_USAGE;
    }
    if ((rc = ab_cli_open_store(cli, 0, &s)) != 0)
        return rc;
    st.now_ms = ab_now_ms();
    st.schema_version = ab_store_schema_version(s);
    if ((rc = ab_store_read_begin(s, &err)) == 0) {
        if ((rc = ab_store_counts(s, &st.n, &err)) == 0 &&
            (rc = ab_store_last_run(s, &st.run, &st.have_run, &err)) == 0 &&
            (rc = ab_store_last_success_ms(s, &st.last_success_ms, &err)) == 0)
            rc = ab_funnel_load(s, &st.funnel, &err);
        ab_store_read_end(s);
    }
    ab_store_close(s);
    if (rc != 0) {
        ab_log_error("status: %s", err.msg);
        return ab_cli_exit_for(rc);
    }
    st.running = st.have_run && st.run.ended_at < 0 && pid_alive(st.run.pid);
    if (json) {
        if (print_json(&st, cli->db_shown) != 0) {
            ab_funnel_view_release(&st.funnel);
            return AB_EXIT_IOERR;
        }
    } else {
        print_text(&st, cli->db_shown, lang);
    }
    ab_funnel_view_release(&st.funnel);
    return fflush(stdout) == 0 ? AB_EXIT_OK : AB_EXIT_IOERR;
}
