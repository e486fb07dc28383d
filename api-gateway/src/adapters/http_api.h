/* http_api.h -- the gateway's HTTP face: the route table handed to the
 * lib/oms server, the admit hook (API keys, rate limit), readiness, and the
 * proxy handler that maps proxy outcomes to SPEC error bodies. */
#ifndef GATEWAY_HTTP_API_H
#define GATEWAY_HTTP_API_H

#include <stddef.h>

#include "../application/admission.h"
#include "../application/proxy.h"
#include "oms/http.h"

typedef struct gateway_http {
    proxy *proxy;         /* not owned */
    admission *admission; /* not owned */
    oms_http_route routes[32];
    size_t route_count;
} gateway_http;

/* Fills `g` and `cfg` (routes, ctx, ready, admit); the caller sets the
 * port, threads and bind address. `g` must outlive the server. */
void gateway_http_configure(gateway_http *g, proxy *p, admission *a, oms_http_config *cfg);

#endif
