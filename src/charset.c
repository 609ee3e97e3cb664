#include "charset.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NO_ICONV ((iconv_t)-1)

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */
static const char EURO[] = "\xE2\x82\xAC";        /* U+20AC */

int ab_charset_parse(const char *s, enum ab_charset *out)
{
    static const struct {
        const char *name;
        enum ab_charset cs;
    } names[] = {
        {"auto", AB_CHARSET_AUTO},        {"utf-8", AB_CHARSET_UTF8},
        {"utf8", AB_CHARSET_UTF8},        {"gb18030", AB_CHARSET_GB18030},
        {"gbk", AB_CHARSET_GB18030},      {"cp936", AB_CHARSET_GB18030},
        {"utf-16", AB_CHARSET_UTF16},     {"utf16", AB_CHARSET_UTF16},
        {"utf-16le", AB_CHARSET_UTF16LE}, {"utf-16be", AB_CHARSET_UTF16BE},
    };
    size_t i;

    for (i = 0; s && i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].cs;
            return 0;
        }
    }
    return AB_EINVAL;
}

const char *ab_charset_name(enum ab_charset cs)
{
    switch (cs) {
    case AB_CHARSET_UTF8:
        return "UTF-8";
    case AB_CHARSET_GB18030:
        return "GB18030";
    case AB_CHARSET_UTF16:
        return "UTF-16";
    case AB_CHARSET_UTF16LE:
        return "UTF-16LE";
    case AB_CHARSET_UTF16BE:
        return "UTF-16BE";
    case AB_CHARSET_AUTO:
        break;
    }
    return "auto";
}

size_t ab_utf8_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F))
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
            (s[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
            return 0;
        return 4;
    }
    return 0;
}

/* Could s[0..n) be the start of a valid sequence that more bytes would
 * complete? */
static int utf8_prefix(const unsigned char *s, size_t n)
{
    unsigned char buf[4];
    size_t need, i;

    if (n == 0 || n >= 4)
        return 0;
    need = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (need <= n)
        return 0;
    /* Complete it with the smallest continuation bytes the lead allows. */
    memcpy(buf, s, n);
    for (i = n; i < need; i++)
        buf[i] = 0x80;
    if (s[0] == 0xE0 && n == 1)
        buf[1] = 0xA0;
    if (s[0] == 0xF0 && n == 1)
        buf[1] = 0x90;
    return ab_utf8_len((const char *)buf, need) == need;
}

/* Valid UTF-8, except maybe for a sequence cut at the end when !at_end. */
static int utf8_valid(const char *str, size_t n, int at_end)
{
    size_t i = 0, k;

    while (i < n) {
        if ((unsigned char)str[i] < 0x80) {
            i++;
            continue;
        }
        k = ab_utf8_len(str + i, n - i);
        if (k == 0)
            return !at_end &&
                   utf8_prefix((const unsigned char *)str + i, n - i);
        i += k;
    }
    return 1;
}

static const char *iconv_name(enum ab_charset cs)
{
    switch (cs) {
    case AB_CHARSET_GB18030:
        return "GB18030";
    case AB_CHARSET_UTF16LE:
        return "UTF-16LE";
    case AB_CHARSET_UTF16BE:
        return "UTF-16BE";
    default:
        return NULL;
    }
}

/* --- decoding ----------------------------------------------------------- */

enum stage {
    ST_SNIFF,  /* collecting the first bytes for a byte order mark */
    ST_ASCII,  /* auto: nothing but ASCII so far */
    ST_WINDOW, /* auto: collecting the window to decide on */
    ST_DECODE, /* decided */
};

struct ab_decoder {
    enum ab_charset asked, cs;
    enum stage stage;
    int bom, detected;
    long gb_errors; /* in the window, when it was not UTF-8; else -1 */
    iconv_t cd;     /* NO_ICONV: UTF-8 passes through */
    struct ab_decoder_sink sink;
    unsigned char head[4];
    size_t nhead;
    char *win;
    size_t nwin;
    unsigned char tail[8]; /* an incomplete sequence carried over */
    size_t ntail;
    char out[16384];
};

int ab_decoder_new(enum ab_charset cs, const struct ab_decoder_sink *sink,
                   struct ab_decoder **out, struct ab_err *err)
{
    struct ab_decoder *d = calloc(1, sizeof *d);

    *out = NULL;
    if (!d)
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    d->asked = cs;
    d->cs = AB_CHARSET_AUTO;
    d->stage = ST_SNIFF;
    d->cd = NO_ICONV;
    d->gb_errors = -1;
    d->sink = *sink;
    *out = d;
    return 0;
}

void ab_decoder_free(struct ab_decoder *d)
{
    if (!d)
        return;
    if (d->cd != NO_ICONV)
        iconv_close(d->cd);
    free(d->win);
    free(d);
}

enum ab_charset ab_decoder_charset(const struct ab_decoder *d)
{
    return d->cs;
}

int ab_decoder_had_bom(const struct ab_decoder *d)
{
    return d->bom;
}

int ab_decoder_detected(const struct ab_decoder *d)
{
    return d->detected;
}

long ab_decoder_gb18030_errors(const struct ab_decoder *d)
{
    return d->gb_errors;
}

static void text(struct ab_decoder *d, const char *s, size_t n)
{
    if (n)
        d->sink.on_text(d->sink.ctx, s, n);
}

static int start_decoding(struct ab_decoder *d, enum ab_charset cs,
                          struct ab_err *err)
{
    const char *name = iconv_name(cs);

    d->cs = cs;
    d->stage = ST_DECODE;
    if (!name)
        return 0;
    d->cd = iconv_open("UTF-8", name);
    if (d->cd == NO_ICONV)
        return ab_err_set(err, errno == ENOMEM ? AB_ENOMEM : AB_EINVAL,
                          "cannot read %s: iconv has no converter (%s)",
                          ab_charset_name(cs), strerror(errno));
    return 0;
}

enum { CONV_DONE, CONV_INCOMPLETE };

/* Converts *in as far as it goes, handing the text to the sink; invalid
 * sequences are reported and replaced. Returns CONV_INCOMPLETE when *left
 * bytes remain that begin a character not complete yet. */
static int convert(struct ab_decoder *d, const char **in, size_t *left)
{
    for (;;) {
        char *o = d->out;
        size_t ol = sizeof d->out, r, skip;
        const unsigned char *p;
        int e;

        r = iconv(d->cd, (char **)in, left, &o, &ol);
        e = errno; /* the sink may change errno */
        text(d, d->out, sizeof d->out - ol);
        if (r != (size_t)-1)
            return CONV_DONE;
        if (e == E2BIG)
            continue;
        if (e == EINVAL)
            return CONV_INCOMPLETE;
        /* EILSEQ at *in. */
        p = (const unsigned char *)*in;
        if (d->cs == AB_CHARSET_GB18030 && p[0] == 0x80) {
            /* Windows code page 936, which Excel writes, has the euro sign
             * at 0x80; GB18030 leaves that byte unassigned (its euro is
             * A2 E3), so it can only mean that. */
            text(d, EURO, 3);
            (*in)++;
            (*left)--;
            continue;
        }
        skip = d->cs == AB_CHARSET_GB18030 ? 1 : 2;
        if (skip > *left)
            skip = *left;
        d->sink.on_error(d->sink.ctx, p, *left < 2 ? *left : 2, 0);
        text(d, REPLACEMENT, 3);
        *in += skip;
        *left -= skip;
    }
}

static void decode(struct ab_decoder *d, const char *s, size_t n)
{
    if (d->cd == NO_ICONV) {
        text(d, s, n);
        return;
    }
    /* First complete a character carried over from the last piece. */
    while (d->ntail && n) {
        const char *t = (const char *)d->tail;
        size_t tl;
        int rc;

        d->tail[d->ntail++] = (unsigned char)*s++;
        n--;
        tl = d->ntail;
        rc = convert(d, &t, &tl);
        memmove(d->tail, t, tl);
        d->ntail = tl;
        if (rc == CONV_INCOMPLETE && d->ntail == sizeof d->tail) {
            /* Cannot happen with these encodings; do not loop on it. */
            d->sink.on_error(d->sink.ctx, d->tail, 4, 0);
            text(d, REPLACEMENT, 3);
            d->ntail = 0;
        }
    }
    if (n && convert(d, &s, &n) == CONV_INCOMPLETE) {
        memcpy(d->tail, s, n); /* at most a character's worth */
        d->ntail = n;
    }
}

/* How many invalid sequences win[0..n) has as GB18030 (-1: no converter).
 * A character cut by the end is not counted unless at_end. */
static long gb18030_errors(const char *win, size_t n, int at_end)
{
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    char buf[4096];
    const char *in = win;
    size_t left = n;
    long errors = 0;

    if (cd == NO_ICONV)
        return -1;
    while (left) {
        char *o = buf;
        size_t ol = sizeof buf;
        if (iconv(cd, (char **)&in, &left, &o, &ol) != (size_t)-1)
            break;
        if (errno == E2BIG)
            continue;
        if (errno == EINVAL) {
            errors += at_end;
            break;
        }
        /* A lone 0x80 counts too: decoding reads it as code page 936's euro
         * sign, but detection does not take it as evidence (it is also what
         * invalid UTF-8 is made of). */
        errors++;
        in++;
        left--;
    }
    iconv_close(cd);
    return errors;
}

static int decide(struct ab_decoder *d, int at_end, struct ab_err *err)
{
    enum ab_charset cs = AB_CHARSET_UTF8;
    int rc;

    if (!utf8_valid(d->win, d->nwin, at_end)) {
        d->gb_errors = gb18030_errors(d->win, d->nwin, at_end);
        if (d->gb_errors == 0) {
            cs = AB_CHARSET_GB18030;
            d->detected = 1;
        }
    }
    if ((rc = start_decoding(d, cs, err)) != 0)
        return rc;
    decode(d, d->win, d->nwin);
    free(d->win);
    d->win = NULL;
    d->nwin = 0;
    return 0;
}

static int contradiction(const struct ab_decoder *d, const char *bom,
                         struct ab_err *err)
{
    return ab_err_set(err, AB_EDATA,
                      "the file starts with a %s byte order mark, but "
                      "--encoding %s was given (leave --encoding out to read "
                      "it as %s)",
                      bom, ab_charset_name(d->asked), bom);
}

/* The first bytes are in head: look for a byte order mark. */
static int sniff(struct ab_decoder *d, struct ab_err *err)
{
    const unsigned char *h = d->head;
    size_t n = d->nhead, skip = 0;
    enum ab_charset a = d->asked, cs = AB_CHARSET_AUTO;
    int rc;

    if (n >= 3 && memcmp(h, "\xEF\xBB\xBF", 3) == 0) {
        if (a != AB_CHARSET_AUTO && a != AB_CHARSET_UTF8)
            return contradiction(d, "UTF-8", err);
        cs = AB_CHARSET_UTF8;
        skip = 3;
    } else if (n >= 2 && h[0] == 0xFF && h[1] == 0xFE) {
        if (a != AB_CHARSET_AUTO && a != AB_CHARSET_UTF16 &&
            a != AB_CHARSET_UTF16LE)
            return contradiction(d, "UTF-16LE", err);
        cs = AB_CHARSET_UTF16LE;
        skip = 2;
    } else if (n >= 2 && h[0] == 0xFE && h[1] == 0xFF) {
        if (a != AB_CHARSET_AUTO && a != AB_CHARSET_UTF16 &&
            a != AB_CHARSET_UTF16BE)
            return contradiction(d, "UTF-16BE", err);
        cs = AB_CHARSET_UTF16BE;
        skip = 2;
    } else if (n >= 4 && memcmp(h, "\x84\x31\x95\x33", 4) == 0 &&
               (a == AB_CHARSET_AUTO || a == AB_CHARSET_GB18030)) {
        cs = AB_CHARSET_GB18030;
        skip = 4;
    }
    d->bom = skip > 0;
    if (cs == AB_CHARSET_AUTO) {
        if (a == AB_CHARSET_AUTO) {
            d->stage = ST_ASCII;
            return 0;
        }
        cs = a == AB_CHARSET_UTF16 ? AB_CHARSET_UTF16LE : a;
    }
    if ((rc = start_decoding(d, cs, err)) != 0)
        return rc;
    decode(d, (const char *)h + skip, n - skip);
    return 0;
}

static int consume(struct ab_decoder *d, const char *s, size_t n,
                   struct ab_err *err)
{
    size_t i;
    int rc;

    if (d->stage == ST_ASCII) {
        for (i = 0; i < n && (unsigned char)s[i] < 0x80; i++)
            ;
        text(d, s, i);
        if (i == n)
            return 0;
        d->stage = ST_WINDOW;
        if (!(d->win = malloc(AB_CHARSET_WINDOW)))
            return ab_err_set(err, AB_ENOMEM, "out of memory");
        s += i;
        n -= i;
    }
    if (d->stage == ST_WINDOW) {
        size_t k = AB_CHARSET_WINDOW - d->nwin;
        if (k > n)
            k = n;
        memcpy(d->win + d->nwin, s, k);
        d->nwin += k;
        s += k;
        n -= k;
        if (d->nwin < AB_CHARSET_WINDOW)
            return 0;
        if ((rc = decide(d, 0, err)) != 0)
            return rc;
    }
    decode(d, s, n);
    return 0;
}

int ab_decoder_feed(struct ab_decoder *d, const char *s, size_t n,
                    struct ab_err *err)
{
    int rc;

    if (d->stage == ST_SNIFF) {
        size_t k = sizeof d->head - d->nhead;
        if (k > n)
            k = n;
        memcpy(d->head + d->nhead, s, k);
        d->nhead += k;
        s += k;
        n -= k;
        if (d->nhead < sizeof d->head)
            return 0;
        if ((rc = sniff(d, err)) != 0)
            return rc;
        if (d->stage == ST_ASCII &&
            (rc = consume(d, (const char *)d->head, d->nhead, err)) != 0)
            return rc;
    }
    return consume(d, s, n, err);
}

int ab_decoder_finish(struct ab_decoder *d, struct ab_err *err)
{
    int rc;

    if (d->stage == ST_SNIFF) {
        if ((rc = sniff(d, err)) != 0)
            return rc;
        if (d->stage == ST_ASCII &&
            (rc = consume(d, (const char *)d->head, d->nhead, err)) != 0)
            return rc;
    }
    if (d->stage == ST_WINDOW && (rc = decide(d, 1, err)) != 0)
        return rc;
    if (d->ntail) {
        d->sink.on_error(d->sink.ctx, d->tail, d->ntail, 1);
        text(d, REPLACEMENT, 3);
        d->ntail = 0;
    }
    return 0;
}

/* --- encoding ----------------------------------------------------------- */

struct ab_encoder {
    FILE *under;
    FILE *fp;
    enum ab_charset cs;
    iconv_t cd;
    int failed;            /* a conversion failed: everything after is lost */
    int io_failed;         /* writing to under failed */
    char what[128];        /* the text that could not be converted */
    unsigned char tail[4]; /* a UTF-8 sequence split between two writes */
    size_t ntail;
    char out[8192];
};

static int put_under(struct ab_encoder *e, const char *s, size_t n)
{
    if (n && fwrite(s, 1, n, e->under) != n) {
        e->io_failed = 1;
        return -1;
    }
    return 0;
}

static void name_bad(struct ab_encoder *e, const char *s, size_t n)
{
    size_t k = ab_utf8_len(s, n);
    const unsigned char *u = (const unsigned char *)s;
    unsigned long cp;

    if (k == 0) {
        snprintf(e->what, sizeof e->what, "bytes that are not UTF-8 (0x%02X)",
                 u[0]);
        return;
    }
    cp = k == 1   ? u[0]
         : k == 2 ? (u[0] & 0x1Fu) << 6 | (u[1] & 0x3Fu)
         : k == 3 ? (u[0] & 0x0Fu) << 12 | (u[1] & 0x3Fu) << 6 | (u[2] & 0x3Fu)
                  : (u[0] & 0x07u) << 18 | (u[1] & 0x3Fu) << 12 |
                        (u[2] & 0x3Fu) << 6 | (u[3] & 0x3Fu);
    snprintf(e->what, sizeof e->what, "the character U+%04lX ('%.*s')", cp,
             (int)k, s);
}

/* Converts s[0..n); the caller keeps back an incomplete final sequence. */
static int encode(struct ab_encoder *e, const char *s, size_t n)
{
    size_t i;

    if (e->cs == AB_CHARSET_UTF8)
        return put_under(e, s, n);
    if (e->cs == AB_CHARSET_AUTO) {
        for (i = 0; i < n; i++) {
            if ((unsigned char)s[i] >= 0x80) {
                name_bad(e, s + i, n - i);
                e->failed = 1;
                return -1;
            }
        }
        return put_under(e, s, n);
    }
    while (n) {
        char *o = e->out;
        size_t ol = sizeof e->out;
        size_t r = iconv(e->cd, (char **)&s, &n, &o, &ol);
        int err = errno; /* fwrite may change errno */
        if (put_under(e, e->out, sizeof e->out - ol) != 0)
            return -1;
        if (r != (size_t)-1)
            break;
        if (err == E2BIG)
            continue;
        name_bad(e, s, n);
        e->failed = 1;
        return -1;
    }
    return 0;
}

/* Bytes at the end of s[0..n) that start a UTF-8 sequence not complete
 * yet. */
static size_t incomplete_tail(const char *s, size_t n)
{
    size_t k;
    for (k = 1; k <= 3 && k <= n; k++) {
        unsigned char c = (unsigned char)s[n - k];
        if (c >= 0xC0)
            return utf8_prefix((const unsigned char *)s + n - k, k) ? k : 0;
        if (c < 0x80)
            return 0;
    }
    return 0;
}

static ssize_t on_cookie_write(void *cookie, const char *s, size_t n)
{
    struct ab_encoder *e = cookie;
    size_t keep, total = n;

    if (e->failed || e->io_failed) {
        errno = e->failed ? EILSEQ : EIO;
        return -1;
    }
    if (e->cs != AB_CHARSET_UTF8) {
        while (e->ntail && n) {
            e->tail[e->ntail++] = (unsigned char)*s++;
            n--;
            if (ab_utf8_len((const char *)e->tail, e->ntail) == e->ntail ||
                !utf8_prefix(e->tail, e->ntail) || e->ntail == 4) {
                size_t k = e->ntail;
                e->ntail = 0;
                if (encode(e, (const char *)e->tail, k) != 0)
                    goto out_fail;
            }
        }
        if (e->ntail)
            return (ssize_t)total; /* all of it went into the tail */
        keep = incomplete_tail(s, n);
        if (encode(e, s, n - keep) != 0)
            goto out_fail;
        memcpy(e->tail, s + n - keep, keep);
        e->ntail = keep;
        return (ssize_t)total;
    }
    if (encode(e, s, n) != 0)
        goto out_fail;
    return (ssize_t)total;

out_fail:
    errno = e->failed ? EILSEQ : EIO;
    return -1;
}

int ab_encoder_open(FILE *under, enum ab_charset cs, int bom,
                    struct ab_encoder **out, struct ab_err *err)
{
    static const cookie_io_functions_t io = {NULL, on_cookie_write, NULL, NULL};
    struct ab_encoder *e;
    const char *name;

    *out = NULL;
    if (cs == AB_CHARSET_UTF16)
        cs = AB_CHARSET_UTF16LE;
    if (!(e = calloc(1, sizeof *e)))
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    e->under = under;
    e->cs = cs;
    e->cd = NO_ICONV;
    if ((name = iconv_name(cs)) &&
        (e->cd = iconv_open(name, "UTF-8")) == NO_ICONV) {
        free(e);
        return ab_err_set(err, AB_EINVAL,
                          "cannot write %s: iconv has no converter",
                          ab_charset_name(cs));
    }
    if (bom) {
        const char *mark = cs == AB_CHARSET_UTF8      ? "\xEF\xBB\xBF"
                           : cs == AB_CHARSET_UTF16LE ? "\xFF\xFE"
                           : cs == AB_CHARSET_UTF16BE ? "\xFE\xFF"
                                                      : "";
        put_under(e, mark, strlen(mark));
    }
    if (!(e->fp = fopencookie(e, "w", io))) {
        if (e->cd != NO_ICONV)
            iconv_close(e->cd);
        free(e);
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    }
    *out = e;
    return 0;
}

FILE *ab_encoder_stream(struct ab_encoder *e)
{
    return e->fp;
}

int ab_encoder_set_charset(struct ab_encoder *e, enum ab_charset cs)
{
    const char *name = iconv_name(cs);

    if (e->cs != AB_CHARSET_AUTO ||
        (cs != AB_CHARSET_UTF8 && cs != AB_CHARSET_GB18030))
        return AB_EINVAL;
    /* Text still in the stdio buffer is ASCII: the same in both. */
    fflush(e->fp);
    if (name && (e->cd = iconv_open(name, "UTF-8")) == NO_ICONV)
        return AB_EINVAL;
    e->cs = cs;
    return 0;
}

int ab_encoder_close(struct ab_encoder *e, struct ab_err *err)
{
    int rc = 0;
    const char *name;

    if (!e)
        return 0;
    name = ab_charset_name(e->cs == AB_CHARSET_AUTO ? AB_CHARSET_UTF8 : e->cs);
    fclose(e->fp); /* flushes through on_cookie_write */
    if (!e->failed && !e->io_failed && e->ntail) {
        name_bad(e, (const char *)e->tail, e->ntail);
        e->failed = 1;
    }
    if (!e->failed && !e->io_failed && e->cd != NO_ICONV) {
        /* Stateless encodings, but let iconv finish its sequence. */
        char *o = e->out;
        size_t ol = sizeof e->out;
        iconv(e->cd, NULL, NULL, &o, &ol);
        put_under(e, e->out, sizeof e->out - ol);
    }
    if (e->failed)
        rc = ab_err_set(err, AB_EDATA, "%s cannot be written as %s", e->what,
                        name);
    else if (e->io_failed)
        rc = ab_err_set(err, AB_EIO, "%s", strerror(errno ? errno : EIO));
    if (e->cd != NO_ICONV)
        iconv_close(e->cd);
    free(e);
    return rc;
}
