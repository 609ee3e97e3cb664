/* store_import.h - the SQL side of `import`.
 *
 * One import is one write transaction:
 *
 *   ab_store_import_begin()       BEGIN IMMEDIATE, forget this source's old
 *                                 rejected rows, start the "seen" set
 *   ab_store_import_row() ...     one call per valid row
 *   ab_store_import_reject() ...  one call per rejected row
 *   ab_store_import_end()         COMMIT (or ROLLBACK), clear the seen set
 *
 * The seen set (company id -> first line) is a TEMP table, so memory does not
 * grow with the file; a company met twice in one file is reported on its
 * second line. Between begin and end nothing else may use the store.
 * Any failure leaves the transaction open: the caller ends it with
 * ab_store_import_end(s, 0, ...).
 */
#ifndef AB_STORE_IMPORT_H
#define AB_STORE_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "validate.h"

struct ab_store;

/* What ab_store_import_row() did with a row. */
enum ab_import_outcome {
    AB_IMPORT_NEW,       /* inserted as pending */
    AB_IMPORT_UPDATED,   /* request fields of an unticketed row replaced */
    AB_IMPORT_UNCHANGED, /* same fields, or a finished row left alone */
    AB_IMPORT_IN_FLIGHT, /* left alone: a run is asking for it right now */
    AB_IMPORT_DUPLICATE, /* the company appeared earlier in this file */
};

/* Starts the import of source (a file name, "<stdin>"). Deletes the rejected
 * rows stored for the same source by earlier imports. */
int ab_store_import_begin(struct ab_store *s, const char *source,
                          struct ab_err *err);

/* Stores one valid row from line `line`. A new company is inserted as
 * pending. An existing one is updated only when it has no ticket and its
 * status is pending, retry_wait or failed, and some request field differs; a
 * failed row so corrected goes back to pending with its attempts reset.
 * done/already_authed rows and ticketed rows are left alone (UNCHANGED),
 * in_flight rows too (IN_FLIGHT). For DUPLICATE, *first_line is the line the
 * company was first seen on. now is the Unix ms stamped on changed rows. */
int ab_store_import_row(struct ab_store *s, const struct ab_row_out *row,
                        int64_t line, int64_t now,
                        enum ab_import_outcome *outcome, int64_t *first_line,
                        struct ab_err *err);

/* Stores a rejected row: raw (rawlen bytes, may be NULL) is kept as a blob. */
int ab_store_import_reject(struct ab_store *s, const char *source, int64_t line,
                           const char *reason, const void *raw, size_t rawlen,
                           int64_t now, struct ab_err *err);

/* Commits (commit != 0) or rolls back, and empties the seen set. After a
 * failed commit everything is rolled back. */
int ab_store_import_end(struct ab_store *s, int commit, struct ab_err *err);

/* Calls fn for each rejected row stored for source, in line order, with
 * borrowed strings valid during the call; stops when fn returns non-zero and
 * returns that value. */
int ab_store_rejects_each(struct ab_store *s, const char *source,
                          int (*fn)(void *ctx, int64_t line, const char *reason,
                                    const void *raw, size_t rawlen),
                          void *ctx, struct ab_err *err);

#endif
