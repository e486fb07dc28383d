/* catalog.h -- order-service's copy of the catalog's prices (SPEC 7).
 *
 * Inventory owns prices; it announces each product's price with
 * ProductPriceChanged (a version that grows with every change), and
 * order-service keeps the newest one it has seen in its own database, so
 * that taking an order never waits for inventory-service. Every call runs
 * inside the caller's unit of work. */
#ifndef ORDER_PORT_CATALOG_H
#define ORDER_PORT_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "oms/arena.h"
#include "oms/err.h"
#include "oms/tx.h"

typedef struct catalog catalog;
typedef struct catalog_ops {
    /* The price of each of the n products into prices[i] (cents), or
     * ORDER_NO_CATALOG_PRICE when the catalog has never announced it. */
    oms_err (*prices)(catalog *c, oms_tx *tx, oms_arena *a, const char *const *product_ids, size_t n, int64_t *prices,
                      oms_error *err);
    /* Keeps `price_cents` for the product when `version` is newer than the
     * one kept; an older or equal version (a redelivery, a message that
     * overtook another) changes nothing. */
    oms_err (*apply)(catalog *c, oms_tx *tx, oms_arena *a, const char *product_id, int64_t price_cents, int64_t version,
                     oms_error *err);
} catalog_ops;
struct catalog {
    const catalog_ops *ops;
    void *self;
};

static inline oms_err catalog_prices(catalog *c, oms_tx *tx, oms_arena *a, const char *const *product_ids, size_t n,
                                     int64_t *prices, oms_error *err)
{
    return c->ops->prices(c, tx, a, product_ids, n, prices, err);
}
static inline oms_err catalog_apply(catalog *c, oms_tx *tx, oms_arena *a, const char *product_id, int64_t price_cents,
                                    int64_t version, oms_error *err)
{
    return c->ops->apply(c, tx, a, product_id, price_cents, version, err);
}

#endif
