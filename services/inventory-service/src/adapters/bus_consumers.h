/* bus_consumers.h -- inventory-commands -> inventory commands. Each message
 * is handled exactly once (inbox + the command + its outbox reply in one
 * transaction); the bus hands over batches, handled together by
 * oms_handle_batch. */
#ifndef INVENTORY_BUS_CONSUMERS_H
#define INVENTORY_BUS_CONSUMERS_H

#include "../application/inventory_app.h"
#include "oms/bus.h"
#include "oms/pg.h"

#define INVENTORY_SUBSCRIPTION "inventory-service"

typedef struct inventory_consumer {
    oms_pg_pool *pool; /* the inbox and the command share its transaction */
    inventory_app *app;
} inventory_consumer;

/* Subscribes `c` (which must outlive the bus) to inventory-commands. */
oms_err inventory_consumers_subscribe(oms_bus *bus, inventory_consumer *c, oms_error *err);

/* The handler itself, exposed for tests that feed messages directly. */
oms_bus_disposition inventory_on_command(void *ctx, const oms_bus_message *m, oms_arena *a, char *reason,
                                         size_t reason_len);

#endif
