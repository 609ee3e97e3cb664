#include "tls.h"

#include <openssl/ssl.h>

int ab_tls_tune_ctx(void *ssl_ctx)
{
    SSL_CTX_set_read_ahead((SSL_CTX *)ssl_ctx, 1);
    return 0;
}
