/* cli.h - the command line: global options, subcommands, exit statuses.
 *
 * ab_cli_main() parses `authbatch [--db PATH] [-q|-v] COMMAND [options]`,
 * runs the command and returns the process exit status (SPEC §5). Commands
 * return exit statuses too; only main() calls exit().
 */
#ifndef AB_CLI_H
#define AB_CLI_H

#include "err.h"

/* Exit statuses (sysexits), the product's public contract. */
enum {
    AB_EXIT_OK = 0,           /* nothing left to do, nothing failed */
    AB_EXIT_FAILED = 1,       /* run finished, some companies failed */
    AB_EXIT_USAGE = 64,       /* usage error */
    AB_EXIT_DATAERR = 65,     /* input data error (rejected rows) */
    AB_EXIT_NOINPUT = 66,     /* input file missing or unreadable */
    AB_EXIT_UNAVAILABLE = 69, /* API unreachable */
    AB_EXIT_SOFTWARE = 70,    /* internal error */
    AB_EXIT_IOERR = 74,       /* database I/O error */
    AB_EXIT_TEMPFAIL = 75,    /* locked, interrupted, or work remains */
    AB_EXIT_NOPERM = 77,      /* credentials or account rejected */
    AB_EXIT_CONFIG = 78,      /* configuration error */
};

/* What every command gets from the global options. */
struct ab_cli {
    const char *db_path; /* --db, AUTHBATCH_DB, or "authbatch.db" */
    char db_shown[512];  /* db_path as messages show it (no password) */
    int verbosity;       /* -1 quiet, 0 normal, 1 verbose */
    const char *prog;    /* "authbatch" */
};

int ab_cli_main(int argc, char **argv);

/* Maps an AB_E* code from opening or using the database to an exit status. */
int ab_cli_exit_for(int ab_code);

/* Opens the store named by cli; on failure logs the message and returns the
 * exit status to use (>0); returns 0 with *out set on success. */
struct ab_store;
int ab_cli_open_store(const struct ab_cli *cli, int flags,
                      struct ab_store **out);

/* Do a and b name the same file: the same spelling, the same file by device
 * and inode, or (when one does not exist yet) the same name once the
 * directory is resolved? */
int ab_cli_same_file(const char *a, const char *b);

/* Is path the SQLite database cli names, or one of its -wal, -shm,
 * -journal or .lock files (the same file, by device and inode)? An output
 * file (--rejects, report -o, --metrics-file) given such a name would
 * replace the database: the commands refuse it. Also true for the same
 * spelling of a file not created yet; 0 for PostgreSQL. */
int ab_cli_is_db_file(const struct ab_cli *cli, const char *path);

/* Parses a duration like "90", "90s", "50m", "2h", "1h30m"; returns seconds,
 * or -1 when malformed. */
long ab_cli_parse_duration(const char *s);

/* Parses a non-negative decimal integer (no sign, no junk); -1 if not. */
long long ab_cli_parse_count(const char *s);

#endif
