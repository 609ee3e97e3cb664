/* cbparse.h - the fields of a vendor callback (SPEC §6, reference/
 * vendor-funnel.md §1), parsed tolerantly where the vendor is unknown and
 * strictly where a hostile client could hurt. Pure: no I/O, no globals; it
 * allocates (jansson), and ab_cb_release() frees.
 *
 * Where the fields come from: the query string (the vendor may append them
 * to the URL) and the body, read by its Content-Type:
 *   application/x-www-form-urlencoded   `k=v&k=v`, %XX escapes, `+` a space;
 *   application/json, text/json, *+json a JSON object;
 *   none                                a JSON object if the body starts
 *                                       with `{` (after white space), else
 *                                       a form;
 * with an optional `charset=utf-8` (any other charset, multipart/form-data
 * and every other type: AB_CB_MEDIA_TYPE). Query and body fields form one
 * set.
 *
 * Fields used (the rest are kept, not interpreted):
 *   status       required; a string or a JSON integer, kept as text: its
 *                meaning is authstatus.h's business, so "7" parses here
 *   requestId    a string or integer
 *   actionEvent  a string or integer
 *   authInfo     a JSON object, or a string holding one (in a form it always
 *                is a string); its name, registerNo, legalPerson,
 *                applicantName (or applicant, the older spelling; a string,
 *                or an object with a `name`) and applicantPhone are picked
 *                out when they are strings or numbers
 * An empty value or JSON null counts as absent.
 *
 * Refused (AB_CB_MALFORMED, with a reason that never quotes the input
 * beyond a known field name): broken %-escapes or JSON; a field twice (in
 * the body, the query, authInfo, or across them); a value that is not
 * valid UTF-8 or holds a control character (C0, DEL, C1; authInfo's JSON
 * text may hold JSON white space between tokens); an empty field name;
 * more than AB_CB_MAX_FIELDS fields; a name or value over its limit below;
 * JSON nested deeper than AB_CB_MAX_DEPTH; no status. A body or query over
 * its limit is AB_CB_TOO_LARGE.
 */
#ifndef AB_CBPARSE_H
#define AB_CBPARSE_H

#include <stddef.h>

#define AB_CB_MAX_BODY 65536     /* bytes */
#define AB_CB_MAX_QUERY 4096     /* bytes */
#define AB_CB_MAX_FIELDS 64      /* top-level fields, query and body */
#define AB_CB_MAX_NAME 64        /* bytes of a field name */
#define AB_CB_MAX_VALUE 16384    /* bytes of any string value */
#define AB_CB_MAX_STATUS 16      /* bytes of status and actionEvent */
#define AB_CB_MAX_REQUEST_ID 256 /* bytes of requestId */
#define AB_CB_MAX_INFO 1024      /* bytes of each field picked from authInfo */
#define AB_CB_MAX_DEPTH 16       /* JSON nesting */

enum ab_cb_fault {
    AB_CB_OK = 0,
    AB_CB_MEDIA_TYPE, /* a Content-Type not read here */
    AB_CB_TOO_LARGE,  /* body or query over its limit */
    AB_CB_MALFORMED,  /* anything else refused */
    AB_CB_NOMEM,      /* out of memory */
};

/* A parsed callback. Every string is new, NUL-terminated, valid UTF-8
 * without control characters, or NULL when absent. */
struct ab_cb {
    char *status;
    char *request_id;
    char *action_event;
    char *name; /* from authInfo */
    char *register_no;
    char *legal_person;
    char *applicant_name;
    char *applicant_phone;
    /* Every field received, as one compact JSON object in the order
     * received (authInfo as an object, the others as received), for the
     * events table. */
    char *fields_json;
    /* Identical deliveries share it: "cb:" and the JSON array
     * [status, actionEvent, requestId] (absent ones null). */
    char *dedupe_key;
    enum ab_cb_fault fault;
    char reason[160]; /* why, when fault is not AB_CB_OK */
};

/* Parses query[0..qn) (may be NULL) and body[0..n) (may be NULL when n is
 * 0) under content_type (the header's value, or NULL) into out. Returns 0;
 * AB_EDATA with out->fault and out->reason set; or AB_ENOMEM. Either way
 * release out with ab_cb_release(). */
int ab_cbparse(const char *query, size_t qn, const char *content_type,
               const char *body, size_t n, struct ab_cb *out);

/* Frees what out holds and zeroes it; NULL is a no-op. */
void ab_cb_release(struct ab_cb *out);

/* The vendor's actionEvent, in words ("basic information rejected" for 2),
 * or NULL for a value not known (reference/vendor-funnel.md §1.1:
 * 0 submitted, 1 basic information approved, 2 basic information
 * rejected, 4 authorisation letter rejected, 7 authenticated). */
const char *ab_cb_action_event_text(const char *action_event);

#endif
