/* cmd.h - the subcommands. Each parses its own options (argv[0] is the
 * command name) and returns an exit status from cli.h. */
#ifndef AB_CMD_H
#define AB_CMD_H

#include "cli.h"

int ab_cmd_init(const struct ab_cli *cli, int argc, char **argv);
int ab_cmd_import(const struct ab_cli *cli, int argc, char **argv);
int ab_cmd_run(const struct ab_cli *cli, int argc, char **argv);
int ab_cmd_track(const struct ab_cli *cli, int argc, char **argv);
int ab_cmd_status(const struct ab_cli *cli, int argc, char **argv);
int ab_cmd_report(const struct ab_cli *cli, int argc, char **argv);
int ab_cmd_retry(const struct ab_cli *cli, int argc, char **argv);
int ab_cmd_callbacks(const struct ab_cli *cli, int argc, char **argv);

#endif
