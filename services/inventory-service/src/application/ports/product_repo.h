/* product_repo.h -- where products and their stock ledger are kept.
 *
 * Every call runs inside the caller's unit of work (oms_tx); none commits by
 * itself. Strings handed out live in the arena `a`. */
#ifndef INVENTORY_PRODUCT_REPO_H
#define INVENTORY_PRODUCT_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "domain/inventory.h"
#include "oms/arena.h"
#include "oms/tx.h"

typedef struct product_repo product_repo;

typedef struct product_repo_ops {
    /* Stores a new product (its price as version 1) and its INITIAL ledger
     * entry. OMS_ECONFLICT when the product id exists. */
    oms_err (*insert)(product_repo *r, oms_tx *tx, oms_arena *a, const product *p, oms_error *err);
    /* Sets the product's price and moves its price_version on by one; *out
     * is the product after. OMS_ENOTFOUND for an unknown product. */
    oms_err (*set_price)(product_repo *r, oms_tx *tx, oms_arena *a, const char *product_id, int64_t price_cents,
                         product *out, oms_error *err);
    /* The product, or OMS_ENOTFOUND. */
    oms_err (*find)(product_repo *r, oms_tx *tx, oms_arena *a, const char *product_id, product *out, oms_error *err);
    /* Up to `limit` products (0: all) ordered by product id: *out in the arena. */
    oms_err (*list)(product_repo *r, oms_tx *tx, oms_arena *a, size_t limit, product **out, size_t *count,
                    oms_error *err);
    /* Locks the named products (ids sorted, distinct) for the rest of the
     * transaction, always in product id order so that concurrent callers
     * cannot deadlock, and returns those that exist (in *out, in the arena,
     * ordered by id; *count may be less than n). */
    oms_err (*lock)(product_repo *r, oms_tx *tx, oms_arena *a, const char *const *product_ids, size_t n, product **out,
                    size_t *count, oms_error *err);
    /* Adds stock_delta to stock and reserved_delta to reserved, and appends a
     * ledger entry (product, stock_delta, kind, order_id or NULL). OMS_ENOTFOUND
     * for an unknown product; OMS_EINVAL if stock or reserved would go negative
     * (the database refuses). */
    oms_err (*change_stock)(product_repo *r, oms_tx *tx, oms_arena *a, const char *product_id, int64_t stock_delta,
                            int64_t reserved_delta, stock_change_kind kind, const char *order_id, oms_error *err);
} product_repo_ops;

struct product_repo {
    const product_repo_ops *ops;
    void *self;
};

static inline oms_err product_repo_insert(product_repo *r, oms_tx *tx, oms_arena *a, const product *p, oms_error *err)
{
    return r->ops->insert(r, tx, a, p, err);
}
static inline oms_err product_repo_set_price(product_repo *r, oms_tx *tx, oms_arena *a, const char *product_id,
                                             int64_t price_cents, product *out, oms_error *err)
{
    return r->ops->set_price(r, tx, a, product_id, price_cents, out, err);
}
static inline oms_err product_repo_find(product_repo *r, oms_tx *tx, oms_arena *a, const char *product_id, product *out,
                                        oms_error *err)
{
    return r->ops->find(r, tx, a, product_id, out, err);
}
static inline oms_err product_repo_list(product_repo *r, oms_tx *tx, oms_arena *a, size_t limit, product **out,
                                        size_t *count, oms_error *err)
{
    return r->ops->list(r, tx, a, limit, out, count, err);
}
static inline oms_err product_repo_lock(product_repo *r, oms_tx *tx, oms_arena *a, const char *const *product_ids,
                                        size_t n, product **out, size_t *count, oms_error *err)
{
    return r->ops->lock(r, tx, a, product_ids, n, out, count, err);
}
static inline oms_err product_repo_change_stock(product_repo *r, oms_tx *tx, oms_arena *a, const char *product_id,
                                                int64_t stock_delta, int64_t reserved_delta, stock_change_kind kind,
                                                const char *order_id, oms_error *err)
{
    return r->ops->change_stock(r, tx, a, product_id, stock_delta, reserved_delta, kind, order_id, err);
}

#endif
