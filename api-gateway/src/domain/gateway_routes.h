/* gateway_routes.h -- which service answers which request (SPEC section 2).
 *
 * The one table of the gateway's public API: the HTTP adapter registers
 * every row with the server (which answers 404/405 for the rest) and the
 * proxy looks the service of a request up here. Patterns use the server's
 * syntax: "{}" matches one non-empty path segment. */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

#include <stddef.h>

typedef enum {
    GATEWAY_ORDER_SERVICE = 0,
    GATEWAY_INVENTORY_SERVICE,
    GATEWAY_PAYMENT_SERVICE,
    GATEWAY_SERVICE_COUNT,
    GATEWAY_SELF = GATEWAY_SERVICE_COUNT /* answered by the gateway itself */
} gateway_service;

typedef struct gateway_route {
    const char *method;
    const char *pattern;
    gateway_service service;
    const char *name; /* label for logs and metrics */
} gateway_route;

typedef enum { GATEWAY_ROUTE_FOUND, GATEWAY_ROUTE_WRONG_METHOD, GATEWAY_ROUTE_NOT_FOUND } gateway_route_match;

/* The table, in a stable order. */
extern const gateway_route gateway_routes[];
extern const size_t gateway_route_count;

/* "order-service", "inventory-service", "payment-service", "api-gateway". */
const char *gateway_service_name(gateway_service s);

/* Finds the route of `method` and `path` (no query string). FOUND sets
 * *out; WRONG_METHOD when the path exists for other methods only. */
gateway_route_match gateway_route_lookup(const char *method, const char *path, const gateway_route **out);

/* Whether `path` matches `pattern` segment by segment. */
int gateway_route_pattern_matches(const char *pattern, const char *path);

#endif
