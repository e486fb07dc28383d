/* main.c -- order-service: reads its own settings, plugs the adapters into
 * the application's ports, runs the deadline scanner; the start/stop sequence
 * around it is lib/oms/service.h. The only file that knows every concrete
 * adapter.
 *
 * Recovery after a crash needs no special start-up step: unfinished sagas are
 * rows with a deadline, which the deadline scanner picks up (see
 * adapters/deadline_scanner.c); committed outbox rows are published by the
 * relay; replies wait in the durable bus. */
#include "adapters/bus_consumers.h"
#include "adapters/deadline_scanner.h"
#include "adapters/http_api.h"
#include "adapters/pg_adapters.h"
#include "oms/config.h"
#include "oms/service.h"

#define HTTP_GRACE_MS 5000
#define RELAY_GRACE_MS 3000

/* Everything of the process that is order-service's own. */
typedef struct order_service {
    saga_settings saga;
    oms_pg_settings read_db;
    oms_pg_pool *read_pool;
    deadline_scanner *scanner;
    http_api api; /* the HTTP handlers' ctx */
    order_repo orders;
    saga_repo sagas;
    order_read_model read_model;
    message_outbox outbox;
    clock_port clock;
    id_generator ids;
    order_app app;
    order_queries queries;
    oms_saga_consumer consumer;
} order_service;

static void read_settings(void *ctx, const oms_service_settings *common)
{
    order_service *o = ctx;
    o->saga.step_timeout_s = (int)oms_config_long("SAGA_STEP_TIMEOUT_S", 30, 1, 3600);
    o->saga.max_attempts = (int)oms_config_long("SAGA_MAX_ATTEMPTS", 5, 1, 100);
    o->read_db = oms_pg_settings_from_env("READ_", "POSTGRES_DB", common->db.dbname);
}

/* Plugs the adapters into the application's ports; queries read the read
 * pool, everything else the write pool. */
static oms_err wire(void *ctx, oms_service *svc, oms_error *err)
{
    order_service *o = ctx;
    oms_pg_pool *write_pool = oms_service_pool(svc);
    o->read_pool = oms_service_add_pool(svc, "orders-read", &o->read_db, "read database", err);
    if (!o->read_pool)
        return err->code;
    o->orders = pg_order_repo();
    o->sagas = pg_saga_repo();
    o->read_model = pg_read_model(o->read_pool);
    o->outbox = pg_outbox();
    o->clock = system_clock();
    o->ids = uuid_generator();
    o->app = (order_app){.tx = oms_pg_tx_manager(write_pool),
                         .orders = &o->orders,
                         .sagas = &o->sagas,
                         .read_model = &o->read_model,
                         .outbox = &o->outbox,
                         .clock = &o->clock,
                         .ids = &o->ids,
                         .saga = o->saga};
    o->queries = (order_queries){.read_model = &o->read_model, .clock = &o->clock};
    o->consumer = order_consumer(write_pool, &o->app);
    o->api = (http_api){.app = &o->app, .queries = &o->queries};
    return OMS_OK;
}

static oms_err subscribe(void *ctx, oms_bus *bus, oms_error *err)
{
    order_service *o = ctx;
    return oms_saga_subscribe(bus, &o->consumer, err);
}

static oms_err start_scanner(void *ctx, oms_error *err)
{
    order_service *o = ctx;
    o->scanner = deadline_scanner_start(&o->app, DEADLINE_SCAN_INTERVAL_MS, err);
    return o->scanner ? OMS_OK : err->code;
}

static void stop_scanner(void *ctx)
{
    order_service *o = ctx;
    deadline_scanner_stop(o->scanner);
}

int main(void)
{
    static order_service o;
    size_t route_count = 0;
    const oms_http_route *routes = http_api_routes(&route_count);
    const oms_service_def def = {.name = "order-service",
                                 .port = 8001,
                                 .database = "orders",
                                 .pool_name = "orders-write",
                                 .http_grace_ms = HTTP_GRACE_MS,
                                 .relay_grace_ms = RELAY_GRACE_MS,
                                 .routes = routes,
                                 .route_count = route_count,
                                 .http_ctx = &o.api,
                                 .ctx = &o,
                                 .read_settings = read_settings,
                                 .wire = wire,
                                 .subscribe = subscribe,
                                 .start = start_scanner,
                                 .stop = stop_scanner};
    return oms_service_main(&def);
}
