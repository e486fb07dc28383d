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

static void read_pool(const char *name, const char *fallback, upstream_pool *pool)
{
    const char *value = oms_config_str(name, fallback);
    oms_error err;
    oms_error_clear(&err);
    if (upstream_pool_parse(pool, value, &err) != OMS_OK)
        oms_config_fail(name, value, err.message);
}

void gateway_settings_from_env(gateway_settings *s)
{
    s->port = (int)oms_config_long("PORT", 8080, 1, 65535);
    s->bind_address = NULL;
    s->http_threads = (int)oms_config_long("HTTP_THREADS", 16, 1, 1024);
    read_pool("ORDER_SERVICE_URL", "http://localhost:8001", &s->pools[GATEWAY_ORDER_SERVICE]);
    read_pool("INVENTORY_SERVICE_URL", "http://localhost:8002", &s->pools[GATEWAY_INVENTORY_SERVICE]);
    read_pool("PAYMENT_SERVICE_URL", "http://localhost:8003", &s->pools[GATEWAY_PAYMENT_SERVICE]);
    const char *keys = oms_config_str("API_KEYS", NULL);
    oms_error err;
    oms_error_clear(&err);
    if (api_key_set_parse(&s->api_keys, keys, &err) != OMS_OK)
        oms_config_fail("API_KEYS", NULL, err.message); /* the keys are secrets: not echoed */
    s->rate_limit_rps = oms_config_long("RATE_LIMIT_RPS", 0, 0, TOKEN_BUCKET_MAX_RATE);
    s->upstream_timeout_ms = (int)oms_config_long("UPSTREAM_TIMEOUT_MS", 5000, 1, 600000);
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
