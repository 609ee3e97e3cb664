/* engine.h - HTTP POSTs on a libuv loop through curl's multi_socket API.
 *
 * The only file that sees both libuv and curl (the docs/examples/multi-uv.c
 * pattern, with the hygiene of STYLE.md): one uv_timer for curl's timeout, a
 * uv_poll per socket curl watches, curl_multi_info_read() drained after every
 * curl_multi_socket_action() (timer path included), poll errors passed on as
 * CURL_CSELECT_ERR, a poll handle reused rather than doubled when curl hands
 * over an fd whose old handle is still live, and a watchdog that nudges curl
 * every second while transfers run (libcurl 7.88 predates the 8.11.1 timer
 * fix). Connections are kept alive and reused; HTTP/2 is used when a TLS
 * server offers it. TLS verification is always on.
 *
 * The engine does not limit concurrency: its caller decides how many
 * requests it adds (that is the concurrency cap). Completion callbacks run on
 * the loop thread, outside any curl callback, so they may post again.
 */
#ifndef AB_ENGINE_H
#define AB_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "err.h"

struct ab_engine;

struct ab_engine_opts {
    const char *cacert; /* PEM bundle for a private CA, or NULL */
    long timeout_ms;    /* whole attempt */
    long connect_timeout_ms;
    int max_connections; /* sockets to one host, and the idle pool */
    const char *user_agent;
};

/* What came back. Borrowed: valid only during the callback. */
struct ab_http_result {
    const char *transport_error; /* NULL when an HTTP answer arrived */
    long status;
    const char *body; /* NUL-terminated */
    size_t body_len;
    long retry_after_s; /* Retry-After in seconds, 0 if none */
    int64_t started_ms; /* Unix ms when the request was added */
    int64_t duration_ms;
};

typedef void (*ab_engine_cb)(void *ctx, const struct ab_http_result *r);

int ab_engine_new(uv_loop_t *loop, const struct ab_engine_opts *o,
                  struct ab_engine **out, struct ab_err *err);

/* Starts a POST of body (steals it: freed by the engine) with the given
 * header lines ("Name: value", copied). cb(ctx, result) runs exactly once,
 * later, on the loop. */
int ab_engine_post(struct ab_engine *e, const char *url,
                   const char *const *headers, int nheaders, char *body,
                   size_t body_len, ab_engine_cb cb, void *ctx,
                   struct ab_err *err);

/* Requests on the wire now. */
int ab_engine_in_flight(const struct ab_engine *e);

/* Aborts every request; each callback runs with transport_error
 * "cancelled" before this returns. */
void ab_engine_cancel_all(struct ab_engine *e);

/* Non-zero once curl's multi handle failed; no request can be trusted. */
int ab_engine_broken(const struct ab_engine *e);

/* Cancels what is left, closes the uv handles and frees the engine once
 * they are closed (run the loop until then). NULL is a no-op. */
void ab_engine_free(struct ab_engine *e);

#endif
