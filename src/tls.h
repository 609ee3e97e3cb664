/* tls.h - settings libcurl's OpenSSL connections get from us.
 *
 * With sign.c, the only file that includes OpenSSL (libssl here). Curl
 * hands each new TLS context to ab_tls_tune_ctx() through
 * CURLOPT_SSL_CTX_FUNCTION, before any connection uses it.
 */
#ifndef AB_TLS_H
#define AB_TLS_H

/* Read ahead: let OpenSSL take whatever the socket holds in one read rather
 * than a record header and then its body (two recv() calls per record, and
 * an HTTP/2 answer is several records). ssl_ctx is an SSL_CTX *. Verification
 * settings are not touched. Returns 0. */
int ab_tls_tune_ctx(void *ssl_ctx);

#endif
