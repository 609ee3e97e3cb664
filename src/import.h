/* import.h - companies from a CSV file into the store, in one transaction.
 *
 * Input: RFC 4180 CSV (parsed by libcsv in strict mode), CRLF, LF or CR line
 * ends (mixed is fine), a header row first. Encoding (charset.h decodes, as
 * a stream): UTF-8 with or without a BOM, GB18030 (and so GBK, what Excel's
 * "CSV" writes on Chinese Windows), UTF-16LE/BE with a BOM (Excel's "Unicode
 * text"); by default detected as charset.h says, or named by o->encoding.
 * Stored values are always UTF-8. A byte sequence that is invalid in the
 * encoding read rejects its row ("bytes 0xD6 0x2C on line 7 are not valid
 * GB18030"), or the import, when in the header. The separator is a comma, a
 * semicolon or a tab: named by o->delimiter, or by default the one of the
 * three that occurs most often, outside quotes, in the header line (ties:
 * comma, then semicolon). Header names are matched case-insensitively,
 * camelCase as in the API or snake_case (see validate.h for the columns).
 * companyName and applicantContact are required columns; unknown columns are
 * warned about once and ignored; an empty header cell (a trailing comma) is
 * ignored.
 *
 * File-level problems stop the import before anything is written and return
 * AB_EDATA with the message in err: an empty file ("empty file, expected a
 * header row"), a missing required column, a column named twice, more than
 * AB_IMPORT_MAX_COLUMNS columns. A header-only file imports nothing.
 *
 * Row-level problems reject that row and go on: every row is checked by
 * ab_validate_row(); besides, a row with more non-empty fields than the
 * header has columns ("N fields, header has M"; trailing empty fields are
 * tolerated, missing ones count as empty), a field longer than
 * AB_IMPORT_MAX_FIELD bytes, malformed quoting (a quote inside an unquoted
 * field, text after a closing quote -- parsing resumes on the next line),
 * a file ending inside a quoted field ("unterminated quoted field starting at
 * line N"), and a company already seen earlier in the same file ("duplicate
 * company 'X' (first on line N)"). Each rejected row is reported through
 * on_reject and stored in rejected_rows (source, line, reason, raw). Line
 * numbers are physical lines of the file (1 = the header); a record spanning
 * lines (a quoted newline) is reported at the line it starts on; blank lines
 * are skipped but counted.
 *
 * raw is not the physical text: it is the record re-encoded as one
 * comma-separated UTF-8 CSV line from the parsed fields (fields as read,
 * before trimming, quoted where needed; unquoted fields lose leading and
 * trailing spaces, as libcsv drops them), cut at AB_IMPORT_MAX_RAW bytes.
 *
 * Memory does not grow with the file: it is read in 64 KiB chunks, only the
 * current record is held (each field at most AB_IMPORT_MAX_FIELD bytes plus a
 * chunk; longer fields are counted and cut, never buffered whole), and "seen
 * in this file" lives in a SQLite TEMP table (store_import.h).
 *
 * The whole import is one BEGIN IMMEDIATE transaction; the rejected rows
 * stored earlier for the same source name are replaced. With strict set, any
 * rejected row rolls everything back (all rows are still checked and
 * reported). A database error, disk full included, rolls everything back.
 */
#ifndef AB_IMPORT_H
#define AB_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "charset.h"
#include "err.h"

struct ab_store;

#define AB_IMPORT_MAX_FIELD (64 * 1024) /* bytes in one field */
#define AB_IMPORT_MAX_RAW 4096          /* bytes of raw text stored */
#define AB_IMPORT_MAX_COLUMNS 256       /* header columns */

struct ab_import_opts {
    /* Name used in messages and rejected_rows.source; NULL: the path as
     * given, or "<stdin>" for "-". */
    const char *source;
    /* Import nothing unless every row is good. */
    int strict;
    /* If set, the rejected rows of this import are written there as CSV:
     * the file's own header plus a "reason" column, each row's fields as
     * read plus its reason, so the file can be fixed and imported again.
     * It is written the way the input was: the same encoding (a byte order
     * mark if the input had one) and separator, so Excel opens it as it
     * opened the input. Written to a temporary file and renamed into place
     * at the end (also when nothing was rejected: then it holds the header
     * only), mode 0600: it holds applicants' contacts. */
    const char *rejects_path;
    /* AB_CHARSET_AUTO (0): detect; otherwise read as this. */
    enum ab_charset encoding;
    /* 0: from the header line; otherwise ',', ';' or '\t'. */
    char delimiter;
    /* Called for every rejected row, in file order; may be NULL. */
    void (*on_reject)(void *ctx, const char *source, int64_t line,
                      const char *reason);
    /* Called for warnings (unknown columns, rows left alone because a run
     * has them in flight); may be NULL. */
    void (*on_warn)(void *ctx, const char *source, const char *message);
    void *ctx;
};

struct ab_import_result {
    int64_t rows;      /* data records read (header and blank lines aside) */
    int64_t new_rows;  /* companies inserted */
    int64_t updated;   /* unticketed companies whose request fields changed */
    int64_t unchanged; /* same fields, finished or in flight: left alone */
    int64_t in_flight; /* of unchanged: left alone because in_flight */
    int64_t rejected;  /* rows rejected */
    int committed;     /* 1 if the transaction was committed */
    /* How the file was read: UTF8 (also for pure ASCII), GB18030, UTF16LE
     * or UTF16BE; whether it had a byte order mark; whether GB18030 was
     * detected (not named); the separator. */
    enum ab_charset encoding;
    int bom, detected;
    char delimiter;
    int64_t not_utf8;    /* rejected rows with bytes that are not UTF-8 */
    long gb18030_errors; /* see ab_decoder_gb18030_errors() */
};

/* "auto" (0), ",", ";", "tab" (also "comma", "semicolon", "\t"): 0, or
 * AB_EINVAL. */
int ab_import_parse_delimiter(const char *s, char *out);

/* How the file was read, for the summary line, when it is not plain
 * comma-separated UTF-8: "read as GB18030 (Excel's CSV on Chinese Windows)",
 * "read as UTF-16LE, tab-separated (Excel's Unicode text)", ... Writes ""
 * otherwise. */
void ab_import_describe(const struct ab_import_result *r, char *buf, size_t n);

/* Imports path ("-" = stdin) into s. r is always filled in (counts of what
 * was read and what would have happened, committed tells whether it did).
 * Returns 0 when the import was committed, rejected rows or not (check
 * r->rejected); AB_EDATA for a file-level problem or, with strict, any
 * rejected row (nothing written); AB_ENOENT when path cannot be opened or
 * read; AB_EIO when rejects_path cannot be written; store errors (AB_EIO,
 * AB_EFULL, AB_EBUSY, AB_ENOMEM) as they come, after a rollback. err gets the
 * message, prefixed with the source name where it is about the file. */
int ab_import_file(struct ab_store *s, const char *path,
                   const struct ab_import_opts *o, struct ab_import_result *r,
                   struct ab_err *err);

/* The same, from an open stream (not closed here); source names it. */
int ab_import_stream(struct ab_store *s, FILE *in, const char *source,
                     const struct ab_import_opts *o, struct ab_import_result *r,
                     struct ab_err *err);

/* --- Records from other readers -------------------------------------------
 *
 * A reader other than the CSV parser (import_sqlite.h) hands its records to
 * the very code that handles a parsed CSV record, so every rule above holds
 * for it unchanged: the first record is the header (column names: mapping,
 * unknown columns warned about once, a column twice, required columns,
 * the rejects file's header; the transaction begins there), every later one
 * a row (the field limit, validation, normalisation, the update rules,
 * duplicates, rejected_rows, the rejects file). Only the position differs:
 * `at` is whatever the reader numbers its records by (a rowid, a row
 * number), stored as rejected_rows.line and passed to on_reject as `line`;
 * `unit` names it in messages ("duplicate company 'X' (first on row 3)").
 *
 *   ab_import_feed_new()                 once
 *   ab_import_feed_field() ... _record() per record, the header first
 *   ab_import_feed_end()                 once: commit or roll back, free
 */
struct ab_import_feed;

/* Starts an import from source (the name used in messages and
 * rejected_rows.source). r is filled in as records arrive. *out is a new
 * feed for ab_import_feed_end(). Returns 0 or AB_ENOMEM. */
int ab_import_feed_new(struct ab_store *s, const char *source, const char *unit,
                       const struct ab_import_opts *o,
                       struct ab_import_result *r, struct ab_err *err,
                       struct ab_import_feed **out);

/* Appends one field, v[0..n) (copied; may hold any bytes), to the current
 * record. */
void ab_import_feed_field(struct ab_import_feed *f, const char *v, size_t n);

/* Ends the current record, found at position at. With reject_reason set,
 * the row is rejected with that reason without being looked at (the reader
 * saw something it cannot turn into text; not allowed for the header).
 * Returns 0, or the error that stops the import (a header problem, a store
 * error; err is set): then stop reading and call ab_import_feed_end(). */
int ab_import_feed_record(struct ab_import_feed *f, int64_t at,
                          const char *reject_reason);

/* Finishes the import and frees f. reader_rc is the reader's own failure
 * (0 if it read everything; its message is already in err): anything but
 * 0 rolls back. Returns what ab_import_stream() returns, from the first
 * failure on. */
int ab_import_feed_end(struct ab_import_feed *f, int reader_rc);

#endif
