/* order_json.c -- the order as JSON: the SPEC document (HTTP, OrderCreated)
 * and the items column of the read model. */
#include "adapters/order_json.h"

#include <stdio.h>
#include <string.h>

#include "oms/json.h"

json_t *order_items_storage_json(const order *o)
{
    json_t *items = json_array();
    for (size_t i = 0; items && i < o->item_count; i++) {
        json_t *item = json_pack("{s:s, s:I, s:I}", "product_id", o->items[i].product_id, "quantity",
                                 (json_int_t)o->items[i].quantity, "unit_price_cents",
                                 (json_int_t)o->items[i].unit_price_cents);
        if (!item || json_array_append_new(items, item) != 0) {
            json_decref(items);
            return NULL;
        }
    }
    return items;
}

oms_err order_items_from_storage_json(oms_arena *a, const char *text, order *o, oms_error *err)
{
    json_t *items = NULL;
    oms_err rc = oms_json_parse(a, text, strlen(text), &items, err);
    if (rc != OMS_OK)
        return rc;
    if (!json_is_array(items))
        return oms_error_set(err, OMS_EINTERNAL, NULL, "stored items are not an array");
    size_t n = json_array_size(items);
    order_item *out = oms_arena_calloc(a, n ? n : 1, sizeof *out);
    if (!out)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(items, i);
        const char *product = json_string_value(json_object_get(item, "product_id"));
        out[i].product_id = product ? product : ""; /* lives as long as the arena's json */
        out[i].quantity = (int64_t)json_integer_value(json_object_get(item, "quantity"));
        out[i].unit_price_cents = (int64_t)json_integer_value(json_object_get(item, "unit_price_cents"));
    }
    o->items = out;
    o->item_count = n;
    return OMS_OK;
}

static json_t *time_json(int64_t ms)
{
    char text[40];
    return json_string(oms_time_format(ms, text, sizeof text));
}

json_t *order_document_json(const order *o)
{
    json_t *items = json_array();
    for (size_t i = 0; items && i < o->item_count; i++) {
        json_t *item = json_pack("{s:s, s:I, s:o}", "product_id", o->items[i].product_id, "quantity",
                                 (json_int_t)o->items[i].quantity, "unit_price",
                                 oms_json_money_value(o->items[i].unit_price_cents));
        if (!item || json_array_append_new(items, item) != 0) {
            json_decref(items);
            return NULL;
        }
    }
    if (!items)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:s?, s:s?, s:o, s:o}", "id", o->id, "customer_id", o->customer_id,
                     "status", order_status_name(o->status), "items", items, "total_amount",
                     oms_json_money_value(o->total_cents), "saga_id", o->saga_id, "failure_reason", o->failure_reason,
                     "cancellation_reason", o->cancellation_reason, "created_at", time_json(o->created_at_ms),
                     "modified_at", time_json(o->modified_at_ms));
}
