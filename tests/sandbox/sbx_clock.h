/*
 * sbx_clock -- the sandbox's clock: the real wall clock shifted by a fixed
 * offset (--clock-offset-ms), so tests can play a vendor whose clock is ahead
 * of (or behind) the client's.
 *
 * The offset applies to everything the vendor would read from its own clock:
 * the timestamp-window check and the Date header of every answer. Internal
 * timers (delays, nonce expiry) run on CLOCK_MONOTONIC and are not shifted.
 *
 * sbx_clock_set_offset() is called once, before any other thread starts; the
 * other functions are then thread-safe.
 */
#ifndef SBX_CLOCK_H
#define SBX_CLOCK_H

#include <stdint.h>

/* "Sun, 06 Nov 1994 08:49:37 GMT": 29 characters. */
#define SBX_HTTP_DATE_LEN 29

/* Shift the clock by offset_ms (may be negative). Not thread-safe. */
void sbx_clock_set_offset(int64_t offset_ms);

/* The real wall clock (CLOCK_REALTIME) in Unix ms, plus the offset. */
int64_t sbx_clock_now_ms(void);

/*
 * Format unix_ms (rounded down to the second) as an RFC 7231 IMF-fixdate
 * into out (SBX_HTTP_DATE_LEN + 1 bytes), independent of the locale.
 * Returns 0, or -1 when the time cannot be represented (out is then "").
 */
int sbx_clock_http_date(int64_t unix_ms, char out[SBX_HTTP_DATE_LEN + 1]);

/*
 * The Date header value for now (sbx_clock_now_ms), cached per thread for
 * the current second. Same contract as sbx_clock_http_date.
 */
int sbx_clock_http_date_now(char out[SBX_HTTP_DATE_LEN + 1]);

#endif
