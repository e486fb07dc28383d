/* gateway.c -- builds the adapters and plugs them into the application:
 * the only file (with main.c) that knows every concrete adapter. */
#include "gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/curl_upstream.h"
#include "adapters/http_api.h"
#include "adapters/reconciler.h"
#include "adapters/sha256_fingerprint.h"
#include "adapters/system_clock.h"
#include "application/admission.h"
#include "application/proxy.h"
#include "oms/config.h"
#include "oms/http.h"
#include "oms/log.h"

#define GRACE_MS 5000
#define PUBLIC_KEY_MAX (16 * 1024)
#define INTERNAL_KEY_MIN 16
/* Each handler thread proxies one request at a time and waits on a service:
 * enough to keep the three services' handler threads busy (docs/architecture.md,
 * "The gateway's pool size"). */
#define DEFAULT_HTTP_THREADS "64"

struct gateway {
    gateway_settings settings;
    upstream_client *client;
    token_verifier *tokens; /* NULL: no JWT key */
    proxy proxy;
    admission admission;
    gateway_http http;
    reconciler *reconciler;
    oms_http_server *server;
};

/* ---- settings ---- */

static oms_err parse_pool(const char *value, void *pool, oms_error *err)
{
    return upstream_pool_parse(pool, value, err);
}

static oms_err parse_api_keys(const char *value, void *keys, oms_error *err)
{
    return api_key_set_parse(keys, value, sha256_fingerprint, err);
}

static oms_err parse_hs256_secret(const char *value, void *keys, oms_error *err)
{
    jwt_keys *k = keys;
    k->hs256_secret = value;
    k->hs256_secret_len = value ? strlen(value) : 0;
    if (value && k->hs256_secret_len < JWT_HS256_SECRET_MIN)
        return oms_error_set(err, OMS_EINVAL, NULL, "must be at least %d bytes", JWT_HS256_SECRET_MIN);
    return OMS_OK;
}

/* The PEM is read here; whether it is a usable key, gateway_settings_check
 * says (it needs the JWT adapter). */
static oms_err parse_public_key_file(const char *path, void *keys, oms_error *err)
{
    jwt_keys *k = keys;
    k->public_key_pem = NULL;
    k->public_key_pem_len = 0;
    if (!path)
        return OMS_OK;
    FILE *f = fopen(path, "rb");
    if (!f)
        return oms_error_set(err, OMS_EINVAL, NULL, "cannot open the file");
    static char pem[PUBLIC_KEY_MAX + 1]; /* read once, at start */
    size_t n = fread(pem, 1, sizeof pem, f);
    fclose(f);
    if (n == 0 || n > PUBLIC_KEY_MAX)
        return oms_error_set(err, OMS_EINVAL, NULL, "the file is empty or larger than %d bytes", PUBLIC_KEY_MAX);
    pem[n] = '\0';
    k->public_key_pem = pem;
    k->public_key_pem_len = n;
    return OMS_OK;
}

static oms_err parse_internal_key(const char *value, void *key, oms_error *err)
{
    *(const char **)key = value;
    if (value && strlen(value) < INTERNAL_KEY_MIN)
        return oms_error_set(err, OMS_EINVAL, NULL, "must be at least %d characters", INTERNAL_KEY_MIN);
    return OMS_OK;
}

#define URLS "comma-separated http:// or https:// URLs, tried in turn"
#define SECRET_FLAGS (OMS_SETTING_SECRET | OMS_SETTING_FILE | OMS_SETTING_NO_PLACEHOLDER)

static void add_upstream_rows(oms_settings *t, gateway_settings *s)
{
    const oms_setting rows[] = {
        {.name = "ORDER_SERVICE_URL",
         .kind = OMS_SETTING_PARSED,
         .fallback = "http://localhost:8001",
         .parse = parse_pool,
         .bounds = URLS,
         .target = &s->pools[GATEWAY_ORDER_SERVICE],
         .doc = "order-service instances."},
        {.name = "INVENTORY_SERVICE_URL",
         .kind = OMS_SETTING_PARSED,
         .fallback = "http://localhost:8002",
         .parse = parse_pool,
         .bounds = URLS,
         .target = &s->pools[GATEWAY_INVENTORY_SERVICE],
         .doc = "inventory-service instances."},
        {.name = "PAYMENT_SERVICE_URL",
         .kind = OMS_SETTING_PARSED,
         .fallback = "http://localhost:8003",
         .parse = parse_pool,
         .bounds = URLS,
         .target = &s->pools[GATEWAY_PAYMENT_SERVICE],
         .doc = "payment-service instances."},
        {.name = "UPSTREAM_CA_FILE",
         .kind = OMS_SETTING_TEXT,
         .bounds = "a PEM file",
         .target = &s->upstream_ca_file,
         .doc = "CA certificates an https:// service must be signed by; unset: the system's."},
        {.name = "UPSTREAM_TIMEOUT_MS",
         .kind = OMS_SETTING_INT,
         .fallback = "5000",
         .min = 1,
         .max = 600000,
         .target = &s->upstream_timeout_ms,
         .doc = "How long a request to a service may take."},
        {.name = "RECONCILIATION_INTERVAL_S",
         .kind = OMS_SETTING_INT,
         .fallback = "300",
         .min = 0,
         .max = 86400,
         .target = &s->reconciliation_interval_s,
         .doc = "Seconds between two reconciliation runs (SPEC 6 across the services); 0: only on "
                "POST /reconciliation/run."},
        {.name = "INTERNAL_API_KEY",
         .kind = OMS_SETTING_PARSED,
         .parse = parse_internal_key,
         .bounds = "16 characters or more",
         .target = &s->internal_key,
         .flags = SECRET_FLAGS,
         .doc = "Sent to the services as X-OMS-Internal-Key; required outside a local run."},
    };
    oms_settings_add(t, "api-gateway", rows, sizeof rows / sizeof rows[0]);
}

static void add_credential_rows(oms_settings *t, gateway_settings *s)
{
    const oms_setting rows[] = {
        {.name = "OMS_LOCAL_RUN",
         .kind = OMS_SETTING_INT,
         .fallback = "0",
         .min = 0,
         .max = 1,
         .target = &s->local_run,
         .doc = "1 in a local run (scripts/oms.sh): without a credential source, every request is served as admin."},
        {.name = "API_KEYS",
         .kind = OMS_SETTING_PARSED,
         .parse = parse_api_keys,
         .bounds = "comma-separated key:role[:subject]",
         .target = &s->api_keys,
         .flags = SECRET_FLAGS,
         .doc = "API keys and the principal each stands for (role customer, viewer, operator or admin)."},
        {.name = "JWT_HS256_SECRET",
         .kind = OMS_SETTING_PARSED,
         .parse = parse_hs256_secret,
         .bounds = "32 bytes or more",
         .target = &s->jwt,
         .flags = SECRET_FLAGS,
         .doc = "Secret of HS256 JWTs; unset: HS256 refused."},
        {.name = "JWT_PUBLIC_KEY_FILE",
         .kind = OMS_SETTING_PARSED,
         .parse = parse_public_key_file,
         .bounds = "a PEM public key: RSA of 2048 bits or more (RS256) or P-256 (ES256)",
         .target = &s->jwt,
         .doc = "Public key of RS256 or ES256 JWTs; unset: both refused."},
        {.name = "JWT_ISSUER",
         .kind = OMS_SETTING_TEXT,
         .target = &s->jwt_issuer,
         .doc = "A JWT's iss must be this; unset: not checked."},
        {.name = "JWT_AUDIENCE",
         .kind = OMS_SETTING_TEXT,
         .target = &s->jwt_audience,
         .doc = "A JWT's aud must hold this; unset: not checked."},
        {.name = "JWT_LEEWAY_S",
         .kind = OMS_SETTING_LONG,
         .fallback = "30",
         .min = 0,
         .max = 600,
         .target = &s->jwt_leeway_s,
         .doc = "Clock skew allowed on a JWT's exp and nbf, in seconds."},
        {.name = "RATE_LIMIT_RPS",
         .kind = OMS_SETTING_LONG,
         .fallback = "100",
         .min = 0,
         .max = TOKEN_BUCKET_MAX_RATE,
         .target = &s->rate_limit_rps,
         .doc = "Requests per second per client (principal, else address); 0: no limit."},
    };
    oms_settings_add(t, "api-gateway", rows, sizeof rows / sizeof rows[0]);
}

void gateway_settings_add(oms_settings *t, gateway_settings *s)
{
    s->bind_address = NULL;
    const oms_setting rows[] = {
        {.name = "PORT",
         .kind = OMS_SETTING_INT,
         .fallback = "8080",
         .min = 1,
         .max = 65535,
         .target = &s->port,
         .doc = "Port of the HTTP server."},
    };
    oms_settings_add(t, "api-gateway", rows, sizeof rows / sizeof rows[0]);
    oms_http_settings_add(t, &s->http, &s->tls, DEFAULT_HTTP_THREADS);
    add_upstream_rows(t, s);
    add_credential_rows(t, s);
}

static bool has_credential_source(const gateway_settings *s)
{
    return s->api_keys.count > 0 || s->jwt.hs256_secret || s->jwt.public_key_pem;
}

void gateway_settings_check(const gateway_settings *s)
{
    if (!s->local_run && !has_credential_source(s))
        oms_settings_fail("API_KEYS", "no credential source: set API_KEYS, JWT_HS256_SECRET or JWT_PUBLIC_KEY_FILE "
                                      "(authentication may be off only in a local run, OMS_LOCAL_RUN=1)");
    if (!s->local_run && !s->internal_key)
        oms_settings_fail("INTERNAL_API_KEY", "must be set outside a local run: the services require it");
    if (!s->jwt.hs256_secret && !s->jwt.public_key_pem)
        return;
    oms_error err;
    oms_error_clear(&err);
    token_verifier *probe = jwt_verifier_create(&s->jwt, &err); /* a key that cannot verify stops the start */
    if (!probe)
        oms_settings_fail(err.field[0] ? err.field : "JWT_PUBLIC_KEY_FILE", err.message);
    jwt_verifier_destroy(probe);
}
/* ---- start and stop ---- */

static oms_err start_admission(gateway *g, oms_error *err)
{
    const gateway_settings *s = &g->settings;
    bool open = !has_credential_source(s);
    if (open && !s->local_run)
        return oms_error_set(err, OMS_EINVAL, "API_KEYS", "no credential source outside a local run");
    if (s->jwt.hs256_secret || s->jwt.public_key_pem) {
        g->tokens = jwt_verifier_create(&s->jwt, err);
        if (!g->tokens)
            return err->code;
    }
    admission_config cfg = {
        .keys = &s->api_keys,
        .tokens = g->tokens,
        .policy = {.issuer = s->jwt_issuer, .audience = s->jwt_audience, .leeway_s = s->jwt_leeway_s},
        .open = open,
        .rate_per_s = s->rate_limit_rps};
    if (admission_init(&g->admission, &cfg, system_clock()) != OMS_OK) {
        jwt_verifier_destroy(g->tokens);
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory for the rate limiter");
    }
    if (open)
        oms_log(OMS_LOG_WARN, "authentication_off", "message",
                "no credential source (API_KEYS, JWT_HS256_SECRET, JWT_PUBLIC_KEY_FILE) in a local run: "
                "every request is served as admin",
                NULL);
    return OMS_OK;
}

gateway *gateway_start(const gateway_settings *s, oms_error *err)
{
    gateway *g = calloc(1, sizeof *g);
    if (!g) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    g->settings = *s;
    if (start_admission(g, err) != OMS_OK) {
        free(g);
        return NULL;
    }
    /* One upstream handle per handler thread (each proxies one request at
     * a time), and a few more for /ready's checks. */
    g->client = curl_upstream_create(s->http.threads + 4, s->upstream_ca_file, err);
    if (!g->client) {
        admission_destroy(&g->admission);
        jwt_verifier_destroy(g->tokens);
        free(g);
        return NULL;
    }
    proxy_init(&g->proxy, g->settings.pools, g->client, system_clock(), s->upstream_timeout_ms);
    oms_http_config cfg = {.bind_address = s->bind_address, .port = s->port, .limits = s->http, .tls = s->tls};
    gateway_http_configure(&g->http, &g->proxy, &g->admission, g->settings.internal_key, s->http.threads, &cfg);
    g->reconciler = reconciler_create(&g->proxy, g->settings.internal_key, s->reconciliation_interval_s, err);
    g->http.reconciler = g->reconciler;
    g->server = g->reconciler ? oms_http_server_start(&cfg, err) : NULL;
    if (!g->server) {
        reconciler_destroy(g->reconciler);
        proxy_destroy(&g->proxy);
        curl_upstream_destroy(g->client);
        admission_destroy(&g->admission);
        jwt_verifier_destroy(g->tokens);
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
    reconciler_destroy(g->reconciler); /* after the requests that may run one, before the proxy it uses */
    proxy_destroy(&g->proxy);
    curl_upstream_destroy(g->client);
    admission_destroy(&g->admission);
    jwt_verifier_destroy(g->tokens);
    free(g);
}

unsigned long long gateway_upstream_connections(gateway *g)
{
    return (unsigned long long)curl_upstream_connections_opened(g->client);
}
