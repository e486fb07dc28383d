/* bus_consumers.h -- replies from payment and inventory (SPEC section 4)
 * into the saga commands, through the saga kit (oms/saga_bus.h): each
 * message is handled exactly once (inbox row and command in one
 * transaction), batches together. A payload that does not decode is
 * dead-lettered; a message of a type the saga does not route is recorded in
 * the order's saga log as ignored and acknowledged, and so is a reply for
 * an order this service does not know. */
#ifndef ORDER_BUS_CONSUMERS_H
#define ORDER_BUS_CONSUMERS_H

#include "application/commands.h"
#include "oms/saga_bus.h"

/* The consumer of payment-events and inventory-events over `app`, whose
 * inbox transactions run on `pool` (the write database); subscribe it with
 * oms_saga_subscribe. */
oms_saga_consumer order_consumer(oms_pg_pool *pool, order_app *app);

#endif
