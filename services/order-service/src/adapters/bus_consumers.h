/* bus_consumers.h -- replies from payment and inventory (SPEC section 4) into
 * the saga commands. */
#ifndef ORDER_BUS_CONSUMERS_H
#define ORDER_BUS_CONSUMERS_H

#include "application/commands.h"
#include "oms/bus.h"
#include "oms/pg.h"

#define ORDER_SUBSCRIPTION "order-service"

typedef struct bus_consumers {
    order_app *app;
    oms_pg_pool *write_pool; /* the inbox transaction runs here */
} bus_consumers;

/* Subscribes payment-events and inventory-events as "order-service". `c`
 * must outlive the bus's consumers. */
oms_err bus_consumers_subscribe(bus_consumers *c, oms_bus *bus, oms_error *err);

/* The handler of one message, for tests: oms_handle_once with consumer
 * "order-service" around the dispatch by event_type. */
oms_bus_disposition bus_consumers_handle(void *ctx, const oms_bus_message *m, oms_arena *a, char *reason,
                                         size_t reason_len);

#endif
