/* main.c -- payment-service: reads its settings, builds the adapters, plugs
 * them into the application's ports, runs until SIGTERM/SIGINT, then stops in
 * reverse order. The only file that knows every concrete adapter. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "adapters/bus_consumers.h"
#include "adapters/http_api.h"
#include "adapters/pg_adapters.h"
#include "application/payment_app.h"
#include "oms/bus.h"
#include "oms/config.h"
#include "oms/http.h"
#include "oms/log.h"
#include "oms/outbox.h"
#include "oms/pg.h"
#include "oms/process.h"

#define SERVICE "payment-service"
#define HTTP_GRACE_MS 10000
#define RELAY_GRACE_MS 5000
#define MIGRATE_ATTEMPTS 30 /* one a second: the database may still be starting */

typedef struct settings {
    int port;
    int http_threads;
    int pool_size;
    int64_t default_credit_cents;
    oms_pg_settings db;
    const char *migration_dirs[2];
} settings;

typedef struct service {
    oms_pg_pool *pool;
    oms_bus *bus;
    oms_outbox_relay *relay;
    oms_http_server *http;
    payment_app app;
    payment_consumer consumer;
} service;

static settings read_settings(void)
{
    settings s = {
        .port = (int)oms_config_long("PORT", 8003, 1, 65535),
        .http_threads = (int)oms_config_long("HTTP_THREADS", 16, 1, 256),
        .pool_size = (int)oms_config_long("DB_POOL_SIZE", 16, 1, 256),
        .db = oms_pg_settings_from_env(NULL, "POSTGRES_DB", "payments"),
        .default_credit_cents = oms_config_money("DEFAULT_CREDIT", 100000),
    };
    /* oms_pg_migrate adds the shared outbox/inbox tables itself. */
    s.migration_dirs[0] = oms_config_str("MIGRATIONS_DIR", "services/payment-service/migrations");
    s.migration_dirs[1] = NULL;
    return s;
}

/* The server hands handlers and /ready the same ctx, the app; the app lives
 * inside the service, which /ready needs for the pool and the bus. */
static bool ready(void *ctx, char *why, size_t why_len)
{
    service *svc = (service *)((char *)ctx - offsetof(service, app));
    char detail[200];
    if (!oms_pg_ping(svc->pool, detail, sizeof detail)) {
        snprintf(why, why_len, "database: %s", detail);
        return false;
    }
    if (!oms_bus_healthy(svc->bus, detail, sizeof detail)) {
        snprintf(why, why_len, "broker: %s", detail);
        return false;
    }
    return true;
}

static int fail(const char *step, const oms_error *err)
{
    oms_log(OMS_LOG_ERROR, "start_failed", "step", step, "error", err->message, NULL);
    return 1;
}

/* Applies the migrations, waiting (up to MIGRATE_ATTEMPTS seconds) for a
 * database that is not reachable yet; any other failure stops at once. */
static oms_err migrate(const settings *s, oms_error *err)
{
    oms_err rc = oms_pg_migrate(&s->db, s->migration_dirs, err);
    for (int attempt = 1; rc == OMS_EUNAVAILABLE && attempt < MIGRATE_ATTEMPTS; attempt++) {
        oms_log(OMS_LOG_WARN, "database_unavailable", "error", err->message, NULL);
        sleep(1);
        rc = oms_pg_migrate(&s->db, s->migration_dirs, err);
    }
    return rc;
}

/* Starts everything; on failure returns the step that failed and leaves
 * whatever started in svc for stop_service. */
static const char *start_service(service *svc, const settings *s, oms_error *err)
{
    if (migrate(s, err) != OMS_OK)
        return "migrate";
    svc->pool = oms_pg_pool_create("payments", &s->db, s->pool_size, err);
    if (!svc->pool)
        return "database pool";
    svc->app = (payment_app){.tx = oms_pg_tx_manager(svc->pool),
                             .accounts = pg_account_repo(),
                             .payments = pg_payment_repo(),
                             .events = outbox_payment_events(),
                             .default_credit_cents = s->default_credit_cents};
    svc->consumer = (payment_consumer){.pool = svc->pool, .app = &svc->app};
    svc->bus = oms_bus_from_env(SERVICE, err);
    if (!svc->bus)
        return "message bus";
    svc->relay = oms_outbox_relay_start(svc->pool, svc->bus, err);
    if (!svc->relay)
        return "outbox relay";
    if (payment_consumers_subscribe(svc->bus, &svc->consumer, err) != OMS_OK)
        return "subscribe";
    if (oms_bus_start(svc->bus, err) != OMS_OK)
        return "bus start";
    oms_http_config http = {.port = s->port,
                            .threads = s->http_threads,
                            .routes = payment_http_routes,
                            .route_count = payment_http_route_count,
                            .ctx = &svc->app,
                            .ready = ready};
    svc->http = oms_http_server_start(&http, err);
    return svc->http ? NULL : "http server";
}

static void stop_service(service *svc)
{
    if (svc->http)
        oms_http_server_stop(svc->http, HTTP_GRACE_MS);
    if (svc->bus)
        oms_bus_stop(svc->bus);
    if (svc->relay)
        oms_outbox_relay_stop(svc->relay, RELAY_GRACE_MS);
    oms_bus_destroy(svc->bus);
    oms_pg_pool_destroy(svc->pool);
}

int main(void)
{
    oms_process_init(SERVICE);
    settings s = read_settings();
    service svc = {0};
    oms_error err;
    oms_error_clear(&err);
    const char *failed = start_service(&svc, &s, &err);
    if (failed) {
        stop_service(&svc);
        return fail(failed, &err);
    }
    oms_log_num(OMS_LOG_INFO, "started", "port", (double)s.port, NULL);
    oms_process_wait();
    stop_service(&svc);
    oms_log(OMS_LOG_INFO, "stopped", NULL);
    return 0;
}
