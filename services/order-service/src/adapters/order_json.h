/* order_json.h -- an order as JSON: the SPEC order document (the HTTP API's
 * answers, the OrderCreated message) and the items as the write and read
 * tables store them (jsonb). */
#ifndef ORDER_ORDER_JSON_H
#define ORDER_ORDER_JSON_H

#include <jansson.h>

#include "domain/order.h"
#include "oms/arena.h"
#include "oms/err.h"

/* The stored items: [{"product_id", "quantity", "unit_price_cents"}]. NULL on
 * exhaustion; the caller owns the reference. */
json_t *order_items_storage_json(const order *o);
/* Reads them back into o->items (in the arena). */
oms_err order_items_from_storage_json(oms_arena *a, const char *text, order *o, oms_error *err);

/* The SPEC order document (money via oms_json_money_value; dump with
 * oms_json_dump). NULL on exhaustion; the caller owns the reference. */
json_t *order_document_json(const order *o);

#endif
