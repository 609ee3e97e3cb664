/* store_pg_internal.h - shared by the store_pg*.c files only.
 *
 * The connection, its session settings (re-applied after a reconnect), and
 * a cache of prepared statements keyed by their SQL text's address, as in
 * store_internal.h. Parameters travel as text (binary for bytea) through a
 * small builder; results are read as text.
 */
#ifndef AB_STORE_PG_INTERNAL_H
#define AB_STORE_PG_INTERNAL_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store_pg.h"

#define AB_PG_MAX_STMTS 64
#define AB_PG_MAX_PARAMS 24

struct ab_pg {
    PGconn *conn;
    char *spec;  /* as given: may hold a password, never shown */
    char *shown; /* spec without the password, for messages */
    int flags;   /* AB_STORE_* */
    int busy_ms; /* lock_timeout */
    int durable; /* synchronous_commit = on was asked for */
    int in_tx;   /* between begin and commit/rollback */
    int broken;  /* the connection failed: reconnect before the next use */
    int64_t last_reset_ms;
    int64_t lease_ms; /* claims carry leases this long (ab_queue_join) */
    int64_t run_id;   /* the run that joined, 0 when none */
    int import_ready; /* the import's temp table exists on this session */
    /* Companies whose results this transaction recorded already (a batch
     * may hold two for one company): a set, emptied by begin. */
    int64_t *recorded;
    size_t nrecorded, caprecorded;
    /* Companies a claim returned whose COMMIT failed: perhaps claimed for
     * this run after all (the answer lost, not the commit). Released by
     * the next claim, before it claims. */
    int64_t *unsure;
    int nunsure;
    int64_t unsure_run;
    int nstmts;
    const char *stmts[AB_PG_MAX_STMTS];
};

/* Parameters $1..$n of one statement. Values are copied into the builder,
 * so callers may pass temporaries. */
struct ab_pgq {
    int n;
    const char *v[AB_PG_MAX_PARAMS];
    int len[AB_PG_MAX_PARAMS];
    int fmt[AB_PG_MAX_PARAMS];
    char num[AB_PG_MAX_PARAMS][24];
};

void ab_pgq_init(struct ab_pgq *q);
void ab_pgq_i64(struct ab_pgq *q, int64_t v);
void ab_pgq_f64(struct ab_pgq *q, double v);
void ab_pgq_text(struct ab_pgq *q, const char *v); /* NULL: SQL NULL */
void ab_pgq_textn(struct ab_pgq *q, const char *v, size_t n);
void ab_pgq_null(struct ab_pgq *q);
void ab_pgq_bytes(struct ab_pgq *q, const void *v, size_t n); /* bytea */
void ab_pgq_bool(struct ab_pgq *q, int v);

/* Runs sql (a string literal: prepared once per session, by address) with
 * q's parameters (q may be NULL). Returns the result (PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK) for PQclear(), or NULL with err set as
 * "<what> '<shown>': <server message>". */
PGresult *ab_pg_run(struct ab_pg *pg, const char *sql, const struct ab_pgq *q,
                    struct ab_err *err, const char *what);

/* The same, without preparing: for statements run once per command. */
PGresult *ab_pg_once(struct ab_pg *pg, const char *sql, const struct ab_pgq *q,
                     struct ab_err *err, const char *what);

/* ab_pg_run() for a statement whose rows are not wanted: 0 or AB_E*;
 * *changed (may be NULL) = rows affected. */
int ab_pg_cmd(struct ab_pg *pg, const char *sql, const struct ab_pgq *q,
              int64_t *changed, struct ab_err *err, const char *what);

/* Streams the rows of sql (not prepared) one at a time: fn gets a result
 * holding one row (row 0), borrowed for the call. fn returning non-zero
 * stops the walk (the rest is read and dropped) and becomes the return
 * value. Memory does not grow with the number of rows. */
int ab_pg_each(struct ab_pg *pg, const char *sql, const struct ab_pgq *q,
               int (*fn)(void *ctx, const PGresult *row), void *ctx,
               struct ab_err *err, const char *what);

/* The database's clock in Unix ms, as an SQL expression: leases are
 * compared with it, so hosts whose clocks disagree still agree on them. */
#define AB_PG_NOW "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

/* The error code of the last failure (err->code, or AB_EIO). */
int ab_pg_code(const struct ab_err *err);

/* Whether id is in the transaction's set of recorded companies (1 or 0);
 * with add, puts it there (AB_ENOMEM when it cannot). */
int ab_pg_recorded(struct ab_pg *pg, int64_t id, int add);

/* Column helpers: NULL reads as 0 / dflt / NULL. */
int ab_pg_isnull(const PGresult *r, int row, int col);
int64_t ab_pg_i64(const PGresult *r, int row, int col);
int64_t ab_pg_i64_or(const PGresult *r, int row, int col, int64_t dflt);
double ab_pg_f64(const PGresult *r, int row, int col);
const char *ab_pg_str(const PGresult *r, int row, int col); /* borrowed */
char *ab_pg_dup(const PGresult *r, int row, int col);       /* new */
int64_t ab_pg_changes(const PGresult *r);

#endif
