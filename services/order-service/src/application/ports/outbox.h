/* outbox.h -- the messages the order service sends (SPEC section 4), as the
 * application sees them: a type of the saga's message table
 * (oms/saga_messages.h) and the order it is about. The adapter fills the
 * type's payload from the order, and appends it to the outbox in the
 * caller's transaction, so it leaves only if the change commits. */
#ifndef ORDER_PORT_OUTBOX_H
#define ORDER_PORT_OUTBOX_H

#include "domain/order.h"
#include "domain/saga.h"
#include "oms/arena.h"
#include "oms/saga_messages.h"
#include "oms/tx.h"

typedef struct outbound_message {
    oms_msg_type type;
    const order *order;           /* key (order id), saga id, customer, items, amount */
    const char *command_id;       /* commands: stays the same on a resend */
    const char *reason;           /* refund/release/status change; may be NULL */
    order_status previous_status; /* status change */
    const char *correlation_id;   /* "" when none */
} outbound_message;

typedef struct order_outbox order_outbox;
typedef struct order_outbox_ops {
    /* Appends the message; its fresh event_id goes to event_id_out. */
    oms_err (*send)(order_outbox *o, oms_tx *tx, oms_arena *a, const outbound_message *m,
                    char event_id_out[OMS_UUID_LEN + 1], oms_error *err);
} order_outbox_ops;
struct order_outbox {
    const order_outbox_ops *ops;
    void *self;
};

static inline oms_err order_outbox_send(order_outbox *o, oms_tx *tx, oms_arena *a, const outbound_message *m,
                                        char event_id_out[OMS_UUID_LEN + 1], oms_error *err)
{
    return o->ops->send(o, tx, a, m, event_id_out, err);
}

#endif
