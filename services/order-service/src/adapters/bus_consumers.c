/* bus_consumers.c -- messages to commands. Each message is handled exactly
 * once (oms_handle_once: inbox row + command in one transaction); a payload
 * that cannot be decoded is OMS_EINVAL, which dead-letters it; an event type
 * the saga does not know is recorded as ignored and acknowledged. */
#include "adapters/bus_consumers.h"

#include <string.h>

#include "oms/json.h"
#include "oms/log.h"
#include "oms/outbox.h"

/* Optional string member; OMS_EINVAL when present but not a string. */
static oms_err optional_string(const json_t *payload, const char *key, const char **out, oms_error *err)
{
    json_t *v = json_object_get(payload, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return OMS_OK;
    if (!json_is_string(v))
        return oms_error_set(err, OMS_EINVAL, key, "payload.%s must be a string", key);
    *out = json_string_value(v);
    return OMS_OK;
}

static oms_err required_bool(const json_t *payload, const char *key, bool *out, oms_error *err)
{
    json_t *v = json_object_get(payload, key);
    if (!json_is_boolean(v))
        return oms_error_set(err, OMS_EINVAL, key, "payload.%s must be a boolean", key);
    *out = json_is_true(v);
    return OMS_OK;
}

static oms_err optional_amount(const json_t *payload, int64_t *out, oms_error *err)
{
    json_t *v = json_object_get(payload, "amount_cents");
    *out = 0;
    if (!v || json_is_null(v))
        return OMS_OK;
    if (!json_is_integer(v))
        return oms_error_set(err, OMS_EINVAL, "amount_cents", "payload.amount_cents must be an integer");
    *out = (int64_t)json_integer_value(v);
    return OMS_OK;
}

/* Fills the common part of a reply; `success_key` NULL when none. */
static oms_err decode_reply(oms_arena *a, const oms_envelope *env, const char *success_key, saga_reply *r,
                            oms_error *err)
{
    memset(r, 0, sizeof *r);
    r->order_id = env->order_id;
    r->event_id = env->event_id;
    r->success = true;
    oms_err rc = optional_string(env->payload, "command_id", &r->command_id, err);
    if (rc == OMS_OK)
        rc = optional_string(env->payload, "reason", &r->reason, err);
    if (rc == OMS_OK)
        rc = optional_amount(env->payload, &r->amount_cents, err);
    if (rc == OMS_OK && success_key)
        rc = required_bool(env->payload, success_key, &r->success, err);
    if (rc == OMS_OK && r->reason && strlen(r->reason) > ORDER_REASON_MAX)
        r->reason = oms_arena_strndup(a, r->reason, ORDER_REASON_MAX); /* bounded like a client's reason */
    if (rc == OMS_OK && r->command_id && strlen(r->command_id) > 128)
        return oms_error_set(err, OMS_EINVAL, "command_id", "payload.command_id is too long");
    return rc;
}

typedef oms_err (*reply_command)(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *r, oms_error *err);

typedef struct reply_route {
    const char *event_type;
    const char *success_key;
    reply_command command;
} reply_route;

static const reply_route routes[] = {
    {"PaymentProcessed", "success", order_on_payment_processed},
    {"PaymentRefunded", NULL, order_on_payment_refunded},
    {"InventoryAllocated", "success", order_on_inventory_allocated},
    {"InventoryReleased", NULL, order_on_inventory_released},
};

static oms_err dispatch(void *ctx, oms_tx *tx, const oms_envelope *env, oms_arena *a, oms_error *err)
{
    bus_consumers *c = ctx;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(env->event_type, routes[i].event_type) != 0)
            continue;
        saga_reply reply;
        oms_err rc = decode_reply(a, env, routes[i].success_key, &reply, err);
        if (rc != OMS_OK)
            return rc;
        rc = routes[i].command(c->app, tx, a, &reply, err);
        if (rc == OMS_ENOTFOUND) {
            /* Not an order of ours: it can never succeed; acknowledge it. */
            oms_log(OMS_LOG_WARN, "reply_for_unknown_order", "order_id", env->order_id, "event_id", env->event_id,
                    "event_type", env->event_type, NULL);
            return OMS_OK;
        }
        return rc;
    }
    oms_log(OMS_LOG_INFO, "unknown_event_ignored", "order_id", env->order_id, "event_id", env->event_id,
            "event_type", env->event_type, NULL);
    return order_on_unknown_message(c->app, tx, a, env->order_id, env->event_id, env->event_type, err);
}

oms_bus_disposition bus_consumers_handle(void *ctx, const oms_bus_message *m, oms_arena *a, char *reason,
                                         size_t reason_len)
{
    bus_consumers *c = ctx;
    return oms_handle_once(c->write_pool, ORDER_SUBSCRIPTION, m, dispatch, c, a, reason, reason_len);
}

/* A batch in one transaction (oms_handle_batch). */
static void on_replies(void *ctx, const oms_bus_message *msgs, size_t n, oms_arena *a, oms_bus_outcome *out)
{
    bus_consumers *c = ctx;
    oms_handle_batch(c->write_pool, ORDER_SUBSCRIPTION, msgs, n, dispatch, c, a, out);
}

oms_err bus_consumers_subscribe(bus_consumers *c, oms_bus *bus, oms_error *err)
{
    oms_err rc = oms_bus_subscribe_batch(bus, OMS_TOPIC_PAYMENT_EVENTS, ORDER_SUBSCRIPTION, on_replies, c, err);
    if (rc == OMS_OK)
        rc = oms_bus_subscribe_batch(bus, OMS_TOPIC_INVENTORY_EVENTS, ORDER_SUBSCRIPTION, on_replies, c, err);
    return rc;
}
