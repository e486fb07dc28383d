/* http_driver.h -- runs one route handler on a request made from fuzz input.
 *
 * Input layout (text, so that seed files are easy to write and read):
 *   byte 0   the route, as an index into the route table (modulo its size)
 *   line 1   the value of the route's {} path segment ("" gives "x")
 *   line 2   the query string: name=value pairs joined by '&', taken as
 *            already decoded (the server decodes before the handler runs)
 *   line 3   the Idempotency-Key header value; an empty line: no header
 *   rest     the body (at most OMS_HTTP_MAX_BODY bytes, like the server)
 *
 * The handler must answer (status set), never with a 5xx, and with a body
 * that is JSON; an error answer must be the SPEC error body
 * {"error":{"code":str,"message":str,"field":str|null}}. Anything else aborts
 * with the route, the status and the body, which libFuzzer reports as a
 * crash with the input saved. */
#ifndef FUZZ_HTTP_DRIVER_H
#define FUZZ_HTTP_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "oms/http.h"

void http_drive(const oms_http_route *routes, size_t route_count, void *ctx, const uint8_t *data, size_t size);

#endif
