/* saga_messages.h -- every message of the order saga (SPEC section 4) in one
 * table: its event_type, its topic, who sends it and which subscription
 * consumes it, and its payload's fields with their JSON names and bounds.
 * The orchestrator and the participants both read it, so the two sides of a
 * message cannot disagree; the pg transport seeds its subscriptions from it;
 * docs/architecture.md shows it and a unit test (oms_saga_messages) checks
 * the page against it, the way PostgreSQL's errcodes.txt keeps code and
 * documentation together.
 *
 * Pure C: application layers include it for the payload structs and the
 * reply port. saga_codec.h turns a message into its JSON payload and back
 * (the encoder and decoder walk the field rows below); saga_bus.h puts a
 * message into the outbox and hands a subscription's messages to handlers.
 *
 * Adding a message type: a value in oms_msg_type, its payload struct in
 * oms_msg, its row and field list in saga_messages.c, its row in the table
 * of docs/architecture.md; then the producer fills the struct and the
 * consumer routes the type to a handler. Adding a field: a member of the
 * payload struct and a field row. */
#ifndef OMS_SAGA_MESSAGES_H
#define OMS_SAGA_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "tx.h"

/* Topics (Pulsar: persistent://public/default/<topic>). */
#define OMS_TOPIC_PAYMENT_COMMANDS "payment-commands"
#define OMS_TOPIC_PAYMENT_EVENTS "payment-events"
#define OMS_TOPIC_INVENTORY_COMMANDS "inventory-commands"
#define OMS_TOPIC_INVENTORY_EVENTS "inventory-events"
#define OMS_TOPIC_ORDER_EVENTS "order-events"
#define OMS_TOPIC_PRODUCT_EVENTS "product-events"

/* A command_id is the UUID the saga gave the command; SPEC 2 bounds every
 * id at 64 characters, and so do both sides of every message. */
#define OMS_MSG_COMMAND_ID_MAX 64

typedef enum oms_msg_type {
    OMS_MSG_PAYMENT_REQUESTED = 0,
    OMS_MSG_REFUND_REQUESTED,
    OMS_MSG_PAYMENT_PROCESSED,
    OMS_MSG_PAYMENT_REFUNDED,
    OMS_MSG_INVENTORY_REQUESTED,
    OMS_MSG_INVENTORY_RELEASE_REQUESTED,
    OMS_MSG_INVENTORY_ALLOCATED,
    OMS_MSG_INVENTORY_RELEASED,
    OMS_MSG_ORDER_CREATED,
    OMS_MSG_ORDER_STATUS_CHANGED,
    OMS_MSG_PRODUCT_PRICE_CHANGED,
    OMS_MSG_TYPE_COUNT
} oms_msg_type;

/* Payloads. Strings are borrowed: from the sender's memory when encoding,
 * from the parsed message (or its arena) when decoded. A string the table
 * marks optional is NULL when absent, and null in the JSON when NULL. */
typedef struct oms_inventory_line {
    const char *product_id;
    int64_t quantity;
} oms_inventory_line;

typedef struct oms_payment_requested {
    const char *customer_id; /* any length: the participant's domain answers a bad one */
    int64_t amount_cents;
} oms_payment_requested;

typedef struct oms_refund_requested {
    const char *customer_id;
    const char *reason;
} oms_refund_requested;

typedef struct oms_payment_processed {
    bool success;
    const char *payment_id;
    int64_t amount_cents;
    const char *reason;
} oms_payment_processed;

typedef struct oms_payment_refunded {
    const char *payment_id;
    int64_t amount_cents; /* refunded; 0 when nothing was captured */
} oms_payment_refunded;

typedef struct oms_inventory_lines {
    const oms_inventory_line *lines; /* decoded: in the arena */
    size_t count;
} oms_inventory_lines;

typedef struct oms_inventory_requested {
    oms_inventory_lines items;
} oms_inventory_requested;

typedef struct oms_inventory_release_requested {
    const char *reason;
} oms_inventory_release_requested;

typedef struct oms_inventory_allocated {
    bool success;
    const char *reason;
} oms_inventory_allocated;

typedef struct oms_inventory_released {
    bool released; /* false when nothing was reserved */
} oms_inventory_released;

struct json_t; /* jansson's; only saga_codec.c looks inside */
typedef struct oms_order_created {
    struct json_t *order; /* the SPEC order document, borrowed */
} oms_order_created;

typedef struct oms_order_status_changed {
    const char *status;
    const char *previous_status;
    const char *reason;
} oms_order_status_changed;

/* A product's catalog price (inventory owns prices; order-service keeps a
 * copy, SPEC 7). `version` grows with every change of the product's price,
 * so a copy never goes back to an older one. */
typedef struct oms_product_price_changed {
    const char *product_id;
    int64_t price_cents;
    int64_t version;
} oms_product_price_changed;

/* One message: its type, the command it is or answers, and its payload. */
typedef struct oms_msg {
    oms_msg_type type;
    const char *command_id; /* commands and replies; NULL for events */
    union {
        oms_payment_requested payment_requested;
        oms_refund_requested refund_requested;
        oms_payment_processed payment_processed;
        oms_payment_refunded payment_refunded;
        oms_inventory_requested inventory_requested;
        oms_inventory_release_requested inventory_release_requested;
        oms_inventory_allocated inventory_allocated;
        oms_inventory_released inventory_released;
        oms_order_created order_created;
        oms_order_status_changed order_status_changed;
        oms_product_price_changed product_price_changed;
    } as;
} oms_msg;

/* One member of a payload. */
typedef enum {
    OMS_FIELD_STRING, /* const char * */
    OMS_FIELD_INT,    /* int64_t */
    OMS_FIELD_BOOL,   /* bool */
    OMS_FIELD_LINES,  /* oms_inventory_lines: [{product_id, quantity}] */
    OMS_FIELD_OBJECT, /* struct json_t *: a JSON object */
} oms_field_kind;

typedef struct oms_msg_field {
    const char *name; /* the JSON member */
    oms_field_kind kind;
    bool required;  /* decoding refuses a message without it (absent or null);
                          * else a missing value reads as NULL, 0 or false */
    size_t max_len; /* strings: 0 for any string, else 1..max_len bytes with
                          * no control characters */
    size_t offset;  /* of the value in oms_msg */
} oms_msg_field;

/* One row of the table. */
typedef struct oms_msg_def {
    oms_msg_type type;
    const char *event_type; /* the envelope's event_type */
    const char *topic;
    const char *producer; /* the service that sends it */
    const char *consumer; /* the subscription that handles it; NULL: none inside the system */
    const oms_msg_field *fields;
    size_t field_count;
    const char *note; /* what the payload means beyond its fields (docs); may be NULL */
    /* The payload member (a string) that keys the message on the bus, for a
     * message that is not about one order; its envelope then has no
     * saga_id and order_id. NULL: the order (the envelope's order_id). */
    const char *key;
} oms_msg_def;

/* The row of `t`; NULL when t is not a type. */
const oms_msg_def *oms_msg_def_of(oms_msg_type t);

/* The envelope's event_type of `t` ("Unknown" when t is not a type). */
const char *oms_msg_name(oms_msg_type t);

/* The type whose event_type is `event_type`; false when the saga has none. */
bool oms_msg_type_of(const char *event_type, oms_msg_type *out);

/* Who consumes what: one (topic, subscription) pair per topic that a
 * subscription inside the system consumes, derived from the table. */
typedef struct oms_msg_subscription {
    const char *topic;
    const char *subscription;
} oms_msg_subscription;

/* Fills up to `max` pairs into `out` (may be NULL with max 0) and returns
 * how many there are. */
size_t oms_msg_subscriptions(oms_msg_subscription *out, size_t max);

/* The ids a saga message carries in its envelope besides its own event_id:
 * the saga, the order (also the message key) and the request that started
 * the saga ("" when none). */
typedef struct oms_saga_ref {
    const char *saga_id;
    const char *order_id;
    const char *correlation_id;
} oms_saga_ref;

/* Where a command came from: its reply carries the same saga, order and
 * correlation ids, and its command_id. */
typedef struct oms_command_origin {
    const char *saga_id;
    const char *order_id;
    const char *correlation_id;
    const char *command_id;
} oms_command_origin;

/* The port a participant replies through. `append` queues `reply` inside
 * the caller's unit of work, with the origin's ids and its command_id
 * (reply->command_id is ignored), so the reply leaves if and only if the
 * change that answers the command commits. saga_bus.h has the outbox
 * adapter; tests record the replies in memory. */
typedef struct oms_reply_outbox oms_reply_outbox;
typedef struct oms_reply_outbox_ops {
    oms_err (*append)(oms_reply_outbox *o, oms_tx *tx, oms_arena *a, const oms_command_origin *origin,
                      const oms_msg *reply, oms_error *err);
} oms_reply_outbox_ops;
struct oms_reply_outbox {
    const oms_reply_outbox_ops *ops;
    void *self;
};

static inline oms_err oms_reply_outbox_append(oms_reply_outbox *o, oms_tx *tx, oms_arena *a,
                                              const oms_command_origin *origin, const oms_msg *reply, oms_error *err)
{
    return o->ops->append(o, tx, a, origin, reply, err);
}

#endif
