#include "import.h"

#include <csv.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomicfile.h"
#include "csvout.h"
#include "store.h"
#include "store_import.h"
#include "validate.h"

#define CHUNK (64 * 1024)
#define REASON_MAX 512

struct field {
    size_t off, len;
    int cut; /* longer than AB_IMPORT_MAX_FIELD: cut there */
};

struct importer {
    struct ab_store *s;
    const struct ab_import_opts *o;
    const char *source;
    const char *unit; /* what a position counts: "line", "rowid", "row" */
    struct ab_import_result *r;
    struct ab_err *err;
    int rc;   /* first error that stops the import */
    int stop; /* no more input wanted */
    int64_t now;
    struct csv_parser p;

    /* Position. A record starts on the first line after the previous one
     * that has something other than spaces and line ends. */
    int64_t line;       /* physical line being read, 1-based */
    int after_cr;       /* the last segment ended in CR (maybe CRLF) */
    int need_start;     /* the next non-blank byte starts a record */
    int64_t rec_line;   /* line the current record started on */
    int64_t quote_line; /* line the open quoted field started on */
    int in_quote;
    int skip_line; /* after malformed quoting: drop input up to a line end */

    /* Header. */
    int have_header;
    size_t ncols;
    int colmap[AB_IMPORT_MAX_COLUMNS]; /* header cell -> enum ab_col or -1 */
    char *hdr;                         /* header cells, NUL-separated */
    size_t hdr_off[AB_IMPORT_MAX_COLUMNS], hdr_len[AB_IMPORT_MAX_COLUMNS];

    /* Current record: the first AB_IMPORT_MAX_COLUMNS fields are kept. */
    size_t nfields;
    size_t last_nonempty; /* 1 + index of the last non-empty field */
    int cur_cut;          /* the field being parsed was cut */
    struct field f[AB_IMPORT_MAX_COLUMNS];
    char *buf;
    size_t buflen, bufcap;

    struct ab_atomicfile *rej;
    int in_txn;
    struct ab_row_out out;
};

static int fatal(struct importer *im, int rc)
{
    if (!im->rc)
        im->rc = rc;
    im->stop = 1;
    return rc;
}

static int fatal_msg(struct importer *im, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fatal_msg(struct importer *im, int code, const char *fmt, ...)
{
    va_list ap;
    if (im->err) {
        va_start(ap, fmt);
        im->err->code = code;
        vsnprintf(im->err->msg, sizeof im->err->msg, fmt, ap);
        va_end(ap);
    }
    return fatal(im, code);
}

static void reset_record(struct importer *im)
{
    im->nfields = 0;
    im->last_nonempty = 0;
    im->cur_cut = 0;
    im->buflen = 0;
}

/* --- rejected rows ------------------------------------------------------ */

static int write_reject_csv(struct importer *im, const char *reason)
{
    FILE *f;
    size_t i;
    int bad = 0;

    if (!im->rej)
        return 0;
    f = ab_atomicfile_stream(im->rej);
    for (i = 0; i < im->ncols; i++) {
        const char *v = "";
        size_t n = 0;
        if (i < im->nfields && i < AB_IMPORT_MAX_COLUMNS) {
            v = im->buf + im->f[i].off;
            n = im->f[i].len;
        }
        bad |= ab_csvout_field(f, v, n, i == 0);
    }
    bad |= ab_csvout_field(f, reason, strlen(reason), im->ncols == 0);
    bad |= ab_csvout_end_row(f);
    if (bad)
        return fatal_msg(im, AB_EIO, "cannot write '%s': %s",
                         im->o->rejects_path, strerror(errno));
    return 0;
}

static void reject(struct importer *im, int64_t line, const char *reason)
{
    char raw[AB_IMPORT_MAX_RAW + 1];
    size_t rawlen = 0, i, kept;
    int rc;

    im->r->rejected++;
    if (im->o->on_reject)
        im->o->on_reject(im->o->ctx, im->source, line, reason);
    kept = im->nfields < AB_IMPORT_MAX_COLUMNS ? im->nfields
                                               : AB_IMPORT_MAX_COLUMNS;
    raw[0] = '\0';
    for (i = 0; i < kept; i++)
        if (ab_csvout_append(raw, sizeof raw, &rawlen, im->buf + im->f[i].off,
                             im->f[i].len, i == 0) != 0)
            break;
    rc = ab_store_import_reject(im->s, im->source, line, reason, raw, rawlen,
                                im->now, im->err);
    if (rc != 0) {
        fatal(im, rc);
        return;
    }
    write_reject_csv(im, reason);
}

/* --- header ------------------------------------------------------------- */

/* Replaces C0, DEL and C1 (as UTF-8) in s[0..n) with '?', so a header name
 * echoed in a message cannot drive the terminal. */
static void make_printable(char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b < 0x20 || b == 0x7F)
            s[i] = '?';
        else if (b == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
                 (unsigned char)s[i + 1] < 0xA0)
            s[i] = s[i + 1] = '?';
    }
}

/* Why a header without the required columns is probably not a CSV header
 * at all, or NULL. */
static const char *not_text(const struct importer *im)
{
    size_t i, bad;
    if (im->ncols && im->f[0].len >= 2 &&
        (memcmp(im->buf, "\xFF\xFE", 2) == 0 ||
         memcmp(im->buf, "\xFE\xFF", 2) == 0))
        return "the file is UTF-16 (it starts with a UTF-16 byte order mark): "
               "save it as UTF-8 CSV";
    for (i = 0; i < im->ncols; i++) {
        const char *v = im->buf + im->f[i].off;
        if (memchr(v, '\0', im->f[i].len) ||
            ab_validate_utf8(v, im->f[i].len, &bad) != 0)
            return "the header is not UTF-8 text (a binary or UTF-16 file?)";
    }
    return NULL;
}

static void on_header(struct importer *im)
{
    char unknown[400];
    size_t i, ulen = 0, nunknown = 0;
    int seen[AB_COL_COUNT] = {0};
    int rc;

    unknown[0] = '\0';
    if (im->nfields > AB_IMPORT_MAX_COLUMNS) {
        fatal_msg(im, AB_EDATA,
                  "%s: header has %zu columns, at most %d "
                  "supported",
                  im->source, im->nfields, AB_IMPORT_MAX_COLUMNS);
        return;
    }
    im->ncols = im->nfields;
    /* Keep the names for the rejects file: a copy of the record buffer. */
    im->hdr = malloc(im->buflen + 1);
    if (!im->hdr) {
        fatal_msg(im, AB_ENOMEM, "out of memory");
        return;
    }
    memcpy(im->hdr, im->buf, im->buflen);
    for (i = 0; i < im->ncols; i++) {
        const char *name = im->buf + im->f[i].off;
        size_t n = im->f[i].len;
        int c;

        im->hdr_off[i] = im->f[i].off;
        im->hdr_len[i] = n;
        while (n && (*name == ' ' || *name == '\t')) {
            name++;
            n--;
        }
        while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
            n--;
        c = n ? ab_validate_col_lookup(name, n) : -1;
        im->colmap[i] = c;
        if (c >= 0) {
            if (seen[c]++) {
                fatal_msg(im, AB_EDATA, "%s: duplicate column '%s'", im->source,
                          ab_validate_col_name(c));
                return;
            }
            continue;
        }
        if (n == 0)
            continue; /* an empty cell, as from a trailing comma */
        if (ulen + n + 8 < sizeof unknown) {
            size_t from = ulen;
            ulen += (size_t)snprintf(unknown + ulen, sizeof unknown - ulen,
                                     "%s'%.*s'", nunknown ? ", " : "", (int)n,
                                     name);
            make_printable(unknown + from, ulen - from);
        } else if (ulen + 8 < sizeof unknown) {
            ulen += (size_t)snprintf(unknown + ulen, sizeof unknown - ulen,
                                     ", ...");
        }
        nunknown++;
    }
    for (i = 0; i < 2; i++) {
        enum ab_col c = i ? AB_COL_APPLICANT_CONTACT : AB_COL_COMPANY_NAME;
        if (!seen[c]) {
            const char *why = not_text(im);
            if (why)
                fatal_msg(im, AB_EDATA, "%s: line 1: %s", im->source, why);
            else
                fatal_msg(im, AB_EDATA, "%s: missing required column '%s'",
                          im->source, ab_validate_col_name(c));
            return;
        }
    }
    if (nunknown && im->o->on_warn) {
        char msg[512];
        snprintf(msg, sizeof msg, "ignoring unknown column%s %s",
                 nunknown > 1 ? "s" : "", unknown);
        im->o->on_warn(im->o->ctx, im->source, msg);
    }

    im->have_header = 1;
    if ((rc = ab_store_import_begin(im->s, im->source, im->err)) != 0) {
        fatal(im, rc);
        return;
    }
    im->in_txn = 1;
    if (im->o->rejects_path) {
        FILE *f;
        int bad = 0;
        if ((rc = ab_atomicfile_open(im->o->rejects_path, &im->rej, im->err)) !=
            0) {
            fatal(im, rc == AB_ENOMEM ? rc : AB_EIO);
            return;
        }
        f = ab_atomicfile_stream(im->rej);
        for (i = 0; i < im->ncols; i++)
            bad |= ab_csvout_field(f, im->hdr + im->hdr_off[i], im->hdr_len[i],
                                   i == 0);
        bad |= ab_csvout_field(f, "reason", 6, im->ncols == 0);
        bad |= ab_csvout_end_row(f);
        if (bad)
            fatal_msg(im, AB_EIO, "cannot write '%s': %s", im->o->rejects_path,
                      strerror(errno));
    }
}

/* --- rows --------------------------------------------------------------- */

static void on_row(struct importer *im)
{
    struct ab_row_in in;
    char reason[REASON_MAX];
    enum ab_import_outcome outcome;
    int64_t first;
    size_t i;
    int rc;

    if (im->last_nonempty == 0)
        return; /* nothing but commas: a spreadsheet's empty row */
    im->r->rows++;
    if (im->last_nonempty > im->ncols) {
        snprintf(reason, sizeof reason, "%zu fields, header has %zu",
                 im->last_nonempty, im->ncols);
        reject(im, im->rec_line, reason);
        return;
    }
    memset(&in, 0, sizeof in);
    for (i = 0; i < im->ncols; i++) {
        int c = im->colmap[i];
        if (i < im->nfields && im->f[i].cut) {
            snprintf(reason, sizeof reason,
                     "field '%.*s' is longer than %d bytes",
                     (int)(im->hdr_len[i] > 64 ? 64 : im->hdr_len[i]),
                     im->hdr + im->hdr_off[i], AB_IMPORT_MAX_FIELD);
            reject(im, im->rec_line, reason);
            return;
        }
        if (c < 0)
            continue;
        if (i < im->nfields) {
            in.v[c] = im->buf + im->f[i].off;
            in.n[c] = im->f[i].len;
        } else {
            in.v[c] = ""; /* missing at the end of the row: empty */
        }
    }
    if (ab_validate_row(&in, &im->out, reason, sizeof reason) != 0) {
        reject(im, im->rec_line, reason);
        return;
    }
    rc = ab_store_import_row(im->s, &im->out, im->rec_line, im->now, &outcome,
                             &first, im->err);
    if (rc != 0) {
        fatal(im, rc);
        return;
    }
    switch (outcome) {
    case AB_IMPORT_NEW:
        im->r->new_rows++;
        break;
    case AB_IMPORT_UPDATED:
        im->r->updated++;
        break;
    case AB_IMPORT_IN_FLIGHT:
        im->r->in_flight++;
        /* fall through */
    case AB_IMPORT_UNCHANGED:
        im->r->unchanged++;
        break;
    case AB_IMPORT_DUPLICATE:
        snprintf(reason, sizeof reason,
                 "duplicate company '%s' (first on %s %lld)",
                 im->out.v[AB_COL_COMPANY_NAME], im->unit, (long long)first);
        reject(im, im->rec_line, reason);
        break;
    }
}

/* --- libcsv callbacks --------------------------------------------------- */

static void on_csv_field(void *data, size_t len, void *ctx)
{
    struct importer *im = ctx;
    size_t k = im->nfields++;
    int cut = im->cur_cut || len > AB_IMPORT_MAX_FIELD;

    im->cur_cut = 0;
    if (im->stop || k >= AB_IMPORT_MAX_COLUMNS) {
        if (len)
            im->last_nonempty = k + 1;
        return;
    }
    if (len > AB_IMPORT_MAX_FIELD)
        len = AB_IMPORT_MAX_FIELD;
    if (len)
        im->last_nonempty = k + 1;
    if (im->buflen + len + 1 > im->bufcap) {
        size_t cap = im->bufcap ? im->bufcap : 4096;
        char *nb;
        while (cap < im->buflen + len + 1)
            cap *= 2;
        if (!(nb = realloc(im->buf, cap))) {
            fatal_msg(im, AB_ENOMEM, "out of memory");
            return;
        }
        im->buf = nb;
        im->bufcap = cap;
    }
    if (len)
        memcpy(im->buf + im->buflen, data, len);
    im->buf[im->buflen + len] = '\0';
    im->f[k].off = im->buflen;
    im->f[k].len = len;
    im->f[k].cut = cut;
    im->buflen += len + 1;
}

static void on_csv_record(int c, void *ctx)
{
    struct importer *im = ctx;
    (void)c;
    if (!im->stop) {
        if (!im->have_header)
            on_header(im);
        else
            on_row(im);
    }
    reset_record(im);
    im->need_start = 1;
}

/* --- feeding the parser ------------------------------------------------- */

static int parser_init(struct importer *im)
{
    if (csv_init(&im->p, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return fatal_msg(im, AB_ENOMEM, "out of memory");
    csv_set_blk_size(&im->p, 4096);
    return 0;
}

/* Malformed quoting at the current line: reject the record, drop the rest
 * of the line, start afresh on the next one. */
static void malformed(struct importer *im, int rest_of_line_follows)
{
    char reason[REASON_MAX];
    const char *what =
        im->p.quoted ? "text after the closing quote of a quoted field "
                       "(a quote inside a quoted field is written \"\")"
                     : "a quote inside an unquoted field (quote the whole "
                       "field and double the quote)";

    if (!im->have_header) {
        fatal_msg(im, AB_EDATA, "%s:%lld: malformed CSV header: %s", im->source,
                  (long long)im->line, what);
    } else {
        snprintf(reason, sizeof reason, "malformed CSV on line %lld: %s",
                 (long long)im->line, what);
        im->r->rows++;
        reject(im, im->rec_line, reason);
    }
    csv_free(&im->p);
    if (parser_init(im) != 0)
        return;
    reset_record(im);
    im->need_start = 1;
    im->in_quote = 0;
    im->skip_line = rest_of_line_follows;
}

/* Parses one segment: bytes up to and including a line end (CR or LF), or
 * up to the end of the chunk. */
static void parse_segment(struct importer *im, const char *s, size_t n)
{
    size_t used, i;

    if (im->need_start) {
        for (i = 0; i < n; i++)
            if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
                break;
        if (i < n) {
            im->need_start = 0;
            im->rec_line = im->line;
        }
    }
    used = csv_parse(&im->p, s, n, on_csv_field, on_csv_record, im);
    if (im->stop)
        return;
    if (used < n) {
        if (csv_error(&im->p) == CSV_EPARSE) {
            char last = s[n - 1];
            malformed(im, last != '\n' && last != '\r');
        } else {
            fatal_msg(im, AB_ENOMEM, "%s: out of memory reading line %lld",
                      im->source, (long long)im->line);
        }
        return;
    }
    /* Bound the field being parsed: drop what is past the limit (the row
     * will be rejected); libcsv keeps no other copy of it. */
    if (im->p.entry_pos > AB_IMPORT_MAX_FIELD) {
        im->p.entry_pos = AB_IMPORT_MAX_FIELD;
        if (im->p.spaces > AB_IMPORT_MAX_FIELD / 2)
            im->p.spaces = AB_IMPORT_MAX_FIELD / 2;
        im->cur_cut = 1;
    }
    if (im->p.quoted && !im->in_quote)
        im->quote_line = im->line;
    im->in_quote = im->p.quoted;
}

static void feed(struct importer *im, const char *s, size_t n)
{
    while (n && !im->stop) {
        size_t k = 0;
        int term;

        while (k < n && s[k] != '\n' && s[k] != '\r')
            k++;
        term = k < n;
        if (term)
            k++;
        if (im->skip_line)
            im->skip_line = !term;
        else
            parse_segment(im, s, k);
        if (term && !(im->after_cr && s[0] == '\n' && k == 1))
            im->line++;
        im->after_cr = term && s[k - 1] == '\r';
        s += k;
        n -= k;
    }
}

static void finish(struct importer *im)
{
    char reason[REASON_MAX];

    if (csv_fini(&im->p, on_csv_field, on_csv_record, im) == 0 || im->stop)
        return;
    /* Still inside a quoted field at the end of the file. */
    snprintf(reason, sizeof reason,
             "unterminated quoted field starting at line %lld",
             (long long)im->quote_line);
    if (!im->have_header) {
        fatal_msg(im, AB_EDATA, "%s: %s", im->source, reason);
        return;
    }
    /* The open field is part of the rejected row as far as it goes. */
    on_csv_field(im->p.entry_buf, im->p.entry_pos, im);
    if (im->stop)
        return;
    im->r->rows++;
    reject(im, im->rec_line, reason);
}

/* --- entry points ------------------------------------------------------- */

static struct importer *importer_new(struct ab_store *s, const char *source,
                                     const char *unit,
                                     const struct ab_import_opts *o,
                                     struct ab_import_result *r,
                                     struct ab_err *err)
{
    static const struct ab_import_opts defaults;
    struct importer *im;

    memset(r, 0, sizeof *r);
    ab_err_clear(err);
    if (!(im = calloc(1, sizeof *im))) {
        ab_err_set(err, AB_ENOMEM, "out of memory");
        return NULL;
    }
    im->s = s;
    im->o = o ? o : &defaults;
    im->source = source;
    im->unit = unit;
    im->r = r;
    im->err = err;
    im->now = ab_now_ms();
    im->line = 1;
    im->need_start = 1;
    parser_init(im);
    return im;
}

static int importer_end(struct importer *im);

int ab_import_stream(struct ab_store *s, FILE *in, const char *source,
                     const struct ab_import_opts *o, struct ab_import_result *r,
                     struct ab_err *err)
{
    struct importer *im;
    char *chunk;
    size_t n;
    int first = 1;

    if (!(im = importer_new(s, source, "line", o, r, err)))
        return AB_ENOMEM;
    if (!(chunk = malloc(CHUNK)))
        fatal_msg(im, AB_ENOMEM, "out of memory");
    while (!im->stop && (n = fread(chunk, 1, CHUNK, in)) > 0) {
        const char *p = chunk;
        if (first && n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
            p += 3;
            n -= 3;
        }
        first = 0;
        feed(im, p, n);
    }
    if (!im->stop && ferror(in))
        fatal_msg(im, AB_ENOENT, "cannot read '%s': %s", source,
                  strerror(errno));
    if (!im->stop)
        finish(im);
    if (!im->stop && !im->have_header)
        fatal_msg(im, AB_EDATA, "%s: empty file, expected a header row",
                  source);
    free(chunk);
    return importer_end(im);
}

/* Strict, the rejects file, commit or rollback; frees im. */
static int importer_end(struct importer *im)
{
    const struct ab_import_opts *o = im->o;
    struct ab_import_result *r = im->r;
    struct ab_err *err = im->err;
    const char *source = im->source;
    int rc = im->rc;

    if (rc == 0 && o->strict && r->rejected > 0)
        rc = ab_err_set(err, AB_EDATA,
                        "%s: %lld row%s rejected, nothing imported (--strict)",
                        source, (long long)r->rejected,
                        r->rejected == 1 ? "" : "s");
    /* The rejects file is useful after a --strict refusal too. */
    if ((rc == 0 || (o->strict && r->rejected > 0 && !im->rc)) && im->rej) {
        int frc = ab_atomicfile_commit(im->rej, rc == 0 ? err : NULL);
        im->rej = NULL;
        if (rc == 0 && frc != 0)
            rc = frc == AB_ENOMEM ? frc : AB_EIO;
    }
    if (im->in_txn) {
        int erc = ab_store_import_end(im->s, rc == 0, rc == 0 ? err : NULL);
        if (rc == 0 && erc == 0)
            r->committed = 1;
        else if (rc == 0)
            rc = erc;
    }
    ab_atomicfile_abort(im->rej);
    csv_free(&im->p);
    free(im->buf);
    free(im->hdr);
    free(im);
    if (rc == 0 && r->in_flight > 0 && o->on_warn) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "%lld compan%s left unchanged: being processed by a run "
                 "right now (in_flight)",
                 (long long)r->in_flight, r->in_flight == 1 ? "y" : "ies");
        o->on_warn(o->ctx, source, msg);
    }
    return rc;
}

/* --- records from other readers ----------------------------------------- */

struct ab_import_feed {
    struct importer *im;
};

int ab_import_feed_new(struct ab_store *s, const char *source, const char *unit,
                       const struct ab_import_opts *o,
                       struct ab_import_result *r, struct ab_err *err,
                       struct ab_import_feed **out)
{
    struct ab_import_feed *f;

    *out = NULL;
    if (!(f = malloc(sizeof *f))) {
        memset(r, 0, sizeof *r);
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    }
    if (!(f->im = importer_new(s, source, unit, o, r, err))) {
        free(f);
        return AB_ENOMEM;
    }
    *out = f;
    return 0;
}

void ab_import_feed_field(struct ab_import_feed *f, const char *v, size_t n)
{
    on_csv_field((void *)v, n, f->im);
}

int ab_import_feed_record(struct ab_import_feed *f, int64_t at,
                          const char *reject_reason)
{
    struct importer *im = f->im;

    im->rec_line = at;
    if (reject_reason && !im->stop && im->have_header) {
        im->r->rows++;
        reject(im, at, reject_reason);
        reset_record(im);
    } else {
        on_csv_record(0, im);
    }
    return im->rc;
}

int ab_import_feed_end(struct ab_import_feed *f, int reader_rc)
{
    struct importer *im = f->im;

    free(f);
    if (reader_rc != 0)
        fatal(im, reader_rc);
    return importer_end(im);
}

int ab_import_file(struct ab_store *s, const char *path,
                   const struct ab_import_opts *o, struct ab_import_result *r,
                   struct ab_err *err)
{
    const char *source = o && o->source ? o->source : path;
    FILE *in;
    int rc;

    if (strcmp(path, "-") == 0) {
        if (!(o && o->source))
            source = "<stdin>";
        return ab_import_stream(s, stdin, source, o, r, err);
    }
    memset(r, 0, sizeof *r);
    if (!(in = fopen(path, "rb")))
        return ab_err_set(err, errno == ENOMEM ? AB_ENOMEM : AB_ENOENT,
                          "cannot open '%s': %s", path, strerror(errno));
    rc = ab_import_stream(s, in, source, o, r, err);
    fclose(in);
    return rc;
}
