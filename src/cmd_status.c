#include <getopt.h>
#include <stdio.h>

#include "cmd.h"
#include "log.h"
#include "store.h"

static void print_text(const struct ab_counts *n)
{
    double pct = n->total ? 100.0 * (double)(n->done + n->already_authed) /
                                (double)n->total
                          : 0.0;
    printf("companies       %lld\n", (long long)n->total);
    printf("  pending       %lld\n", (long long)n->pending);
    printf("  in_flight     %lld\n", (long long)n->in_flight);
    printf("  retry_wait    %lld (%lld due)\n", (long long)n->retry_wait,
           (long long)n->due_retry);
    printf("  done          %lld\n", (long long)n->done);
    printf("  already_authed %lld\n", (long long)n->already_authed);
    printf("  failed        %lld\n", (long long)n->failed);
    printf("finished        %.1f%%\n", pct);
}

static void print_json(const struct ab_counts *n)
{
    printf("{\"total\":%lld,\"counts\":{\"pending\":%lld,\"in_flight\":%lld,"
           "\"retry_wait\":%lld,\"done\":%lld,\"already_authed\":%lld,"
           "\"failed\":%lld},\"due_retry\":%lld}\n",
           (long long)n->total, (long long)n->pending,
           (long long)n->in_flight, (long long)n->retry_wait,
           (long long)n->done, (long long)n->already_authed,
           (long long)n->failed, (long long)n->due_retry);
}

int ab_cmd_status(const struct ab_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ab_store *s;
    struct ab_counts n;
    struct ab_err err = {0};
    int c, rc, json = 0;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'h':
            printf("usage: authbatch [--db PATH] status [--json]\n\n"
                   "Counts companies by status.\n");
            return AB_EXIT_OK;
        default:
            return AB_EXIT_USAGE;
        }
    }
    if ((rc = ab_cli_open_store(cli, 0, &s)) != 0)
        return rc;
    rc = ab_store_counts(s, &n, &err);
    ab_store_close(s);
    if (rc != 0) {
        ab_log_error("%s", err.msg);
        return ab_cli_exit_for(rc);
    }
    if (json)
        print_json(&n);
    else
        print_text(&n);
    return AB_EXIT_OK;
}
