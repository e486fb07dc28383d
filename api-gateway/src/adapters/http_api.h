/* http_api.h -- the gateway's HTTP face: the route table handed to the
 * lib/oms server (each row carrying its gateway_route), the admit hook
 * (credentials, rate limit, path checks), the authorization of each route
 * (SPEC 7), and the proxy handler that passes the verified principal on and
 * maps proxy outcomes to SPEC error bodies. */
#ifndef GATEWAY_HTTP_API_H
#define GATEWAY_HTTP_API_H

#include <stdatomic.h>
#include <stddef.h>

#include "../application/admission.h"
#include "../application/proxy.h"
#include "reconciler.h"
#include "oms/http.h"

typedef struct gateway_http {
    reconciler *reconciler;   /* POST /reconciliation/run, GET /reconciliation; not owned */
    proxy *proxy;             /* not owned */
    admission *admission;     /* not owned */
    const char *internal_key; /* sent as X-OMS-Internal-Key; NULL: none; not owned */
    /* Requests that wait (long polls, server-sent events) hold a handler
     * thread each for up to GATEWAY_WAIT_MS: at most max_waiting at once
     * (half the handler threads), more get 503 with Retry-After. */
    int max_waiting;
    _Atomic int waiting;
    oms_http_route routes[64];
    size_t route_count;
} gateway_http;

/* Fills `g` and `cfg` (routes, ctx, admit, own request ids); the caller sets
 * the port, threads and bind address. `g` must outlive the server.
 * `handler_threads` is the server's (HTTP_THREADS): the waiting requests'
 * bound is half of it. */
void gateway_http_configure(gateway_http *g, proxy *p, admission *a, const char *internal_key, int handler_threads,
                            oms_http_config *cfg);

#endif
