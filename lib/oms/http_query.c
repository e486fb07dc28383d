/* http_query.c -- query parameter helpers built on the request accessors of
 * http.c. Kept apart from http.c so that they call whatever implements
 * oms_http_query: libmicrohttpd in the services, the fake request of the
 * fuzz targets (fuzz/fuzz.mk) there. */
#include <stdio.h>

#include "http.h"
#include "util.h"

const char *oms_http_query_uuid(oms_http_request *req, oms_http_response *res, const char *name)
{
    const char *value = oms_http_query(req, name);
    if (!value || value[0] == '\0') {
        char message[128];
        snprintf(message, sizeof message, "%s is required", name);
        oms_http_respond_error(req, res, 400, "invalid_argument", message, name);
        return NULL;
    }
    if (!oms_uuid_valid(value)) {
        char message[128];
        snprintf(message, sizeof message, "%s must be a UUID", name);
        oms_http_respond_error(req, res, 400, "invalid_argument", message, name);
        return NULL;
    }
    return value;
}
