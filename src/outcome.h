/* outcome.h - the outcome classes of SPEC §2. Every attempt ends in exactly
 * one; the class decides what happens to the company next. */
#ifndef AB_OUTCOME_H
#define AB_OUTCOME_H

enum ab_outcome {
    AB_OUT_ISSUED = 0,     /* code 0 with a ticket: company done */
    AB_OUT_ALREADY_AUTHED, /* 1605: final, not an error */
    AB_OUT_REJECTED,       /* 1005, 11990011, unknown codes: company failed */
    AB_OUT_THROTTLED,      /* HTTP 429, 11990006: retry, slow everyone down */
    AB_OUT_TRANSIENT,      /* transport, 5xx, 1001, bad body: retry */
    AB_OUT_FATAL,          /* 441/442, 1002, 1601, signature: stop the run */
    AB_OUT__COUNT
};

/* "issued", "already_authed", ... as stored in attempts.outcome. */
const char *ab_outcome_name(enum ab_outcome o);

#endif
