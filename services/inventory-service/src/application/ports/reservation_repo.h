/* reservation_repo.h -- where the reservation of each order is kept (one per
 * order, keyed by order id). Every call runs inside the caller's unit of
 * work; none commits by itself. */
#ifndef INVENTORY_RESERVATION_REPO_H
#define INVENTORY_RESERVATION_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "domain/inventory.h"
#include "oms/arena.h"
#include "oms/tx.h"

typedef struct reservation {
    const char *order_id;
    reservation_state state;
    const char *reason;      /* why a FAILED one failed; NULL otherwise */
    reservation_line *lines; /* ordered by product id; none for a tombstone or a failure */
    size_t line_count;
    int64_t created_at_ms;
    int64_t modified_at_ms;
} reservation;

typedef struct reservation_repo reservation_repo;

typedef struct reservation_repo_ops {
    /* The order's reservation with its lines, locked for the rest of the
     * transaction; OMS_ENOTFOUND when none. */
    oms_err (*find_for_update)(reservation_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, reservation *out,
                               oms_error *err);
    /* The same without a lock, for reads. */
    oms_err (*find)(reservation_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, reservation *out,
                    oms_error *err);
    /* Stores a new reservation and its lines (timestamps are set by the
     * store). OMS_ECONFLICT when the order has one already. */
    oms_err (*insert)(reservation_repo *r, oms_tx *tx, oms_arena *a, const reservation *res, oms_error *err);
    /* Moves the order's reservation to `state` (modified_at = now). */
    oms_err (*set_state)(reservation_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, reservation_state state,
                         oms_error *err);
} reservation_repo_ops;

struct reservation_repo {
    const reservation_repo_ops *ops;
    void *self;
};

static inline oms_err reservation_repo_find_for_update(reservation_repo *r, oms_tx *tx, oms_arena *a,
                                                       const char *order_id, reservation *out, oms_error *err)
{
    return r->ops->find_for_update(r, tx, a, order_id, out, err);
}
static inline oms_err reservation_repo_find(reservation_repo *r, oms_tx *tx, oms_arena *a, const char *order_id,
                                            reservation *out, oms_error *err)
{
    return r->ops->find(r, tx, a, order_id, out, err);
}
static inline oms_err reservation_repo_insert(reservation_repo *r, oms_tx *tx, oms_arena *a, const reservation *res,
                                              oms_error *err)
{
    return r->ops->insert(r, tx, a, res, err);
}
static inline oms_err reservation_repo_set_state(reservation_repo *r, oms_tx *tx, oms_arena *a, const char *order_id,
                                                 reservation_state state, oms_error *err)
{
    return r->ops->set_state(r, tx, a, order_id, state, err);
}

#endif
