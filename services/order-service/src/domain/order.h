/* order.h -- the order and its items, and the rules for a create request.
 * Pure C: no I/O, no JSON. Money is integer cents (lib/oms/money.h). */
#ifndef ORDER_ORDER_H
#define ORDER_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oms/err.h"
#include "oms/util.h"

#define ORDER_CUSTOMER_ID_MAX 64
#define ORDER_PRODUCT_ID_MAX 64
#define ORDER_ITEMS_MAX 100
#define ORDER_QUANTITY_MAX 1000000
#define ORDER_UNIT_PRICE_MAX_CENTS 100000000 /* 1,000,000.00 */
#define ORDER_REASON_MAX 500

/* The order's status is also its saga's state (SPEC section 3). The enum
 * order is the order in which a status may move: never backwards, except that
 * FAILED and CANCELLED are two equal final ends. */
typedef enum {
    ORDER_CREATED = 0,
    ORDER_PENDING_PAYMENT,
    ORDER_PAYMENT_CONFIRMED,
    ORDER_INVENTORY_CONFIRMED,
    ORDER_COMPENSATING,
    ORDER_FAILED,
    ORDER_CANCELLED,
    ORDER_STATUS_COUNT
} order_status;

typedef struct order_item {
    const char *product_id;
    int64_t quantity;
    int64_t unit_price_cents;
} order_item;

/* A create request as decoded by an adapter; strings are borrowed. */
typedef struct order_create_request {
    const char *customer_id;
    const order_item *items;
    size_t item_count;
} order_create_request;

typedef struct order {
    char id[OMS_UUID_LEN + 1];
    char saga_id[OMS_UUID_LEN + 1];
    const char *customer_id; /* borrowed (arena of the caller) */
    order_status status;
    const order_item *items; /* borrowed */
    size_t item_count;
    int64_t total_cents;
    const char *failure_reason;      /* NULL when none */
    const char *cancellation_reason; /* NULL when none */
    int64_t created_at_ms;
    int64_t modified_at_ms;
} order;

/* "CREATED", "PENDING_PAYMENT", ...; "UNKNOWN" for an out-of-range value. */
const char *order_status_name(order_status s);

/* Parses a status name (exact, upper case). false when unknown. */
bool order_status_parse(const char *name, order_status *out);

/* Whether the status is FAILED or CANCELLED. */
bool order_status_is_final(order_status s);

/* An item's unit_price the client left out: the catalog's (SPEC 7). */
#define ORDER_PRICE_FROM_CATALOG (-1)
/* A product the catalog does not know (it has no price there). */
#define ORDER_NO_CATALOG_PRICE (-1)

/* Checks every field of a create request (a unit_price may be
 * ORDER_PRICE_FROM_CATALOG). OMS_EINVAL with err->field naming the
 * offending field ("customer_id", "items", "items[2].quantity"). */
oms_err order_validate_create(const order_create_request *req, oms_error *err);

/* How pricing from the catalog went (order_price_items). */
typedef enum {
    ORDER_PRICED = 0,            /* every item has the catalog's price */
    ORDER_PRICE_UNKNOWN_PRODUCT, /* the catalog does not know an item's product */
    ORDER_PRICE_CHANGED,         /* an item's unit_price is not the catalog's */
} order_pricing;

/* Prices the n items from the catalog: catalog[i] is the price of items[i]'s
 * product, or ORDER_NO_CATALOG_PRICE. Every item takes the catalog price
 * into out[i]; an item whose unit_price was given must name that price (no
 * client sets its own price). On the first item that cannot be priced,
 * returns why and its index in *failed. */
order_pricing order_price_items(const order_item *items, const int64_t *catalog, size_t n, order_item *out,
                                size_t *failed);

/* The total of items in cents, OMS_EINVAL on overflow (field "items[i]..."). */
oms_err order_total_cents(const order_item *items, size_t count, int64_t *total_cents, oms_error *err);

/* A new order in CREATED from a validated request; ids and times given by
 * the caller (the application's id generator and clock). */
void order_init(order *o, const order_create_request *req, const char *order_id, const char *saga_id,
                int64_t total_cents, int64_t now_ms);

/* The canonical body of a create request: one JSON text, members in a fixed
 * order and no spaces ({"customer_id":"c","items":[{"product_id":"p",
 * "quantity":2,"unit_price":10.50}]}, unit_price null when left to the
 * catalog), so requests that mean the same have the same text. Writes at
 * most cap bytes (NUL included) and returns the length of the whole text,
 * as snprintf. Its SHA-256 tells a retried POST from a different one under
 * the same Idempotency-Key (application/commands.c). */
size_t order_request_canonical(const order_create_request *req, char *buf, size_t cap);

#endif
