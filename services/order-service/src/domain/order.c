/* order.c -- validation and totals of orders. Pure C. */
#include "order.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "oms/money.h"

static const char *const status_names[ORDER_STATUS_COUNT] = {
    [ORDER_CREATED] = "CREATED",
    [ORDER_PENDING_PAYMENT] = "PENDING_PAYMENT",
    [ORDER_PAYMENT_CONFIRMED] = "PAYMENT_CONFIRMED",
    [ORDER_INVENTORY_CONFIRMED] = "INVENTORY_CONFIRMED",
    [ORDER_COMPENSATING] = "COMPENSATING",
    [ORDER_FAILED] = "FAILED",
    [ORDER_CANCELLED] = "CANCELLED",
};

const char *order_status_name(order_status s)
{
    if ((unsigned)s >= ORDER_STATUS_COUNT)
        return "UNKNOWN";
    return status_names[s];
}

bool order_status_parse(const char *name, order_status *out)
{
    if (!name)
        return false;
    for (int i = 0; i < ORDER_STATUS_COUNT; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (order_status)i;
            return true;
        }
    }
    return false;
}

bool order_status_is_final(order_status s)
{
    return s == ORDER_FAILED || s == ORDER_CANCELLED;
}

/* An identifier from outside: 1..max bytes, no control characters. */
static oms_err check_identifier(const char *value, size_t max, const char *field, oms_error *err)
{
    if (!value || value[0] == '\0')
        return oms_error_set(err, OMS_EINVAL, field, "%s must be a non-empty string", field);
    size_t len = strnlen(value, max + 1);
    if (len > max)
        return oms_error_set(err, OMS_EINVAL, field, "%s must be at most %zu characters", field, max);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c < 0x20 || c == 0x7f)
            return oms_error_set(err, OMS_EINVAL, field, "%s must not contain control characters", field);
    }
    return OMS_OK;
}

static oms_err check_item(const order_item *item, size_t index, oms_error *err)
{
    char field[64];
    snprintf(field, sizeof field, "items[%zu].product_id", index);
    oms_err rc = check_identifier(item->product_id, ORDER_PRODUCT_ID_MAX, field, err);
    if (rc != OMS_OK)
        return rc;
    if (item->quantity < 1 || item->quantity > ORDER_QUANTITY_MAX) {
        snprintf(field, sizeof field, "items[%zu].quantity", index);
        return oms_error_set(err, OMS_EINVAL, field, "%s must be a whole number from 1 to %d", field,
                             ORDER_QUANTITY_MAX);
    }
    bool from_catalog = item->unit_price_cents == ORDER_PRICE_FROM_CATALOG;
    if (!from_catalog && (item->unit_price_cents < 0 || item->unit_price_cents > ORDER_UNIT_PRICE_MAX_CENTS)) {
        snprintf(field, sizeof field, "items[%zu].unit_price", index);
        return oms_error_set(err, OMS_EINVAL, field, "%s must be from 0.00 to 1000000.00", field);
    }
    return OMS_OK;
}

oms_err order_total_cents(const order_item *items, size_t count, int64_t *total_cents, oms_error *err)
{
    int64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        int64_t line = 0;
        char field[64];
        snprintf(field, sizeof field, "items[%zu]", i);
        if (oms_money_mul(items[i].unit_price_cents, items[i].quantity, &line) != OMS_OK)
            return oms_error_set(err, OMS_EINVAL, field, "%s: the line total is too large", field);
        if (oms_money_add(total, line, &total) != OMS_OK)
            return oms_error_set(err, OMS_EINVAL, field, "%s: the order total is too large", field);
    }
    *total_cents = total;
    return OMS_OK;
}

oms_err order_validate_create(const order_create_request *req, oms_error *err)
{
    oms_err rc = check_identifier(req->customer_id, ORDER_CUSTOMER_ID_MAX, "customer_id", err);
    if (rc != OMS_OK)
        return rc;
    if (req->item_count == 0 || !req->items)
        return oms_error_set(err, OMS_EINVAL, "items", "items must hold at least one item");
    if (req->item_count > ORDER_ITEMS_MAX)
        return oms_error_set(err, OMS_EINVAL, "items", "items must hold at most %d items", ORDER_ITEMS_MAX);
    for (size_t i = 0; i < req->item_count; i++) {
        rc = check_item(&req->items[i], i, err);
        if (rc != OMS_OK)
            return rc;
    }
    return OMS_OK;
}

order_pricing order_price_items(const order_item *items, const int64_t *catalog, size_t n, order_item *out,
                                size_t *failed)
{
    for (size_t i = 0; i < n; i++) {
        *failed = i;
        if (catalog[i] == ORDER_NO_CATALOG_PRICE)
            return ORDER_PRICE_UNKNOWN_PRODUCT;
        if (items[i].unit_price_cents != ORDER_PRICE_FROM_CATALOG && items[i].unit_price_cents != catalog[i])
            return ORDER_PRICE_CHANGED;
        out[i] = items[i];
        out[i].unit_price_cents = catalog[i];
    }
    return ORDER_PRICED;
}

void order_init(order *o, const order_create_request *req, const char *order_id, const char *saga_id,
                int64_t total_cents, int64_t now_ms)
{
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", order_id);
    snprintf(o->saga_id, sizeof o->saga_id, "%s", saga_id);
    o->customer_id = req->customer_id;
    o->status = ORDER_CREATED;
    o->items = req->items;
    o->item_count = req->item_count;
    o->total_cents = total_cents;
    o->created_at_ms = now_ms;
    o->modified_at_ms = now_ms;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Each field is followed by a NUL so "ab"+"c" differs from "a"+"bc". */
static uint64_t fnv1a_str(uint64_t h, const char *s)
{
    return fnv1a(h, s ? s : "", (s ? strlen(s) : 0) + 1);
}

static uint64_t fnv1a_int(uint64_t h, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%" PRId64, v);
    return fnv1a(h, buf, (size_t)n + 1);
}

void order_request_fingerprint(const order_create_request *req, char out[17])
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv1a_str(h, req->customer_id);
    h = fnv1a_int(h, (int64_t)req->item_count);
    for (size_t i = 0; i < req->item_count; i++) {
        h = fnv1a_str(h, req->items[i].product_id);
        h = fnv1a_int(h, req->items[i].quantity);
        h = fnv1a_int(h, req->items[i].unit_price_cents);
    }
    snprintf(out, 17, "%016" PRIx64, h);
}
