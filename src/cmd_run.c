/* cmd_run.c - `authbatch run` and `authbatch track`: options, credentials,
 * the run lock, then the dispatcher; progress, metrics and pings around it;
 * the exit status. `track` is a run whose work is status polls only (SPEC
 * §6); `run --track` does both kinds in one loop, tickets first. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cmd.h"
#include "creds.h"
#include "dispatch.h"
#include "engine.h"
#include "import.h"
#include "lock.h"
#include "log.h"
#include "metrics.h"
#include "ping.h"
#include "progress.h"
#include "store.h"
#include "store_funnel.h"
#include "store_queue.h"
#include "store_report.h"
#include "store_track.h"
#include "validate.h"

#define HOST_TEST "https://openapi.qiyuesuo.cn"
#define HOST_PROD "https://openapi.qiyuesuo.com"
#define METRICS_EVERY_MS 5000
#define FDS_BESIDES_SOCKETS 64 /* database, WAL, logs, metrics, resolver... */

struct run_cfg {
    struct ab_dispatch_opts d;
    int track_cmd;         /* `track` rather than `run` */
    int now;               /* track --now */
    int64_t reissue_after; /* run --reissue-after, ms (0: off) */
    const char *csv;
    struct ab_import_opts csv_opts; /* --encoding, --delimiter */
    const char *credentials;
    const char *metrics_file;
    const char *ping_url;
    enum ab_progress_mode progress;
    int dry_run;
    int allow_http;
    char base_url[2048];
    char callback_base[512];
};

struct tick_ctx {
    struct ab_store *s;
    struct ab_progress *progress;
    const char *metrics_file;
    int64_t last_metrics_ms;
    int64_t last_success_ms;
};

static void usage_track(FILE *f)
{
    fprintf(
        f,
        "usage: authbatch [--db PATH] track [options]\n\n"
        "Asks the vendor (GET /companyauth/result, by company name) how far "
        "each\ncompany with a ticket has got, when its check is due, and "
        "records the answer:\nauth_status not_started, in_progress, "
        "authenticated, rejected (with the\nreason) or expired; every answer "
        "is kept in auth_events.\n\n"
        "The schedule: a ticket's first check is due --first-check after "
        "it was\nissued (default 2m); each answered check doubles the wait, "
        "up to --max-check\n(default 24h): 2m, 4m, 8m, ... 17h04m, 24h, "
        "24h, ... A company that is\nauthenticated, rejected or expired is "
        "no longer polled; a new ticket starts\nover. The run ends when "
        "nothing is due (checks due later are left to a later\nrun: run it "
        "from cron, or use 'run --track').\n\n"
        "  --now                 check every tracked company now, whatever "
        "its schedule\n"
        "  --first-check DUR     ticket to first check (default 2m; 0 = at "
        "once)\n"
        "  --max-check DUR       longest wait between two checks (default "
        "24h)\n"
        "  --limit N             companies at most\n\n"
        "Everything else is as for 'run' (see 'run --help'): --base-url, "
        "--env,\n--cacert, --credentials, --concurrency, --rate, --burst, "
        "--timeout,\n--max-attempts, --retry-base-ms, --retry-max-ms, "
        "--retry-codes, --fatal-codes,\n--max-runtime, --dry-run, "
        "--progress, --metrics-file, --ping-url, --allow-http.\n"
        "A poll that keeps failing is given up after --max-attempts; its "
        "next check\nis at its usual time.\n\n"
        "Exit status: 0 nothing due is left, 1 some polls were given up, 64 "
        "usage,\n69 API unreachable, 74 database, 75 stopped with checks "
        "due or locked by\nanother run, 77 credentials or account refused, "
        "78 config.\n");
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: authbatch [--db PATH] run [options]\n\n"
        "Requests a ticket for every due company (pending, retry_wait that\n"
        "is due, in_flight left by a run that died) and records the result.\n\n"
        "Where:\n"
        "  --base-url URL        API base (default $QYS_BASE_URL or the test "
        "host)\n"
        "  --allow-http          accept a plain http:// base URL that is not "
        "loopback\n"
        "  --env test|prod       %s or %s\n"
        "  --cacert FILE         trust this CA bundle (TLS is always "
        "verified)\n"
        "  --credentials FILE    access_token= / access_secret= lines, mode "
        "0600;\n"
        "                        default: $QYS_ACCESS_TOKEN, "
        "$QYS_ACCESS_SECRET\n"
        "  --csv FILE            import FILE first (see 'import --help'),\n"
        "  --encoding E, --delimiter D  read it so (as import does)\n"
        "  --callback-base URL   give each company without a callbackUrl\n"
        "                        URL/<id>/<token> (see 'callbacks --help')\n"
        "  --track               also poll the status of tickets that are "
        "due (see\n"
        "                        'track --help'); tickets come first\n"
        "  --first-check DUR     with --track: ticket to first check "
        "(default 2m)\n"
        "  --max-check DUR       with --track: longest wait between checks "
        "(24h)\n"
        "  --reissue-after DUR   first put back to pending the tickets older "
        "than DUR\n"
        "                        that are unused (auth_status NULL or "
        "not_started)\n\n"
        "How fast:\n"
        "  --concurrency N       requests in flight (default 8)\n"
        "  --rate R              requests per second, 0 = unlimited (default "
        "10)\n"
        "  --burst B             requests allowed at once (default 1)\n"
        "  --workers N           network threads beside the run's own loop\n"
        "                        (default 2 with two or more CPUs, else 0:\n"
        "                        all on one loop)\n"
        "  --timeout S           seconds per attempt (default 30; connect 15)\n"
        "  --lease DUR           PostgreSQL: how long a claim holds if this "
        "run\n"
        "                        cannot renew it (default 2 x --timeout + "
        "10s)\n"
        "\nRetries:\n"
        "  --max-attempts N      attempts per company (default 5)\n"
        "  --retry-base-ms MS    first backoff ceiling (default 500)\n"
        "  --retry-max-ms MS     backoff cap (default 60000)\n"
        "  --retry-codes LIST    more vendor codes to retry (e.g. 1003,1004)\n"
        "  --fatal-codes LIST    more vendor codes that stop the run\n\n"
        "How much:\n"
        "  --limit N             companies at most\n"
        "  --max-runtime DUR     stop sending after DUR (e.g. 50m, 1h30m)\n"
        "  --dry-run             print the requests (secrets redacted); "
        "send\n"
        "                        nothing, change nothing\n\n"
        "Watching:\n"
        "  --progress MODE       auto|bar|log|none (default auto)\n"
        "  --metrics-file FILE   Prometheus text file, rewritten atomically\n"
        "  --ping-url URL        healthchecks-style /start, success, /FAIL "
        "pings\n\n"
        "Exit status: 0 all done, 1 some companies failed, 64 usage, 65 bad "
        "--csv rows,\n66 --csv unreadable, 69 API unreachable, 74 database, "
        "75 stopped with work\nleft or locked by another run, 77 "
        "credentials or account refused, 78 config.\n",
        HOST_TEST, HOST_PROD);
}

static int bad(const struct run_cfg *c, const char *opt, const char *v)
{
    ab_log_error("%s: invalid value '%s' for %s",
                 c->track_cmd ? "track" : "run", v, opt);
    return AB_EXIT_USAGE;
}

/* The host of "host[:port][/...]" is this machine's loopback. */
static int loopback(const char *hostport)
{
    size_t n = strcspn(hostport, "/?#");
    char host[256];
    const char *colon;

    if (n >= sizeof host)
        return 0;
    memcpy(host, hostport, n);
    host[n] = '\0';
    if (host[0] == '[')
        return strncmp(host, "[::1]", 5) == 0;
    if ((colon = strchr(host, ':')))
        host[colon - host] = '\0';
    return strcasecmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0;
}

/* The receiver's public address: the vendor appends nothing, so it is
 * stored without a trailing slash; room is left for "/<id>/<token>" within
 * the 500 characters a callbackUrl may have. */
static int set_callback_base(struct run_cfg *c, const char *v)
{
    size_t n = strlen(v);

    while (n > 0 && v[n - 1] == '/')
        n--;
    if ((strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0) ||
        n > 440 || strcspn(v, " \t\r\n\"<>") < n)
        return -1;
    memcpy(c->callback_base, v, n);
    c->callback_base[n] = '\0';
    c->d.callback_base = c->callback_base;
    if (strncmp(v, "http://", 7) == 0 && !loopback(v + 7))
        ab_log_warn("run: --callback-base '%s' is plain http: the tokens in "
                    "the callback URLs would cross the network in clear; "
                    "terminate TLS in front of the receiver",
                    c->callback_base);
    return 0;
}

static int parse(int argc, char **argv, struct run_cfg *c)
{
    enum {
        O_BASE = 256,
        O_ENV,
        O_CACERT,
        O_CREDS,
        O_CSV,
        O_CONC,
        O_RATE,
        O_BURST,
        O_TIMEOUT,
        O_MAXATT,
        O_RBASE,
        O_RMAX,
        O_RCODES,
        O_FCODES,
        O_LIMIT,
        O_MAXRT,
        O_DRY,
        O_PROGRESS,
        O_METRICS,
        O_PING,
        O_HTTP,
        O_CBBASE,
        O_WORKERS,
        O_TRACK,
        O_NOW,
        O_FIRST,
        O_MAXCHECK,
        O_REISSUE,
        O_CSVENC,
        O_CSVSEP,
        O_LEASE,
    };
    static const struct option opts[] = {
        {"base-url", required_argument, NULL, O_BASE},
        {"env", required_argument, NULL, O_ENV},
        {"cacert", required_argument, NULL, O_CACERT},
        {"credentials", required_argument, NULL, O_CREDS},
        {"csv", required_argument, NULL, O_CSV},
        {"encoding", required_argument, NULL, O_CSVENC},
        {"delimiter", required_argument, NULL, O_CSVSEP},
        {"concurrency", required_argument, NULL, O_CONC},
        {"rate", required_argument, NULL, O_RATE},
        {"burst", required_argument, NULL, O_BURST},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"lease", required_argument, NULL, O_LEASE},
        {"max-attempts", required_argument, NULL, O_MAXATT},
        {"retry-base-ms", required_argument, NULL, O_RBASE},
        {"retry-max-ms", required_argument, NULL, O_RMAX},
        {"retry-codes", required_argument, NULL, O_RCODES},
        {"fatal-codes", required_argument, NULL, O_FCODES},
        {"limit", required_argument, NULL, O_LIMIT},
        {"max-runtime", required_argument, NULL, O_MAXRT},
        {"dry-run", no_argument, NULL, O_DRY},
        {"progress", required_argument, NULL, O_PROGRESS},
        {"metrics-file", required_argument, NULL, O_METRICS},
        {"ping-url", required_argument, NULL, O_PING},
        {"allow-http", no_argument, NULL, O_HTTP},
        {"callback-base", required_argument, NULL, O_CBBASE},
        {"workers", required_argument, NULL, O_WORKERS},
        {"track", no_argument, NULL, O_TRACK},
        {"now", no_argument, NULL, O_NOW},
        {"first-check", required_argument, NULL, O_FIRST},
        {"max-check", required_argument, NULL, O_MAXCHECK},
        {"reissue-after", required_argument, NULL, O_REISSUE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *base = getenv("QYS_BASE_URL");
    long long n;
    double r;
    char *end;
    int ch;

    if (!base || !*base)
        base = HOST_TEST;
    c->d.concurrency = 8;
    /* Two network threads beside the run's loop when there is a second CPU
     * (BENCHMARKS.md, "Issue 12, phase 2": on two CPUs, 14,235 req/s against
     * 10,753 with one): the loop keeps the database and the policy, the
     * threads do curl's and the kernel's work. */
    c->d.workers = sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 2 : 0;
    c->d.rate = 10;
    c->d.burst = 1;
    c->d.timeout_ms = 30000;
    c->d.connect_timeout_ms = 15000;
    c->d.retry.max_attempts = 5;
    c->d.retry.base_ms = 500;
    c->d.retry.max_ms = 60000;
    c->progress = AB_PROGRESS_AUTO;
    ab_tracksched_defaults(&c->d.sched);
    c->d.command = c->track_cmd ? "track" : "run";
    c->d.track = c->d.no_tickets = c->track_cmd;

    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case O_BASE:
            base = optarg;
            break;
        case O_ENV:
            if (strcmp(optarg, "test") == 0)
                base = HOST_TEST;
            else if (strcmp(optarg, "prod") == 0)
                base = HOST_PROD;
            else
                return bad(c, "--env", optarg);
            break;
        case O_CACERT:
            c->d.cacert = optarg;
            break;
        case O_CREDS:
            c->credentials = optarg;
            break;
        case O_CSV:
            c->csv = optarg;
            break;
        case O_CSVENC:
            if (ab_charset_parse(optarg, &c->csv_opts.encoding) != 0)
                return bad(c, "--encoding (auto, utf-8, gb18030, utf-16)",
                           optarg);
            break;
        case O_CSVSEP:
            if (ab_import_parse_delimiter(optarg, &c->csv_opts.delimiter) != 0)
                return bad(c, "--delimiter (auto, ',', ';', tab)", optarg);
            break;
        case O_WORKERS:
            if ((n = ab_cli_parse_count(optarg)) < 0 ||
                n > AB_ENGINE_MAX_THREADS)
                return bad(c, "--workers (0-16)", optarg);
            c->d.workers = (int)n;
            break;
        case O_CONC:
            if ((n = ab_cli_parse_count(optarg)) < 1 || n > 4096)
                return bad(c, "--concurrency (1-4096)", optarg);
            c->d.concurrency = (int)n;
            break;
        case O_RATE:
            r = strtod(optarg, &end);
            /* 0 is "no ceiling"; below 0.001/s an interval overflows. */
            if (end == optarg || *end || !(r >= 0) || r > 1e6 ||
                (r > 0 && r < 0.001))
                return bad(c, "--rate (0, or 0.001 to 1000000)", optarg);
            c->d.rate = r;
            break;
        case O_BURST:
            if ((n = ab_cli_parse_count(optarg)) < 1 || n > 100000)
                return bad(c, "--burst", optarg);
            c->d.burst = (int)n;
            break;
        case O_TIMEOUT:
            r = strtod(optarg, &end);
            /* Under a millisecond would read as "no timeout" to curl. */
            if (end == optarg || *end || !(r >= 0.001) || r > 3600)
                return bad(c, "--timeout (0.001 to 3600 s)", optarg);
            c->d.timeout_ms = (long)(r * 1000);
            break;
        case O_MAXATT:
            if ((n = ab_cli_parse_count(optarg)) < 1 || n > 1000)
                return bad(c, "--max-attempts", optarg);
            c->d.retry.max_attempts = (int)n;
            break;
        case O_RBASE:
            if ((n = ab_cli_parse_count(optarg)) < 0 || n > 86400000)
                return bad(c, "--retry-base-ms", optarg);
            c->d.retry.base_ms = n;
            break;
        case O_RMAX:
            if ((n = ab_cli_parse_count(optarg)) < 0 || n > 86400000)
                return bad(c, "--retry-max-ms", optarg);
            c->d.retry.max_ms = n;
            break;
        case O_RCODES:
            if (ab_api_parse_codes(optarg, c->d.codes.retry,
                                   &c->d.codes.nretry) != 0)
                return bad(c, "--retry-codes", optarg);
            break;
        case O_FCODES:
            if (ab_api_parse_codes(optarg, c->d.codes.fatal,
                                   &c->d.codes.nfatal) != 0)
                return bad(c, "--fatal-codes", optarg);
            break;
        case O_LIMIT:
            if ((n = ab_cli_parse_count(optarg)) < 1)
                return bad(c, "--limit", optarg);
            c->d.limit = n;
            break;
        case O_MAXRT:
            if ((n = ab_cli_parse_duration(optarg)) < 1)
                return bad(c, "--max-runtime", optarg);
            c->d.max_runtime_ms = n * 1000;
            break;
        case O_LEASE:
            if ((n = ab_cli_parse_duration(optarg)) < 1)
                return bad(c, "--lease", optarg);
            c->d.lease_ms = n * 1000;
            break;
        case O_DRY:
            c->dry_run = 1;
            break;
        case O_PROGRESS:
            if (ab_progress_parse_mode(optarg, &c->progress) != 0)
                return bad(c, "--progress", optarg);
            break;
        case O_METRICS:
            c->metrics_file = optarg;
            break;
        case O_PING:
            c->ping_url = optarg;
            break;
        case O_HTTP:
            c->allow_http = 1;
            break;
        case O_CBBASE:
            if (set_callback_base(c, optarg) != 0)
                return bad(c,
                           "--callback-base (http:// or https://, at most "
                           "440 characters)",
                           optarg);
            break;
        case O_TRACK:
            c->d.track = 1;
            break;
        case O_NOW:
            c->now = 1;
            break;
        case O_FIRST:
            if ((n = ab_cli_parse_duration(optarg)) < 0 || n > 30 * 86400)
                return bad(c, "--first-check", optarg);
            c->d.sched.first_ms = n * 1000;
            break;
        case O_MAXCHECK:
            if ((n = ab_cli_parse_duration(optarg)) < 1 || n > 30 * 86400)
                return bad(c, "--max-check", optarg);
            c->d.sched.max_ms = n * 1000;
            break;
        case O_REISSUE:
            if ((n = ab_cli_parse_duration(optarg)) < 1)
                return bad(c, "--reissue-after", optarg);
            c->reissue_after = n * 1000;
            break;
        case 'h':
            if (c->track_cmd)
                usage_track(stdout);
            else
                usage(stdout);
            return -1;
        default:
            if (c->track_cmd)
                usage_track(stderr);
            else
                usage(stderr);
            return AB_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        ab_log_error("%s: unexpected argument '%s'", c->d.command,
                     argv[optind]);
        return AB_EXIT_USAGE;
    }
    if (c->track_cmd && (c->csv || c->d.callback_base || c->reissue_after)) {
        ab_log_error("track: --csv, --callback-base and --reissue-after "
                     "belong to 'run' (track requests no tickets)");
        return AB_EXIT_USAGE;
    }
    if (!c->track_cmd && c->now) {
        ab_log_error("run: --now belongs to 'track'");
        return AB_EXIT_USAGE;
    }
    if (c->d.sched.max_ms < c->d.sched.first_ms) {
        ab_log_error("%s: --max-check is shorter than --first-check",
                     c->d.command);
        return AB_EXIT_USAGE;
    }
    if (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0)
        return bad(c, "--base-url (http:// or https://)", base);
    if (snprintf(c->base_url, sizeof c->base_url, "%s", base) >=
        (int)sizeof c->base_url)
        return bad(c, "--base-url", "(too long)");
    n = (long long)strlen(c->base_url);
    while (n > 0 && c->base_url[n - 1] == '/')
        c->base_url[--n] = '\0';
    c->d.base_url = c->base_url;
    if (strncmp(c->base_url, "http://", 7) == 0 && !c->allow_http &&
        !loopback(c->base_url + 7)) {
        ab_log_error("run: '%s' is plain http: the App Token would cross the "
                     "network in clear; use https:// (or --allow-http if "
                     "you must)",
                     c->base_url);
        return AB_EXIT_USAGE;
    }
    if (!c->d.lease_ms)
        c->d.lease_ms = 2 * (int64_t)c->d.timeout_ms + 10000;
    if (c->d.lease_ms < (int64_t)c->d.timeout_ms + 2000) {
        ab_log_error("run: --lease must be at least --timeout + 2s: a run "
                     "sends only while its lease covers the whole timeout");
        return AB_EXIT_USAGE;
    }
    if (c->dry_run && c->csv) {
        ab_log_error("run: --dry-run changes nothing, so it cannot --csv; "
                     "import first");
        return AB_EXIT_USAGE;
    }
    return 0;
}

static char *options_json(const struct run_cfg *c)
{
    json_t *o = json_pack(
        "{s:s, s:i, s:f, s:i, s:i, s:I, s:I, s:I, s:I, "
        "s:I, s:s?, s:b, s:b, s:I, s:I, s:I}",
        "base_url", c->d.base_url, "concurrency", c->d.concurrency, "rate",
        c->d.rate, "burst", c->d.burst, "max_attempts", c->d.retry.max_attempts,
        "retry_base_ms", (json_int_t)c->d.retry.base_ms, "retry_max_ms",
        (json_int_t)c->d.retry.max_ms, "timeout_ms",
        (json_int_t)c->d.timeout_ms, "limit", (json_int_t)c->d.limit,
        "max_runtime_ms", (json_int_t)c->d.max_runtime_ms, "callback_base",
        c->d.callback_base, "track", c->d.track, "now", c->now,
        "first_check_ms", (json_int_t)c->d.sched.first_ms, "max_check_ms",
        (json_int_t)c->d.sched.max_ms, "reissue_after_ms",
        (json_int_t)c->reissue_after);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

/* --dry-run: one block per request that would go out. */
struct dry {
    const struct run_cfg *c;
    int64_t n, unsendable;
};

static int print_dry(void *ctx, struct ab_company *co)
{
    struct dry *d = ctx;
    struct ab_headers h = {0};
    char why[AB_VALIDATE_REASON_MAX];
    char *body;
    int i;

    /* As the run would: a row that fails the import's rules is not sent;
     * the rest get their callback URL, its token redacted. */
    if (ab_validate_claimed(co, why, sizeof why) != 0) {
        printf("# company #%lld would not be sent: %s\n\n", (long long)co->id,
               why);
        d->unsendable++;
        return 0;
    }
    if (d->c->d.callback_base && !co->callback_url) {
        size_t n = strlen(d->c->d.callback_base) + 48;
        if ((co->callback_url = malloc(n)))
            snprintf(co->callback_url, n, "%s/%lld/<token>",
                     d->c->d.callback_base, (long long)co->id);
    }
    body = ab_api_body(co);

    ab_api_redacted_headers(ab_now_ms(), &h);
    printf("POST %s%s\n", d->c->d.base_url, AB_API_PATH);
    for (i = 0; i < h.n; i++)
        printf("%s\n", h.line[i]);
    printf("Content-Type: application/json;charset=UTF-8\n\n%s\n\n",
           body ? body : "");
    free(body);
    d->n++;
    return 0;
}

/* --dry-run of `track`: the polls due now (or all tracked, --now). */
static int dry_run_track(struct ab_store *s, const struct run_cfg *c)
{
    struct ab_work w[64];
    struct ab_headers h = {0};
    struct ab_err err = {0};
    int64_t at = INT64_MIN, id = INT64_MIN, total = 0;
    int64_t upto = c->now ? INT64_MAX : ab_now_ms();
    int n, i, k, rc;

    do {
        int max = 64;
        if (c->d.limit > 0 && c->d.limit - total < max)
            max = (int)(c->d.limit - total);
        if (max <= 0)
            break;
        if ((rc = ab_track_due(s, upto, &at, &id, max, w, &n, &err)) != 0) {
            ab_log_error("%s", err.msg);
            return ab_cli_exit_for(rc);
        }
        for (i = 0; i < n; i++) {
            char *url = ab_api_result_url(c->d.base_url, w[i].c.company_name);
            ab_api_redacted_headers(ab_now_ms(), &h);
            printf("GET %s\n", url ? url : "(out of memory)");
            for (k = 0; k < h.n; k++)
                printf("%s\n", h.line[k]);
            printf("\n");
            free(url);
            ab_company_release(&w[i].c);
        }
        total += n;
    } while (n > 0);
    ab_log_info("dry run: %lld status polls would be sent to %s; nothing "
                "was sent or changed",
                (long long)total, c->d.base_url);
    return AB_EXIT_OK;
}

static int dry_run(const struct ab_cli *cli, const struct run_cfg *c)
{
    struct ab_store *s;
    struct ab_err err = {0};
    struct dry d = {c, 0, 0};
    /* Before the database is open (lock.h). Rows in flight are another
     * run's work while it holds the lock, and due again otherwise. Runs
     * sharing a PostgreSQL database hold no lock: their rows are listed
     * once their leases ran out (store_queue.h). */
    int shared = ab_store_engine_of(cli->db_path) == AB_STORE_PG;
    int live = !shared && ab_lock_held(cli->db_path);
    int rc;

    if ((rc = ab_cli_open_store(cli, AB_STORE_READONLY, &s)) != 0)
        return rc;
    if (c->track_cmd) {
        rc = dry_run_track(s, c);
        ab_store_close(s);
        return rc;
    }
    if (live)
        ab_log_info("another run holds '%s': the companies it has in "
                    "flight are not listed",
                    cli->db_path);
    else if (shared)
        ab_log_info("companies other runs have in flight are listed only "
                    "once their leases ran out");
    rc = ab_queue_peek(s, ab_now_ms(), c->d.limit, !live, print_dry, &d, &err);
    ab_store_close(s);
    if (rc != 0) {
        ab_log_error("%s", err.msg);
        return ab_cli_exit_for(rc);
    }
    ab_log_info("dry run: %lld requests would be sent to %s (%lld companies "
                "would fail unsent); nothing was sent or changed",
                (long long)d.n, c->d.base_url, (long long)d.unsendable);
    return AB_EXIT_OK;
}

static void on_import_reject(void *ctx, const char *source, int64_t line,
                             const char *reason)
{
    (void)ctx;
    ab_log_error("%s:%lld: %s", source, (long long)line, reason);
}

static void on_import_warn(void *ctx, const char *source, const char *msg)
{
    (void)ctx;
    ab_log_warn("%s: %s", source, msg);
}

/* Imports --csv; returns 0 or an exit status; *rejected set. */
static int import_csv(struct ab_store *s, const char *path,
                      const struct ab_import_opts *opts, int64_t *rejected)
{
    struct ab_import_opts io = *opts;
    struct ab_import_result ir;
    char how[160];
    struct ab_err err = {0};
    int rc;

    io.on_reject = on_import_reject;
    io.on_warn = on_import_warn;
    rc = ab_import_file(s, path, &io, &ir, &err);
    *rejected = ir.rejected;
    if (rc != 0) {
        ab_log_error("%s", err.msg);
        return ab_cli_exit_for(rc);
    }
    ab_import_describe(&ir, how, sizeof how);
    ab_log_info("import: %s: %lld new, %lld updated, %lld unchanged, %lld "
                "rejected%s%s",
                path, (long long)ir.new_rows, (long long)ir.updated,
                (long long)ir.unchanged, (long long)ir.rejected,
                how[0] ? "; " : "", how);
    return 0;
}

static void write_metrics(struct tick_ctx *t, const struct ab_run_stats *st)
{
    struct ab_counts n;
    struct ab_funnel f;
    struct ab_err err = {0};

    if (ab_store_counts(t->s, &n, &err) != 0 ||
        ab_store_funnel(t->s, &f, &err) != 0 ||
        ab_metrics_write(t->metrics_file, st, &n, t->last_success_ms, &f,
                         &err) != 0)
        ab_log_warn("metrics: %s", err.msg);
}

static void on_tick(void *ctx, const struct ab_run_stats *st)
{
    struct tick_ctx *t = ctx;

    ab_progress_update(t->progress, st);
    if (t->metrics_file &&
        st->now_ms - t->last_metrics_ms >= METRICS_EVERY_MS) {
        t->last_metrics_ms = st->now_ms;
        write_metrics(t, st);
    }
}

/* Room for --concurrency sockets besides the files a run keeps open: the
 * soft limit is raised towards the hard one; what still does not fit is a
 * configuration error, not an unreachable API. */
static int fit_descriptors(int concurrency)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)concurrency + FDS_BESIDES_SOCKETS;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return 0;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need
                      ? need
                      : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= need)
        return 0;
    ab_log_error("run: --concurrency %d needs about %llu open files, and "
                 "this process may have %llu (ulimit -n): lower "
                 "--concurrency or raise the limit",
                 concurrency, (unsigned long long)need,
                 (unsigned long long)rl.rlim_max);
    return AB_EXIT_CONFIG;
}

/* What --dry-run checks as a real run would, with the same statuses. */
static int check_config(const struct run_cfg *c, struct ab_creds *creds)
{
    struct ab_err err = {0};

    if (ab_creds_load(creds, c->credentials, &err) != 0) {
        ab_log_error("%s", err.msg);
        return AB_EXIT_CONFIG;
    }
    if (c->d.cacert && access(c->d.cacert, R_OK) != 0) {
        ab_log_error("run: cannot read CA file '%s': %s", c->d.cacert,
                     strerror(errno));
        ab_creds_release(creds);
        return AB_EXIT_NOINPUT;
    }
    return 0;
}

static void summary(const struct run_cfg *c, const struct ab_run_stats *st,
                    const struct ab_counts *n, int64_t polls_left, int status)
{
    double secs = (double)(st->now_ms - st->started_ms) / 1000.0;
    if (c->d.track)
        ab_log_info("%s: %lld polled, %lld polls given up; %lld status "
                    "requests (%lld throttled) in %.1f s, %.1f/s; %lld checks "
                    "left that were due at the start%s",
                    c->d.command, (long long)st->polled,
                    (long long)st->polls_failed, (long long)st->polls,
                    (long long)st->poll_by_outcome[AB_OUT_THROTTLED], secs,
                    secs > 0 ? (double)st->polls / secs : 0.0,
                    (long long)polls_left, c->track_cmd ? "" : " (tracking)");
    if (c->track_cmd) {
        ab_log_info("track: exit %d", status);
        return;
    }
    ab_log_info("run: %lld done, %lld already authed, %lld failed; %lld "
                "requests (%lld retries, %lld throttled) in %.1f s, %.1f/s; "
                "%lld left; exit %d",
                (long long)st->done, (long long)st->already_authed,
                (long long)st->failed, (long long)st->attempts,
                (long long)st->retries,
                (long long)st->by_outcome[AB_OUT_THROTTLED], secs,
                secs > 0 ? (double)st->attempts / secs : 0.0,
                (long long)(n->pending + n->retry_wait + n->in_flight), status);
}

/* Before the dispatcher, holding the lock: --reissue-after, --now. */
static int prepare(struct ab_store *s, const struct run_cfg *c)
{
    struct ab_err err = {0};
    int64_t n;
    int rc;

    if (c->reissue_after > 0) {
        if ((rc = ab_track_reissue_unused(s, ab_now_ms() - c->reissue_after, &n,
                                          &err)) != 0) {
            ab_log_error("run: --reissue-after: %s", err.msg);
            return ab_cli_exit_for(rc);
        }
        ab_log_info("run: %lld unused tickets older than --reissue-after are "
                    "requested again",
                    (long long)n);
    }
    if (c->now) {
        if ((rc = ab_track_all_due(s, ab_now_ms(), &n, &err)) != 0) {
            ab_log_error("track: --now: %s", err.msg);
            return ab_cli_exit_for(rc);
        }
        ab_log_info("track: --now: %lld tracked companies brought forward",
                    (long long)n);
    }
    return 0;
}

static int run_main(const struct ab_cli *cli, int argc, char **argv,
                    int track_cmd)
{
    struct run_cfg c;
    struct ab_creds creds;
    struct ab_lock *lock = NULL;
    struct ab_store *s = NULL;
    struct ab_err err = {0};
    struct ab_run_stats st;
    struct ab_stopper stop;
    struct ab_counts n;
    struct tick_ctx t = {0};
    int64_t rejected = 0, polls_left = 0, next;
    char *opts = NULL;
    int rc, status, work_left;

    memset(&c, 0, sizeof c);
    c.track_cmd = track_cmd;
    if ((rc = parse(argc, argv, &c)) != 0)
        return rc < 0 ? AB_EXIT_OK : rc;
    if (c.metrics_file && ab_cli_is_db_file(cli, c.metrics_file)) {
        ab_log_error("%s: --metrics-file '%s' is the database (--db) or one "
                     "of its files: name another file",
                     c.d.command, c.metrics_file);
        return AB_EXIT_USAGE;
    }
    if ((status = check_config(&c, &creds)) != 0)
        return status;
    if (c.dry_run) {
        ab_creds_release(&creds);
        return dry_run(cli, &c);
    }
    if ((status = fit_descriptors(c.d.concurrency)) != 0)
        goto out_creds;
    signal(SIGPIPE, SIG_IGN);
    if (ab_store_engine_of(cli->db_path) == AB_STORE_PG) {
        /* Runs sharing a PostgreSQL database coordinate through it: no
         * lock (store_queue.h). */
        if ((rc = ab_store_open(cli->db_path, 0, &s, &err)) != 0) {
            ab_log_error("%s", err.msg);
            status = ab_cli_exit_for(rc == AB_EBUSY ? AB_EIO : rc);
            goto out_creds;
        }
    } else if ((rc = ab_lock_acquire(cli->db_path, &lock, &err)) != 0) {
        ab_log_error("%s", err.msg);
        status = rc == AB_EBUSY ? AB_EXIT_TEMPFAIL : AB_EXIT_IOERR;
        goto out_creds;
    }
    /* The file locked is the file used: opened by its resolved path, with
     * no symbolic link to follow. */
    if (lock && (rc = ab_store_open_as(ab_lock_db_path(lock), cli->db_path,
                                       AB_STORE_NOFOLLOW, &s, &err)) != 0) {
        ab_log_error("%s", err.msg);
        status = ab_cli_exit_for(rc == AB_EBUSY ? AB_EIO : rc);
        goto out_unlock;
    }
    if (c.csv && (status = import_csv(s, c.csv, &c.csv_opts, &rejected)) != 0)
        goto out_close;
    if ((status = prepare(s, &c)) != 0)
        goto out_close;
    if (c.ping_url)
        ab_ping(c.ping_url, "/start");

    c.d.creds = &creds;
    c.d.options_json = opts = options_json(&c);
    t.s = s;
    t.progress =
        ab_progress_new(cli->verbosity < 0 ? AB_PROGRESS_NONE : c.progress);
    t.metrics_file = c.metrics_file;
    ab_store_last_success_ms(s, &t.last_success_ms, NULL);
    c.d.on_tick = on_tick;
    c.d.tick_ctx = &t;

    rc = ab_dispatch_run(s, &c.d, &st, &stop, &err);
    ab_progress_finish(t.progress, &st);
    if (rc != 0) {
        ab_log_error("%s", err.msg);
        status = ab_cli_exit_for(rc);
        if (st.run_id > 0) {
            /* The run was registered before it failed to start: close
             * its row rather than leave it "unfinished". */
            struct ab_err uerr = {0};
            st.exit_status = status;
            if (ab_queue_run_update(s, &st, 1, &uerr) != 0)
                ab_log_warn("%s", uerr.msg);
        }
        goto out_progress;
    }
    if (stop.msg.msg[0])
        ab_log_error("%s", stop.msg.msg);
    if (ab_store_counts(s, &n, &err) != 0) {
        ab_log_error("%s", err.msg);
        memset(&n, 0, sizeof n);
        ab_stop_request(&stop, AB_STOP_DB, &err);
    }
    /* Polls the run set out to make and did not; checks that came due
     * during it are a later run's. */
    if (c.d.track &&
        ab_track_pending(s, st.started_ms, &polls_left, &next, &err) != 0) {
        ab_log_error("%s", err.msg);
        ab_stop_request(&stop, AB_STOP_DB, &err);
    }
    work_left = polls_left > 0;
    if (!c.d.no_tickets)
        work_left |= n.pending + n.retry_wait + n.in_flight > 0;
    status = ab_stop_exit_status(stop.why, work_left,
                                 st.failed > 0 || st.polls_failed > 0);
    if (status == AB_EXIT_OK && rejected > 0)
        status = AB_EXIT_DATAERR;
    st.exit_status = status;
    if (ab_queue_run_update(s, &st, 1, &err) != 0)
        ab_log_warn("%s", err.msg);
    if (status == AB_EXIT_OK)
        t.last_success_ms = ab_now_ms();
    if (c.metrics_file)
        write_metrics(&t, &st);
    if (cli->verbosity >= 0)
        summary(&c, &st, &n, polls_left, status);
    if (c.ping_url) {
        char suffix[16];
        snprintf(suffix, sizeof suffix, "/%d", status);
        ab_ping(c.ping_url, status == AB_EXIT_OK ? "" : suffix);
    }

out_progress:
    ab_progress_free(t.progress);
    free(opts);
out_close:
    ab_store_close(s);
out_unlock:
    ab_lock_release(lock); /* after the database is closed (lock.h) */
out_creds:
    ab_creds_release(&creds);
    return status;
}

int ab_cmd_run(const struct ab_cli *cli, int argc, char **argv)
{
    return run_main(cli, argc, argv, 0);
}

int ab_cmd_track(const struct ab_cli *cli, int argc, char **argv)
{
    return run_main(cli, argc, argv, 1);
}
