/* netloop.h - one network loop: HTTP requests on a libuv loop through
 * curl's multi_socket API. engine.h's engine runs one or more of these.
 *
 * The only file that sees both libuv and curl (the docs/examples/multi-uv.c
 * pattern, with the hygiene of STYLE.md): one uv_timer for curl's timeout, a
 * uv_poll per socket curl watches, curl_multi_info_read() drained after every
 * curl_multi_socket_action() (timer path included), poll errors passed on
 * to curl with CURL_CSELECT_ERR, a poll handle reused rather than doubled
 * when curl hands over an fd whose old handle is still live, and a watchdog
 * that nudges curl every second while transfers run (libcurl 7.88 predates
 * the 8.11.1 timer fix). Connections are kept alive and reused; HTTP/2 is
 * used when a TLS server offers it. TLS verification is always on.
 * Redirects are never followed: a 3xx is an answer like any other (its
 * target in `location`). Requests are pooled with their easy handles
 * configured once.
 *
 * Every copy of a request is built fresh through its presend callback
 * (engine.h). Done callbacks run on this loop's thread, inside curl's
 * processing: they must only record what happened and must not call back
 * into the network loop. A failure that concerns one transfer (a socket
 * that cannot be watched) completes that transfer with a transport error;
 * a failure of curl's multi handle completes every request with one and
 * leaves the loop broken. Used from one thread (the loop's).
 */
#ifndef AB_NETLOOP_H
#define AB_NETLOOP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "engine.h"

struct ab_netloop;

int ab_netloop_new(uv_loop_t *loop, const struct ab_engine_opts *o,
                   struct ab_netloop **out, struct ab_err *err);

/* Starts a request. On failure (the engine is broken, out of memory) the
 * body is freed, done will not run, and an AB_E* code is returned. */
int ab_netloop_start(struct ab_netloop *e, const struct ab_engine_request *rq,
                     struct ab_err *err);

/* Requests on the wire now. */
int ab_netloop_in_flight(const struct ab_netloop *e);

/* Aborts every request; each done callback runs with transport_error
 * "cancelled" before this returns. */
void ab_netloop_cancel_all(struct ab_netloop *e);

/* Non-zero once curl's multi handle failed (every request was completed
 * with a transport error then); *why (may be NULL) gets the reason. */
int ab_netloop_broken(const struct ab_netloop *e, const char **why);

/* Cancels what is left, closes the uv handles and frees the engine once
 * they are closed (run the loop until then). NULL is a no-op. Not from a
 * completion callback. */
void ab_netloop_free(struct ab_netloop *e);

#endif
