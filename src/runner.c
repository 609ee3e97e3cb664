#include "runner.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "store_queue.h"

#define BEAT_MAX_MS 500
#define BEAT_MIN_MS 100

struct ab_runner {
    struct ab_store *s;
    int64_t run_id;
    int64_t lease_ms, timeout_ms, beat_ms;
    double rate;     /* its own --rate */
    double app_rate; /* the App's: the lowest seen (runner.h) */
    int burst, app_burst;
    struct ab_queue_share share;
    int64_t next_beat_ms; /* monotonic */
    int failing;          /* renewals fail: said once */
    int joined;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double ab_runner_share(double rate, int burst, int runners)
{
    double s;

    if (rate <= 0)
        return 0;
    if (runners <= 1)
        return rate;
    if (burst < 1)
        burst = 1;
    s = floor((rate + burst - (double)runners * burst) / runners);
    return s >= 1 ? s : rate / runners;
}

struct ab_runner *ab_runner_new(struct ab_store *s, int64_t run_id,
                                int64_t lease_ms, int64_t timeout_ms,
                                double rate, int burst)
{
    struct ab_runner *r = calloc(1, sizeof *r);

    if (!r)
        return NULL;
    r->s = s;
    r->run_id = run_id;
    r->lease_ms = lease_ms > 0 ? lease_ms : 2 * timeout_ms + 10000;
    r->timeout_ms = timeout_ms;
    r->beat_ms = r->lease_ms / 5;
    if (r->beat_ms > BEAT_MAX_MS)
        r->beat_ms = BEAT_MAX_MS;
    if (r->beat_ms < BEAT_MIN_MS)
        r->beat_ms = BEAT_MIN_MS;
    r->rate = r->app_rate = rate;
    r->burst = r->app_burst = burst;
    r->share.runners = 1;
    return r;
}

void ab_runner_free(struct ab_runner *r)
{
    free(r);
}

static void apply(struct ab_runner *r, struct ab_ratelimit *rl, int64_t now_us,
                  const struct ab_queue_share *sh)
{
    int before = r->share.runners;
    double before_rate = r->app_rate;

    r->share = *sh;
    if (!sh->shared)
        return;
    /* The App's rate is the lowest any live run was given, and stays so
     * for the rest of this run once seen (the slower run's end does not
     * make the App faster): runs started with 60 and 100 share 60. */
    if (sh->app_rate > 0 && (r->app_rate <= 0 || sh->app_rate < r->app_rate))
        r->app_rate = sh->app_rate;
    if (sh->app_burst > 0 && sh->app_burst < r->app_burst)
        r->app_burst = sh->app_burst;
    ab_ratelimit_set_ceiling(
        rl, ab_runner_share(r->app_rate, r->app_burst, sh->runners), now_us);
    if (r->app_rate != before_rate)
        ab_log_info("another run on the database was given --rate %.1f: the "
                    "App's rate is the lowest, so this run (--rate %.1f) "
                    "keeps to it",
                    r->app_rate, r->rate);
    if (sh->runners != before || r->app_rate != before_rate)
        ab_log_info("%d runs share the database: this one sends at up to %.1f "
                    "requests/s",
                    sh->runners,
                    ab_runner_share(r->app_rate, r->app_burst, sh->runners));
}

int ab_runner_join(struct ab_runner *r, struct ab_ratelimit *rl, int64_t now_us,
                   struct ab_err *err)
{
    struct ab_queue_share sh;
    int rc = ab_queue_join(r->s, r->run_id, r->lease_ms, &sh, err);

    if (rc != 0)
        return rc;
    r->joined = 1;
    apply(r, rl, now_us, &sh);
    r->next_beat_ms = mono_ms() + (sh.admitted ? r->beat_ms : BEAT_MIN_MS);
    return 0;
}

int ab_runner_beat(struct ab_runner *r, struct ab_ratelimit *rl, int64_t now_us)
{
    struct ab_ratelimit_stats rs;
    struct ab_queue_share sh;
    struct ab_err err = {0};
    int64_t now = mono_ms();
    int lapsed;

    if (!r->joined || !r->share.shared || now < r->next_beat_ms)
        return 0;
    ab_ratelimit_stats(rl, &rs);
    if (ab_queue_renew(r->s, r->run_id, ab_now_ms(), rs.rate, rs.estimate, &sh,
                       &err) != 0) {
        if (!r->failing)
            ab_log_warn("cannot renew this run's leases: %s; sending stops "
                        "before they run out",
                        err.msg);
        r->failing = 1;
        r->next_beat_ms = now + r->beat_ms;
        return 0;
    }
    if (r->failing)
        ab_log_info("leases renewed again");
    r->failing = 0;
    lapsed = now > r->share.lease_until;
    if (lapsed)
        ab_log_warn("this run's leases ran out before they could be "
                    "renewed: the companies it claimed and has not sent are "
                    "left to whichever run claims them next");
    apply(r, rl, now_us, &sh);
    /* Not yet admitted: look again soon. */
    r->next_beat_ms = now + (sh.admitted ? r->beat_ms : BEAT_MIN_MS);
    return lapsed;
}

int ab_runner_may_send(const struct ab_runner *r)
{
    if (!r->share.shared)
        return 1;
    return r->share.admitted &&
           mono_ms() + r->timeout_ms + r->beat_ms <= r->share.lease_until;
}

int ab_runner_count(const struct ab_runner *r)
{
    return r->share.runners;
}

void ab_runner_leave(struct ab_runner *r)
{
    struct ab_err err = {0};

    if (!r || !r->joined || !r->share.shared)
        return;
    r->joined = 0;
    if (ab_queue_leave(r->s, r->run_id, &err) != 0)
        ab_log_warn("%s (the other runs keep their shares until this one's "
                    "lease runs out)",
                    err.msg);
}
