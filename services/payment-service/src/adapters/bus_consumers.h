/* bus_consumers.h -- payment-commands -> payment commands, through the saga
 * kit (oms/saga_bus.h): each message is handled exactly once (inbox, the
 * command and its reply in one transaction), batches together; a message of
 * another type, or whose payload does not decode, is dead-lettered. */
#ifndef PAYMENT_BUS_CONSUMERS_H
#define PAYMENT_BUS_CONSUMERS_H

#include "application/payment_app.h"
#include "oms/saga_bus.h"

/* The consumer of payment-commands over `app`, whose inbox transactions run
 * on `pool`; subscribe it with oms_saga_subscribe. */
oms_saga_consumer payment_consumer(oms_pg_pool *pool, payment_app *app);

#endif
