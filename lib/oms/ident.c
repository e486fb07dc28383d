/* ident.c -- see ident.h. */
#include "ident.h"

#include <string.h>

static bool is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == ':' || c == '-';
}

bool oms_ident_valid(const char *value, size_t max)
{
    if (!value || value[0] == '\0')
        return false;
    size_t len = strnlen(value, max + 1);
    if (len > max || strcmp(value, ".") == 0 || strcmp(value, "..") == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_ident_char(value[i]))
            return false;
    }
    return true;
}

oms_err oms_ident_check(const char *value, size_t max, const char *field, oms_error *err)
{
    if (oms_ident_valid(value, max))
        return OMS_OK;
    return oms_error_set(err, OMS_EINVAL, field, "%s must be 1 to %zu of " OMS_IDENT_CHARS ", and not \".\" or \"..\"",
                         field, max);
}
