/* bus_consumers.c -- see bus_consumers.h. */
#include "adapters/bus_consumers.h"

#include <string.h>

#include "oms/inbox.h"
#include "oms/log.h"

/* The application's view of a reply. Its reason is bounded like a client's. */
static saga_reply reply_of(oms_arena *a, const oms_saga_delivery *d)
{
    saga_reply r = {
        .order_id = d->env->order_id, .event_id = d->env->event_id, .command_id = d->msg.command_id, .success = true};
    const oms_msg *m = &d->msg;
    switch (m->type) {
    case OMS_MSG_PAYMENT_PROCESSED:
        r.success = m->as.payment_processed.success;
        r.reason = m->as.payment_processed.reason;
        r.amount_cents = m->as.payment_processed.amount_cents;
        break;
    case OMS_MSG_PAYMENT_REFUNDED: r.amount_cents = m->as.payment_refunded.amount_cents; break;
    case OMS_MSG_INVENTORY_ALLOCATED:
        r.success = m->as.inventory_allocated.success;
        r.reason = m->as.inventory_allocated.reason;
        break;
    default: break;
    }
    if (r.reason && strlen(r.reason) > ORDER_REASON_MAX)
        r.reason = oms_arena_strndup(a, r.reason, ORDER_REASON_MAX);
    return r;
}

typedef oms_err (*reply_command)(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *r, oms_error *err);

/* The bus is not trusted (docs/architecture.md, "Replies the saga
 * trusts"): a reply that answers no command of its saga is refused by the
 * saga runner, which logs it (REJECTED_REPLY); the message is then
 * dead-lettered once that row has committed. (A reply on another type's
 * topic never gets here: saga_bus.c refuses it.) */
static oms_err apply_reply(order_app *app, oms_tx *tx, oms_arena *a, const oms_saga_delivery *d, reply_command command,
                           oms_error *err)
{
    saga_reply reply = reply_of(a, d);
    oms_err rc = command(app, tx, a, &reply, err);
    if (rc == OMS_OK && strcmp(err->reason, ORDER_REASON_REPLY_REJECTED) == 0) {
        const char *why = oms_arena_strdup(a, err->message); /* not err's own buffer: it is rewritten */
        return oms_inbox_refuse(err, "%s", why ? why : "reply rejected");
    }
    if (rc != OMS_ENOTFOUND)
        return rc;
    /* Not an order of ours: it can never succeed; kept and counted as an
     * orphan (issue 12 item 8), then acknowledged. */
    oms_log(OMS_LOG_WARN, "reply_for_unknown_order", "order_id", d->env->order_id, "event_id", d->env->event_id,
            "event_type", d->env->event_type, NULL);
    oms_error_clear(err);
    return order_on_orphan_reply(app, tx, a, &reply, d->env->event_type, err);
}

static oms_err payment_processed(void *app, oms_tx *tx, oms_arena *a, const oms_saga_delivery *d, oms_error *err)
{
    return apply_reply(app, tx, a, d, order_on_payment_processed, err);
}

static oms_err payment_refunded(void *app, oms_tx *tx, oms_arena *a, const oms_saga_delivery *d, oms_error *err)
{
    return apply_reply(app, tx, a, d, order_on_payment_refunded, err);
}

static oms_err inventory_allocated(void *app, oms_tx *tx, oms_arena *a, const oms_saga_delivery *d, oms_error *err)
{
    return apply_reply(app, tx, a, d, order_on_inventory_allocated, err);
}

static oms_err inventory_released(void *app, oms_tx *tx, oms_arena *a, const oms_saga_delivery *d, oms_error *err)
{
    return apply_reply(app, tx, a, d, order_on_inventory_released, err);
}

static oms_err product_price_changed(void *app, oms_tx *tx, oms_arena *a, const oms_saga_delivery *d, oms_error *err)
{
    const oms_product_price_changed *p = &d->msg.as.product_price_changed;
    return order_on_product_price_changed(app, tx, a, p->product_id, p->price_cents, p->version, err);
}

static oms_err unrouted(void *app, oms_tx *tx, oms_arena *a, const oms_envelope *env, oms_error *err)
{
    oms_log(OMS_LOG_INFO, "unknown_event_ignored", "order_id", env->order_id, "event_id", env->event_id, "event_type",
            env->event_type, NULL);
    return order_on_unknown_message(app, tx, a, env->order_id, env->event_id, env->event_type, err);
}

static const oms_saga_route routes[] = {
    {OMS_MSG_PAYMENT_PROCESSED, payment_processed},         {OMS_MSG_PAYMENT_REFUNDED, payment_refunded},
    {OMS_MSG_INVENTORY_ALLOCATED, inventory_allocated},     {OMS_MSG_INVENTORY_RELEASED, inventory_released},
    {OMS_MSG_PRODUCT_PRICE_CHANGED, product_price_changed},
};

oms_saga_consumer order_consumer(oms_pg_pool *pool, order_app *app)
{
    return (oms_saga_consumer){.routes = routes,
                               .route_count = sizeof routes / sizeof routes[0],
                               .unrouted = unrouted,
                               .pool = pool,
                               .ctx = app};
}
