#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "import.h"
#include "import_sqlite.h"
#include "log.h"
#include "store.h"
#include "validate.h"

/* Rejected rows printed; the rest are counted (all are stored). */
#define PRINT_MAX 100

struct printer {
    int64_t printed, hidden;
};

static void on_reject(void *ctx, const char *source, int64_t line,
                      const char *reason)
{
    struct printer *p = ctx;
    if (p->printed >= PRINT_MAX) {
        p->hidden++;
        return;
    }
    p->printed++;
    fprintf(stderr, "%s:%lld: %s\n", source, (long long)line, reason);
}

static void on_warn(void *ctx, const char *source, const char *message)
{
    (void)ctx;
    ab_log_warn("%s: %s", source, message);
}

static void help(void)
{
    printf(
        "usage: authbatch [--db PATH] [-q|-v] import [--strict] "
        "[--rejects OUT.csv]\n"
        "                 [--encoding E] [--delimiter D] FILE|-\n"
        "\n"
        "Reads companies from a CSV file (or standard input for '-') into the "
        "database,\n"
        "in one transaction.\n"
        "\n"
        "Options:\n"
        "  --strict           import nothing unless every row is good\n"
        "  --rejects OUT.csv  write the rejected rows of this import to "
        "OUT.csv: the\n"
        "                     file's columns plus 'reason'; fix them and "
        "import OUT.csv\n"
        "                     (the reason column is ignored); written in "
        "the input's\n"
        "                     encoding and separator, mode 0600 (it holds "
        "contacts)\n"
        "  --encoding E       auto (default), utf-8, gb18030 or utf-16: "
        "auto reads a\n"
        "                     byte order mark (UTF-8, UTF-16LE/BE), "
        "otherwise UTF-8\n"
        "                     if the text is valid UTF-8, else GB18030 if it "
        "reads\n"
        "                     cleanly as GB18030 (Excel's \"CSV\" on Chinese "
        "Windows)\n"
        "  --delimiter D      auto (default: from the header line), ',', ';' "
        "or tab\n"
        "  -h, --help         this help\n"
        "\n"
        "Input: RFC 4180 CSV as Excel saves it: \"CSV UTF-8\", \"CSV\" "
        "(GB18030/GBK on\n"
        "Chinese Windows), \"Unicode text\" (UTF-16, tab-separated); CRLF "
        "or LF line\n"
        "ends, a header row. Values are stored as UTF-8. Header names are\n"
        "case-insensitive, camelCase or snake_case:\n"
        "  companyName           required, at most %d characters, unique\n"
        "  applicantContact      required; a mainland mobile (+86/86/0086, "
        "spaces and\n"
        "                        hyphens allowed; stored as 11 digits) or an "
        "email\n"
        "  applicantContactType  MOBILE or EMAIL (any case); if absent: '@' "
        "means EMAIL\n"
        "  registerNo            18-character unified social credit code "
        "(check\n"
        "                        character verified, stored upper case) or "
        "15-digit\n"
        "                        registration number (check digit verified)\n"
        "  legalPerson           at most %d characters\n"
        "  applicantName         at most %d characters\n"
        "  callbackUrl           http:// or https:// URL, at most %d "
        "characters\n"
        "  closeButton           true/false, 1/0, yes/no (any case)\n"
        "  modifyFields          comma list of corpName, registerNo, "
        "legalPerson\n"
        "Lengths count characters (code points). Fields are trimmed (spaces, "
        "tabs,\n"
        "U+00A0, U+3000); they must be valid text without control "
        "characters.\n"
        "Unknown columns are ignored with a warning. A field may be at most "
        "%d bytes.\n"
        "\n"
        "Each bad row is reported as FILE:LINE: reason (the first %d on "
        "screen), stored\n"
        "in the rejected_rows table (replacing those of an earlier import of "
        "the same\n"
        "FILE name) and skipped; the good rows are imported. A company twice "
        "in one\n"
        "file is rejected on its second line. A company already in the "
        "database is\n"
        "updated if it has no ticket yet (pending, retry_wait, failed; a "
        "corrected\n"
        "failed row goes back to pending), and left alone when finished "
        "(done,\n"
        "already_authed) or being processed (in_flight). Importing the same "
        "file\n"
        "again changes nothing. Memory use does not grow with the file.\n"
        "\n"
        "Prints a summary on stderr: FILE: N new, N updated, N unchanged, N "
        "rejected.\n"
        "\n"
        "Exit status: 0 all rows imported; 65 some rows rejected (the others "
        "were\n"
        "imported, unless --strict), or the file is unusable (empty, missing "
        "a\n"
        "required column, a column twice); 66 FILE cannot be read; 64 usage; "
        "74\n"
        "database error (nothing imported).\n",
        AB_VALIDATE_MAX_COMPANY_NAME, AB_VALIDATE_MAX_PERSON,
        AB_VALIDATE_MAX_PERSON, AB_VALIDATE_MAX_CALLBACK_URL,
        AB_IMPORT_MAX_FIELD, PRINT_MAX);
}

static void help_from_sqlite(void)
{
    printf(
        "\n"
        "From another program's SQLite database:\n"
        "  authbatch import [--strict] [--rejects OUT.csv] --from-sqlite FILE\n"
        "                   (--table NAME | --query SQL)\n"
        "\n"
        "  --from-sqlite FILE  read the companies from the SQLite database "
        "FILE\n"
        "  --table NAME        every row of the table or view NAME\n"
        "  --query SQL         the rows of one SELECT; alias its columns to "
        "the names\n"
        "                      above, e.g.\n"
        "    --query \"SELECT name AS companyName, uscc AS registerNo, boss "
        "AS legalPerson,\n"
        "             mobile AS applicantContact FROM clients WHERE status = "
        "'new'\"\n"
        "\n"
        "FILE is opened read-only and never written; nothing is created next "
        "to it (a\n"
        "WAL-mode file without its -wal is read with immutable=1 and checked "
        "unchanged\n"
        "afterwards; one whose -wal has changes but no -shm is refused). "
        "Columns are\n"
        "matched by the names above, as CSV headers are, and every row gets "
        "the same\n"
        "rules. NULL is an empty field; an INTEGER (a mobile stored as a "
        "number) or an\n"
        "integral REAL becomes its digits; a BLOB in an imported column "
        "rejects the row.\n"
        "A bad row is reported as FILE:NAME:ROWID: reason (--query: "
        "FILE:query:ROW,\n"
        "the row number) and stored in rejected_rows under the source "
        "FILE:NAME or\n"
        "FILE:query. Exit status as above; besides 64 for a --query that is "
        "not one\n"
        "read-only SELECT, 65 for no such table or a file that is not SQLite, "
        "75 when\n"
        "FILE stays locked by a writer or changed while it was read.\n");
}

int ab_cmd_import(const struct ab_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"strict", no_argument, NULL, 's'},
        {"rejects", required_argument, NULL, 'r'},
        {"encoding", required_argument, NULL, 'e'},
        {"delimiter", required_argument, NULL, 'd'},
        {"from-sqlite", required_argument, NULL, 'S'},
        {"table", required_argument, NULL, 'T'},
        {"query", required_argument, NULL, 'Q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ab_import_opts o = {0};
    struct ab_import_result r;
    struct ab_err err = {0};
    struct printer pr = {0, 0};
    struct ab_store *s;
    const char *path, *from_sqlite = NULL, *table = NULL, *query = NULL;
    char shown[1024], how[160];
    int c, rc;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            o.strict = 1;
            break;
        case 'r':
            o.rejects_path = optarg;
            break;
        case 'e':
            if (ab_charset_parse(optarg, &o.encoding) != 0) {
                ab_log_error("import: unknown encoding '%s' (auto, utf-8, "
                             "gb18030, utf-16)",
                             optarg);
                return AB_EXIT_USAGE;
            }
            break;
        case 'd':
            if (ab_import_parse_delimiter(optarg, &o.delimiter) != 0) {
                ab_log_error("import: unknown delimiter '%s' (auto, ',', ';', "
                             "tab)",
                             optarg);
                return AB_EXIT_USAGE;
            }
            break;
        case 'S':
            from_sqlite = optarg;
            break;
        case 'T':
            table = optarg;
            break;
        case 'Q':
            query = optarg;
            break;
        case 'h':
            help();
            help_from_sqlite();
            return AB_EXIT_OK;
        default:
            fprintf(stderr, "usage: authbatch import [--strict] "
                            "[--rejects OUT.csv] [--encoding E] "
                            "[--delimiter D] FILE|-\n");
            return AB_EXIT_USAGE;
        }
    }
    if (from_sqlite || table || query) {
        if (!from_sqlite || !table == !query || argc - optind != 0) {
            ab_log_error("import: expected --from-sqlite FILE and one of "
                         "--table NAME or --query SQL, and no other FILE; "
                         "see 'authbatch import --help'");
            return AB_EXIT_USAGE;
        }
        if (o.encoding != AB_CHARSET_AUTO || o.delimiter) {
            ab_log_error("import: --encoding and --delimiter are for CSV "
                         "files; SQLite text is UTF-8");
            return AB_EXIT_USAGE;
        }
        path = from_sqlite;
    } else if (argc - optind != 1) {
        ab_log_error("import: expected one FILE (or '-' for standard input)"
                     "; see 'authbatch import --help'");
        return AB_EXIT_USAGE;
    } else {
        path = argv[optind];
    }
    if (o.rejects_path && ab_cli_same_file(o.rejects_path, path)) {
        ab_log_error("import: --rejects must name another file than '%s'",
                     path);
        return AB_EXIT_USAGE;
    }
    o.on_reject = on_reject;
    o.on_warn = on_warn;
    o.ctx = &pr;

    if (o.rejects_path && ab_cli_is_db_file(cli, o.rejects_path)) {
        ab_log_error("import: --rejects '%s' is the database (--db) or one "
                     "of its files: name another file",
                     o.rejects_path);
        return AB_EXIT_USAGE;
    }
    if ((rc = ab_cli_open_store(cli, 0, &s)) != 0)
        return rc;
    if (from_sqlite)
        rc = ab_import_sqlite(s, path, table, query, &o, &r, &err);
    else
        rc = ab_import_file(s, path, &o, &r, &err);
    ab_store_close(s);

    if (pr.hidden > 0)
        fprintf(stderr, "... and %lld more rejected rows (all stored)\n",
                (long long)pr.hidden);
    if (rc != 0) {
        if (rc == AB_EDATA || rc == AB_ENOENT || rc == AB_ENOMEM ||
            rc == AB_EINVAL)
            ab_log_error("%s", err.msg);
        else
            ab_log_error("%s; nothing imported", err.msg);
        return ab_cli_exit_for(rc);
    }
    if (from_sqlite)
        snprintf(shown, sizeof shown, "%s:%s", path, table ? table : "query");
    else
        snprintf(shown, sizeof shown, "%s",
                 strcmp(path, "-") == 0 ? "<stdin>" : path);
    ab_import_describe(&r, how, sizeof how);
    if (ab_log_verbosity() >= 0)
        fprintf(stderr,
                "import: %s: %lld new, %lld updated, %lld "
                "unchanged, %lld rejected%s%s\n",
                shown, (long long)r.new_rows, (long long)r.updated,
                (long long)r.unchanged, (long long)r.rejected,
                how[0] ? "; " : "", how);
    return r.rejected > 0 ? AB_EXIT_DATAERR : AB_EXIT_OK;
}
