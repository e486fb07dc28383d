/* fake_http.c -- oms_http_query and oms_http_header over a fake_http_state. */
#include "fake_http.h"

#include <string.h>
#include <strings.h>

/* Like libmicrohttpd: the first field of that name; names of query arguments
 * compare exactly, header names without case. */
const char *oms_http_query(const oms_http_request *req, const char *name)
{
    const fake_http_state *st = req->internal;
    for (int i = 0; i < st->query_count; i++)
        if (strcmp(st->query[i].name, name) == 0)
            return st->query[i].value;
    return NULL;
}

const char *oms_http_header(const oms_http_request *req, const char *name)
{
    const fake_http_state *st = req->internal;
    for (int i = 0; i < st->header_count; i++)
        if (strcasecmp(st->headers[i].name, name) == 0)
            return st->headers[i].value;
    return NULL;
}
