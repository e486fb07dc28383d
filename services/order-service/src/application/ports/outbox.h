/* outbox.h -- the messages the order service sends (SPEC section 4), as the
 * application sees them: structured, not yet JSON. The adapter serialises
 * each into the envelope of lib/oms/envelope.h and appends it to the outbox
 * in the caller's transaction, so it leaves only if the change commits. */
#ifndef ORDER_PORT_OUTBOX_H
#define ORDER_PORT_OUTBOX_H

#include "domain/order.h"
#include "domain/saga.h"
#include "oms/arena.h"
#include "oms/tx.h"

typedef enum {
    OUTBOUND_PAYMENT_REQUESTED = 0,     /* payment-commands */
    OUTBOUND_REFUND_REQUESTED,          /* payment-commands */
    OUTBOUND_INVENTORY_REQUESTED,       /* inventory-commands */
    OUTBOUND_INVENTORY_RELEASE_REQUESTED, /* inventory-commands */
    OUTBOUND_ORDER_CREATED,             /* order-events */
    OUTBOUND_ORDER_STATUS_CHANGED,      /* order-events */
} outbound_kind;

typedef struct outbound_message {
    outbound_kind kind;
    const order *order;          /* key (order id), saga id, customer, items, amount */
    const char *command_id;      /* commands: stays the same on a resend */
    const char *reason;          /* refund/release/status change; may be NULL */
    order_status previous_status; /* status change */
    const char *correlation_id;  /* "" when none */
} outbound_message;

typedef struct message_outbox message_outbox;
typedef struct message_outbox_ops {
    /* Appends the message; its fresh event_id goes to event_id_out. */
    oms_err (*send)(message_outbox *o, oms_tx *tx, oms_arena *a, const outbound_message *m,
                    char event_id_out[OMS_UUID_LEN + 1], oms_error *err);
} message_outbox_ops;
struct message_outbox {
    const message_outbox_ops *ops;
    void *self;
};

static inline oms_err message_outbox_send(message_outbox *o, oms_tx *tx, oms_arena *a, const outbound_message *m,
                                          char event_id_out[OMS_UUID_LEN + 1], oms_error *err)
{
    return o->ops->send(o, tx, a, m, event_id_out, err);
}

/* The envelope's event_type of each kind. */
static inline const char *outbound_kind_event_type(outbound_kind k)
{
    switch (k) {
    case OUTBOUND_PAYMENT_REQUESTED:
        return "PaymentRequested";
    case OUTBOUND_REFUND_REQUESTED:
        return "RefundRequested";
    case OUTBOUND_INVENTORY_REQUESTED:
        return "InventoryRequested";
    case OUTBOUND_INVENTORY_RELEASE_REQUESTED:
        return "InventoryReleaseRequested";
    case OUTBOUND_ORDER_CREATED:
        return "OrderCreated";
    case OUTBOUND_ORDER_STATUS_CHANGED:
        return "OrderStatusChanged";
    }
    return "Unknown";
}

#endif
