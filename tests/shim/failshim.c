/* failshim.c - an LD_PRELOAD library that makes the HTTP engine's
 * dependencies fail on cue, for tests/e2e/run_engine_fail.sh:
 *
 *   AB_SHIM_SOCKET_ACTION_FAIL_AFTER=N  curl_multi_socket_action() returns
 *       CURLM_INTERNAL_ERROR from its (N+1)-th call on: the multi handle is
 *       broken, as after an out-of-memory inside curl;
 *   AB_SHIM_POLL_START_FAIL_AT=N        the N-th uv_poll_start() fails once
 *       (UV_ENOMEM): one socket cannot be watched;
 *   AB_SHIM_LOOP_INIT_FAIL_AT=N         the N-th uv_loop_init() fails once
 *       (UV_ENOMEM): with N = 1, the run cannot start its loop.
 *
 * Unset variables change nothing. Test code only; never linked into the
 * program. */
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <uv.h>

static long env_long(const char *name)
{
    const char *v = getenv(name);
    return v ? atol(v) : 0;
}

CURLMcode curl_multi_socket_action(CURLM *m, curl_socket_t s, int ev,
                                   int *running)
{
    CURLMcode (*real)(CURLM *, curl_socket_t, int, int *);
    static _Atomic long calls; /* network threads call it too */
    long after = env_long("AB_SHIM_SOCKET_ACTION_FAIL_AFTER");

    *(void **)&real = dlsym(RTLD_NEXT, "curl_multi_socket_action");
    if (after > 0 && ++calls > after)
        return CURLM_INTERNAL_ERROR;
    return real(m, s, ev, running);
}

int uv_poll_start(uv_poll_t *h, int events, uv_poll_cb cb)
{
    int (*real)(uv_poll_t *, int, uv_poll_cb);
    static _Atomic long calls;
    long at = env_long("AB_SHIM_POLL_START_FAIL_AT");

    *(void **)&real = dlsym(RTLD_NEXT, "uv_poll_start");
    if (at > 0 && ++calls == at)
        return UV_ENOMEM;
    return real(h, events, cb);
}

int uv_loop_init(uv_loop_t *loop)
{
    int (*real)(uv_loop_t *);
    static _Atomic long calls;
    long at = env_long("AB_SHIM_LOOP_INIT_FAIL_AT");

    *(void **)&real = dlsym(RTLD_NEXT, "uv_loop_init");
    if (at > 0 && ++calls == at)
        return UV_ENOMEM;
    return real(loop);
}
