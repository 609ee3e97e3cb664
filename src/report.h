/* report.h - `authbatch report`: per-company results and a summary, as text,
 * JSON, CSV or a self-contained HTML page.
 *
 * The summary (counts per status, error codes with their messages and up to
 * three example companies, attempts and latency percentiles, the run
 * history) always covers the whole database; `status` filters only the
 * company rows. Company rows are streamed from the database, so memory does
 * not grow with their number; the HTML table stops at html_max_rows (the
 * charts still use every row) and says so.
 *
 * Tickets appear in no format unless with_tickets is set; without it they
 * are not even read from the database.
 *
 * Every value read from the database passes the safetext filter (no
 * control characters, valid UTF-8) in text and CSV; HTML escapes everything
 * on top of that. text and html speak `lang` (labels, headings, status
 * names, chart legends); json and csv are machine formats and never change
 * with it. csv is UTF-8, or GB18030 with encoding set to it (a character
 * that cannot be converted fails the report instead of becoming '?').
 *
 * Shapes:
 *   text  a summary, then one line per company.
 *   json  one document: {"report": {...}, "summary": {...},
 *         "companies": [{...}, ...]} (see README for the fields).
 *   csv   RFC 4180, header row, CRLF line ends; company rows only. Columns:
 *         id, company_name, register_no, status, attempts,
 *         last_http_status, last_code, last_message, updated_at,
 *         auth_status, auth_reason, auth_changed_at [, ticket, ticket_at].
 *         Times are UTC ISO 8601.
 *   html  summary tables, inline SVG charts whose elements carry their
 *         numbers in data-* attributes, a sortable, filterable table. The
 *         page is well-formed XML as well as HTML.
 */
#ifndef AB_REPORT_H
#define AB_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "charset.h"
#include "err.h"
#include "i18n.h"
#include "store.h"

enum ab_report_format {
    AB_REPORT_TEXT,
    AB_REPORT_JSON,
    AB_REPORT_CSV,
    AB_REPORT_HTML,
};

#define AB_REPORT_HTML_MAX_ROWS 10000

struct ab_report_opts {
    enum ab_report_format format;
    const char *status;       /* company rows with this status only; NULL all */
    int with_tickets;         /* include tickets */
    int bom;                  /* CSV: start with a UTF-8 byte order mark */
    enum ab_charset encoding; /* CSV: AUTO or UTF8 (the same), GB18030 */
    enum ab_lang lang;        /* text and HTML */
    int64_t html_max_rows;    /* 0: AB_REPORT_HTML_MAX_ROWS */
    const char *title;        /* shown in text and HTML; NULL: the db path */
    int64_t now_ms;           /* "generated at"; 0: now */
};

/* "text", "json", "csv" or "html": 0, or AB_EINVAL. */
int ab_report_parse_format(const char *s, enum ab_report_format *out);

/* Is s one of the six company statuses? */
int ab_report_valid_status(const char *s);

/* Writes the report to out (borrowed). Reads everything in one read
 * transaction, so the numbers agree with each other even while a run
 * writes. Returns 0, or an AB_E* code with err set; a failed write to out
 * is AB_EIO. */
int ab_report_write(struct ab_store *s, const struct ab_report_opts *o,
                    FILE *out, struct ab_err *err);

#endif
