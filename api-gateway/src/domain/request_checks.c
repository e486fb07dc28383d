/* request_checks.c -- see request_checks.h. */
#include "request_checks.h"

#include <string.h>

static bool segment_is_refused(const char *segment, size_t len)
{
    return len == 0 || (len == 1 && segment[0] == '.') || (len == 2 && segment[0] == '.' && segment[1] == '.');
}

bool request_path_is_canonical(const char *path)
{
    if (path[0] != '/')
        return false;
    if (path[1] == '\0')
        return true;
    for (const char *p = path + 1;;) {
        size_t len = strcspn(p, "/");
        if (segment_is_refused(p, len))
            return false;
        if (p[len] == '\0')
            return true;
        p += len + 1;
    }
}

bool request_header_value_is_safe(const char *value)
{
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return false;
    return true;
}
