/* progress.h - the live progress display of `run`.
 *
 * Two renderings of the same figures (struct ab_run_stats):
 *   bar  one line on a terminal, redrawn in place ("\r" + clear to end of
 *        line) at most 4 times a second: finished/total, failed, waiting to
 *        retry, in flight, current rate, ETA. While a bar is active it hooks
 *        the logger (log.h) so every message clears the line first and the
 *        bar is redrawn after it; nothing garbles.
 *   log  for cron and pipes: one "authbatch: progress: ..." line every 10 s
 *        of run time (by st->now_ms) and a last one at the end.
 * Quiet mode (-q, ab_log_verbosity() < 0) and "none" display nothing. The
 * run's one-line summary is not printed here.
 *
 * The ETA divides the companies still to finish by the rate at which
 * companies finished over the last 30 s (the run's average before that).
 */
#ifndef AB_PROGRESS_H
#define AB_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

#include "runstats.h"

enum ab_progress_mode {
    AB_PROGRESS_AUTO, /* bar if the output is a terminal, else log */
    AB_PROGRESS_BAR,
    AB_PROGRESS_LOG,
    AB_PROGRESS_NONE,
};

struct ab_progress;

/* "auto", "bar", "log" or "none": 0, or AB_EINVAL for anything else. */
int ab_progress_parse_mode(const char *s, enum ab_progress_mode *out);

/* A new display on stderr; NULL only when out of memory. The caller frees it
 * with ab_progress_free(). */
struct ab_progress *ab_progress_new(enum ab_progress_mode mode);

/* The same on any stream (borrowed; it must outlive the display). AUTO
 * resolves by isatty(fileno(out)) and TERM != "dumb". */
struct ab_progress *ab_progress_new_stream(enum ab_progress_mode mode,
                                           FILE *out);

/* The mode after AUTO and quiet mode were resolved: BAR, LOG or NONE. */
enum ab_progress_mode ab_progress_mode(const struct ab_progress *p);

/* Feeds new figures (the dispatcher calls this about 4 times a second);
 * the display decides whether to draw. */
void ab_progress_update(struct ab_progress *p, const struct ab_run_stats *st);

/* Ends the display: the bar clears its line, the log prints a last line.
 * Later updates are ignored. */
void ab_progress_finish(struct ab_progress *p, const struct ab_run_stats *st);

/* Unhooks the logger and frees; NULL is a no-op. */
void ab_progress_free(struct ab_progress *p);

/* The texts, for tests and for anyone who wants them. eta_s < 0 means
 * unknown. The bar text fits in `columns` - 1 characters; buf is always
 * NUL-terminated. */
void ab_progress_format_bar(char *buf, size_t n, const struct ab_run_stats *st,
                            double eta_s, int columns);
void ab_progress_format_log(char *buf, size_t n, const struct ab_run_stats *st,
                            double eta_s);

/* "45s", "14m03s", "2h05m", "3d04h"; "?" when secs < 0. */
void ab_progress_format_duration(char *buf, size_t n, double secs);

#endif
