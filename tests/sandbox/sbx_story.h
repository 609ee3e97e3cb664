/*
 * sbx_story -- what the applicant behind one ticket does, on the vendor's
 * clock. Pure: a story is drawn from (seed, company name, ticket number) and
 * read at a given time; nothing here knows about threads or HTTP.
 *
 * Fates and their timelines, in vendor minutes after the ticket was issued
 * (start and finish are drawn per ticket, uniformly, at second resolution):
 *
 *   fate      0            start (1-5)        start + 2-10     30
 *   pass      1 not sub.   4 in progress      2 passed
 *   reject    1            4                  3 rejected (+ basicReason)
 *   progress  1            4 (stays)
 *   never     1 (stays: the applicant never starts, the record stays)
 *   expire    1                                                6 expired
 *
 * Every story is settled (no status change left) 30 minutes after its
 * ticket. The vendor's callbacks (callback status scale 0/1/2) are sent at
 * the start (status 0, actionEvent 0 submitted) and at the finish of pass
 * (1, actionEvent 7 success) and reject (2, actionEvent 2 basic info
 * failed); progress sends only the first, never and expire none.
 *
 * A re-issued ticket is a new story: its fate is drawn again with the next
 * ticket number, independently, from the same mix. So an applicant rejected
 * on the first ticket passes on the second with probability mix[pass]
 * (deterministically for a given seed and name).
 */
#ifndef SBX_STORY_H
#define SBX_STORY_H

#include <stddef.h>
#include <stdint.h>

enum sbx_fate {
    SBX_FATE_PASS = 0,
    SBX_FATE_REJECT,
    SBX_FATE_PROGRESS,
    SBX_FATE_NEVER,
    SBX_FATE_EXPIRE,
    SBX_FATE_COUNT
};

/* Result status values (GET /companyauth/result). */
#define SBX_STATUS_NO_RECORD (-1)
#define SBX_STATUS_NOT_SUBMITTED 1
#define SBX_STATUS_PASSED 2
#define SBX_STATUS_REJECTED 3
#define SBX_STATUS_IN_PROGRESS 4
#define SBX_STATUS_EXPIRED 6

/* The timeline, in vendor seconds after the ticket. */
#define SBX_STORY_START_MIN_S 60
#define SBX_STORY_START_SPAN_S 240
#define SBX_STORY_FINISH_MIN_S 120
#define SBX_STORY_FINISH_SPAN_S 480
#define SBX_STORY_EXPIRE_S 1800
#define SBX_STORY_SETTLED_S 1800

/* Fractions of applicants per fate; they add up to 1. */
struct sbx_fate_mix {
    double frac[SBX_FATE_COUNT];
};

/* pass 0.5, reject 0.15, progress 0.1, never 0.15, expire 0.1 */
void sbx_fate_mix_default(struct sbx_fate_mix *mix);

/*
 * Parse "pass=0.5,reject=0.15,..." (any order; a fate not named gets 0; the
 * fractions must add up to 1 within 1e-6). Returns 0 and fills mix, or -1
 * with a message in err (mix untouched).
 */
int sbx_fate_mix_parse(const char *spec, struct sbx_fate_mix *mix, char *err,
                       size_t errlen);

/* "pass", "reject", "progress", "never", "expire". */
const char *sbx_fate_name(enum sbx_fate fate);

/*
 * The times are offsets from the ticket's issue: vendor seconds as drawn,
 * real milliseconds after sbx_story_scale. The functions that read a story
 * take the elapsed time in the same unit as its times.
 */
struct sbx_story {
    enum sbx_fate fate;
    int64_t start;      /* pass, reject, progress: the applicant submits */
    int64_t finish;     /* pass, reject: the vendor decides */
    int64_t expire;     /* expire: the unused ticket expires */
    const char *reason; /* reject: basicReason (static UTF-8), else NULL */
};

/* Draw the story of ticket number ticket_no (1, 2, ...) of company, in
 * vendor seconds. */
void sbx_story_draw(uint64_t seed, const char *company, unsigned ticket_no,
                    const struct sbx_fate_mix *mix, struct sbx_story *out);

/* The story of a ticket nobody received (its answer never arrived): the
 * applicant cannot start; the record stays not submitted. */
void sbx_story_undelivered(struct sbx_story *out);

/* Convert st's times from vendor seconds to real milliseconds, at
 * minute_ms real ms per vendor minute (rounded down). */
void sbx_story_scale(struct sbx_story *st, int64_t minute_ms);

/* Result status at elapsed after the ticket (< 0: 1). */
int sbx_story_status(const struct sbx_story *st, int64_t elapsed);

/* Offset of the story's next status change strictly after elapsed, or -1
 * when it is settled. */
int64_t sbx_story_next_change(const struct sbx_story *st, int64_t elapsed);

/* One callback the vendor sends, on the callback scale: at the moment the
 * status changes (sbx_story_status(at) is already the new one). */
struct sbx_story_event {
    int64_t at;
    int status;       /* 0 in progress, 1 passed, 2 failed */
    int action_event; /* 0 submitted, 7 success, 2 basic info failed */
};

/* The story's callbacks in the vendor's order; returns how many (0-2). */
size_t sbx_story_events(const struct sbx_story *st,
                        struct sbx_story_event out[2]);

#endif
