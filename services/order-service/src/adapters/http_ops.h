/* http_ops.h -- the operators' API of order-service over lib/oms/http.h:
 * dead letters and bulk jobs (issue 12 items 4, 5; docs/architecture.md,
 * "Dead letters", "Bulk jobs"). */
#ifndef ORDER_HTTP_OPS_H
#define ORDER_HTTP_OPS_H

#include <stddef.h>

#include "application/jobs.h"
#include "oms/http.h"

/* The routes; handlers take the http_api (adapters/http_api.h) as ctx. */
const oms_http_route *http_ops_routes(size_t *count);

#endif
