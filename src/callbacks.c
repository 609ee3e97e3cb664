#include "callbacks.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "authstatus.h"
#include "cbparse.h"
#include "log.h"
#include "store_auth.h"

#define BATCH_MAX 256          /* callbacks per transaction at most */
#define SUMMARY_EVERY_MS 60000 /* refusal summary period */
#define MAX_URI 8192           /* request-target bytes kept */
#define MAX_PATH 1024          /* path bytes accepted */
#define TOKEN_MIN 22
#define TOKEN_MAX 128

/* One open connection, for the per-request deadline. */
struct conn {
    struct conn *prev, *next;
    int fd;
    int64_t since_ms; /* monotonic: opened, or its last request ended */
    int busy;         /* parked for the writer: never cut */
    int cut;          /* shutdown(2) done */
};

enum req_state {
    RS_NEW,    /* headers in, nothing decided */
    RS_BODY,   /* reading the body */
    RS_QUEUED, /* parked for the writer */
    RS_DONE,   /* the writer has answered: queue the response */
    RS_ANSWERED,
};

struct req {
    struct req *next; /* the writer's queue */
    struct MHD_Connection *mc;
    struct conn *conn;
    enum req_state state;
    char *uri; /* the raw request-target, or NULL when over MAX_URI */
    size_t path_len;
    const char *query; /* into uri, after '?', or NULL */
    size_t query_len;
    char *body;
    size_t len, cap;
    int overflow;
    int counted; /* in cb->active */
    int64_t id;
    const char *token; /* into uri */
    size_t token_len;
    struct ab_cb parsed;
    enum ab_auth status;
    int64_t observed_at;
    enum ab_cbr result;
    struct ab_auth_result ar;
};

struct ab_callbacks {
    struct MHD_Daemon *d;
    MHD_socket listen_fd;
    int quiesced;
    int stopped;
    struct ab_store *store;
    char url[160];
    int64_t timeout_ms;
    int max_connections;
    pthread_t writer;
    int writer_started;

    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cv;  /* the writer waits on it */
    struct req *q_head, *q_tail;
    int closing;  /* the writer takes no more */
    int draining; /* answers close their connections */
    struct conn *conns;
    int active;
    struct ab_callbacks_stats st;
    int logged[AB_CBR__COUNT];
    int64_t unsummarised[AB_CBR__COUNT];
    int64_t cut_unsummarised;
    int64_t last_summary_ms;
    char start_error[256]; /* the server's last message while starting */
    int starting;
};

static const char *const cbr_names[AB_CBR__COUNT] = {
    [AB_CBR_APPLIED] = "applied",
    [AB_CBR_RECORDED] = "recorded",
    [AB_CBR_DUPLICATE] = "duplicate",
    [AB_CBR_METHOD] = "method",
    [AB_CBR_PATH] = "path",
    [AB_CBR_TOKEN] = "token",
    [AB_CBR_TOO_LARGE] = "too_large",
    [AB_CBR_MEDIA_TYPE] = "media_type",
    [AB_CBR_MALFORMED] = "malformed",
    [AB_CBR_UNKNOWN_STATUS] = "unknown_status",
    [AB_CBR_UNAVAILABLE] = "unavailable",
};

static const struct {
    unsigned http;
    const char *body;
    const char *what; /* for the log */
} answers[AB_CBR__COUNT] = {
    [AB_CBR_APPLIED] = {200, "{\"code\":0}", "stored"},
    [AB_CBR_RECORDED] = {200, "{\"code\":0}", "stored"},
    [AB_CBR_DUPLICATE] = {200, "{\"code\":0}", "stored before"},
    [AB_CBR_METHOD] = {405, "{\"code\":405,\"message\":\"method not allowed\"}",
                       "not a POST"},
    [AB_CBR_PATH] = {404, "{\"code\":404,\"message\":\"not found\"}",
                     "not a callback path"},
    [AB_CBR_TOKEN] = {404, "{\"code\":404,\"message\":\"not found\"}",
                      "unknown company or wrong token"},
    [AB_CBR_TOO_LARGE] = {413,
                          "{\"code\":413,\"message\":\"request too large\"}",
                          "body over 64 KiB"},
    [AB_CBR_MEDIA_TYPE] = {415,
                           "{\"code\":415,\"message\":\"unsupported media "
                           "type\"}",
                           "unsupported media type"},
    [AB_CBR_MALFORMED] = {400, "{\"code\":400,\"message\":\"malformed\"}",
                          "malformed"},
    [AB_CBR_UNKNOWN_STATUS] = {422,
                               "{\"code\":422,\"message\":\"unknown "
                               "status\"}",
                               "unknown status"},
    [AB_CBR_UNAVAILABLE] = {503,
                            "{\"code\":503,\"message\":\"not stored, try "
                            "again\"}",
                            "not stored"},
};

const char *ab_cbr_name(enum ab_cbr r)
{
    return (int)r >= 0 && r < AB_CBR__COUNT ? cbr_names[r] : "?";
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Printable ASCII of s (at most max bytes): anything else becomes '?', and
 * runs of 20 or more token characters become "<redacted>", so neither a
 * terminal escape nor a callback token reaches the log. */
static void sanitize(const char *s, size_t max, char *out, size_t outn)
{
    size_t i, o = 0, run = 0, run_start = 0;

    for (i = 0; s && s[i] && i < max && o + 1 < outn; i++) {
        unsigned char c = (unsigned char)s[i];
        int tokch = isalnum(c) || c == '-' || c == '_';
        if (tokch) {
            if (run++ == 0)
                run_start = o;
        } else {
            run = 0;
        }
        if (run == 20) {
            o = run_start;
            if (o + 11 > outn)
                break;
            memcpy(out + o, "<redacted>", 10);
            o += 10;
            continue;
        }
        if (run > 20)
            continue;
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (o > 0 && out[o - 1] == '\n')
        o--;
    out[o < outn ? o : outn - 1] = '\0';
}

/* --- parsing the path and the listen address ---------------------------- */

static int unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

int ab_callbacks_parse_path(const char *path, size_t n, int64_t *id,
                            const char **token, size_t *token_len)
{
    size_t i, seg = 1, last = 0, prev = 0, nseg = 0;
    int64_t v = 0;

    if (n == 0 || n > MAX_PATH || path[0] != '/')
        return -1;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c == '%') {
            int hi, lo, b;
            if (n - i < 3 || !isxdigit((unsigned char)path[i + 1]) ||
                !isxdigit((unsigned char)path[i + 2]))
                return -1;
            hi = isdigit((unsigned char)path[i + 1])
                     ? path[i + 1] - '0'
                     : tolower((unsigned char)path[i + 1]) - 'a' + 10;
            lo = isdigit((unsigned char)path[i + 2])
                     ? path[i + 2] - '0'
                     : tolower((unsigned char)path[i + 2]) - 'a' + 10;
            b = hi << 4 | lo;
            if (b == '.' || b == '/' || b == '\\')
                return -2;
            if (b == 0)
                return -1;
            i += 2;
            continue;
        }
        if (c == '\\')
            return -2;
        if (c != '/' && !unreserved(c))
            return -1;
    }
    /* Segments: each between two '/' or the end; none empty, none a dot
     * segment. Remember where the last two start. */
    for (i = 1; i <= n; i++) {
        if (i < n && path[i] != '/')
            continue;
        if (i == seg)
            return -1; /* "//" or a trailing '/' */
        if ((i - seg == 1 && path[seg] == '.') ||
            (i - seg == 2 && path[seg] == '.' && path[seg + 1] == '.'))
            return -2;
        prev = last;
        last = seg;
        nseg++;
        seg = i + 1;
    }
    if (nseg < 2)
        return -1;
    /* The id: last - prev - 1 digits, no leading zero. */
    if (path[prev] == '0' || last - prev - 1 > 19)
        return -1;
    for (i = prev; i < last - 1; i++) {
        if (!isdigit((unsigned char)path[i]))
            return -1;
        if (v > (INT64_MAX - (path[i] - '0')) / 10)
            return -1;
        v = v * 10 + (path[i] - '0');
    }
    if (v <= 0)
        return -1;
    if (n - last < TOKEN_MIN || n - last > TOKEN_MAX)
        return -1;
    for (i = last; i < n; i++) {
        unsigned char c = (unsigned char)path[i];
        if (!isalnum(c) && c != '-' && c != '_')
            return -1;
    }
    *id = v;
    *token = path + last;
    *token_len = n - last;
    return 0;
}

int ab_callbacks_parse_listen(const char *s, char *host, size_t host_size,
                              unsigned *port)
{
    const char *colon, *h = s, *p;
    size_t hn;
    unsigned long v = 0;

    if (!s || !*s)
        return -1;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        h = s + 1;
        hn = (size_t)(close - h);
        p = close + 2;
    } else {
        colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon)
            return -1;
        hn = (size_t)(colon - s);
        p = colon + 1;
    }
    if (hn == 0 || hn >= host_size || !*p || strlen(p) > 5)
        return -1;
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535)
        return -1;
    memcpy(host, h, hn);
    host[hn] = '\0';
    *port = (unsigned)v;
    return 0;
}

/* --- refusals, logged once per kind ------------------------------------- */

static void client_addr(struct MHD_Connection *mc, char *buf, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    snprintf(buf, n, "?");
    if (!sa)
        return;
    getnameinfo(sa,
                sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                          : sizeof(struct sockaddr_in),
                buf, (socklen_t)n, NULL, 0, NI_NUMERICHOST);
}

/* Counts a request's result; for a refusal, logs it when it is the first
 * of its kind (detail is already safe to print). */
static void count(struct ab_callbacks *cb, struct MHD_Connection *mc,
                  enum ab_cbr r, const char *detail)
{
    int first = 0;

    pthread_mutex_lock(&cb->mu);
    cb->st.requests[r]++;
    if (answers[r].http == 200) {
        cb->st.last_stored_ms = ab_now_ms();
    } else if (!cb->logged[r]) {
        cb->logged[r] = 1;
        first = 1;
    } else {
        cb->unsummarised[r]++;
    }
    pthread_mutex_unlock(&cb->mu);
    if (first) {
        char from[64];
        client_addr(mc, from, sizeof from);
        ab_log_warn("callbacks: refused a request from %s (HTTP %u, %s)%s%s; "
                    "further refusals of this kind are counted and "
                    "summarised once a minute",
                    from, answers[r].http, answers[r].what,
                    detail && *detail ? ": " : "", detail ? detail : "");
    } else if (answers[r].http != 200) {
        ab_log_debug("callbacks: refused a request (HTTP %u, %s)%s%s",
                     answers[r].http, answers[r].what,
                     detail && *detail ? ": " : "", detail ? detail : "");
    }
}

static enum MHD_Result respond(struct ab_callbacks *cb,
                               struct MHD_Connection *mc, struct req *r,
                               enum ab_cbr result)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    int draining;

    r->state = RS_ANSWERED;
    resp = MHD_create_response_from_buffer(strlen(answers[result].body),
                                           (void *)answers[result].body,
                                           MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json;charset=UTF-8");
    if (result == AB_CBR_METHOD)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "POST");
    pthread_mutex_lock(&cb->mu);
    draining = cb->draining;
    pthread_mutex_unlock(&cb->mu);
    if (draining)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(mc, answers[result].http, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result refuse(struct ab_callbacks *cb,
                              struct MHD_Connection *mc, struct req *r,
                              enum ab_cbr result, const char *detail)
{
    count(cb, mc, result, detail);
    return respond(cb, mc, r, result);
}

/* --- the writer thread -------------------------------------------------- */

static void note_unavailable(struct req *r, const struct ab_err *err, char *why,
                             size_t n)
{
    r->result = AB_CBR_UNAVAILABLE;
    if (!why[0])
        snprintf(why, n, "%s", err->msg);
}

/* Records a batch in one transaction; sets each request's result. */
static void write_batch(struct ab_callbacks *cb, struct req *batch, char *why,
                        size_t whyn)
{
    struct ab_err err = {0};
    struct req *r;
    int stored = 0;

    if (ab_store_begin(cb->store, &err) != 0) {
        for (r = batch; r; r = r->next)
            note_unavailable(r, &err, why, whyn);
        return;
    }
    for (r = batch; r; r = r->next) {
        struct ab_auth_obs o = {0};
        int ok = 0;

        if (ab_store_auth_token_check(cb->store, r->id, r->token, r->token_len,
                                      &ok, &err) != 0) {
            note_unavailable(r, &err, why, whyn);
            continue;
        }
        if (!ok) {
            r->result = AB_CBR_TOKEN;
            continue;
        }
        o.company_id = r->id;
        o.source = AB_AUTH_SRC_CALLBACK;
        o.raw_status = r->parsed.status;
        o.status = r->status;
        o.request_id = r->parsed.request_id;
        o.reason = r->status == AB_AUTH_REJECTED
                       ? ab_cb_action_event_text(r->parsed.action_event)
                       : NULL;
        o.fields_json = r->parsed.fields_json;
        o.dedupe_key = r->parsed.dedupe_key;
        o.observed_at = r->observed_at;
        switch (ab_store_auth_record(cb->store, &o, &r->ar, &err)) {
        case 0:
            r->result = r->ar.duplicate                      ? AB_CBR_DUPLICATE
                        : r->ar.move == AB_AUTH_MOVE_FORWARD ? AB_CBR_APPLIED
                                                             : AB_CBR_RECORDED;
            stored++;
            break;
        case AB_ENOENT: /* deleted since the token check */
            r->result = AB_CBR_TOKEN;
            break;
        default:
            note_unavailable(r, &err, why, whyn);
            break;
        }
    }
    if (!stored) {
        ab_store_rollback(cb->store);
        return;
    }
    if (ab_store_commit(cb->store, &err) != 0) {
        for (r = batch; r; r = r->next)
            if (answers[r->result].http == 200)
                note_unavailable(r, &err, why, whyn);
        return;
    }
    pthread_mutex_lock(&cb->mu);
    cb->st.commits++;
    pthread_mutex_unlock(&cb->mu);
}

static void log_stored(const struct req *r)
{
    const char *req = r->parsed.request_id ? r->parsed.request_id : "-";
    const char *before =
        r->ar.before == AB_AUTH_NONE ? "(none)" : ab_auth_name(r->ar.before);
    const char *obs = ab_auth_name(r->status);

    switch (r->result) {
    case AB_CBR_APPLIED:
        ab_log_info("callbacks: company %" PRId64 ": %s -> %s (request %s)",
                    r->id, before, obs, req);
        break;
    case AB_CBR_RECORDED:
        if (r->ar.move == AB_AUTH_MOVE_SAME)
            ab_log_debug("callbacks: company %" PRId64 ": still %s "
                         "(request %s)",
                         r->id, obs, req);
        else
            ab_log_info("callbacks: company %" PRId64 ": %s after %s kept "
                        "as an event only (a status never moves backwards)",
                        r->id, obs, before);
        break;
    case AB_CBR_DUPLICATE:
        ab_log_debug("callbacks: company %" PRId64 ": the same callback "
                     "again (status %s, request %s), stored before",
                     r->id, r->parsed.status, req);
        break;
    default:
        break;
    }
}

static void *writer_main(void *arg)
{
    struct ab_callbacks *cb = arg;

    for (;;) {
        struct req *batch, *r, *next;
        char why[sizeof((struct ab_err *)0)->msg] = "", detail[48];
        int n = 0;

        pthread_mutex_lock(&cb->mu);
        while (!cb->q_head && !cb->closing)
            pthread_cond_wait(&cb->cv, &cb->mu);
        if (!cb->q_head) {
            pthread_mutex_unlock(&cb->mu);
            break;
        }
        batch = cb->q_head;
        for (r = batch, n = 1; r->next && n < BATCH_MAX; r = r->next)
            n++;
        cb->q_head = r->next;
        if (!cb->q_head)
            cb->q_tail = NULL;
        r->next = NULL;
        pthread_mutex_unlock(&cb->mu);

        ab_log_debug("callbacks: storing %d callback%s", n, n == 1 ? "" : "s");
        write_batch(cb, batch, why, sizeof why);
        for (r = batch; r; r = next) {
            next = r->next;
            r->next = NULL;
            if (answers[r->result].http == 200)
                log_stored(r);
            if (r->result == AB_CBR_TOKEN)
                snprintf(detail, sizeof detail, "company %" PRId64, r->id);
            count(cb, r->mc, r->result,
                  r->result == AB_CBR_UNAVAILABLE ? why
                  : r->result == AB_CBR_TOKEN     ? detail
                                                  : NULL);
            pthread_mutex_lock(&cb->mu);
            r->conn->busy = 0;
            r->conn->since_ms = mono_ms();
            r->state = RS_DONE;
            pthread_mutex_unlock(&cb->mu);
            /* From here the request belongs to the server thread again. */
            MHD_resume_connection(r->mc);
        }
    }
    return NULL;
}

/* --- the server thread -------------------------------------------------- */

static void req_free(struct req *r)
{
    if (!r)
        return;
    ab_cb_release(&r->parsed);
    free(r->uri);
    free(r->body);
    free(r);
}

/* The raw request-target, before libmicrohttpd unescapes it: the token is
 * checked as sent, and %2F cannot make up a segment. Becomes the request's
 * state (*con_cls). */
static void *on_mhd_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
    struct req *r = calloc(1, sizeof *r);
    size_t n = uri ? strlen(uri) : 0;
    const char *q;

    (void)cls;
    (void)mc;
    if (!r)
        return NULL;
    if (n > MAX_URI)
        return r;
    /* An absolute-form target (from a proxy): keep from the path on. */
    if (strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0) {
        const char *p = strchr(uri + (uri[4] == 's' ? 8 : 7), '/');
        uri = p ? p : "";
        n = strlen(uri);
    }
    if (!(r->uri = strndup(uri, n)))
        return r;
    q = memchr(r->uri, '?', n);
    r->path_len = q ? (size_t)(q - r->uri) : n;
    if (q) {
        r->query = q + 1;
        r->query_len = n - r->path_len - 1;
    }
    return r;
}

static void on_mhd_connection(void *cls, struct MHD_Connection *mc,
                              void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    struct ab_callbacks *cb = cls;
    struct conn *c = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!(c = calloc(1, sizeof *c)))
            return; /* not timed by us; libmicrohttpd's timeout still holds */
        c->fd = ci ? ci->connect_fd : -1;
        c->since_ms = mono_ms();
        pthread_mutex_lock(&cb->mu);
        c->next = cb->conns;
        if (cb->conns)
            cb->conns->prev = c;
        cb->conns = c;
        cb->st.connections++;
        pthread_mutex_unlock(&cb->mu);
        *socket_context = c;
        return;
    }
    if (!c)
        return;
    /* Closed: the descriptor is closed after this returns, so a tick that
     * holds the lock never shuts down a reused descriptor. */
    pthread_mutex_lock(&cb->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        cb->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    cb->st.connections--;
    pthread_mutex_unlock(&cb->mu);
    free(c);
    *socket_context = NULL;
}

static void on_mhd_completed(void *cls, struct MHD_Connection *mc,
                             void **con_cls,
                             enum MHD_RequestTerminationCode toe)
{
    struct ab_callbacks *cb = cls;
    struct req *r = *con_cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn *c = ci ? ci->socket_context : NULL;

    (void)toe;
    pthread_mutex_lock(&cb->mu);
    if (c)
        c->since_ms = mono_ms();
    if (r && r->counted)
        cb->active--;
    pthread_mutex_unlock(&cb->mu);
    req_free(r);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct ab_callbacks *cb = cls;
    char raw[512], clean[512];
    int starting;
    size_t n;

    vsnprintf(raw, sizeof raw, fmt, ap);
    /* libmicrohttpd ends its messages with a newline: not a '?'. */
    for (n = strlen(raw); n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '\r');)
        raw[--n] = '\0';
    sanitize(raw, sizeof raw, clean, sizeof clean);
    pthread_mutex_lock(&cb->mu);
    starting = cb->starting;
    if (starting)
        snprintf(cb->start_error, sizeof cb->start_error, "%.200s", clean);
    pthread_mutex_unlock(&cb->mu);
    if (!starting)
        ab_log_debug("callbacks: server: %s", clean);
}

static enum MHD_Result on_headers(struct ab_callbacks *cb,
                                  struct MHD_Connection *mc, struct req *r,
                                  const char *method)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    const char *clen;
    char detail[64];
    int rc;

    r->mc = mc;
    r->conn = ci ? ci->socket_context : NULL;
    pthread_mutex_lock(&cb->mu);
    cb->active++;
    r->counted = 1;
    pthread_mutex_unlock(&cb->mu);
    if (!r->conn)
        return refuse(cb, mc, r, AB_CBR_UNAVAILABLE, "out of memory");
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
        char m[24];
        sanitize(method, 16, m, sizeof m);
        snprintf(detail, sizeof detail, "method %s", m);
        return refuse(cb, mc, r, AB_CBR_METHOD, detail);
    }
    if (!r->uri)
        return refuse(cb, mc, r, AB_CBR_PATH, "the target is too long");
    rc = ab_callbacks_parse_path(r->uri, r->path_len, &r->id, &r->token,
                                 &r->token_len);
    if (rc != 0)
        return refuse(cb, mc, r, AB_CBR_PATH,
                      rc == -2 ? "a traversal (dot segment or escaped "
                                 "separator)"
                               : "not .../<id>/<token>");
    clen = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (clen && strtoull(clen, NULL, 10) > AB_CB_MAX_BODY) {
        snprintf(detail, sizeof detail, "company %" PRId64, r->id);
        return refuse(cb, mc, r, AB_CBR_TOO_LARGE, detail);
    }
    r->state = RS_BODY;
    return MHD_YES;
}

static void append(struct req *r, const char *data, size_t n)
{
    if (r->overflow || r->len + n > AB_CB_MAX_BODY) {
        r->overflow = 1; /* read on, keep nothing: answered 413 at the end */
        return;
    }
    if (r->len + n > r->cap) {
        size_t ncap = r->cap ? r->cap : 1024;
        char *nb;
        while (ncap < r->len + n)
            ncap *= 2;
        if (!(nb = realloc(r->body, ncap))) {
            r->overflow = 1;
            return;
        }
        r->body = nb;
        r->cap = ncap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
}

static enum MHD_Result on_body_done(struct ab_callbacks *cb,
                                    struct MHD_Connection *mc, struct req *r)
{
    char detail[256], ct[64];
    const char *ctype = MHD_lookup_connection_value(
        mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    int rc, closing;

    if (r->overflow)
        return refuse(cb, mc, r, AB_CBR_TOO_LARGE, NULL);
    rc = ab_cbparse(r->query, r->query_len, ctype, r->body, r->len, &r->parsed);
    if (rc != 0) {
        switch (r->parsed.fault) {
        case AB_CB_MEDIA_TYPE:
            sanitize(ctype, 48, ct, sizeof ct);
            snprintf(detail, sizeof detail, "company %" PRId64 ": '%s'", r->id,
                     ct);
            return refuse(cb, mc, r, AB_CBR_MEDIA_TYPE, detail);
        case AB_CB_TOO_LARGE:
            return refuse(cb, mc, r, AB_CBR_TOO_LARGE, r->parsed.reason);
        case AB_CB_NOMEM:
            return refuse(cb, mc, r, AB_CBR_UNAVAILABLE, "out of memory");
        default:
            snprintf(detail, sizeof detail, "company %" PRId64 ": %s", r->id,
                     r->parsed.reason);
            return refuse(cb, mc, r, AB_CBR_MALFORMED, detail);
        }
    }
    r->status = ab_auth_from_callback(r->parsed.status);
    if (r->status == AB_AUTH_UNKNOWN) {
        snprintf(detail, sizeof detail, "company %" PRId64 ": status '%s'",
                 r->id, r->parsed.status);
        return refuse(cb, mc, r, AB_CBR_UNKNOWN_STATUS, detail);
    }
    r->observed_at = ab_now_ms();
    pthread_mutex_lock(&cb->mu);
    closing = cb->closing;
    if (!closing) {
        /* Suspended before the writer can see it, so its resume always
         * follows the suspend. */
        MHD_suspend_connection(mc);
        r->state = RS_QUEUED;
        r->conn->busy = 1;
        if (cb->q_tail)
            cb->q_tail->next = r;
        else
            cb->q_head = r;
        cb->q_tail = r;
        pthread_cond_signal(&cb->cv);
    }
    pthread_mutex_unlock(&cb->mu);
    if (closing)
        return refuse(cb, mc, r, AB_CBR_UNAVAILABLE, "shutting down");
    return MHD_YES;
}

static enum MHD_Result on_mhd_request(void *cls, struct MHD_Connection *mc,
                                      const char *url, const char *method,
                                      const char *version,
                                      const char *upload_data,
                                      size_t *upload_data_size, void **con_cls)
{
    struct ab_callbacks *cb = cls;
    struct req *r = *con_cls;
    enum req_state state;

    (void)url;
    (void)version;
    if (!r)
        return MHD_NO; /* out of memory in on_mhd_uri */
    pthread_mutex_lock(&cb->mu);
    state = r->state;
    pthread_mutex_unlock(&cb->mu);
    switch (state) {
    case RS_NEW:
        return on_headers(cb, mc, r, method);
    case RS_BODY:
        if (*upload_data_size > 0) {
            append(r, upload_data, *upload_data_size);
            *upload_data_size = 0;
            return MHD_YES;
        }
        return on_body_done(cb, mc, r);
    case RS_DONE:
        return respond(cb, mc, r, r->result);
    case RS_QUEUED:
    case RS_ANSWERED:
        break;
    }
    /* Body bytes after an early answer: libmicrohttpd discards them. */
    *upload_data_size = 0;
    return MHD_YES;
}

/* --- lifecycle ---------------------------------------------------------- */

static int resolve(const char *host, unsigned port, struct sockaddr_storage *ss,
                   int *v6, struct ab_err *err)
{
    struct addrinfo hints = {0}, *res = NULL;
    int rc;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0 || !res)
        return ab_err_set(err, AB_ECONFIG, "cannot resolve '%s': %s", host,
                          gai_strerror(rc));
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    if (*v6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    freeaddrinfo(res);
    return 0;
}

int ab_callbacks_start(const struct ab_callbacks_opts *o,
                       struct ab_callbacks **out, struct ab_err *err)
{
    struct ab_callbacks *cb;
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    char host[INET6_ADDRSTRLEN];
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    int rc, v6 = 0;

    *out = NULL;
    if ((rc = resolve(o->host, o->port, &ss, &v6, err)) != 0)
        return rc;
    if (!(cb = calloc(1, sizeof *cb)))
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    pthread_mutex_init(&cb->mu, NULL);
    pthread_cond_init(&cb->cv, NULL);
    cb->store = o->store;
    cb->timeout_ms = (int64_t)o->timeout_s * 1000;
    cb->max_connections = o->max_connections;
    cb->listen_fd = MHD_INVALID_SOCKET;
    cb->st.max_connections = o->max_connections;
    cb->st.started_ms = ab_now_ms();
    cb->st.running = 1;
    cb->last_summary_ms = mono_ms();
    cb->starting = 1;
    if (pthread_create(&cb->writer, NULL, writer_main, cb) != 0) {
        ab_callbacks_free(cb);
        return ab_err_set(err, AB_EIO, "cannot start the writer thread");
    }
    cb->writer_started = 1;
    if (v6)
        flags |= MHD_USE_IPv6;
    /* The port is bound through MHD_OPTION_SOCK_ADDR; passing it here too
     * only makes the server's messages name it ("Failed to bind to port"). */
    cb->d = MHD_start_daemon(
        flags, (uint16_t)o->port, NULL, NULL, on_mhd_request, cb,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, cb, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)o->max_connections,
        /* Ours (ab_callbacks_tick) fires first and counts; this one only
         * holds if the ticks stop. */
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout_s + 2,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_URI_LOG_CALLBACK,
        on_mhd_uri, cb, MHD_OPTION_NOTIFY_CONNECTION, on_mhd_connection, cb,
        MHD_OPTION_NOTIFY_COMPLETED, on_mhd_completed, cb, MHD_OPTION_END);
    if (!cb->d) {
        rc = ab_err_set(err, AB_ECONFIG, "cannot listen on %s%s%s:%u: %s",
                        v6 ? "[" : "", o->host, v6 ? "]" : "", o->port,
                        cb->start_error[0] ? cb->start_error
                                           : "the server did not start");
        ab_callbacks_free(cb);
        return rc;
    }
    pthread_mutex_lock(&cb->mu);
    cb->starting = 0;
    pthread_mutex_unlock(&cb->mu);
    info = MHD_get_daemon_info(cb->d, MHD_DAEMON_INFO_BIND_PORT);
    if (getnameinfo((struct sockaddr *)&ss,
                    v6 ? sizeof(struct sockaddr_in6)
                       : sizeof(struct sockaddr_in),
                    host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(host, sizeof host, "%s", o->host);
    snprintf(cb->url, sizeof cb->url, "http://%s%s%s:%u", v6 ? "[" : "", host,
             v6 ? "]" : "", info ? (unsigned)info->port : o->port);
    *out = cb;
    return 0;
}

const char *ab_callbacks_url(const struct ab_callbacks *cb)
{
    return cb->url;
}

void ab_callbacks_tick(struct ab_callbacks *cb)
{
    int64_t now = mono_ms(), counts[AB_CBR__COUNT], cut;
    struct conn *c;
    char line[512];
    size_t n = 0;
    int i, any = 0;

    pthread_mutex_lock(&cb->mu);
    for (c = cb->conns; c; c = c->next) {
        if (c->busy || c->cut || c->fd < 0 ||
            now - c->since_ms < cb->timeout_ms)
            continue;
        shutdown(c->fd, SHUT_RDWR);
        c->cut = 1;
        cb->st.connections_cut++;
        cb->cut_unsummarised++;
    }
    if (now - cb->last_summary_ms < SUMMARY_EVERY_MS) {
        pthread_mutex_unlock(&cb->mu);
        return;
    }
    cb->last_summary_ms = now;
    memcpy(counts, cb->unsummarised, sizeof counts);
    memset(cb->unsummarised, 0, sizeof cb->unsummarised);
    cut = cb->cut_unsummarised;
    cb->cut_unsummarised = 0;
    pthread_mutex_unlock(&cb->mu);

    for (i = 0; i < AB_CBR__COUNT; i++) {
        if (!counts[i])
            continue;
        n += (size_t)snprintf(line + n, sizeof line - n, "%s%" PRId64 " %s",
                              any ? ", " : "", counts[i], cbr_names[i]);
        any = 1;
        if (n >= sizeof line)
            break;
    }
    if (any)
        ab_log_warn("callbacks: refused in the last minute: %s", line);
    if (cut)
        ab_log_warn("callbacks: cut %" PRId64 " connection%s in the last "
                    "minute that took longer than the timeout",
                    cut, cut == 1 ? "" : "s");
}

void ab_callbacks_quiesce(struct ab_callbacks *cb)
{
    pthread_mutex_lock(&cb->mu);
    cb->draining = 1;
    pthread_mutex_unlock(&cb->mu);
    if (cb->d && !cb->quiesced) {
        cb->listen_fd = MHD_quiesce_daemon(cb->d);
        cb->quiesced = 1;
    }
}

int ab_callbacks_active(struct ab_callbacks *cb)
{
    int n;
    pthread_mutex_lock(&cb->mu);
    n = cb->active;
    pthread_mutex_unlock(&cb->mu);
    return n;
}

void ab_callbacks_stats(struct ab_callbacks *cb, struct ab_callbacks_stats *out)
{
    pthread_mutex_lock(&cb->mu);
    *out = cb->st;
    pthread_mutex_unlock(&cb->mu);
}

void ab_callbacks_stop(struct ab_callbacks *cb)
{
    if (cb->stopped)
        return;
    cb->stopped = 1;
    /* The writer answers what is parked, then stops; only then may the
     * server stop (it must not hold suspended connections). */
    pthread_mutex_lock(&cb->mu);
    cb->closing = 1;
    pthread_cond_signal(&cb->cv);
    pthread_mutex_unlock(&cb->mu);
    if (cb->writer_started)
        pthread_join(cb->writer, NULL);
    cb->writer_started = 0;
    if (cb->d)
        MHD_stop_daemon(cb->d);
    cb->d = NULL;
    if (cb->listen_fd != MHD_INVALID_SOCKET)
        close(cb->listen_fd);
    cb->listen_fd = MHD_INVALID_SOCKET;
    pthread_mutex_lock(&cb->mu);
    cb->st.running = 0;
    cb->st.connections = 0;
    pthread_mutex_unlock(&cb->mu);
}

void ab_callbacks_free(struct ab_callbacks *cb)
{
    if (!cb)
        return;
    ab_callbacks_stop(cb);
    pthread_cond_destroy(&cb->cv);
    pthread_mutex_destroy(&cb->mu);
    free(cb);
}

/* --- metrics ------------------------------------------------------------ */

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void ab_callbacks_metrics_print(FILE *f, const struct ab_callbacks_stats *st)
{
    int i;

    head(f, "authbatch_callbacks_requests_total", "counter",
         "Callback requests by what became of them.");
    for (i = 0; i < AB_CBR__COUNT; i++)
        fprintf(f,
                "authbatch_callbacks_requests_total{result=\"%s\"} %" PRId64
                "\n",
                cbr_names[i], st->requests[i]);
    head(f, "authbatch_callbacks_connections", "gauge",
         "Connections open now.");
    fprintf(f, "authbatch_callbacks_connections %" PRId64 "\n",
            st->connections);
    head(f, "authbatch_callbacks_connection_limit", "gauge",
         "Connections open at most (--max-connections).");
    fprintf(f, "authbatch_callbacks_connection_limit %d\n",
            st->max_connections);
    head(f, "authbatch_callbacks_connections_cut_total", "counter",
         "Connections cut for taking longer than --timeout.");
    fprintf(f, "authbatch_callbacks_connections_cut_total %" PRId64 "\n",
            st->connections_cut);
    head(f, "authbatch_callbacks_commits_total", "counter",
         "Transactions committed (each holds one or more callbacks).");
    fprintf(f, "authbatch_callbacks_commits_total %" PRId64 "\n", st->commits);
    head(f, "authbatch_callbacks_start_timestamp_seconds", "gauge",
         "When the receiver started.");
    fprintf(f, "authbatch_callbacks_start_timestamp_seconds %.3f\n",
            (double)st->started_ms / 1000.0);
    head(f, "authbatch_callbacks_last_stored_timestamp_seconds", "gauge",
         "When a callback was last answered 200 (0 = never).");
    fprintf(f, "authbatch_callbacks_last_stored_timestamp_seconds %.3f\n",
            (double)st->last_stored_ms / 1000.0);
    head(f, "authbatch_callbacks_running", "gauge",
         "1 while the receiver runs, 0 after it stopped.");
    fprintf(f, "authbatch_callbacks_running %d\n", st->running);
}

int ab_callbacks_metrics_write(const char *path,
                               const struct ab_callbacks_stats *st,
                               struct ab_err *err)
{
    struct ab_atomicfile *af;
    int rc;

    if ((rc = ab_atomicfile_open(path, &af, err)) != 0)
        return rc;
    ab_callbacks_metrics_print(ab_atomicfile_stream(af), st);
    return ab_atomicfile_commit(af, err);
}
