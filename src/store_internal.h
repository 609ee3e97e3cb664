/* store_internal.h - shared by the store_*.c files only.
 *
 * Holds the connection and a cache of prepared statements keyed by their
 * SQL text's address, so each store_*.c can prepare once and reuse. A store
 * opened on PostgreSQL has pg set and no SQLite connection: each public
 * function of store_*.c hands the call to its ab_pg_* twin (store_pg.h).
 */
#ifndef AB_STORE_INTERNAL_H
#define AB_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"
#include "store_pg.h"

#define AB_STORE_MAX_STMTS 96

struct ab_store {
    struct ab_pg *pg; /* set: a PostgreSQL store, every call goes there */
    sqlite3 *db;
    char *path;
    int flags;
    int nstmts;
    struct {
        const char *sql;
        sqlite3_stmt *stmt;
    } stmts[AB_STORE_MAX_STMTS];
};

/* Returns the cached, reset statement for sql (a string literal: cached by
 * address), preparing it on first use; NULL with err set on failure. */
sqlite3_stmt *ab_store_stmt(struct ab_store *s, const char *sql,
                            struct ab_err *err);

/* Maps an SQLite result to an AB_E* code and sets err with
 * "<what>: <sqlite message>". */
int ab_store_fail(struct ab_store *s, int rc, struct ab_err *err,
                  const char *what);

/* Binds a string or NULL. */
int ab_store_bind_text(sqlite3_stmt *st, int i, const char *v);

/* Copies column i as a new string, or NULL for SQL NULL. */
char *ab_store_col_dup(sqlite3_stmt *st, int i);

/* Runs sql (no results), mapping errors. */
int ab_store_exec(struct ab_store *s, const char *sql, struct ab_err *err);

#endif
