/* http_api.h -- payment-service's HTTP routes (SPEC section 2, Payments):
 * they parse and validate requests, call the application, and map results
 * to responses. The route table is handed to oms_http_server_start with a
 * payment_app as ctx. */
#ifndef PAYMENT_HTTP_API_H
#define PAYMENT_HTTP_API_H

#include <stddef.h>

#include "oms/http.h"

extern const oms_http_route payment_http_routes[];
extern const size_t payment_http_route_count;

#endif
