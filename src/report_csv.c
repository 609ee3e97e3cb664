/* report_csv.c - the CSV report: a header row and one row per company,
 * RFC 4180 through csvout.h, optionally after a UTF-8 BOM for Excel, or in
 * GB18030 through charset.h's encoder. Values pass the safetext filter. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "charset.h"
#include "csvout.h"
#include "report_internal.h"
#include "safetext.h"

struct csv_ctx {
    FILE *out;
    int tickets;
    char *clean; /* scratch for the filtered value */
    size_t cap;
};

static int field_ctx(struct csv_ctx *x, const char *s, int first)
{
    size_t n;

    if (!s)
        s = "";
    n = strlen(s);
    if (3 * n + 1 > x->cap) {
        size_t cap = 3 * n + 1 > 4096 ? 3 * n + 1 : 4096;
        char *p = realloc(x->clean, cap);
        if (!p) {
            errno = ENOMEM;
            return 1;
        }
        x->clean = p;
        x->cap = cap;
    }
    n = ab_safetext(x->clean, s, n);
    return ab_csvout_field(x->out, x->clean, n, first) != 0;
}

/* Column names and numbers: ASCII, nothing to filter. */
static int field(FILE *f, const char *s, int first)
{
    return ab_csvout_field(f, s, strlen(s), first) != 0;
}

static int field_int(FILE *f, int present, int64_t v, int first)
{
    char buf[32] = "";
    if (present)
        snprintf(buf, sizeof buf, "%" PRId64, v);
    return field(f, buf, first);
}

static int field_time(FILE *f, int64_t ms)
{
    char buf[40] = "";
    if (ms > 0)
        ab_report_iso_utc(buf, sizeof buf, ms);
    return field(f, buf, 0);
}

static int on_company(void *ctx, const struct ab_report_company *c)
{
    struct csv_ctx *x = ctx;
    FILE *f = x->out;
    int bad = 0;

    bad |= field_int(f, 1, c->id, 1);
    bad |= field_ctx(x, c->company_name, 0);
    bad |= field_ctx(x, c->register_no, 0);
    bad |= field_ctx(x, c->status, 0);
    bad |= field_int(f, 1, c->attempts, 0);
    bad |= field_int(f, c->last_http_status >= 0, c->last_http_status, 0);
    bad |= field_int(f, c->has_code, c->last_code, 0);
    bad |= field_ctx(x, c->last_message, 0);
    bad |= field_time(f, c->updated_at);
    bad |= field_ctx(x, c->auth_status, 0);
    bad |= field_ctx(x, c->auth_reason, 0);
    bad |= field_time(f, c->auth_changed_at);
    if (x->tickets) {
        bad |= field_ctx(x, c->ticket, 0);
        bad |= field_time(f, c->ticket_at);
    }
    bad |= ab_csvout_end_row(f) != 0;
    return bad ? AB_EIO : 0;
}

int ab_report_csv(struct ab_store *s, const struct ab_report_opts *o,
                  const struct ab_report_summary *sum, FILE *out,
                  struct ab_err *err)
{
    static const char *const cols[] = {
        "id",         "company_name",     "register_no", "status",
        "attempts",   "last_http_status", "last_code",   "last_message",
        "updated_at", "auth_status",      "auth_reason", "auth_changed_at",
        "ticket",     "ticket_at",
    };
    struct csv_ctx x = {out, o->with_tickets, NULL, 0};
    struct ab_encoder *enc = NULL;
    size_t i, ncols = o->with_tickets ? 14 : 12;
    int bad = 0, rc, erc;

    (void)sum;
    if (o->encoding == AB_CHARSET_GB18030) {
        if ((rc = ab_encoder_open(out, AB_CHARSET_GB18030, 0, &enc, err)) != 0)
            return rc;
        x.out = ab_encoder_stream(enc);
    } else if (o->bom) {
        fputs("\xEF\xBB\xBF", out);
    }
    for (i = 0; i < ncols; i++)
        bad |= field(x.out, cols[i], i == 0);
    bad |= ab_csvout_end_row(x.out) != 0;
    rc = bad ? AB_EIO
             : ab_store_report_companies(s, o->status, o->with_tickets,
                                         on_company, &x, err);
    free(x.clean);
    if (enc) {
        struct ab_err eerr = {0};
        if ((erc = ab_encoder_close(enc, &eerr)) != 0 &&
            (rc == 0 || rc == AB_EIO))
            rc = ab_err_set(err, erc, "%s", eerr.msg);
    }
    return rc;
}
