/* queries.c -- what reads inventory. Each query runs in a short transaction
 * of its own that only reads. */
#include "application/inventory_app.h"

typedef oms_err (*read_fn)(inventory_app *app, oms_tx *tx, void *args, oms_error *err);

static oms_err read_in_tx(inventory_app *app, read_fn fn, void *args, oms_error *err)
{
    oms_tx *tx;
    oms_err rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    return oms_tx_finish(app->tx, tx, fn(app, tx, args, err), err);
}

typedef struct product_args {
    oms_arena *a;
    const char *product_id;
    product *out;
    size_t limit;
    product **list;
    size_t *count;
} product_args;

static oms_err read_product(inventory_app *app, oms_tx *tx, void *args, oms_error *err)
{
    product_args *p = args;
    return product_repo_find(app->products, tx, p->a, p->product_id, p->out, err);
}

oms_err inventory_get_product(inventory_app *app, oms_arena *a, const char *product_id, product *out, oms_error *err)
{
    oms_err rc = inventory_validate_product_id(product_id, "product_id", err);
    if (rc != OMS_OK)
        return rc;
    product_args args = {.a = a, .product_id = product_id, .out = out};
    return read_in_tx(app, read_product, &args, err);
}

static oms_err read_products(inventory_app *app, oms_tx *tx, void *args, oms_error *err)
{
    product_args *p = args;
    return product_repo_list(app->products, tx, p->a, p->limit, p->list, p->count, err);
}

oms_err inventory_list_products(inventory_app *app, oms_arena *a, size_t limit, product **out, size_t *count,
                                oms_error *err)
{
    product_args args = {.a = a, .limit = limit, .list = out, .count = count};
    return read_in_tx(app, read_products, &args, err);
}

typedef struct reservation_args {
    oms_arena *a;
    const char *order_id;
    reservation *out;
} reservation_args;

static oms_err read_reservation(inventory_app *app, oms_tx *tx, void *args, oms_error *err)
{
    reservation_args *r = args;
    return reservation_repo_find(app->reservations, tx, r->a, r->order_id, r->out, err);
}

oms_err inventory_get_reservation(inventory_app *app, oms_arena *a, const char *order_id, reservation *out,
                                  oms_error *err)
{
    reservation_args args = {.a = a, .order_id = order_id, .out = out};
    oms_err rc = read_in_tx(app, read_reservation, &args, err);
    if (rc == OMS_OK && out->state == RESERVATION_FAILED)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "no reservation for order %s", order_id);
    if (rc == OMS_ENOTFOUND)
        oms_error_set(err, OMS_ENOTFOUND, NULL, "no reservation for order %s", order_id);
    return rc;
}
