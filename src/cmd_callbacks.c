/* cmd_callbacks.c - `authbatch callbacks --listen HOST:PORT`: options, the
 * database (synchronous = FULL: an acknowledged callback is never sent
 * again), the receiver (callbacks.h), signals, metrics and the summary.
 * Takes no run lock: it works beside a running `run` on the same file. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "callbacks.h"
#include "cmd.h"
#include "log.h"
#include "store.h"
#include "store_auth.h"

#define TICK_MS 200
#define METRICS_EVERY_MS 5000
#define DRAIN_GRACE_MS 10000
#define FD_MARGIN 32 /* descriptors besides connections: db, wal, logs */

static void usage(FILE *f)
{
    fprintf(f, "usage: authbatch [--db PATH] callbacks --listen HOST:PORT "
               "[options]\n\n"
               "Receives the vendor's authentication callbacks: POST "
               ".../<id>/<token>, the\naddress `run --callback-base URL` gives "
               "each company. Each callback is stored\n(auth_events, "
               "companies.auth_status) before it is answered {\"code\":0}.\n"
               "Runs until SIGTERM or SIGINT, then finishes the requests in "
               "progress and\nexits 0. Put it behind a reverse proxy that "
               "terminates TLS (see README).\n\n"
               "  --listen HOST:PORT     address to listen on ([::1]:8080 for "
               "IPv6; port 0:\n"
               "                         any free port); prints 'listening on "
               "URL'\n"
               "  --max-connections N    connections open at once (default "
               "512)\n"
               "  --timeout S            seconds a request may take to "
               "arrive, and an idle\n"
               "                         connection may stay (default 10)\n"
               "  --metrics-file FILE    Prometheus text file, rewritten "
               "atomically every 5 s\n\n"
               "Exit status: 0 stopped by a signal, 64 usage, 74 database, 78 "
               "the address\ncannot be used.\n");
}

static int bad(const char *opt, const char *v)
{
    ab_log_error("callbacks: invalid value '%s' for %s", v, opt);
    return AB_EXIT_USAGE;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Enough descriptors for max connections, raising the soft limit up to the
 * hard one; returns the connection count that fits. */
static int fit_nofile(int max)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)max + FD_MARGIN;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return max;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want
                          ? want
                          : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < want) {
        int fit = rl.rlim_cur > FD_MARGIN * 2 ? (int)(rl.rlim_cur - FD_MARGIN)
                                              : FD_MARGIN;
        ab_log_warn("callbacks: the open files limit (%llu) allows %d "
                    "connections, not %d",
                    (unsigned long long)rl.rlim_cur, fit, max);
        return fit;
    }
    return max;
}

static void write_metrics(const char *path, struct ab_callbacks_stats *st)
{
    struct ab_err err = {0};
    static int warned;

    if (!path)
        return;
    if (ab_callbacks_metrics_write(path, st, &err) != 0 && !warned) {
        ab_log_warn("callbacks: metrics: %s", err.msg);
        warned = 1;
    }
}

/* Waits up to ms for SIGINT/SIGTERM; returns the signal or 0. */
static int wait_signal(const sigset_t *set, int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    int sig = sigtimedwait(set, NULL, &ts);
    return sig > 0 ? sig : 0;
}

static void summary(const struct ab_callbacks_stats *st)
{
    int64_t refused = 0;
    int i;

    for (i = AB_CBR_METHOD; i < AB_CBR__COUNT; i++)
        refused += st->requests[i];
    ab_log_info("callbacks: stopped: %" PRId64 " stored (%" PRId64
                " changed a status, %" PRId64 " kept as events, %" PRId64
                " repeats), %" PRId64 " refused (%" PRId64
                " could not be stored), %" PRId64 " connections cut",
                st->requests[AB_CBR_APPLIED] + st->requests[AB_CBR_RECORDED] +
                    st->requests[AB_CBR_DUPLICATE],
                st->requests[AB_CBR_APPLIED], st->requests[AB_CBR_RECORDED],
                st->requests[AB_CBR_DUPLICATE], refused,
                st->requests[AB_CBR_UNAVAILABLE], st->connections_cut);
}

int ab_cmd_callbacks(const struct ab_cli *cli, int argc, char **argv)
{
    enum { O_LISTEN = 256, O_MAXCONN, O_TIMEOUT, O_METRICS };
    static const struct option opts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"max-connections", required_argument, NULL, O_MAXCONN},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"metrics-file", required_argument, NULL, O_METRICS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ab_callbacks_opts o = {.max_connections = 512, .timeout_s = 10};
    struct ab_callbacks_stats st;
    struct ab_callbacks *cb = NULL;
    struct ab_store *s = NULL;
    struct ab_err err = {0};
    const char *listen = NULL, *metrics = NULL;
    char host[256];
    sigset_t sigs;
    int64_t next_metrics, deadline;
    long long n;
    int c, rc, sig;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
            listen = optarg;
            break;
        case O_MAXCONN:
            if ((n = ab_cli_parse_count(optarg)) < 1 || n > 65536)
                return bad("--max-connections (1-65536)", optarg);
            o.max_connections = (int)n;
            break;
        case O_TIMEOUT:
            if ((n = ab_cli_parse_count(optarg)) < 1 || n > 3600)
                return bad("--timeout (1-3600 seconds)", optarg);
            o.timeout_s = (int)n;
            break;
        case O_METRICS:
            metrics = optarg;
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
        ab_log_error("callbacks: unexpected argument '%s'", argv[optind]);
        return AB_EXIT_USAGE;
    }
    if (!listen) {
        ab_log_error("callbacks: --listen HOST:PORT is required");
        return AB_EXIT_USAGE;
    }
    if (ab_callbacks_parse_listen(listen, host, sizeof host, &o.port) != 0)
        return bad("--listen (HOST:PORT, [IPv6]:PORT)", listen);
    o.host = host;
    if (metrics && ab_cli_is_db_file(cli, metrics)) {
        ab_log_error("callbacks: --metrics-file '%s' is the database (--db) "
                     "or one of its files: name another file",
                     metrics);
        return AB_EXIT_USAGE;
    }

    if ((rc = ab_cli_open_store(cli, 0, &s)) != 0)
        return rc;
    if ((rc = ab_store_durable(s, &err)) != 0) {
        ab_log_error("callbacks: %s", err.msg);
        ab_store_close(s);
        return ab_cli_exit_for(rc);
    }
    o.store = s;
    o.max_connections = fit_nofile(o.max_connections);

    /* The threads inherit the mask: signals are taken here, in order. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    if ((rc = ab_callbacks_start(&o, &cb, &err)) != 0) {
        ab_log_error("callbacks: %s", err.msg);
        ab_store_close(s);
        return ab_cli_exit_for(rc);
    }
    printf("listening on %s\n", ab_callbacks_url(cb));
    fflush(stdout);
    ab_log_info("callbacks: receiving on %s for '%s' (at most %d "
                "connections, %d s per request)",
                ab_callbacks_url(cb), cli->db_shown, o.max_connections,
                o.timeout_s);
    ab_callbacks_stats(cb, &st);
    write_metrics(metrics, &st);

    next_metrics = mono_ms() + METRICS_EVERY_MS;
    while (!(sig = wait_signal(&sigs, TICK_MS))) {
        ab_callbacks_tick(cb);
        if (mono_ms() >= next_metrics) {
            ab_callbacks_stats(cb, &st);
            write_metrics(metrics, &st);
            next_metrics = mono_ms() + METRICS_EVERY_MS;
        }
    }

    /* Drain: no new connections; requests in progress finish (the writer
     * answers each); a second signal stops waiting. */
    ab_log_info("callbacks: %s: no new connections, finishing %d request%s "
                "in progress",
                sig == SIGINT ? "interrupted" : "terminated",
                ab_callbacks_active(cb),
                ab_callbacks_active(cb) == 1 ? "" : "s");
    ab_callbacks_quiesce(cb);
    deadline = mono_ms() + DRAIN_GRACE_MS;
    while (ab_callbacks_active(cb) > 0 && mono_ms() < deadline) {
        if (wait_signal(&sigs, 20)) {
            ab_log_info("callbacks: second signal: stopping now");
            break;
        }
        ab_callbacks_tick(cb);
    }
    ab_callbacks_stop(cb);
    ab_callbacks_stats(cb, &st);
    ab_callbacks_free(cb);
    write_metrics(metrics, &st);
    ab_store_close(s);
    summary(&st);
    return AB_EXIT_OK;
}
