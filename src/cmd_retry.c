#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "store.h"
#include "store_report.h"
#include "store_track.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: authbatch [--db PATH] retry [--status failed] "
               "[--code N]\n"
               "       authbatch [--db PATH] retry --auth LIST\n\n"
               "Puts companies that finished with an error (status failed) "
               "back to pending,\nwith their attempt count reset, so the "
               "next run asks again. Companies that\nare done or "
               "already_authed are never touched.\n\n"
               "  --status failed  the status to requeue (only 'failed' "
               "finishes with an error)\n"
               "  --code N         only those whose last vendor code is N\n"
               "  --auth LIST      instead: re-issue the tickets of done "
               "companies whose\n"
               "                   auth_status is in LIST (rejected, expired, "
               "not_started;\n"
               "                   comma-separated): back to pending, "
               "attempts reset, the\n"
               "                   auth state and callback token cleared (the "
               "old ticket's\n"
               "                   callbacks then get 404); the next run "
               "requests new tickets\n");
}

/* "rejected,expired" -> a mask of enum ab_auth bits; -1 for a name that
 * is not a status, or one that must not be re-issued. */
static long parse_auth(const char *s)
{
    char buf[128], *tok, *save = NULL;
    unsigned mask = 0;
    enum ab_auth a;

    if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf ||
        strspn(s, ",") == strlen(s)) {
        ab_log_error("retry: --auth wants a list of statuses, not '%s'", s);
        return -1;
    }
    for (tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        a = ab_auth_lookup(tok);
        if (a != AB_AUTH_REJECTED && a != AB_AUTH_EXPIRED &&
            a != AB_AUTH_NOT_STARTED) {
            ab_log_error("retry: --auth '%s': only rejected, expired and "
                         "not_started tickets can be re-issued (an "
                         "authenticated company is finished; one in "
                         "progress is being authenticated now)",
                         tok);
            return -1;
        }
        mask |= 1u << a;
    }
    return mask ? (long)mask : -1;
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
        {"auth", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ab_store *s;
    struct ab_err err = {0};
    int64_t code = 0, changed = 0;
    int c, rc, has_code = 0, has_status = 0;
    long auth = 0;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (strcmp(optarg, "failed") != 0) {
                ab_log_error("retry: --status '%s' cannot be retried: only "
                             "'failed' companies finished with an error",
                             optarg);
                return AB_EXIT_USAGE;
            }
            has_status = 1;
            break;
        case 'a':
            if ((auth = parse_auth(optarg)) < 0)
                return AB_EXIT_USAGE;
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
    if (auth && (has_code || has_status)) {
        ab_log_error("retry: --auth re-issues tickets; it does not go with "
                     "--status or --code");
        return AB_EXIT_USAGE;
    }
    if ((rc = ab_cli_open_store(cli, 0, &s)) != 0)
        return rc;
    if (auth) {
        rc = ab_track_reissue_auth(s, (unsigned)auth, &changed, &err);
        ab_store_close(s);
        if (rc != 0) {
            ab_log_error("retry: %s", err.msg);
            return ab_cli_exit_for(rc);
        }
        printf("%" PRId64 " compan%s put back to pending for a new ticket\n",
               changed, changed == 1 ? "y" : "ies");
        return AB_EXIT_OK;
    }
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
