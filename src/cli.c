#include "cli.h"

#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "log.h"
#include "store.h"

static const struct {
    const char *name;
    int (*fn)(const struct ab_cli *, int, char **);
    const char *summary;
} commands[] = {
    {"init", ab_cmd_init, "create or upgrade the database"},
    {"import", ab_cmd_import,
     "read companies from a CSV file or another program's SQLite file"},
    {"run", ab_cmd_run, "request tickets for every due company"},
    {"track", ab_cmd_track, "poll how far each ticketed company has got"},
    {"status", ab_cmd_status, "counts by status, last run, progress"},
    {"report", ab_cmd_report, "per-company results and a summary"},
    {"retry", ab_cmd_retry, "put failed companies back to pending"},
    {"callbacks", ab_cmd_callbacks, "receive the vendor's callbacks"},
};

static void usage(FILE *f)
{
    size_t i;
    fprintf(f, "usage: authbatch [--db PATH] [-q|-v] COMMAND [options]\n"
               "       authbatch COMMAND --help\n"
               "       authbatch --version\n\n"
               "Issues Qiyuesuo company-authentication tickets in bulk.\n\n"
               "Commands:\n");
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nGlobal options:\n"
               "  --db PATH      database file (default $AUTHBATCH_DB or "
               "./authbatch.db)\n"
               "  -q, --quiet    errors only\n"
               "  -v, --verbose  debug messages too\n"
               "  -h, --help     this help\n"
               "  -V, --version  print the version\n\n"
               "Exit status: 0 done, 1 some companies failed, 64 usage, 65 bad "
               "input rows,\n66 input unreadable, 69 API unreachable, 74 "
               "database error, 75 try again\n(locked, interrupted, work "
               "remains), 77 credentials rejected, 78 configuration.\n");
}

int ab_cli_exit_for(int code)
{
    switch (code) {
    case 0:
        return AB_EXIT_OK;
    case AB_EINVAL:
        return AB_EXIT_USAGE;
    case AB_EDATA:
        return AB_EXIT_DATAERR;
    case AB_ENOENT:
        return AB_EXIT_NOINPUT;
    case AB_EBUSY:
        return AB_EXIT_TEMPFAIL;
    case AB_ECONFIG:
        return AB_EXIT_CONFIG;
    case AB_ENOMEM:
        return AB_EXIT_SOFTWARE;
    default:
        return AB_EXIT_IOERR;
    }
}

int ab_cli_open_store(const struct ab_cli *cli, int flags,
                      struct ab_store **out)
{
    struct ab_err err = {0};
    int rc = ab_store_open(cli->db_path, flags, out, &err);
    if (rc == 0)
        return 0;
    ab_log_error("%s", err.msg);
    /* A locked database at open time is an I/O problem for the user, not a
     * "try again later" from a concurrent run (that is the run lock). */
    return rc == AB_EBUSY ? AB_EXIT_IOERR : ab_cli_exit_for(rc);
}

/* path with its directory resolved (symbolic links, "." and ".."), the last
 * component as written: two spellings of a file that need not exist yet
 * compare equal. 0, or -1 when the directory cannot be resolved. */
static int canon_path(const char *path, char *out, size_t n)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    int len;

    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s",
                 (int)(slash == path ? 1 : slash - path), path);
    if (!realpath(dir, real))
        return -1;
    len = snprintf(out, n, "%s/%s", strcmp(real, "/") ? real : "", base);
    return len > 0 && (size_t)len < n ? 0 : -1;
}

int ab_cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    char ca[PATH_MAX + 16], cb[PATH_MAX + 16];

    if (strcmp(a, b) == 0)
        return 1;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    return canon_path(a, ca, sizeof ca) == 0 &&
           canon_path(b, cb, sizeof cb) == 0 && strcmp(ca, cb) == 0;
}

int ab_cli_is_db_file(const struct ab_cli *cli, const char *path)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal",
                                         ".lock"};
    char name[PATH_MAX + 16];
    size_t i;

    if (!path || !cli->db_path ||
        ab_store_engine_of(cli->db_path) != AB_STORE_SQLITE)
        return 0;
    for (i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        int n = snprintf(name, sizeof name, "%s%s", cli->db_path, suffix[i]);
        if (n > 0 && (size_t)n < sizeof name && ab_cli_same_file(name, path))
            return 1;
    }
    return 0;
}

long long ab_cli_parse_count(const char *s)
{
    long long v = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s) || v > (1LL << 50))
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

long ab_cli_parse_duration(const char *s)
{
    long total = 0, v = -1;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (isdigit((unsigned char)*s)) {
            if (v > 100000000)
                return -1;
            v = (v < 0 ? 0 : v * 10) + (*s - '0');
            continue;
        }
        if (v < 0)
            return -1;
        switch (*s) {
        case 's':
            total += v;
            break;
        case 'm':
            total += v * 60;
            break;
        case 'h':
            total += v * 3600;
            break;
        case 'd':
            total += v * 86400;
            break;
        default:
            return -1;
        }
        v = -1;
    }
    if (v >= 0)
        total += v;
    return total;
}

int ab_cli_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'}, {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},  {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},  {NULL, 0, NULL, 0},
    };
    struct ab_cli cli = {0};
    const char *env_db = getenv("AUTHBATCH_DB");
    size_t i;
    int c, db_in_argv = 0;

    cli.prog = "authbatch";
    cli.db_path = env_db && *env_db ? env_db : "authbatch.db";
    /* '+': stop at the first non-option, the command name. */
    while ((c = getopt_long(argc, argv, "+qvhV", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            cli.db_path = optarg;
            db_in_argv = 1;
            break;
        case 'q':
            cli.verbosity = -1;
            break;
        case 'v':
            cli.verbosity = 1;
            break;
        case 'h':
            usage(stdout);
            return AB_EXIT_OK;
        case 'V':
            printf("authbatch %s\n", AB_VERSION);
            return AB_EXIT_OK;
        default:
            usage(stderr);
            return AB_EXIT_USAGE;
        }
    }
    ab_log_set_verbosity(cli.verbosity);
    /* SQLite takes "" for a temporary database deleted at close: everything
     * imported or issued would vanish (a script's unset "$DB"). */
    if (!*cli.db_path) {
        ab_log_error("--db needs a file name or a PostgreSQL connection "
                     "string, not ''");
        return AB_EXIT_USAGE;
    }
    /* argv is visible to every user of the machine (ps). */
    if (db_in_argv && ab_store_spec_has_password(cli.db_path)) {
        ab_log_error("--db: a password on the command line is visible to "
                     "every user of this machine: give it in AUTHBATCH_DB, "
                     "~/.pgpass (PGPASSFILE) or a service file (PGSERVICE)");
        return AB_EXIT_USAGE;
    }
    ab_store_spec_shown(cli.db_path, cli.db_shown, sizeof cli.db_shown);
    if (optind >= argc) {
        usage(stderr);
        return AB_EXIT_USAGE;
    }
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[optind], commands[i].name) == 0) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 0; /* reset getopt for the command's own options */
            return commands[i].fn(&cli, sub_argc, sub_argv);
        }
    }
    ab_log_error("unknown command '%s' (see 'authbatch --help')", argv[optind]);
    return AB_EXIT_USAGE;
}
