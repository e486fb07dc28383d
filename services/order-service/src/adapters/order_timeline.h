/* order_timeline.h -- GET /orders/{id}/timeline, order-service's part (issue
 * 13 item 1): the order's path as the rows that exist anyway tell it, in
 * time order -- the saga log, order-service's own handling of each message
 * (its inbox rows) and the order's dead letters -- with the trace id and, per
 * saga step, its attempts, duration and the saga's state before and after.
 * The gateway adds the participants' handling (their GET /internal/inbox)
 * from the `event_ids` listed here. Viewer and above, or the order's
 * customer (another's is 404, as for the order). */
#ifndef ORDER_TIMELINE_H
#define ORDER_TIMELINE_H

#include "application/queries.h"
#include "oms/bus.h"
#include "oms/http.h"
#include "oms/pg.h"

typedef struct order_timeline_deps {
    order_queries *queries;
    oms_pg_pool *read_pool; /* its inbox rows (order-service's own database) */
    oms_bus *bus;           /* dead letters (NULL or a transport without them: none listed) */
} order_timeline_deps;

void order_timeline(const order_timeline_deps *d, oms_http_request *req, oms_http_response *res);

#endif
