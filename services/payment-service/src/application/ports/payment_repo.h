/* payment_repo.h -- where the payment of each order is kept (one per order,
 * keyed by order id). Every call runs inside the caller's unit of work; none
 * commits by itself. */
#ifndef PAYMENT_PAYMENT_REPO_H
#define PAYMENT_PAYMENT_REPO_H

#include <stdint.h>

#include "domain/payment.h"
#include "oms/arena.h"
#include "oms/tx.h"

typedef struct payment {
    const char *payment_id; /* a UUID */
    const char *order_id;
    const char *customer_id;
    int64_t amount_cents;
    payment_status status;
    const char *reason; /* why it was declined; NULL otherwise */
} payment;

typedef struct payment_repo payment_repo;

typedef struct payment_repo_ops {
    /* The order's payment, locked for the rest of the transaction;
     * OMS_ENOTFOUND when none. */
    oms_err (*find_for_update)(payment_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, payment *out,
                               oms_error *err);
    /* The same without a lock, for reads. */
    oms_err (*find)(payment_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, payment *out, oms_error *err);
    /* Stores a new payment. OMS_ECONFLICT when the order has one already. */
    oms_err (*insert)(payment_repo *r, oms_tx *tx, oms_arena *a, const payment *p, oms_error *err);
    /* Moves the order's payment to `status`. */
    oms_err (*set_status)(payment_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, payment_status status,
                          oms_error *err);
} payment_repo_ops;

struct payment_repo {
    const payment_repo_ops *ops;
    void *self;
};

static inline oms_err payment_repo_find_for_update(payment_repo *r, oms_tx *tx, oms_arena *a, const char *order_id,
                                                   payment *out, oms_error *err)
{
    return r->ops->find_for_update(r, tx, a, order_id, out, err);
}
static inline oms_err payment_repo_find(payment_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, payment *out,
                                        oms_error *err)
{
    return r->ops->find(r, tx, a, order_id, out, err);
}
static inline oms_err payment_repo_insert(payment_repo *r, oms_tx *tx, oms_arena *a, const payment *p, oms_error *err)
{
    return r->ops->insert(r, tx, a, p, err);
}
static inline oms_err payment_repo_set_status(payment_repo *r, oms_tx *tx, oms_arena *a, const char *order_id,
                                              payment_status status, oms_error *err)
{
    return r->ops->set_status(r, tx, a, order_id, status, err);
}

#endif
