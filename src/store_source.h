/* store_source.h - another program's SQLite database, read row by row and
 * never written.
 *
 * This is a store_*.c file because store_*.c are the only files that
 * include <sqlite3.h>; it shares nothing else with the store (its own
 * connection, no statement cache, no migrations).
 *
 * Opening. The file is opened through a URI with SQLITE_OPEN_READONLY, so
 * SQLite itself refuses every write, and the connection is made defensive:
 * PRAGMA query_only, SQLITE_DBCONFIG_DEFENSIVE, no trusted schema (a view
 * or trigger of the foreign file cannot call functions with side effects),
 * no extension loading. How it is opened depends on what lies next to it,
 * so that reading never creates a file there (a read-only connection to a
 * WAL-mode database creates FILE-wal and FILE-shm and leaves them behind):
 *
 *   journal mode     next to it                 opened as
 *   rollback         (writable file system)     mode=ro: shared lock for
 *                                               the read, creates nothing;
 *                                               refused if a hot
 *                                               FILE-journal would have to
 *                                               be rolled back into FILE
 *   rollback         read-only file system      immutable=1 (no locks);
 *                                               refused if FILE-journal
 *                                               exists (a crashed writer)
 *   WAL              FILE-wal and FILE-shm      mode=ro: uses them as its
 *                                               owner does (a reader writes
 *                                               read marks into FILE-shm;
 *                                               FILE and FILE-wal untouched)
 *   WAL              no FILE-wal, or an empty   immutable=1: FILE alone
 *                    one without FILE-shm       holds every commit
 *   WAL              FILE-wal with content,     refused: reading would
 *                    no FILE-shm                create FILE-shm (or cannot
 *                                               work on read-only media)
 *
 * immutable=1 tells SQLite the file cannot change, so it takes no lock and
 * would not notice a writer. The risk is a program that opens the file
 * while it is being read and checkpoints into it: pages from before and
 * after. So the file's size, mtime and inode are taken before opening and
 * compared by ab_source_verify() after the last row; any change fails the
 * read (AB_EBUSY: read it again), and the caller rolls back. A writer that
 * only appends to a new FILE-wal leaves FILE as it was, and the read is a
 * consistent snapshot from before its commits.
 *
 * A read is one statement, stepped row by row, so memory does not grow with
 * the table and, in mode=ro, the rows come from one read transaction (one
 * snapshot). In a rollback-journal file that shared lock makes a writer wait
 * for the length of the import; WAL writers are not held up.
 *
 * Errors: AB_ENOENT the file cannot be opened or read (missing, a directory,
 * I/O, corrupt, the WAL case refused above); AB_EDATA not an SQLite
 * database, or no such table or view; AB_EINVAL a --query that is not one
 * read-only SELECT, or SQL that does not compile (the message quotes
 * SQLite); AB_EBUSY locked by a writer beyond the busy timeout (5 s, or
 * AUTHBATCH_BUSY_TIMEOUT_MS), or changed during an immutable read;
 * AB_ENOMEM. Messages name the file as given.
 */
#ifndef AB_STORE_SOURCE_H
#define AB_STORE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct ab_source;

/* Opens path as described above. *out is a new source for
 * ab_source_close(). */
int ab_source_open(const char *path, struct ab_source **out,
                   struct ab_err *err);

/* 1 when the file was opened with immutable=1, 0 with mode=ro. */
int ab_source_immutable(const struct ab_source *src);

/* Selects every row of the table or view `name` (matched case-insensitively
 * in the main schema), in rowid order. Rows are numbered by their rowid;
 * for a view or a WITHOUT ROWID table, which have none, by their row number
 * (ab_source_has_rowid() tells). No such table: AB_EDATA naming the tables
 * the file has. */
int ab_source_select_table(struct ab_source *src, const char *name,
                           struct ab_err *err);

/* Prepares sql, which must be exactly one statement that only reads and
 * returns columns (SELECT, WITH ... SELECT, VALUES): an authorizer refuses
 * anything else while it compiles (writes, ATTACH, PRAGMA, transactions),
 * and sqlite3_stmt_readonly() must agree. Rows are numbered 1, 2, ... */
int ab_source_select_query(struct ab_source *src, const char *sql,
                           struct ab_err *err);

int ab_source_has_rowid(const struct ab_source *src);

/* The selected columns (the rowid taken by ab_source_select_table() aside)
 * and their names (as the statement names them: an alias if given).
 * Borrowed until ab_source_close(). */
int ab_source_ncols(const struct ab_source *src);
const char *ab_source_col_name(const struct ab_source *src, int i);

/* Steps to the next row: returns 1 with *at set (its rowid or row number),
 * 0 after the last row, or a negative AB_E* code. */
int ab_source_step(struct ab_source *src, int64_t *at, struct ab_err *err);

/* Column i of the current row, as SQLite stores it. p and n (TEXT: UTF-8,
 * NUL-terminated, n without the NUL; BLOB: the bytes) are borrowed until
 * the next step. */
enum ab_source_type {
    AB_SOURCE_NULL,
    AB_SOURCE_INTEGER,
    AB_SOURCE_REAL,
    AB_SOURCE_TEXT,
    AB_SOURCE_BLOB,
};
struct ab_source_value {
    enum ab_source_type type;
    int64_t i;
    double d;
    const char *p;
    size_t n;
};
void ab_source_value(const struct ab_source *src, int i,
                     struct ab_source_value *v);

/* After the last row: for an immutable read, checks that the file is as it
 * was when opened (AB_EBUSY if not). 0 otherwise. */
int ab_source_verify(struct ab_source *src, struct ab_err *err);

/* Finalizes and closes; NULL is a no-op. */
void ab_source_close(struct ab_source *src);

#endif
