/* pg_order_outbox.c -- the outbox port: each outbound message becomes its type's
 * payload (the table of oms/saga_messages.h owns the members), filled from
 * the order, and goes to the outbox in the caller's transaction
 * (oms_saga_send), keyed by order id. */
#include "adapters/pg_adapters.h"
#include "oms/json.h"
#include "oms/saga_bus.h"

/* InventoryRequested's lines: the order's items without their prices. */
static oms_err lines_of(oms_arena *a, const order *o, oms_inventory_lines *out, oms_error *err)
{
    oms_inventory_line *lines = oms_arena_calloc(a, o->item_count ? o->item_count : 1, sizeof *lines);
    if (!lines)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < o->item_count; i++)
        lines[i] = (oms_inventory_line){o->items[i].product_id, o->items[i].quantity};
    *out = (oms_inventory_lines){lines, o->item_count};
    return OMS_OK;
}

/* The payload of `m` from its order. */
static oms_err payload_of(oms_arena *a, const outbound_message *m, oms_msg *out, oms_error *err)
{
    const order *o = m->order;
    *out = (oms_msg){.type = m->type, .command_id = m->command_id};
    switch (m->type) {
    case OMS_MSG_PAYMENT_REQUESTED:
        out->as.payment_requested = (oms_payment_requested){o->customer_id, o->total_cents};
        return OMS_OK;
    case OMS_MSG_REFUND_REQUESTED:
        out->as.refund_requested = (oms_refund_requested){o->customer_id, m->reason};
        return OMS_OK;
    case OMS_MSG_INVENTORY_REQUESTED: return lines_of(a, o, &out->as.inventory_requested.items, err);
    case OMS_MSG_INVENTORY_RELEASE_REQUESTED: out->as.inventory_release_requested.reason = m->reason; return OMS_OK;
    case OMS_MSG_ORDER_CREATED:
        out->as.order_created.order = oms_json_own(a, order_document_json(o));
        return out->as.order_created.order ? OMS_OK : oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    case OMS_MSG_ORDER_STATUS_CHANGED:
        out->as.order_status_changed = (oms_order_status_changed){order_status_name(o->status),
                                                                  order_status_name(m->previous_status), m->reason};
        return OMS_OK;
    default: return oms_error_set(err, OMS_EINTERNAL, NULL, "order-service does not send %s", oms_msg_name(m->type));
    }
}

static oms_err send_message(order_outbox *box, oms_tx *tx, oms_arena *a, const outbound_message *m,
                            char event_id_out[OMS_UUID_LEN + 1], oms_error *err)
{
    (void)box;
    oms_msg msg;
    oms_err rc = payload_of(a, m, &msg, err);
    if (rc != OMS_OK)
        return rc;
    oms_saga_ref ref = {m->order->saga_id, m->order->id, m->correlation_id};
    return oms_saga_send(tx, a, &ref, &msg, event_id_out, err);
}

static const order_outbox_ops ops = {.send = send_message};

order_outbox pg_order_outbox(void) { return (order_outbox){.ops = &ops, .self = NULL}; }
