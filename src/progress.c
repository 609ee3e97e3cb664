#include "progress.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

#define RING 32              /* rate samples, one a second at most */
#define RATE_WINDOW_MS 30000 /* the ETA's rate looks this far back */
#define BAR_MIN_GAP_MS 200   /* at most about 4 redraws a second */
#define LOG_EVERY_MS 10000

struct ab_progress {
    enum ab_progress_mode mode; /* resolved: BAR, LOG or NONE */
    FILE *out;
    int hooked;
    int visible; /* the bar's line is on the screen */
    int finished;
    char line[512];
    int64_t last_draw_ms;
    int64_t next_log_ms;
    struct {
        int64_t t, finished;
    } ring[RING];
    int nring, head;
};

int ab_progress_parse_mode(const char *s, enum ab_progress_mode *out)
{
    static const char *const names[] = {"auto", "bar", "log", "none"};
    size_t i;

    for (i = 0; s && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum ab_progress_mode)i;
            return 0;
        }
    }
    return AB_EINVAL;
}

static int is_terminal(FILE *out)
{
    const char *term = getenv("TERM");
    return isatty(fileno(out)) && !(term && strcmp(term, "dumb") == 0);
}

struct ab_progress *ab_progress_new_stream(enum ab_progress_mode mode,
                                           FILE *out)
{
    struct ab_progress *p = calloc(1, sizeof *p);

    if (!p)
        return NULL;
    if (mode == AB_PROGRESS_AUTO)
        mode = is_terminal(out) ? AB_PROGRESS_BAR : AB_PROGRESS_LOG;
    if (ab_log_verbosity() < 0)
        mode = AB_PROGRESS_NONE;
    p->mode = mode;
    p->out = out;
    p->next_log_ms = -1;
    return p;
}

struct ab_progress *ab_progress_new(enum ab_progress_mode mode)
{
    return ab_progress_new_stream(mode, stderr);
}

enum ab_progress_mode ab_progress_mode(const struct ab_progress *p)
{
    return p->mode;
}

void ab_progress_format_duration(char *buf, size_t n, double secs)
{
    long long s;

    if (secs < 0) {
        snprintf(buf, n, "?");
        return;
    }
    s = (long long)(secs + 0.5);
    if (s < 60)
        snprintf(buf, n, "%llds", s);
    else if (s < 3600)
        snprintf(buf, n, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, n, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, n, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

/* Tickets finished, and polls answered or given up (`track`). */
static int64_t finished_of(const struct ab_run_stats *st)
{
    return st->done + st->already_authed + st->failed + st->polled +
           st->polls_failed;
}

static double percent(const struct ab_run_stats *st)
{
    if (st->total <= 0)
        return 0.0;
    return 100.0 * (double)finished_of(st) / (double)st->total;
}

void ab_progress_format_bar(char *buf, size_t n, const struct ab_run_stats *st,
                            double eta_s, int columns)
{
    char stats[256], eta[32], bar[128];
    int64_t fin = finished_of(st);
    int len, width;

    if (n == 0)
        return;
    ab_progress_format_duration(eta, sizeof eta, eta_s);
    if (st->total > 0)
        len = snprintf(stats, sizeof stats,
                       " %lld/%lld %.1f%% | failed %lld | retrying %lld |"
                       " in flight %lld | %.1f/s | ETA %s",
                       (long long)fin, (long long)st->total, percent(st),
                       (long long)st->failed, (long long)st->waiting,
                       (long long)st->in_flight, st->rate_now, eta);
    else
        len = snprintf(stats, sizeof stats,
                       " %lld finished | failed %lld | retrying %lld |"
                       " in flight %lld | %.1f/s",
                       (long long)fin, (long long)st->failed,
                       (long long)st->waiting, (long long)st->in_flight,
                       st->rate_now);
    if (len < 0)
        len = 0;
    if (columns < 2)
        columns = 80;
    /* The bar gets what the figures leave, within reason; none if cramped
     * (a wrapped line could no longer be redrawn in place). */
    width = columns - 1 - len - 2;
    if (width > 40)
        width = 40;
    if (st->total > 0 && width >= 10) {
        int filled = (int)((double)width * (double)fin / (double)st->total);
        if (filled > width)
            filled = width;
        if (filled < 0)
            filled = 0;
        bar[0] = '[';
        memset(bar + 1, '#', (size_t)filled);
        memset(bar + 1 + filled, '-', (size_t)(width - filled));
        bar[width + 1] = ']';
        bar[width + 2] = '\0';
        snprintf(buf, n, "%s%s", bar, stats);
    } else {
        snprintf(buf, n, "%s", stats + 1);
    }
    if ((size_t)(columns - 1) < n)
        buf[columns - 1] = '\0';
}

void ab_progress_format_log(char *buf, size_t n, const struct ab_run_stats *st,
                            double eta_s)
{
    char eta[32], head[64], polls[80];

    ab_progress_format_duration(eta, sizeof eta, eta_s);
    if (st->total > 0)
        snprintf(head, sizeof head, "%lld/%lld finished (%.1f%%)",
                 (long long)finished_of(st), (long long)st->total, percent(st));
    else
        snprintf(head, sizeof head, "%lld finished",
                 (long long)finished_of(st));
    if (st->polls > 0)
        snprintf(polls, sizeof polls, " %lld polled, %lld polls given up;",
                 (long long)st->polled, (long long)st->polls_failed);
    else
        polls[0] = '\0';
    snprintf(buf, n,
             "progress: %s: %lld done, %lld already authed, %lld failed;%s"
             " %lld retrying, %lld in flight; %lld requests, %.1f/s;"
             " ETA %s",
             head, (long long)st->done, (long long)st->already_authed,
             (long long)st->failed, polls, (long long)st->waiting,
             (long long)st->in_flight, (long long)(st->attempts + st->polls),
             st->rate_now, st->total > 0 ? eta : "?");
}

static void sample(struct ab_progress *p, const struct ab_run_stats *st)
{
    int last = (p->head + RING - 1) % RING;

    if (p->nring > 0 && st->now_ms - p->ring[last].t < 1000)
        return;
    p->ring[p->head].t = st->now_ms;
    p->ring[p->head].finished = finished_of(st);
    p->head = (p->head + 1) % RING;
    if (p->nring < RING)
        p->nring++;
}

static double eta_of(const struct ab_progress *p, const struct ab_run_stats *st)
{
    int64_t remaining = st->total - finished_of(st);
    double rate = 0.0;
    int i;

    if (st->total <= 0)
        return -1.0;
    if (remaining <= 0)
        return 0.0;
    /* The oldest sample inside the window. */
    for (i = p->nring; i > 0; i--) {
        int k = (p->head + RING - i) % RING;
        int64_t dt = st->now_ms - p->ring[k].t;
        if (dt <= RATE_WINDOW_MS) {
            if (dt >= 2000)
                rate = (double)(finished_of(st) - p->ring[k].finished) *
                       1000.0 / (double)dt;
            break;
        }
    }
    if (rate <= 0.0 && st->now_ms - st->started_ms >= 2000)
        rate = (double)finished_of(st) * 1000.0 /
               (double)(st->now_ms - st->started_ms);
    return rate > 0.0 ? (double)remaining / rate : -1.0;
}

static void clear_line(struct ab_progress *p)
{
    if (p->visible) {
        fputs("\r\033[K", p->out);
        fflush(p->out);
        p->visible = 0;
    }
}

static void draw_line(struct ab_progress *p)
{
    if (p->line[0] && !p->finished) {
        fprintf(p->out, "\r%s\033[K", p->line);
        fflush(p->out);
        p->visible = 1;
    }
}

static void on_log_before(void *ctx)
{
    clear_line(ctx);
}

static void on_log_after(void *ctx)
{
    draw_line(ctx);
}

static int columns_of(FILE *out)
{
    struct winsize ws;
    const char *env = getenv("COLUMNS");

    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    if (env && atoi(env) > 1)
        return atoi(env);
    return 80;
}

static void log_line(struct ab_progress *p, const struct ab_run_stats *st)
{
    char line[512];

    ab_progress_format_log(line, sizeof line, st, eta_of(p, st));
    fprintf(p->out, "authbatch: %s\n", line);
    fflush(p->out);
}

void ab_progress_update(struct ab_progress *p, const struct ab_run_stats *st)
{
    if (!p || p->finished || p->mode == AB_PROGRESS_NONE)
        return;
    sample(p, st);
    if (p->mode == AB_PROGRESS_LOG) {
        if (p->next_log_ms < 0)
            p->next_log_ms = st->started_ms + LOG_EVERY_MS;
        if (st->now_ms < p->next_log_ms)
            return;
        while (p->next_log_ms <= st->now_ms)
            p->next_log_ms += LOG_EVERY_MS;
        log_line(p, st);
        return;
    }
    if (p->visible && st->now_ms - p->last_draw_ms < BAR_MIN_GAP_MS)
        return;
    /* Under stderr's lock, which every log line holds while it clears and
     * redraws the bar: a line logged on a network thread (engine.h) never
     * meets a half-written bar. */
    flockfile(stderr);
    if (!p->hooked) {
        ab_log_set_hook(on_log_before, on_log_after, p);
        p->hooked = 1;
    }
    ab_progress_format_bar(p->line, sizeof p->line, st, eta_of(p, st),
                           columns_of(p->out));
    p->last_draw_ms = st->now_ms;
    draw_line(p);
    funlockfile(stderr);
}

static void unhook(struct ab_progress *p)
{
    if (p->hooked) {
        ab_log_set_hook(NULL, NULL, NULL);
        p->hooked = 0;
    }
}

void ab_progress_finish(struct ab_progress *p, const struct ab_run_stats *st)
{
    if (!p || p->finished)
        return;
    flockfile(stderr);
    if (p->mode == AB_PROGRESS_BAR)
        clear_line(p);
    p->finished = 1;
    unhook(p);
    funlockfile(stderr);
    if (p->mode == AB_PROGRESS_LOG)
        log_line(p, st);
}

void ab_progress_free(struct ab_progress *p)
{
    if (!p)
        return;
    if (p->mode == AB_PROGRESS_BAR)
        clear_line(p);
    unhook(p);
    free(p);
}
