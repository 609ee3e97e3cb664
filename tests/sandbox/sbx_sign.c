#include "sbx_sign.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

int sbx_sign_md5hex(const char *token, const char *secret,
                    const char *timestamp, const char *nonce,
                    char out[SBX_SIGN_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    const char *parts[4] = {token, secret, timestamp, nonce};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx;
    int ok;

    out[0] = '\0';
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return -1;
    ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1;
    for (size_t i = 0; ok && i < 4; i++)
        ok = EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])) == 1;
    if (ok)
        ok = EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 16;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    for (unsigned int i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    out[2 * mdlen] = '\0';
    return 0;
}

int sbx_sign_equal(const char *got, const char *want)
{
    size_t n = strlen(want);

    if (strlen(got) != n)
        return 0;
    return CRYPTO_memcmp(got, want, n) == 0;
}
