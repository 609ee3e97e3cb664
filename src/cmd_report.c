#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "atomicfile.h"
#include "charset.h"
#include "cmd.h"
#include "i18n.h"
#include "log.h"
#include "report.h"
#include "store.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: authbatch [--db PATH] report [--format text|json|csv|html]"
            " [-o FILE]\n"
            "                 [--status S] [--with-tickets] [--lang zh-CN|en]\n"
            "                 [--bom | --encoding gb18030]\n\n"
            "Per-company results and a summary: counts per status, error "
            "codes with\ntheir messages and example companies, attempts and "
            "latency percentiles,\nthe run history.\n\n"
            "  -f, --format F    text (default), json, csv or html (one "
            "self-contained page)\n"
            "  -o, --output FILE write FILE (atomically) instead of stdout; "
            "mode 0600 with\n"
            "                    --with-tickets\n"
            "  -s, --status S    only companies with status S (pending, "
            "in_flight,\n"
            "                    retry_wait, done, already_authed, failed); "
            "the summary\n"
            "                    still covers every company\n"
            "      --with-tickets include the tickets (they are left out "
            "otherwise)\n"
            "      --lang L      text and html: zh-CN or en (default: zh-CN "
            "when LC_ALL,\n"
            "                    LC_MESSAGES or LANG starts with 'zh'); json "
            "and csv are\n"
            "                    machine formats, never translated\n"
            "      --bom         csv: start with a UTF-8 byte order mark, for "
            "Excel\n"
            "      --encoding E  csv: utf-8 (default) or gb18030, which Excel "
            "on Chinese\n"
            "                    Windows opens without asking\n"
            "      --max-rows N  html: at most N company rows (default %d)\n",
            AB_REPORT_HTML_MAX_ROWS);
}

int ab_cmd_report(const struct ab_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"status", required_argument, NULL, 's'},
        {"with-tickets", no_argument, NULL, 't'},
        {"bom", no_argument, NULL, 'b'},
        {"lang", required_argument, NULL, 'l'},
        {"encoding", required_argument, NULL, 'e'},
        {"max-rows", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ab_report_opts o = {0};
    struct ab_atomicfile *af = NULL;
    struct ab_store *s;
    struct ab_err err = {0};
    const char *output = NULL;
    long long n;
    int c, rc, lang_set = 0;

    while ((c = getopt_long(argc, argv, "f:o:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (ab_report_parse_format(optarg, &o.format) != 0) {
                ab_log_error("report: unknown format '%s' (text, json, csv, "
                             "html)",
                             optarg);
                return AB_EXIT_USAGE;
            }
            break;
        case 'o':
            output = optarg;
            break;
        case 's':
            if (!ab_report_valid_status(optarg)) {
                ab_log_error("report: unknown status '%s'", optarg);
                return AB_EXIT_USAGE;
            }
            o.status = optarg;
            break;
        case 't':
            o.with_tickets = 1;
            break;
        case 'b':
            o.bom = 1;
            break;
        case 'l':
            if (ab_i18n_parse(optarg, &o.lang) != 0) {
                ab_log_error("report: unknown language '%s' (zh-CN, en)",
                             optarg);
                return AB_EXIT_USAGE;
            }
            lang_set = 1;
            break;
        case 'e':
            if (ab_charset_parse(optarg, &o.encoding) != 0 ||
                (o.encoding != AB_CHARSET_UTF8 &&
                 o.encoding != AB_CHARSET_GB18030)) {
                ab_log_error("report: --encoding writes utf-8 or gb18030, "
                             "not '%s'",
                             optarg);
                return AB_EXIT_USAGE;
            }
            break;
        case 'm':
            if ((n = ab_cli_parse_count(optarg)) <= 0) {
                ab_log_error("report: --max-rows wants a positive number, "
                             "not '%s'",
                             optarg);
                return AB_EXIT_USAGE;
            }
            o.html_max_rows = n;
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
        ab_log_error("report: unexpected argument '%s'", argv[optind]);
        return AB_EXIT_USAGE;
    }
    if (!lang_set)
        o.lang = ab_i18n_from_env();
    if (o.bom && o.format != AB_REPORT_CSV)
        ab_log_warn("report: --bom only applies to --format csv");
    if (o.encoding == AB_CHARSET_GB18030 && o.format != AB_REPORT_CSV)
        ab_log_warn("report: --encoding only applies to --format csv (the "
                    "others are UTF-8)");
    if (o.bom && o.encoding == AB_CHARSET_GB18030) {
        ab_log_error("report: --bom is a UTF-8 mark; GB18030 files have none "
                     "that Excel reads");
        return AB_EXIT_USAGE;
    }
    if (output && strcmp(output, "-") == 0)
        output = NULL;
    if (output && ab_cli_is_db_file(cli, output)) {
        ab_log_error("report: -o '%s' is the database (--db) or one of its "
                     "files: name another file",
                     output);
        return AB_EXIT_USAGE;
    }

    if ((rc = ab_cli_open_store(cli, 0, &s)) != 0)
        return rc;
    if (output && (rc = ab_atomicfile_open(output, &af, &err)) != 0) {
        ab_store_close(s);
        ab_log_error("report: %s", err.msg);
        return AB_EXIT_IOERR; /* the output cannot be created */
    }
    if (af && o.with_tickets)
        ab_atomicfile_private(af); /* tickets: as private as the database */
    rc = ab_report_write(s, &o, af ? ab_atomicfile_stream(af) : stdout, &err);
    ab_store_close(s);
    if (rc != 0) {
        ab_atomicfile_abort(af);
        ab_log_error("report: %s", err.msg);
        return ab_cli_exit_for(rc == AB_EINVAL ? AB_EIO : rc);
    }
    if (af && (rc = ab_atomicfile_commit(af, &err)) != 0) {
        ab_log_error("report: %s", err.msg);
        return ab_cli_exit_for(rc);
    }
    return AB_EXIT_OK;
}
