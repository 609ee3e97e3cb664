/* fuzz_classify.c - libFuzzer target: ab_api_classify() on arbitrary
 * answers.
 *
 * Input layout: byte 0 flags (bit 0: a transport error instead of an HTTP
 * answer; bit 1: pass extra --retry-codes/--fatal-codes), bytes 1-2 the HTTP
 * status (big-endian, mod 1000), the rest the body (or the transport error
 * text). Besides the sanitizers it checks SPEC §2 as invariants: exactly one
 * valid class; a ticket exactly when issued, non-empty and NUL-terminated;
 * transport errors are transient with http_status 0; 429 is throttled, 5xx
 * transient, 441/442 fatal; the message is NUL-terminated valid UTF-8 when
 * it came from the body.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_classify: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct ab_api_codes extra = {.retry = {1003, 0},
                                              .nretry = 2,
                                              .fatal = {1605, 11990006},
                                              .nfatal = 2};
    struct ab_api_result r;
    size_t n, bad;
    long status;
    char *body;
    int transport;

    if (size < 3)
        return 0;
    transport = data[0] & 1;
    status = (long)((data[1] << 8 | data[2]) % 1000);
    n = size - 3;
    /* An exact-size heap copy: ASan catches any read past body_len. */
    body = malloc(n ? n : 1);
    memcpy(body, data + 3, n);
    if (transport) {
        char *text = malloc(n + 1);
        memcpy(text, data + 3, n);
        text[n] = '\0';
        ab_api_classify(text, status, NULL, NULL, 0, NULL, &r);
        free(text);
        if (r.outcome != AB_OUT_TRANSIENT || r.http_status != 0)
            die("transport error not transient with status 0");
    } else {
        ab_api_classify(NULL, status, NULL, body, n,
                        (data[0] & 2) ? &extra : NULL, &r);
        if (r.http_status != status)
            die("http_status not kept");
        if (status == 429 && r.outcome != AB_OUT_THROTTLED)
            die("429 not throttled");
        if (status >= 500 && r.outcome != AB_OUT_TRANSIENT)
            die("5xx not transient");
        if ((status == 441 || status == 442) && r.outcome != AB_OUT_FATAL)
            die("441/442 not fatal");
        if (!memchr(r.message, '\0', sizeof r.message))
            die("message not terminated");
        if (ab_validate_utf8(r.message, strlen(r.message), &bad) != 0)
            die("message is not valid UTF-8");
    }
    if ((int)r.outcome < 0 || r.outcome >= AB_OUT__COUNT)
        die("outcome out of range");
    if (!memchr(r.ticket, '\0', sizeof r.ticket))
        die("ticket not terminated");
    if ((r.outcome == AB_OUT_ISSUED) != (r.ticket[0] != '\0'))
        die("ticket present iff issued violated");
    if (r.outcome == AB_OUT_ISSUED && (!r.has_code || r.code != 0))
        die("issued without code 0");
    free(body);
    return 0;
}
