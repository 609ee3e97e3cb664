/* engine.h - HTTP requests on a libuv loop through curl's multi_socket API.
 *
 * The only file that sees both libuv and curl (the docs/examples/multi-uv.c
 * pattern, with the hygiene of STYLE.md): one uv_timer for curl's timeout, a
 * uv_poll per socket curl watches, curl_multi_info_read() drained after every
 * curl_multi_socket_action() (timer path included), poll errors passed on as
 * CURL_CSELECT_ERR, a poll handle reused rather than doubled when curl hands
 * over an fd whose old handle is still live, and a watchdog that nudges curl
 * every second while transfers run (libcurl 7.88 predates the 8.11.1 timer
 * fix). Connections are kept alive and reused; HTTP/2 is used when a TLS
 * server offers it. TLS verification is always on. Redirects are never
 * followed: a 3xx is an answer like any other (its target in `location`).
 *
 * Every copy of a request that leaves the process is built fresh: before
 * each one (the first, and every re-send libcurl makes on its own when a
 * reused connection turns out dead after the request was written) the
 * engine calls the request's presend callback for its header lines, so a
 * signature, timestamp and nonce go on the wire once (SPEC §1).
 *
 * The engine does not limit concurrency: its caller decides how many
 * requests it adds (that is the concurrency cap). Completion callbacks run
 * on the loop thread, inside the engine's curl processing: they must only
 * record what happened and must not call back into the engine (no post, no
 * cancel, no free). A failure that concerns one transfer (a socket that
 * cannot be watched) completes that transfer with a transport error; a
 * failure of curl's multi handle completes every request with one and
 * leaves the engine broken.
 */
#ifndef AB_ENGINE_H
#define AB_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "err.h"
#include "headers.h"

#define AB_ENGINE_MAX_RETRY_AFTER 86400 /* Retry-After is clamped to this */

struct ab_engine;

struct ab_engine_opts {
    const char *cacert; /* PEM bundle for a private CA, or NULL */
    long timeout_ms;    /* whole attempt, >= 1 */
    long connect_timeout_ms;
    int max_connections; /* sockets to one host, and the idle pool */
    const char *user_agent;
};

/* Fills h for copy number `copy` (0 for the first) of the request that
 * carries ctx. Returns 0, or -1 to abort the request (it then completes
 * with a transport error). Runs inside a curl callback: it must not call
 * the engine. */
typedef int (*ab_engine_presend_cb)(void *ctx, int copy, struct ab_headers *h);

/* What came back. Borrowed: valid only during the callback. */
struct ab_http_result {
    const char *transport_error; /* NULL when an HTTP answer arrived */
    long status;
    const char *body; /* NUL-terminated */
    size_t body_len;
    const char *content_type; /* of the answer, or NULL */
    const char *location;     /* a redirect's target, or NULL */
    long retry_after_s;       /* Retry-After in seconds, 0 if none */
    int64_t server_date_ms;   /* the answer's Date header (Unix ms), or 0 */
    int64_t started_ms;       /* Unix ms when the request was added */
    int64_t duration_ms;
    int copies; /* times the request went on the wire (re-sends + 1) */
};

typedef void (*ab_engine_cb)(void *ctx, const struct ab_http_result *r);

struct ab_engine_request {
    const char *method; /* "POST" or "GET" */
    const char *url;    /* copied */
    char *body;         /* POST: stolen (freed by the engine); GET: NULL */
    size_t body_len;
    ab_engine_presend_cb presend;
    ab_engine_cb done; /* runs exactly once, later, on the loop */
    void *ctx;         /* for presend and done */
};

int ab_engine_new(uv_loop_t *loop, const struct ab_engine_opts *o,
                  struct ab_engine **out, struct ab_err *err);

/* Starts a request. On failure (the engine is broken, out of memory) the
 * body is freed, done will not run, and an AB_E* code is returned. */
int ab_engine_start(struct ab_engine *e, const struct ab_engine_request *rq,
                    struct ab_err *err);

/* Requests on the wire now. */
int ab_engine_in_flight(const struct ab_engine *e);

/* Aborts every request; each done callback runs with transport_error
 * "cancelled" before this returns. */
void ab_engine_cancel_all(struct ab_engine *e);

/* Non-zero once curl's multi handle failed (every request was completed
 * with a transport error then); *why (may be NULL) gets the reason. */
int ab_engine_broken(const struct ab_engine *e, const char **why);

/* Cancels what is left, closes the uv handles and frees the engine once
 * they are closed (run the loop until then). NULL is a no-op. Not from a
 * completion callback. */
void ab_engine_free(struct ab_engine *e);

#endif
