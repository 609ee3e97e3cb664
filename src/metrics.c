#include "metrics.h"

#include <inttypes.h>

#include "atomicfile.h"
#include "report_funnel.h"

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_i(FILE *f, const char *name, int64_t v)
{
    fprintf(f, "%s %" PRId64 "\n", name, v);
}

static void sample_d(FILE *f, const char *name, double v)
{
    fprintf(f, "%s %.3f\n", name, v);
}

/* The run's status polls (`track`, `run --track`). */
static void print_polls(FILE *f, const struct ab_run_stats *st)
{
    int o;

    head(f, "authbatch_run_polls_total", "counter",
         "Status polls answered in this run, by outcome class (issued: "
         "answered).");
    for (o = 0; o < AB_OUT__COUNT; o++)
        fprintf(f, "authbatch_run_polls_total{outcome=\"%s\"} %" PRId64 "\n",
                ab_outcome_name((enum ab_outcome)o), st->poll_by_outcome[o]);
    head(f, "authbatch_run_companies_polled_total", "counter",
         "Companies whose status poll was answered or given up in this run.");
    fprintf(f,
            "authbatch_run_companies_polled_total{result=\"answered\"} "
            "%" PRId64 "\n"
            "authbatch_run_companies_polled_total{result=\"given_up\"} "
            "%" PRId64 "\n",
            st->polled, st->polls_failed);
}

void ab_metrics_print(FILE *f, const struct ab_run_stats *st,
                      const struct ab_counts *counts, int64_t last_success_ms,
                      const struct ab_funnel *funnel)
{
    const struct {
        const char *name;
        int64_t v;
    } statuses[] = {
        {"pending", counts->pending},
        {"in_flight", counts->in_flight},
        {"retry_wait", counts->retry_wait},
        {"done", counts->done},
        {"already_authed", counts->already_authed},
        {"failed", counts->failed},
    };
    int running = st->exit_status < 0;
    int64_t dur = st->now_ms - st->started_ms;
    size_t i;
    int o;

    if (st->exit_status == 0 && st->now_ms > last_success_ms)
        last_success_ms = st->now_ms;
    if (dur < 0)
        dur = 0;

    head(f, "authbatch_companies", "gauge",
         "Companies in the database by status.");
    for (i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        fprintf(f, "authbatch_companies{status=\"%s\"} %" PRId64 "\n",
                statuses[i].name, statuses[i].v);

    head(f, "authbatch_run_requests_total", "counter",
         "Requests answered in this run, by outcome class.");
    for (o = 0; o < AB_OUT__COUNT; o++)
        fprintf(f, "authbatch_run_requests_total{outcome=\"%s\"} %" PRId64 "\n",
                ab_outcome_name((enum ab_outcome)o), st->by_outcome[o]);

    head(f, "authbatch_run_companies_finished_total", "counter",
         "Companies finished in this run, by final state.");
    fprintf(f,
            "authbatch_run_companies_finished_total{result=\"done\"} %" PRId64
            "\n"
            "authbatch_run_companies_finished_total{result=\"already_authed\"}"
            " %" PRId64 "\n"
            "authbatch_run_companies_finished_total{result=\"failed\"} %" PRId64
            "\n",
            st->done, st->already_authed, st->failed);

    head(f, "authbatch_run_retries_total", "counter",
         "Attempts in this run that were not a company's first.");
    sample_i(f, "authbatch_run_retries_total", st->retries);
    head(f, "authbatch_run_throttles_total", "counter",
         "Times this run paused because the vendor throttled it.");
    sample_i(f, "authbatch_run_throttles_total", st->throttles);

    head(f, "authbatch_run_transport_errors_total", "counter",
         "Attempts in this run that got no HTTP answer.");
    sample_i(f, "authbatch_run_transport_errors_total", st->transport_errors);

    head(f, "authbatch_run_target_companies", "gauge",
         "Companies this run set out to finish (0 if unknown).");
    sample_i(f, "authbatch_run_target_companies", st->total);
    head(f, "authbatch_run_in_flight_requests", "gauge",
         "Requests on the wire now.");
    sample_i(f, "authbatch_run_in_flight_requests", st->in_flight);
    head(f, "authbatch_run_retry_waiting_companies", "gauge",
         "Companies waiting for a retry now.");
    sample_i(f, "authbatch_run_retry_waiting_companies", st->waiting);
    head(f, "authbatch_run_rate_limit_requests_per_second", "gauge",
         "The rate limiter's current rate (0 = unlimited).");
    sample_d(f, "authbatch_run_rate_limit_requests_per_second", st->rate_limit);
    head(f, "authbatch_run_rate_limit_estimate_requests_per_second", "gauge",
         "The server's rate limit as the limiter estimates it from "
         "throttled answers (0 = none seen).");
    sample_d(f, "authbatch_run_rate_limit_estimate_requests_per_second",
             st->rate_estimate);
    head(f, "authbatch_run_rate_requests_per_second", "gauge",
         "Answers per second over the last few seconds.");
    sample_d(f, "authbatch_run_rate_requests_per_second", st->rate_now);

    head(f, "authbatch_run_start_timestamp_seconds", "gauge",
         "When this run started, Unix seconds.");
    sample_d(f, "authbatch_run_start_timestamp_seconds",
             (double)st->started_ms / 1000.0);
    head(f, "authbatch_run_duration_seconds", "gauge",
         "How long this run has been running, or ran.");
    sample_d(f, "authbatch_run_duration_seconds", (double)dur / 1000.0);
    head(f, "authbatch_run_running", "gauge",
         "1 while the run is going on, 0 once it has ended.");
    sample_i(f, "authbatch_run_running", running);
    head(f, "authbatch_run_exit_status", "gauge",
         "Exit status of the run (sysexits; -1 while running).");
    sample_i(f, "authbatch_run_exit_status", running ? -1 : st->exit_status);
    head(f, "authbatch_last_success_timestamp_seconds", "gauge",
         "When a run last exited 0, Unix seconds (0 = never).");
    sample_d(f, "authbatch_last_success_timestamp_seconds",
             (double)last_success_ms / 1000.0);
    if (funnel) {
        print_polls(f, st);
        ab_funnel_print_metrics(f, funnel);
    }
}

int ab_metrics_write(const char *path, const struct ab_run_stats *st,
                     const struct ab_counts *counts, int64_t last_success_ms,
                     const struct ab_funnel *funnel, struct ab_err *err)
{
    struct ab_atomicfile *af;
    int rc;

    if ((rc = ab_atomicfile_open(path, &af, err)) != 0)
        return rc;
    ab_metrics_print(ab_atomicfile_stream(af), st, counts, last_success_ms,
                     funnel);
    return ab_atomicfile_commit(af, err);
}
