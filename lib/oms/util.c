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

int64_t oms_now_ms(void) { return clock_ms(CLOCK_REALTIME); }

int64_t oms_monotonic_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

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

char *oms_utf8_trim_cut(char *s)
{
    size_t len = strlen(s);
    size_t lead = len;
    while (lead > 0 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80)
        lead--;
    if (lead == 0)
        return s; /* only continuation bytes (or empty): not ours to judge */
    unsigned char c = (unsigned char)s[lead - 1];
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (len - (lead - 1) < need)
        s[lead - 1] = '\0';
    return s;
}
