/* gateway_routes.c -- the route table of SPEC 2 with the roles of SPEC 7.
 *
 * Customers may read the catalog (they need the prices) and their own
 * orders, sagas, account and payments; the services check, where the data
 * lives, that an order or payment is the customer's own. */
#include "gateway_routes.h"

#include <string.h>

#define CUSTOMER ROLES_CUSTOMER
#define VIEWER ROLES_VIEWER
#define OPERATOR ROLES_OPERATOR
#define ADMIN ROLES_ADMIN

#define ORDERS GATEWAY_ORDER_SERVICE
#define INVENTORY GATEWAY_INVENTORY_SERVICE
#define PAYMENTS GATEWAY_PAYMENT_SERVICE
#define AT_ONCE ROUTE_ANSWERS_AT_ONCE

const gateway_route gateway_routes[] = {
    {"POST", "/orders", ORDERS, "create_order", CUSTOMER | ADMIN, -1, NULL, "customer_id", AT_ONCE},
    {"GET", "/orders", ORDERS, "list_orders", CUSTOMER | VIEWER, -1, "customer_id", NULL, AT_ONCE},
    {"GET", "/orders/{}", ORDERS, "get_order", CUSTOMER | VIEWER, -1, NULL, NULL, ROUTE_WAITS_WHEN_ASKED},
    {"GET", "/orders/{}/events", ORDERS, "get_order_events", CUSTOMER | VIEWER, -1, NULL, NULL, ROUTE_WAITS},
    {"GET", "/orders/{}/timeline", ORDERS, GATEWAY_TIMELINE_ROUTE, CUSTOMER | VIEWER, -1, NULL, NULL, AT_ONCE},
    {"POST", "/orders/{}/cancel", ORDERS, "cancel_order", CUSTOMER | OPERATOR, -1, NULL, NULL, AT_ONCE},
    {"GET", "/orders/{}/saga", ORDERS, "get_order_saga", CUSTOMER | VIEWER, -1, NULL, NULL, AT_ONCE},
    {"GET", "/customers/{}/orders", ORDERS, "get_customer_orders", CUSTOMER | VIEWER, 0, NULL, NULL, AT_ONCE},
    {"GET", "/sagas", ORDERS, "list_sagas", VIEWER, -1, NULL, NULL, AT_ONCE},
    {"POST", "/sagas/{}/actions", ORDERS, "saga_action", OPERATOR, -1, NULL, NULL, AT_ONCE},
    {"GET", "/dead-letters", ORDERS, "list_dead_letters", VIEWER, -1, NULL, NULL, AT_ONCE},
    {"POST", "/dead-letters/redrive", ORDERS, "redrive_dead_letters", OPERATOR, -1, NULL, NULL, AT_ONCE},
    {"POST", "/dead-letters/{}/discard", ORDERS, "discard_dead_letter", OPERATOR, -1, NULL, NULL, AT_ONCE},
    {"POST", "/sagas/bulk", ORDERS, "bulk_sagas", OPERATOR, -1, NULL, NULL, AT_ONCE},
    {"GET", "/jobs", ORDERS, "list_jobs", VIEWER, -1, NULL, NULL, AT_ONCE},
    {"GET", "/jobs/{}", ORDERS, "get_job", VIEWER, -1, NULL, NULL, AT_ONCE},
    {"POST", "/jobs/{}/stop", ORDERS, "stop_job", OPERATOR, -1, NULL, NULL, AT_ONCE},
    {"POST", "/products", INVENTORY, "create_product", ADMIN, -1, NULL, NULL, AT_ONCE},
    {"GET", "/products", INVENTORY, "list_products", CUSTOMER | VIEWER, -1, NULL, NULL, AT_ONCE},
    {"GET", "/products/{}", INVENTORY, "get_product", CUSTOMER | VIEWER, -1, NULL, NULL, AT_ONCE},
    {"PUT", "/products/{}/price", INVENTORY, "set_product_price", ADMIN, -1, NULL, NULL, AT_ONCE},
    {"POST", "/products/{}/stock", INVENTORY, "restock_product", ADMIN, -1, NULL, NULL, AT_ONCE},
    {"GET", "/reservations", INVENTORY, "get_reservations", VIEWER, -1, NULL, NULL, AT_ONCE},
    {"POST", "/accounts", PAYMENTS, "create_account", ADMIN, -1, NULL, NULL, AT_ONCE},
    {"GET", "/accounts/{}", PAYMENTS, "get_account", CUSTOMER | VIEWER, 0, NULL, NULL, AT_ONCE},
    {"GET", "/payments", PAYMENTS, "get_payments", CUSTOMER | VIEWER, -1, NULL, NULL, AT_ONCE},
    {"GET", "/audit", GATEWAY_ALL, "list_audit", VIEWER, -1, NULL, NULL, AT_ONCE},
    {"POST", "/reconciliation/run", GATEWAY_SELF, "run_reconciliation", OPERATOR, -1, NULL, NULL, AT_ONCE},
    {"GET", "/reconciliation", GATEWAY_SELF, "get_reconciliation", VIEWER, -1, NULL, NULL, AT_ONCE},
    {"GET", "/openapi.yaml", GATEWAY_SELF, "openapi", CUSTOMER | VIEWER, -1, NULL, NULL, AT_ONCE},
    {"GET", "/console", GATEWAY_SELF, "console", CUSTOMER | VIEWER, -1, NULL, NULL, AT_ONCE},
    {"GET", "/console/{}", GATEWAY_SELF, "console_asset", CUSTOMER | VIEWER, -1, NULL, NULL, AT_ONCE},
    {"GET", "/whoami", GATEWAY_SELF, "whoami", CUSTOMER | VIEWER, -1, NULL, NULL, AT_ONCE},
};
const size_t gateway_route_count = sizeof gateway_routes / sizeof gateway_routes[0];

const char *gateway_service_name(gateway_service s)
{
    static const char *const names[] = {
        [GATEWAY_ORDER_SERVICE] = "order-service",
        [GATEWAY_INVENTORY_SERVICE] = "inventory-service",
        [GATEWAY_PAYMENT_SERVICE] = "payment-service",
        [GATEWAY_SELF] = "api-gateway",
        [GATEWAY_ALL] = "all-services",
    };
    if ((unsigned)s > GATEWAY_ALL)
        return "unknown";
    return names[s];
}

bool gateway_path_is_public(const char *path)
{
    static const char *const open_paths[] = {"/health", "/ready", "/metrics", "/openapi.yaml", "/console"};
    /* The console's files hold no data: its API calls carry the credential. */
    if (strncmp(path, "/console/", 9) == 0)
        return true;
    for (size_t i = 0; i < sizeof open_paths / sizeof open_paths[0]; i++)
        if (strcmp(path, open_paths[i]) == 0)
            return true;
    return false;
}
