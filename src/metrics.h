/* metrics.h - the run's figures as a Prometheus text-format file, for
 * node_exporter's textfile collector (or anything that scrapes the format).
 *
 * The file is replaced atomically (temporary file in the same directory,
 * fsync, rename), so a scrape sees the previous or the new version, never a
 * mix. No sample carries a timestamp: stale timestamps make Prometheus drop
 * the samples; alert on node_textfile_mtime_seconds instead.
 *
 * Metrics (all gauges unless marked counter; counters restart with each run):
 *   authbatch_companies{status}                      companies in the database
 *   authbatch_run_requests_total{outcome}            counter: requests by class
 *   authbatch_run_companies_finished_total{result}   counter: done,
 *                                                    already_authed, failed
 *   authbatch_run_retries_total                      counter
 *   authbatch_run_throttles_total                    counter
 *   authbatch_run_transport_errors_total             counter: no HTTP answer
 *   authbatch_run_target_companies                   due at start (0 unknown)
 *   authbatch_run_in_flight_requests
 *   authbatch_run_retry_waiting_companies
 *   authbatch_run_rate_limit_requests_per_second     0 = unlimited
 *   authbatch_run_rate_requests_per_second           current answer rate
 *   authbatch_run_start_timestamp_seconds
 *   authbatch_run_duration_seconds
 *   authbatch_run_running                            1 while running, then 0
 *   authbatch_run_exit_status                        -1 while running
 *   authbatch_last_success_timestamp_seconds         0 = never
 * and, when a funnel is given, the funnel's (report_funnel.h):
 *   authbatch_funnel_companies{stage}                imported, ticket_issued,
 *                                                    in_progress,
 *                                                    authenticated, rejected,
 *                                                    expired
 *   authbatch_auth_status_companies{auth_status}     unknown, not_started, ...
 *   authbatch_ticket_to_authenticated_p50_seconds, _p90_seconds
 *   authbatch_run_polls_total{outcome}               counter: status polls
 *   authbatch_run_companies_polled_total{result}     counter: answered,
 *                                                    given_up
 */
#ifndef AB_METRICS_H
#define AB_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "runstats.h"
#include "store.h"
#include "store_funnel.h"

/* Writes the metrics to path atomically. st is the run's live figures
 * (st->exit_status -1 while running), counts the database's per-status
 * counts, last_success_ms the end of the last run that exited 0 (0 = never;
 * ab_store_last_success_ms()). When st->exit_status is 0 the run itself
 * counts as the last success, at st->now_ms. funnel (may be NULL) adds
 * the funnel's metrics and the run's polls. */
int ab_metrics_write(const char *path, const struct ab_run_stats *st,
                     const struct ab_counts *counts, int64_t last_success_ms,
                     const struct ab_funnel *funnel, struct ab_err *err);

/* The same text to a stream (what ab_metrics_write puts in the file). */
void ab_metrics_print(FILE *f, const struct ab_run_stats *st,
                      const struct ab_counts *counts, int64_t last_success_ms,
                      const struct ab_funnel *funnel);

#endif
