/* order_parked_routes.c -- the fuzz build's answer for order-service's three
 * routes that cannot run without a server or a database: the long poll
 * (GET /orders/{id}?wait=final) and the event stream (GET /orders/{id}/events)
 * park the request in the HTTP server's waiting room, and the timeline
 * (GET /orders/{id}/timeline) reads the inbox and audit tables through
 * PostgreSQL. The http_order target drives http_api.c's handlers over the
 * in-memory adapters, with neither, so these answer 501 here; the black-box
 * suite (tests/blackbox/test_wait.py, test_timeline.py) covers them on a
 * running system. Linked into the fuzz target only. */
#include "adapters/order_timeline.h"
#include "adapters/order_waits.h"

static void not_in_the_fuzz_build(oms_http_request *req, oms_http_response *res)
{
    oms_http_respond_error(req, res, 501, "not_in_fuzz_build", "this route needs a server or a database", NULL);
}

void order_wait_final(order_queries *q, oms_http_waits *room, oms_http_request *req, oms_http_response *res)
{
    (void)q, (void)room;
    not_in_the_fuzz_build(req, res);
}

void order_events(order_queries *q, oms_http_waits *room, oms_http_request *req, oms_http_response *res)
{
    (void)q, (void)room;
    not_in_the_fuzz_build(req, res);
}

void order_timeline(const order_timeline_deps *d, oms_http_request *req, oms_http_response *res)
{
    (void)d;
    not_in_the_fuzz_build(req, res);
}
