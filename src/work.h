/* work.h - one piece of the dispatcher's work: a ticket to request or a
 * status to poll (SPEC §4 `run`, §6 `track`). */
#ifndef AB_WORK_H
#define AB_WORK_H

#include <stdint.h>

#include "company.h"

enum ab_work_kind {
    AB_WORK_TICKET = 0, /* POST /companyauth/miniappexchange */
    AB_WORK_POLL,       /* GET /companyauth/result */
    AB_WORK__COUNT
};

struct ab_work {
    enum ab_work_kind kind;
    /* Tickets: the claimed row. Polls: id and company_name only, and
     * attempts = the failed attempts at this poll so far. Owned. */
    struct ab_company c;
    int64_t ticket_at; /* polls: when the ticket followed was stored */
    int checks;        /* polls: checks answered since that ticket */
};

/* "ticket" or "poll". */
const char *ab_work_kind_name(enum ab_work_kind k);

#endif
