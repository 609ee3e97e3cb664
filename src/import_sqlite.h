/* import_sqlite.h - companies from another program's SQLite database.
 *
 * `import --from-sqlite FILE --table NAME` reads every row of a table or
 * view; `--query SQL` the rows of one read-only SELECT, so a foreign schema
 * can be renamed into ours:
 *
 *   SELECT name AS companyName, uscc AS registerNo, mobile AS
 *          applicantContact FROM clients WHERE status = 'new'
 *
 * FILE is opened read-only and never written, and nothing is created next
 * to it (store_source.h: how, and what that means for WAL-mode files).
 *
 * The selected columns are the header and every row a record, handed to the
 * CSV import's own record path (import.h, "Records from other readers"):
 * columns matched by the same names in either spelling, case-insensitive;
 * unknown columns warned about once; the same validation, normalisation,
 * update rules, duplicate rule, --strict, --rejects and rejected_rows. A row
 * whose columns are all NULL or empty is skipped, as a blank CSV line is.
 *
 * Values become the text a CSV field would hold:
 *  - NULL: absent (an empty field);
 *  - INTEGER: its decimal digits (a mobile stored as 13800001111 is
 *    "13800001111");
 *  - REAL: an integral value below 2^53 as its digits (13800001111.0 and
 *    1.38e10 are "13800001111" and "13800000000"), any other as the
 *    shortest %g text that reads back as the same double ("0.5", "1e+20");
 *  - TEXT: its UTF-8 bytes as stored (then validated like any field);
 *  - BLOB: refused in a column that is imported ("applicantContact is a
 *    BLOB of 4 bytes, not text or a number"); in an ignored column, shown as
 *    X'hex' in the rejects file and raw text. A value of an ignored column
 *    longer than AB_IMPORT_MAX_FIELD is cut there rather than rejecting the
 *    row.
 *
 * Positions: a bad row is reported (on_reject, rejected_rows.line) by its
 * rowid for --table, by its row number (1 = the first row) for --query and
 * for a view or WITHOUT ROWID table. The source name, in messages and
 * rejected_rows.source, is "FILE:NAME" (the table as given) or
 * "FILE:query", so on_reject's "SOURCE:LINE: reason" prints
 * "crm.db:clients:42: reason". Like a CSV file name, an import replaces the
 * rejected rows stored under the same source name.
 *
 * Returns what ab_import_file() returns; besides: AB_EINVAL for a --query
 * that is not one read-only SELECT or does not compile, and for FILE being
 * the database authbatch writes to; AB_EDATA for no such table, or a file
 * that is not an SQLite database; AB_ENOENT when FILE cannot be opened or
 * read; AB_EBUSY when FILE stays locked by a writer, or changed during a
 * read that could not lock it. Every failure leaves the store as it was.
 */
#ifndef AB_IMPORT_SQLITE_H
#define AB_IMPORT_SQLITE_H

#include <stddef.h>

#include "err.h"
#include "import.h"

struct ab_store;

/* Exactly one of table and query is non-NULL. o->source, if set, replaces
 * the "FILE:NAME" source name. */
int ab_import_sqlite(struct ab_store *s, const char *path, const char *table,
                     const char *query, const struct ab_import_opts *o,
                     struct ab_import_result *r, struct ab_err *err);

/* The text of a REAL value by the rule above, in buf (size >= 32). */
void ab_import_sqlite_real(double d, char *buf, size_t size);

#endif
