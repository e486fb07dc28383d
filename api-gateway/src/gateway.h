/* gateway.h -- the composition root: settings in, a running gateway out.
 * main.c loads the settings from the environment; the integration tests
 * build them directly and run the gateway in-process. */
#ifndef GATEWAY_GATEWAY_H
#define GATEWAY_GATEWAY_H

#include "domain/api_keys.h"
#include "domain/gateway_routes.h"
#include "domain/upstream_pool.h"
#include "oms/config.h"
#include "oms/err.h"

typedef struct gateway_settings {
    int port;
    const char *bind_address; /* NULL: all interfaces */
    int http_threads;
    upstream_pool pools[GATEWAY_SERVICE_COUNT];
    api_key_set api_keys; /* count 0: off */
    long rate_limit_rps;  /* 0: off */
    int upstream_timeout_ms;
} gateway_settings;

typedef struct gateway gateway;

/* Contributes the gateway's rows to the process's settings table, loaded
 * into `s` (a bad value stops the process with one line naming it, exit 2). */
void gateway_settings_add(oms_settings *t, gateway_settings *s);

/* Starts serving; NULL with err filled (port in use, out of memory).
 * `s` is copied. */
gateway *gateway_start(const gateway_settings *s, oms_error *err);

/* Stops the server (letting requests in flight finish) and frees all. */
void gateway_stop(gateway *g);

/* TCP connections the gateway has opened to services so far. */
unsigned long long gateway_upstream_connections(gateway *g);

#endif
