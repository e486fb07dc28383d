/* bus_consumers.c -- the messages of inventory-commands, parsed and handed to
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

/* Reads payload.items as lines. Types are checked here (a wrong type is a
 * malformed message); ranges are the domain's (an out-of-range quantity is
 * answered with a failure). */
static oms_err read_lines(const oms_envelope *env, oms_arena *a, reservation_line **out, size_t *n, oms_error *err)
{
    const json_t *items = json_object_get(env->payload, "items");
    if (!json_is_array(items))
        return oms_error_set(err, OMS_EINVAL, "payload.items", "must be an array");
    /* Too many lines is answered by the domain, like any other bad line. */
    size_t count = json_array_size(items);
    reservation_line *lines = oms_arena_calloc(a, count ? count : 1, sizeof *lines);
    if (!lines)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const json_t *item = json_array_get(items, i);
        const json_t *id = json_object_get(item, "product_id");
        const json_t *quantity = json_object_get(item, "quantity");
        if (!json_is_string(id) || !json_is_integer(quantity))
            return oms_error_set(err, OMS_EINVAL, "payload.items", "item %zu needs product_id and quantity", i);
        lines[i] = (reservation_line){.product_id = json_string_value(id), .quantity = json_integer_value(quantity)};
    }
    *out = lines;
    *n = count;
    return OMS_OK;
}

static oms_err on_inventory_requested(inventory_app *app, oms_tx *tx, const oms_envelope *env, oms_arena *a,
                                      oms_error *err)
{
    command_origin o;
    reservation_line *lines = NULL;
    size_t n = 0;
    oms_err rc = read_origin(env, &o, err);
    if (rc == OMS_OK)
        rc = read_lines(env, a, &lines, &n, err);
    if (rc != OMS_OK)
        return rc;
    return inventory_reserve(app, tx, a, &o, lines, n, err);
}

static oms_err on_release_requested(inventory_app *app, oms_tx *tx, const oms_envelope *env, oms_arena *a,
                                    oms_error *err)
{
    command_origin o;
    oms_err rc = read_origin(env, &o, err);
    if (rc != OMS_OK)
        return rc;
    return inventory_release(app, tx, a, &o, err);
}

typedef oms_err (*command_fn)(inventory_app *app, oms_tx *tx, const oms_envelope *env, oms_arena *a,
                              oms_error *err);

static const struct {
    const char *event_type;
    command_fn fn;
} commands[] = {
    {"InventoryRequested", on_inventory_requested},
    {"InventoryReleaseRequested", on_release_requested},
};

static oms_err dispatch(void *ctx, oms_tx *tx, const oms_envelope *env, oms_arena *a, oms_error *err)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(env->event_type, commands[i].event_type) == 0)
            return commands[i].fn(ctx, tx, env, a, err);
    return oms_error_set(err, OMS_EINVAL, "event_type", "unknown command %s", env->event_type);
}

oms_bus_disposition inventory_on_command(void *ctx, const oms_bus_message *m, oms_arena *a, char *reason,
                                         size_t reason_len)
{
    inventory_consumer *c = ctx;
    return oms_handle_once(c->pool, INVENTORY_SUBSCRIPTION, m, dispatch, c->app, a, reason, reason_len);
}

/* A batch in one transaction (oms_handle_batch). */
static void on_commands(void *ctx, const oms_bus_message *msgs, size_t n, oms_arena *a, oms_bus_outcome *out)
{
    inventory_consumer *c = ctx;
    oms_handle_batch(c->pool, INVENTORY_SUBSCRIPTION, msgs, n, dispatch, c->app, a, out);
}

oms_err inventory_consumers_subscribe(oms_bus *bus, inventory_consumer *c, oms_error *err)
{
    return oms_bus_subscribe_batch(bus, OMS_TOPIC_INVENTORY_COMMANDS, INVENTORY_SUBSCRIPTION, on_commands, c, err);
}
