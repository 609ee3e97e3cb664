/* sign.h - the vendor's request signature, the fresh values it needs, and
 * the other small cryptographic helpers: callback tokens and comparing
 * secrets in constant time.
 *
 * The only file that includes OpenSSL. Pure apart from the random source:
 * signature = lower-case hex MD5(token + secret + timestamp + nonce), plain
 * concatenation of the UTF-8 strings (SPEC §1).
 */
#ifndef AB_SIGN_H
#define AB_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define AB_SIGN_HEX_LEN 32   /* MD5 as hex, without the NUL */
#define AB_SIGN_NONCE_LEN 36 /* UUID text, without the NUL */

/* Writes the 32-char signature and a NUL to out[33]. Returns 0, or AB_EIO if
 * the digest failed. */
int ab_sign(const char *token, const char *secret, const char *timestamp,
            const char *nonce, char out[AB_SIGN_HEX_LEN + 1]);

/* Writes a random UUID v4 (lower case, 36 chars) and a NUL to out[37] from
 * OpenSSL's RAND_bytes. Returns 0, or AB_EIO if no randomness was had. */
int ab_sign_nonce(char out[AB_SIGN_NONCE_LEN + 1]);

/* Wipes n bytes at p in a way the compiler keeps. */
void ab_sign_wipe(void *p, unsigned long n);

/* 1 if a[0..an) equals b[0..bn), else 0, in time that depends only on the
 * lengths (CRYPTO_memcmp): for secrets a client presents, such as callback
 * tokens. Lengths are compared first: a token's length is no secret. */
int ab_sign_equal(const void *a, size_t an, const void *b, size_t bn);

/* A callback token: 128 bits from RAND_bytes as unpadded base64url
 * ([A-Za-z0-9_-], 22 chars), and a NUL, to out[23]. Returns 0, or AB_EIO if
 * no randomness was had. Thread-safe (unlike ab_sign_nonce's pool). */
#define AB_SIGN_TOKEN_LEN 22
int ab_sign_token(char out[AB_SIGN_TOKEN_LEN + 1]);

#endif
