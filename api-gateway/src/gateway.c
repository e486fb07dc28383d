/* gateway.c -- builds the adapters and plugs them into the application:
 * the only file (with main.c) that knows every concrete adapter. */
#include "gateway.h"

#include <stdio.h>
#include <stdlib.h>

#include "adapters/curl_upstream.h"
#include "adapters/http_api.h"
#include "adapters/system_clock.h"
#include "application/admission.h"
#include "application/proxy.h"
#include "oms/config.h"
#include "oms/http.h"

#define GRACE_MS 5000

struct gateway {
    gateway_settings settings;
    upstream_client *client;
    proxy proxy;
    admission admission;
    gateway_http http;
    oms_http_server *server;
};

static oms_err parse_pool(const char *value, void *pool, oms_error *err)
{
    return upstream_pool_parse(pool, value, err);
}

static oms_err parse_api_keys(const char *value, void *keys, oms_error *err)
{
    return api_key_set_parse(keys, value, err);
}

#define URLS "comma-separated http:// URLs, tried in turn"

void gateway_settings_add(oms_settings *t, gateway_settings *s)
{
    s->bind_address = NULL;
    const oms_setting rows[] = {
        {.name = "PORT", .kind = OMS_SETTING_INT, .fallback = "8080", .min = 1, .max = 65535, .target = &s->port,
         .doc = "Port of the HTTP server."},
        {.name = "HTTP_THREADS", .kind = OMS_SETTING_INT, .fallback = "16", .min = 1, .max = 1024,
         .target = &s->http_threads, .doc = "HTTP worker threads."},
        {.name = "ORDER_SERVICE_URL", .kind = OMS_SETTING_PARSED, .fallback = "http://localhost:8001",
         .parse = parse_pool, .bounds = URLS, .target = &s->pools[GATEWAY_ORDER_SERVICE],
         .doc = "order-service instances."},
        {.name = "INVENTORY_SERVICE_URL", .kind = OMS_SETTING_PARSED, .fallback = "http://localhost:8002",
         .parse = parse_pool, .bounds = URLS, .target = &s->pools[GATEWAY_INVENTORY_SERVICE],
         .doc = "inventory-service instances."},
        {.name = "PAYMENT_SERVICE_URL", .kind = OMS_SETTING_PARSED, .fallback = "http://localhost:8003",
         .parse = parse_pool, .bounds = URLS, .target = &s->pools[GATEWAY_PAYMENT_SERVICE],
         .doc = "payment-service instances."},
        {.name = "API_KEYS", .kind = OMS_SETTING_PARSED, .parse = parse_api_keys, .bounds = "comma-separated keys",
         .target = &s->api_keys, .flags = OMS_SETTING_SECRET,
         .doc = "Keys a client must send in X-API-Key; unset: no key needed."},
        {.name = "RATE_LIMIT_RPS", .kind = OMS_SETTING_LONG, .fallback = "0", .min = 0, .max = TOKEN_BUCKET_MAX_RATE,
         .target = &s->rate_limit_rps, .doc = "Requests per second per client; 0: no limit."},
        {.name = "UPSTREAM_TIMEOUT_MS", .kind = OMS_SETTING_INT, .fallback = "5000", .min = 1, .max = 600000,
         .target = &s->upstream_timeout_ms, .doc = "How long a request to a service may take."},
    };
    oms_settings_add(t, "api-gateway", rows, sizeof rows / sizeof rows[0]);
}

gateway *gateway_start(const gateway_settings *s, oms_error *err)
{
    gateway *g = calloc(1, sizeof *g);
    if (!g) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    g->settings = *s;
    g->client = curl_upstream_create(s->http_threads + 4, err);
    if (!g->client) {
        free(g);
        return NULL;
    }
    if (admission_init(&g->admission, &g->settings.api_keys, s->rate_limit_rps, system_clock()) != OMS_OK) {
        curl_upstream_destroy(g->client);
        free(g);
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory for the rate limiter");
        return NULL;
    }
    proxy_init(&g->proxy, g->settings.pools, g->client, system_clock(), s->upstream_timeout_ms);
    oms_http_config cfg = {.bind_address = s->bind_address, .port = s->port, .threads = s->http_threads};
    gateway_http_configure(&g->http, &g->proxy, &g->admission, &cfg);
    g->server = oms_http_server_start(&cfg, err);
    if (!g->server) {
        proxy_destroy(&g->proxy);
        admission_destroy(&g->admission);
        curl_upstream_destroy(g->client);
        free(g);
        return NULL;
    }
    return g;
}

void gateway_stop(gateway *g)
{
    if (!g)
        return;
    oms_http_server_stop(g->server, GRACE_MS);
    proxy_destroy(&g->proxy);
    admission_destroy(&g->admission);
    curl_upstream_destroy(g->client);
    free(g);
}

unsigned long long gateway_upstream_connections(gateway *g)
{
    return (unsigned long long)curl_upstream_connections_opened(g->client);
}
