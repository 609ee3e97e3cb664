/* dispatch_internal.h - shared by dispatch.c and dispatch_answer.c only.
 *
 * dispatch.c schedules: the loop, the sources, sending, committing,
 * stopping. dispatch_answer.c judges: what each answer means for its
 * company (the retry policy, the second opinion on a refusal, the breakers
 * for unreachable and foreign servers, the clock), as results in the
 * batch. Both work on one struct dispatcher, on the run's loop.
 */
#ifndef AB_DISPATCH_INTERNAL_H
#define AB_DISPATCH_INTERNAL_H

#include <stdint.h>

#include <uv.h>

#include "batch.h"
#include "dispatch.h"
#include "engine.h"
#include "ratelimit.h"
#include "runner.h"
#include "stop.h"
#include "worksrc.h"

/* Results reach the database at least this often. */
#define FLUSH_EVERY_MS 100
#define FLUSH_AT 1024      /* ...or when this many are waiting */
#define CLAIM_MAX 1024     /* companies claimed per transaction, at most */
#define CLAIM_AHEAD_MS 250 /* ...and no more than this much sending ahead */
#define TICK_MS 250
#define RATE_WINDOW 20              /* ticks behind rate_now (5 s) */
#define HORIZON_MS (10 * 60 * 1000) /* longer waits end the run */
#define SKEW_MS 60000               /* clock disagreement worth a word */
#define RUN_BUSY_MS 100             /* the run never waits longer for SQLite */
#define COMMIT_DEADLINE_MS (10 * 60 * 1000)
#define WARNED_MAX 16 /* unknown poll statuses remembered for the warning */

struct job {
    struct dispatcher *d;
    enum ab_work_kind kind;
    struct ab_company c;
    int64_t ticket_at; /* polls (work.h) */
    int checks;
    int64_t sent_us;
    int in_use;
    int probe;        /* this request is the second opinion on a refusal */
    int probe_unsent; /* ...and it waits to be sent */
};

/* Answers whose meaning waits for a verdict: refusals for the second
 * opinion, foreign answers for the end of their run. */
struct held {
    struct ab_result r;
    int prev_attempts;
    int64_t retry_after_ms;
};

struct holdlist {
    struct held *h;
    int n, cap;
};

struct dispatcher {
    uv_loop_t loop;
    uv_idle_t kick;
    uv_timer_t t_send, t_flush, t_tick, t_runtime;
    uv_signal_t sigint, sigterm;
    int open_handles;

    struct ab_engine *eng;
    struct ab_store *s;
    const struct ab_dispatch_opts *o;
    struct ab_run_stats *st;
    struct ab_ratelimit *rl;
    struct ab_runner *runner; /* among the runs sharing the store */
    int waiting_said;         /* "waiting for other runs' companies" */
    struct ab_batch *batch;
    /* Work sources in priority order (tickets first), each with its own
     * "the last refill found nothing: wait for a timer" flag. */
    struct ab_worksrc *src[AB_WORK__COUNT];
    int dry[AB_WORK__COUNT];
    int busy[AB_WORK__COUNT]; /* ...because another writer held the file */
    int nsrc;
    struct ab_stopper *stop;
    struct job *jobs;
    char url[2048];

    int flush_due; /* the flush timer fired */
    int signals;   /* SIGINT/SIGTERM received */
    int cancelled; /* in-flight requests were cancelled */
    int finished;
    int backpressure; /* results cannot be committed: send nothing */
    int64_t commit_failing_since; /* Unix ms, 0 when commits work */
    int commit_fatal;             /* a commit failed for good (not busy) */
    int64_t runtime_end_ms;
    int64_t last_cut_ms;

    int64_t consecutive_transport;
    int got_answer;
    struct job *probe;  /* the second opinion in progress, or NULL */
    struct job *staged; /* claimed, checked, waiting for its rate slot */
    struct holdlist refused, foreign;

    double logged_estimate; /* the limit estimate last logged */
    int64_t skew_ms;        /* server minus local, when worth saying */
    int skew_warned;

    int64_t poll_retry_until;    /* the latest poll retry this run wrote */
    int64_t polled_at_rewind;    /* polls committed when the cursor rewound */
    int rewound;                 /* the poll cursor was rewound at least once */
    char warned[WARNED_MAX][32]; /* unknown poll statuses already logged */
    int nwarned;

    int64_t ticks[RATE_WINDOW];
    int64_t answers_this_tick;
    int tick_i;
    uint64_t rng;
};

/* dispatch.c */
int64_t ab_dsp_now_us(void);
/* Uniform in [0, 1), for the retry jitter. */
double ab_dsp_uniform(struct dispatcher *d);
/* Asks for a step at the top of the next loop iteration. */
void ab_dsp_kick(struct dispatcher *d);
/* Asks the run to stop for why (stop.h ranks the reasons); fmt, when not
 * NULL, says what happened. */
void ab_dsp_stop(struct dispatcher *d, enum ab_stop why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ab_dsp_stopping(const struct dispatcher *d);

/* dispatch_answer.c */
/* The engine's callback for every request's end: judges the answer and
 * adds its results to the batch. ctx is the struct job. */
void ab_dsp_on_answer(void *ctx, const struct ab_http_result *h);
/* A new result in the batch, or NULL (the run is stopped: out of memory). */
struct ab_result *ab_dsp_add_result(struct dispatcher *d);
/* Moves held answers into the batch: charged (within the allowance of
 * `as`) or not (the companies stay as they were). */
void ab_dsp_settle(struct dispatcher *d, struct holdlist *l, int charged,
                   enum ab_outcome as);
/* Gives j's slot back (and the company's fields). */
void ab_dsp_release(struct job *j);

#endif
