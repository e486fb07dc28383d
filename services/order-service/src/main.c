/* main.c -- order-service: reads settings, builds the adapters, plugs them
 * into the application's ports, runs, and stops in reverse order. The only
 * file that knows every concrete adapter.
 *
 * Recovery after a crash needs no special start-up step: unfinished sagas are
 * rows with a deadline, which the deadline scanner picks up (see
 * adapters/deadline_scanner.c); committed outbox rows are published by the
 * relay; replies wait in the durable bus. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters/bus_consumers.h"
#include "adapters/deadline_scanner.h"
#include "adapters/http_api.h"
#include "adapters/pg_adapters.h"
#include "oms/bus.h"
#include "oms/config.h"
#include "oms/log.h"
#include "oms/outbox.h"
#include "oms/pg.h"
#include "oms/process.h"

#define SERVICE_NAME "order-service"
#define HTTP_GRACE_MS 5000
#define RELAY_GRACE_MS 3000
#define MIGRATE_TRIES 30

typedef struct settings {
    int port;
    int http_threads;
    int pool_size;
    const char *migrations_dir;
    saga_settings saga;
    oms_pg_settings write_db;
    oms_pg_settings read_db;
} settings;

/* Everything the process runs; each part NULL until started. */
typedef struct service {
    http_api api; /* first: the HTTP handlers take the service as an http_api */
    oms_pg_pool *write_pool;
    oms_pg_pool *read_pool;
    oms_bus *bus;
    bool consuming;
    oms_outbox_relay *relay;
    deadline_scanner *scanner;
    oms_http_server *http;
    order_repo orders;
    saga_repo sagas;
    order_read_model read_model;
    message_outbox outbox;
    clock_port clock;
    id_generator ids;
    order_app app;
    order_queries queries;
    bus_consumers consumers;
} service;

static settings read_settings(void)
{
    settings s;
    s.port = (int)oms_config_long("PORT", 8001, 1, 65535);
    s.http_threads = (int)oms_config_long("HTTP_THREADS", 16, 1, 1024);
    s.pool_size = (int)oms_config_long("DB_POOL_SIZE", 16, 1, 1024);
    s.migrations_dir = oms_config_str("MIGRATIONS_DIR", "services/order-service/migrations");
    s.saga.step_timeout_s = (int)oms_config_long("SAGA_STEP_TIMEOUT_S", 30, 1, 3600);
    s.saga.max_attempts = (int)oms_config_long("SAGA_MAX_ATTEMPTS", 5, 1, 100);
    s.write_db = oms_pg_settings_from_env(NULL, "POSTGRES_DB", "orders");
    s.read_db = oms_pg_settings_from_env("READ_", "POSTGRES_DB", s.write_db.dbname);
    return s;
}

/* The database may still be starting (compose, CI): retry for a while. */
static oms_err migrate(const settings *s, oms_error *err)
{
    const char *dirs[] = {s->migrations_dir, NULL};
    oms_err rc = OMS_EUNAVAILABLE;
    for (int attempt = 1; attempt <= MIGRATE_TRIES && !oms_process_stopping(); attempt++) {
        rc = oms_pg_migrate(&s->write_db, dirs, err);
        if (rc != OMS_EUNAVAILABLE)
            return rc;
        oms_log(OMS_LOG_WARN, "migrate_retry", "error", err->message, NULL);
        sleep(1);
    }
    return rc;
}

static bool ready(void *ctx, char *why, size_t why_len)
{
    service *svc = ctx;
    char detail[200];
    if (!oms_pg_ping(svc->write_pool, detail, sizeof detail)) {
        snprintf(why, why_len, "database: %s", detail);
        return false;
    }
    if (!oms_pg_ping(svc->read_pool, detail, sizeof detail)) {
        snprintf(why, why_len, "read database: %s", detail);
        return false;
    }
    if (!oms_bus_healthy(svc->bus, detail, sizeof detail)) {
        snprintf(why, why_len, "message bus: %s", detail);
        return false;
    }
    return true;
}

/* Plugs the adapters into the application's ports. */
static void wire(service *svc, const settings *cfg)
{
    svc->orders = pg_order_repo();
    svc->sagas = pg_saga_repo();
    svc->read_model = pg_read_model(svc->read_pool);
    svc->outbox = pg_outbox();
    svc->clock = system_clock();
    svc->ids = uuid_generator();
    svc->app = (order_app){
        .tx = oms_pg_tx_manager(svc->write_pool),
        .orders = &svc->orders,
        .sagas = &svc->sagas,
        .read_model = &svc->read_model,
        .outbox = &svc->outbox,
        .clock = &svc->clock,
        .ids = &svc->ids,
        .saga = cfg->saga,
    };
    svc->queries = (order_queries){.read_model = &svc->read_model, .clock = &svc->clock};
    svc->consumers = (bus_consumers){.app = &svc->app, .write_pool = svc->write_pool};
    svc->api = (http_api){.app = &svc->app, .queries = &svc->queries};
}

static oms_err start_http(service *svc, const settings *cfg, oms_error *err)
{
    size_t route_count = 0;
    const oms_http_route *routes = http_api_routes(&route_count);
    oms_http_config http_cfg = {
        .port = cfg->port,
        .threads = cfg->http_threads,
        .routes = routes,
        .route_count = route_count,
        .ctx = svc,
        .ready = ready,
    };
    svc->http = oms_http_server_start(&http_cfg, err);
    return svc->http ? OMS_OK : err->code;
}

/* Starts every part in order; on failure the caller runs service_stop. */
static oms_err service_start(service *svc, const settings *cfg, oms_error *err)
{
    svc->write_pool = oms_pg_pool_create("orders-write", &cfg->write_db, cfg->pool_size, err);
    if (!svc->write_pool)
        return err->code;
    svc->read_pool = oms_pg_pool_create("orders-read", &cfg->read_db, cfg->pool_size, err);
    if (!svc->read_pool)
        return err->code;
    svc->bus = oms_bus_from_env(SERVICE_NAME, err);
    if (!svc->bus)
        return err->code;
    wire(svc, cfg);
    oms_err rc = bus_consumers_subscribe(&svc->consumers, svc->bus, err);
    if (rc != OMS_OK)
        return rc;
    svc->relay = oms_outbox_relay_start(svc->write_pool, svc->bus, err);
    if (!svc->relay)
        return err->code;
    rc = oms_bus_start(svc->bus, err);
    if (rc != OMS_OK)
        return rc;
    svc->consuming = true;
    svc->scanner = deadline_scanner_start(&svc->app, DEADLINE_SCAN_INTERVAL_MS, err);
    if (!svc->scanner)
        return err->code;
    return start_http(svc, cfg, err);
}

/* Reverse order: no new requests, no new messages, no new deadlines, then
 * flush what was committed to the outbox while the bus can still publish. */
static void service_stop(service *svc)
{
    if (svc->http)
        oms_http_server_stop(svc->http, HTTP_GRACE_MS);
    if (svc->consuming)
        oms_bus_stop(svc->bus);
    deadline_scanner_stop(svc->scanner);
    if (svc->relay)
        oms_outbox_relay_stop(svc->relay, RELAY_GRACE_MS);
    oms_bus_destroy(svc->bus);
    oms_pg_pool_destroy(svc->read_pool);
    oms_pg_pool_destroy(svc->write_pool);
}

int main(void)
{
    oms_process_init(SERVICE_NAME);
    settings cfg = read_settings();
    oms_error err;
    oms_error_clear(&err);
    if (migrate(&cfg, &err) != OMS_OK) {
        fprintf(stderr, "order-service: database migration failed: %s\n", err.message);
        return 1;
    }
    static service svc;
    if (service_start(&svc, &cfg, &err) != OMS_OK) {
        oms_log(OMS_LOG_ERROR, "startup_failed", "error", err.message, NULL);
        fprintf(stderr, "order-service: cannot start: %s\n", err.message);
        service_stop(&svc);
        return 1;
    }
    oms_log_num(OMS_LOG_INFO, "started", "port", cfg.port, NULL);
    oms_process_wait();
    service_stop(&svc);
    oms_log(OMS_LOG_INFO, "stopped", NULL);
    return 0;
}
