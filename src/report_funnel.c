#include "report_funnel.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "safetext.h"

#define CHART_W 720

static const struct {
    const char *key, *label;
} stages[] = {
    {"imported", "imported"},       {"ticket_issued", "ticket issued"},
    {"in_progress", "in progress"}, {"authenticated", "authenticated"},
    {"rejected", "rejected"},       {"expired", "expired"},
};
#define NSTAGES (sizeof stages / sizeof stages[0])

static void stage_counts(const struct ab_funnel *f, int64_t out[NSTAGES])
{
    out[0] = f->imported;
    out[1] = f->issued;
    out[2] = f->started;
    out[3] = f->by_auth[AB_AUTH_AUTHENTICATED];
    out[4] = f->by_auth[AB_AUTH_REJECTED];
    out[5] = f->by_auth[AB_AUTH_EXPIRED];
}

/* auth_status names in display order, "unknown" for NULL. */
static const enum ab_auth auth_order[] = {
    AB_AUTH_NONE,          AB_AUTH_NOT_STARTED, AB_AUTH_IN_PROGRESS,
    AB_AUTH_AUTHENTICATED, AB_AUTH_REJECTED,    AB_AUTH_EXPIRED,
};
#define NAUTH (sizeof auth_order / sizeof auth_order[0])

static const char *auth_key(enum ab_auth a)
{
    return a == AB_AUTH_NONE ? "unknown" : ab_auth_name(a);
}

struct reasons_ctx {
    struct ab_funnel_view *v;
};

static int on_reason(void *ctx, const char *reason, int64_t count)
{
    struct ab_funnel_view *v = ctx;

    if (v->nreasons < AB_FUNNEL_MAX_REASONS) {
        char *r = strdup(reason ? reason : "");
        if (!r)
            return AB_ENOMEM;
        v->reasons[v->nreasons].reason = r;
        v->reasons[v->nreasons].count = count;
        v->nreasons++;
    } else {
        v->other_reasons += count;
    }
    return 0;
}

int ab_funnel_load(struct ab_store *s, struct ab_funnel_view *v,
                   struct ab_err *err)
{
    int rc;

    memset(v, 0, sizeof *v);
    if ((rc = ab_store_funnel(s, &v->f, err)) != 0)
        return rc;
    rc = ab_store_funnel_reasons(s, 0, on_reason, v, err);
    if (rc == AB_ENOMEM)
        ab_err_set(err, AB_ENOMEM, "out of memory");
    if (rc != 0)
        ab_funnel_view_release(v);
    return rc;
}

void ab_funnel_view_release(struct ab_funnel_view *v)
{
    int i;

    for (i = 0; i < v->nreasons; i++)
        free(v->reasons[i].reason);
    memset(v, 0, sizeof *v);
}

int ab_funnel_empty(const struct ab_funnel_view *v)
{
    return v->f.issued == 0 && v->f.started == 0;
}

static double pct(int64_t part, int64_t whole)
{
    return whole > 0 ? 100.0 * (double)part / (double)whole : 0.0;
}

/* An auth_status as a reader says it. */
static const char *auth_label(enum ab_lang l, enum ab_auth a)
{
    switch (a) {
    case AB_AUTH_NONE:
        return ab_tr(l, "unknown");
    case AB_AUTH_NOT_STARTED:
        return ab_tr(l, "not started");
    case AB_AUTH_IN_PROGRESS:
        return ab_tr(l, "in progress");
    case AB_AUTH_AUTHENTICATED:
        return ab_tr(l, "authenticated");
    case AB_AUTH_REJECTED:
        return ab_tr(l, "rejected");
    case AB_AUTH_EXPIRED:
        return ab_tr(l, "expired");
    default:
        return "?";
    }
}

static void fmt_dur(enum ab_lang l, char *buf, size_t n, int64_t ms)
{
    ab_i18n_duration(l, buf, n, (double)ms / 1000.0);
}

void ab_funnel_print_text(FILE *f, const struct ab_funnel_view *v,
                          enum ab_lang l)
{
    int64_t c[NSTAGES];
    char p50[32], p90[32], num[32];
    size_t i;
    int k;

    stage_counts(&v->f, c);
    ab_safetext_pad(f, ab_tr(l, "funnel"), 16, 1);
    fputc('\n', f);
    for (i = 0; i < NSTAGES; i++) {
        fputs("  ", f);
        ab_safetext_pad(f, ab_tr(l, stages[i].label), 16, 1);
        snprintf(num, sizeof num, "%" PRId64, c[i]);
        ab_safetext_rpad(f, num, 10);
        fprintf(f, "  %5.1f%%\n", pct(c[i], c[0]));
    }
    fputs("  ", f);
    ab_safetext_pad(f, ab_tr(l, "by auth status"), 16, 1);
    for (i = 0; i < NAUTH; i++)
        fprintf(f, "%s%s %" PRId64, i ? ", " : "", auth_label(l, auth_order[i]),
                v->f.by_auth[auth_order[i]]);
    fputc('\n', f);
    if (v->f.to_auth_ms.n > 0) {
        fmt_dur(l, p50, sizeof p50, v->f.to_auth_ms.p50);
        fmt_dur(l, p90, sizeof p90, v->f.to_auth_ms.p90);
        fputs("  ", f);
        fprintf(f,
                ab_tr(l, "ticket to authenticated: p50 %s, p90 %s (%" PRId64
                         " companies)\n"),
                p50, p90, v->f.to_auth_ms.n);
    }
    if (v->nreasons > 0) {
        fprintf(f, "  %s\n", ab_tr(l, "rejection reasons"));
        for (k = 0; k < v->nreasons; k++) {
            snprintf(num, sizeof num, "%" PRId64, v->reasons[k].count);
            fputs("  ", f);
            ab_safetext_rpad(f, num, 10);
            fputs("  ", f);
            ab_safetext_fputs(v->reasons[k].reason[0]
                                  ? v->reasons[k].reason
                                  : ab_tr(l, "(no reason given)"),
                              f);
            fputc('\n', f);
        }
        if (v->other_reasons > 0) {
            snprintf(num, sizeof num, "%" PRId64, v->other_reasons);
            fputs("  ", f);
            ab_safetext_rpad(f, num, 10);
            fprintf(f, "  %s\n", ab_tr(l, "(other reasons)"));
        }
    }
}

json_t *ab_funnel_json(const struct ab_funnel_view *v)
{
    json_t *o = json_object(), *st = json_object(), *au = json_object();
    json_t *t = json_object(), *rs = json_array();
    int64_t c[NSTAGES];
    size_t i;
    int k;

    if (!o || !st || !au || !t || !rs) {
        json_decref(o);
        json_decref(st);
        json_decref(au);
        json_decref(t);
        json_decref(rs);
        return NULL;
    }
    stage_counts(&v->f, c);
    for (i = 0; i < NSTAGES; i++)
        json_object_set_new(st, stages[i].key, json_integer(c[i]));
    for (i = 0; i < NAUTH; i++)
        json_object_set_new(au, auth_key(auth_order[i]),
                            json_integer(v->f.by_auth[auth_order[i]]));
    json_object_set_new(t, "n", json_integer(v->f.to_auth_ms.n));
    json_object_set_new(t, "p50",
                        v->f.to_auth_ms.n
                            ? json_real((double)v->f.to_auth_ms.p50 / 1000.0)
                            : json_null());
    json_object_set_new(t, "p90",
                        v->f.to_auth_ms.n
                            ? json_real((double)v->f.to_auth_ms.p90 / 1000.0)
                            : json_null());
    for (k = 0; k < v->nreasons; k++)
        json_array_append_new(rs, json_pack("{s:s, s:I}", "reason",
                                            v->reasons[k].reason, "count",
                                            (json_int_t)v->reasons[k].count));
    json_object_set_new(o, "stages", st);
    json_object_set_new(o, "auth_status", au);
    json_object_set_new(o, "already_authed", json_integer(v->f.already_authed));
    json_object_set_new(o, "ticket_to_authenticated_s", t);
    json_object_set_new(o, "rejection_reasons", rs);
    json_object_set_new(o, "other_rejections", json_integer(v->other_reasons));
    return o;
}

static void esc(FILE *f, const char *s)
{
    ab_safetext_html(s, f);
}

static const char *stage_color(size_t i)
{
    static const char *const colors[NSTAGES] = {
        "#8a94a6", "#4c78a8", "#f2a93b", "#2e9d5b", "#d1495b", "#9b6a9b",
    };
    return colors[i];
}

/* The funnel: one centred bar per stage, as wide as its share of the
 * imported companies; the three outcomes side by side below the first
 * three stages. */
static void chart_funnel(FILE *f, const int64_t c[NSTAGES], enum ab_lang l)
{
    const double row = 34, bar_h = 26, left = 120, plot_w = CHART_W - 230;
    const double h = 3 * row + 2 * row + 10;
    double max = c[0] > 0 ? (double)c[0] : 1, x, w, y;
    size_t i;

    fprintf(f,
            "<svg id=\"chart-funnel\" class=\"chart\""
            " xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %.0f\""
            " width=\"%d\" height=\"%.0f\" role=\"img\" aria-label=\"",
            CHART_W, h, CHART_W, h);
    esc(f, ab_tr(l, "Onboarding funnel"));
    fputs("\">\n", f);
    for (i = 0; i < NSTAGES; i++) {
        int outcome = i >= 3;
        w = plot_w * (double)c[i] / max;
        if (c[i] > 0 && w < 2)
            w = 2;
        if (!outcome) {
            y = 4 + (double)i * row;
            x = left + (plot_w - w) / 2;
        } else {
            /* Outcomes share the row below, each in a third. */
            double third = plot_w / 3;
            w = third * (double)c[i] / max * 3;
            if (w > third - 6)
                w = third - 6;
            if (c[i] > 0 && w < 2)
                w = 2;
            y = 4 + 3 * row + 10;
            x = left + third * (double)(i - 3) + (third - w) / 2;
        }
        if (!outcome)
            fprintf(f, "<text class=\"lbl\" x=\"%.0f\" y=\"%.1f\">%s</text>\n",
                    left - 8, y + bar_h - 8, ab_tr(l, stages[i].label));
        fprintf(f,
                "<rect class=\"bar\" data-stage=\"%s\" data-count=\"%" PRId64
                "\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\""
                " fill=\"%s\"><title>%s: %" PRId64 " (%.1f%%)</title></rect>\n",
                stages[i].key, c[i], x, y, w, bar_h, stage_color(i),
                ab_tr(l, stages[i].label), c[i], pct(c[i], c[0]));
        if (!outcome)
            fprintf(f,
                    "<text class=\"val\" x=\"%.1f\" y=\"%.1f\">%" PRId64
                    " (%.1f%%)</text>\n",
                    left + plot_w + 6, y + bar_h - 8, c[i], pct(c[i], c[0]));
        else
            fprintf(f,
                    "<text class=\"val\" x=\"%.1f\" y=\"%.1f\">%s %" PRId64
                    "</text>\n",
                    left + plot_w / 3 * (double)(i - 3) + 4, y + bar_h + 16,
                    ab_tr(l, stages[i].label), c[i]);
    }
    fputs("</svg>\n", f);
}

void ab_funnel_print_html(FILE *f, const struct ab_funnel_view *v,
                          enum ab_lang l)
{
    int64_t c[NSTAGES];
    char p50[32], p90[32];
    size_t i;
    int k;

    stage_counts(&v->f, c);
    fputs("<figure class=\"card\" id=\"funnel\"><h2>", f);
    esc(f, ab_tr(l, "Onboarding funnel"));
    fputs("</h2>\n", f);
    chart_funnel(f, c, l);
    fputs("<table class=\"funnel-auth\" style=\"border-spacing:14px 2px\">"
          "<tr>",
          f);
    for (i = 0; i < NAUTH; i++) {
        fputs("<th>", f);
        esc(f, auth_label(l, auth_order[i]));
        fputs("</th>", f);
    }
    fputs("</tr><tr>", f);
    for (i = 0; i < NAUTH; i++)
        fprintf(f, "<td data-auth-status=\"%s\">%" PRId64 "</td>",
                auth_key(auth_order[i]), v->f.by_auth[auth_order[i]]);
    fputs("</tr></table>\n", f);
    if (v->f.to_auth_ms.n > 0) {
        fmt_dur(l, p50, sizeof p50, v->f.to_auth_ms.p50);
        fmt_dur(l, p90, sizeof p90, v->f.to_auth_ms.p90);
        fprintf(f,
                "<p class=\"funnel-time\" data-n=\"%" PRId64
                "\" data-p50-ms=\"%" PRId64 "\" data-p90-ms=\"%" PRId64 "\">",
                v->f.to_auth_ms.n, v->f.to_auth_ms.p50, v->f.to_auth_ms.p90);
        fprintf(f,
                ab_tr(l, "ticket to authenticated: p50 %s, p90 %s (%" PRId64
                         " companies)\n"),
                p50, p90, v->f.to_auth_ms.n);
        fputs("</p>\n", f);
    }
    if (v->nreasons > 0) {
        fputs("<table class=\"reasons\" style=\"border-spacing:14px 2px\">"
              "<tr><th>",
              f);
        esc(f, ab_tr(l, "Rejection reason"));
        fputs("</th><th>", f);
        esc(f, ab_tr(l, "Companies"));
        fputs("</th></tr>\n", f);
        for (k = 0; k < v->nreasons; k++) {
            fprintf(f, "<tr data-reason-count=\"%" PRId64 "\"><td>",
                    v->reasons[k].count);
            esc(f, v->reasons[k].reason[0] ? v->reasons[k].reason
                                           : ab_tr(l, "(no reason given)"));
            fprintf(f, "</td><td>%" PRId64 "</td></tr>\n", v->reasons[k].count);
        }
        if (v->other_reasons > 0) {
            fprintf(f, "<tr data-reason-count=\"%" PRId64 "\"><td>",
                    v->other_reasons);
            esc(f, ab_tr(l, "(other reasons)"));
            fprintf(f, "</td><td>%" PRId64 "</td></tr>\n", v->other_reasons);
        }
        fputs("</table>\n", f);
    }
    fputs("</figure>\n", f);
}

void ab_funnel_print_metrics(FILE *f, const struct ab_funnel *fu)
{
    int64_t c[NSTAGES];
    size_t i;

    stage_counts(fu, c);
    fputs("# HELP authbatch_funnel_companies Companies that reached each "
          "stage of the onboarding funnel.\n"
          "# TYPE authbatch_funnel_companies gauge\n",
          f);
    for (i = 0; i < NSTAGES; i++)
        fprintf(f, "authbatch_funnel_companies{stage=\"%s\"} %" PRId64 "\n",
                stages[i].key, c[i]);
    fputs("# HELP authbatch_auth_status_companies Companies with a ticket by "
          "authentication status (unknown: nothing known yet).\n"
          "# TYPE authbatch_auth_status_companies gauge\n",
          f);
    for (i = 0; i < NAUTH; i++)
        fprintf(f,
                "authbatch_auth_status_companies{auth_status=\"%s\"} %" PRId64
                "\n",
                auth_key(auth_order[i]), fu->by_auth[auth_order[i]]);
    fputs("# HELP authbatch_ticket_to_authenticated_p50_seconds Median time "
          "from ticket to authenticated (0 when none is).\n"
          "# TYPE authbatch_ticket_to_authenticated_p50_seconds gauge\n",
          f);
    fprintf(f, "authbatch_ticket_to_authenticated_p50_seconds %.3f\n",
            (double)fu->to_auth_ms.p50 / 1000.0);
    fputs("# HELP authbatch_ticket_to_authenticated_p90_seconds 90th "
          "percentile of the time from ticket to authenticated.\n"
          "# TYPE authbatch_ticket_to_authenticated_p90_seconds gauge\n",
          f);
    fprintf(f, "authbatch_ticket_to_authenticated_p90_seconds %.3f\n",
            (double)fu->to_auth_ms.p90 / 1000.0);
}
