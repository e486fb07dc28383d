/* saga_bus.h -- the saga's messages on the bus, the same way in every
 * service: sending one through the outbox of the caller's unit of work, and
 * consuming a subscription with a table of routes, each message exactly once
 * (the inbox) and decoded by the table of saga_messages.h. */
#ifndef OMS_SAGA_BUS_H
#define OMS_SAGA_BUS_H

#include "bus.h"
#include "envelope.h"
#include "pg.h"
#include "saga_messages.h"

/* Appends `m` to the outbox inside `tx`: its payload (saga_codec.h) in an
 * envelope with ref's ids and a fresh event_id (copied to event_id_out when
 * not NULL), on the message's topic, keyed by ref->order_id -- or, for a
 * message about no order (its row has a key member), keyed by that member,
 * without saga and order ids (ref's may be NULL). It leaves after commit
 * (the relay of outbox.h). OMS_EINVAL when a required member is missing,
 * OMS_ENOMEM, or the outbox's error. */
oms_err oms_saga_send(oms_tx *tx, oms_arena *a, const oms_saga_ref *ref, const oms_msg *m,
                      char event_id_out[OMS_UUID_LEN + 1], oms_error *err);

/* The reply port (saga_messages.h) over oms_saga_send: the reply carries the
 * command's ids and command_id. Stateless: one value serves every thread. */
oms_reply_outbox oms_saga_reply_outbox(void);

/* What a handler gets: the parsed envelope, the ids to answer with, and the
 * decoded message. */
typedef struct oms_saga_delivery {
    const oms_envelope *env;
    oms_command_origin origin; /* env's ids and msg.command_id */
    oms_msg msg;
} oms_saga_delivery;

/* Runs inside the inbox transaction `tx` (the consumer commits it). OMS_OK
 * acknowledges; OMS_EINVAL dead-letters (the message can never succeed);
 * any other error rolls back and retries later. */
typedef oms_err (*oms_saga_handler)(void *ctx, oms_tx *tx, oms_arena *a, const oms_saga_delivery *d, oms_error *err);

/* The same for a message no route names (its payload is not decoded). */
typedef oms_err (*oms_saga_unrouted_handler)(void *ctx, oms_tx *tx, oms_arena *a, const oms_envelope *env,
                                             oms_error *err);

typedef struct oms_saga_route {
    oms_msg_type type;
    oms_saga_handler handle;
} oms_saga_route;

/* One service's consumer. Its subscription (and inbox name) is the consumer
 * that the table names for the routes' types; it subscribes every topic
 * those types travel on. */
typedef struct oms_saga_consumer {
    const oms_saga_route *routes;
    size_t route_count;
    oms_saga_unrouted_handler unrouted; /* NULL: an unrouted message is dead-lettered */
    oms_pg_pool *pool;                  /* the inbox transaction runs here */
    void *ctx;                          /* handed to every handler */
} oms_saga_consumer;

/* Subscribes `c` (which must outlive the bus's consumers) to its topics.
 * OMS_EINVAL when it has no route or its routes belong to different
 * subscriptions (or to none); else the bus's error. */
oms_err oms_saga_subscribe(oms_bus *bus, oms_saga_consumer *c, oms_error *err);

/* The batch handler oms_saga_subscribe registers (`consumer` is the
 * oms_saga_consumer), for tests that hand messages over as the bus would:
 * the batch in one inbox transaction (oms_inbox_handle_batch), out[i] for each. */
void oms_saga_consume(void *consumer, const oms_bus_message *msgs, size_t n, oms_arena *a, oms_bus_outcome *out);

#endif
