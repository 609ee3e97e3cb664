/* fuzz_callback.c - libFuzzer target: ab_cbparse() on arbitrary callbacks.
 *
 * Input layout: byte 0 picks the Content-Type (low 3 bits: none, form,
 * form with charset, JSON, +json, text/plain, multipart, empty) and bit 3
 * says whether byte 1 is the length of a query string taken from the front
 * of the rest; what is left is the body. Besides the sanitizers it checks
 * cbparse.h as invariants: 0 exactly when there is a status and no fault;
 * then every string is valid UTF-8 without control characters and within
 * its limit, fields_json is a JSON object holding "status", and the dedupe
 * key is "cb:" and a JSON array of three; on refusal nothing is left
 * allocated and the reason is a NUL-terminated line without control
 * characters.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbparse.h"
#include "err.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_callback: %s\n", what);
    abort();
}

static void clean_text(const char *s, size_t max, const char *what)
{
    size_t i, n;

    if (!s)
        return;
    n = strlen(s);
    if (n == 0 || n > max)
        die(what);
    if (ab_validate_utf8(s, n, NULL) != 0)
        die(what);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f ||
            (c == 0xC2 && (unsigned char)s[i + 1] < 0xA0))
            die(what);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[8] = {
        NULL,
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "application/json",
        "application/vnd.x+json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
    };
    const char *ctype;
    char *query = NULL, *body;
    size_t qn = 0, n, i;
    struct ab_cb cb;
    int rc;

    if (size < 1)
        return 0;
    ctype = types[data[0] & 7];
    data++;
    size--;
    if ((data[-1] & 8) && size >= 1) {
        qn = data[0];
        data++;
        size--;
        if (qn > size)
            qn = size;
        /* An exact-size heap copy: ASan catches any read past the end. */
        query = malloc(qn ? qn : 1);
        memcpy(query, data, qn);
        data += qn;
        size -= qn;
    }
    n = size;
    body = malloc(n ? n : 1);
    memcpy(body, data, n);

    rc = ab_cbparse(query, qn, ctype, body, n, &cb);
    if (rc == AB_ENOMEM)
        die("out of memory");
    if ((rc == 0) != (cb.fault == AB_CB_OK))
        die("return code and fault disagree");
    if (rc == 0) {
        json_t *f, *k;
        if (!cb.status || !cb.fields_json || !cb.dedupe_key)
            die("accepted without status, fields or key");
        clean_text(cb.status, AB_CB_MAX_STATUS, "status");
        clean_text(cb.request_id, AB_CB_MAX_REQUEST_ID, "requestId");
        clean_text(cb.action_event, AB_CB_MAX_STATUS, "actionEvent");
        clean_text(cb.name, AB_CB_MAX_INFO, "name");
        clean_text(cb.register_no, AB_CB_MAX_INFO, "registerNo");
        clean_text(cb.legal_person, AB_CB_MAX_INFO, "legalPerson");
        clean_text(cb.applicant_name, AB_CB_MAX_INFO, "applicantName");
        clean_text(cb.applicant_phone, AB_CB_MAX_INFO, "applicantPhone");
        f = json_loads(cb.fields_json, 0, NULL);
        if (!json_is_object(f) || !json_object_get(f, "status"))
            die("fields_json is not an object with status");
        json_decref(f);
        if (strncmp(cb.dedupe_key, "cb:", 3) != 0)
            die("dedupe key prefix");
        k = json_loads(cb.dedupe_key + 3, 0, NULL);
        if (!json_is_array(k) || json_array_size(k) != 3 ||
            strcmp(json_string_value(json_array_get(k, 0)), cb.status) != 0)
            die("dedupe key is not [status, actionEvent, requestId]");
        json_decref(k);
    } else {
        if (cb.status || cb.fields_json || cb.dedupe_key || cb.request_id)
            die("refused but left fields");
        if (!memchr(cb.reason, '\0', sizeof cb.reason) || !cb.reason[0])
            die("reason missing or not terminated");
        for (i = 0; cb.reason[i]; i++)
            if ((unsigned char)cb.reason[i] < 0x20 ||
                (unsigned char)cb.reason[i] >= 0x7f)
                die("reason holds a control or non-ASCII byte");
    }
    ab_cb_release(&cb);
    free(query);
    free(body);
    return 0;
}
