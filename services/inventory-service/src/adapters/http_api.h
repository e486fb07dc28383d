/* http_api.h -- inventory-service's HTTP routes (SPEC section 2, Inventory):
 * they parse and validate requests, call the application, and map results
 * to responses. The route table is handed to oms_http_server_start with an
 * inventory_app as ctx. */
#ifndef INVENTORY_HTTP_API_H
#define INVENTORY_HTTP_API_H

#include <stddef.h>

#include "oms/http.h"

extern const oms_http_route inventory_http_routes[];
extern const size_t inventory_http_route_count;

#endif
