#include "store_source.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

struct ab_source {
    sqlite3 *db;
    sqlite3_stmt *st;
    const char *path; /* as given, for messages (borrowed) */
    int immutable;
    struct stat before; /* taken before opening, for an immutable read */
    int has_rowid;      /* column 0 of st is the rowid */
    int64_t rowno;
    int denied; /* the first action the authorizer refused, or 0 */
};

/* A failure from SQLite on src: what, then SQLite's message. */
static int source_fail(struct ab_source *src, int rc, struct ab_err *err,
                       const char *what)
{
    int code;

    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = AB_EBUSY;
        break;
    case SQLITE_NOMEM:
        code = AB_ENOMEM;
        break;
    case SQLITE_NOTADB:
        code = AB_EDATA;
        break;
    default:
        code = AB_ENOENT;
        break;
    }
    return ab_err_set(err, code, "%s '%s': %s", what, src->path,
                      src->db ? sqlite3_errmsg(src->db) : sqlite3_errstr(rc));
}

/* Replaces control characters, so a name from the foreign file can be put
 * in a message. */
static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            *s = '?';
}

/* --- opening ------------------------------------------------------------- */

static int exists(const char *path, const char *suffix, off_t *size)
{
    char p[PATH_MAX + 16];
    struct stat st;

    snprintf(p, sizeof p, "%s%s", path, suffix);
    if (stat(p, &st) != 0)
        return 0;
    if (size)
        *size = st.st_size;
    return 1;
}

/* "file:" + real, percent-encoded where a URI needs it; NULL when out of
 * memory. */
static char *make_uri(const char *real, int immutable)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *q = immutable ? "?mode=ro&immutable=1" : "?mode=ro";
    size_t n = strlen(real);
    char *uri = malloc(5 + 3 * n + strlen(q) + 1), *d;

    if (!uri)
        return NULL;
    d = uri;
    memcpy(d, "file:", 5);
    d += 5;
    for (; *real; real++) {
        unsigned char c = (unsigned char)*real;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || strchr("/._~-", c)) {
            *d++ = (char)c;
        } else {
            *d++ = '%';
            *d++ = hex[c >> 4];
            *d++ = hex[c & 15];
        }
    }
    strcpy(d, q);
    return uri;
}

/* Reads the 100-byte header: 0 with *wal set, or an error. */
static int read_header(const char *path, int *wal, struct ab_err *err)
{
    unsigned char h[100];
    size_t got = 0;
    ssize_t k;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return ab_err_set(err, AB_ENOENT, "cannot open '%s': %s", path,
                          strerror(errno));
    while (got < sizeof h) {
        k = read(fd, h + got, sizeof h - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            close(fd);
            return ab_err_set(err, AB_ENOENT, "cannot read '%s': %s", path,
                              strerror(e));
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (got < sizeof h || memcmp(h, "SQLite format 3", 16) != 0)
        return ab_err_set(err, AB_EDATA,
                          "'%s' is not an SQLite 3 database (it does not "
                          "start with the SQLite header)",
                          path);
    *wal = h[18] == 2 || h[19] == 2;
    return 0;
}

/* Decides between mode=ro and immutable=1 (the table in the header). */
static int choose_mode(const char *given, const char *real, int wal,
                       int *immutable, struct ab_err *err)
{
    struct statvfs fs;
    off_t walsize = 0;
    int ro_media = statvfs(real, &fs) == 0 && (fs.f_flag & ST_RDONLY);
    int has_wal = exists(real, "-wal", &walsize);
    int has_shm = exists(real, "-shm", NULL);

    if (wal) {
        if (has_wal && has_shm)
            *immutable = 0;
        else if (has_wal && walsize > 0)
            return ab_err_set(
                err, AB_ENOENT,
                "cannot read '%s' without writing next to it: it is in WAL "
                "mode and '%s-wal' holds changes not yet in it, but '%s-shm' "
                "is missing, so SQLite would create it%s; let the program "
                "that owns the file open and close it once, or copy '%s' "
                "and '%s-wal' elsewhere and import the copy",
                given, given, given,
                ro_media ? " (impossible on this read-only file system)" : "",
                given, given);
        else
            *immutable = 1;
        return 0;
    }
    if (ro_media) {
        if (exists(real, "-journal", NULL))
            return ab_err_set(
                err, AB_ENOENT,
                "cannot read '%s': '%s-journal' is next to it (a writer "
                "stopped mid-transaction) and the file system is read-only, "
                "so it cannot be rolled back; copy both to writable storage "
                "and let the program that owns them open the copy",
                given, given);
        *immutable = 1;
        return 0;
    }
    *immutable = 0;
    return 0;
}

/* Allows only what a read needs; remembers the first thing refused. */
static int on_sqlite_authorize(void *ctx, int action, const char *a,
                               const char *b, const char *db,
                               const char *trigger)
{
    struct ab_source *src = ctx;
    (void)b;
    (void)db;
    (void)trigger;
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
    default:
        /* DROP and CREATE write the schema table first: say what it is. */
        if ((action == SQLITE_INSERT || action == SQLITE_UPDATE ||
             action == SQLITE_DELETE) &&
            a && strncmp(a, "sqlite_", 7) == 0)
            action = SQLITE_ALTER_TABLE;
        if (!src->denied)
            src->denied = action;
        return SQLITE_DENY;
    }
}

int ab_source_open(const char *path, struct ab_source **out, struct ab_err *err)
{
    struct ab_source *src;
    char real[PATH_MAX], *uri = NULL;
    const char *bt = getenv("AUTHBATCH_BUSY_TIMEOUT_MS");
    int rc, wal = 0;

    *out = NULL;
    if (!(src = calloc(1, sizeof *src)))
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    src->path = path;
    if (stat(path, &src->before) != 0) {
        rc = ab_err_set(err, errno == ENOMEM ? AB_ENOMEM : AB_ENOENT,
                        "cannot open '%s': %s", path, strerror(errno));
        goto out_free;
    }
    if (!S_ISREG(src->before.st_mode)) {
        rc = ab_err_set(err, AB_ENOENT, "cannot open '%s': %s", path,
                        S_ISDIR(src->before.st_mode) ? "Is a directory"
                                                     : "not a regular file");
        goto out_free;
    }
    /* SQLite finds FILE-wal and FILE-journal next to the real file, not next
     * to a symbolic link: look where it looks. */
    if (!realpath(path, real)) {
        rc = ab_err_set(err, AB_ENOENT, "cannot open '%s': %s", path,
                        strerror(errno));
        goto out_free;
    }
    if ((rc = read_header(path, &wal, err)) != 0 ||
        (rc = choose_mode(path, real, wal, &src->immutable, err)) != 0)
        goto out_free;
    if (!(uri = make_uri(real, src->immutable))) {
        rc = ab_err_set(err, AB_ENOMEM, "out of memory");
        goto out_free;
    }
    rc = sqlite3_open_v2(
        uri, &src->db,
        SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
    free(uri);
    if (rc != SQLITE_OK) {
        rc = source_fail(src, rc, err, "cannot open");
        goto out_close;
    }
    sqlite3_extended_result_codes(src->db, 1);
    sqlite3_busy_timeout(src->db, bt ? atoi(bt) : 5000);
    sqlite3_db_config(src->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(src->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    sqlite3_db_config(src->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
    rc = sqlite3_exec(src->db, "PRAGMA query_only = 1", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        /* Reads the schema: a file that is not a database, or is
         * encrypted, says so here rather than at the first row. */
        rc = sqlite3_exec(src->db, "SELECT count(*) FROM sqlite_master", NULL,
                          NULL, NULL);
    if ((rc & 0xff) == SQLITE_READONLY && exists(real, "-journal", NULL)) {
        /* A hot journal: SQLite would roll it back into the file. */
        rc = ab_err_set(err, AB_ENOENT,
                        "cannot read '%s' without writing to it: "
                        "'%s-journal' is next to it (a writer stopped "
                        "mid-transaction) and must be rolled back first; let "
                        "the program that owns the file open it once, or "
                        "copy both elsewhere and import the copy",
                        path, path);
        goto out_close;
    }
    if (rc != SQLITE_OK) {
        rc = source_fail(src, rc, err, "cannot read");
        goto out_close;
    }
    sqlite3_set_authorizer(src->db, on_sqlite_authorize, src);
    *out = src;
    return 0;

out_close:
    sqlite3_close_v2(src->db);
out_free:
    free(src);
    return rc;
}

int ab_source_immutable(const struct ab_source *src)
{
    return src->immutable;
}

/* --- the statement ------------------------------------------------------- */

static const char sql_find_table[] =
    "SELECT name, type FROM sqlite_master"
    " WHERE type IN ('table', 'view') AND name = ?1 COLLATE NOCASE"
    " ORDER BY name = ?1 DESC LIMIT 1";
static const char sql_list_tables[] =
    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
    " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";

/* "no table or view 'x' in 'f.db'; it has: a, b" */
static int no_such_table(struct ab_source *src, const char *name,
                         struct ab_err *err)
{
    char list[300], shown[80];
    size_t len = 0;
    sqlite3_stmt *st = NULL;
    int n = 0;

    list[0] = '\0';
    if (sqlite3_prepare_v2(src->db, sql_list_tables, -1, &st, NULL) ==
        SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            if (!t)
                continue;
            if (len + strlen(t) + 8 >= sizeof list) {
                snprintf(list + len, sizeof list - len, ", ...");
                break;
            }
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
                                    n++ ? ", " : "", t);
        }
    }
    sqlite3_finalize(st);
    printable(list);
    snprintf(shown, sizeof shown, "%s", name);
    printable(shown);
    return ab_err_set(err, AB_EDATA, "no table or view '%s' in '%s'; %s%s",
                      shown, src->path, n ? "it has: " : "it has no tables",
                      list);
}

static int prepare(struct ab_source *src, const char *sql, const char **tail)
{
    src->denied = 0;
    return sqlite3_prepare_v2(src->db, sql, -1, &src->st, tail);
}

int ab_source_select_table(struct ab_source *src, const char *name,
                           struct ab_err *err)
{
    sqlite3_stmt *st;
    char *real = NULL, *sql = NULL;
    int rc, view = 0;

    rc = sqlite3_prepare_v2(src->db, sql_find_table, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return source_fail(src, rc, err, "cannot read");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        const char *type = (const char *)sqlite3_column_text(st, 1);
        view = type && strcmp(type, "view") == 0;
        real = t ? sqlite3_mprintf("%s", t) : NULL;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return source_fail(src, rc, err, "cannot read");
    if (rc == SQLITE_DONE)
        return no_such_table(src, name, err);
    if (!real)
        return ab_err_set(err, AB_ENOMEM, "out of memory");

    /* %w doubles the quotes of an identifier. A view or a WITHOUT ROWID
     * table has no rowid: then rows are numbered. */
    src->has_rowid = 0;
    if (!view) {
        sql =
            sqlite3_mprintf("SELECT rowid, * FROM \"%w\" ORDER BY rowid", real);
        if (sql && prepare(src, sql, NULL) == SQLITE_OK)
            src->has_rowid = 1;
        sqlite3_free(sql);
        sql = NULL;
    }
    if (!src->has_rowid) {
        if (!(sql = sqlite3_mprintf("SELECT * FROM \"%w\"", real))) {
            sqlite3_free(real);
            return ab_err_set(err, AB_ENOMEM, "out of memory");
        }
        rc = prepare(src, sql, NULL);
        sqlite3_free(sql);
        if (rc != SQLITE_OK) {
            sqlite3_free(real);
            return source_fail(src, rc, err, "cannot read");
        }
    }
    sqlite3_free(real);
    return 0;
}

static const char *denied_what(int action)
{
    switch (action) {
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
        return "write to a table";
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
        return "attach or detach a database";
    case SQLITE_PRAGMA:
        return "run a PRAGMA";
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
        return "control a transaction";
    case SQLITE_ANALYZE:
    case SQLITE_REINDEX:
        return "write statistics or indexes";
    default:
        return "change the schema or the connection";
    }
}

int ab_source_select_query(struct ab_source *src, const char *sql,
                           struct ab_err *err)
{
    const char *tail = NULL;
    sqlite3_stmt *more = NULL;
    int rc;

    src->has_rowid = 0;
    rc = prepare(src, sql, &tail);
    if ((rc & 0xff) == SQLITE_AUTH || (rc == SQLITE_OK && src->denied))
        return ab_err_set(err, AB_EINVAL,
                          "--query may only read, but this one would %s; "
                          "give one SELECT statement",
                          denied_what(src->denied));
    if (rc != SQLITE_OK) {
        int code = (rc & 0xff) == SQLITE_NOMEM ? AB_ENOMEM : AB_EINVAL;
        if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ||
            (rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CORRUPT)
            return source_fail(src, rc, err, "cannot read");
        return ab_err_set(err, code, "--query on '%s': %s", src->path,
                          sqlite3_errmsg(src->db));
    }
    if (!src->st)
        return ab_err_set(err, AB_EINVAL, "--query is empty");
    /* What follows must be nothing but spaces, semicolons and comments. */
    if (tail && *tail) {
        rc = sqlite3_prepare_v2(src->db, tail, -1, &more, NULL);
        sqlite3_finalize(more);
        if (rc != SQLITE_OK || more)
            return ab_err_set(err, AB_EINVAL,
                              "--query holds more than one statement; give "
                              "one SELECT");
    }
    if (!sqlite3_stmt_readonly(src->st))
        return ab_err_set(err, AB_EINVAL,
                          "--query may only read, but this one writes; give "
                          "one SELECT statement");
    if (sqlite3_column_count(src->st) == 0)
        return ab_err_set(err, AB_EINVAL,
                          "--query returns no columns; give one SELECT "
                          "statement");
    return 0;
}

int ab_source_has_rowid(const struct ab_source *src)
{
    return src->has_rowid;
}

int ab_source_ncols(const struct ab_source *src)
{
    return sqlite3_column_count(src->st) - src->has_rowid;
}

const char *ab_source_col_name(const struct ab_source *src, int i)
{
    const char *n = sqlite3_column_name(src->st, i + src->has_rowid);
    return n ? n : "";
}

int ab_source_step(struct ab_source *src, int64_t *at, struct ab_err *err)
{
    int rc = sqlite3_step(src->st);

    if (rc == SQLITE_ROW) {
        src->rowno++;
        *at = src->has_rowid ? sqlite3_column_int64(src->st, 0) : src->rowno;
        return 1;
    }
    if (rc == SQLITE_DONE)
        return 0;
    /* Torn pages from a writer that came along read as corruption: say
     * which it was. */
    if (src->immutable && ab_source_verify(src, err) != 0)
        return err ? err->code : AB_EBUSY;
    return source_fail(src, rc, err, "cannot read");
}

void ab_source_value(const struct ab_source *src, int i,
                     struct ab_source_value *v)
{
    int col = i + src->has_rowid;

    memset(v, 0, sizeof *v);
    switch (sqlite3_column_type(src->st, col)) {
    case SQLITE_INTEGER:
        v->type = AB_SOURCE_INTEGER;
        v->i = sqlite3_column_int64(src->st, col);
        break;
    case SQLITE_FLOAT:
        v->type = AB_SOURCE_REAL;
        v->d = sqlite3_column_double(src->st, col);
        break;
    case SQLITE_TEXT:
        v->type = AB_SOURCE_TEXT;
        v->p = (const char *)sqlite3_column_text(src->st, col);
        v->n = (size_t)sqlite3_column_bytes(src->st, col);
        if (!v->p) { /* out of memory converting: read as absent */
            v->type = AB_SOURCE_NULL;
            v->n = 0;
        }
        break;
    case SQLITE_BLOB:
        v->type = AB_SOURCE_BLOB;
        v->p = sqlite3_column_blob(src->st, col);
        v->n = (size_t)sqlite3_column_bytes(src->st, col);
        break;
    default:
        v->type = AB_SOURCE_NULL;
        break;
    }
}

int ab_source_verify(struct ab_source *src, struct ab_err *err)
{
    struct stat now;

    if (!src->immutable)
        return 0;
    if (stat(src->path, &now) != 0 || now.st_ino != src->before.st_ino ||
        now.st_dev != src->before.st_dev ||
        now.st_size != src->before.st_size ||
        now.st_mtim.tv_sec != src->before.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != src->before.st_mtim.tv_nsec)
        return ab_err_set(err, AB_EBUSY,
                          "'%s' changed while it was read (another program "
                          "wrote to it): nothing imported; run the import "
                          "again",
                          src->path);
    return 0;
}

void ab_source_close(struct ab_source *src)
{
    if (!src)
        return;
    sqlite3_finalize(src->st);
    sqlite3_close_v2(src->db);
    free(src);
}
