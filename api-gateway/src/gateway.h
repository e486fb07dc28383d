/* gateway.h -- the composition root: settings in, a running gateway out.
 * main.c loads the settings from the environment; the integration tests
 * build them directly and run the gateway in-process. */
#ifndef GATEWAY_GATEWAY_H
#define GATEWAY_GATEWAY_H

#include <stdbool.h>

#include "adapters/jwt_verifier.h"
#include "domain/api_keys.h"
#include "domain/gateway_routes.h"
#include "domain/upstream_pool.h"
#include "oms/config.h"
#include "oms/err.h"
#include "oms/http.h"

typedef struct gateway_settings {
    int port;
    const char *bind_address; /* NULL: all interfaces */
    oms_http_limits http;     /* HTTP_*: threads, connection caps, deadlines */
    oms_http_tls tls;         /* TLS_CERT_FILE, TLS_KEY_FILE: HTTPS when set */
    upstream_pool pools[GATEWAY_SERVICE_COUNT];
    const char *upstream_ca_file; /* NULL: the system's CA certificates */
    int upstream_timeout_ms;
    /* Credential sources (SPEC 7); with none at all, only a local run
     * starts, and it serves every request as admin. */
    api_key_set api_keys;     /* count 0: none */
    jwt_keys jwt;             /* NULL members: none */
    const char *jwt_issuer;   /* NULL: not checked */
    const char *jwt_audience; /* NULL: not checked */
    long jwt_leeway_s;
    int local_run;                 /* 1: OMS_LOCAL_RUN=1 (scripts/oms.sh) */
    const char *internal_key;      /* sent to the services as X-OMS-Internal-Key; NULL: none */
    long rate_limit_rps;           /* 0: off */
    int reconciliation_interval_s; /* RECONCILIATION_INTERVAL_S; 0: only on request */
} gateway_settings;

typedef struct gateway gateway;

/* Contributes the gateway's rows to the process's settings table, loaded
 * into `s` (a bad value stops the process with one line naming it, exit 2). */
void gateway_settings_add(oms_settings *t, gateway_settings *s);

/* The checks across the loaded settings, the same way: outside a local run
 * a credential source and INTERNAL_API_KEY are required; a JWT key must be
 * usable. */
void gateway_settings_check(const gateway_settings *s);

/* Starts serving; NULL with err filled (port in use, bad key, out of
 * memory, no credential source outside a local run). `s` is copied; the
 * strings it points to must outlive the gateway. */
gateway *gateway_start(const gateway_settings *s, oms_error *err);

/* Stops the server (letting requests in flight finish) and frees all. */
void gateway_stop(gateway *g);

/* TCP connections the gateway has opened to services so far. */
unsigned long long gateway_upstream_connections(gateway *g);

#endif
