#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "i18n.h"
#include "report_internal.h"
#include "safetext.h"

const char *const ab_report_statuses[6] = {
    "done", "already_authed", "failed", "retry_wait", "in_flight", "pending",
};

int ab_report_parse_format(const char *s, enum ab_report_format *out)
{
    static const char *const names[] = {"text", "json", "csv", "html"};
    size_t i;

    for (i = 0; s && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum ab_report_format)i;
            return 0;
        }
    }
    return AB_EINVAL;
}

int ab_report_valid_status(const char *s)
{
    size_t i;
    for (i = 0; s && i < 6; i++)
        if (strcmp(s, ab_report_statuses[i]) == 0)
            return 1;
    return 0;
}

int64_t ab_report_count_of(const struct ab_counts *c, const char *status)
{
    if (strcmp(status, "pending") == 0)
        return c->pending;
    if (strcmp(status, "in_flight") == 0)
        return c->in_flight;
    if (strcmp(status, "retry_wait") == 0)
        return c->retry_wait;
    if (strcmp(status, "done") == 0)
        return c->done;
    if (strcmp(status, "already_authed") == 0)
        return c->already_authed;
    if (strcmp(status, "failed") == 0)
        return c->failed;
    return 0;
}

double ab_report_run_rate(const struct ab_run_row *r)
{
    int64_t dur = r->ended_at >= 0 ? r->ended_at - r->started_at : -1;
    if (dur <= 0)
        return 0.0;
    return (double)(r->attempts + r->polls) * 1000.0 / (double)dur;
}

void ab_report_iso_utc(char *buf, size_t n, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, n, "?");
}

void ab_report_local_time(char *buf, size_t n, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S %z", &tm))
        snprintf(buf, n, "?");
}

/* Loading the summary. */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int on_code(void *ctx, const struct ab_report_code *c)
{
    struct ab_report_summary *sum = ctx;
    struct ab_report_codeinfo *ci;
    int i;

    if (sum->ncodes == AB_REPORT_MAX_CODES) {
        sum->other_codes_count += c->count;
        return 0;
    }
    if (sum->ncodes % 16 == 0) {
        void *p = realloc(sum->codes, (sum->ncodes + 16) * sizeof *sum->codes);
        if (!p)
            return AB_ENOMEM;
        sum->codes = p;
    }
    ci = &sum->codes[sum->ncodes++];
    memset(ci, 0, sizeof *ci);
    ci->has_code = c->has_code;
    ci->code = c->code;
    ci->count = c->count;
    ci->failed = c->failed;
    ci->message = dup_or_null(c->message);
    for (i = 0; i < c->nexamples; i++)
        ci->examples[ci->nexamples++] = dup_or_null(c->examples[i]);
    return 0;
}

static int on_run(void *ctx, const struct ab_run_row *r)
{
    struct ab_report_summary *sum = ctx;
    void *p = realloc(sum->runs, (sum->nruns + 1) * sizeof *sum->runs);
    if (!p)
        return AB_ENOMEM;
    sum->runs = p;
    sum->runs[sum->nruns++] = *r;
    return 0;
}

int ab_report_summary_load(struct ab_store *s, struct ab_report_summary *sum,
                           struct ab_err *err)
{
    int rc;

    if ((rc = ab_store_counts(s, &sum->counts, err)) != 0 ||
        (rc = ab_store_attempts_percentiles(s, &sum->attempts, err)) != 0 ||
        (rc = ab_store_latency_percentiles(s, &sum->latency, err)) != 0 ||
        (rc = ab_store_latency_histogram(s, sum->latency_hist, err)) != 0 ||
        (rc = ab_store_last_success_ms(s, &sum->last_success_ms, err)) != 0)
        return rc;
    rc = ab_store_report_codes(s, on_code, sum, err);
    if (rc == 0)
        rc = ab_store_runs_each(s, AB_REPORT_MAX_RUNS, on_run, sum, err);
    if (rc == 0)
        rc = ab_funnel_load(s, &sum->funnel, err);
    if (rc == AB_ENOMEM)
        ab_err_set(err, rc, "out of memory");
    return rc;
}

void ab_report_summary_release(struct ab_report_summary *sum)
{
    size_t i;
    int k;

    for (i = 0; i < sum->ncodes; i++) {
        free(sum->codes[i].message);
        for (k = 0; k < sum->codes[i].nexamples; k++)
            free(sum->codes[i].examples[k]);
    }
    free(sum->codes);
    free(sum->runs);
    ab_funnel_view_release(&sum->funnel);
    memset(sum, 0, sizeof *sum);
}

/* The text format. Every value from the database goes through the
 * safetext filter (a CR LF inside a vendor message, an escape sequence in a
 * name or a ticket print as spaces); columns are padded by display width, so
 * Chinese labels and names line up. */

struct text_ctx {
    FILE *out;
    enum ab_lang lang;
    int64_t rows;
};

static int on_text_company(void *ctx, const struct ab_report_company *c)
{
    struct text_ctx *t = ctx;
    char http[24] = "-", code[24] = "-", att[24];

    t->rows++;
    FILE *f = t->out;
    const char *reg;
    int w;

    if (c->last_http_status >= 0)
        snprintf(http, sizeof http, "%" PRId64, c->last_http_status);
    if (c->has_code)
        snprintf(code, sizeof code, "%" PRId64, c->last_code);
    snprintf(att, sizeof att, "%" PRId64, c->attempts);
    ab_safetext_pad(f, ab_i18n_status(t->lang, c->status), 14, 0);
    fputc(' ', f);
    ab_safetext_rpad(f, att, 4);
    fputc(' ', f);
    ab_safetext_rpad(f, http, 4);
    fputc(' ', f);
    ab_safetext_rpad(f, code, 9);
    fputs("  ", f);
    reg = c->register_no ? c->register_no : "-";
    w = ab_safetext_width(reg);
    ab_safetext_fputs(reg, f);
    fprintf(f, "%*s", w < 18 ? 20 - w : 2, "");
    ab_safetext_fputs(c->company_name, f);
    if (c->last_message && strcmp(c->status, "done") != 0) {
        fputs("  -- ", f);
        ab_safetext_fputs(c->last_message, f);
    }
    if (c->ticket) {
        fputs("  ticket=", f);
        ab_safetext_fputs(c->ticket, f);
    }
    fputc('\n', f);
    return ferror(f) ? AB_EIO : 0;
}

static void text_percentiles(FILE *out, enum ab_lang l, const char *label,
                             const struct ab_percentiles *p, const char *what,
                             const char *unit)
{
    ab_safetext_pad(out, label, 22, 0);
    fputc(' ', out);
    if (p->n == 0) {
        fprintf(out, "%s\n", ab_tr(l, "none yet"));
        return;
    }
    fprintf(out,
            ab_tr(l, "p50 %" PRId64 "%s, p90 %" PRId64 "%s, p99 %" PRId64
                     "%s, max %" PRId64 "%s (%" PRId64 " %s)\n"),
            p->p50, unit, p->p90, unit, p->p99, unit, p->max, unit, p->n, what);
}

int ab_report_text(struct ab_store *s, const struct ab_report_opts *o,
                   const struct ab_report_summary *sum, FILE *out,
                   struct ab_err *err)
{
    const struct ab_counts *n = &sum->counts;
    enum ab_lang l = o->lang;
    struct text_ctx t = {out, l, 0};
    int rc;
    char when[64];
    size_t i;
    int k;
    int64_t fin = n->done + n->already_authed + n->failed;

    ab_report_local_time(when, sizeof when, sum->now_ms);
    fputs(ab_tr(l, "authbatch report: "), out);
    ab_safetext_fputs(sum->title, out);
    fprintf(out, ab_tr(l, " (%s)\n\n"), when);
    fprintf(
        out, ab_tr(l, "companies %" PRId64 ", finished %" PRId64 " (%.1f%%)\n"),
        n->total, fin, n->total ? 100.0 * (double)fin / (double)n->total : 0.0);
    for (k = 0; k < 6; k++) {
        fputs("  ", out);
        ab_safetext_pad(out, ab_i18n_status(l, ab_report_statuses[k]), 16, 0);
        fprintf(out, " %" PRId64 "\n",
                ab_report_count_of(n, ab_report_statuses[k]));
    }

    fprintf(out, "\n%s\n",
            ab_tr(l, "errors (last answer of companies not done)"));
    if (sum->ncodes == 0)
        fprintf(out, "  %s\n", ab_tr(l, "none"));
    for (i = 0; i < sum->ncodes; i++) {
        const struct ab_report_codeinfo *c = &sum->codes[i];
        char code[32];
        if (c->has_code)
            snprintf(code, sizeof code, ab_tr(l, "code %" PRId64), c->code);
        else
            snprintf(code, sizeof code, "%s", ab_tr(l, "no code"));
        fputs("  ", out);
        ab_safetext_pad(out, code, 14, 0);
        fputc(' ', out);
        fprintf(out,
                c->count == 1
                    ? ab_tr(l, "%" PRId64 " company (%" PRId64 " failed): ")
                    : ab_tr(l, "%" PRId64 " companies (%" PRId64 " failed): "),
                c->count, c->failed);
        ab_safetext_fputs(c->message ? c->message : "-", out);
        fputc('\n', out);
        for (k = 0; k < c->nexamples; k++) {
            fprintf(out, "  %-14s   %s", "", ab_tr(l, "e.g. "));
            ab_safetext_fputs(c->examples[k], out);
            fputc('\n', out);
        }
    }
    if (sum->other_codes_count) {
        fputs("  ", out);
        ab_safetext_pad(out, ab_tr(l, "other codes"), 14, 0);
        fputc(' ', out);
        fprintf(out,
                sum->other_codes_count == 1
                    ? ab_tr(l, "%" PRId64 " company\n")
                    : ab_tr(l, "%" PRId64 " companies\n"),
                sum->other_codes_count);
    }

    if (!ab_funnel_empty(&sum->funnel)) {
        fputc('\n', out);
        ab_funnel_print_text(out, &sum->funnel, l);
    }
    fputc('\n', out);
    text_percentiles(out, l, ab_tr(l, "attempts per company"), &sum->attempts,
                     ab_tr(l, "companies tried"), "");
    text_percentiles(out, l, ab_tr(l, "latency"), &sum->latency,
                     ab_tr(l, "attempts"), " ms");

    fprintf(out, "\n%s\n", ab_tr(l, "runs"));
    if (sum->nruns == 0) {
        fprintf(out, "  %s\n", ab_tr(l, "none yet"));
    } else {
        static const char *const heads[] = {
            "duration", "requests", "issued", "failed", "req/s", "exit",
        };
        static const int widths[] = {9, 9, 8, 8, 7, 6};
        fputs("  ", out);
        ab_safetext_rpad(out, ab_tr(l, "id"), 5);
        fputs("  ", out);
        ab_safetext_pad(out, ab_tr(l, "started"), 25, 0);
        for (k = 0; k < 6; k++) {
            fputc(' ', out);
            ab_safetext_rpad(out, ab_tr(l, heads[k]), widths[k]);
        }
        fputc('\n', out);
    }
    for (i = 0; i < sum->nruns; i++) {
        const struct ab_run_row *r = &sum->runs[i];
        char dur[32], exitst[16] = "-";
        snprintf(dur, sizeof dur, "%s", ab_tr(l, "unfinished"));
        ab_report_local_time(when, sizeof when, r->started_at);
        if (r->ended_at >= 0)
            snprintf(dur, sizeof dur, "%.1fs",
                     (double)(r->ended_at - r->started_at) / 1000.0);
        if (r->exit_status >= 0)
            snprintf(exitst, sizeof exitst, "%d", r->exit_status);
        fprintf(out, "  %5" PRId64 "  %-25s ", r->id, when);
        ab_safetext_rpad(out, dur, 9);
        fprintf(out, " %9" PRId64 " %8" PRId64 " %8" PRId64 " %7.1f %6s\n",
                r->attempts + r->polls, r->issued, r->failed,
                ab_report_run_rate(r), exitst);
    }
    if (sum->last_success_ms) {
        ab_report_local_time(when, sizeof when, sum->last_success_ms);
        fprintf(out, ab_tr(l, "  last run with nothing failed: %s\n"), when);
    } else if (sum->nruns) {
        fprintf(out, "  %s\n",
                ab_tr(l, "no run has ended with nothing failed and nothing "
                         "left yet (exit 0)"));
    }

    fprintf(out, "\n%s", ab_tr(l, "companies"));
    if (o->status)
        fprintf(out, ab_tr(l, " with status %s"), ab_i18n_status(l, o->status));
    fputc('\n', out);
    ab_safetext_pad(out, ab_tr(l, "STATUS"), 14, 0);
    fputc(' ', out);
    ab_safetext_rpad(out, ab_tr(l, "ATT"), 4);
    fputc(' ', out);
    ab_safetext_rpad(out, "HTTP", 4);
    fputc(' ', out);
    ab_safetext_rpad(out, ab_tr(l, "CODE"), 9);
    fputs("  ", out);
    ab_safetext_pad(out, ab_tr(l, "REGISTER_NO"), 18, 0);
    fprintf(out, "  %s\n", ab_tr(l, "COMPANY"));
    rc = ab_store_report_companies(s, o->status, o->with_tickets,
                                   on_text_company, &t, err);
    if (rc == 0 && t.rows == 0)
        fprintf(out, "  %s\n",
                n->total ? ab_tr(l, "none")
                         : ab_tr(l, "none yet: import companies with "
                                    "'authbatch import FILE'"));
    return rc;
}

/* Entry point. */

int ab_report_write(struct ab_store *s, const struct ab_report_opts *o,
                    FILE *out, struct ab_err *err)
{
    struct ab_report_summary sum;
    int rc;

    memset(&sum, 0, sizeof sum);
    sum.now_ms = o->now_ms ? o->now_ms : ab_now_ms();
    sum.title = o->title ? o->title : ab_store_path(s);
    if ((rc = ab_store_read_begin(s, err)) != 0)
        return rc;
    if ((rc = ab_report_summary_load(s, &sum, err)) == 0) {
        switch (o->format) {
        case AB_REPORT_JSON:
            rc = ab_report_json(s, o, &sum, out, err);
            break;
        case AB_REPORT_CSV:
            rc = ab_report_csv(s, o, &sum, out, err);
            break;
        case AB_REPORT_HTML:
            rc = ab_report_html(s, o, &sum, out, err);
            break;
        default:
            rc = ab_report_text(s, o, &sum, out, err);
            break;
        }
    }
    ab_store_read_end(s);
    ab_report_summary_release(&sum);
    /* Renderer callbacks stop a walk with a bare code when out fails. */
    if ((rc == 0 && (fflush(out) != 0 || ferror(out))) ||
        (rc != 0 && err && !err->msg[0]))
        rc = ab_err_set(err, rc ? rc : AB_EIO, "cannot write the report: %s",
                        rc == AB_ENOMEM ? "out of memory"
                                        : strerror(errno ? errno : EIO));
    return rc;
}
