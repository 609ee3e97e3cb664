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

/* MD5 fetched once (OpenSSL 3 looks an implicit EVP_md5() up again on every
 * init), and a digest context per thread, reused; a thread-specific key
 * frees a network thread's context when that thread ends. */
static EVP_MD *md5;
static pthread_once_t md5_once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key;
static int ctx_key_ok;
static _Thread_local EVP_MD_CTX *tls_ctx;

static void free_ctx(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void fetch_md5(void)
{
    md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    ctx_key_ok = pthread_key_create(&ctx_key, free_ctx) == 0;
}

static EVP_MD_CTX *thread_ctx(void)
{
    if (!tls_ctx && ctx_key_ok) {
        tls_ctx = EVP_MD_CTX_new();
        if (tls_ctx && pthread_setspecific(ctx_key, tls_ctx) != 0) {
            EVP_MD_CTX_free(tls_ctx);
            tls_ctx = NULL;
        }
    }
    return tls_ctx;
}

int ab_sign(const char *token, const char *secret, const char *timestamp,
            const char *nonce, char out[AB_SIGN_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx;
    int ok;

    pthread_once(&md5_once, fetch_md5);
    ctx = thread_ctx();
    ok = md5 && ctx && EVP_DigestInit_ex2(ctx, md5, NULL) &&
         EVP_DigestUpdate(ctx, token, strlen(token)) &&
         EVP_DigestUpdate(ctx, secret, strlen(secret)) &&
         EVP_DigestUpdate(ctx, timestamp, strlen(timestamp)) &&
         EVP_DigestUpdate(ctx, nonce, strlen(nonce)) &&
         EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 16;
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
static _Thread_local unsigned char pool[POOL_NONCES * 16];
static _Thread_local size_t pool_used = sizeof pool;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int atfork_rc;

static void on_fork_child(void)
{
    pool_used = sizeof pool; /* the thread that forked, the child's only */
}

static void register_atfork(void)
{
    atfork_rc = pthread_atfork(NULL, NULL, on_fork_child);
}

int ab_sign_nonce(char out[AB_SIGN_NONCE_LEN + 1])
{
    unsigned char b[16];
    char h[33];

    pthread_once(&atfork_once, register_atfork);
    if (atfork_rc != 0)
        return AB_EIO;
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
