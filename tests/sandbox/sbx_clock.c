#include "sbx_clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t offset_ms;

void sbx_clock_set_offset(int64_t ms)
{
    offset_ms = ms;
}

int64_t sbx_clock_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset_ms;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int sbx_clock_http_date(int64_t unix_ms, char out[SBX_HTTP_DATE_LEN + 1])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)floor_div(unix_ms, 1000);
    struct tm tm;

    out[0] = '\0';
    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 ||
        tm.tm_year + 1900 > 9999)
        return -1;
    snprintf(out, SBX_HTTP_DATE_LEN + 1, "%s, %02d %s %04d %02d:%02d:%02d GMT",
             days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    return 0;
}

int sbx_clock_http_date_now(char out[SBX_HTTP_DATE_LEN + 1])
{
    static _Thread_local int64_t cached_sec = INT64_MIN;
    static _Thread_local char cached[SBX_HTTP_DATE_LEN + 1];
    int64_t sec = floor_div(sbx_clock_now_ms(), 1000);

    if (sec != cached_sec) {
        if (sbx_clock_http_date(sec * 1000, cached) != 0)
            return -1;
        cached_sec = sec;
    }
    memcpy(out, cached, sizeof cached);
    return 0;
}
