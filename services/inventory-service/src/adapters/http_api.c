/* http_api.c -- routes -> inventory commands and queries. */
#include <stdlib.h>
#include <string.h>

#include "adapters/http_api.h"
#include "application/inventory_app.h"
#include "oms/json.h"
#include "oms/service_auth.h"
#include "oms/util.h"

#define LIST_LIMIT_MAX 10000

static json_t *product_json(const product *p)
{
    json_t *price = p->price_cents == INVENTORY_NO_PRICE ? json_null() : oms_json_money_value(p->price_cents);
    return json_pack("{s:s, s:s, s:o, s:I, s:I}", "product_id", p->product_id, "name", p->name, "price", price, "stock",
                     (json_int_t)p->stock, "reserved", (json_int_t)p->reserved);
}

/* Answers with `doc` (taking its reference), or 500 when it could not be built. */
static void respond_error(oms_http_request *req, oms_http_response *res, const oms_error *err)
{
    oms_http_respond_oms_error(req, res, err);
}

/* The {} segment of the path as a product id (1..64 bytes), or answers 400. */
static const char *product_id_param(oms_http_request *req, oms_http_response *res)
{
    oms_error err;
    oms_error_clear(&err);
    const char *id = req->param_count > 0 ? req->params[0] : NULL;
    if (inventory_validate_product_id(id, "product_id", &err) != OMS_OK) {
        respond_error(req, res, &err);
        return NULL;
    }
    return id;
}

/* Whether the request's principal has `role` (SPEC 7: products, stock and
 * prices are an admin's; reservations a viewer's); else answers 401/403. */
static bool allowed(oms_http_request *req, oms_http_response *res, oms_role role, const char *what)
{
    const oms_principal *who = oms_request_principal(req, res);
    return who && oms_principal_require(who, role, what, req, res);
}

static void create_product(void *ctx, oms_http_request *req, oms_http_response *res)
{
    if (!allowed(req, res, OMS_ROLE_ADMIN, "create products"))
        return;
    json_t *body = oms_http_json_body(req, res);
    if (!body)
        return;
    oms_error err;
    oms_error_clear(&err);
    product p = {0};
    if (!json_is_object(body)) {
        oms_http_respond_error(req, res, 400, "invalid_argument", "the body must be a JSON object", NULL);
        return;
    }
    if (oms_json_string(body, "product_id", "product_id", INVENTORY_ID_MAX, true, &p.product_id, &err) != OMS_OK ||
        oms_json_string(body, "name", "name", INVENTORY_NAME_MAX, true, &p.name, &err) != OMS_OK ||
        oms_json_integer(body, "stock", "stock", 0, INVENTORY_STOCK_MAX, &p.stock, &err) != OMS_OK ||
        oms_json_money(body, "price", "price", 0, INVENTORY_PRICE_MAX_CENTS, &p.price_cents, &err) != OMS_OK) {
        respond_error(req, res, &err);
        return;
    }
    product created;
    if (inventory_create_product(ctx, req->arena, req->auth, &p, &created, &err) != OMS_OK) {
        respond_error(req, res, &err);
        return;
    }
    const char *location = oms_arena_sprintf(req->arena, "/products/%s", created.product_id);
    if (location)
        oms_http_add_header(req, res, "Location", location);
    oms_http_respond_doc(req, res, 201, product_json(&created));
}

/* ?limit= : absent means all; else 1..LIST_LIMIT_MAX. */
static bool parse_limit(oms_http_request *req, oms_http_response *res, size_t *limit)
{
    const char *text = oms_http_query(req, "limit");
    *limit = 0;
    if (!text)
        return true;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (text[0] == '\0' || *end != '\0' || v < 1 || v > LIST_LIMIT_MAX) {
        oms_http_respond_error(req, res, 400, "invalid_argument", "limit must be an integer from 1 to 10000", "limit");
        return false;
    }
    *limit = (size_t)v;
    return true;
}

static void list_products(void *ctx, oms_http_request *req, oms_http_response *res)
{
    size_t limit;
    if (!parse_limit(req, res, &limit))
        return;
    oms_error err;
    oms_error_clear(&err);
    product *list;
    size_t count;
    if (inventory_list_products(ctx, req->arena, limit, &list, &count, &err) != OMS_OK) {
        respond_error(req, res, &err);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; items && i < count; i++) {
        if (json_array_append_new(items, product_json(&list[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    oms_http_respond_doc(req, res, 200, items ? json_pack("{s:o}", "products", items) : NULL);
}

static void get_product(void *ctx, oms_http_request *req, oms_http_response *res)
{
    const char *id = product_id_param(req, res);
    if (!id)
        return;
    oms_error err;
    oms_error_clear(&err);
    product p;
    if (inventory_get_product(ctx, req->arena, id, &p, &err) != OMS_OK) {
        respond_error(req, res, &err);
        return;
    }
    oms_http_respond_doc(req, res, 200, product_json(&p));
}

/* An admin's change of one product: its id (the path's {}) and the JSON
 * object of the body, or NULL after answering 401/403/400. */
static json_t *admin_change(oms_http_request *req, oms_http_response *res, const char *what, const char **id)
{
    if (!allowed(req, res, OMS_ROLE_ADMIN, what))
        return NULL;
    *id = product_id_param(req, res);
    json_t *body = *id ? oms_http_json_body(req, res) : NULL;
    if (body && !json_is_object(body)) {
        oms_http_respond_error(req, res, 400, "invalid_argument", "the body must be a JSON object", NULL);
        return NULL;
    }
    return body;
}

static void restock(void *ctx, oms_http_request *req, oms_http_response *res)
{
    const char *id = NULL;
    json_t *body = admin_change(req, res, "restock products", &id);
    if (!body)
        return;
    oms_error err;
    oms_error_clear(&err);
    int64_t quantity;
    if (oms_json_integer(body, "quantity", "quantity", 1, INVENTORY_QUANTITY_MAX, &quantity, &err) != OMS_OK) {
        respond_error(req, res, &err);
        return;
    }
    product p;
    if (inventory_restock(ctx, req->arena, req->auth, id, quantity, &p, &err) != OMS_OK) {
        respond_error(req, res, &err);
        return;
    }
    oms_http_respond_doc(req, res, 200, product_json(&p));
}

/* PUT /products/{id}/price {"price": number}: the catalog price (SPEC 7). */
static void set_price(void *ctx, oms_http_request *req, oms_http_response *res)
{
    const char *id = NULL;
    json_t *body = admin_change(req, res, "set prices", &id);
    if (!body)
        return;
    oms_error err;
    oms_error_clear(&err);
    int64_t price_cents = 0;
    product p;
    if (oms_json_money(body, "price", "price", 0, INVENTORY_PRICE_MAX_CENTS, &price_cents, &err) != OMS_OK ||
        inventory_set_price(ctx, req->arena, req->auth, id, price_cents, &p, &err) != OMS_OK) {
        respond_error(req, res, &err);
        return;
    }
    oms_http_respond_doc(req, res, 200, product_json(&p));
}

static json_t *reservation_json(const reservation *r)
{
    char created[32], modified[32];
    json_t *items = json_array();
    for (size_t i = 0; items && i < r->line_count; i++) {
        json_t *item = json_pack("{s:s, s:I}", "product_id", r->lines[i].product_id, "quantity",
                                 (json_int_t)r->lines[i].quantity);
        if (json_array_append_new(items, item) != 0) {
            json_decref(items);
            return NULL;
        }
    }
    if (!items)
        return NULL;
    return json_pack("{s:s, s:s, s:o, s:s, s:s}", "order_id", r->order_id, "state", reservation_state_name(r->state),
                     "items", items, "created_at", oms_time_format(r->created_at_ms, created, sizeof created),
                     "modified_at", oms_time_format(r->modified_at_ms, modified, sizeof modified));
}

static void get_reservation(void *ctx, oms_http_request *req, oms_http_response *res)
{
    if (!allowed(req, res, OMS_ROLE_VIEWER, "read reservations"))
        return;
    const char *order_id = oms_http_query_uuid(req, res, "order_id");
    if (!order_id)
        return;
    oms_error err;
    oms_error_clear(&err);
    reservation r;
    if (inventory_get_reservation(ctx, req->arena, order_id, &r, &err) != OMS_OK) {
        respond_error(req, res, &err);
        return;
    }
    oms_http_respond_doc(req, res, 200, reservation_json(&r));
}

const oms_http_route inventory_http_routes[] = {
    {"POST", "/products", create_product, "create_product", NULL},
    {"GET", "/products", list_products, "list_products", NULL},
    {"GET", "/products/{}", get_product, "get_product", NULL},
    {"POST", "/products/{}/stock", restock, "restock", NULL},
    {"PUT", "/products/{}/price", set_price, "set_price", NULL},
    {"GET", "/reservations", get_reservation, "get_reservation", NULL},
};
const size_t inventory_http_route_count = sizeof inventory_http_routes / sizeof inventory_http_routes[0];
