/* fuzz_import.c - libFuzzer target: arbitrary bytes as a CSV file through
 * ab_import_stream() into a real (in-memory) SQLite store.
 *
 * The first input byte picks the mode (bit 0: --strict); the rest is the
 * file. Besides the sanitizers, every run checks the import's contract:
 *  - finished companies (done, with a ticket) that were in the database
 *    before are never changed, whatever the file says;
 *  - the counts add up (rows = new + updated + unchanged + rejected, for a
 *    committed import), and a rejected row is stored in rejected_rows;
 *  - --strict with any rejected row writes nothing;
 *  - every reported reason is a non-empty string; a failure has a message.
 * Pending rows and rejected rows are removed after each input so inputs do
 * not depend on each other.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "import.h"
#include "store.h"
#include "store_internal.h"

static struct ab_store *store;

/* Companies a previous run finished; no import may touch them. */
static const char seed_sql[] =
    "INSERT INTO companies (company_name, applicant_contact, status, ticket,"
    " ticket_at, attempts, created_at, updated_at) VALUES"
    " ('Acme Ltd', '13800000000', 'done', 'tk-acme', 1, 1, 1, 1),"
    " ('a', '13800000001', 'done', 'tk-a', 1, 1, 1, 1),"
    " ('Globex', 'x@example.com', 'already_authed', NULL, NULL, 1, 1, 1);";
static const char fingerprint_sql[] =
    "SELECT count(*), total(length(ticket)), total(updated_at),"
    " group_concat(company_name || '|' || applicant_contact || '|' || status"
    " || '|' || ifnull(ticket, '-'), ';')"
    " FROM (SELECT * FROM companies WHERE updated_at = 1 ORDER BY id)";

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "fuzz_import: %s: %s\n", what, msg);
    abort();
}

static int64_t scalar(const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(store->db, sql, -1, &st, NULL) != SQLITE_OK)
        die(sql, sqlite3_errmsg(store->db));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static char *fingerprint(void)
{
    sqlite3_stmt *st;
    char *out;
    if (sqlite3_prepare_v2(store->db, fingerprint_sql, -1, &st, NULL) !=
        SQLITE_OK)
        die("fingerprint", sqlite3_errmsg(store->db));
    if (sqlite3_step(st) != SQLITE_ROW)
        die("fingerprint", sqlite3_errmsg(store->db));
    out = strdup((const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    return out;
}

static void on_reject(void *ctx, const char *source, int64_t line,
                      const char *reason)
{
    int64_t *n = ctx;
    if (!source || !reason || !reason[0] || line < 1)
        die("on_reject", "empty reason or bad line");
    (*n)++;
}

static void on_warn(void *ctx, const char *source, const char *message)
{
    (void)ctx;
    if (!source || !message || !message[0])
        die("on_warn", "empty message");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct ab_err err = {0};
    (void)argc;
    (void)argv;
    if (ab_store_open(":memory:", 0, &store, &err) != 0)
        die("open", err.msg);
    if (ab_store_exec(store, seed_sql, &err) != 0)
        die("seed", err.msg);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ab_import_opts o = {0};
    struct ab_import_result r;
    struct ab_err err = {0};
    int64_t reported = 0, before, after, stored;
    char *fp_before, *fp_after;
    FILE *in;
    int rc;

    if (size < 1)
        return 0;
    o.strict = data[0] & 1;
    o.source = "fuzz.csv";
    o.on_reject = on_reject;
    o.on_warn = on_warn;
    o.ctx = &reported;

    fp_before = fingerprint();
    before = scalar("SELECT count(*) FROM companies");
    /* fmemopen of zero bytes is an error on old glibc: give it one byte it
     * will not read. */
    in = fmemopen((void *)(size > 1 ? data + 1 : data), size > 1 ? size - 1 : 1,
                  "rb");
    if (!in)
        die("fmemopen", "failed");
    if (size == 1)
        fgetc(in);
    rc = ab_import_stream(store, in, "fuzz.csv", &o, &r, &err);
    fclose(in);

    fp_after = fingerprint();
    if (strcmp(fp_before, fp_after) != 0)
        die("finished companies changed", fp_after);
    free(fp_before);
    free(fp_after);
    after = scalar("SELECT count(*) FROM companies");
    stored = scalar("SELECT count(*) FROM rejected_rows");
    if (reported != r.rejected)
        die("counts", "rejected callbacks != r.rejected");
    if (rc != 0) {
        if (!err.msg[0])
            die("error", "failure without a message");
        if (r.committed || after != before)
            die("error", "a failed import changed the database");
    } else {
        if (!r.committed)
            die("ok", "success without a commit");
        if (r.new_rows + r.updated + r.unchanged + r.rejected != r.rows)
            die("ok", "counts do not add up");
        if (after != before + r.new_rows)
            die("ok", "new rows != rows added");
        if (stored != r.rejected)
            die("ok", "rejected rows not all stored");
        if (o.strict && r.rejected)
            die("strict", "committed with rejected rows");
    }
    if (sqlite3_get_autocommit(store->db) == 0)
        die("transaction", "left open");
    if (ab_store_exec(store,
                      "DELETE FROM companies WHERE updated_at <> 1;"
                      "DELETE FROM rejected_rows;",
                      &err) != 0)
        die("cleanup", err.msg);
    return 0;
}
