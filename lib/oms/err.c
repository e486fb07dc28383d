/* err.c -- names of the error codes and the error detail setter. */
#include "err.h"

#include <stdio.h>
#include <string.h>

const char *oms_err_name(oms_err code)
{
    static const char *const names[] = {
        [OMS_OK] = "ok",
        [OMS_EINVAL] = "invalid_argument",
        [OMS_ENOTFOUND] = "not_found",
        [OMS_EFORBIDDEN] = "forbidden",
        [OMS_ECONFLICT] = "conflict",
        [OMS_EBUSY] = "busy",
        [OMS_ETOOLARGE] = "payload_too_large",
        [OMS_EUNSUPPORTED] = "unsupported",
        [OMS_EUNAVAILABLE] = "unavailable",
        [OMS_ETIMEOUT] = "timeout",
        [OMS_ENOMEM] = "out_of_memory",
        [OMS_EINTERNAL] = "internal",
    };
    if ((unsigned)code >= sizeof names / sizeof names[0] || !names[code])
        return "internal";
    return names[code];
}

oms_err oms_error_set(oms_error *e, oms_err code, const char *field, const char *fmt, ...)
{
    if (!e)
        return code;
    e->code = code;
    e->reason[0] = '\0';
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return code;
}

oms_err oms_error_reason(oms_error *e, oms_err code, const char *reason)
{
    if (!e)
        return code;
    snprintf(e->reason, sizeof e->reason, "%s", reason ? reason : "");
    return e->code;
}

void oms_error_clear(oms_error *e)
{
    if (!e)
        return;
    e->code = OMS_OK;
    e->field[0] = '\0';
    e->message[0] = '\0';
    e->reason[0] = '\0';
}
