/* bus_consumers.c -- see bus_consumers.h. The payload is decoded by the
 * message table (a wrong type is a malformed message); the ranges of its
 * values are the domain's, answered with a failure reply. */
#include "adapters/bus_consumers.h"

static oms_err charge(void *app, oms_tx *tx, oms_arena *a, const oms_saga_delivery *d, oms_error *err)
{
    const oms_payment_requested *p = &d->msg.as.payment_requested;
    return payment_charge(app, tx, a, &d->origin, p->customer_id, p->amount_cents, err);
}

static oms_err refund(void *app, oms_tx *tx, oms_arena *a, const oms_saga_delivery *d, oms_error *err)
{
    return payment_refund(app, tx, a, &d->origin, d->msg.as.refund_requested.customer_id, err);
}

static const oms_saga_route routes[] = {
    {OMS_MSG_PAYMENT_REQUESTED, charge},
    {OMS_MSG_REFUND_REQUESTED, refund},
};

oms_saga_consumer payment_consumer(oms_pg_pool *pool, payment_app *app)
{
    return (oms_saga_consumer){
        .routes = routes, .route_count = sizeof routes / sizeof routes[0], .pool = pool, .ctx = app};
}
