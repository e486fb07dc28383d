/* order_waits.h -- clients wait for the end of an order without a polling
 * loop (issue 13 item 3): GET /orders/{id}?wait=final&timeout_s=N (a long
 * poll) and GET /orders/{id}/events (server-sent events of its status
 * changes). A waiting request is parked in the process's waiting room
 * (oms/http_wait.h) and holds no thread; the room's thread reads the order
 * again every ORDER_WAIT_INTERVAL_MS. Ownership is the queries' (a customer
 * waits only on its own order; another's is 404). */
#ifndef ORDER_WAITS_H
#define ORDER_WAITS_H

#include "application/queries.h"
#include "oms/http.h"
#include "oms/http_wait.h"

#define ORDER_WAIT_INTERVAL_MS 200
#define ORDER_WAIT_MAX_S 30 /* the longest wait a client may ask for (timeout_s) */

/* GET /orders/{id} with ?wait=final: answers the order once it is settled
 * (INVENTORY_CONFIRMED, FAILED or CANCELLED: no step in progress), or as it
 * is when timeout_s (0..30, default 30) passes. Without `wait` the caller
 * answers as always. */
void order_wait_final(order_queries *q, oms_http_waits *room, oms_http_request *req, oms_http_response *res);

/* GET /orders/{id}/events: text/event-stream of the status changes after
 * the Last-Event-ID header (or ?last_event_id; none: from the first, CREATED),
 * each once and in order (the id is the saga log's seq; 0 for CREATED). The
 * answer holds the changes there are as soon as there is at least one, or
 * none at timeout_s (default 30), and then ends: an EventSource reconnects
 * with Last-Event-ID (retry: 500 ms). When the order has ended (FAILED or
 * CANCELLED) and every change was sent, an `end` event says so. */
void order_events(order_queries *q, oms_http_waits *room, oms_http_request *req, oms_http_response *res);

#endif
