/* http_api.h -- the order API of SPEC section 2 over lib/oms/http.h. */
#ifndef ORDER_HTTP_API_H
#define ORDER_HTTP_API_H

#include <stddef.h>

#include "application/commands.h"
#include "application/jobs.h"
#include "application/queries.h"
#include "oms/http.h"
#include "adapters/order_timeline.h"
#include "oms/http_wait.h"

typedef struct http_api {
    order_app *app;
    order_queries *queries;
    oms_http_waits *waits; /* long polls and server-sent events (order_waits.h) */
    job_service *jobs;     /* dead letters and bulk jobs (adapters/http_ops.c) */
    order_timeline_deps timeline;
} http_api;

/* The route table; handlers take an http_api as ctx. */
const oms_http_route *http_api_routes(size_t *count);

#endif
