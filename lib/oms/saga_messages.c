/* saga_messages.c -- the table of the saga's messages (see saga_messages.h).
 *
 * Commands require their command_id; a reply may come without one, and
 * without any member but `success`, to be decoded all the same: the saga
 * then rejects it (it must name the command it answers, see order-service's
 * saga_check_reply) and a participant's bug shows in the saga log instead of
 * only as a dead letter. */
#include "saga_messages.h"

#include <string.h>

#define ORDER_SERVICE "order-service"
#define PAYMENT_SERVICE "payment-service"
#define INVENTORY_SERVICE "inventory-service"

/* A field row: (JSON name, kind, required, max length, member of oms_msg). */
#define FIELD(name, kind, required, max, member)                                                                       \
    {                                                                                                                  \
        name, kind, required, max, offsetof(oms_msg, member)                                                           \
    }
#define COMMAND_ID FIELD("command_id", OMS_FIELD_STRING, true, OMS_MSG_COMMAND_ID_MAX, command_id)
#define REPLY_COMMAND_ID FIELD("command_id", OMS_FIELD_STRING, false, OMS_MSG_COMMAND_ID_MAX, command_id)
#define FIELDS(list) list, sizeof list / sizeof list[0]

static const oms_msg_field payment_requested[] = {
    COMMAND_ID,
    FIELD("customer_id", OMS_FIELD_STRING, true, 0, as.payment_requested.customer_id),
    FIELD("amount_cents", OMS_FIELD_INT, true, 0, as.payment_requested.amount_cents),
};
static const oms_msg_field refund_requested[] = {
    COMMAND_ID,
    FIELD("customer_id", OMS_FIELD_STRING, true, 0, as.refund_requested.customer_id),
    FIELD("reason", OMS_FIELD_STRING, false, 0, as.refund_requested.reason),
};
static const oms_msg_field payment_processed[] = {
    REPLY_COMMAND_ID,
    FIELD("success", OMS_FIELD_BOOL, true, 0, as.payment_processed.success),
    FIELD("payment_id", OMS_FIELD_STRING, false, 0, as.payment_processed.payment_id),
    FIELD("amount_cents", OMS_FIELD_INT, false, 0, as.payment_processed.amount_cents),
    FIELD("reason", OMS_FIELD_STRING, false, 0, as.payment_processed.reason),
};
static const oms_msg_field payment_refunded[] = {
    REPLY_COMMAND_ID,
    FIELD("payment_id", OMS_FIELD_STRING, false, 0, as.payment_refunded.payment_id),
    FIELD("amount_cents", OMS_FIELD_INT, false, 0, as.payment_refunded.amount_cents),
};
static const oms_msg_field inventory_requested[] = {
    COMMAND_ID,
    FIELD("items", OMS_FIELD_LINES, true, 0, as.inventory_requested.items),
};
static const oms_msg_field inventory_release_requested[] = {
    COMMAND_ID,
    FIELD("reason", OMS_FIELD_STRING, false, 0, as.inventory_release_requested.reason),
};
static const oms_msg_field inventory_allocated[] = {
    REPLY_COMMAND_ID,
    FIELD("success", OMS_FIELD_BOOL, true, 0, as.inventory_allocated.success),
    FIELD("reason", OMS_FIELD_STRING, false, 0, as.inventory_allocated.reason),
};
static const oms_msg_field inventory_released[] = {
    REPLY_COMMAND_ID,
    FIELD("released", OMS_FIELD_BOOL, false, 0, as.inventory_released.released),
};
static const oms_msg_field order_created[] = {
    FIELD("order", OMS_FIELD_OBJECT, true, 0, as.order_created.order),
};
static const oms_msg_field order_status_changed[] = {
    FIELD("status", OMS_FIELD_STRING, true, 0, as.order_status_changed.status),
    FIELD("previous_status", OMS_FIELD_STRING, true, 0, as.order_status_changed.previous_status),
    FIELD("reason", OMS_FIELD_STRING, false, 0, as.order_status_changed.reason),
};

static const oms_msg_field product_price_changed[] = {
    FIELD("product_id", OMS_FIELD_STRING, true, OMS_MSG_COMMAND_ID_MAX, as.product_price_changed.product_id),
    FIELD("price_cents", OMS_FIELD_INT, true, 0, as.product_price_changed.price_cents),
    FIELD("version", OMS_FIELD_INT, true, 0, as.product_price_changed.version),
};

/* Columns: type, event_type, topic, producer, consumer, fields, note, key. In
 * the order of docs/architecture.md. */
static const oms_msg_def defs[OMS_MSG_TYPE_COUNT] = {
    {OMS_MSG_PAYMENT_REQUESTED, "PaymentRequested", OMS_TOPIC_PAYMENT_COMMANDS, ORDER_SERVICE, PAYMENT_SERVICE,
     FIELDS(payment_requested), NULL, NULL},
    {OMS_MSG_REFUND_REQUESTED, "RefundRequested", OMS_TOPIC_PAYMENT_COMMANDS, ORDER_SERVICE, PAYMENT_SERVICE,
     FIELDS(refund_requested), NULL, NULL},
    {OMS_MSG_PAYMENT_PROCESSED, "PaymentProcessed", OMS_TOPIC_PAYMENT_EVENTS, PAYMENT_SERVICE, ORDER_SERVICE,
     FIELDS(payment_processed), NULL, NULL},
    {OMS_MSG_PAYMENT_REFUNDED, "PaymentRefunded", OMS_TOPIC_PAYMENT_EVENTS, PAYMENT_SERVICE, ORDER_SERVICE,
     FIELDS(payment_refunded), "refunded amount, 0 when nothing was captured", NULL},
    {OMS_MSG_INVENTORY_REQUESTED, "InventoryRequested", OMS_TOPIC_INVENTORY_COMMANDS, ORDER_SERVICE, INVENTORY_SERVICE,
     FIELDS(inventory_requested), NULL, NULL},
    {OMS_MSG_INVENTORY_RELEASE_REQUESTED, "InventoryReleaseRequested", OMS_TOPIC_INVENTORY_COMMANDS, ORDER_SERVICE,
     INVENTORY_SERVICE, FIELDS(inventory_release_requested), NULL, NULL},
    {OMS_MSG_INVENTORY_ALLOCATED, "InventoryAllocated", OMS_TOPIC_INVENTORY_EVENTS, INVENTORY_SERVICE, ORDER_SERVICE,
     FIELDS(inventory_allocated), NULL, NULL},
    {OMS_MSG_INVENTORY_RELEASED, "InventoryReleased", OMS_TOPIC_INVENTORY_EVENTS, INVENTORY_SERVICE, ORDER_SERVICE,
     FIELDS(inventory_released), "false when nothing was reserved", NULL},
    {OMS_MSG_ORDER_CREATED, "OrderCreated", OMS_TOPIC_ORDER_EVENTS, ORDER_SERVICE, NULL, FIELDS(order_created),
     "the order document", NULL},
    {OMS_MSG_ORDER_STATUS_CHANGED, "OrderStatusChanged", OMS_TOPIC_ORDER_EVENTS, ORDER_SERVICE, NULL,
     FIELDS(order_status_changed), NULL, NULL},
    {OMS_MSG_PRODUCT_PRICE_CHANGED, "ProductPriceChanged", OMS_TOPIC_PRODUCT_EVENTS, INVENTORY_SERVICE, ORDER_SERVICE,
     FIELDS(product_price_changed), "the catalog price; keyed by product_id, no saga", "product_id"},
};

const oms_msg_def *oms_msg_def_of(oms_msg_type t)
{
    if ((unsigned)t >= OMS_MSG_TYPE_COUNT)
        return NULL;
    return &defs[t];
}

const char *oms_msg_name(oms_msg_type t)
{
    const oms_msg_def *d = oms_msg_def_of(t);
    return d ? d->event_type : "Unknown";
}

bool oms_msg_type_of(const char *event_type, oms_msg_type *out)
{
    for (size_t i = 0; event_type && i < OMS_MSG_TYPE_COUNT; i++) {
        if (strcmp(defs[i].event_type, event_type) == 0) {
            *out = defs[i].type;
            return true;
        }
    }
    return false;
}

static bool seen_before(size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (defs[j].consumer && strcmp(defs[j].topic, defs[i].topic) == 0 &&
            strcmp(defs[j].consumer, defs[i].consumer) == 0)
            return true;
    return false;
}

size_t oms_msg_subscriptions(oms_msg_subscription *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < OMS_MSG_TYPE_COUNT; i++) {
        if (!defs[i].consumer || seen_before(i))
            continue;
        if (n < max)
            out[n] = (oms_msg_subscription){defs[i].topic, defs[i].consumer};
        n++;
    }
    return n;
}
