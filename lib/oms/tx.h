/* tx.h -- the unit of work, as the application layer sees it.
 *
 * The application begins a transaction through this port, passes the opaque
 * oms_tx to every repository and outbox call, and commits once. It never
 * knows which database is behind it (pg.h provides the PostgreSQL adapter,
 * tests an in-memory one). */
#ifndef OMS_TX_H
#define OMS_TX_H

#include <stddef.h>

#include "err.h"

typedef struct oms_tx oms_tx;
typedef struct oms_tx_manager oms_tx_manager;

/* Work that may happen only once the transaction is durable: a log line, a
 * metric, waking a thread that reads what was written (PostgreSQL's pending
 * NOTIFY, sent at commit only). */
typedef void (*oms_tx_hook)(void *ctx);

typedef struct oms_tx_manager_ops {
    /* Starts a transaction; *out valid until commit or rollback.
     * OMS_EUNAVAILABLE when no connection can be had. */
    oms_err (*begin)(oms_tx_manager *m, oms_tx **out, oms_error *err);
    /* Commits and releases. OMS_EBUSY on a serialization failure or deadlock
     * (the caller may retry the whole unit of work); the tx is gone either way. */
    oms_err (*commit)(oms_tx_manager *m, oms_tx *tx, oms_error *err);
    /* Rolls back and releases; never fails from the caller's point of view. */
    void (*rollback)(oms_tx_manager *m, oms_tx *tx);
    /* Records fn(ctx) to run after tx commits; see oms_tx_on_commit. With
     * ctx_size > 0 the tx keeps its own copy of that many bytes of ctx. */
    oms_err (*on_commit)(oms_tx_manager *m, oms_tx *tx, oms_tx_hook fn, void *ctx, size_t ctx_size, oms_error *err);
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
static inline void oms_tx_rollback(oms_tx_manager *m, oms_tx *tx) { m->ops->rollback(m, tx); }

/* The commit hooks of a unit of work.
 *
 * Records fn(ctx) to run once tx has committed: after a successful COMMIT,
 * on the committing thread, before commit returns, with the connection
 * already given back, in the order recorded. A rollback, or a commit that
 * fails, drops every hook without calling it; so a batch rolled back and
 * re-run message by message runs each message's hooks once. Recording the
 * same fn and ctx (by pointer) twice on one tx runs it once.
 *
 * ctx must stay valid until commit or rollback returns: memory of the
 * caller's arena (the request's or the message's), or a long-lived object.
 * The tx never frees it. A hook must be quick and must not use tx.
 *
 * OMS_ENOMEM when the hook cannot be recorded; tx is unchanged and still
 * usable (the caller usually rolls back). */
static inline oms_err oms_tx_on_commit(oms_tx_manager *m, oms_tx *tx, oms_tx_hook fn, void *ctx, oms_error *err)
{
    return m->ops->on_commit(m, tx, fn, ctx, 0, err);
}

/* The same with a copy: the tx copies `size` bytes of `data` into memory it
 * owns and passes that copy to fn; the copy is freed with the tx, after the
 * hooks ran or when they were dropped. For a small record (a log line's
 * fields) that has no arena to live in; `size` must not be 0. Copies are
 * never merged. */
static inline oms_err oms_tx_on_commit_copy(oms_tx_manager *m, oms_tx *tx, oms_tx_hook fn, const void *data,
                                            size_t size, oms_error *err)
{
    return m->ops->on_commit(m, tx, fn, (void *)data, size, err);
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
