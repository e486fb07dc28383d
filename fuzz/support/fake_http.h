/* fake_http.h -- a request without a server, for the fuzz targets that drive
 * the services' route handlers.
 *
 * lib/oms/http.c is compiled for these targets with oms_http_query and
 * oms_http_header renamed (see fuzz/fuzz.mk), so everything else a handler
 * uses (the JSON body parser, the response builders) is the real code; only
 * the two accessors that need a libmicrohttpd connection come from here, and
 * read the request's `internal` pointer as a fake_http_state. */
#ifndef FUZZ_FAKE_HTTP_H
#define FUZZ_FAKE_HTTP_H

#include "oms/http.h"

#define FAKE_HTTP_MAX_FIELDS 16

typedef struct fake_http_field {
    const char *name;
    const char *value;
} fake_http_field;

typedef struct fake_http_state {
    fake_http_field query[FAKE_HTTP_MAX_FIELDS];
    int query_count;
    fake_http_field headers[FAKE_HTTP_MAX_FIELDS];
    int header_count;
} fake_http_state;

#endif
