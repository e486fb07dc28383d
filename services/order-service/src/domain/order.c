/* order.c -- validation and totals of orders. Pure C. */
#include "order.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "oms/ident.h"
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

bool order_status_is_final(order_status s) { return s == ORDER_FAILED || s == ORDER_CANCELLED; }

/* An identifier from outside: the plain id charset (oms/ident.h, review L2). */
static oms_err check_identifier(const char *value, size_t max, const char *field, oms_error *err)
{
    return oms_ident_check(value, max, field, err);
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

/* Appends to buf (cap bytes, kept NUL-terminated) and counts in *len what
 * the whole text needs, as snprintf does. */
static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*len < cap ? buf + *len : NULL, *len < cap ? cap - *len : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n;
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void put_string(char *buf, size_t cap, size_t *len, const char *s)
{
    put(buf, cap, len, "\"");
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            put(buf, cap, len, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            put(buf, cap, len, "\\u%04x", *p);
        else
            put(buf, cap, len, "%c", *p);
    }
    put(buf, cap, len, "\"");
}

size_t order_request_canonical(const order_create_request *req, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap)
        buf[0] = '\0';
    put(buf, cap, &len, "{\"customer_id\":");
    put_string(buf, cap, &len, req->customer_id);
    put(buf, cap, &len, ",\"items\":[");
    for (size_t i = 0; i < req->item_count; i++) {
        const order_item *item = &req->items[i];
        put(buf, cap, &len, "%s{\"product_id\":", i ? "," : "");
        put_string(buf, cap, &len, item->product_id);
        put(buf, cap, &len, ",\"quantity\":%" PRId64 ",\"unit_price\":", item->quantity);
        char price[OMS_MONEY_TEXT_MAX];
        if (item->unit_price_cents == ORDER_PRICE_FROM_CATALOG)
            put(buf, cap, &len, "null}");
        else
            put(buf, cap, &len, "%s}", oms_money_format(item->unit_price_cents, price));
    }
    put(buf, cap, &len, "]}");
    return len;
}
