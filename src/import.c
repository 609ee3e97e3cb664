#include "import.h"

#include <csv.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomicfile.h"
#include "charset.h"
#include "csvout.h"
#include "store.h"
#include "store_import.h"
#include "validate.h"

#define CHUNK (64 * 1024)
#define REASON_MAX 512
#define HOLD_MAX (64 * 1024) /* header text held to find its separator */

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
    struct ab_encoder *rej_enc; /* the rejects file in the input's encoding */
    FILE *rej_f;                /* what rows are written to */
    int rej_cs_pending;         /* rej_enc waits for the encoding */
    int in_txn;
    struct ab_row_out out;

    /* Decoding. The separator is known once the header line is in: until
     * then decoded text is held (with the first decoding error in it). */
    struct ab_decoder *dec;
    char sep;
    char *hold;
    size_t nhold, hold_scan, hold_line; /* hold_line: first non-blank line */
    int hold_nonblank;
    size_t hold_err_pos; /* SIZE_MAX: none */
    char hold_err[2][120];
    char dec_err[300]; /* the first decoding error of the current record */
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
    im->dec_err[0] = '\0';
}

static int valid_utf8(const char *s, size_t n)
{
    size_t i = 0, k;
    while (i < n) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        if ((k = ab_utf8_len(s + i, n - i)) == 0)
            return 0;
        i += k;
    }
    return 1;
}

/* --- rejected rows ------------------------------------------------------ */

static int write_reject_csv(struct importer *im, const char *reason)
{
    FILE *f;
    size_t i;
    int bad = 0;

    if (!im->rej)
        return 0;
    f = im->rej_f;
    for (i = 0; i < im->ncols; i++) {
        const char *v = "";
        size_t n = 0;
        if (i < im->nfields && i < AB_IMPORT_MAX_COLUMNS) {
            v = im->buf + im->f[i].off;
            n = im->f[i].len;
        }
        bad |= ab_csvout_field_sep(f, v, n, i == 0, im->sep);
    }
    bad |=
        ab_csvout_field_sep(f, reason, strlen(reason), im->ncols == 0, im->sep);
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
    size_t i;
    for (i = 0; i < im->ncols; i++) {
        const char *v = im->buf + im->f[i].off;
        if (memchr(v, '\0', im->f[i].len))
            return "the header holds NUL bytes: a binary file, or UTF-16 "
                   "without a byte order mark (try --encoding utf-16)";
        if (!valid_utf8(v, im->f[i].len))
            return "the header is not UTF-8 text (a binary file, or another "
                   "encoding: see --encoding)";
    }
    return NULL;
}

/* A header that is one column when split at the separator given but holds
 * another one (--delimiter ';' on a comma file): say so, since "missing
 * required column 'companyName'" alone reads as nonsense when the header
 * plainly has it. "" otherwise. */
static const char *other_separator(const struct importer *im)
{
    static const char *const hint[] = {
        "; the header is one column when split at the --delimiter given, "
        "but it holds ',': leave --delimiter out (auto) or give "
        "--delimiter ','",
        "; the header is one column when split at the --delimiter given, "
        "but it holds ';': leave --delimiter out (auto) or give "
        "--delimiter ';'",
        "; the header is one column when split at the --delimiter given, "
        "but it holds tabs: leave --delimiter out (auto) or give "
        "--delimiter tab",
    };
    static const char seps[] = {',', ';', '\t'};
    size_t i;

    if (im->ncols != 1)
        return "";
    for (i = 0; i < sizeof seps; i++)
        if (seps[i] != im->sep &&
            memchr(im->hdr + im->hdr_off[0], seps[i], im->hdr_len[0]))
            return hint[i];
    return "";
}

/* After an explicit --encoding, a header without the required columns
 * may be that encoding's misreading: say what it was read as. "" for auto. */
static const char *encoding_given(const struct importer *im, char *buf,
                                  size_t n)
{
    if (im->o->encoding == AB_CHARSET_AUTO)
        return "";
    snprintf(buf, n,
             "; the file was read as %s because --encoding said so: if "
             "that is not its encoding, leave --encoding out (auto)",
             ab_charset_name(im->o->encoding));
    return buf;
}

static void on_header(struct importer *im)
{
    char unknown[400], hint[160];
    size_t i, ulen = 0, nunknown = 0;
    int seen[AB_COL_COUNT] = {0};
    int rc;

    unknown[0] = '\0';
    if (im->dec_err[0]) {
        fatal_msg(im, AB_EDATA, "%s:%lld: header: %s", im->source,
                  (long long)im->rec_line, im->dec_err);
        return;
    }
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
                fatal_msg(im, AB_EDATA, "%s: missing required column '%s'%s%s",
                          im->source, ab_validate_col_name(c),
                          other_separator(im),
                          encoding_given(im, hint, sizeof hint));
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
        /* Rows from another reader (no decoder) are UTF-8. */
        enum ab_charset cs =
            im->dec ? ab_decoder_charset(im->dec) : AB_CHARSET_UTF8;
        if ((rc = ab_atomicfile_open(im->o->rejects_path, &im->rej, im->err)) !=
            0) {
            fatal(im, rc == AB_ENOMEM ? rc : AB_EIO);
            return;
        }
        ab_atomicfile_private(im->rej); /* applicants' contacts */
        if ((rc = ab_encoder_open(ab_atomicfile_stream(im->rej), cs,
                                  im->dec && ab_decoder_had_bom(im->dec),
                                  &im->rej_enc, im->err)) != 0) {
            fatal(im, rc);
            return;
        }
        im->rej_cs_pending = cs == AB_CHARSET_AUTO;
        f = im->rej_f = ab_encoder_stream(im->rej_enc);
        for (i = 0; i < im->ncols; i++)
            bad |= ab_csvout_field_sep(f, im->hdr + im->hdr_off[i],
                                       im->hdr_len[i], i == 0, im->sep);
        bad |= ab_csvout_field_sep(f, "reason", 6, im->ncols == 0, im->sep);
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
    if (im->dec_err[0]) {
        snprintf(reason, sizeof reason, "%s", im->dec_err);
        reject(im, im->rec_line, reason);
        return;
    }
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
        for (i = 0; i < AB_COL_COUNT; i++)
            if (in.v[i] && !valid_utf8(in.v[i], in.n[i])) {
                im->r->not_utf8++;
                break;
            }
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
    csv_set_delim(&im->p, (unsigned char)(im->sep ? im->sep : ','));
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

/* --- decoded text ------------------------------------------------------- */

/* The separator of the header line s[0..n): the most frequent of comma,
 * semicolon and tab outside quotes; ties and none go to the comma, then the
 * semicolon. */
static char pick_separator(const char *s, size_t n)
{
    size_t i, comma = 0, semi = 0, tab = 0;
    int quoted = 0;

    for (i = 0; i < n; i++) {
        if (s[i] == '"')
            quoted = !quoted;
        else if (!quoted && s[i] == ',')
            comma++;
        else if (!quoted && s[i] == ';')
            semi++;
        else if (!quoted && s[i] == '\t')
            tab++;
    }
    if (tab > comma && tab > semi)
        return '\t';
    if (semi > comma)
        return ';';
    return ',';
}

/* what[0] + " on line N" + what[1]: N is the line being parsed. */
static void set_dec_err(struct importer *im, char what[2][120])
{
    if (!im->dec_err[0])
        snprintf(im->dec_err, sizeof im->dec_err, "%s on line %lld%s", what[0],
                 (long long)im->line, what[1]);
}

/* The separator is known: parse what was held, the first decoding error in
 * its place. */
static void release_hold(struct importer *im, size_t line_len)
{
    size_t pos = im->hold_err_pos;

    if (!im->sep) {
        im->sep = im->hold ? pick_separator(im->hold + im->hold_line,
                                            line_len - im->hold_line)
                           : ',';
        csv_set_delim(&im->p, (unsigned char)im->sep);
    }
    if (!im->hold) {
        /* Nothing held: nothing decoded yet, or an empty input. */
    } else if (pos == SIZE_MAX) {
        feed(im, im->hold, im->nhold);
    } else {
        feed(im, im->hold, pos);
        if (!im->stop)
            set_dec_err(im, im->hold_err);
        if (!im->stop)
            feed(im, im->hold + pos, im->nhold - pos);
    }
    free(im->hold);
    im->hold = NULL;
    im->nhold = 0;
}

/* Holds s[0..n) until the end of the first line that is not blank (or
 * HOLD_MAX bytes), then parses everything. */
static void hold(struct importer *im, const char *s, size_t n)
{
    size_t i, k;

    if (!im->hold && !(im->hold = malloc(HOLD_MAX))) {
        fatal_msg(im, AB_ENOMEM, "out of memory");
        return;
    }
    while (n && im->hold) {
        k = HOLD_MAX - im->nhold < n ? HOLD_MAX - im->nhold : n;
        memcpy(im->hold + im->nhold, s, k);
        im->nhold += k;
        s += k;
        n -= k;
        for (i = im->hold_scan; i < im->nhold; i++) {
            char c = im->hold[i];
            if ((c == '\n' || c == '\r') && im->hold_nonblank)
                break;
            if (c == '\n' || c == '\r')
                im->hold_line = i + 1;
            else if (c != ' ' && c != '\t')
                im->hold_nonblank = 1;
        }
        im->hold_scan = i;
        if (i < im->nhold || im->nhold == HOLD_MAX)
            release_hold(im, i);
    }
    if (n && !im->stop)
        feed(im, s, n);
}

static void on_decoded(void *ctx, const char *s, size_t n)
{
    struct importer *im = ctx;

    if (im->stop)
        return;
    if (im->rej_cs_pending && ab_decoder_charset(im->dec) != AB_CHARSET_AUTO) {
        ab_encoder_set_charset(im->rej_enc, ab_decoder_charset(im->dec));
        im->rej_cs_pending = 0;
    }
    if (!im->sep || im->hold)
        hold(im, s, n);
    else
        feed(im, s, n);
}

static void on_decode_error(void *ctx, const unsigned char *b, size_t n,
                            int truncated)
{
    struct importer *im = ctx;
    const char *cs = ab_charset_name(ab_decoder_charset(im->dec));
    char bytes[40] = "", what[2][120];
    size_t i, k = 0;

    for (i = 0; i < n && i < 4; i++)
        k += (size_t)snprintf(bytes + k, sizeof bytes - k, "%s0x%02X",
                              i ? " " : "", b[i]);
    if (truncated) {
        snprintf(what[0], sizeof what[0],
                 "the file ends inside a %s character (%s)", cs, bytes);
        what[1][0] = '\0';
    } else {
        snprintf(what[0], sizeof what[0], "%s %s", n == 1 ? "byte" : "bytes",
                 bytes);
        snprintf(what[1], sizeof what[1],
                 " %s not valid %s (a character cut short, or another "
                 "encoding?)",
                 n == 1 ? "is" : "are", cs);
    }
    if (im->sep && !im->hold) {
        set_dec_err(im, what);
    } else if (im->hold_err_pos == SIZE_MAX) {
        im->hold_err_pos = im->nhold;
        memcpy(im->hold_err, what, sizeof what);
    }
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
    im->sep = ','; /* CSV input: set in ab_import_stream() */
    im->hold_err_pos = SIZE_MAX;
    parser_init(im);
    return im;
}

static int importer_end(struct importer *im);

int ab_import_stream(struct ab_store *s, FILE *in, const char *source,
                     const struct ab_import_opts *o, struct ab_import_result *r,
                     struct ab_err *err)
{
    struct ab_decoder_sink sink;
    struct importer *im;
    struct ab_err derr = {0};
    char *chunk;
    size_t n;
    int rc;

    if (!(im = importer_new(s, source, "line", o, r, err)))
        return AB_ENOMEM;
    /* The separator: named, or held back until the header line is in. */
    if ((im->sep = im->o->delimiter) != 0)
        csv_set_delim(&im->p, (unsigned char)im->sep);
    sink.on_text = on_decoded;
    sink.on_error = on_decode_error;
    sink.ctx = im;
    if ((rc = ab_decoder_new(im->o->encoding, &sink, &im->dec, err)) != 0)
        fatal(im, rc);
    if (!(chunk = malloc(CHUNK)))
        fatal_msg(im, AB_ENOMEM, "out of memory");
    while (!im->stop && (n = fread(chunk, 1, CHUNK, in)) > 0) {
        if ((rc = ab_decoder_feed(im->dec, chunk, n, &derr)) != 0)
            fatal_msg(im, rc, "%s: line 1: %s", source, derr.msg);
    }
    if (!im->stop && ferror(in))
        fatal_msg(im, AB_ENOENT, "cannot read '%s': %s", source,
                  strerror(errno));
    if (!im->stop && (rc = ab_decoder_finish(im->dec, &derr)) != 0)
        fatal_msg(im, rc, "%s: line 1: %s", source, derr.msg);
    if (!im->stop && (!im->sep || im->hold))
        release_hold(im, im->nhold);
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
    int rc = im->rc, csv = im->dec != NULL;

    r->encoding = AB_CHARSET_UTF8;
    if (im->dec) {
        enum ab_charset cs = ab_decoder_charset(im->dec);
        r->encoding = cs == AB_CHARSET_AUTO ? AB_CHARSET_UTF8 : cs;
        r->bom = ab_decoder_had_bom(im->dec);
        r->detected = ab_decoder_detected(im->dec);
        r->gb18030_errors = ab_decoder_gb18030_errors(im->dec);
    }
    r->delimiter = im->sep ? im->sep : ',';
    if (rc == 0 && o->strict && r->rejected > 0)
        rc = ab_err_set(err, AB_EDATA,
                        "%s: %lld row%s rejected, nothing imported (--strict)",
                        source, (long long)r->rejected,
                        r->rejected == 1 ? "" : "s");
    if (im->rej_enc) {
        struct ab_err eerr = {0};
        int erc = ab_encoder_close(im->rej_enc, &eerr);
        im->rej_enc = NULL;
        if (erc != 0 && rc == 0)
            rc = ab_err_set(err, erc == AB_ENOMEM ? erc : AB_EIO,
                            "cannot write '%s': %s", o->rejects_path, eerr.msg);
        else if (erc != 0) {
            ab_atomicfile_abort(im->rej);
            im->rej = NULL;
        }
    }
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
    ab_decoder_free(im->dec);
    csv_free(&im->p);
    free(im->buf);
    free(im->hdr);
    free(im->hold);
    free(im);
    if (rc == 0 && r->in_flight > 0 && o->on_warn) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "%lld compan%s left unchanged: being processed by a run "
                 "right now (in_flight)",
                 (long long)r->in_flight, r->in_flight == 1 ? "y" : "ies");
        o->on_warn(o->ctx, source, msg);
    }
    if (!csv) {
        /* Rows from another reader: its encoding is not ours to guess. */
    } else if (r->not_utf8 > 0 && o->on_warn && r->gb18030_errors > 0 &&
               r->gb18030_errors <= 10) {
        char msg[400];
        snprintf(msg, sizeof msg,
                 "%lld rejected row%s %s not valid UTF-8; the file reads as "
                 "GB18030 (Excel's CSV on Chinese Windows) except for %ld "
                 "damaged character%s, so it was not taken for GB18030: if "
                 "it is, import it again with --encoding gb18030 (the "
                 "damaged rows are then rejected alone)",
                 (long long)r->not_utf8, r->not_utf8 == 1 ? "" : "s",
                 r->not_utf8 == 1 ? "is" : "are", r->gb18030_errors,
                 r->gb18030_errors == 1 ? "" : "s");
        o->on_warn(o->ctx, source, msg);
    } else if (r->not_utf8 > 0 && o->on_warn) {
        char msg[400];
        snprintf(msg, sizeof msg,
                 "%lld rejected row%s %s not valid UTF-8%s: if the file came "
                 "from Excel, save it as \"CSV UTF-8\" or \"Unicode text\", "
                 "or name its encoding with --encoding (see 'authbatch "
                 "import --help')",
                 (long long)r->not_utf8, r->not_utf8 == 1 ? "" : "s",
                 r->not_utf8 == 1 ? "is" : "are",
                 o->encoding == AB_CHARSET_AUTO
                     ? ", and the file does not read cleanly as GB18030 either"
                     : "");
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

int ab_import_parse_delimiter(const char *s, char *out)
{
    static const struct {
        const char *name;
        char c;
    } names[] = {
        {"auto", 0},        {",", ','},    {"comma", ','}, {";", ';'},
        {"semicolon", ';'}, {"tab", '\t'}, {"\t", '\t'},
    };
    size_t i;

    for (i = 0; s && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].c;
            return 0;
        }
    }
    return AB_EINVAL;
}

void ab_import_describe(const struct ab_import_result *r, char *buf, size_t n)
{
    const char *sep = r->delimiter == ';'    ? "semicolon-separated"
                      : r->delimiter == '\t' ? "tab-separated"
                                             : NULL;
    const char *why = NULL;

    buf[0] = '\0';
    if (r->encoding == AB_CHARSET_GB18030)
        why = r->detected ? "Excel's CSV on Chinese Windows" : NULL;
    else if ((r->encoding == AB_CHARSET_UTF16LE ||
              r->encoding == AB_CHARSET_UTF16BE) &&
             r->delimiter == '\t')
        why = "Excel's Unicode text";
    if ((r->encoding == AB_CHARSET_UTF8 || r->encoding == AB_CHARSET_AUTO) &&
        !sep)
        return;
    snprintf(buf, n, "read as %s%s%s%s%s%s", ab_charset_name(r->encoding),
             r->bom ? " with a byte order mark" : "", sep ? ", " : "",
             sep ? sep : "", why ? " (" : "", why ? why : "");
    if (why && strlen(buf) + 2 < n)
        strcat(buf, ")");
}
