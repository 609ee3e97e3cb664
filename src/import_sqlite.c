#include "import_sqlite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "store.h"
#include "store_source.h"
#include "validate.h"

#define BLOB_SHOWN 32 /* bytes of a BLOB shown as hex */

void ab_import_sqlite_real(double d, char *buf, size_t size)
{
    int prec;

    /* Every integer below 2^53 is exact in a double, so these digits are
     * the value itself, not a rounding of it. */
    if (d == d && fabs(d) < 9007199254740992.0 && d == floor(d)) {
        snprintf(buf, size, "%lld", (long long)d);
        return;
    }
    for (prec = 15; prec < 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
    snprintf(buf, size, "%.17g", d);
}

/* X'hex' of the first BLOB_SHOWN bytes, "..." inside the quotes when cut. */
static size_t blob_text(const unsigned char *p, size_t n, char *buf)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, k = 0, shown = n > BLOB_SHOWN ? BLOB_SHOWN : n;

    buf[k++] = 'X';
    buf[k++] = '\'';
    for (i = 0; i < shown; i++) {
        buf[k++] = hex[p[i] >> 4];
        buf[k++] = hex[p[i] & 15];
    }
    if (shown < n) {
        memcpy(buf + k, "...", 3);
        k += 3;
    }
    buf[k++] = '\'';
    buf[k] = '\0';
    return k;
}

/* The length of s[0..n) cut to at most max bytes at a UTF-8 boundary. */
static size_t cut_utf8(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

/* Is path the file the store writes to? */
static int is_the_store(struct ab_store *s, const char *path)
{
    struct stat a, b;
    return stat(path, &a) == 0 && stat(ab_store_path(s), &b) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Which selected columns are imported (their enum ab_col), or -1. */
static int *map_columns(struct ab_source *src, int n, int *seen_name,
                        int *seen_contact)
{
    int *col = calloc((size_t)(n ? n : 1), sizeof *col);
    int i;

    if (!col)
        return NULL;
    for (i = 0; i < n; i++) {
        const char *name = ab_source_col_name(src, i);
        size_t len = strlen(name);
        while (len && (*name == ' ' || *name == '\t')) {
            name++;
            len--;
        }
        while (len && (name[len - 1] == ' ' || name[len - 1] == '\t'))
            len--;
        col[i] = len ? ab_validate_col_lookup(name, len) : -1;
        *seen_name |= col[i] == AB_COL_COMPANY_NAME;
        *seen_contact |= col[i] == AB_COL_APPLICANT_CONTACT;
    }
    return col;
}

/* Hands row fields to the feed; sets reason when a BLOB sits in an
 * imported column. */
static void feed_row(struct ab_import_feed *feed, struct ab_source *src,
                     const int *col, int n, char *reason, size_t rsize)
{
    char text[2 * BLOB_SHOWN + 8];
    struct ab_source_value v;
    int i;

    reason[0] = '\0';
    for (i = 0; i < n; i++) {
        ab_source_value(src, i, &v);
        switch (v.type) {
        case AB_SOURCE_NULL:
            ab_import_feed_field(feed, "", 0);
            break;
        case AB_SOURCE_INTEGER:
            snprintf(text, sizeof text, "%lld", (long long)v.i);
            ab_import_feed_field(feed, text, strlen(text));
            break;
        case AB_SOURCE_REAL:
            ab_import_sqlite_real(v.d, text, sizeof text);
            ab_import_feed_field(feed, text, strlen(text));
            break;
        case AB_SOURCE_TEXT:
            ab_import_feed_field(
                feed, v.p,
                col[i] >= 0 ? v.n : cut_utf8(v.p, v.n, AB_IMPORT_MAX_FIELD));
            break;
        case AB_SOURCE_BLOB:
            ab_import_feed_field(
                feed, text, blob_text((const unsigned char *)v.p, v.n, text));
            if (col[i] >= 0 && !reason[0])
                snprintf(reason, rsize,
                         "%s is a BLOB of %zu byte%s, not text or a number",
                         ab_validate_col_name((enum ab_col)col[i]), v.n,
                         v.n == 1 ? "" : "s");
            break;
        }
    }
}

int ab_import_sqlite(struct ab_store *s, const char *path, const char *table,
                     const char *query, const struct ab_import_opts *o,
                     struct ab_import_result *r, struct ab_err *err)
{
    struct ab_source *src = NULL;
    struct ab_import_feed *feed = NULL;
    char label[1024], reason[AB_VALIDATE_REASON_MAX];
    const char *source;
    int *col = NULL;
    int rc, n, i, k, seen_name = 0, seen_contact = 0, reader_rc = 0;
    int64_t at;

    memset(r, 0, sizeof *r);
    ab_err_clear(err);
    snprintf(label, sizeof label, "%s:%s", path, table ? table : "query");
    source = o && o->source ? o->source : label;
    if (is_the_store(s, path))
        return ab_err_set(err, AB_EINVAL,
                          "'%s' is the database authbatch writes to (--db): "
                          "import from another program's file",
                          path);
    if ((rc = ab_source_open(path, &src, err)) != 0)
        return rc;
    rc = table ? ab_source_select_table(src, table, err)
               : ab_source_select_query(src, query, err);
    if (rc != 0)
        goto out_close;
    ab_log_debug("%s: reading %s", source,
                 ab_source_immutable(src)
                     ? "with immutable=1 (no locks; the file is checked "
                       "unchanged at the end)"
                     : "read-only (mode=ro)");
    n = ab_source_ncols(src);
    if (!(col = map_columns(src, n, &seen_name, &seen_contact))) {
        rc = ab_err_set(err, AB_ENOMEM, "out of memory");
        goto out_close;
    }
    if ((rc = ab_import_feed_new(s, source,
                                 ab_source_has_rowid(src) ? "rowid" : "row", o,
                                 r, err, &feed)) != 0)
        goto out_close;

    for (i = 0; i < n; i++) {
        const char *name = ab_source_col_name(src, i);
        ab_import_feed_field(feed, name, strlen(name));
    }
    if ((rc = ab_import_feed_record(feed, 0, NULL)) != 0) {
        if (err && (!seen_name || !seen_contact)) {
            size_t len = strlen(err->msg);
            snprintf(err->msg + len, sizeof err->msg - len,
                     "; name the columns in a --query, e.g. --query "
                     "'SELECT name AS companyName, mobile AS "
                     "applicantContact FROM %s'",
                     table ? table : "clients");
        }
        goto out_end;
    }
    while ((k = ab_source_step(src, &at, err)) == 1) {
        feed_row(feed, src, col, n, reason, sizeof reason);
        if ((rc = ab_import_feed_record(feed, at, reason[0] ? reason : NULL)) !=
            0)
            break;
    }
    if (k < 0)
        reader_rc = k;
    else if (rc == 0)
        /* Before the commit: a file that changed under an unlocked read
         * rolls the import back. */
        reader_rc = ab_source_verify(src, err);

out_end:
    rc = ab_import_feed_end(feed, reader_rc);
out_close:
    free(col);
    ab_source_close(src);
    return rc;
}
