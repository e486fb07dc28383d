/* gateway_routes.c -- the route table of SPEC section 2 and its lookup. */
#include "gateway_routes.h"

#include <string.h>

const gateway_route gateway_routes[] = {
    {"POST", "/orders", GATEWAY_ORDER_SERVICE, "create_order"},
    {"GET", "/orders", GATEWAY_ORDER_SERVICE, "list_orders"},
    {"GET", "/orders/{}", GATEWAY_ORDER_SERVICE, "get_order"},
    {"POST", "/orders/{}/cancel", GATEWAY_ORDER_SERVICE, "cancel_order"},
    {"GET", "/orders/{}/saga", GATEWAY_ORDER_SERVICE, "get_order_saga"},
    {"GET", "/customers/{}/orders", GATEWAY_ORDER_SERVICE, "get_customer_orders"},
    {"GET", "/sagas", GATEWAY_ORDER_SERVICE, "list_sagas"},
    {"POST", "/products", GATEWAY_INVENTORY_SERVICE, "create_product"},
    {"GET", "/products", GATEWAY_INVENTORY_SERVICE, "list_products"},
    {"GET", "/products/{}", GATEWAY_INVENTORY_SERVICE, "get_product"},
    {"POST", "/products/{}/stock", GATEWAY_INVENTORY_SERVICE, "restock_product"},
    {"GET", "/reservations", GATEWAY_INVENTORY_SERVICE, "get_reservations"},
    {"POST", "/accounts", GATEWAY_PAYMENT_SERVICE, "create_account"},
    {"GET", "/accounts/{}", GATEWAY_PAYMENT_SERVICE, "get_account"},
    {"GET", "/payments", GATEWAY_PAYMENT_SERVICE, "get_payments"},
    {"GET", "/openapi.yaml", GATEWAY_SELF, "openapi"},
};
const size_t gateway_route_count = sizeof gateway_routes / sizeof gateway_routes[0];

const char *gateway_service_name(gateway_service s)
{
    static const char *const names[] = {
        [GATEWAY_ORDER_SERVICE] = "order-service",
        [GATEWAY_INVENTORY_SERVICE] = "inventory-service",
        [GATEWAY_PAYMENT_SERVICE] = "payment-service",
        [GATEWAY_SELF] = "api-gateway",
    };
    if ((unsigned)s > GATEWAY_SELF)
        return "unknown";
    return names[s];
}

/* Length of the segment at the start of s (up to '/' or the end). */
static size_t segment_length(const char *s)
{
    return strcspn(s, "/");
}

int gateway_route_pattern_matches(const char *pattern, const char *path)
{
    const char *p = pattern;
    const char *q = path;
    while (*p == '/' && *q == '/') {
        p++;
        q++;
        size_t plen = segment_length(p);
        size_t qlen = segment_length(q);
        int wildcard = plen == 2 && p[0] == '{' && p[1] == '}';
        if (wildcard ? qlen == 0 : (plen != qlen || memcmp(p, q, plen) != 0))
            return 0;
        p += plen;
        q += qlen;
    }
    return *p == '\0' && *q == '\0';
}

gateway_route_match gateway_route_lookup(const char *method, const char *path, const gateway_route **out)
{
    gateway_route_match result = GATEWAY_ROUTE_NOT_FOUND;
    for (size_t i = 0; i < gateway_route_count; i++) {
        if (!gateway_route_pattern_matches(gateway_routes[i].pattern, path))
            continue;
        if (strcmp(gateway_routes[i].method, method) == 0) {
            *out = &gateway_routes[i];
            return GATEWAY_ROUTE_FOUND;
        }
        result = GATEWAY_ROUTE_WRONG_METHOD;
    }
    return result;
}
