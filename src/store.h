/* store.h - the database: opening, migrations, transactions, counts.
 *
 * The store_*.c files are the only ones that include <sqlite3.h>; each
 * concern has its own header (store_import.h, store_queue.h, store_report.h,
 * store_source.h: another program's file, read-only, on its own connection).
 *
 * Opening brings the file up to the newest schema (schema/NNN_*.sql, tracked
 * by PRAGMA user_version) in one BEGIN IMMEDIATE transaction; a file from a
 * newer authbatch is refused with AB_ESCHEMA, and so, before anything is
 * written to it, is another program's file (user_version 0 with tables of
 * its own). Migrations after 003 only add
 * (columns, tables, indexes): the public companies table carries other
 * systems' triggers, indexes and views, which rebuilding it would silently
 * drop (test_store checks they survive). The connection uses WAL,
 * synchronous=NORMAL, foreign keys, and a busy timeout (5 s, or
 * AUTHBATCH_BUSY_TIMEOUT_MS). Write transactions start with BEGIN IMMEDIATE.
 * A store is used from one thread.
 *
 * On PostgreSQL (store_pg.h) the same contracts hold, with the differences
 * listed there: migrations from schema/pg/ tracked in authbatch_schema,
 * lock_timeout for the busy timeout, READ COMMITTED write transactions
 * whose claims skip each other's rows, and messages that never show a
 * password. ab_store_path() is the spec so redacted.
 */
#ifndef AB_STORE_H
#define AB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct ab_store;

/* Which engine a store spec (--db, AUTHBATCH_DB) names: a PostgreSQL
 * connection string ("postgresql://...", "postgres://...", or libpq's
 * key=value form such as "service=NAME"; store_pg.h) or, anything else, a
 * SQLite file. Every store header is one contract for both. */
enum ab_store_engine { AB_STORE_SQLITE, AB_STORE_PG };
enum ab_store_engine ab_store_engine_of(const char *spec);

/* Does spec carry a password? (The command line refuses one: argv is
 * visible to every user of the machine.) */
int ab_store_spec_has_password(const char *spec);

/* spec as messages may show it (a password removed), into out. */
void ab_store_spec_shown(const char *spec, char *out, size_t n);

/* 1 when several runs may share this store at once (PostgreSQL: they
 * coordinate through it, store_queue.h), 0 for SQLite (one run at a time,
 * under the lock of lock.h). */
int ab_store_shared(const struct ab_store *s);

enum {
    AB_STORE_READONLY = 1 << 0, /* no writes, no migration: for --dry-run */
    AB_STORE_NOFOLLOW = 1 << 1, /* refuse a path holding a symbolic link */
};

/* Opens (creating if needed, unless read-only) and migrates the database at
 * path. On success *out is a new store for ab_store_close(). */
int ab_store_open(const char *path, int flags, struct ab_store **out,
                  struct ab_err *err);

/* The same, opening path but naming shown_as in every message (a run opens
 * the database by its resolved path, lock.h, and speaks of the user's). */
int ab_store_open_as(const char *path, const char *shown_as, int flags,
                     struct ab_store **out, struct ab_err *err);

/* Closes the store; NULL is a no-op. Unfinished transactions roll back. */
void ab_store_close(struct ab_store *s);

const char *ab_store_path(const struct ab_store *s);

/* Schema version of the open file, and the newest this build knows. */
int ab_store_schema_version(struct ab_store *s);
int ab_store_schema_latest(void);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Rollback never fails visibly. */
int ab_store_begin(struct ab_store *s, struct ab_err *err);
int ab_store_commit(struct ab_store *s, struct ab_err *err);
void ab_store_rollback(struct ab_store *s);

/* A savepoint inside a transaction, so one row's writes can be undone
 * alone: _rollback_to() undoes and ends it, _release() keeps and ends it. */
int ab_store_savepoint(struct ab_store *s, struct ab_err *err);
int ab_store_release(struct ab_store *s, struct ab_err *err);
void ab_store_rollback_to(struct ab_store *s);

/* Makes every later commit on this connection reach the disk before it
 * returns (PRAGMA synchronous = FULL), for a process whose commits stand
 * for something nobody will send again: a run's tickets, a receiver's
 * acknowledged callbacks. Measured on this project's machine, FULL costs
 * 0.3 ms more per commit of 10 rows and 0.8-1.7 ms per commit of 1,024: at
 * a run's commit rate (at most 10 to 20 a second) a few per cent of one
 * core at the very most. */
int ab_store_durable(struct ab_store *s, struct ab_err *err);

/* How long a statement waits for another writer before failing with
 * AB_EBUSY, in ms (a run sets it short: it must never freeze its loop). */
void ab_store_set_busy_timeout(struct ab_store *s, int ms);

/* Unix time in milliseconds (wall clock), as stored in the database. */
int64_t ab_now_ms(void);

struct ab_counts {
    int64_t pending, in_flight, retry_wait, done, already_authed, failed;
    int64_t total;
    int64_t due_retry;     /* retry_wait rows already due */
    int64_t next_retry_at; /* earliest next_attempt_at of retry_wait, or 0 */
};

/* Adds n companies of status (NULL: counted in the total only) to c. */
void ab_counts_add(struct ab_counts *c, const char *status, int64_t n);

/* Counts companies per status from the status index (no table scan). */
int ab_store_counts(struct ab_store *s, struct ab_counts *out,
                    struct ab_err *err);

#endif
