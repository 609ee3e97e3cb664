/* engine.h - HTTP requests for the dispatcher: started on the caller's
 * libuv loop, answered on it, carried out on one or more network loops.
 *
 * A network loop (netloop.h) is libuv + curl multi on one thread. With
 * `threads` 0 the engine runs one on the caller's loop (no thread, no
 * copy); with N >= 1 it runs N network loops on N threads of their own,
 * hands each new request to the least busy one, and delivers each answer
 * back on the caller's loop (copied: the answer is the caller's for the
 * callback, whatever thread produced it). The caller's loop then does only
 * its own work (its database, its policy) while the threads do curl's and
 * the kernel's.
 *
 * Every copy of a request that leaves the process is built fresh: before
 * each one (the first, and every re-send libcurl makes on its own when a
 * reused connection turns out dead after the request was written) the
 * engine calls the request's presend callback for its header lines, so a
 * signature, timestamp and nonce go on the wire once (SPEC §1). With
 * threads, presend runs on a network thread: it may only read what the
 * caller does not change while the request is out (and sign it).
 *
 * The engine does not limit concurrency: its caller decides how many
 * requests it adds (that is the concurrency cap, whatever the number of
 * threads). Done callbacks run on the caller's loop and must only record
 * what happened: no start, cancel or free from inside one.
 */
#ifndef AB_ENGINE_H
#define AB_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "err.h"
#include "headers.h"

#define AB_ENGINE_MAX_RETRY_AFTER 86400 /* Retry-After is clamped to this */
#define AB_ENGINE_MAX_THREADS 16

struct ab_engine;

struct ab_engine_opts {
    const char *cacert; /* PEM bundle for a private CA, or NULL */
    long timeout_ms;    /* whole attempt, >= 1 */
    long connect_timeout_ms;
    int max_connections; /* sockets to one host, and the idle pool, per
                            network loop */
    const char *user_agent;
    int threads; /* network threads: 0 = the caller's loop does it all */
};

/* Fills h for copy number `copy` (0 for the first) of the request that
 * carries ctx. Returns 0, or -1 to abort the request (it then completes
 * with a transport error). Runs inside curl's processing, maybe on a
 * network thread (above): it must not call the engine. */
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
    ab_engine_cb done; /* runs exactly once, later, on the caller's loop */
    void *ctx;         /* for presend and done */
};

/* A new engine answering on loop. NULL *out and an AB_E* code on failure
 * (threads that cannot start included); nothing is left on loop then. */
int ab_engine_new(uv_loop_t *loop, const struct ab_engine_opts *o,
                  struct ab_engine **out, struct ab_err *err);

/* Starts a request. On failure (the engine is broken, out of memory) the
 * body is freed, done will not run, and an AB_E* code is returned. */
int ab_engine_start(struct ab_engine *e, const struct ab_engine_request *rq,
                    struct ab_err *err);

/* Requests started whose done callback has not run yet. */
int ab_engine_in_flight(const struct ab_engine *e);

/* Aborts every request; each done callback runs with transport_error
 * "cancelled" (before this returns without threads, soon after with). */
void ab_engine_cancel_all(struct ab_engine *e);

/* Non-zero once curl's multi handle failed on a network loop (its requests
 * were completed with a transport error then); *why (may be NULL) gets the
 * reason. */
int ab_engine_broken(const struct ab_engine *e, const char **why);

/* Cancels what is left, stops the network loops and their threads, closes
 * the uv handles and frees the engine once they are closed (run the
 * caller's loop until then). NULL is a no-op. Not from a done callback. */
void ab_engine_free(struct ab_engine *e);

#endif
