/* bus_consumers.h -- inventory-commands -> inventory commands, through the
 * saga kit (oms/saga_bus.h): each message is handled exactly once (inbox,
 * the command and its reply in one transaction), batches together; a
 * message of another type, or whose payload does not decode, is
 * dead-lettered. */
#ifndef INVENTORY_BUS_CONSUMERS_H
#define INVENTORY_BUS_CONSUMERS_H

#include "application/inventory_app.h"
#include "oms/saga_bus.h"

/* The consumer of inventory-commands over `app`, whose inbox transactions
 * run on `pool`; subscribe it with oms_saga_subscribe. */
oms_saga_consumer inventory_consumer(oms_pg_pool *pool, inventory_app *app);

#endif
