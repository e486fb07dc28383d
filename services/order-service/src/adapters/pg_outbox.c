/* pg_outbox.c -- the outbox port: each message becomes the SPEC envelope
 * (lib/oms/envelope.h) with the payload of docs/architecture.md, keyed by
 * order id, appended to the outbox table in the caller's transaction. */
#include <string.h>

#include "adapters/pg_adapters.h"
#include "oms/bus.h"
#include "oms/envelope.h"
#include "oms/json.h"
#include "oms/outbox.h"

static json_t *nullable(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *inventory_items(const order *o)
{
    json_t *items = json_array();
    for (size_t i = 0; items && i < o->item_count; i++) {
        json_t *item = json_pack("{s:s, s:I}", "product_id", o->items[i].product_id, "quantity",
                                 (json_int_t)o->items[i].quantity);
        if (!item || json_array_append_new(items, item) != 0) {
            json_decref(items);
            return NULL;
        }
    }
    return items;
}

/* The payload and topic of each kind. */
static json_t *payload_of(const outbound_message *m, const char **topic)
{
    const order *o = m->order;
    switch (m->kind) {
    case OUTBOUND_PAYMENT_REQUESTED:
        *topic = OMS_TOPIC_PAYMENT_COMMANDS;
        return json_pack("{s:s, s:s, s:I}", "command_id", m->command_id, "customer_id", o->customer_id,
                         "amount_cents", (json_int_t)o->total_cents);
    case OUTBOUND_REFUND_REQUESTED:
        *topic = OMS_TOPIC_PAYMENT_COMMANDS;
        return json_pack("{s:s, s:s, s:o}", "command_id", m->command_id, "customer_id", o->customer_id, "reason",
                         nullable(m->reason));
    case OUTBOUND_INVENTORY_REQUESTED:
        *topic = OMS_TOPIC_INVENTORY_COMMANDS;
        return json_pack("{s:s, s:o}", "command_id", m->command_id, "items", inventory_items(o));
    case OUTBOUND_INVENTORY_RELEASE_REQUESTED:
        *topic = OMS_TOPIC_INVENTORY_COMMANDS;
        return json_pack("{s:s, s:o}", "command_id", m->command_id, "reason", nullable(m->reason));
    case OUTBOUND_ORDER_CREATED:
        *topic = OMS_TOPIC_ORDER_EVENTS;
        return json_pack("{s:o}", "order", order_document_json(o));
    case OUTBOUND_ORDER_STATUS_CHANGED:
        *topic = OMS_TOPIC_ORDER_EVENTS;
        return json_pack("{s:s, s:s, s:o}", "status", order_status_name(o->status), "previous_status",
                         order_status_name(m->previous_status), "reason", nullable(m->reason));
    }
    return NULL;
}

static oms_err send_message(message_outbox *box, oms_tx *tx, oms_arena *a, const outbound_message *m,
                            char event_id_out[OMS_UUID_LEN + 1], oms_error *err)
{
    (void)box;
    const char *topic = NULL;
    json_t *payload = oms_json_own(a, payload_of(m, &topic));
    if (!payload)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory building %s", outbound_kind_event_type(m->kind));
    char *text = oms_envelope_build(a, outbound_kind_event_type(m->kind), m->order->saga_id, m->order->id,
                                    m->correlation_id ? m->correlation_id : "", payload, event_id_out);
    if (!text)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory building an envelope");
    return oms_outbox_append(a, tx, topic, m->order->id, text, err);
}

static const message_outbox_ops ops = {.send = send_message};

message_outbox pg_outbox(void)
{
    return (message_outbox){.ops = &ops, .self = NULL};
}
