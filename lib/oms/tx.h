/* tx.h -- the unit of work, as the application layer sees it.
 *
 * The application begins a transaction through this port, passes the opaque
 * oms_tx to every repository and outbox call, and commits once. It never
 * knows which database is behind it (pg.h provides the PostgreSQL adapter,
 * tests an in-memory one). */
#ifndef OMS_TX_H
#define OMS_TX_H

#include "err.h"

typedef struct oms_tx oms_tx;
typedef struct oms_tx_manager oms_tx_manager;

typedef struct oms_tx_manager_ops {
    /* Starts a transaction; *out valid until commit or rollback.
     * OMS_EUNAVAILABLE when no connection can be had. */
    oms_err (*begin)(oms_tx_manager *m, oms_tx **out, oms_error *err);
    /* Commits and releases. OMS_EBUSY on a serialization failure or deadlock
     * (the caller may retry the whole unit of work); the tx is gone either way. */
    oms_err (*commit)(oms_tx_manager *m, oms_tx *tx, oms_error *err);
    /* Rolls back and releases; never fails from the caller's point of view. */
    void (*rollback)(oms_tx_manager *m, oms_tx *tx);
} oms_tx_manager_ops;

struct oms_tx_manager {
    const oms_tx_manager_ops *ops;
    void *self;
};

static inline oms_err oms_tx_begin(oms_tx_manager *m, oms_tx **out, oms_error *err)
{
    return m->ops->begin(m, out, err);
}
static inline oms_err oms_tx_commit(oms_tx_manager *m, oms_tx *tx, oms_error *err)
{
    return m->ops->commit(m, tx, err);
}
static inline void oms_tx_rollback(oms_tx_manager *m, oms_tx *tx)
{
    m->ops->rollback(m, tx);
}

/* Ends a unit of work by its outcome: commits when rc is OMS_OK (returning
 * the commit's result), else rolls back and returns rc. */
static inline oms_err oms_tx_finish(oms_tx_manager *m, oms_tx *tx, oms_err rc, oms_error *err)
{
    if (rc != OMS_OK) {
        oms_tx_rollback(m, tx);
        return rc;
    }
    return oms_tx_commit(m, tx, err);
}

#endif
