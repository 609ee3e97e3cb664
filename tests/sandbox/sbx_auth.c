#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strdup */
#endif
#include "sbx_auth.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#define REQUEST_ID_BASE UINT64_C(2800000000000000000)

struct ticket {
    size_t company;
    unsigned no; /* 1 for the company's first ticket, ... */
    int delivered;
    int64_t issued_ms;
    int64_t superseded_ms; /* 0 while it is the company's latest */
    char ticket[SBX_TICKET_LEN + 1];
};

struct company {
    char *name;
    char *register_no, *legal_person, *applicant_name, *contact;
    int contact_mobile;
    size_t latest; /* seq of its latest ticket */
    unsigned tickets;
};

struct sbx_auth {
    struct sbx_auth_opts opts;
    struct sbx_callbacks *cb;
    pthread_mutex_t mu;
    struct ticket *t;
    size_t nt, capt, undelivered;
    struct company *c;
    size_t nc, capc;
    size_t *slots; /* hash of names: company index + 1, 0 = empty */
    size_t nslots; /* power of two, at most half full */
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

struct sbx_auth *sbx_auth_new(const struct sbx_auth_opts *opts,
                              struct sbx_callbacks *cb)
{
    struct sbx_auth *a = calloc(1, sizeof *a);

    if (a == NULL)
        return NULL;
    a->opts = *opts;
    if (a->opts.minute_ms <= 0)
        a->opts.minute_ms = 60000;
    a->cb = cb;
    a->nslots = 1024;
    a->slots = calloc(a->nslots, sizeof *a->slots);
    if (a->slots == NULL) {
        free(a);
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    return a;
}

static void company_release(struct company *c)
{
    free(c->name);
    free(c->register_no);
    free(c->legal_person);
    free(c->applicant_name);
    free(c->contact);
}

void sbx_auth_free(struct sbx_auth *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->nc; i++)
        company_release(&a->c[i]);
    free(a->c);
    free(a->t);
    free(a->slots);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

void sbx_auth_request_id(size_t seq, char out[SBX_REQUEST_ID_LEN + 1])
{
    snprintf(out, SBX_REQUEST_ID_LEN + 1, "%" PRIu64,
             REQUEST_ID_BASE + (uint64_t)seq);
}

/* seq of requestId s, or 0 when it is not one of ours (a->mu held). */
static size_t parse_request_id(const struct sbx_auth *a, const char *s)
{
    uint64_t v = 0;

    if (strlen(s) != SBX_REQUEST_ID_LEN)
        return 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v <= REQUEST_ID_BASE || v - REQUEST_ID_BASE > a->nt)
        return 0;
    return (size_t)(v - REQUEST_ID_BASE);
}

/* Index of company name, or (size_t)-1 (a->mu held). */
static size_t find(const struct sbx_auth *a, const char *name, size_t *slot)
{
    size_t i = (size_t)fnv1a(name) & (a->nslots - 1);

    for (; a->slots[i] != 0; i = (i + 1) & (a->nslots - 1))
        if (strcmp(a->c[a->slots[i] - 1].name, name) == 0)
            break;
    if (slot != NULL)
        *slot = i;
    return a->slots[i] ? a->slots[i] - 1 : (size_t)-1;
}

static int grow_slots(struct sbx_auth *a)
{
    size_t n = a->nslots * 2;
    size_t *ns = calloc(n, sizeof *ns);

    if (ns == NULL)
        return -1;
    for (size_t k = 0; k < a->nc; k++) {
        size_t i = (size_t)fnv1a(a->c[k].name) & (n - 1);

        while (ns[i] != 0)
            i = (i + 1) & (n - 1);
        ns[i] = k + 1;
    }
    free(a->slots);
    a->slots = ns;
    a->nslots = n;
    return 0;
}

/* Replace *dst with a copy of src unless equal. -1 on OOM (*dst kept). */
static int set_field(char **dst, const char *src)
{
    char *copy;

    if ((*dst == NULL && src == NULL) ||
        (*dst != NULL && src != NULL && strcmp(*dst, src) == 0))
        return 0;
    copy = src ? strdup(src) : NULL;
    if (src != NULL && copy == NULL)
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

/* The index of f's company, created if new; (size_t)-1 on OOM. */
static size_t upsert(struct sbx_auth *a, const struct sbx_ticket_fields *f)
{
    size_t slot, k = find(a, f->company, &slot);
    struct company *c;

    if (k == (size_t)-1) {
        if (a->nc == a->capc) {
            size_t ncap = a->capc ? a->capc * 2 : 256;
            struct company *nv = realloc(a->c, ncap * sizeof *nv);

            if (nv == NULL)
                return (size_t)-1;
            a->c = nv;
            a->capc = ncap;
        }
        if (2 * (a->nc + 1) > a->nslots) {
            if (grow_slots(a) != 0)
                return (size_t)-1;
            find(a, f->company, &slot);
        }
        c = &a->c[a->nc];
        memset(c, 0, sizeof *c);
        c->name = strdup(f->company);
        if (c->name == NULL)
            return (size_t)-1;
        k = a->nc++;
        a->slots[slot] = k + 1;
    }
    c = &a->c[k];
    if (set_field(&c->register_no, f->register_no) != 0 ||
        set_field(&c->legal_person, f->legal_person) != 0 ||
        set_field(&c->applicant_name, f->applicant_name) != 0 ||
        set_field(&c->contact, f->contact) != 0)
        return (size_t)-1;
    c->contact_mobile = f->contact_mobile;
    return k;
}

static void story_of(const struct sbx_auth *a, const struct ticket *t,
                     struct sbx_story *st)
{
    if (t->delivered)
        sbx_story_draw(a->opts.seed, a->c[t->company].name, t->no, &a->opts.mix,
                       st);
    else
        sbx_story_undelivered(st);
    sbx_story_scale(st, a->opts.minute_ms);
}

/* Real ms between a ticket's issue and now (frozen once it was
 * superseded). */
static int64_t elapsed_ms(const struct ticket *t, int64_t now_ms)
{
    int64_t end = t->superseded_ms != 0 && t->superseded_ms < now_ms
                      ? t->superseded_ms
                      : now_ms;

    return end - t->issued_ms;
}

/* authInfo as the vendor's callback carries it (a->mu held). */
static char *auth_info(const struct company *c)
{
    json_t *o = json_object();
    char *s;

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "name", json_string(c->name));
    if (c->register_no)
        json_object_set_new(o, "registerNo", json_string(c->register_no));
    if (c->legal_person)
        json_object_set_new(o, "legalPerson", json_string(c->legal_person));
    if (c->applicant_name)
        json_object_set_new(o, "applicantName", json_string(c->applicant_name));
    if (c->contact && c->contact_mobile)
        json_object_set_new(o, "applicantPhone", json_string(c->contact));
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* Queue ticket seq's callbacks (a->mu held). */
static void schedule_callbacks(struct sbx_auth *a, size_t seq, const char *url)
{
    const struct ticket *t = &a->t[seq - 1];
    const struct company *c = &a->c[t->company];
    struct sbx_story_event ev[2];
    struct sbx_story st;
    char rid[SBX_REQUEST_ID_LEN + 1];
    char *info;
    size_t n;

    story_of(a, t, &st);
    n = sbx_story_events(&st, ev);
    if (n == 0)
        return;
    info = auth_info(c);
    if (info == NULL)
        return;
    sbx_auth_request_id(seq, rid);
    for (size_t i = 0; i < n; i++) {
        struct sbx_callback_msg m = {c->name, rid, ev[i].status,
                                     ev[i].action_event, info};

        sbx_callback_add(a->cb, t->company, t->issued_ms + ev[i].at, url, &m);
    }
    free(info);
}

size_t sbx_auth_issue(struct sbx_auth *a, const struct sbx_ticket_fields *f,
                      int delivered, int64_t now_ms,
                      char ticket[SBX_TICKET_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[SBX_TICKET_LEN / 2];
    struct ticket *t;
    struct company *c;
    size_t k, seq = 0;

    if (RAND_bytes(raw, sizeof raw) != 1)
        return 0;
    for (size_t i = 0; i < sizeof raw; i++) {
        ticket[2 * i] = hex[raw[i] >> 4];
        ticket[2 * i + 1] = hex[raw[i] & 0x0f];
    }
    ticket[SBX_TICKET_LEN] = '\0';
    pthread_mutex_lock(&a->mu);
    if (a->nt == a->capt) {
        size_t ncap = a->capt ? a->capt * 2 : 1024;
        struct ticket *nv = realloc(a->t, ncap * sizeof *nv);

        if (nv == NULL)
            goto out;
        a->t = nv;
        a->capt = ncap;
    }
    k = upsert(a, f);
    if (k == (size_t)-1)
        goto out;
    c = &a->c[k];
    if (c->latest != 0) {
        a->t[c->latest - 1].superseded_ms = now_ms;
        if (a->cb != NULL) /* the previous story stops here */
            sbx_callback_cancel(a->cb, k, now_ms);
    }
    t = &a->t[a->nt];
    t->company = k;
    t->no = ++c->tickets;
    t->delivered = delivered;
    t->issued_ms = now_ms;
    t->superseded_ms = 0;
    memcpy(t->ticket, ticket, sizeof t->ticket);
    seq = ++a->nt;
    c->latest = seq;
    if (!delivered)
        a->undelivered++;
    if (delivered && a->cb != NULL && f->callback_url != NULL)
        schedule_callbacks(a, seq, f->callback_url);
out:
    pthread_mutex_unlock(&a->mu);
    return seq;
}

void sbx_auth_undelivered(struct sbx_auth *a, size_t seq, int64_t now_ms)
{
    pthread_mutex_lock(&a->mu);
    if (seq >= 1 && seq <= a->nt && a->t[seq - 1].delivered) {
        struct ticket *t = &a->t[seq - 1];

        t->delivered = 0;
        a->undelivered++;
        if (a->cb != NULL && a->c[t->company].latest == seq)
            sbx_callback_cancel(a->cb, t->company, now_ms);
    }
    pthread_mutex_unlock(&a->mu);
}

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v != NULL)
        json_object_set_new(o, key, json_string(v));
}

json_t *sbx_auth_result(struct sbx_auth *a, enum sbx_auth_by by,
                        const char *key, int64_t now_ms, double u_unknown,
                        double u_spelling)
{
    const struct company *c;
    const struct ticket *t;
    struct sbx_story st;
    char rid[SBX_REQUEST_ID_LEN + 1];
    const char *applicant_key = "applicantName";
    json_t *o;
    size_t seq = 0, k;
    int status;
    char *info;

    pthread_mutex_lock(&a->mu);
    if (by == SBX_AUTH_BY_REQUEST_ID) {
        seq = parse_request_id(a, key);
    } else {
        k = find(a, key, NULL);
        if (k != (size_t)-1)
            seq = a->c[k].latest;
    }
    if (seq == 0) {
        pthread_mutex_unlock(&a->mu);
        return json_pack("{s:i}", "status", SBX_STATUS_NO_RECORD);
    }
    t = &a->t[seq - 1];
    c = &a->c[t->company];
    story_of(a, t, &st);
    status = sbx_story_status(&st, elapsed_ms(t, now_ms));
    if (a->opts.unknown_frac > 0 && u_unknown < a->opts.unknown_frac)
        status = a->opts.unknown_status;
    if (a->opts.applicant_field == SBX_APPLICANT ||
        (a->opts.applicant_field == SBX_APPLICANT_MIXED && u_spelling < 0.5))
        applicant_key = "applicant";
    sbx_auth_request_id(seq, rid);
    info = auth_info(c);
    o = json_pack("{s:i,s:s,s:s}", "status", status, "requestId", rid, "name",
                  c->name);
    if (o != NULL) {
        set_str(o, "registerNo", c->register_no);
        set_str(o, "legalPerson", c->legal_person);
        set_str(o, applicant_key, c->applicant_name);
        set_str(o, "applicantPhone", c->contact_mobile ? c->contact : NULL);
        set_str(o, "authInfo", info);
        if (status == SBX_STATUS_REJECTED)
            set_str(o, "basicReason", st.reason);
    }
    pthread_mutex_unlock(&a->mu);
    free(info);
    return o;
}

json_t *sbx_auth_ledger_json(struct sbx_auth *a)
{
    json_t *arr = json_array();
    char rid[SBX_REQUEST_ID_LEN + 1];

    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->nt; i++) {
        sbx_auth_request_id(i + 1, rid);
        json_array_append_new(
            arr, json_pack("{s:I,s:s,s:s,s:s,s:b}", "seq", (json_int_t)(i + 1),
                           "company", a->c[a->t[i].company].name, "ticket",
                           a->t[i].ticket, "requestId", rid, "delivered",
                           a->t[i].delivered));
    }
    pthread_mutex_unlock(&a->mu);
    return json_pack("{s:o}", "tickets", arr);
}

json_t *sbx_auth_truth_json(struct sbx_auth *a, int64_t now_ms)
{
    json_t *arr = json_array();
    char rid[SBX_REQUEST_ID_LEN + 1];
    int settled = 1;

    pthread_mutex_lock(&a->mu);
    for (size_t k = 0; k < a->nc; k++) {
        const struct company *c = &a->c[k];
        const struct ticket *t = &a->t[c->latest - 1];
        struct sbx_story st;
        int64_t el = elapsed_ms(t, now_ms), next;
        int status;
        json_t *e;

        story_of(a, t, &st);
        status = sbx_story_status(&st, el);
        next = sbx_story_next_change(&st, el);
        if (next >= 0)
            settled = 0;
        sbx_auth_request_id(c->latest, rid);
        e = json_pack("{s:s,s:i,s:s,s:s,s:i,s:b,s:b}", "company", c->name,
                      "status", status, "requestId", rid, "fate",
                      sbx_fate_name(st.fate), "tickets", (int)c->tickets,
                      "delivered", t->delivered, "final", next < 0);
        if (e == NULL)
            continue;
        json_object_set_new(e, "basicReason",
                            status == SBX_STATUS_REJECTED && st.reason
                                ? json_string(st.reason)
                                : json_null());
        json_object_set_new(
            e, "changes_at_ms",
            next < 0 ? json_null()
                     : json_integer((json_int_t)(t->issued_ms + next)));
        json_object_set_new(e, "callbacks",
                            a->cb ? sbx_callback_company_json(a->cb, k)
                                  : json_null());
        json_array_append_new(arr, e);
    }
    pthread_mutex_unlock(&a->mu);
    return json_pack("{s:I,s:b,s:o}", "at_ms", (json_int_t)now_ms, "settled",
                     settled, "companies", arr);
}

void sbx_auth_counts(struct sbx_auth *a, size_t *tickets, size_t *undelivered)
{
    pthread_mutex_lock(&a->mu);
    *tickets = a->nt;
    *undelivered = a->undelivered;
    pthread_mutex_unlock(&a->mu);
}
