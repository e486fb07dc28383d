/* main.c -- inventory-service: plugs the adapters into the application's
 * ports; the start/stop sequence around it is lib/oms/service.h. The only
 * file that knows every concrete adapter. */
#include "adapters/bus_consumers.h"
#include "adapters/http_api.h"
#include "adapters/pg_adapters.h"
#include "application/inventory_app.h"
#include "oms/audit_pg.h"
#include "oms/service.h"

typedef struct inventory_service {
    product_repo products;
    reservation_repo reservations;
    oms_reply_outbox replies;
    oms_audit_log audit;
    inventory_app app; /* the HTTP handlers' ctx */
    oms_saga_consumer consumer;
} inventory_service;

static oms_err wire(void *ctx, oms_service *svc, oms_error *err)
{
    (void)err;
    inventory_service *inv = ctx;
    oms_pg_pool *pool = oms_service_pool(svc);
    inv->products = pg_product_repo();
    inv->reservations = pg_reservation_repo();
    inv->replies = oms_saga_reply_outbox();
    inv->audit = oms_pg_audit_log();
    inv->app = (inventory_app){.tx = oms_pg_tx_manager(pool),
                               .products = &inv->products,
                               .reservations = &inv->reservations,
                               .replies = &inv->replies,
                               .audit = &inv->audit};
    inv->consumer = inventory_consumer(pool, &inv->app);
    return OMS_OK;
}

static oms_err subscribe(void *ctx, oms_bus *bus, oms_error *err)
{
    inventory_service *inv = ctx;
    return oms_saga_subscribe(bus, &inv->consumer, err);
}

int main(int argc, char **argv)
{
    static inventory_service inv;
    const oms_service_def def = {.name = "inventory-service",
                                 .port = 8002,
                                 .database = "inventory",
                                 .routes = inventory_http_routes,
                                 .reconcile_queries = inventory_reconcile_queries,
                                 .reconcile_query_count = inventory_reconcile_query_count,
                                 .route_count = inventory_http_route_count,
                                 .http_ctx = &inv.app,
                                 .ctx = &inv,
                                 .wire = wire,
                                 .subscribe = subscribe};
    return oms_service_main(&def, argc, argv);
}
