#include "sign.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

#include "err.h"

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int ab_sign(const char *token, const char *secret, const char *timestamp,
            const char *nonce, char out[AB_SIGN_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok;

    ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) &&
         EVP_DigestUpdate(ctx, token, strlen(token)) &&
         EVP_DigestUpdate(ctx, secret, strlen(secret)) &&
         EVP_DigestUpdate(ctx, timestamp, strlen(timestamp)) &&
         EVP_DigestUpdate(ctx, nonce, strlen(nonce)) &&
         EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 16;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return AB_EIO;
    hex(md, 16, out);
    return 0;
}

/* Random bytes for the next nonces, drawn 64 nonces at a time: one
 * RAND_bytes call cost ~8,000 instructions and a getpid() (OpenSSL's fork
 * check) whatever its size. A nonce is public, so holding them is harmless;
 * a forked child drops the pool rather than repeat its parent's nonces. */
#define POOL_NONCES 64
static unsigned char pool[POOL_NONCES * 16];
static size_t pool_used = sizeof pool;
static int pool_atfork;

static void on_fork_child(void)
{
    pool_used = sizeof pool;
}

int ab_sign_nonce(char out[AB_SIGN_NONCE_LEN + 1])
{
    unsigned char b[16];
    char h[33];

    if (!pool_atfork) {
        if (pthread_atfork(NULL, NULL, on_fork_child) != 0)
            return AB_EIO;
        pool_atfork = 1;
    }
    if (pool_used == sizeof pool) {
        if (RAND_bytes(pool, sizeof pool) != 1)
            return AB_EIO;
        pool_used = 0;
    }
    memcpy(b, pool + pool_used, sizeof b);
    pool_used += sizeof b;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    hex(b, 16, h);
    memcpy(out, h, 8);
    out[8] = '-';
    memcpy(out + 9, h + 8, 4);
    out[13] = '-';
    memcpy(out + 14, h + 12, 4);
    out[18] = '-';
    memcpy(out + 19, h + 16, 4);
    out[23] = '-';
    memcpy(out + 24, h + 20, 12);
    out[36] = '\0';
    return 0;
}

void ab_sign_wipe(void *p, unsigned long n)
{
    OPENSSL_cleanse(p, n);
}

int ab_sign_equal(const void *a, size_t an, const void *b, size_t bn)
{
    if (an != bn)
        return 0;
    return an == 0 || CRYPTO_memcmp(a, b, an) == 0;
}

int ab_sign_token(char out[AB_SIGN_TOKEN_LEN + 1])
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char b[18] = {0}; /* 16 random bytes, padded to 6 groups of 3 */
    char t[24];
    size_t i, o = 0;

    if (RAND_bytes(b, 16) != 1)
        return AB_EIO;
    for (i = 0; i < sizeof b; i += 3) {
        unsigned v = (unsigned)b[i] << 16 | (unsigned)b[i + 1] << 8 | b[i + 2];
        t[o++] = b64url[(v >> 18) & 63];
        t[o++] = b64url[(v >> 12) & 63];
        t[o++] = b64url[(v >> 6) & 63];
        t[o++] = b64url[v & 63];
    }
    /* 128 bits are 21 full sextets and 2 bits: 22 characters. */
    memcpy(out, t, AB_SIGN_TOKEN_LEN);
    out[AB_SIGN_TOKEN_LEN] = '\0';
    OPENSSL_cleanse(b, sizeof b);
    OPENSSL_cleanse(t, sizeof t);
    return 0;
}
