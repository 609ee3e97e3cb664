/* report_json.c - the JSON report: one document, streamed. The header and
 * summary are built with jansson; the company array is written one row at a
 * time with json_dumpf, so memory does not grow with the rows. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report_internal.h"

/* A JSON string for s; bytes that are not UTF-8 become U+FFFD (the store
 * may hold rows other programs inserted). NULL gives JSON null. */
static json_t *jstr(const char *s)
{
    json_t *j;
    size_t n, i, o = 0;
    char *clean;

    if (!s)
        return json_null();
    if ((j = json_string(s)))
        return j;
    n = strlen(s);
    if (!(clean = malloc(n * 3 + 1)))
        return json_null();
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x80) {
            clean[o++] = (char)ch;
        } else {
            /* Keep a sequence only if jansson accepts it alone. */
            size_t len = ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : ch >= 0xC0 ? 2 : 1;
            json_t *t =
                len > 1 && i + len <= n ? json_stringn(s + i, len) : NULL;
            if (t) {
                memcpy(clean + o, s + i, len);
                o += len;
                i += len - 1;
                json_decref(t);
            } else {
                memcpy(clean + o, "\xEF\xBF\xBD", 3);
                o += 3;
            }
        }
    }
    clean[o] = '\0';
    j = json_string(clean);
    free(clean);
    return j ? j : json_null();
}

static json_t *jint_or_null(int present, int64_t v)
{
    return present ? json_integer((json_int_t)v) : json_null();
}

static json_t *jtime(int64_t ms)
{
    char buf[40];
    if (ms <= 0)
        return json_null();
    ab_report_iso_utc(buf, sizeof buf, ms);
    return json_string(buf);
}

static json_t *percentiles(const struct ab_percentiles *p, const char *nkey)
{
    json_t *o = json_object();
    json_object_set_new(o, nkey, json_integer(p->n));
    json_object_set_new(o, "p50", jint_or_null(p->n > 0, p->p50));
    json_object_set_new(o, "p90", jint_or_null(p->n > 0, p->p90));
    json_object_set_new(o, "p99", jint_or_null(p->n > 0, p->p99));
    json_object_set_new(o, "max", jint_or_null(p->n > 0, p->max));
    return o;
}

static json_t *run_json(const struct ab_run_row *r)
{
    json_t *o = json_object();
    int ended = r->ended_at >= 0;

    json_object_set_new(o, "id", json_integer(r->id));
    json_object_set_new(o, "started_at", jtime(r->started_at));
    json_object_set_new(o, "started_at_ms", json_integer(r->started_at));
    json_object_set_new(o, "ended_at_ms", jint_or_null(ended, r->ended_at));
    json_object_set_new(
        o, "duration_s",
        ended ? json_real((double)(r->ended_at - r->started_at) / 1000.0)
              : json_null());
    json_object_set_new(o, "pid", json_integer(r->pid));
    json_object_set_new(o, "attempts", json_integer(r->attempts));
    json_object_set_new(o, "polls", json_integer(r->polls));
    json_object_set_new(o, "issued", json_integer(r->issued));
    json_object_set_new(o, "already_authed", json_integer(r->already_authed));
    json_object_set_new(o, "failed", json_integer(r->failed));
    json_object_set_new(o, "retried", json_integer(r->retried));
    json_object_set_new(o, "throttled", json_integer(r->throttled));
    json_object_set_new(o, "transport_errors",
                        json_integer(r->transport_errors));
    json_object_set_new(o, "exit_status",
                        jint_or_null(r->exit_status >= 0, r->exit_status));
    json_object_set_new(o, "requests_per_second",
                        json_real(ab_report_run_rate(r)));
    return o;
}

static json_t *summary_json(const struct ab_report_summary *sum)
{
    const struct ab_counts *n = &sum->counts;
    int64_t fin = n->done + n->already_authed + n->failed;
    json_t *o = json_object(), *counts = json_object(), *errs = json_array();
    json_t *hist = json_array(), *runs = json_array(), *lat;
    size_t i;
    int k;

    for (k = 0; k < 6; k++)
        json_object_set_new(
            counts, ab_report_statuses[k],
            json_integer(ab_report_count_of(n, ab_report_statuses[k])));
    json_object_set_new(o, "total", json_integer(n->total));
    json_object_set_new(o, "finished", json_integer(fin));
    json_object_set_new(
        o, "percent_finished",
        json_real(n->total
                      ? round(10000.0 * (double)fin / (double)n->total) / 100.0
                      : 0.0));
    json_object_set_new(o, "counts", counts);
    json_object_set_new(o, "funnel", ab_funnel_json(&sum->funnel));
    for (i = 0; i < sum->ncodes; i++) {
        const struct ab_report_codeinfo *c = &sum->codes[i];
        json_t *e = json_object(), *ex = json_array();
        json_object_set_new(e, "code", jint_or_null(c->has_code, c->code));
        json_object_set_new(e, "message", jstr(c->message));
        json_object_set_new(e, "companies", json_integer(c->count));
        json_object_set_new(e, "failed", json_integer(c->failed));
        for (k = 0; k < c->nexamples; k++)
            json_array_append_new(ex, jstr(c->examples[k]));
        json_object_set_new(e, "examples", ex);
        json_array_append_new(errs, e);
    }
    json_object_set_new(o, "errors", errs);
    json_object_set_new(o, "other_errors",
                        json_integer(sum->other_codes_count));
    json_object_set_new(o, "attempts",
                        percentiles(&sum->attempts, "companies"));
    lat = percentiles(&sum->latency, "attempts");
    for (k = 0; k < AB_LATENCY_BUCKETS; k++) {
        json_t *b = json_object();
        json_object_set_new(b, "from_ms",
                            json_integer(ab_latency_bucket_lo[k]));
        json_object_set_new(b, "to_ms",
                            jint_or_null(k + 1 < AB_LATENCY_BUCKETS,
                                         k + 1 < AB_LATENCY_BUCKETS
                                             ? ab_latency_bucket_lo[k + 1]
                                             : 0));
        json_object_set_new(b, "count", json_integer(sum->latency_hist[k]));
        json_array_append_new(hist, b);
    }
    json_object_set_new(lat, "histogram", hist);
    json_object_set_new(o, "latency_ms", lat);
    for (i = 0; i < sum->nruns; i++)
        json_array_append_new(runs, run_json(&sum->runs[i]));
    json_object_set_new(o, "runs", runs);
    json_object_set_new(o, "last_success_at", jtime(sum->last_success_ms));
    json_object_set_new(
        o, "last_success_at_ms",
        jint_or_null(sum->last_success_ms > 0, sum->last_success_ms));
    return o;
}

struct rows_ctx {
    FILE *out;
    int first;
};

static int on_company(void *ctx, const struct ab_report_company *c)
{
    struct rows_ctx *r = ctx;
    json_t *o = json_object();
    int rc;

    json_object_set_new(o, "id", json_integer(c->id));
    json_object_set_new(o, "company_name", jstr(c->company_name));
    json_object_set_new(o, "register_no", jstr(c->register_no));
    json_object_set_new(o, "status", jstr(c->status));
    json_object_set_new(o, "attempts", json_integer(c->attempts));
    json_object_set_new(
        o, "last_http_status",
        jint_or_null(c->last_http_status >= 0, c->last_http_status));
    json_object_set_new(o, "last_code",
                        jint_or_null(c->has_code, c->last_code));
    json_object_set_new(o, "last_message", jstr(c->last_message));
    json_object_set_new(o, "updated_at", jtime(c->updated_at));
    json_object_set_new(o, "auth_status", jstr(c->auth_status));
    json_object_set_new(o, "auth_reason", jstr(c->auth_reason));
    json_object_set_new(o, "auth_changed_at", jtime(c->auth_changed_at));
    if (c->ticket) {
        json_object_set_new(o, "ticket", jstr(c->ticket));
        json_object_set_new(o, "ticket_at", jtime(c->ticket_at));
    }
    fputs(r->first ? "\n" : ",\n", r->out);
    r->first = 0;
    rc = json_dumpf(o, r->out,
                    JSON_COMPACT | JSON_PRESERVE_ORDER |
                        JSON_REAL_PRECISION(15));
    json_decref(o);
    return rc != 0 || ferror(r->out) ? AB_EIO : 0;
}

int ab_report_json(struct ab_store *s, const struct ab_report_opts *o,
                   const struct ab_report_summary *sum, FILE *out,
                   struct ab_err *err)
{
    json_t *head = json_object(), *summary = summary_json(sum);
    struct rows_ctx r = {out, 1};
    int rc;

    json_object_set_new(head, "generated_at", jtime(sum->now_ms));
    json_object_set_new(head, "generated_at_ms", json_integer(sum->now_ms));
    json_object_set_new(head, "database", jstr(sum->title));
    json_object_set_new(head, "version", json_string(AB_VERSION));
    json_object_set_new(head, "status_filter", jstr(o->status));
    json_object_set_new(head, "with_tickets", json_boolean(o->with_tickets));

    fputs("{\"report\": ", out);
    rc = json_dumpf(head, out,
                    JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                        JSON_REAL_PRECISION(15));
    fputs(",\n\"summary\": ", out);
    if (rc == 0)
        rc = json_dumpf(summary, out,
                        JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                            JSON_REAL_PRECISION(15));
    json_decref(head);
    json_decref(summary);
    if (rc != 0)
        return AB_EIO;
    fputs(",\n\"companies\": [", out);
    rc = ab_store_report_companies(s, o->status, o->with_tickets, on_company,
                                   &r, err);
    if (rc != 0)
        return rc;
    fputs("\n]}\n", out);
    return 0;
}
