/* ping.h - healthchecks.io-style pings for `run --ping-url URL`.
 *
 * ab_ping(url, "/start") when a run starts, ab_ping(url, "") on success and
 * ab_ping(url, "/<exit status>") otherwise (healthchecks treats "/0" as
 * success and any other number as a failure). One blocking HTTP GET with a
 * 10 s timeout, TLS verified against the system's CAs; a trailing '/' on
 * base_url is ignored. A failed ping is logged as a warning naming only the
 * host (the path of a ping URL is a secret-ish check id) and never changes
 * the run's outcome.
 */
#ifndef AB_PING_H
#define AB_PING_H

void ab_ping(const char *base_url, const char *suffix);

/* The same, returning 0 when the server answered 2xx, AB_EIO otherwise;
 * for tests. */
int ab_ping_send(const char *base_url, const char *suffix);

#endif
