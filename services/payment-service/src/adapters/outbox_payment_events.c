/* outbox_payment_events.c -- the saga replies as outbox rows: the envelope
 * carries the command's saga, order and correlation ids, keyed by order id. */
#include "oms/bus.h"
#include "oms/envelope.h"
#include "oms/json.h"
#include "oms/outbox.h"
#include "pg_adapters.h"

static oms_err append(oms_tx *tx, oms_arena *a, const command_origin *o, const char *event_type, json_t *payload,
                      oms_error *err)
{
    if (!oms_json_own(a, payload))
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    const char *text = oms_envelope_build(a, event_type, o->saga_id, o->order_id, o->correlation_id, payload, NULL);
    if (!text)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    return oms_outbox_append(a, tx, OMS_TOPIC_PAYMENT_EVENTS, o->order_id, text, err);
}

static oms_err processed(payment_events *e, oms_tx *tx, oms_arena *a, const command_origin *o, bool success,
                         const char *payment_id, int64_t amount_cents, const char *reason, oms_error *err)
{
    (void)e;
    json_t *payload = json_pack("{s:s, s:b, s:s?, s:I, s:s?}", "command_id", o->command_id, "success", success,
                                "payment_id", payment_id, "amount_cents", (json_int_t)amount_cents, "reason", reason);
    return append(tx, a, o, "PaymentProcessed", payload, err);
}

static oms_err refunded(payment_events *e, oms_tx *tx, oms_arena *a, const command_origin *o, const char *payment_id,
                        int64_t amount_cents, oms_error *err)
{
    (void)e;
    json_t *payload = json_pack("{s:s, s:s?, s:I}", "command_id", o->command_id, "payment_id", payment_id,
                                "amount_cents", (json_int_t)amount_cents);
    return append(tx, a, o, "PaymentRefunded", payload, err);
}

static const payment_events_ops ops = {.processed = processed, .refunded = refunded};

payment_events *outbox_payment_events(void)
{
    static payment_events events = {.ops = &ops, .self = NULL};
    return &events;
}
