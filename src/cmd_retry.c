#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "store.h"
#include "store_report.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: authbatch [--db PATH] retry [--status failed] "
               "[--code N]\n\n"
               "Puts companies that finished with an error (status failed) "
               "back to pending,\nwith their attempt count reset, so the "
               "next run asks again. Companies that\nare done or "
               "already_authed are never touched.\n\n"
               "  --status failed  the status to requeue (only 'failed' "
               "finishes with an error)\n"
               "  --code N         only those whose last vendor code is N\n");
}

/* A decimal integer, possibly negative (vendor codes are plain ints). */
static int parse_code(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return -1;
    v = strtoll(s, &end, 10);
    if (*end || end == s)
        return -1;
    *out = v;
    return 0;
}

int ab_cmd_retry(const struct ab_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"status", required_argument, NULL, 's'},
        {"code", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ab_store *s;
    struct ab_err err = {0};
    int64_t code = 0, changed = 0;
    int c, rc, has_code = 0;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (strcmp(optarg, "failed") != 0) {
                ab_log_error("retry: --status '%s' cannot be retried: only "
                             "'failed' companies finished with an error",
                             optarg);
                return AB_EXIT_USAGE;
            }
            break;
        case 'c':
            if (parse_code(optarg, &code) != 0) {
                ab_log_error("retry: --code wants an integer, not '%s'",
                             optarg);
                return AB_EXIT_USAGE;
            }
            has_code = 1;
            break;
        case 'h':
            usage(stdout);
            return AB_EXIT_OK;
        default:
            usage(stderr);
            return AB_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        ab_log_error("retry: unexpected argument '%s'", argv[optind]);
        return AB_EXIT_USAGE;
    }
    if ((rc = ab_cli_open_store(cli, 0, &s)) != 0)
        return rc;
    rc = ab_store_retry_failed(s, has_code ? &code : NULL, &changed, &err);
    ab_store_close(s);
    if (rc != 0) {
        ab_log_error("retry: %s", err.msg);
        return ab_cli_exit_for(rc); /* busy: 75, try again */
    }
    if (has_code)
        printf("%" PRId64 " failed compan%s with code %" PRId64
               " put back to pending\n",
               changed, changed == 1 ? "y" : "ies", code);
    else
        printf("%" PRId64 " failed compan%s put back to pending\n", changed,
               changed == 1 ? "y" : "ies");
    return AB_EXIT_OK;
}
