#include "cbparse.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "validate.h"

/* The parse in progress: the fields so far and the first fault. */
struct parse {
    json_t *fields;
    int nfields;
    struct ab_cb *out;
};

static int fault(struct parse *p, enum ab_cb_fault f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fault(struct parse *p, enum ab_cb_fault f, const char *fmt, ...)
{
    va_list ap;

    if (p->out->fault == AB_CB_OK) {
        p->out->fault = f;
        va_start(ap, fmt);
        vsnprintf(p->out->reason, sizeof p->out->reason, fmt, ap);
        va_end(ap);
    }
    return f == AB_CB_NOMEM ? AB_ENOMEM : AB_EDATA;
}

static int nomem(struct parse *p)
{
    return fault(p, AB_CB_NOMEM, "out of memory");
}

static const char *const known[] = {"status", "requestId", "actionEvent",
                                    "authInfo"};

/* How a field is named in a reason: its name when it is one we know, its
 * position otherwise (an unknown name is the client's text). */
static void field_label(const char *name, int index, char *buf, size_t n)
{
    size_t i;
    for (i = 0; name && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(name, known[i]) == 0) {
            snprintf(buf, n, "field '%s'", known[i]);
            return;
        }
    snprintf(buf, n, "field %d", index + 1);
}

/* 0 if s[0..n) is valid UTF-8 without control characters (C0, DEL, C1);
 * with allow_ws, tab, CR and LF are allowed too. */
static int check_text(const char *s, size_t n, int allow_ws, const char **why)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i;

    if (ab_validate_utf8(s, n, NULL) != 0) {
        *why = "is not valid UTF-8";
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (u[i] < 0x20 || u[i] == 0x7f) {
            if (allow_ws && (u[i] == '\t' || u[i] == '\n' || u[i] == '\r'))
                continue;
            *why = "holds a control character";
            return -1;
        }
        /* Valid UTF-8: C2 followed by 80-9F is exactly U+0080..U+009F. */
        if (u[i] == 0xC2 && i + 1 < n && u[i + 1] < 0xA0) {
            *why = "holds a control character";
            return -1;
        }
    }
    return 0;
}

/* Every string (keys included) in v: no control characters, within
 * AB_CB_MAX_VALUE, nested at most AB_CB_MAX_DEPTH. jansson has checked the
 * UTF-8 of the text it parsed. */
static int check_json(const json_t *v, int depth, const char **why)
{
    const char *k;
    json_t *m;
    size_t i;

    if (depth > AB_CB_MAX_DEPTH) {
        *why = "is nested too deeply";
        return -1;
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (json_string_length(v) > AB_CB_MAX_VALUE) {
            *why = "holds a string over the size limit";
            return -1;
        }
        return check_text(json_string_value(v), json_string_length(v), 0, why);
    case JSON_OBJECT:
        json_object_foreach((json_t *)v, k, m)
        {
            if (check_text(k, strlen(k), 0, why) != 0 ||
                check_json(m, depth + 1, why) != 0)
                return -1;
        }
        return 0;
    case JSON_ARRAY:
        json_array_foreach(v, i, m)
        {
            if (check_json(m, depth + 1, why) != 0)
                return -1;
        }
        return 0;
    default:
        return 0;
    }
}

/* authInfo's text (a string field) as a JSON object, checked. */
static int parse_auth_info(struct parse *p, const char *s, size_t n,
                           json_t **out)
{
    json_error_t jerr;
    const char *why = NULL;
    json_t *o;

    *out = NULL;
    if (check_text(s, n, 1, &why) != 0)
        return fault(p, AB_CB_MALFORMED, "field 'authInfo' %s", why);
    o = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return fault(p, AB_CB_MALFORMED,
                     "field 'authInfo' is not JSON (at character %d)",
                     jerr.position);
    if (!json_is_object(o)) {
        json_decref(o);
        return fault(p, AB_CB_MALFORMED,
                     "field 'authInfo' is not a JSON object");
    }
    if (check_json(o, 1, &why) != 0) {
        json_decref(o);
        return fault(p, AB_CB_MALFORMED, "field 'authInfo' %s", why);
    }
    *out = o;
    return 0;
}

/* Adds one field (value steals v). The checks of a top-level field. */
static int add_field(struct parse *p, const char *name, size_t nn, json_t *v)
{
    char label[48];
    const char *why = NULL;
    char *key;
    int rc;

    if (!v)
        return nomem(p);
    field_label(NULL, p->nfields, label, sizeof label);
    if (nn == 0) {
        json_decref(v);
        return fault(p, AB_CB_MALFORMED, "%s has an empty name", label);
    }
    if (nn > AB_CB_MAX_NAME || check_text(name, nn, 0, &why) != 0) {
        json_decref(v);
        return fault(p, AB_CB_MALFORMED, "%s has a name that %s", label,
                     why ? why : "is too long");
    }
    if (p->nfields >= AB_CB_MAX_FIELDS) {
        json_decref(v);
        return fault(p, AB_CB_MALFORMED, "more than %d fields",
                     AB_CB_MAX_FIELDS);
    }
    if (!(key = strndup(name, nn))) {
        json_decref(v);
        return nomem(p);
    }
    field_label(key, p->nfields, label, sizeof label);
    if (json_object_get(p->fields, key)) {
        free(key);
        json_decref(v);
        return fault(p, AB_CB_MALFORMED, "%s appears twice", label);
    }
    rc = json_object_set_new(p->fields, key, v);
    free(key);
    if (rc != 0)
        return nomem(p);
    p->nfields++;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes s[0..n) (%XX, '+' as space) into a new buffer *out of *on
 * bytes (NUL-terminated, may hold NULs). */
static int form_decode(const char *s, size_t n, char **out, size_t *on)
{
    char *d = malloc(n + 1);
    size_t i, o = 0;

    if (!d)
        return AB_ENOMEM;
    for (i = 0; i < n; i++) {
        if (s[i] == '+') {
            d[o++] = ' ';
        } else if (s[i] == '%') {
            int hi, lo;
            if (n - i < 3) {
                free(d);
                return AB_EDATA;
            }
            hi = hexval((unsigned char)s[i + 1]);
            lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) {
                free(d);
                return AB_EDATA;
            }
            d[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            d[o++] = s[i];
        }
    }
    d[o] = '\0';
    *out = d;
    *on = o;
    return 0;
}

static int parse_form(struct parse *p, const char *s, size_t n)
{
    size_t i = 0;

    while (i <= n) {
        const char *seg = s + i, *amp = memchr(seg, '&', n - i), *eq;
        size_t sn = amp ? (size_t)(amp - seg) : n - i;
        char *name = NULL, *val = NULL, label[48];
        size_t nn, vn;
        const char *why = NULL;
        json_t *v = NULL;
        int rc;

        i += sn + 1;
        if (sn == 0) { /* "a=1&&b=2", a trailing '&': nothing there */
            if (!amp)
                break;
            continue;
        }
        eq = memchr(seg, '=', sn);
        rc = form_decode(seg, eq ? (size_t)(eq - seg) : sn, &name, &nn);
        if (rc == 0 && eq)
            rc = form_decode(eq + 1, sn - (size_t)(eq - seg) - 1, &val, &vn);
        else if (rc == 0 && !(val = strdup("")))
            rc = AB_ENOMEM;
        else if (rc == 0)
            vn = 0;
        if (rc == AB_ENOMEM) {
            free(name);
            return nomem(p);
        }
        field_label(name, p->nfields, label, sizeof label);
        if (rc != 0) {
            free(name);
            return fault(p, AB_CB_MALFORMED, "%s has a broken %%-escape",
                         label);
        }
        if (strcmp(name, "authInfo") == 0 && vn > 0 && nn == 8) {
            if (vn > AB_CB_MAX_VALUE)
                rc = fault(p, AB_CB_MALFORMED, "%s is over %d bytes", label,
                           AB_CB_MAX_VALUE);
            else
                rc = parse_auth_info(p, val, vn, &v);
        } else if (vn > AB_CB_MAX_VALUE) {
            rc = fault(p, AB_CB_MALFORMED, "%s is over %d bytes", label,
                       AB_CB_MAX_VALUE);
        } else if (check_text(val, vn, 0, &why) != 0) {
            rc = fault(p, AB_CB_MALFORMED, "%s %s", label, why);
        } else {
            v = json_stringn(val, vn);
            rc = v ? 0 : nomem(p);
        }
        if (rc == 0)
            rc = add_field(p, name, nn, v);
        free(name);
        free(val);
        if (rc != 0)
            return rc;
        if (!amp)
            break;
    }
    return 0;
}

static int parse_json(struct parse *p, const char *s, size_t n)
{
    json_error_t jerr;
    const char *k, *why = NULL;
    json_t *root, *v;
    int rc = 0;

    root = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fault(p, AB_CB_MALFORMED,
                     "the body is not JSON (line %d, column %d)", jerr.line,
                     jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return fault(p, AB_CB_MALFORMED, "the body is not a JSON object");
    }
    json_object_foreach(root, k, v)
    {
        char label[48];
        json_t *info = NULL;

        field_label(k, p->nfields, label, sizeof label);
        /* authInfo's text is checked as JSON text (white space allowed
         * between tokens) by parse_auth_info. */
        if (!(strcmp(k, "authInfo") == 0 && json_is_string(v)) &&
            check_json(v, 1, &why) != 0) {
            rc = fault(p, AB_CB_MALFORMED, "%s %s", label, why);
            break;
        }
        if (strcmp(k, "authInfo") == 0 && json_is_string(v) &&
            json_string_length(v) > AB_CB_MAX_VALUE) {
            rc = fault(p, AB_CB_MALFORMED, "%s is over %d bytes", label,
                       AB_CB_MAX_VALUE);
            break;
        }
        if (strcmp(k, "authInfo") == 0 && json_is_string(v) &&
            json_string_length(v) > 0) {
            if ((rc = parse_auth_info(p, json_string_value(v),
                                      json_string_length(v), &info)) != 0)
                break;
            rc = add_field(p, k, strlen(k), info);
        } else {
            rc = add_field(p, k, strlen(k), json_incref(v));
        }
        if (rc != 0)
            break;
    }
    json_decref(root);
    return rc;
}

/* The body's syntax from its Content-Type: 'f' form, 'j' JSON, 's' sniff,
 * 0 refused. */
static int media_type(const char *ct)
{
    char type[128], *semi, *param;
    size_t n;

    if (!ct)
        return 's';
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (!*ct)
        return 's';
    if (strlen(ct) >= sizeof type)
        return 0;
    for (n = 0; ct[n]; n++) {
        unsigned char c = (unsigned char)ct[n];
        if (c < 0x20 || c >= 0x7f)
            return 0;
        type[n] = (char)tolower(c);
    }
    type[n] = '\0';
    param = NULL;
    if ((semi = strchr(type, ';'))) {
        *semi = '\0';
        param = semi + 1;
    }
    for (n = strlen(type);
         n > 0 && (type[n - 1] == ' ' || type[n - 1] == '\t');)
        type[--n] = '\0';
    /* Parameters: only charset matters, and it must be UTF-8. */
    while (param) {
        char *next = strchr(param, ';'), *v;
        if (next)
            *next++ = '\0';
        while (*param == ' ' || *param == '\t')
            param++;
        if (strncmp(param, "charset=", 8) == 0) {
            v = param + 8;
            n = strlen(v);
            while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                v[--n] = '\0';
            if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
                v[n - 1] = '\0';
                v++;
            }
            if (strcmp(v, "utf-8") != 0 && strcmp(v, "utf8") != 0)
                return 0;
        }
        param = next;
    }
    if (strcmp(type, "application/x-www-form-urlencoded") == 0)
        return 'f';
    n = strlen(type);
    if (strcmp(type, "application/json") == 0 ||
        strcmp(type, "text/json") == 0 ||
        (n > 5 && strcmp(type + n - 5, "+json") == 0 && strchr(type, '/')))
        return 'j';
    return 0;
}

/* A field's value as text: a string, or an integer written in decimal.
 * Sets *out to NULL when absent (missing, null, ""). */
static int scalar_text(struct parse *p, const char *name, size_t max,
                       char **out)
{
    json_t *v = json_object_get(p->fields, name);
    char buf[32];
    const char *s;
    size_t n;

    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        s = buf;
        n = strlen(buf);
    } else if (json_is_string(v)) {
        s = json_string_value(v);
        n = json_string_length(v);
    } else {
        return fault(p, AB_CB_MALFORMED,
                     "field '%s' is neither a string nor an integer", name);
    }
    if (n == 0)
        return 0;
    if (n > max)
        return fault(p, AB_CB_MALFORMED, "field '%s' is over %zu bytes", name,
                     max);
    if (memchr(s, '\0', n))
        return fault(p, AB_CB_MALFORMED, "field '%s' holds a control character",
                     name);
    if (!(*out = strndup(s, n)))
        return nomem(p);
    return 0;
}

/* One of authInfo's members as text, when it is a string or a number. */
static int info_text(struct parse *p, json_t *info, const char *name,
                     char **out)
{
    json_t *v = json_object_get(info, name);
    char buf[64];
    const char *s = NULL;
    size_t n = 0;

    if (*out)
        return 0; /* an earlier spelling won */
    if (json_is_object(v))
        v = json_object_get(v, "name"); /* "applicant": {"name": ...} */
    if (json_is_string(v)) {
        s = json_string_value(v);
        n = json_string_length(v);
    } else if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        s = buf;
        n = strlen(buf);
    }
    if (!s || n == 0)
        return 0;
    if (n > AB_CB_MAX_INFO)
        return fault(p, AB_CB_MALFORMED,
                     "field 'authInfo' member '%s' is over %d bytes", name,
                     AB_CB_MAX_INFO);
    if (memchr(s, '\0', n))
        return fault(p, AB_CB_MALFORMED,
                     "field 'authInfo' member '%s' holds a control character",
                     name);
    if (!(*out = strndup(s, n)))
        return nomem(p);
    return 0;
}

static int pick(struct parse *p)
{
    struct ab_cb *o = p->out;
    json_t *info, *key;
    int rc;

    if ((rc = scalar_text(p, "status", AB_CB_MAX_STATUS, &o->status)) ||
        (rc = scalar_text(p, "requestId", AB_CB_MAX_REQUEST_ID,
                          &o->request_id)) ||
        (rc =
             scalar_text(p, "actionEvent", AB_CB_MAX_STATUS, &o->action_event)))
        return rc;
    if (!o->status)
        return fault(p, AB_CB_MALFORMED,
                     json_object_get(p->fields, "status")
                         ? "field 'status' is empty"
                         : "no field 'status'");
    info = json_object_get(p->fields, "authInfo");
    if (info && !json_is_null(info) &&
        !(json_is_string(info) && json_string_length(info) == 0)) {
        if (!json_is_object(info))
            return fault(p, AB_CB_MALFORMED,
                         "field 'authInfo' is not a JSON object");
        if ((rc = info_text(p, info, "name", &o->name)) ||
            (rc = info_text(p, info, "registerNo", &o->register_no)) ||
            (rc = info_text(p, info, "legalPerson", &o->legal_person)) ||
            (rc = info_text(p, info, "applicantName", &o->applicant_name)) ||
            (rc = info_text(p, info, "applicant", &o->applicant_name)) ||
            (rc = info_text(p, info, "applicantPhone", &o->applicant_phone)))
            return rc;
    }
    key = json_pack("[sss]", o->status, "", "");
    if (!key)
        return nomem(p);
    json_array_set_new(
        key, 1, o->action_event ? json_string(o->action_event) : json_null());
    json_array_set_new(
        key, 2, o->request_id ? json_string(o->request_id) : json_null());
    {
        char *k = json_dumps(key, JSON_COMPACT);
        json_decref(key);
        if (!k)
            return nomem(p);
        o->dedupe_key = malloc(strlen(k) + 4);
        if (o->dedupe_key)
            sprintf(o->dedupe_key, "cb:%s", k);
        free(k);
        if (!o->dedupe_key)
            return nomem(p);
    }
    o->fields_json = json_dumps(p->fields, JSON_COMPACT | JSON_PRESERVE_ORDER);
    return o->fields_json ? 0 : nomem(p);
}

static int only_space_then_brace(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')
            continue;
        return s[i] == '{';
    }
    return 0;
}

int ab_cbparse(const char *query, size_t qn, const char *content_type,
               const char *body, size_t n, struct ab_cb *out)
{
    struct parse p = {0};
    int rc = 0, kind;

    memset(out, 0, sizeof *out);
    p.out = out;
    if (qn > AB_CB_MAX_QUERY)
        return fault(&p, AB_CB_TOO_LARGE, "the query is over %d bytes",
                     AB_CB_MAX_QUERY);
    if (n > AB_CB_MAX_BODY)
        return fault(&p, AB_CB_TOO_LARGE, "the body is over %d bytes",
                     AB_CB_MAX_BODY);
    kind = media_type(content_type);
    if (!kind)
        return fault(&p, AB_CB_MEDIA_TYPE,
                     "the content type is not a form or JSON in UTF-8");
    if (kind == 's')
        kind = only_space_then_brace(body, n) ? 'j' : 'f';
    if (!(p.fields = json_object()))
        return nomem(&p);
    if (query && qn > 0)
        rc = parse_form(&p, query, qn);
    if (rc == 0 && n > 0)
        rc = kind == 'j' ? parse_json(&p, body, n) : parse_form(&p, body, n);
    if (rc == 0)
        rc = pick(&p);
    json_decref(p.fields);
    if (rc != 0) {
        enum ab_cb_fault f = out->fault;
        char reason[sizeof out->reason];
        memcpy(reason, out->reason, sizeof reason);
        ab_cb_release(out);
        out->fault = f;
        memcpy(out->reason, reason, sizeof reason);
    }
    return rc;
}

void ab_cb_release(struct ab_cb *out)
{
    if (!out)
        return;
    free(out->status);
    free(out->request_id);
    free(out->action_event);
    free(out->name);
    free(out->register_no);
    free(out->legal_person);
    free(out->applicant_name);
    free(out->applicant_phone);
    free(out->fields_json);
    free(out->dedupe_key);
    memset(out, 0, sizeof *out);
}

const char *ab_cb_action_event_text(const char *action_event)
{
    static const struct {
        const char *v, *text;
    } t[] = {
        {"0", "submitted"},
        {"1", "basic information approved"},
        {"2", "basic information rejected"},
        {"4", "authorisation letter rejected"},
        {"7", "authenticated"},
    };
    size_t i;

    for (i = 0; action_event && i < sizeof t / sizeof t[0]; i++)
        if (strcmp(action_event, t[i].v) == 0)
            return t[i].text;
    return NULL;
}
