#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strdup, getline, strncasecmp */
#endif
#include "sbx_check.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "sbx_sign.h"

void sbx_answer_set(struct sbx_answer *ans, unsigned int http_status,
                    long long code, const char *message,
                    const char *response_code)
{
    ans->http_status = http_status;
    ans->code = code;
    snprintf(ans->message, sizeof ans->message, "%s", message);
    ans->response_code = response_code;
}

char *sbx_answer_json(const struct sbx_answer *ans)
{
    json_t *o = json_object();
    char *s = NULL;

    if (o == NULL)
        return NULL;
    if (json_object_set_new(o, "code", json_integer(ans->code)) == 0 &&
        json_object_set_new(o, "message", json_string(ans->message)) == 0 &&
        (ans->response_code == NULL ||
         json_object_set_new(o, "responseCode",
                             json_string(ans->response_code)) == 0))
        s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static int absent(const char *v)
{
    return v == NULL || v[0] == '\0';
}

/* Strict decimal Unix ms: 1..18 digits, nothing else. */
static int parse_ms(const char *s, int64_t *out)
{
    int64_t v = 0;
    size_t n = strlen(s);

    if (n == 0 || n > 18)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int sbx_check_auth(const struct sbx_auth_input *in, const char *want_token,
                   const char *secret, int64_t now_ms, int64_t window_ms,
                   struct sbx_answer *ans)
{
    static const char *const names[4] = {SBX_HDR_TOKEN, SBX_HDR_TIMESTAMP,
                                         SBX_HDR_NONCE, SBX_HDR_SIGNATURE};
    const char *vals[4] = {in->token, in->timestamp, in->nonce, in->signature};
    char want[SBX_SIGN_HEX_LEN + 1];
    char msg[64];
    int64_t ts;

    for (int i = 0; i < 4; i++) {
        if (absent(vals[i])) {
            snprintf(msg, sizeof msg, "HEADER REQUIRED,%s", names[i]);
            sbx_answer_set(ans, 441, 441, msg, "11990441");
            return 441;
        }
    }
    if (strcmp(in->token, want_token) != 0) {
        sbx_answer_set(ans, 442, 442, "INVALID TOKEN", "11990442");
        return 442;
    }
    if (sbx_sign_md5hex(in->token, secret, in->timestamp, in->nonce, want) !=
            0 ||
        !sbx_sign_equal(in->signature, want)) {
        sbx_answer_set(ans, 443, 443, "INVALID SIGNATURE", NULL);
        return 443;
    }
    if (parse_ms(in->timestamp, &ts) != 0 || ts > now_ms + window_ms ||
        ts < now_ms - window_ms) {
        sbx_answer_set(ans, 444, 444, "TIMESTAMP EXPIRED", NULL);
        return 444;
    }
    return 0;
}

void sbx_answer_replay(struct sbx_answer *ans)
{
    sbx_answer_set(ans, 445, 445, "NONCE REPLAYED", NULL);
}

int sbx_answer_fatal(long long code, struct sbx_answer *ans)
{
    switch (code) {
    case 441:
        sbx_answer_set(ans, 441, 441, "HEADER REQUIRED," SBX_HDR_TOKEN,
                       "11990441");
        return 0;
    case 442:
        sbx_answer_set(ans, 442, 442, "INVALID TOKEN", "11990442");
        return 0;
    case 443:
        sbx_answer_set(ans, 443, 443, "INVALID SIGNATURE", NULL);
        return 0;
    case 444:
        sbx_answer_set(ans, 444, 444, "TIMESTAMP EXPIRED", NULL);
        return 0;
    case 445:
        sbx_answer_replay(ans);
        return 0;
    case 1002:
        sbx_answer_set(ans, 200, 1002, "PERMISSION DENIED", NULL);
        return 0;
    case 1601:
        sbx_answer_set(ans, 200, 1601, "INSUFFICIENT BALANCE", NULL);
        return 0;
    default:
        return -1;
    }
}

int sbx_check_content_type(const char *content_type, struct sbx_answer *ans)
{
    static const char want[] = "application/json";

    if (content_type == NULL ||
        strncasecmp(content_type, want, sizeof want - 1) != 0) {
        sbx_answer_set(ans, 200, 1005, "INVALID PARAM: content type", NULL);
        return 1005;
    }
    return 0;
}

static int invalid(struct sbx_answer *ans, const char *what)
{
    char msg[200];

    snprintf(msg, sizeof msg, "INVALID PARAM: %s", what);
    sbx_answer_set(ans, 200, 1005, msg, NULL);
    return 1005;
}

static int blank(const char *s)
{
    for (; *s != '\0'; s++)
        if (!isspace((unsigned char)*s))
            return 0;
    return 1;
}

/* Any member whose value is JSON null is refused, naming the member. */
static int find_null(json_t *obj, const char *prefix, char *what,
                     size_t whatlen)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v)
    {
        if (json_is_null(v)) {
            snprintf(what, whatlen, "%s%.100s is null", prefix, key);
            return 1;
        }
    }
    return 0;
}

/* Optional string member: absent is fine, else a non-empty string. */
static int opt_string(json_t *obj, const char *key, const char *prefix,
                      char *what, size_t whatlen)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return 0;
    if (!json_is_string(v)) {
        snprintf(what, whatlen, "%s%s must be a string", prefix, key);
        return 1;
    }
    if (json_string_length(v) == 0) {
        snprintf(what, whatlen, "%s%s is empty", prefix, key);
        return 1;
    }
    return 0;
}

static int modify_fields_ok(const char *s)
{
    static const char *const allowed[] = {"corpName", "registerNo",
                                          "legalPerson"};

    for (;;) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        int found = 0;

        for (size_t i = 0; i < 3; i++)
            if (strlen(allowed[i]) == n && memcmp(allowed[i], s, n) == 0)
                found = 1;
        if (!found)
            return 0;
        if (comma == NULL)
            return 1;
        s = comma + 1;
    }
}

static int check_shape(json_t *root, struct sbx_answer *ans)
{
    char what[160];
    json_t *name, *app, *v;

    if (!json_is_object(root))
        return invalid(ans, "body must be a JSON object");
    if (find_null(root, "", what, sizeof what))
        return invalid(ans, what);
    name = json_object_get(root, "companyName");
    if (name == NULL)
        return invalid(ans, "companyName is required");
    if (!json_is_string(name) || blank(json_string_value(name)))
        return invalid(ans, "companyName must be a non-empty string");
    app = json_object_get(root, "applicant");
    if (app == NULL)
        return invalid(ans, "applicant is required");
    if (!json_is_object(app))
        return invalid(ans, "applicant must be an object");
    if (find_null(app, "applicant.", what, sizeof what))
        return invalid(ans, what);
    v = json_object_get(app, "contact");
    if (v == NULL || !json_is_string(v) || blank(json_string_value(v)))
        return invalid(ans, "applicant.contact must be a non-empty string");
    v = json_object_get(app, "contactType");
    if (v == NULL || !json_is_string(v) ||
        (strcmp(json_string_value(v), "MOBILE") != 0 &&
         strcmp(json_string_value(v), "EMAIL") != 0))
        return invalid(ans, "applicant.contactType must be MOBILE or EMAIL");
    if (opt_string(app, "name", "applicant.", what, sizeof what))
        return invalid(ans, what);
    v = json_object_get(root, "closeButton");
    if (v != NULL && !json_is_boolean(v))
        return invalid(ans, "closeButton must be a boolean");
    if (opt_string(root, "modifyFields", "", what, sizeof what))
        return invalid(ans, what);
    v = json_object_get(root, "modifyFields");
    if (v != NULL && !modify_fields_ok(json_string_value(v)))
        return invalid(ans, "modifyFields must be a comma list of "
                            "corpName,registerNo,legalPerson");
    if (opt_string(root, "registerNo", "", what, sizeof what) ||
        opt_string(root, "legalPerson", "", what, sizeof what) ||
        opt_string(root, "callbackUrl", "", what, sizeof what))
        return invalid(ans, what);
    return 0;
}

void sbx_ticket_fields_release(struct sbx_ticket_fields *f)
{
    free(f->company);
    free(f->register_no);
    free(f->legal_person);
    free(f->applicant_name);
    free(f->contact);
    free(f->callback_url);
    memset(f, 0, sizeof *f);
}

/* A copy of obj's string member key, or NULL when absent; -1 on OOM. */
static int copy_member(json_t *obj, const char *key, char **out)
{
    const char *v = json_string_value(json_object_get(obj, key));

    *out = NULL;
    if (v == NULL)
        return 0;
    *out = strdup(v);
    return *out ? 0 : -1;
}

int sbx_check_ticket_body(const char *body, size_t len,
                          struct sbx_ticket_fields *out, struct sbx_answer *ans)
{
    json_error_t jerr;
    json_t *root, *app;
    int rc;

    memset(out, 0, sizeof *out);
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return invalid(ans, "body is not valid JSON");
    rc = check_shape(root, ans);
    if (rc == 0) {
        app = json_object_get(root, "applicant");
        out->contact_mobile =
            strcmp(json_string_value(json_object_get(app, "contactType")),
                   "MOBILE") == 0;
        if (copy_member(root, "companyName", &out->company) != 0 ||
            copy_member(root, "registerNo", &out->register_no) != 0 ||
            copy_member(root, "legalPerson", &out->legal_person) != 0 ||
            copy_member(root, "callbackUrl", &out->callback_url) != 0 ||
            copy_member(app, "name", &out->applicant_name) != 0 ||
            copy_member(app, "contact", &out->contact) != 0) {
            sbx_ticket_fields_release(out);
            rc = invalid(ans, "out of memory");
        }
    }
    json_decref(root);
    return rc;
}

int sbx_check_body(const char *body, size_t len, char **company,
                   struct sbx_answer *ans)
{
    struct sbx_ticket_fields f;
    int rc = sbx_check_ticket_body(body, len, &f, ans);

    *company = f.company;
    f.company = NULL;
    sbx_ticket_fields_release(&f);
    return rc;
}

struct sbx_names {
    size_t n;
    char **v;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *trim(char *s)
{
    size_t n;

    while (isspace((unsigned char)*s))
        s++;
    n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int sbx_names_load(const char *path, struct sbx_names **out, char *err,
                   size_t errlen)
{
    struct sbx_names *names;
    char *line = NULL;
    size_t cap = 0, vcap = 0;
    FILE *f;

    *out = NULL;
    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    names = calloc(1, sizeof *names);
    if (names == NULL)
        goto out_oom;
    while (getline(&line, &cap, f) >= 0) {
        char *t = trim(line);

        if (*t == '\0')
            continue;
        if (names->n == vcap) {
            size_t ncap = vcap ? vcap * 2 : 16;
            char **nv = realloc(names->v, ncap * sizeof *nv);

            if (nv == NULL)
                goto out_oom;
            names->v = nv;
            vcap = ncap;
        }
        names->v[names->n] = strdup(t);
        if (names->v[names->n] == NULL)
            goto out_oom;
        names->n++;
    }
    free(line);
    fclose(f);
    if (names->n > 0)
        qsort(names->v, names->n, sizeof *names->v, cmp_str);
    *out = names;
    return 0;

out_oom:
    free(line);
    fclose(f);
    sbx_names_free(names);
    snprintf(err, errlen, "cannot load '%s': out of memory", path);
    return -1;
}

void sbx_names_free(struct sbx_names *names)
{
    if (names == NULL)
        return;
    for (size_t i = 0; i < names->n; i++)
        free(names->v[i]);
    free(names->v);
    free(names);
}

int sbx_names_contains(const struct sbx_names *names, const char *name)
{
    if (names == NULL || names->n == 0)
        return 0;
    return bsearch(&name, names->v, names->n, sizeof *names->v, cmp_str) !=
           NULL;
}

static int has_marker(const char *company, const char *marker)
{
    return marker != NULL && marker[0] != '\0' &&
           strstr(company, marker) != NULL;
}

enum sbx_company_kind sbx_check_company(const struct sbx_business *biz,
                                        const char *company,
                                        struct sbx_answer *ans)
{
    enum sbx_company_kind kind = SBX_COMPANY_NORMAL;
    char *trimmed = strdup(company);
    const char *key = trimmed ? trim(trimmed) : company;

    if (has_marker(company, biz->invalid_marker) ||
        sbx_names_contains(biz->invalid_list, key)) {
        sbx_answer_set(ans, 200, 1005, "INVALID PARAM", NULL);
        kind = SBX_COMPANY_INVALID;
    } else if (has_marker(company, biz->authed_marker) ||
               sbx_names_contains(biz->authed_list, key)) {
        sbx_answer_set(ans, 200, 1605, "COMPANY ALREADY AUTHED", NULL);
        kind = SBX_COMPANY_AUTHED;
    }
    free(trimmed);
    return kind;
}
