#include <getopt.h>
#include <stdio.h>

#include "cmd.h"
#include "log.h"
#include "store.h"

int ab_cmd_init(const struct ab_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ab_store *s;
    int c, rc;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("usage: authbatch [--db PATH] init\n\n"
                   "Creates the database, or upgrades it to the newest "
                   "schema (%d).\nOther commands do this implicitly.\n",
                   ab_store_schema_latest());
            return AB_EXIT_OK;
        }
        return AB_EXIT_USAGE;
    }
    if (optind < argc) {
        ab_log_error("init: unexpected argument '%s'", argv[optind]);
        return AB_EXIT_USAGE;
    }
    if ((rc = ab_cli_open_store(cli, 0, &s)) != 0)
        return rc;
    ab_log_info("database '%s' is at schema version %d", cli->db_shown,
                ab_store_schema_version(s));
    ab_store_close(s);
    return AB_EXIT_OK;
}
