/* bus_consumers.c -- see bus_consumers.h. The payload is decoded by the
 * message table (a wrong type is a malformed message); the ranges of its
 * values, and too many lines, are the domain's, answered with a failure. */
#include "adapters/bus_consumers.h"

static oms_err reserve(void *app, oms_tx *tx, oms_arena *a, const oms_saga_delivery *d, oms_error *err)
{
    const oms_inventory_lines *items = &d->msg.as.inventory_requested.items;
    reservation_line *lines = oms_arena_calloc(a, items->count ? items->count : 1, sizeof *lines);
    if (!lines)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < items->count; i++)
        lines[i] = (reservation_line){.product_id = items->lines[i].product_id, .quantity = items->lines[i].quantity};
    return inventory_reserve(app, tx, a, &d->origin, lines, items->count, err);
}

static oms_err release(void *app, oms_tx *tx, oms_arena *a, const oms_saga_delivery *d, oms_error *err)
{
    return inventory_release(app, tx, a, &d->origin, err);
}

static const oms_saga_route routes[] = {
    {OMS_MSG_INVENTORY_REQUESTED, reserve},
    {OMS_MSG_INVENTORY_RELEASE_REQUESTED, release},
};

oms_saga_consumer inventory_consumer(oms_pg_pool *pool, inventory_app *app)
{
    return (oms_saga_consumer){
        .routes = routes, .route_count = sizeof routes / sizeof routes[0], .pool = pool, .ctx = app};
}
