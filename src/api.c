#include "api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sign.h"

int ab_api_parse_codes(const char *s, long *codes, int *n)
{
    const char *p = s;

    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ','))
            return AB_EINVAL;
        if (*n >= AB_API_MAX_EXTRA)
            return AB_EINVAL;
        codes[(*n)++] = v;
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* The body is written by hand rather than through a jansson tree: it is
 * built once per request, and the tree cost a dozen allocations each time.
 * The output is byte for byte what json_dumps(JSON_COMPACT) gave: members in
 * this order, UTF-8 raw, only '"', '\\' and control characters escaped. */
struct buf {
    char *p;
    size_t len, cap;
    int bad; /* out of memory, or a string that is not valid UTF-8 */
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->bad)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (!(p = realloc(b->p, cap))) {
            b->bad = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

/* Length of the valid UTF-8 sequence at s (1-4), or 0 (as jansson checks:
 * no overlongs, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n, i;
    unsigned long cp;

    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0) {
        n = 2;
        cp = c & 0x1F;
    } else if (c < 0xF0) {
        n = 3;
        cp = c & 0x0F;
    } else if (c < 0xF5) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return n;
}

static void put_str(struct buf *b, const char *str)
{
    const unsigned char *s = (const unsigned char *)str, *run = s;
    char esc[8];

    PUT_LIT(b, "\"");
    while (*s) {
        size_t n;
        if (*s >= 0x20 && *s != '"' && *s != '\\') {
            if (!(n = utf8_len(s))) {
                b->bad = 1;
                return;
            }
            s += n;
            continue;
        }
        put(b, (const char *)run, (size_t)(s - run));
        switch (*s) {
        case '"':
            PUT_LIT(b, "\\\"");
            break;
        case '\\':
            PUT_LIT(b, "\\\\");
            break;
        case '\b':
            PUT_LIT(b, "\\b");
            break;
        case '\f':
            PUT_LIT(b, "\\f");
            break;
        case '\n':
            PUT_LIT(b, "\\n");
            break;
        case '\r':
            PUT_LIT(b, "\\r");
            break;
        case '\t':
            PUT_LIT(b, "\\t");
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04X", *s);
            put(b, esc, 6);
            break;
        }
        run = ++s;
    }
    put(b, (const char *)run, (size_t)(s - run));
    PUT_LIT(b, "\"");
}

/* ,"key":"value" when value is present and non-empty; first: no comma. */
static void put_member(struct buf *b, int *first, const char *key,
                       const char *v)
{
    if (!v || !*v)
        return;
    if (!*first)
        PUT_LIT(b, ",");
    *first = 0;
    put_str(b, key);
    PUT_LIT(b, ":");
    put_str(b, v);
}

char *ab_api_body(const struct ab_company *c)
{
    struct buf b = {0};
    int first = 1, afirst = 1;

    PUT_LIT(&b, "{");
    put_member(&b, &first, "companyName", c->company_name);
    if (!first)
        PUT_LIT(&b, ",");
    first = 0;
    PUT_LIT(&b, "\"applicant\":{");
    put_member(&b, &afirst, "name", c->applicant_name);
    put_member(&b, &afirst, "contact", c->applicant_contact);
    put_member(&b, &afirst, "contactType", ab_company_contact_type_name(c));
    PUT_LIT(&b, "}");
    put_member(&b, &first, "registerNo", c->register_no);
    put_member(&b, &first, "legalPerson", c->legal_person);
    put_member(&b, &first, "callbackUrl", c->callback_url);
    if (c->close_button >= 0) {
        if (c->close_button)
            PUT_LIT(&b, ",\"closeButton\":true");
        else
            PUT_LIT(&b, ",\"closeButton\":false");
    }
    put_member(&b, &first, "modifyFields", c->modify_fields);
    PUT_LIT(&b, "}");
    if (b.bad) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static int in(long code, const long *list, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (list[i] == code)
            return 1;
    return 0;
}

/* 8-digit responseCode values with a short form in the code table. */
static long from_response_code(const char *rc)
{
    static const struct {
        const char *rc;
        long code;
    } map[] = {
        {"00000000", 0},    {"21990001", 1001}, {"14990002", 1002},
        {"11990005", 1005}, {"11990441", 441},  {"11990442", 442},
    };
    size_t i;
    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].rc, rc) == 0)
            return map[i].code;
    return strtol(rc, NULL, 10);
}

static enum ab_outcome class_of_code(long code, const struct ab_api_codes *x)
{
    if (x && in(code, x->fatal, x->nfatal))
        return AB_OUT_FATAL;
    if (x && in(code, x->retry, x->nretry))
        return AB_OUT_TRANSIENT;
    switch (code) {
    case 1605:
        return AB_OUT_ALREADY_AUTHED;
    case 11990006:
        return AB_OUT_THROTTLED;
    case 1001:
        return AB_OUT_TRANSIENT;
    case 1002: /* permission denied */
    case 1601: /* insufficient balance */
    case 441:  /* header required */
    case 442:  /* invalid token */
    case 443:  /* invalid signature */
    case 444:  /* timestamp expired */
    case 445:  /* nonce replayed */
        return AB_OUT_FATAL;
    default:
        return AB_OUT_REJECTED;
    }
}

/* Copies at most the first n-1 bytes of s, not splitting a UTF-8 sequence,
 * with control characters turned into spaces: the text reaches terminals
 * and reports, and comes from the network. */
static void copy_utf8(char *dst, size_t n, const char *s)
{
    size_t i, len = strlen(s);
    if (len >= n) {
        len = n - 1;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    dst[len] = '\0';
}

/* An answer that is not the vendor's: what it was, for the message. */
static void foreign(struct ab_api_result *r, long http_status,
                    const char *content_type)
{
    char ct[64];

    r->outcome = AB_OUT_TRANSIENT;
    r->foreign = 1;
    copy_utf8(ct, sizeof ct, content_type ? content_type : "no content type");
    snprintf(r->message, sizeof r->message,
             "HTTP %ld (%s) without the vendor's JSON envelope: not the "
             "vendor's API answering",
             http_status, ct);
}

/* code 0 in a 2xx answer: what the endpoint's result says. */
typedef void (*on_ok_fn)(json_t *root, struct ab_api_result *r, void *ctx);

static void ticket_ok(json_t *root, struct ab_api_result *r, void *ctx)
{
    json_t *res = json_object_get(root, "result");
    json_t *t = json_object_get(res, "ticket");

    (void)ctx;
    if (json_is_string(t) && json_string_length(t) > 0 &&
        json_string_length(t) < sizeof r->ticket &&
        strlen(json_string_value(t)) == json_string_length(t)) {
        memcpy(r->ticket, json_string_value(t), json_string_length(t) + 1);
        r->outcome = AB_OUT_ISSUED;
    } else if (json_is_string(t) && json_string_length(t) >= sizeof r->ticket) {
        /* Asking again would only issue another such ticket. */
        r->outcome = AB_OUT_REJECTED;
        snprintf(r->message, sizeof r->message,
                 "ticket of %zu bytes, longer than authbatch keeps "
                 "(%zu)",
                 json_string_length(t), sizeof r->ticket - 1);
    } else {
        r->outcome = AB_OUT_TRANSIENT;
        copy_utf8(r->message, sizeof r->message,
                  "code 0 without a usable ticket");
    }
}

static void classify(const char *transport_error, long http_status,
                     const char *content_type, const char *body,
                     size_t body_len, const struct ab_api_codes *extra,
                     struct ab_api_result *r, on_ok_fn on_ok, void *ctx)
{
    json_t *root = NULL, *v;
    json_error_t jerr;

    memset(r, 0, sizeof *r);
    r->http_status = http_status;
    if (transport_error) {
        r->outcome = AB_OUT_TRANSIENT;
        r->http_status = 0;
        copy_utf8(r->message, sizeof r->message, transport_error);
        return;
    }
    if (body && body_len > 0)
        root = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (root && json_is_object(root)) {
        v = json_object_get(root, "code");
        if (json_is_integer(v)) {
            r->has_code = 1;
            r->code = (long)json_integer_value(v);
        } else if (json_is_string(v = json_object_get(root, "responseCode"))) {
            r->has_code = 1;
            r->code = from_response_code(json_string_value(v));
        }
        v = json_object_get(root, "message");
        if (json_is_string(v))
            copy_utf8(r->message, sizeof r->message, json_string_value(v));
    }

    if (http_status >= 300 && http_status < 400) {
        /* Whoever sent it, every company would get the same. */
        r->outcome = AB_OUT_FATAL;
        r->config = 1;
        snprintf(r->message, sizeof r->message,
                 "HTTP %ld: redirected (check --base-url)", http_status);
    } else if (http_status == 429) {
        r->outcome = AB_OUT_THROTTLED;
        if (!r->message[0])
            copy_utf8(r->message, sizeof r->message,
                      "HTTP 429 too many requests");
    } else if (http_status >= 500) {
        r->outcome = AB_OUT_TRANSIENT;
        if (!r->message[0])
            snprintf(r->message, sizeof r->message, "HTTP %ld", http_status);
    } else if (http_status == 404 || http_status == 405) {
        /* Every company would get the same, whatever the body says (a
         * gateway's JSON 404 included): a wrong --base-url. */
        r->outcome = AB_OUT_FATAL;
        r->config = 1;
        snprintf(r->message, sizeof r->message,
                 "HTTP %ld: no such endpoint (check --base-url)", http_status);
    } else if (http_status == 408) {
        r->outcome = AB_OUT_TRANSIENT;
        if (!r->message[0])
            copy_utf8(r->message, sizeof r->message,
                      "HTTP 408 request timeout");
    } else if ((http_status >= 441 && http_status <= 449) ||
               http_status == 401 || http_status == 403) {
        /* The vendor's own statuses for headers, token and signature (and
         * the generic ones): credentials, whatever the body. */
        r->outcome = AB_OUT_FATAL;
        if (!r->message[0])
            snprintf(r->message, sizeof r->message, "HTTP %ld", http_status);
    } else if (!r->has_code) {
        /* No envelope: a proxy's or portal's page, not the vendor. */
        foreign(r, http_status, content_type);
    } else if (http_status >= 200 && http_status < 300) {
        r->outcome = class_of_code(r->code, extra);
        if (r->code == 0)
            on_ok(root, r, ctx);
    } else {
        /* A 4xx with the vendor's envelope: its code decides. */
        r->outcome = class_of_code(r->code, extra);
    }
    json_decref(root);
}

void ab_api_classify(const char *transport_error, long http_status,
                     const char *content_type, const char *body,
                     size_t body_len, const struct ab_api_codes *extra,
                     struct ab_api_result *r)
{
    classify(transport_error, http_status, content_type, body, body_len, extra,
             r, ticket_ok, NULL);
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

size_t ab_api_query_escape(const char *s, char *dst, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = 0;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[3];
        size_t k = 1, i;
        if (unreserved(c)) {
            e[0] = (char)c;
        } else {
            e[0] = '%';
            e[1] = hex[c >> 4];
            e[2] = hex[c & 15];
            k = 3;
        }
        for (i = 0; i < k; i++, len++)
            if (len + 1 < n)
                dst[len] = e[i];
    }
    if (n > 0)
        dst[len < n ? len : n - 1] = '\0';
    return len;
}

char *ab_api_result_url(const char *base_url, const char *company_name)
{
    static const char q[] = AB_API_RESULT_PATH "?companyName=";
    size_t nb = strlen(base_url), nq = sizeof q - 1;
    size_t ne = ab_api_query_escape(company_name, NULL, 0);
    char *url = malloc(nb + nq + ne + 1);

    if (!url)
        return NULL;
    memcpy(url, base_url, nb);
    memcpy(url + nb, q, nq);
    ab_api_query_escape(company_name, url + nb + nq, ne + 1);
    return url;
}

/* A string member copied (cleaned) into dst, or a number's decimal text;
 * dst stays "" for anything else. */
static void member_text(json_t *o, const char *key, char *dst, size_t n)
{
    json_t *v = json_object_get(o, key);

    if (json_is_string(v))
        copy_utf8(dst, n, json_string_value(v));
    else if (json_is_integer(v))
        snprintf(dst, n, "%lld", (long long)json_integer_value(v));
}

/* What result_ok() needs: where to put it, and the raw answer. */
struct result_ctx {
    struct ab_api_poll *p;
    const char *body;
    size_t len;
};

static void result_ok(json_t *root, struct ab_api_result *r, void *ctx)
{
    const struct result_ctx *b = ctx;
    struct ab_api_poll *p = b->p;
    json_t *res = json_object_get(root, "result");
    json_t *st = json_object_get(res, "status");
    char *dump;

    if (!json_is_object(res) || !st) {
        r->outcome = AB_OUT_TRANSIENT;
        copy_utf8(r->message, sizeof r->message,
                  "code 0 without a result status");
        return;
    }
    r->outcome = AB_OUT_ISSUED;
    p->has_status = 1;
    if (json_is_integer(st)) {
        snprintf(p->raw_status, sizeof p->raw_status, "%lld",
                 (long long)json_integer_value(st));
    } else if (json_is_string(st)) {
        copy_utf8(p->raw_status, sizeof p->raw_status, json_string_value(st));
    } else {
        /* null, true, 2.0, an object...: kept as its JSON text. */
        dump = json_dumps(st, JSON_COMPACT | JSON_ENCODE_ANY);
        copy_utf8(p->raw_status, sizeof p->raw_status, dump ? dump : "?");
        free(dump);
    }
    p->status = ab_auth_from_result(p->raw_status);
    member_text(res, "requestId", p->request_id, sizeof p->request_id);
    member_text(res, "basicReason", p->reason, sizeof p->reason);
    member_text(res, "applicantName", p->applicant, sizeof p->applicant);
    if (!p->applicant[0])
        member_text(res, "applicant", p->applicant, sizeof p->applicant);
    /* The answer as received, for the event: it parsed, so it is valid
     * JSON and UTF-8 (a copy costs a fraction of re-serialising the
     * result); an oversized one is left out rather than cut short. */
    if (b->len < sizeof p->fields) {
        memcpy(p->fields, b->body, b->len);
        p->fields[b->len] = '\0';
    }
}

void ab_api_classify_result(const char *transport_error, long http_status,
                            const char *content_type, const char *body,
                            size_t body_len, const struct ab_api_codes *extra,
                            struct ab_api_result *r, struct ab_api_poll *p)
{
    struct result_ctx b = {p, body, body_len};

    p->has_status = 0;
    p->raw_status[0] = p->request_id[0] = p->reason[0] = '\0';
    p->applicant[0] = p->fields[0] = '\0';
    p->status = AB_AUTH_UNKNOWN;
    classify(transport_error, http_status, content_type, body, body_len, extra,
             r, result_ok, &b);
}

int ab_api_sign_headers(const char *token, const char *secret, int64_t now_ms,
                        struct ab_headers *h)
{
    char ts[24], nonce[AB_SIGN_NONCE_LEN + 1], sig[AB_SIGN_HEX_LEN + 1];
    int n;

    snprintf(ts, sizeof ts, "%lld", (long long)now_ms);
    if (ab_sign_nonce(nonce) != 0 || ab_sign(token, secret, ts, nonce, sig))
        return AB_EIO;
    n = snprintf(h->line[0], sizeof h->line[0], "x-qys-open-accesstoken: %s",
                 token);
    if (n < 0 || (size_t)n >= sizeof h->line[0])
        return AB_EINVAL;
    snprintf(h->line[1], sizeof h->line[1], "x-qys-open-timestamp: %s", ts);
    snprintf(h->line[2], sizeof h->line[2], "x-qys-open-nonce: %s", nonce);
    snprintf(h->line[3], sizeof h->line[3], "x-qys-open-signature: %s", sig);
    snprintf(h->line[4], sizeof h->line[4], "version: authbatch-%s",
             AB_VERSION);
    h->n = 5;
    ab_sign_wipe(sig, sizeof sig);
    return 0;
}

int ab_api_redacted_headers(int64_t now_ms, struct ab_headers *h)
{
    int rc = ab_api_sign_headers("<redacted>", "", now_ms, h);

    if (rc == 0)
        snprintf(h->line[3], sizeof h->line[3],
                 "x-qys-open-signature: <redacted>");
    return rc;
}
