/* callbacks.h - the receiver of the vendor's authentication callbacks
 * (`authbatch callbacks`, SPEC §6), on libmicrohttpd.
 *
 * What it accepts: `POST <any prefix>/<id>/<token>`, where the last two
 * segments of the path are companies.id and companies.callback_token, with
 * the fields of cbparse.h in the body (or the query). What it answers:
 *
 *   200 {"code":0}  stored: the event and its effect are committed (or the
 *                   same callback was stored before); a callback that would
 *                   move the company backwards is stored as an event only
 *   400  malformed body (cbparse.h)      413  body over 64 KiB
 *   404  not a callback path, a traversal, an unknown id, a company without
 *        a token or with another one (all alike)
 *   405  not POST                        415  not a form or JSON in UTF-8
 *   422  a status value that is not 0, 1 or 2
 *   503  the database could not store it (busy beyond the busy timeout,
 *        full, broken): the vendor will retry
 * Every answer other than 200 carries {"code":<non-zero>,"message":...},
 * which the vendor counts as a failed delivery, and changes nothing.
 *
 * How: libmicrohttpd's polling thread (epoll) reads requests; a complete,
 * well-formed one is parked (its connection suspended) on a queue for the
 * writer thread, which owns the store: it takes everything queued, checks
 * each token, records each observation (store_auth.h) in one transaction
 * and commits with synchronous = FULL, then resumes the connections with
 * their answers. So an answer of 200 is never sent before its commit, a
 * slow or busy database never stalls reading, and a burst of callbacks
 * shares one fsync. Idle and slow connections cost a descriptor each:
 * every connection has --timeout seconds to deliver each request
 * (measured from its opening or the end of its previous request), after
 * which the caller's ab_callbacks_tick() cuts it (shutdown(2)), so a
 * client that trickles a byte at a time is cut too; libmicrohttpd's own
 * inactivity timeout (2 s later) only holds if the ticks stop. A parked
 * connection is never cut. At most max_connections are open; more wait in
 * the kernel's backlog. Request line and headers fit in 16 KiB.
 *
 * Logging: the first refusal of each kind is logged with what is safe to
 * show (the company id, the parser's reason, the Content-Type with control
 * characters replaced), later ones are counted and summarised once a
 * minute; the path's token is never logged. Each stored callback is an
 * info line; repeats are debug lines.
 *
 * Threads: start() runs two (libmicrohttpd's and the writer); every other
 * function is for the one thread that called start().
 */
#ifndef AB_CALLBACKS_H
#define AB_CALLBACKS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "store.h"

/* What happened to a request, for the metrics and logs. */
enum ab_cbr {
    AB_CBR_APPLIED,        /* 200: stored, auth_status changed */
    AB_CBR_RECORDED,       /* 200: stored as an event, status unchanged */
    AB_CBR_DUPLICATE,      /* 200: stored before */
    AB_CBR_METHOD,         /* 405 */
    AB_CBR_PATH,           /* 404: not .../<id>/<token>, or a traversal */
    AB_CBR_TOKEN,          /* 404: unknown id, no token, wrong token */
    AB_CBR_TOO_LARGE,      /* 413 */
    AB_CBR_MEDIA_TYPE,     /* 415 */
    AB_CBR_MALFORMED,      /* 400 */
    AB_CBR_UNKNOWN_STATUS, /* 422 */
    AB_CBR_UNAVAILABLE,    /* 503 */
    AB_CBR__COUNT
};

/* "applied", "recorded", "duplicate", "method", ... */
const char *ab_cbr_name(enum ab_cbr r);

struct ab_callbacks_opts {
    const char *host;       /* address or name to bind */
    unsigned port;          /* 0: any free port (see ab_callbacks_url()) */
    int max_connections;    /* open connections at most */
    int timeout_s;          /* seconds per request, and per idle connection */
    struct ab_store *store; /* borrowed; only the writer thread touches it
                               between start and free */
};

struct ab_callbacks_stats {
    int64_t requests[AB_CBR__COUNT];
    int64_t connections;     /* open now */
    int64_t connections_cut; /* cut by the timeout, in all */
    int64_t commits;         /* transactions committed */
    int64_t started_ms;      /* Unix ms */
    int64_t last_stored_ms;  /* last 200, Unix ms; 0 = never */
    int max_connections;
    int running; /* 1 until ab_callbacks_stop() */
};

struct ab_callbacks;

/* Binds and starts the threads. On success *out is new (ab_callbacks_free)
 * and the socket accepts connections. AB_ECONFIG: the address cannot be
 * bound or resolved (err says why); AB_EIO: a thread or the server could not
 * start. */
int ab_callbacks_start(const struct ab_callbacks_opts *o,
                       struct ab_callbacks **out, struct ab_err *err);

/* "http://127.0.0.1:8080", with the port actually bound. Borrowed. */
const char *ab_callbacks_url(const struct ab_callbacks *cb);

/* Housekeeping, every few hundred ms: cuts connections past their time,
 * logs the refusal summary when a minute has passed. */
void ab_callbacks_tick(struct ab_callbacks *cb);

/* Stops accepting connections; answers from now on close theirs. */
void ab_callbacks_quiesce(struct ab_callbacks *cb);

/* Requests between their headers and their completion (answer sent or
 * connection gone), parked ones included. */
int ab_callbacks_active(struct ab_callbacks *cb);

void ab_callbacks_stats(struct ab_callbacks *cb,
                        struct ab_callbacks_stats *out);

/* Lets the writer finish what is parked (each gets its answer), then stops
 * the server and the threads and closes every connection. The stats stay
 * readable; the store stays open (the caller's). Idempotent. */
void ab_callbacks_stop(struct ab_callbacks *cb);

/* Stops (if not yet) and frees; NULL is a no-op. */
void ab_callbacks_free(struct ab_callbacks *cb);

/* Prometheus text format (README: the receiver's metrics):
 *   authbatch_callbacks_requests_total{result}   counter (ab_cbr_name)
 *   authbatch_callbacks_connections              gauge: open now
 *   authbatch_callbacks_connection_limit         gauge
 *   authbatch_callbacks_connections_cut_total    counter: --timeout
 *   authbatch_callbacks_commits_total            counter
 *   authbatch_callbacks_start_timestamp_seconds  gauge
 *   authbatch_callbacks_last_stored_timestamp_seconds  gauge, 0 = never
 *   authbatch_callbacks_running                  gauge: 1, then 0
 * Counters start at 0 with each process. */
void ab_callbacks_metrics_print(FILE *f, const struct ab_callbacks_stats *st);
/* The same, replacing path atomically (atomicfile.h). */
int ab_callbacks_metrics_write(const char *path,
                               const struct ab_callbacks_stats *st,
                               struct ab_err *err);

/* Pure helpers, exported for tests. */

/* The company id and token in a raw request path (no query): the last two
 * segments, the id a decimal without leading zeros in 1..2^63-1, the token
 * 22 to 128 of [A-Za-z0-9_-]. The path must start with '/', hold at most
 * 1024 bytes of unreserved characters, '/' and %XX escapes (none of them
 * '/', '\', '.' or NUL), no empty, "." or ".." segment. *token points into
 * path. Returns 0; -1 when it is not a callback path; -2 for a traversal
 * (a dot segment, an escaped dot, slash or backslash). */
int ab_callbacks_parse_path(const char *path, size_t n, int64_t *id,
                            const char **token, size_t *token_len);

/* Splits "HOST:PORT" ("[::1]:8080" for IPv6) into host (without brackets)
 * and port. Returns 0, or -1 when malformed. */
int ab_callbacks_parse_listen(const char *s, char *host, size_t host_size,
                              unsigned *port);

#endif
