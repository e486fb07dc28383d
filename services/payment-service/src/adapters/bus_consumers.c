/* bus_consumers.c -- the messages of payment-commands, parsed and handed to
 * the application inside the inbox transaction. A message whose type is
 * unknown or whose payload is malformed can never succeed: it returns
 * OMS_EINVAL, which oms_handle_once dead-letters. */
#include <string.h>

#include "bus_consumers.h"
#include "oms/json.h"
#include "oms/outbox.h"

static oms_err read_origin(const oms_envelope *env, command_origin *o, oms_error *err)
{
    *o = (command_origin){.saga_id = env->saga_id,
                          .order_id = env->order_id,
                          .correlation_id = env->correlation_id ? env->correlation_id : ""};
    return oms_json_string(env->payload, "command_id", "payload.command_id", 64, true, &o->command_id, err);
}

/* payload.customer_id as a string of any length: its bounds are the domain's
 * (answered with a failure), only its type is the message's. */
static oms_err read_customer(const oms_envelope *env, const char **customer_id, oms_error *err)
{
    const json_t *v = json_object_get(env->payload, "customer_id");
    if (!json_is_string(v))
        return oms_error_set(err, OMS_EINVAL, "payload.customer_id", "must be a string");
    *customer_id = json_string_value(v);
    return OMS_OK;
}

static oms_err on_payment_requested(payment_app *app, oms_tx *tx, const oms_envelope *env, oms_arena *a,
                                    oms_error *err)
{
    command_origin o;
    const char *customer_id = NULL;
    oms_err rc = read_origin(env, &o, err);
    if (rc == OMS_OK)
        rc = read_customer(env, &customer_id, err);
    if (rc != OMS_OK)
        return rc;
    const json_t *amount = json_object_get(env->payload, "amount_cents");
    if (!json_is_integer(amount))
        return oms_error_set(err, OMS_EINVAL, "payload.amount_cents", "must be an integer");
    return payment_charge(app, tx, a, &o, customer_id, json_integer_value(amount), err);
}

static oms_err on_refund_requested(payment_app *app, oms_tx *tx, const oms_envelope *env, oms_arena *a,
                                   oms_error *err)
{
    command_origin o;
    const char *customer_id = NULL;
    oms_err rc = read_origin(env, &o, err);
    if (rc == OMS_OK)
        rc = read_customer(env, &customer_id, err);
    if (rc != OMS_OK)
        return rc;
    return payment_refund(app, tx, a, &o, customer_id, err);
}

typedef oms_err (*command_fn)(payment_app *app, oms_tx *tx, const oms_envelope *env, oms_arena *a, oms_error *err);

static const struct {
    const char *event_type;
    command_fn fn;
} commands[] = {
    {"PaymentRequested", on_payment_requested},
    {"RefundRequested", on_refund_requested},
};

static oms_err dispatch(void *ctx, oms_tx *tx, const oms_envelope *env, oms_arena *a, oms_error *err)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(env->event_type, commands[i].event_type) == 0)
            return commands[i].fn(ctx, tx, env, a, err);
    return oms_error_set(err, OMS_EINVAL, "event_type", "unknown command %s", env->event_type);
}

oms_bus_disposition payment_on_command(void *ctx, const oms_bus_message *m, oms_arena *a, char *reason,
                                       size_t reason_len)
{
    payment_consumer *c = ctx;
    return oms_handle_once(c->pool, PAYMENT_SUBSCRIPTION, m, dispatch, c->app, a, reason, reason_len);
}

/* A batch in one transaction (oms_handle_batch). */
static void on_commands(void *ctx, const oms_bus_message *msgs, size_t n, oms_arena *a, oms_bus_outcome *out)
{
    payment_consumer *c = ctx;
    oms_handle_batch(c->pool, PAYMENT_SUBSCRIPTION, msgs, n, dispatch, c->app, a, out);
}

oms_err payment_consumers_subscribe(oms_bus *bus, payment_consumer *c, oms_error *err)
{
    return oms_bus_subscribe_batch(bus, OMS_TOPIC_PAYMENT_COMMANDS, PAYMENT_SUBSCRIPTION, on_commands, c, err);
}
