/* saga_bus.c -- see saga_bus.h. */
#include "saga_bus.h"

#include <stdio.h>
#include <string.h>

#include "json.h"
#include "metrics.h"
#include "inbox.h"
#include "outbox.h"
#include "saga_codec.h"

oms_err oms_saga_send(oms_tx *tx, oms_arena *a, const oms_saga_ref *ref, const oms_msg *m,
                      char event_id_out[OMS_UUID_LEN + 1], oms_error *err)
{
    json_t *payload = NULL;
    oms_err rc = oms_msg_encode(m, &payload, err);
    if (rc != OMS_OK)
        return rc;
    if (!oms_json_own(a, payload))
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    const oms_msg_def *def = oms_msg_def_of(m->type);
    const char *key = def->key ? json_string_value(json_object_get(payload, def->key)) : ref->order_id;
    if (!key)
        return oms_error_set(err, OMS_EINVAL, def->key, "%s needs its key", def->event_type);
    const char *text = oms_envelope_build(a, def->event_type, def->key ? NULL : ref->saga_id,
                                          def->key ? NULL : ref->order_id,
                                          ref->correlation_id ? ref->correlation_id : "", payload, event_id_out);
    if (!text)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory building %s", def->event_type);
    return oms_outbox_append(tx, def->topic, key, text, err);
}

static oms_err append_reply(oms_reply_outbox *o, oms_tx *tx, oms_arena *a, const oms_command_origin *origin,
                            const oms_msg *reply, oms_error *err)
{
    (void)o;
    oms_msg m = *reply;
    m.command_id = origin->command_id;
    oms_saga_ref ref = {origin->saga_id, origin->order_id, origin->correlation_id};
    return oms_saga_send(tx, a, &ref, &m, NULL, err);
}

static const oms_reply_outbox_ops reply_ops = {.append = append_reply};

oms_reply_outbox oms_saga_reply_outbox(void) { return (oms_reply_outbox){.ops = &reply_ops, .self = NULL}; }

/* ---- consuming ---- */

/* The subscription of the consumer: the table's consumer of its routes. */
static const char *subscription_of(const oms_saga_consumer *c)
{
    const oms_msg_def *def = c->route_count ? oms_msg_def_of(c->routes[0].type) : NULL;
    return def ? def->consumer : NULL;
}

static const oms_saga_route *route_of(const oms_saga_consumer *c, const char *event_type)
{
    oms_msg_type type;
    if (!oms_msg_type_of(event_type, &type))
        return NULL;
    for (size_t i = 0; i < c->route_count; i++)
        if (c->routes[i].type == type)
            return &c->routes[i];
    return NULL;
}

/* saga_messages_misrouted_total{subscription, event_type}: a message of a
 * type that travels on another topic (a participant publishing on its own
 * topic what only another may send): dead-lettered, never handled. */
static void count_misrouted(const oms_saga_consumer *c, const char *event_type)
{
    char labels[160];
    snprintf(labels, sizeof labels, "subscription=\"%s\",event_type=\"%s\"", subscription_of(c), event_type);
    oms_counter_add(oms_metrics_counter("saga_messages_misrouted_total",
                                        "Messages refused for coming on another topic than their type's.", labels),
                    1);
}

static oms_err dispatch(void *ctx, oms_tx *tx, const oms_envelope *env, oms_arena *a, oms_error *err)
{
    oms_saga_consumer *c = ctx;
    const oms_saga_route *route = route_of(c, env->event_type);
    if (!route && c->unrouted)
        return c->unrouted(c->ctx, tx, a, env, err);
    if (!route)
        return oms_error_set(err, OMS_EINVAL, "event_type", "unknown command %s", env->event_type);
    const oms_msg_def *def = oms_msg_def_of(route->type);
    if (env->topic && strcmp(env->topic, def->topic) != 0) {
        count_misrouted(c, def->event_type);
        return oms_error_set(err, OMS_EINVAL, "topic", "%s came on %s, not on %s", env->event_type, env->topic,
                             def->topic);
    }
    if (!def->key && !env->order_id[0])
        return oms_error_set(err, OMS_EINVAL, "order_id", "%s needs saga_id and order_id", env->event_type);
    oms_saga_delivery d = {.env = env};
    oms_err rc = oms_msg_decode(a, route->type, env->payload, &d.msg, err);
    if (rc != OMS_OK)
        return rc;
    d.origin = (oms_command_origin){env->saga_id, env->order_id, env->correlation_id ? env->correlation_id : "",
                                    d.msg.command_id};
    return route->handle(c->ctx, tx, a, &d, err);
}

void oms_saga_consume(void *consumer, const oms_bus_message *msgs, size_t n, oms_arena *a, oms_bus_outcome *out)
{
    oms_saga_consumer *c = consumer;
    oms_inbox_handle_batch(c->pool, subscription_of(c), msgs, n, dispatch, c, a, out);
}

/* Whether every route belongs to the same subscription. */
static bool routes_agree(const oms_saga_consumer *c, const char *subscription)
{
    for (size_t i = 0; i < c->route_count; i++) {
        const oms_msg_def *def = oms_msg_def_of(c->routes[i].type);
        if (!def || !def->consumer || strcmp(def->consumer, subscription) != 0)
            return false;
    }
    return true;
}

/* Whether an earlier route travels on the same topic as routes[i]. */
static bool topic_seen(const oms_saga_consumer *c, size_t i)
{
    const char *topic = oms_msg_def_of(c->routes[i].type)->topic;
    for (size_t j = 0; j < i; j++)
        if (strcmp(oms_msg_def_of(c->routes[j].type)->topic, topic) == 0)
            return true;
    return false;
}

oms_err oms_saga_subscribe(oms_bus *bus, oms_saga_consumer *c, oms_error *err)
{
    const char *subscription = subscription_of(c);
    if (!subscription || !routes_agree(c, subscription))
        return oms_error_set(err, OMS_EINVAL, NULL, "a consumer's routes must name messages of one subscription");
    for (size_t i = 0; i < c->route_count; i++) {
        if (topic_seen(c, i))
            continue;
        const char *topic = oms_msg_def_of(c->routes[i].type)->topic;
        oms_err rc = oms_bus_subscribe(bus, topic, subscription, oms_saga_consume, c, err);
        if (rc != OMS_OK)
            return rc;
    }
    return OMS_OK;
}
