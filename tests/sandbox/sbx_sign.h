/*
 * sbx_sign -- the sandbox's own implementation of the vendor signature.
 *
 * Deliberately independent of the client's src/sign.c: the sandbox must catch
 * a client that signs wrongly, so it may not reuse the client's code.
 *
 * signature = lower-case hex MD5(token + secret + timestamp + nonce),
 * plain concatenation of the header strings, no separator.
 */
#ifndef SBX_SIGN_H
#define SBX_SIGN_H

#include <stddef.h>

#define SBX_SIGN_HEX_LEN 32

/*
 * Write the 32 lower-case hex characters plus a NUL into out (33 bytes).
 * All inputs are borrowed and must be non-NULL.
 * Returns 0, or -1 if OpenSSL failed (out is then the empty string).
 */
int sbx_sign_md5hex(const char *token, const char *secret,
                    const char *timestamp, const char *nonce,
                    char out[SBX_SIGN_HEX_LEN + 1]);

/*
 * Constant-time comparison of a received signature with the expected one.
 * Returns 1 when they are equal (same length, same bytes), else 0.
 * Case matters: the vendor documents lower-case hex only.
 */
int sbx_sign_equal(const char *got, const char *want);

#endif
