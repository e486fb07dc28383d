/* bus_consumers.h -- payment-commands -> payment commands. Each message is
 * handled exactly once (inbox + the command + its outbox reply in one
 * transaction); the bus hands over batches, handled together by
 * oms_handle_batch. */
#ifndef PAYMENT_BUS_CONSUMERS_H
#define PAYMENT_BUS_CONSUMERS_H

#include "../application/payment_app.h"
#include "oms/bus.h"
#include "oms/pg.h"

#define PAYMENT_SUBSCRIPTION "payment-service"

typedef struct payment_consumer {
    oms_pg_pool *pool; /* the inbox and the command share its transaction */
    payment_app *app;
} payment_consumer;

/* Subscribes `c` (which must outlive the bus) to payment-commands. */
oms_err payment_consumers_subscribe(oms_bus *bus, payment_consumer *c, oms_error *err);

/* The handler itself, exposed for tests that feed messages directly. */
oms_bus_disposition payment_on_command(void *ctx, const oms_bus_message *m, oms_arena *a, char *reason,
                                       size_t reason_len);

#endif
