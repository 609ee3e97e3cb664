#include "ping.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

static size_t on_curl_write(char *ptr, size_t size, size_t n, void *ctx)
{
    (void)ptr;
    (void)ctx;
    return size * n; /* the answer ("OK") is of no interest */
}

/* Copies the host of url into buf, or "?" when it has none. */
static void host_of(const char *url, char *buf, size_t n)
{
    CURLU *u = curl_url();
    char *host = NULL;

    snprintf(buf, n, "?");
    if (!u)
        return;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host)
        snprintf(buf, n, "%s", host);
    curl_free(host);
    curl_url_cleanup(u);
}

int ab_ping_send(const char *base_url, const char *suffix)
{
    char host[256];
    size_t blen, slen;
    char *url;
    CURL *h;
    CURLcode cc;
    long status = 0;

    if (!base_url || !*base_url)
        return AB_EINVAL;
    if (!suffix)
        suffix = "";
    blen = strlen(base_url);
    while (blen > 0 && base_url[blen - 1] == '/')
        blen--;
    slen = strlen(suffix);
    if (!(url = malloc(blen + slen + 1)))
        return AB_ENOMEM;
    memcpy(url, base_url, blen);
    memcpy(url + blen, suffix, slen + 1);
    host_of(url, host, sizeof host);

    if (!(h = curl_easy_init())) {
        free(url);
        ab_log_warn("ping to '%s' failed: cannot start libcurl", host);
        return AB_ENOMEM;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "authbatch/" AB_VERSION);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_curl_write);
    cc = curl_easy_perform(h);
    if (cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    free(url);
    if (cc != CURLE_OK) {
        /* curl_easy_strerror() never quotes the URL. */
        ab_log_warn("ping to '%s' failed: %s", host, curl_easy_strerror(cc));
        return AB_EIO;
    }
    if (status < 200 || status > 299) {
        ab_log_warn("ping to '%s' failed: HTTP status %ld", host, status);
        return AB_EIO;
    }
    ab_log_debug("ping to '%s' sent", host);
    return 0;
}

void ab_ping(const char *base_url, const char *suffix)
{
    (void)ab_ping_send(base_url, suffix);
}
