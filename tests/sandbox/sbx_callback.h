/*
 * sbx_callback -- the vendor's callback sender: POSTs each company's
 * authentication events to the callbackUrl its ticket request carried, in
 * order, with the vendor's retry pattern (reference/vendor-funnel.md §1).
 *
 * One sender thread owns a libcurl multi handle and every transfer. Other
 * threads only queue deliveries (sbx_callback_add), cancel a company's
 * future ones (sbx_callback_cancel) and read the log and counters; those
 * calls take one mutex and never wait for the network.
 *
 * Per company, deliveries go out one at a time in the order they were
 * queued (the vendor's order: in progress, then passed or failed); a
 * delivery is not started before its due time. An attempt counts as
 * received only for HTTP 200 with a JSON object body whose "code" is the
 * integer 0. Otherwise: a second attempt at once, a third one (vendor)
 * minute later, a fourth at once after that; after four the delivery is
 * given up and the company's next one goes. Only loopback targets are
 * contacted (http or https to 127.0.0.1, localhost or [::1]); a delivery to
 * anything else is logged once as refused and dropped.
 *
 * Clock: due times and the log use sbx_clock_now_ms() (Unix ms, with the
 * sandbox's offset).
 */
#ifndef SBX_CALLBACK_H
#define SBX_CALLBACK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SBX_CALLBACK_ATTEMPTS 4
#define SBX_CALLBACK_MAX_ANSWER (64 * 1024)

struct sbx_callback_opts {
    int64_t minute_ms;  /* the pause before the third attempt, real ms */
    int64_t timeout_ms; /* per attempt */
    int json_body;      /* send a JSON object instead of a form */
    int extra_field;    /* add a field the receiver does not know */
};

/* One event for one company; all strings borrowed (copied by add). */
struct sbx_callback_msg {
    const char *company;    /* for the log */
    const char *request_id; /* requestId */
    int status;             /* 0 in progress, 1 passed, 2 failed */
    int action_event;
    const char *auth_info; /* authInfo: a JSON object, sent as a string */
};

struct sbx_callbacks;

/* New sender (not started), or NULL on OOM. */
struct sbx_callbacks *sbx_callback_new(const struct sbx_callback_opts *opts);

/* Start the sender thread. Returns 0 or -1 (no thread, nothing started). */
int sbx_callback_start(struct sbx_callbacks *cb);

/* Stop the thread: transfers in flight are aborted, queued deliveries are
 * dropped (counted "dropped"); the log stays readable until _free. */
void sbx_callback_stop(struct sbx_callbacks *cb);

/* Free everything (stops first if needed). NULL is a no-op. */
void sbx_callback_free(struct sbx_callbacks *cb);

/*
 * Queue msg for company (a small integer key: deliveries of one key go out
 * in order) to url, due at due_ms. Returns 0, or -1 on OOM (nothing
 * queued).
 */
int sbx_callback_add(struct sbx_callbacks *cb, size_t company, int64_t due_ms,
                     const char *url, const struct sbx_callback_msg *msg);

/* Drop company's deliveries due after now_ms that have not started (a new
 * ticket restarted the applicant's story). Returns how many. */
size_t sbx_callback_cancel(struct sbx_callbacks *cb, size_t company,
                           int64_t now_ms);

/* Every attempt so far: {"attempts":[{...}]} (new reference). */
json_t *sbx_callback_log_json(struct sbx_callbacks *cb);

/* Counters for /__stats (new reference). */
json_t *sbx_callback_stats_json(struct sbx_callbacks *cb);

/* company's deliveries: {"accepted":[statuses],"given_up":[..],
 * "refused":n,"pending":n} (new reference). */
json_t *sbx_callback_company_json(struct sbx_callbacks *cb, size_t company);

/* ---- pure parts, exposed for tests ---------------------------------- */

/* 1 when url is http(s) to a loopback host the sandbox may contact. */
int sbx_callback_url_allowed(const char *url);

/* 1 when an answer means "received": HTTP 200 and a JSON object body
 * whose "code" is the integer 0 (other members allowed). */
int sbx_callback_accepted(long http_status, const char *body, size_t len);

/*
 * The request body for msg: form fields status, requestId, authInfo,
 * actionEvent (values percent-encoded by RFC 3986), or with json a JSON
 * object with the same members (status and actionEvent integers, authInfo
 * a string); extra adds tenantType=COMPANY. Returns a new string or NULL
 * (OOM); *ctype is set to the matching static content type.
 */
char *sbx_callback_body(const struct sbx_callback_msg *msg, int json, int extra,
                        const char **ctype);

/* Pause before attempt n+1 after attempt n (1-3) failed, in real ms, when
 * the vendor's minute is minute_ms. */
int64_t sbx_callback_retry_delay(int attempt, int64_t minute_ms);

#endif
