#include "store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "schema.h"
#include "store_internal.h"

int64_t ab_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ab_store_fail(struct ab_store *s, int rc, struct ab_err *err,
                  const char *what)
{
    int code;
    const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = AB_EBUSY;
        break;
    case SQLITE_FULL:
        code = AB_EFULL;
        break;
    case SQLITE_NOMEM:
        code = AB_ENOMEM;
        break;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
        code = AB_EDATA;
        break;
    default:
        code = AB_EIO;
        break;
    }
    return ab_err_set(err, code, "%s '%s': %s", what, s ? s->path : "?", msg);
}

sqlite3_stmt *ab_store_stmt(struct ab_store *s, const char *sql,
                            struct ab_err *err)
{
    int i, rc;
    sqlite3_stmt *st;

    for (i = 0; i < s->nstmts; i++) {
        if (s->stmts[i].sql == sql) {
            sqlite3_reset(s->stmts[i].stmt);
            sqlite3_clear_bindings(s->stmts[i].stmt);
            return s->stmts[i].stmt;
        }
    }
    rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                            NULL);
    if (rc != SQLITE_OK) {
        ab_store_fail(s, rc, err, "cannot prepare statement on");
        return NULL;
    }
    /* The cache holds every statement text the program has (a fixed set of
     * literals); running out of room is a programmer's error. */
    assert(s->nstmts < AB_STORE_MAX_STMTS);
    s->stmts[s->nstmts].sql = sql;
    s->stmts[s->nstmts].stmt = st;
    s->nstmts++;
    return st;
}

int ab_store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (!v)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

char *ab_store_col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

int ab_store_exec(struct ab_store *s, const char *sql, struct ab_err *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int code = ab_store_fail(s, rc, err, "database error on");
        if (err && msg)
            snprintf(err->msg, sizeof err->msg, "database error on '%s': %s",
                     s->path, msg);
        sqlite3_free(msg);
        return code;
    }
    return 0;
}

static int user_version(struct ab_store *s, int *out, struct ab_err *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return ab_store_fail(s, rc, err, "cannot read database");
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return ab_store_fail(s, rc, err, "cannot read database");
    }
    *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return 0;
}

static int refuse_newer(struct ab_store *s, int v, struct ab_err *err)
{
    return ab_err_set(err, AB_ESCHEMA,
                      "database '%s' has schema version %d, newer than this "
                      "authbatch %s understands (%d): upgrade authbatch",
                      s->path, v, AB_VERSION, ab_schema_count);
}

/* A file at schema version 0 that already has tables is another program's
 * database (the CRM file meant for import --from-sqlite, given as --db by
 * mistake): refuse it before anything is written to it (journal mode,
 * migrations). A new or empty file has no tables. */
static int refuse_foreign(struct ab_store *s, struct ab_err *err)
{
    sqlite3_stmt *st;
    char names[200] = "";
    int v, rc, n = 0;

    if ((rc = user_version(s, &v, err)) != 0 || v != 0)
        return rc;
    rc = sqlite3_prepare_v2(s->db,
                            "SELECT name FROM sqlite_master WHERE type IN"
                            " ('table', 'view') AND name NOT LIKE 'sqlite%'"
                            " ORDER BY name",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return ab_store_fail(s, rc, err, "cannot read database");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t len = strlen(names);
        if (n++ < 5 && len + 4 < sizeof names)
            snprintf(names + len, sizeof names - len, "%s%.60s",
                     len ? ", " : "", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ab_store_fail(s, rc, err, "cannot read database");
    if (n == 0)
        return 0;
    return ab_err_set(
        err, AB_ESCHEMA,
        "database '%s' is not an authbatch database (it has "
        "no authbatch schema version, and %d table%s: %s%s); left "
        "unchanged: give --db a new file, and read another "
        "program's file with 'import --from-sqlite'",
        s->path, n, n == 1 ? "" : "s", names, n > 5 ? ", ..." : "");
}

static int migrate(struct ab_store *s, struct ab_err *err)
{
    int v, rc;
    char pragma[64];

    if ((rc = user_version(s, &v, err)) != 0)
        return rc;
    if (v > ab_schema_count)
        return refuse_newer(s, v, err);
    if (v == ab_schema_count)
        return 0;
    if (s->flags & AB_STORE_READONLY)
        return ab_err_set(err, AB_ESCHEMA,
                          "database '%s' has schema version %d and needs an "
                          "upgrade to %d: run 'authbatch init' first",
                          s->path, v, ab_schema_count);
    if ((rc = ab_store_begin(s, err)) != 0)
        return rc;
    /* Another process may have migrated between the read and the lock. */
    if ((rc = user_version(s, &v, err)) != 0)
        goto out_rollback;
    if (v > ab_schema_count) {
        rc = refuse_newer(s, v, err);
        goto out_rollback;
    }
    for (; v < ab_schema_count; v++) {
        const struct ab_schema_step *step = &ab_schema_steps[v];
        if ((rc = ab_store_exec(s, step->sql, err)) != 0) {
            if (err) {
                char tmp[sizeof err->msg];
                snprintf(tmp, sizeof tmp, "schema %s: %.400s", step->name,
                         err->msg);
                memcpy(err->msg, tmp, sizeof tmp);
            }
            goto out_rollback;
        }
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d",
                 step->version);
        if ((rc = ab_store_exec(s, pragma, err)) != 0)
            goto out_rollback;
    }
    return ab_store_commit(s, err);

out_rollback:
    ab_store_rollback(s);
    return rc;
}

/* SQLite says only "unable to open database file" or "disk I/O error" when
 * the directory is missing, read-only or full: ask the file system why, for
 * the message. */
static void explain_open_failure(const char *path, struct ab_err *err)
{
    char dir[1024], why[1200];
    const char *slash = strrchr(path, '/');
    struct statvfs fs;
    size_t n, len;

    struct stat st;

    if (!err)
        return;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        n = (size_t)snprintf(why, sizeof why,
                             "'%s' is a directory: give --db a file in it, "
                             "e.g. '%s/authbatch.db'",
                             path, path);
        goto out;
    }
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s",
                 (int)(slash == path ? 1 : slash - path), path);
    if (access(dir, F_OK) != 0 && errno == ENOENT)
        n = (size_t)snprintf(why, sizeof why, "directory '%s' does not exist",
                             dir);
    else if (access(dir, F_OK) != 0)
        n = (size_t)snprintf(why, sizeof why, "directory '%s': %s", dir,
                             strerror(errno));
    else if (access(dir, W_OK) != 0)
        n = (size_t)snprintf(why, sizeof why,
                             "directory '%s' is not writable: %s; authbatch "
                             "writes the database, its -wal and -shm files "
                             "and a .lock file there",
                             dir, strerror(errno));
    else if (statvfs(dir, &fs) == 0 && fs.f_bavail == 0)
        n = (size_t)snprintf(why, sizeof why,
                             "no space left on the file system of '%s'", dir);
    else if (access(path, F_OK) == 0 && access(path, W_OK) != 0)
        n = (size_t)snprintf(why, sizeof why, "'%s' is not writable: %s", path,
                             strerror(errno));
    else
        return;
out:
    len = strlen(err->msg);
    if (n > 0 && len + 3 < sizeof err->msg)
        snprintf(err->msg + len, sizeof err->msg - len, " (%.400s)", why);
}

/* AUTHBATCH_BUSY_TIMEOUT_MS, checked: a typo must not mean "never wait". */
static int busy_timeout_env(int *ms, struct ab_err *err)
{
    const char *bt = getenv("AUTHBATCH_BUSY_TIMEOUT_MS");
    long v = 0;
    const char *p;

    *ms = 5000;
    if (!bt)
        return 0;
    for (p = bt; *p; p++) {
        if (*p < '0' || *p > '9' || v > 3600000)
            break;
        v = v * 10 + (*p - '0');
    }
    if (!*bt || *p || v > 3600000)
        return ab_err_set(err, AB_ECONFIG,
                          "AUTHBATCH_BUSY_TIMEOUT_MS='%.40s' is not a number "
                          "of milliseconds (0 to 3600000)",
                          bt);
    *ms = (int)v;
    return 0;
}

/* A store whose every call goes to PostgreSQL (store_pg.h). */
static int open_pg(const char *spec, int flags, struct ab_store **out,
                   struct ab_err *err)
{
    struct ab_store *s = calloc(1, sizeof *s);
    int rc;

    if (!s)
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    if ((rc = ab_pg_open(spec, flags, &s->pg, err)) != 0) {
        free(s);
        return rc;
    }
    if (!(s->path = strdup(ab_pg_shown(s->pg)))) {
        ab_store_close(s);
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    }
    s->flags = flags;
    *out = s;
    return 0;
}

enum ab_store_engine ab_store_engine_of(const char *spec)
{
    return ab_pg_spec(spec) ? AB_STORE_PG : AB_STORE_SQLITE;
}

int ab_store_shared(const struct ab_store *s)
{
    return s->pg != NULL;
}

int ab_store_spec_has_password(const char *spec)
{
    return ab_pg_has_password(spec);
}

void ab_store_spec_shown(const char *spec, char *out, size_t n)
{
    if (ab_pg_spec(spec))
        ab_pg_redact(spec, out, n);
    else if (n > 0)
        snprintf(out, n, "%s", spec);
}

int ab_store_open(const char *path, int flags, struct ab_store **out,
                  struct ab_err *err)
{
    return ab_store_open_as(path, path, flags, out, err);
}

int ab_store_open_as(const char *path, const char *shown_as, int flags,
                     struct ab_store **out, struct ab_err *err)
{
    struct ab_store *s;
    int rc, oflags, busy_ms;

    *out = NULL;
    if ((rc = busy_timeout_env(&busy_ms, err)) != 0)
        return rc;
    if (ab_pg_spec(path))
        return open_pg(path, flags, out, err);
    s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(shown_as))) {
        free(s);
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    }
    s->flags = flags;
    /* The database holds tickets and applicants' contacts: a new file is
     * created private (SQLite would use 0644; its -wal and -shm files take
     * the database file's mode). */
    if (!(flags & AB_STORE_READONLY) && strcmp(path, ":memory:") != 0 &&
        strncmp(path, "file:", 5) != 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    oflags = (flags & AB_STORE_READONLY)
                 ? SQLITE_OPEN_READONLY
                 : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (flags & AB_STORE_NOFOLLOW)
        oflags |= SQLITE_OPEN_NOFOLLOW;
    rc = sqlite3_open_v2(path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = ab_store_fail(s, rc, err, "cannot open database");
        if (rc != AB_ENOMEM)
            rc = AB_EIO;
        goto out_close;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, busy_ms);
    if ((rc = refuse_foreign(s, err)) != 0)
        goto out_close;
    if (!(flags & AB_STORE_READONLY)) {
        rc = ab_store_exec(s, "PRAGMA journal_mode = WAL", err);
        if (rc != 0)
            goto out_close;
    }
    /* Foreign keys go on after the migrations: a migration that rebuilds a
     * table (schema/003) must not cascade the drop of the old one. */
    rc = ab_store_exec(s, "PRAGMA synchronous = NORMAL", err);
    if (rc != 0 || (rc = migrate(s, err)) != 0 ||
        (rc = ab_store_exec(s, "PRAGMA foreign_keys = ON", err)) != 0)
        goto out_close;
    *out = s;
    return 0;

out_close:
    if (rc == AB_EIO)
        explain_open_failure(shown_as, err);
    ab_store_close(s);
    return rc;
}

void ab_store_close(struct ab_store *s)
{
    int i;

    if (!s)
        return;
    ab_pg_close(s->pg);
    for (i = 0; i < s->nstmts; i++)
        sqlite3_finalize(s->stmts[i].stmt);
    if (s->db) {
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(s->db);
    }
    free(s->path);
    free(s);
}

const char *ab_store_path(const struct ab_store *s)
{
    return s->path;
}

int ab_store_schema_version(struct ab_store *s)
{
    if (s->pg)
        return ab_pg_schema_version(s->pg);
    int v = -1;
    user_version(s, &v, NULL);
    return v;
}

int ab_store_schema_latest(void)
{
    return ab_schema_count;
}

int ab_store_begin(struct ab_store *s, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_begin(s->pg, err);
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return ab_store_fail(s, rc, err, "cannot start a transaction on");
    return 0;
}

int ab_store_commit(struct ab_store *s, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_commit(s->pg, err);
    int rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = ab_store_fail(s, rc, err, "cannot commit to");
        ab_store_rollback(s);
        return rc;
    }
    return 0;
}

void ab_store_rollback(struct ab_store *s)
{
    if (s->pg) {
        ab_pg_rollback(s->pg);
        return;
    }
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static const char sql_savepoint[] = "SAVEPOINT ab_row";
static const char sql_release_sp[] = "RELEASE ab_row";
static const char sql_rollback_to[] = "ROLLBACK TO ab_row";

static int run_stmt(struct ab_store *s, const char *sql, struct ab_err *err,
                    const char *what)
{
    sqlite3_stmt *st = ab_store_stmt(s, sql, err);
    int rc;

    if (!st)
        return err ? err->code : AB_EIO;
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ab_store_fail(s, rc, err, what);
    return 0;
}

int ab_store_savepoint(struct ab_store *s, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_savepoint(s->pg, "ab_row", err);
    return run_stmt(s, sql_savepoint, err, "cannot start a savepoint on");
}

int ab_store_release(struct ab_store *s, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_release(s->pg, "ab_row", err);
    return run_stmt(s, sql_release_sp, err, "cannot release a savepoint on");
}

void ab_store_rollback_to(struct ab_store *s)
{
    if (s->pg) {
        ab_pg_rollback_to(s->pg, "ab_row");
        return;
    }
    run_stmt(s, sql_rollback_to, NULL, "cannot roll back a savepoint on");
    run_stmt(s, sql_release_sp, NULL, "cannot release a savepoint on");
}

int ab_store_durable(struct ab_store *s, struct ab_err *err)
{
    if (s->pg)
        return ab_pg_durable(s->pg, err);
    return ab_store_exec(s, "PRAGMA synchronous = FULL", err);
}

void ab_store_set_busy_timeout(struct ab_store *s, int ms)
{
    if (s->pg) {
        ab_pg_set_busy_timeout(s->pg, ms);
        return;
    }
    sqlite3_busy_timeout(s->db, ms);
}

static const char sql_counts[] =
    "SELECT status, count(*) FROM companies GROUP BY status";
static const char sql_retry_due[] =
    "SELECT count(*) FROM companies"
    " WHERE status = 'retry_wait' AND next_attempt_at <= ?1";
static const char sql_next_retry[] =
    "SELECT min(next_attempt_at) FROM companies WHERE status = 'retry_wait'";

void ab_counts_add(struct ab_counts *c, const char *status, int64_t n)
{
    c->total += n;
    if (!status)
        return;
    if (strcmp(status, "pending") == 0)
        c->pending = n;
    else if (strcmp(status, "in_flight") == 0)
        c->in_flight = n;
    else if (strcmp(status, "retry_wait") == 0)
        c->retry_wait = n;
    else if (strcmp(status, "done") == 0)
        c->done = n;
    else if (strcmp(status, "already_authed") == 0)
        c->already_authed = n;
    else if (strcmp(status, "failed") == 0)
        c->failed = n;
}

int ab_store_counts(struct ab_store *s, struct ab_counts *out,
                    struct ab_err *err)
{
    if (s->pg)
        return ab_pg_counts(s->pg, out, err);
    sqlite3_stmt *st;
    int rc;

    memset(out, 0, sizeof *out);
    if (!(st = ab_store_stmt(s, sql_counts, err)))
        return err ? err->code : AB_EIO;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ab_counts_add(out, (const char *)sqlite3_column_text(st, 0),
                      sqlite3_column_int64(st, 1));
    }
    if (rc != SQLITE_DONE)
        return ab_store_fail(s, rc, err, "cannot count companies in");
    if (!(st = ab_store_stmt(s, sql_retry_due, err)))
        return err ? err->code : AB_EIO;
    sqlite3_bind_int64(st, 1, ab_now_ms());
    if ((rc = sqlite3_step(st)) != SQLITE_ROW)
        return ab_store_fail(s, rc, err, "cannot count companies in");
    out->due_retry = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (!(st = ab_store_stmt(s, sql_next_retry, err)))
        return err ? err->code : AB_EIO;
    if ((rc = sqlite3_step(st)) != SQLITE_ROW)
        return ab_store_fail(s, rc, err, "cannot count companies in");
    out->next_retry_at = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}
