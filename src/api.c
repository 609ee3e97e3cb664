#include "api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

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

static int add_str(json_t *o, const char *key, const char *v)
{
    if (!v || !*v)
        return 0;
    return json_object_set_new(o, key, json_string(v));
}

char *ab_api_body(const struct ab_company *c)
{
    json_t *o = json_object(), *a = json_object();
    char *out = NULL;
    int rc = 0;

    if (!o || !a)
        goto out_free;
    rc |= add_str(o, "companyName", c->company_name);
    rc |= add_str(a, "name", c->applicant_name);
    rc |= add_str(a, "contact", c->applicant_contact);
    rc |= json_object_set_new(a, "contactType",
                              json_string(ab_company_contact_type_name(c)));
    rc |= json_object_set(o, "applicant", a);
    rc |= add_str(o, "registerNo", c->register_no);
    rc |= add_str(o, "legalPerson", c->legal_person);
    rc |= add_str(o, "callbackUrl", c->callback_url);
    if (c->close_button >= 0)
        rc |= json_object_set_new(o, "closeButton",
                                  json_boolean(c->close_button));
    rc |= add_str(o, "modifyFields", c->modify_fields);
    if (rc == 0)
        out = json_dumps(o, JSON_COMPACT);
out_free:
    json_decref(a);
    json_decref(o);
    return out;
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

/* Copies at most the first n-1 bytes of s, not splitting a UTF-8 sequence. */
static void copy_utf8(char *dst, size_t n, const char *s)
{
    size_t len = strlen(s);
    if (len >= n) {
        len = n - 1;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(dst, s, len);
    dst[len] = '\0';
}

void ab_api_classify(const char *transport_error, long http_status,
                     const char *body, size_t body_len,
                     const struct ab_api_codes *extra, struct ab_api_result *r)
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

    if (http_status == 429) {
        r->outcome = AB_OUT_THROTTLED;
        if (!r->message[0])
            copy_utf8(r->message, sizeof r->message,
                      "HTTP 429 too many requests");
    } else if (http_status >= 500) {
        r->outcome = AB_OUT_TRANSIENT;
        if (!r->message[0])
            snprintf(r->message, sizeof r->message, "HTTP %ld", http_status);
    } else if ((http_status >= 441 && http_status <= 449) ||
               http_status == 401 || http_status == 403) {
        r->outcome = AB_OUT_FATAL;
        if (!r->message[0])
            snprintf(r->message, sizeof r->message, "HTTP %ld", http_status);
    } else if (http_status == 404 || http_status == 405) {
        /* Every company would get the same, whatever the body says (a
         * gateway's JSON 404 included): a wrong --base-url. */
        r->outcome = AB_OUT_FATAL;
        snprintf(r->message, sizeof r->message,
                 "HTTP %ld: no such endpoint (check --base-url)", http_status);
    } else if (r->has_code) {
        r->outcome = class_of_code(r->code, extra);
        if (r->code == 0) {
            json_t *res = json_object_get(root, "result");
            json_t *t = json_object_get(res, "ticket");
            if (json_is_string(t) && json_string_length(t) > 0 &&
                json_string_length(t) < sizeof r->ticket) {
                memcpy(r->ticket, json_string_value(t),
                       json_string_length(t) + 1);
                r->outcome = AB_OUT_ISSUED;
            } else {
                r->outcome = AB_OUT_TRANSIENT;
                copy_utf8(r->message, sizeof r->message,
                          "code 0 without a usable ticket");
            }
        }
    } else if (http_status == 408) {
        r->outcome = AB_OUT_TRANSIENT;
        copy_utf8(r->message, sizeof r->message, "HTTP 408 request timeout");
    } else if (http_status >= 200 && http_status < 300) {
        r->outcome = AB_OUT_TRANSIENT;
        copy_utf8(r->message, sizeof r->message,
                  root ? "answer without a code" : "unparsable answer body");
    } else {
        r->outcome = AB_OUT_REJECTED;
        snprintf(r->message, sizeof r->message, "HTTP %ld without a JSON code",
                 http_status);
    }
    json_decref(root);
}
