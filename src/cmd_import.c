#include "cmd.h"
#include "log.h"

int ab_cmd_import(const struct ab_cli *cli, int argc, char **argv)
{
    (void)cli;
    (void)argc;
    (void)argv;
    ab_log_error("import: not implemented yet");
    return AB_EXIT_SOFTWARE;
}
