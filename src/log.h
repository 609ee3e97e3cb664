/* log.h - diagnostics on stderr.
 *
 * Every line is "authbatch: <level>: <text>". Verbosity: -1 quiet (errors
 * only), 0 normal (errors, warnings, notes), 1 verbose (debug too). A progress
 * display registers a hook that clears its line before a message is printed
 * and redraws it afterwards, so messages never garble the bar.
 * Nothing logged may contain a secret: callers pass redacted text.
 */
#ifndef AB_LOG_H
#define AB_LOG_H

void ab_log_set_verbosity(int verbosity);
int ab_log_verbosity(void);

/* before(ctx) runs before each message, after(ctx) after it; NULL clears. */
void ab_log_set_hook(void (*before)(void *), void (*after)(void *), void *ctx);

void ab_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ab_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ab_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ab_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
