/* store_pg.c - the PostgreSQL store: which specs name one, connecting,
 * migrations, transactions, counts, and the helpers store_pg_*.c share. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "schema.h"
#include "store.h"
#include "store_pg_internal.h"

#define RECONNECT_EVERY_MS 2000
/* An arbitrary constant: the advisory lock that serialises migrations. */
#define MIGRATE_LOCK 0x61626d69 /* "abmi" */

/* ---- specs (pure) ---------------------------------------------------- */

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static int is_uri(const char *spec)
{
    return has_prefix(spec, "postgresql://") || has_prefix(spec, "postgres://");
}

/* "word=" at the start, where word is a keyword libpq knows. */
static int starts_with_keyword(const char *spec)
{
    PQconninfoOption *opts, *o;
    size_t n = 0;
    int known = 0;

    size_t k;

    while (spec[n] && (islower((unsigned char)spec[n]) || spec[n] == '_'))
        n++;
    for (k = n; spec[k] == ' ' || spec[k] == '\t';)
        k++;
    if (n == 0 || spec[k] != '=')
        return 0;
    if (!(opts = PQconndefaults()))
        return 0;
    for (o = opts; o->keyword; o++)
        if (strlen(o->keyword) == n && strncmp(o->keyword, spec, n) == 0)
            known = 1;
    PQconninfoFree(opts);
    return known;
}

int ab_pg_spec(const char *spec)
{
    PQconninfoOption *opts;
    char *msg = NULL;

    if (!spec)
        return 0;
    if (is_uri(spec))
        return 1;
    if (!starts_with_keyword(spec))
        return 0;
    /* A key=value string libpq cannot parse is still meant for libpq: open
     * reports why. */
    opts = PQconninfoParse(spec, &msg);
    PQconninfoFree(opts);
    PQfreemem(msg);
    return 1;
}

static void put(char *out, size_t n, size_t *k, const char *s, size_t len)
{
    while (len-- > 0 && *k + 1 < n)
        out[(*k)++] = *s++;
    out[*k] = '\0';
}

/* Whether the parameter name k (len bytes, percent-encoded as libpq
 * decodes it) names a password: password or sslpassword. */
static int is_password_key(const char *k, size_t len)
{
    char name[16];
    size_t i = 0, j = 0;

    while (i < len && j + 1 < sizeof name) {
        if (k[i] == '%' && i + 2 < len && isxdigit((unsigned char)k[i + 1]) &&
            isxdigit((unsigned char)k[i + 2])) {
            char hex[3] = {k[i + 1], k[i + 2], '\0'};
            name[j++] = (char)strtol(hex, NULL, 16);
            i += 3;
        } else {
            name[j++] = k[i++];
        }
    }
    if (i < len)
        return 0; /* longer than any password keyword */
    name[j] = '\0';
    return strcmp(name, "password") == 0 || strcmp(name, "sslpassword") == 0;
}

/* A URI without the password of its user info and without password= (or
 * sslpassword=) among its parameters. The user info ends at the last '@'
 * before the first '/': libpq looks no further for it, so a '?' before
 * that '@' is part of the password. */
static int redact_uri(const char *spec, char *out, size_t n)
{
    int dropped = 0;
    const char *auth = strstr(spec, "://") + 3, *end, *at = NULL, *p, *colon;
    size_t k = 0;

    out[0] = '\0';
    end = auth + strcspn(auth, "/");
    for (p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    put(out, n, &k, spec, (size_t)(auth - spec));
    if (at) {
        colon = memchr(auth, ':', (size_t)(at - auth));
        dropped |= colon != NULL;
        put(out, n, &k, auth, (size_t)((colon ? colon : at) - auth));
        put(out, n, &k, "@", 1);
        auth = at + 1;
    }
    p = strchr(auth, '?');
    put(out, n, &k, auth, (size_t)((p ? p : auth + strlen(auth)) - auth));
    if (!p)
        return dropped;
    /* Parameters: keep all but the passwords. */
    {
        char sep = '?';
        p++;
        while (*p) {
            size_t len = strcspn(p, "&");
            size_t key = strcspn(p, "=&");
            if (key < len && is_password_key(p, key)) {
                dropped = 1;
            } else {
                put(out, n, &k, &sep, 1);
                put(out, n, &k, p, len);
                sep = '&';
            }
            p += len;
            if (*p == '&')
                p++;
        }
    }
    return dropped;
}

/* key=value words, quoted values and backslashes as libpq reads them,
 * copied except password=. */
static int redact_kv(const char *spec, char *out, size_t n)
{
    const char *p = spec;
    size_t k = 0;
    int first = 1, dropped = 0;

    out[0] = '\0';
    while (*p) {
        const char *w;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        w = p;
        while (*p && *p != '=' && !isspace((unsigned char)*p))
            p++;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '=') {
            p++;
            while (isspace((unsigned char)*p))
                p++;
            if (*p == '\'') {
                for (p++; *p && *p != '\''; p++)
                    if (*p == '\\' && p[1])
                        p++;
                if (*p)
                    p++;
            } else {
                for (; *p && !isspace((unsigned char)*p); p++)
                    if (*p == '\\' && p[1])
                        p++;
            }
        }
        if (is_password_key(w, strcspn(w, "= \t\n\r\f\v"))) {
            dropped = 1;
            continue;
        }
        if (!first)
            put(out, n, &k, " ", 1);
        first = 0;
        put(out, n, &k, w, (size_t)(p - w));
    }
    return dropped;
}

/* Replaces every copy of s[0, len) in line with "***" (shorter copies
 * with as many '*'). */
static void blot(char *line, const char *s, size_t len)
{
    size_t put = len < 3 ? len : 3;
    char *p = line;

    if (len == 0)
        return;
    while (*p) {
        if (strncmp(p, s, len) != 0) {
            p++;
            continue;
        }
        memset(p, '*', put);
        memmove(p + put, p + len, strlen(p + len) + 1);
        p += put;
    }
}

/* A message from libpq about spec, without the passwords in spec: libpq
 * quotes what it cannot parse (a bad %-escape, a URI it gave up on). */
static void scrub(const char *spec, char *line)
{
    const char *p, *v;

    if (is_uri(spec)) {
        const char *auth = strstr(spec, "://") + 3, *end, *at = NULL, *colon;
        end = auth + strcspn(auth, "/");
        for (p = auth; p < end; p++)
            if (*p == '@')
                at = p;
        if (at && (colon = memchr(auth, ':', (size_t)(at - auth))))
            blot(line, colon + 1, (size_t)(at - colon - 1));
        for (p = strchr(at ? at : auth, '?'); p && *p;) {
            size_t len, key;
            p++;
            len = strcspn(p, "&");
            key = strcspn(p, "=&");
            if (key < len && is_password_key(p, key))
                blot(line, p + key + 1, len - key - 1);
            p += len;
        }
        return;
    }
    for (p = spec; *p;) {
        const char *w;
        while (isspace((unsigned char)*p))
            p++;
        w = p;
        while (*p && *p != '=' && !isspace((unsigned char)*p))
            p++;
        if (!is_password_key(w, (size_t)(p - w))) {
            if (*p)
                p++;
            continue;
        }
        while (isspace((unsigned char)*p) || *p == '=')
            p++;
        v = p;
        if (*p == '\'') {
            for (p++; *p && *p != '\''; p++)
                if (*p == '\\' && p[1])
                    p++;
            blot(line, v + 1, (size_t)(p - v - 1));
        } else {
            while (*p && !isspace((unsigned char)*p))
                p++;
            blot(line, v, (size_t)(p - v));
        }
    }
}

void ab_pg_redact(const char *spec, char *out, size_t n)
{
    if (n == 0)
        return;
    if (is_uri(spec))
        redact_uri(spec, out, n);
    else
        redact_kv(spec, out, n);
}

int ab_pg_has_password(const char *spec)
{
    size_t n;
    char *scratch;
    int found;

    if (!ab_pg_spec(spec))
        return 0;
    n = strlen(spec) + 1;
    if (!(scratch = malloc(n)))
        return 1; /* cannot tell: say so, the caller refuses */
    found = is_uri(spec) ? redact_uri(spec, scratch, n)
                         : redact_kv(spec, scratch, n);
    free(scratch);
    return found;
}

/* ---- parameters and results ------------------------------------------ */

void ab_pgq_init(struct ab_pgq *q)
{
    q->n = 0;
}

static char *slot(struct ab_pgq *q)
{
    /* The statements have a fixed set of parameters; more is a bug. */
    if (q->n >= AB_PG_MAX_PARAMS)
        abort();
    q->len[q->n] = 0;
    q->fmt[q->n] = 0;
    return q->num[q->n];
}

void ab_pgq_i64(struct ab_pgq *q, int64_t v)
{
    char *b = slot(q);
    snprintf(b, sizeof q->num[0], "%lld", (long long)v);
    q->v[q->n++] = b;
}

void ab_pgq_f64(struct ab_pgq *q, double v)
{
    char *b = slot(q);
    snprintf(b, sizeof q->num[0], "%.17g", v);
    q->v[q->n++] = b;
}

void ab_pgq_bool(struct ab_pgq *q, int v)
{
    slot(q);
    q->v[q->n++] = v ? "true" : "false";
}

void ab_pgq_text(struct ab_pgq *q, const char *v)
{
    slot(q);
    q->v[q->n++] = v;
}

void ab_pgq_null(struct ab_pgq *q)
{
    slot(q);
    q->v[q->n++] = NULL;
}

void ab_pgq_textn(struct ab_pgq *q, const char *v, size_t n)
{
    /* Text parameters are NUL-terminated for libpq; a length-bounded value
     * goes as bytes, which the server reads as text (format 1 of a text
     * column is its UTF-8 bytes). */
    slot(q);
    if (!v) {
        q->v[q->n++] = NULL;
        return;
    }
    q->len[q->n] = (int)n;
    q->fmt[q->n] = 1;
    q->v[q->n++] = v;
}

void ab_pgq_bytes(struct ab_pgq *q, const void *v, size_t n)
{
    slot(q);
    q->len[q->n] = (int)n;
    q->fmt[q->n] = 1;
    q->v[q->n++] = v;
}

int ab_pg_isnull(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col);
}

int64_t ab_pg_i64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col)
               ? 0
               : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int64_t ab_pg_i64_or(const PGresult *r, int row, int col, int64_t dflt)
{
    return PQgetisnull(r, row, col) ? dflt : ab_pg_i64(r, row, col);
}

double ab_pg_f64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtod(PQgetvalue(r, row, col), NULL);
}

const char *ab_pg_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

char *ab_pg_dup(const PGresult *r, int row, int col)
{
    const char *v = ab_pg_str(r, row, col);
    return v ? strdup(v) : NULL;
}

int64_t ab_pg_changes(const PGresult *r)
{
    const char *t = PQcmdTuples((PGresult *)r);
    return t && *t ? strtoll(t, NULL, 10) : 0;
}

int ab_pg_code(const struct ab_err *err)
{
    return err && err->code ? err->code : AB_EIO;
}

/* ---- errors and the connection --------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first line of a libpq message, without "ERROR:  " or the newline. */
static void first_line(const char *m, char *out, size_t n)
{
    size_t len;

    if (!m || !*m)
        m = "unknown error";
    if (strncmp(m, "ERROR:  ", 8) == 0)
        m += 8;
    len = strcspn(m, "\n");
    snprintf(out, n, "%.*s", (int)len, m);
}

/* The first line of libpq's message m about pg's spec, without the
 * spec's passwords (the whole message is scrubbed before it is cut). */
static void pq_line(const struct ab_pg *pg, const char *m, char *out, size_t n)
{
    char *c = m ? strdup(m) : NULL;

    if (m && !c) {
        snprintf(out, n, "out of memory reading its error");
        return;
    }
    if (c)
        scrub(pg->spec, c);
    first_line(c, out, n);
    free(c);
}

/* Maps a failed result (or none) to an AB_E* code and sets err. */
static int fail(struct ab_pg *pg, PGresult *res, struct ab_err *err,
                const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *m = res ? PQresultErrorMessage(res) : NULL;
    char line[400];
    int code = AB_EIO;

    if (!m || !*m)
        m = PQerrorMessage(pg->conn);
    pq_line(pg, m, line, sizeof line);
    if (PQstatus(pg->conn) == CONNECTION_BAD ||
        (state && strncmp(state, "08", 2) == 0 && strcmp(state, "08P01")) ||
        (state && strncmp(state, "57P", 3) == 0)) {
        /* Gone (a partition, a restart): nothing is known to have happened;
         * try again later, on a new connection. */
        pg->broken = 1;
        return ab_err_set(err, AB_EBUSY,
                          "%s '%s': cannot reach the database: %s", what,
                          pg->shown, line);
    }
    if (state) {
        if (strncmp(state, "23", 2) == 0 || strcmp(state, "22001") == 0 ||
            strcmp(state, "22021") == 0)
            code = AB_EDATA;
        else if (strcmp(state, "55P03") == 0 || strcmp(state, "40001") == 0 ||
                 strcmp(state, "40P01") == 0 || strcmp(state, "57014") == 0)
            code = AB_EBUSY;
        else if (strcmp(state, "53100") == 0)
            code = AB_EFULL;
        else if (strcmp(state, "53200") == 0)
            code = AB_ENOMEM;
    }
    return ab_err_set(err, code, "%s '%s': %s", what, pg->shown, line);
}

static PGresult *checked(struct ab_pg *pg, PGresult *res, struct ab_err *err,
                         const char *what)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    fail(pg, res, err, what);
    PQclear(res);
    return NULL;
}

static int session_setup(struct ab_pg *pg, struct ab_err *err);

/* A usable connection, reconnecting a broken one when allowed. */
static int ready(struct ab_pg *pg, struct ab_err *err)
{
    int64_t now;

    if (!pg->broken && PQstatus(pg->conn) == CONNECTION_OK)
        return 0;
    pg->broken = 1;
    if (pg->in_tx)
        return ab_err_set(err, AB_EBUSY,
                          "the connection to '%s' broke during a transaction "
                          "(rolled back)",
                          pg->shown);
    now = mono_ms();
    if (pg->last_reset_ms && now - pg->last_reset_ms < RECONNECT_EVERY_MS)
        return ab_err_set(err, AB_EBUSY,
                          "cannot reach database '%s' (reconnecting)",
                          pg->shown);
    pg->last_reset_ms = now;
    PQreset(pg->conn);
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        char line[400];
        pq_line(pg, PQerrorMessage(pg->conn), line, sizeof line);
        return ab_err_set(err, AB_EBUSY, "cannot reach database '%s': %s",
                          pg->shown, line);
    }
    pg->broken = 0;
    pg->nstmts = 0; /* prepared statements died with the session */
    pg->import_ready = 0;
    return session_setup(pg, err);
}

PGresult *ab_pg_run(struct ab_pg *pg, const char *sql, const struct ab_pgq *q,
                    struct ab_err *err, const char *what)
{
    char name[16];
    int i;

    if (ready(pg, err) != 0)
        return NULL;
    for (i = 0; i < pg->nstmts; i++)
        if (pg->stmts[i] == sql)
            break;
    snprintf(name, sizeof name, "ab%d", i);
    if (i == pg->nstmts) {
        PGresult *p;
        if (i >= AB_PG_MAX_STMTS)
            return ab_pg_once(pg, sql, q, err, what);
        p = checked(pg, PQprepare(pg->conn, name, sql, 0, NULL), err, what);
        if (!p)
            return NULL;
        PQclear(p);
        pg->stmts[pg->nstmts++] = sql;
    }
    return checked(pg,
                   PQexecPrepared(pg->conn, name, q ? q->n : 0, q ? q->v : NULL,
                                  q ? q->len : NULL, q ? q->fmt : NULL, 0),
                   err, what);
}

PGresult *ab_pg_once(struct ab_pg *pg, const char *sql, const struct ab_pgq *q,
                     struct ab_err *err, const char *what)
{
    if (ready(pg, err) != 0)
        return NULL;
    return checked(pg,
                   PQexecParams(pg->conn, sql, q ? q->n : 0, NULL,
                                q ? q->v : NULL, q ? q->len : NULL,
                                q ? q->fmt : NULL, 0),
                   err, what);
}

int ab_pg_cmd(struct ab_pg *pg, const char *sql, const struct ab_pgq *q,
              int64_t *changed, struct ab_err *err, const char *what)
{
    PGresult *r = ab_pg_run(pg, sql, q, err, what);

    if (!r)
        return ab_pg_code(err);
    if (changed)
        *changed = ab_pg_changes(r);
    PQclear(r);
    return 0;
}

int ab_pg_each(struct ab_pg *pg, const char *sql, const struct ab_pgq *q,
               int (*fn)(void *ctx, const PGresult *row), void *ctx,
               struct ab_err *err, const char *what)
{
    PGresult *r;
    int rc = 0, stop = 0;

    if (ready(pg, err) != 0)
        return ab_pg_code(err);
    if (!PQsendQueryParams(pg->conn, sql, q ? q->n : 0, NULL, q ? q->v : NULL,
                           q ? q->len : NULL, q ? q->fmt : NULL, 0))
        return fail(pg, NULL, err, what);
    PQsetSingleRowMode(pg->conn);
    /* Read to the end whatever happens: the connection is usable only
     * after its last result. */
    while ((r = PQgetResult(pg->conn)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE) {
            if (!stop && !rc)
                stop = fn(ctx, r);
        } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && !rc) {
            rc = fail(pg, r, err, what);
        }
        PQclear(r);
    }
    if (!rc && PQstatus(pg->conn) == CONNECTION_BAD)
        rc = fail(pg, NULL, err, what);
    return stop ? stop : rc;
}

/* Runs a script (several statements, no parameters). */
static int script(struct ab_pg *pg, const char *sql, struct ab_err *err,
                  const char *what)
{
    PGresult *r;

    if (ready(pg, err) != 0)
        return ab_pg_code(err);
    r = PQexec(pg->conn, sql);
    if (r && PQresultStatus(r) == PGRES_EMPTY_QUERY) {
        PQclear(r); /* only comments (schema/pg/003) */
        return 0;
    }
    if (!(r = checked(pg, r, err, what)))
        return ab_pg_code(err);
    PQclear(r);
    return 0;
}

static int session_setup(struct ab_pg *pg, struct ab_err *err)
{
    char sql[160];
    int rc;

    if (PQsetClientEncoding(pg->conn, "UTF8") != 0)
        return ab_err_set(err, AB_EIO, "cannot use UTF-8 with database '%s'",
                          pg->shown);
    snprintf(sql, sizeof sql, "SET lock_timeout = %d%s",
             pg->busy_ms > 0 ? pg->busy_ms : 1,
             pg->durable ? "; SET synchronous_commit = on" : "");
    if ((rc = script(pg, sql, err, "cannot set up the session on")) != 0)
        return rc;
    if (pg->flags & AB_STORE_READONLY)
        return script(pg, "SET default_transaction_read_only = on", err,
                      "cannot set up the session on");
    return 0;
}

/* ---- migrations ------------------------------------------------------ */

static int read_version(struct ab_pg *pg, int *v, struct ab_err *err)
{
    /* A scan of pg_class, not to_regclass(): its cache may predate the
     * commit of a process that migrated while this one waited for the
     * lock. */
    PGresult *r = ab_pg_once(pg,
                             "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_class c"
                             " JOIN pg_namespace n ON n.oid = c.relnamespace"
                             " WHERE c.relname = 'authbatch_schema'"
                             " AND n.nspname = current_schema())"
                             " THEN 1 END",
                             NULL, err, "cannot read database");
    int exists;

    if (!r)
        return ab_pg_code(err);
    exists = !ab_pg_isnull(r, 0, 0);
    PQclear(r);
    *v = 0;
    if (!exists)
        return 0;
    if (!(r = ab_pg_once(pg, "SELECT max(version) FROM authbatch_schema", NULL,
                         err, "cannot read database")))
        return ab_pg_code(err);
    *v = (int)ab_pg_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

static int refuse_newer(struct ab_pg *pg, int v, struct ab_err *err)
{
    return ab_err_set(err, AB_ESCHEMA,
                      "database '%s' has schema version %d, newer than this "
                      "authbatch %s understands (%d): upgrade authbatch",
                      pg->shown, v, AB_VERSION, ab_schema_pg_count);
}

static int migrate(struct ab_pg *pg, struct ab_err *err)
{
    struct ab_pgq q;
    char lock[96];
    int v, rc;

    if ((rc = read_version(pg, &v, err)) != 0)
        return rc;
    if (v > ab_schema_pg_count)
        return refuse_newer(pg, v, err);
    if (v == ab_schema_pg_count)
        return 0;
    if (pg->flags & AB_STORE_READONLY)
        return ab_err_set(err, AB_ESCHEMA,
                          "database '%s' has schema version %d and needs an "
                          "upgrade to %d: run 'authbatch init' first",
                          pg->shown, v, ab_schema_pg_count);
    if ((rc = ab_pg_begin(pg, err)) != 0)
        return rc;
    /* Processes opening at once: the first migrates, the others wait here
     * and then find nothing to do. */
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%d)",
             MIGRATE_LOCK);
    if ((rc = script(pg, lock, err, "cannot lock the schema of")) != 0 ||
        (rc = read_version(pg, &v, err)) != 0)
        goto out_rollback;
    if (v > ab_schema_pg_count) {
        rc = refuse_newer(pg, v, err);
        goto out_rollback;
    }
    if (v == 0 &&
        (rc = script(pg,
                     "CREATE TABLE IF NOT EXISTS authbatch_schema"
                     " (version integer NOT NULL);"
                     "INSERT INTO authbatch_schema (version) VALUES (0)",
                     err, "cannot create the schema table in")) != 0)
        goto out_rollback;
    for (; v < ab_schema_pg_count; v++) {
        const struct ab_schema_step *step = &ab_schema_pg_steps[v];
        if ((rc = script(pg, step->sql, err, "cannot migrate")) != 0) {
            if (err) {
                char tmp[sizeof err->msg];
                snprintf(tmp, sizeof tmp, "schema pg/%s: %.400s", step->name,
                         err->msg);
                memcpy(err->msg, tmp, sizeof tmp);
            }
            goto out_rollback;
        }
        ab_pgq_init(&q);
        ab_pgq_i64(&q, step->version);
        if ((rc = ab_pg_cmd(pg, "UPDATE authbatch_schema SET version = $1", &q,
                            NULL, err, "cannot migrate")) != 0)
            goto out_rollback;
    }
    return ab_pg_commit(pg, err);

out_rollback:
    ab_pg_rollback(pg);
    return rc;
}

/* ---- store.h --------------------------------------------------------- */

static void on_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int busy_ms_env(void)
{
    const char *bt = getenv("AUTHBATCH_BUSY_TIMEOUT_MS");
    long v;
    char *end;

    /* store.c checked it before choosing the engine. */
    if (!bt || !*bt)
        return 5000;
    v = strtol(bt, &end, 10);
    return *end || v < 0 || v > 3600000 ? 5000 : (int)v;
}

int ab_pg_open(const char *spec, int flags, struct ab_pg **out,
               struct ab_err *err)
{
    /* Defaults the spec may override: bounded waits for a database that
     * went away (README "Failure model"), and a name in pg_stat_activity. */
    static const char *const keys[] = {
        "connect_timeout",     "keepalives",       "keepalives_idle",
        "keepalives_interval", "keepalives_count", "tcp_user_timeout",
        "application_name",    "dbname",           NULL,
    };
    const char *vals[9] = {"5",     "1",         "10", "5", "3",
                           "30000", "authbatch", spec, NULL};
    struct ab_pg *pg;
    char shown[512], line[400];
    int rc;

    *out = NULL;
    ab_pg_redact(spec, shown, sizeof shown);
    pg = calloc(1, sizeof *pg);
    if (!pg || !(pg->spec = strdup(spec)) || !(pg->shown = strdup(shown))) {
        if (pg)
            free(pg->spec);
        free(pg);
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    }
    pg->flags = flags;
    pg->busy_ms = busy_ms_env();
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (!pg->conn) {
        ab_pg_close(pg);
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    }
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        pq_line(pg, PQerrorMessage(pg->conn), line, sizeof line);
        rc = ab_err_set(err, AB_EIO, "cannot open database '%s': %s", shown,
                        line);
        ab_pg_close(pg);
        return rc;
    }
    /* Notices (a TEMP table that exists already) are not the user's
     * business; errors come back with their results. */
    PQsetNoticeProcessor(pg->conn, on_notice, NULL);
    if ((rc = session_setup(pg, err)) != 0 || (rc = migrate(pg, err)) != 0) {
        ab_pg_close(pg);
        return rc == AB_EBUSY ? AB_EIO : rc;
    }
    *out = pg;
    return 0;
}

void ab_pg_close(struct ab_pg *pg)
{
    if (!pg)
        return;
    if (pg->conn)
        PQfinish(pg->conn); /* an open transaction rolls back */
    free(pg->recorded);
    free(pg->unsure);
    free(pg->spec);
    free(pg->shown);
    free(pg);
}

const char *ab_pg_shown(const struct ab_pg *pg)
{
    return pg->shown;
}

int ab_pg_schema_version(struct ab_pg *pg)
{
    int v = -1;
    return read_version(pg, &v, NULL) == 0 ? v : -1;
}

int ab_pg_schema_latest(void)
{
    return ab_schema_pg_count;
}

int ab_pg_in_tx(const struct ab_pg *pg)
{
    return pg->in_tx;
}

int ab_pg_begin(struct ab_pg *pg, struct ab_err *err)
{
    int rc = script(pg, "BEGIN ISOLATION LEVEL READ COMMITTED", err,
                    "cannot start a transaction on");
    if (rc == 0) {
        pg->in_tx = 1;
        if (pg->nrecorded) {
            memset(pg->recorded, 0, pg->caprecorded * sizeof *pg->recorded);
            pg->nrecorded = 0;
        }
    }
    return rc;
}

/* Open addressing on id (ids are > 0; 0 is an empty slot). */
int ab_pg_recorded(struct ab_pg *pg, int64_t id, int add)
{
    size_t i, mask;

    if (add && (pg->nrecorded + 1) * 2 > pg->caprecorded) {
        size_t cap = pg->caprecorded ? pg->caprecorded * 2 : 1024, k;
        int64_t *t = calloc(cap, sizeof *t), *old = pg->recorded;
        if (!t)
            return AB_ENOMEM;
        for (k = 0; k < pg->caprecorded; k++) {
            if (!old[k])
                continue;
            for (i = (size_t)old[k] & (cap - 1); t[i]; i = (i + 1) & (cap - 1))
                ;
            t[i] = old[k];
        }
        free(old);
        pg->recorded = t;
        pg->caprecorded = cap;
    }
    if (!pg->caprecorded)
        return 0;
    mask = pg->caprecorded - 1;
    for (i = (size_t)id & mask; pg->recorded[i]; i = (i + 1) & mask)
        if (pg->recorded[i] == id)
            return 1;
    if (!add)
        return 0;
    pg->recorded[i] = id;
    pg->nrecorded++;
    return 0;
}

int ab_pg_commit(struct ab_pg *pg, struct ab_err *err)
{
    PGresult *r;
    int rc = 0;

    if (ready(pg, err) != 0) {
        rc = ab_pg_code(err);
        ab_pg_rollback(pg);
        return rc;
    }
    r = checked(pg, PQexec(pg->conn, "COMMIT"), err, "cannot commit to");
    if (!r) {
        rc = ab_pg_code(err);
    } else if (strcmp(PQcmdStatus(r), "ROLLBACK") == 0) {
        /* An aborted transaction "commits" as a rollback. */
        rc = ab_err_set(err, AB_EIO,
                        "cannot commit to '%s': the transaction had failed",
                        pg->shown);
    }
    PQclear(r);
    pg->in_tx = 0;
    if (rc != 0)
        ab_pg_rollback(pg);
    return rc;
}

void ab_pg_rollback(struct ab_pg *pg)
{
    if (!pg->broken && PQstatus(pg->conn) == CONNECTION_OK &&
        PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
        PQclear(PQexec(pg->conn, "ROLLBACK"));
    pg->in_tx = 0;
}

int ab_pg_savepoint(struct ab_pg *pg, const char *name, struct ab_err *err)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SAVEPOINT %s", name);
    return script(pg, sql, err, "cannot start a savepoint on");
}

int ab_pg_release(struct ab_pg *pg, const char *name, struct ab_err *err)
{
    char sql[64];
    snprintf(sql, sizeof sql, "RELEASE %s", name);
    return script(pg, sql, err, "cannot release a savepoint on");
}

void ab_pg_rollback_to(struct ab_pg *pg, const char *name)
{
    char sql[96];
    snprintf(sql, sizeof sql, "ROLLBACK TO %s; RELEASE %s", name, name);
    script(pg, sql, NULL, "cannot roll back a savepoint on");
}

int ab_pg_durable(struct ab_pg *pg, struct ab_err *err)
{
    pg->durable = 1;
    return script(pg, "SET synchronous_commit = on", err,
                  "cannot set up the session on");
}

void ab_pg_set_busy_timeout(struct ab_pg *pg, int ms)
{
    char sql[64];

    pg->busy_ms = ms > 0 ? ms : 1; /* 0 would mean "wait forever" */
    snprintf(sql, sizeof sql, "SET lock_timeout = %d", pg->busy_ms);
    script(pg, sql, NULL, "cannot set up the session on");
}

static const char sql_counts[] =
    "SELECT status, count(*) FROM companies GROUP BY status";
static const char sql_retry_due[] =
    "SELECT count(*) FILTER (WHERE next_attempt_at <= $1::bigint),"
    " min(next_attempt_at) FROM companies WHERE status = 'retry_wait'";

int ab_pg_counts(struct ab_pg *pg, struct ab_counts *out, struct ab_err *err)
{
    struct ab_pgq q;
    PGresult *r;
    int i;

    memset(out, 0, sizeof *out);
    if (!(r = ab_pg_run(pg, sql_counts, NULL, err,
                        "cannot count companies in")))
        return ab_pg_code(err);
    for (i = 0; i < PQntuples(r); i++)
        ab_counts_add(out, ab_pg_str(r, i, 0), ab_pg_i64(r, i, 1));
    PQclear(r);
    ab_pgq_init(&q);
    ab_pgq_i64(&q, ab_now_ms());
    if (!(r = ab_pg_run(pg, sql_retry_due, &q, err,
                        "cannot count companies in")))
        return ab_pg_code(err);
    out->due_retry = ab_pg_i64(r, 0, 0);
    out->next_retry_at = ab_pg_i64(r, 0, 1);
    PQclear(r);
    return 0;
}
