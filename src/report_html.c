/* report_html.c - the HTML report: one self-contained page (inline CSS, a
 * little inline JS, inline SVG charts; nothing fetched from anywhere).
 *
 * The page is also well-formed XML (every element closed, attributes
 * quoted, the script in a CDATA section), so `xmllint --noout` can check it.
 * Every chart element carries its figures in data-* attributes
 * (data-status/data-count, data-code/data-count, data-bucket-start/
 * data-count, data-lo-ms/data-hi-ms/data-count, data-run-id/...), so tests
 * can compare the charts with the database. Labels, headings and legends
 * speak the report's language (the page's lang attribute says which);
 * data-* attributes keep the machine names. All text is escaped, after the
 * safetext filter: control characters become spaces, bytes that are not
 * UTF-8 U+FFFD. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "charset.h"
#include "i18n.h"
#include "report_internal.h"
#include "safetext.h"

/* Escaping. */

static void esc(FILE *f, const char *s)
{
    ab_safetext_html(s, f);
}

/* Colours and labels. */

static const char *status_color(const char *st)
{
    if (strcmp(st, "done") == 0)
        return "#2e7d32";
    if (strcmp(st, "already_authed") == 0)
        return "#00897b";
    if (strcmp(st, "failed") == 0)
        return "#c62828";
    if (strcmp(st, "retry_wait") == 0)
        return "#ef6c00";
    if (strcmp(st, "in_flight") == 0)
        return "#1565c0";
    return "#9e9e9e";
}

static const char *exit_color(int code)
{
    if (code == 0)
        return "#2e7d32";
    if (code < 0)
        return "#1565c0";
    if (code == 1 || code == 75)
        return "#ef6c00";
    return "#c62828";
}

static void fmt_ms(char *buf, size_t n, int64_t ms)
{
    if (ms >= 1000)
        snprintf(buf, n, "%g s", (double)ms / 1000.0);
    else
        snprintf(buf, n, "%" PRId64 " ms", ms);
}

static void fmt_clock(char *buf, size_t n, int64_t ms, int with_date)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) ||
        !strftime(buf, n, with_date ? "%m-%d %H:%M" : "%H:%M:%S", &tm))
        snprintf(buf, n, "?");
}

/* Charts. */

struct hbar {
    const char *label;
    int64_t value;
    const char *color;
    const char *tip; /* tooltip text, escaped here; NULL: none */
    char attrs[128]; /* data-* attributes, already safe */
};

#define CHART_W 560

static void svg_hbars(FILE *f, const char *id, const char *aria,
                      const struct hbar *b, size_t n)
{
    const double label_w = 150, value_w = 70, row = 26, bar_h = 18;
    double plot_w = CHART_W - label_w - value_w, h = (double)n * row + 8;
    int64_t max = 1;
    size_t i;

    for (i = 0; i < n; i++)
        if (b[i].value > max)
            max = b[i].value;
    fprintf(
        f,
        "<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\""
        " viewBox=\"0 0 %d %.0f\" width=\"%d\" height=\"%.0f\" role=\"img\""
        " aria-label=\"%s\">\n",
        id, CHART_W, h, CHART_W, h, aria);
    for (i = 0; i < n; i++) {
        double y = 4 + (double)i * row;
        double w = plot_w * (double)b[i].value / (double)max;
        if (b[i].value > 0 && w < 2)
            w = 2;
        fprintf(f, "<text class=\"lbl\" x=\"%.0f\" y=\"%.1f\">", label_w - 8,
                y + bar_h - 4);
        esc(f, b[i].label);
        fprintf(f,
                "</text>\n<rect class=\"bar\" %s data-count=\"%" PRId64 "\""
                " x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\""
                " fill=\"%s\">",
                b[i].attrs, b[i].value, label_w, y, w, bar_h, b[i].color);
        fputs("<title>", f);
        esc(f, b[i].tip ? b[i].tip : b[i].label);
        fprintf(f, ": %" PRId64 "</title></rect>\n", b[i].value);
        fprintf(
            f, "<text class=\"val\" x=\"%.1f\" y=\"%.1f\">%" PRId64 "</text>\n",
            label_w + w + 6, y + bar_h - 4, b[i].value);
    }
    fputs("</svg>\n", f);
}

static void chart_status(FILE *f, enum ab_lang l,
                         const struct ab_report_summary *sum)
{
    struct hbar b[6];
    int k;

    for (k = 0; k < 6; k++) {
        const char *st = ab_report_statuses[k];
        b[k].label = ab_i18n_status(l, st);
        b[k].value = ab_report_count_of(&sum->counts, st);
        b[k].color = status_color(st);
        b[k].tip = NULL;
        snprintf(b[k].attrs, sizeof b[k].attrs, "data-status=\"%s\"", st);
    }
    fprintf(f, "<figure class=\"card\"><h2>%s</h2>\n", ab_tr(l, "Status"));
    svg_hbars(f, "chart-status", ab_tr(l, "companies by status"), b, 6);
    fputs("</figure>\n", f);
}

static void chart_codes(FILE *f, enum ab_lang l,
                        const struct ab_report_summary *sum)
{
    size_t i, n = sum->ncodes < 15 ? sum->ncodes : 15;
    struct hbar *b;
    char(*labels)[32];

    fprintf(f, "<figure class=\"card\"><h2>%s</h2>\n", ab_tr(l, "Error codes"));
    if (n == 0) {
        fprintf(f, "<p class=\"empty\">%s</p></figure>\n",
                ab_tr(l, "No errors."));
        return;
    }
    b = calloc(n, sizeof *b);
    labels = calloc(n, sizeof *labels);
    if (!b || !labels) {
        free(b);
        free(labels);
        fprintf(f, "<p class=\"empty\">%s</p></figure>\n",
                ab_tr(l, "(out of memory)"));
        return;
    }
    for (i = 0; i < n; i++) {
        const struct ab_report_codeinfo *c = &sum->codes[i];
        if (c->has_code) {
            snprintf(labels[i], sizeof labels[i], "%" PRId64, c->code);
            snprintf(b[i].attrs, sizeof b[i].attrs,
                     "data-code=\"%" PRId64 "\" data-failed=\"%" PRId64 "\"",
                     c->code, c->failed);
        } else {
            snprintf(labels[i], sizeof labels[i], "%s", ab_tr(l, "no code"));
            snprintf(b[i].attrs, sizeof b[i].attrs,
                     "data-code=\"\" data-failed=\"%" PRId64 "\"", c->failed);
        }
        b[i].label = labels[i];
        b[i].value = c->count;
        b[i].color = c->failed == c->count ? "#c62828" : "#ef6c00";
        b[i].tip = c->message ? c->message : labels[i];
    }
    svg_hbars(f, "chart-codes", ab_tr(l, "companies by last error code"), b, n);
    if (sum->ncodes > n)
        fprintf(f,
                ab_tr(l, "<p class=\"note\">%zu more codes in the table "
                         "below.</p>\n"),
                sum->ncodes - n);
    fputs("</figure>\n", f);
    free(b);
    free(labels);
}

static void chart_latency(FILE *f, enum ab_lang l,
                          const struct ab_report_summary *sum)
{
    struct hbar b[AB_LATENCY_BUCKETS];
    char labels[AB_LATENCY_BUCKETS][64], lo[24], hi[24];
    int k;

    fprintf(f, "<figure class=\"card\"><h2>%s</h2>\n", ab_tr(l, "Latency"));
    if (sum->latency.n == 0) {
        fprintf(f, "<p class=\"empty\">%s</p></figure>\n",
                ab_tr(l, "No attempts yet."));
        return;
    }
    for (k = 0; k < AB_LATENCY_BUCKETS; k++) {
        int last = k + 1 == AB_LATENCY_BUCKETS;
        int64_t blo = ab_latency_bucket_lo[k];
        int64_t h = last ? -1 : ab_latency_bucket_lo[k + 1];
        fmt_ms(lo, sizeof lo, blo);
        fmt_ms(hi, sizeof hi, h);
        if (last)
            snprintf(labels[k], sizeof labels[k], ab_tr(l, "%s and more"), lo);
        else
            snprintf(labels[k], sizeof labels[k], ab_tr(l, "%s to %s"), lo, hi);
        b[k].label = labels[k];
        b[k].value = sum->latency_hist[k];
        b[k].color = "#5c6bc0";
        b[k].tip = NULL;
        snprintf(b[k].attrs, sizeof b[k].attrs,
                 "data-lo-ms=\"%" PRId64 "\" data-hi-ms=\"%" PRId64 "\"", blo,
                 h);
    }
    svg_hbars(f, "chart-latency", ab_tr(l, "attempts by duration"), b,
              AB_LATENCY_BUCKETS);
    fprintf(f,
            ab_tr(l, "<p class=\"note\">%" PRId64 " attempts: p50 %" PRId64
                     " ms, p90 %" PRId64 " ms, p99 %" PRId64 " ms, max %" PRId64
                     " ms.</p>\n</figure>\n"),
            sum->latency.n, sum->latency.p50, sum->latency.p90,
            sum->latency.p99, sum->latency.max);
}

/* A vertical bar chart frame: y axis from 0 to max with three grid lines. */
#define V_H 220
#define V_LEFT 56.0
#define V_TOP 12.0
#define V_BOTTOM 40.0

static double v_plot_w(void)
{
    return CHART_W - V_LEFT - 8;
}

static double v_plot_h(void)
{
    return V_H - V_TOP - V_BOTTOM;
}

static void v_frame(FILE *f, const char *id, const char *aria, int64_t max,
                    const char *extra_attrs)
{
    int g;

    fprintf(
        f,
        "<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\""
        " viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\""
        " aria-label=\"%s\" %s>\n",
        id, CHART_W, V_H, CHART_W, V_H, aria, extra_attrs);
    for (g = 0; g <= 2; g++) {
        double y = V_TOP + v_plot_h() * (1.0 - g / 2.0);
        fprintf(f,
                "<line class=\"grid\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\""
                " y2=\"%.1f\"/>\n<text class=\"lbl\" x=\"%.0f\" y=\"%.1f\">"
                "%" PRId64 "</text>\n",
                V_LEFT, y, CHART_W - 8.0, y, V_LEFT - 6, y + 4, max * g / 2);
    }
}

struct bucket {
    int64_t start, count;
};

struct tp_ctx {
    struct bucket *b;
    size_t n, cap;
};

static int on_bucket(void *ctx, int64_t start, int64_t count)
{
    struct tp_ctx *t = ctx;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        void *p = realloc(t->b, cap * sizeof *t->b);
        if (!p)
            return AB_ENOMEM;
        t->b = p;
        t->cap = cap;
    }
    t->b[t->n].start = start;
    t->b[t->n].count = count;
    t->n++;
    return 0;
}

static int64_t pick_bucket(int64_t span_ms)
{
    static const int64_t widths[] = {
        1000,      2000,      5000,         10000,    15000,    30000,
        60000,     120000,    300000,       600000,   900000,   1800000,
        3600000,   7200000,   10800000,     21600000, 43200000, 86400000,
        172800000, 604800000, 2592000000LL,
    };
    size_t i;
    for (i = 0; i < sizeof widths / sizeof widths[0]; i++)
        if (span_ms / widths[i] + 1 <= 120)
            return widths[i];
    return span_ms / 119 + 1;
}

static void bucket_name(char *buf, size_t n, enum ab_lang l, int64_t w)
{
    if (w == 86400000)
        snprintf(buf, n, "%s", ab_tr(l, "1 day"));
    else if (w % 86400000 == 0)
        snprintf(buf, n, ab_tr(l, "%" PRId64 " days"), w / 86400000);
    else if (w % 3600000 == 0)
        snprintf(buf, n, ab_tr(l, "%" PRId64 " h"), w / 3600000);
    else if (w % 60000 == 0)
        snprintf(buf, n, ab_tr(l, "%" PRId64 " min"), w / 60000);
    else
        snprintf(buf, n, ab_tr(l, "%" PRId64 " s"), w / 1000);
}

static int chart_throughput(FILE *f, enum ab_lang l, struct ab_store *s,
                            struct ab_err *err)
{
    struct tp_ctx t = {0};
    int64_t first, last, count, w, max = 1, nb;
    char attrs[96], wname[32], a[32], z[32];
    size_t i;
    int rc;

    fprintf(f, "<figure class=\"card\"><h2>%s</h2>\n", ab_tr(l, "Throughput"));
    if ((rc = ab_store_attempts_span(s, &first, &last, &count, err)) != 0)
        return rc;
    if (count == 0) {
        fprintf(f, "<p class=\"empty\">%s</p></figure>\n",
                ab_tr(l, "No attempts yet."));
        return 0;
    }
    w = pick_bucket(last - first);
    if ((rc = ab_store_throughput_each(s, w, on_bucket, &t, err)) != 0) {
        free(t.b);
        return rc;
    }
    first = first / w * w;
    nb = (last / w * w - first) / w + 1;
    for (i = 0; i < t.n; i++)
        if (t.b[i].count > max)
            max = t.b[i].count;
    snprintf(attrs, sizeof attrs,
             "data-bucket-ms=\"%" PRId64 "\" data-total=\"%" PRId64 "\"", w,
             count);
    v_frame(f, "chart-throughput", ab_tr(l, "attempts over time"), max, attrs);
    for (i = 0; i < t.n; i++) {
        double slot = v_plot_w() / (double)nb;
        double x = V_LEFT + slot * (double)((t.b[i].start - first) / w);
        double h = v_plot_h() * (double)t.b[i].count / (double)max;
        double bw = slot > 3 ? slot - 1 : slot;
        fmt_clock(a, sizeof a, t.b[i].start, last - first > 86400000);
        fprintf(f,
                "<rect class=\"bar\" data-bucket-start=\"%" PRId64 "\""
                " data-count=\"%" PRId64 "\" x=\"%.2f\" y=\"%.2f\""
                " width=\"%.2f\" height=\"%.2f\" fill=\"#1565c0\">"
                "<title>%s: %" PRId64 "</title></rect>\n",
                t.b[i].start, t.b[i].count, x, V_TOP + v_plot_h() - h,
                bw < 0.5 ? 0.5 : bw, h, a, t.b[i].count);
    }
    fmt_clock(a, sizeof a, first, 1);
    fmt_clock(z, sizeof z, first + nb * w, 1);
    fprintf(f,
            "<text class=\"lbl start\" x=\"%.0f\" y=\"%d\">%s</text>\n"
            "<text class=\"lbl\" x=\"%d\" y=\"%d\">%s</text>\n</svg>\n",
            V_LEFT, V_H - 22, a, CHART_W - 8, V_H - 22, z);
    bucket_name(wname, sizeof wname, l, w);
    fprintf(f,
            ab_tr(l, "<p class=\"note\">Attempts per %s, %" PRId64
                     " in all.</p>\n</figure>\n"),
            wname, count);
    free(t.b);
    return 0;
}

/* Requests per run, once there are runs to compare: with a single one the
 * run history table says everything (a lone full-width bar says nothing). */
static void chart_runs(FILE *f, enum ab_lang l,
                       const struct ab_report_summary *sum)
{
    int64_t max = 1;
    size_t i;

    fprintf(f, "<figure class=\"card\"><h2>%s</h2>\n", ab_tr(l, "Runs"));
    if (sum->nruns == 0) {
        fprintf(f, "<p class=\"empty\">%s</p></figure>\n",
                ab_tr(l, "No runs yet."));
        return;
    }
    if (sum->nruns == 1) {
        fprintf(f, "<p class=\"empty\" id=\"one-run\">%s</p></figure>\n",
                ab_tr(l, "One run so far: see the run history below. The "
                         "chart compares runs once there are several."));
        return;
    }
    for (i = 0; i < sum->nruns; i++)
        if (sum->runs[i].attempts > max)
            max = sum->runs[i].attempts;
    v_frame(f, "chart-runs", ab_tr(l, "requests per run"), max, "");
    for (i = 0; i < sum->nruns; i++) {
        const struct ab_run_row *r = &sum->runs[i];
        double slot = v_plot_w() / (double)sum->nruns;
        double x = V_LEFT + slot * (double)i;
        double h = v_plot_h() * (double)r->attempts / (double)max;
        double bw = slot > 8 ? slot * 0.8 : slot;
        fprintf(f,
                "<rect class=\"bar\" data-run-id=\"%" PRId64 "\""
                " data-attempts=\"%" PRId64 "\" data-issued=\"%" PRId64 "\""
                " data-failed=\"%" PRId64 "\" data-exit-status=\"%d\""
                " x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\""
                " fill=\"%s\"><title>",
                r->id, r->attempts, r->issued, r->failed, r->exit_status, x,
                V_TOP + v_plot_h() - h, bw, h, exit_color(r->exit_status));
        fprintf(f,
                ab_tr(l, "run %" PRId64 ": %" PRId64 " requests, %" PRId64
                         " issued, %" PRId64 " failed, exit %d"),
                r->id, r->attempts, r->issued, r->failed, r->exit_status);
        fputs("</title></rect>\n", f);
        if (sum->nruns <= 24)
            fprintf(f,
                    "<text class=\"lbl mid\" x=\"%.1f\" y=\"%d\">#%" PRId64
                    "</text>\n",
                    x + bw / 2, V_H - 22, r->id);
    }
    fprintf(f,
            "</svg>\n<p class=\"note\">%s <span class=\"sw\" "
            "style=\"background:#2e7d32\"></span>%s <span class=\"sw\" "
            "style=\"background:#ef6c00\"></span>%s <span class=\"sw\" "
            "style=\"background:#c62828\"></span>%s <span class=\"sw\" "
            "style=\"background:#1565c0\"></span>%s</p>\n</figure>\n",
            ab_tr(l, "Requests per run, coloured by exit status:"),
            ab_tr(l, "0 (nothing failed, nothing left)"),
            ab_tr(l, "1 or 75 (some failed, or stopped with work left)"),
            ab_tr(l, "other (stopped by an error)"),
            ab_tr(l, "running or unfinished."));
}

/* Tables. */

static void cards(FILE *f, enum ab_lang l, const struct ab_report_summary *sum)
{
    const struct ab_counts *n = &sum->counts;
    int64_t fin = n->done + n->already_authed + n->failed;
    char when[64];

    snprintf(when, sizeof when, "%s", ab_tr(l, "none yet"));
    if (sum->last_success_ms)
        ab_report_local_time(when, sizeof when, sum->last_success_ms);
    fprintf(f,
            "<section class=\"cards\">\n"
            "<div class=\"kpi\"><b id=\"kpi-total\" data-count=\"%" PRId64
            "\">%" PRId64 "</b><span>%s</span></div>\n"
            "<div class=\"kpi\"><b>%.1f%%</b><span>%s</span></div>\n"
            "<div class=\"kpi ok\"><b>%" PRId64 "</b><span>%s</span></div>\n"
            "<div class=\"kpi bad\"><b>%" PRId64 "</b><span>%s</span></div>\n"
            "<div class=\"kpi\"><b>%" PRId64 "</b><span>%s</span></div>\n"
            "<div class=\"kpi\" title=\"%s\"><b class=\"small\" "
            "id=\"kpi-clean-run\">%s</b><span>%s</span></div>\n"
            "</section>\n",
            n->total, n->total, ab_tr(l, "companies"),
            n->total ? 100.0 * (double)fin / (double)n->total : 0.0,
            ab_tr(l, "finished"), n->done, ab_tr(l, "tickets issued"),
            n->failed, ab_tr(l, "failed"),
            n->pending + n->in_flight + n->retry_wait, ab_tr(l, "still to do"),
            ab_tr(l, "the last run that ended with exit status 0: nothing "
                     "failed and nothing was left to do"),
            when, ab_tr(l, "last run with nothing failed"));
}

static void errors_table(FILE *f, enum ab_lang l,
                         const struct ab_report_summary *sum)
{
    size_t i;
    int k;

    fprintf(f,
            "<section class=\"card\"><h2>%s</h2>\n<p class=\"note\">%s</p>\n",
            ab_tr(l, "Errors"),
            ab_tr(l, "The last answer of every company that is not done, by "
                     "code."));
    if (sum->ncodes == 0) {
        fprintf(f, "<p class=\"empty\">%s</p></section>\n",
                ab_tr(l, "No errors."));
        return;
    }
    fprintf(f,
            "<table class=\"list\" id=\"errors\"><thead><tr><th>%s</th>"
            "<th>%s</th><th class=\"num\">%s</th>"
            "<th class=\"num\">%s</th><th>%s</th></tr></thead>"
            "<tbody>\n",
            ab_tr(l, "Code"), ab_tr(l, "Message"), ab_tr(l, "Companies"),
            ab_tr(l, "Failed"), ab_tr(l, "Examples"));
    for (i = 0; i < sum->ncodes; i++) {
        const struct ab_report_codeinfo *c = &sum->codes[i];
        fputs("<tr><td>", f);
        if (c->has_code)
            fprintf(f, "%" PRId64, c->code);
        else
            fputs(ab_tr(l, "(none)"), f);
        fputs("</td><td>", f);
        esc(f, c->message ? c->message : "");
        fprintf(f,
                "</td><td class=\"num\">%" PRId64 "</td><td class=\"num\">"
                "%" PRId64 "</td><td>",
                c->count, c->failed);
        for (k = 0; k < c->nexamples; k++) {
            if (k)
                fputs(ab_tr(l, "; "), f);
            esc(f, c->examples[k]);
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
    if (sum->other_codes_count)
        fprintf(f,
                ab_tr(l, "<p class=\"note\">%" PRId64 " more companies with "
                         "other codes.</p>\n"),
                sum->other_codes_count);
    fputs("</section>\n", f);
}

static void pct_row(FILE *f, const char *what, const struct ab_percentiles *p,
                    const char *unit)
{
    fprintf(f, "<tr><td>%s</td><td class=\"num\">%" PRId64 "</td>", what, p->n);
    if (p->n == 0)
        fputs("<td class=\"num\">-</td><td class=\"num\">-</td>"
              "<td class=\"num\">-</td><td class=\"num\">-</td></tr>\n",
              f);
    else
        fprintf(f,
                "<td class=\"num\">%" PRId64 "%s</td><td class=\"num\">%" PRId64
                "%s</td><td class=\"num\">%" PRId64
                "%s</td><td class=\"num\">%" PRId64 "%s</td></tr>\n",
                p->p50, unit, p->p90, unit, p->p99, unit, p->max, unit);
}

static void stats_tables(FILE *f, enum ab_lang l,
                         const struct ab_report_summary *sum)
{
    static const char *const run_heads[] = {
        "Duration", "Requests",  "Issued", "Already", "Failed",
        "Retried",  "Throttled", "Req/s",  "Exit",
    };
    char when[64], dur[32];
    size_t i;

    fprintf(f,
            "<section class=\"card\"><h2>%s</h2>\n"
            "<table class=\"list\" id=\"percentiles\"><thead><tr><th></th>"
            "<th class=\"num\">n</th><th class=\"num\">p50</th>"
            "<th class=\"num\">p90</th><th class=\"num\">p99</th>"
            "<th class=\"num\">%s</th></tr></thead><tbody>\n",
            ab_tr(l, "Attempts and latency"), ab_tr(l, "max"));
    pct_row(f, ab_tr(l, "Attempts per company tried"), &sum->attempts, "");
    pct_row(f, ab_tr(l, "Latency per attempt"), &sum->latency, " ms");
    fputs("</tbody></table>\n</section>\n", f);

    fprintf(f, "<section class=\"card\"><h2>%s</h2>\n",
            ab_tr(l, "Run history"));
    if (sum->nruns == 0) {
        fprintf(f, "<p class=\"empty\">%s</p></section>\n",
                ab_tr(l, "No runs yet."));
        return;
    }
    fprintf(f,
            "<table class=\"list\" id=\"runs\"><thead><tr><th>%s</th>"
            "<th>%s</th>",
            ab_tr(l, "Run"), ab_tr(l, "Started"));
    for (i = 0; i < sizeof run_heads / sizeof run_heads[0]; i++)
        fprintf(f, "<th class=\"num\">%s</th>", ab_tr(l, run_heads[i]));
    fputs("</tr></thead><tbody>\n", f);
    for (i = sum->nruns; i-- > 0;) {
        const struct ab_run_row *r = &sum->runs[i];
        ab_report_local_time(when, sizeof when, r->started_at);
        if (r->ended_at >= 0)
            snprintf(dur, sizeof dur, "%.1f s",
                     (double)(r->ended_at - r->started_at) / 1000.0);
        else
            snprintf(dur, sizeof dur, "-");
        fprintf(f,
                "<tr><td>#%" PRId64 "</td><td>%s</td><td class=\"num\">%s</td>"
                "<td class=\"num\">%" PRId64 "</td><td class=\"num\">%" PRId64
                "</td><td class=\"num\">%" PRId64 "</td><td class=\"num\">"
                "%" PRId64 "</td><td class=\"num\">%" PRId64 "</td>"
                "<td class=\"num\">%" PRId64 "</td><td class=\"num\">%.1f</td>"
                "<td class=\"num\">",
                r->id, when, dur, r->attempts + r->polls, r->issued,
                r->already_authed, r->failed, r->retried, r->throttled,
                ab_report_run_rate(r));
        if (r->exit_status >= 0)
            fprintf(f, "%d", r->exit_status);
        else
            fputs("-", f);
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table>\n</section>\n", f);
}

struct rows_ctx {
    FILE *out;
    int64_t shown, max;
    int tickets;
    enum ab_lang lang;
};

static int on_company(void *ctx, const struct ab_report_company *c)
{
    struct rows_ctx *r = ctx;
    FILE *f = r->out;
    char when[40] = "";

    if (r->shown >= r->max)
        return 1; /* stop: the cap is reached */
    r->shown++;
    if (c->updated_at > 0)
        ab_report_iso_utc(when, sizeof when, c->updated_at);
    fprintf(f, "<tr data-status=\"");
    esc(f, c->status);
    fprintf(f, "\"><td class=\"num\">%" PRId64 "</td><td>", c->id);
    esc(f, c->company_name);
    fputs("</td><td>", f);
    esc(f, c->register_no);
    fputs("</td><td><span class=\"st st-", f);
    esc(f, c->status);
    fputs("\">", f);
    esc(f, ab_i18n_status(r->lang, c->status));
    fprintf(f,
            "</span></td><td class=\"num\">%" PRId64 "</td><td class=\"num\">",
            c->attempts);
    if (c->last_http_status >= 0)
        fprintf(f, "%" PRId64, c->last_http_status);
    fputs("</td><td class=\"num\">", f);
    if (c->has_code)
        fprintf(f, "%" PRId64, c->last_code);
    fputs("</td><td>", f);
    esc(f, c->last_message);
    fprintf(f, "</td><td class=\"nowrap\">%s</td>", when);
    if (r->tickets) {
        fputs("<td class=\"ticket\">", f);
        esc(f, c->ticket);
        fputs("</td>", f);
    }
    fputs("</tr>\n", f);
    return ferror(f) ? AB_EIO : 0;
}

static int company_table(FILE *f, struct ab_store *s,
                         const struct ab_report_opts *o,
                         const struct ab_report_summary *sum,
                         struct ab_err *err)
{
    static const char *const heads[][2] = {
        {"num", "Id"},   {"", "Company"},     {"", "Register no"},
        {"", "Status"},  {"num", "Attempts"}, {"num", "HTTP"},
        {"num", "Code"}, {"", "Message"},     {"", "Updated (UTC)"},
    };
    enum ab_lang l = o->lang;
    struct rows_ctx r = {
        f, 0, o->html_max_rows > 0 ? o->html_max_rows : AB_REPORT_HTML_MAX_ROWS,
        o->with_tickets, l};
    int64_t matching = o->status ? ab_report_count_of(&sum->counts, o->status)
                                 : sum->counts.total;
    size_t i;
    int rc, k;

    fprintf(f, "<section class=\"card wide\"><h2>%s", ab_tr(l, "Companies"));
    if (o->status && ab_report_valid_status(o->status)) /* plain text */
        fprintf(f, ab_tr(l, " with status %s"), ab_i18n_status(l, o->status));
    fprintf(f,
            "</h2>\n<div class=\"controls\"><input id=\"filter\" "
            "type=\"search\" placeholder=\"%s\" aria-label=\"%s\"/>\n"
            "<select id=\"status-filter\" aria-label=\"%s\">"
            "<option value=\"\">%s</option>",
            ab_tr(l, "Filter by any text"), ab_tr(l, "filter"),
            ab_tr(l, "status"), ab_tr(l, "all statuses"));
    for (k = 0; k < 6; k++)
        fprintf(f, "<option value=\"%s\">%s</option>", ab_report_statuses[k],
                ab_i18n_status(l, ab_report_statuses[k]));
    fprintf(f,
            "</select>\n<span class=\"note\">%s</span></div>\n"
            "<div class=\"scroll\"><table class=\"list\" id=\"companies\">"
            "<thead><tr>",
            ab_tr(l, "<span id=\"shown\"></span> rows shown. Click a column "
                     "header to sort."));
    for (i = 0; i < sizeof heads / sizeof heads[0]; i++)
        fprintf(f, "<th%s>%s</th>", heads[i][0][0] ? " data-type=\"num\"" : "",
                ab_tr(l, heads[i][1]));
    if (o->with_tickets)
        fprintf(f, "<th>%s</th>", ab_tr(l, "Ticket"));
    fputs("</tr></thead><tbody>\n", f);
    rc = ab_store_report_companies(s, o->status, o->with_tickets, on_company,
                                   &r, err);
    if (rc == 1)
        rc = 0; /* stopped at the cap */
    if (rc != 0)
        return rc;
    fputs("</tbody></table></div>\n", f);
    if (matching > r.shown) {
        fprintf(f,
                "<p class=\"note cap\" id=\"cap-note\" data-shown=\"%" PRId64
                "\" data-total=\"%" PRId64 "\">",
                r.shown, matching);
        fprintf(f,
                ab_tr(l, "Showing the first %" PRId64 " of %" PRId64
                         " companies (by id); the charts and tables above "
                         "count all of them. For every row use "
                         "<code>authbatch report --format csv</code>."),
                r.shown, matching);
        fputs("</p>\n", f);
    }
    fputs("</section>\n", f);
    return 0;
}

/* Latin faces first, then one that covers Simplified Chinese on each system
 * (macOS, then Windows, then Linux: Noto/Source Han, WenQuanYi), so names
 * never fall to a Japanese face or to boxes. Tests read it from the page. */
#define FONT_STACK                                                             \
    "--sans:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,"               \
    "'Helvetica Neue',Arial,'PingFang SC','Hiragino Sans GB',"                 \
    "'Microsoft YaHei','Noto Sans CJK SC','Source Han Sans SC',"               \
    "'WenQuanYi Micro Hei',sans-serif"

static const char css[] =
    ":root{--fg:#1f2328;--mut:#59636e;--bd:#d1d9e0;--bg:#f6f8fa;" FONT_STACK
    "}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;padding:24px;font:14px/1.45 var(--sans);color:var(--fg);"
    "background:var(--bg)}\n"
    "header h1{margin:0 0 4px;font-size:22px}\n"
    "header p{margin:0 0 16px;color:var(--mut)}\n"
    "h2{font-size:15px;margin:0 0 10px}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:16px}\n"
    ".kpi{background:#fff;border:1px solid var(--bd);border-radius:8px;"
    "padding:10px 16px;min-width:140px}\n"
    ".kpi b{display:block;font-size:22px}\n"
    ".kpi b.small{font-size:14px;padding:6px 0}\n"
    ".kpi span{color:var(--mut);font-size:12px}\n"
    ".kpi.ok b{color:#2e7d32}.kpi.bad b{color:#c62828}\n"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,"
    "minmax(600px,1fr));gap:16px;margin-bottom:16px}\n"
    ".card{background:#fff;border:1px solid var(--bd);border-radius:8px;"
    "padding:14px 16px;margin:0 0 16px}\n"
    ".grid .card{margin:0}\n"
    "svg.chart{max-width:100%;height:auto;display:block}\n"
    "svg .lbl{font-size:11px;fill:var(--mut);text-anchor:end}\n"
    "svg .lbl.start{text-anchor:start}svg .lbl.mid{text-anchor:middle}\n"
    "svg .val{font-size:11px;fill:var(--fg)}\n"
    "svg .grid{stroke:var(--bd);stroke-width:1}\n"
    "svg rect.bar:hover{opacity:.8}\n"
    ".note{color:var(--mut);font-size:12px;margin:6px 0 0}\n"
    ".empty{color:var(--mut)}\n"
    ".sw{display:inline-block;width:10px;height:10px;margin:0 3px 0 8px;"
    "border-radius:2px}\n"
    "table.list{border-collapse:collapse;width:100%;font-size:13px}\n"
    "table.list th,table.list td{border-bottom:1px solid var(--bd);"
    "padding:4px 8px;text-align:left;vertical-align:top}\n"
    "table.list th{background:var(--bg);position:sticky;top:0}\n"
    "table.list td.num,table.list th.num{text-align:right;"
    "font-variant-numeric:tabular-nums}\n"
    "table.list tbody tr:nth-child(even){background:#fafbfc}\n"
    "#companies th{cursor:pointer;user-select:none}\n"
    "#companies th[aria-sort=ascending]::after{content:' \\25B2'}\n"
    "#companies th[aria-sort=descending]::after{content:' \\25BC'}\n"
    "td.nowrap{white-space:nowrap}\n"
    "td.ticket{font-family:ui-monospace,monospace;word-break:break-all}\n"
    ".scroll{max-height:70vh;overflow:auto;border:1px solid var(--bd)}\n"
    ".controls{display:flex;gap:8px;align-items:center;margin-bottom:8px}\n"
    ".controls input{flex:0 1 320px;padding:5px 8px}\n"
    ".controls select{padding:5px}\n"
    ".st{padding:1px 6px;border-radius:10px;color:#fff;font-size:12px;"
    "white-space:nowrap}\n"
    ".st-done{background:#2e7d32}.st-already_authed{background:#00897b}\n"
    ".st-failed{background:#c62828}.st-retry_wait{background:#ef6c00}\n"
    ".st-in_flight{background:#1565c0}.st-pending{background:#9e9e9e}\n";

/* Sorting and filtering; the last statement marks the page as ready so a
 * headless browser test can tell the script ran to the end. */
static const char js[] =
    "(function () {\n"
    "  var table = document.getElementById('companies');\n"
    "  if (!table) { document.body.setAttribute('data-ready', '1'); return; }\n"
    "  var body = table.tBodies[0];\n"
    "  var rows = Array.prototype.slice.call(body.rows);\n"
    "  var text = document.getElementById('filter');\n"
    "  var sel = document.getElementById('status-filter');\n"
    "  var shown = document.getElementById('shown');\n"
    "  var keys = rows.map(function (r) { return r.textContent.toLowerCase(); "
    "});\n"
    "  function apply() {\n"
    "    var q = text.value.toLowerCase(), st = sel.value, n = 0;\n"
    "    rows.forEach(function (r, i) {\n"
    "      var ok = (!st || r.getAttribute('data-status') === st) &&\n"
    "               (!q || keys[i].indexOf(q) !== -1);\n"
    "      r.style.display = ok ? '' : 'none';\n"
    "      if (ok) n++;\n"
    "    });\n"
    "    shown.textContent = String(n);\n"
    "  }\n"
    "  text.addEventListener('input', apply);\n"
    "  sel.addEventListener('change', apply);\n"
    "  var heads = table.tHead.rows[0].cells;\n"
    "  Array.prototype.forEach.call(heads, function (th, col) {\n"
    "    th.addEventListener('click', function () {\n"
    "      var num = th.getAttribute('data-type') === 'num';\n"
    "      var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;\n"
    "      Array.prototype.forEach.call(heads, function (h) {\n"
    "        h.removeAttribute('aria-sort'); });\n"
    "      th.setAttribute('aria-sort', dir > 0 ? 'ascending' : "
    "'descending');\n"
    "      var idx = rows.map(function (r, i) { return i; });\n"
    "      var val = rows.map(function (r) {\n"
    "        var t = r.cells[col].textContent;\n"
    "        return num ? (t === '' ? -1e300 : Number(t)) : t; });\n"
    "      idx.sort(function (a, b) {\n"
    "        var x = val[a], y = val[b];\n"
    "        var c = num ? (x - y) : x.localeCompare(y);\n"
    "        return c !== 0 ? c * dir : a - b; });\n"
    "      rows = idx.map(function (i) { return rows[i]; });\n"
    "      keys = idx.map(function (i) { return keys[i]; });\n"
    "      var frag = document.createDocumentFragment();\n"
    "      rows.forEach(function (r) { frag.appendChild(r); });\n"
    "      body.appendChild(frag);\n"
    "    });\n"
    "  });\n"
    "  apply();\n"
    "  document.body.setAttribute('data-ready', '1');\n"
    "})();\n";

int ab_report_html(struct ab_store *s, const struct ab_report_opts *o,
                   const struct ab_report_summary *sum, FILE *out,
                   struct ab_err *err)
{
    enum ab_lang l = o->lang;
    char when[64];
    int rc;

    ab_report_local_time(when, sizeof when, sum->now_ms);
    fprintf(out,
            "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n"
            "<meta charset=\"utf-8\"/>\n"
            "<meta name=\"viewport\" content=\"width=device-width, "
            "initial-scale=1\"/>\n<title>%s",
            ab_i18n_tag(l), ab_tr(l, "authbatch report: "));
    esc(out, sum->title);
    fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n", css);
    fprintf(out, "<body data-ready=\"0\">\n<header><h1>%s</h1><p>",
            ab_tr(l, "authbatch report"));
    esc(out, sum->title);
    fprintf(out, " &#183; ");
    fprintf(out, ab_tr(l, "generated %s"), when);
    fprintf(out, " &#183; authbatch %s</p></header>\n", AB_VERSION);
    cards(out, l, sum);
    fputs("<section class=\"grid\">\n", out);
    chart_status(out, l, sum);
    ab_funnel_print_html(out, &sum->funnel, l);
    chart_codes(out, l, sum);
    if ((rc = chart_throughput(out, l, s, err)) != 0)
        return rc;
    chart_latency(out, l, sum);
    chart_runs(out, l, sum);
    fputs("</section>\n", out);
    errors_table(out, l, sum);
    stats_tables(out, l, sum);
    if ((rc = company_table(out, s, o, sum, err)) != 0)
        return rc;
    fprintf(out, "<script>//<![CDATA[\n%s//]]></script>\n</body>\n</html>\n",
            js);
    return 0;
}
