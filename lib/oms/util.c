/* util.c -- uuids (libuuid) and clocks. */
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

void oms_uuid_new(char out[OMS_UUID_LEN + 1])
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

bool oms_uuid_valid(const char *s)
{
    if (!s || strlen(s) != OMS_UUID_LEN)
        return false;
    for (int i = 0; i < OMS_UUID_LEN; i++) {
        bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash_position ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t oms_now_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

int64_t oms_monotonic_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

char *oms_time_format(int64_t epoch_ms, char *out, size_t out_len)
{
    time_t secs = (time_t)(epoch_ms / 1000);
    int millis = (int)(epoch_ms % 1000);
    if (millis < 0) {
        millis += 1000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return out;
}
