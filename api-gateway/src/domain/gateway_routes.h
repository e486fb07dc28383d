/* gateway_routes.h -- the gateway's public API (SPEC 2) and who may use
 * each route (SPEC 7).
 *
 * The one table: the HTTP adapter registers every row with the server, which
 * matches a request once and hands the handler its row (404/405 for the
 * rest). Patterns use the server's syntax: "{}" matches one non-empty path
 * segment. A row also says what a customer may reach through it: the
 * customer_id in the path, in the query or in the body must be its own. */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "principal.h"

typedef enum {
    GATEWAY_ORDER_SERVICE = 0,
    GATEWAY_INVENTORY_SERVICE,
    GATEWAY_PAYMENT_SERVICE,
    GATEWAY_SERVICE_COUNT,
    GATEWAY_SELF = GATEWAY_SERVICE_COUNT, /* answered by the gateway itself */
    GATEWAY_ALL                           /* asked of every service, the answers merged (GET /audit) */
} gateway_service;

typedef struct gateway_route {
    const char *method;
    const char *pattern;
    gateway_service service;
    const char *name;    /* label for logs and metrics */
    gateway_roles roles; /* who may use it */
    /* For a customer: the `{}` of the path that is a customer_id and must be
     * its own (404 otherwise), or -1. */
    int customer_param;
    /* For a customer: the query parameter set to its own customer_id
     * whatever it sent (lists are filtered by the principal), or NULL. */
    const char *customer_query;
    /* For a customer: the body field that, when present, must be its own
     * customer_id (403 otherwise), or NULL. */
    const char *customer_field;
    /* The service may hold the answer back until something happens (a long
     * poll, server-sent events): the gateway bounds how many such requests
     * wait at once and lets each wait longer than UPSTREAM_TIMEOUT_MS
     * (GATEWAY_WAIT_MS more). For a route that also answers at once, only
     * a request with the `wait` query parameter waits; else every one. */
    enum { ROUTE_ANSWERS_AT_ONCE = 0, ROUTE_WAITS_WHEN_ASKED, ROUTE_WAITS } waits;
} gateway_route;

/* The route whose answer the gateway completes (adapters/timeline.c). */
#define GATEWAY_TIMELINE_ROUTE "get_order_timeline"

/* The longest wait a service grants (order-service's ORDER_WAIT_MAX_S). */
#define GATEWAY_WAIT_MS 30000

/* The table, in a stable order. */
extern const gateway_route gateway_routes[];
extern const size_t gateway_route_count;

/* "order-service", "inventory-service", "payment-service", "api-gateway",
 * "all-services". */
const char *gateway_service_name(gateway_service s);

/* Whether `path` is served to anyone, without a credential: GET /health,
 * /ready, /metrics, /openapi.yaml and the console's static files, /console
 * and /console/<file> (SPEC 7). */
bool gateway_path_is_public(const char *path);

#endif
