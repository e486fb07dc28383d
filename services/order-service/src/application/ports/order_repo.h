/* order_repo.h -- where orders and idempotency keys are kept (write side).
 * Every call runs inside the caller's unit of work (oms_tx); none commits by
 * itself. Every call gets the caller's arena `a` (the request's or the
 * message's): what a call allocates, and the strings of loaded orders, live
 * there. */
#ifndef ORDER_PORT_ORDER_REPO_H
#define ORDER_PORT_ORDER_REPO_H

#include "domain/order.h"
#include "oms/arena.h"
#include "oms/tx.h"

#include "oms/sha256.h"

/* The fingerprint of a create request: the SHA-256 of its canonical body
 * (order_request_canonical), in hex. */
#define ORDER_FINGERPRINT_LEN OMS_SHA256_HEX_LEN

/* An Idempotency-Key as kept: it belongs to the principal that sent it
 * (SPEC 7; oms_principal.id), so another principal's same key is another key. */
typedef struct order_idempotency_key {
    const char *principal;
    const char *key;
} order_idempotency_key;

typedef struct order_repo order_repo;
typedef struct order_repo_ops {
    /* Stores a new order with its items. OMS_ECONFLICT when the id exists. */
    oms_err (*insert)(order_repo *r, oms_tx *tx, oms_arena *a, const order *o, oms_error *err);
    /* Loads the order and its items. OMS_ENOTFOUND when unknown. */
    oms_err (*load)(order_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, order *out, oms_error *err);
    /* Saves status, reasons and modified_at. OMS_ENOTFOUND when unknown. */
    oms_err (*update)(order_repo *r, oms_tx *tx, oms_arena *a, const order *o, oms_error *err);
    /* The order and request fingerprint stored under an Idempotency-Key.
     * OMS_ENOTFOUND when the key is unused (or only held by an uncommitted
     * transaction). */
    oms_err (*find_idempotency_key)(order_repo *r, oms_tx *tx, oms_arena *a, const order_idempotency_key *key,
                                    char fingerprint[ORDER_FINGERPRINT_LEN + 1], char order_id[OMS_UUID_LEN + 1],
                                    oms_error *err);
    /* Claims the key for order_id. Waits while a concurrent transaction holds
     * the same key, then: OMS_ECONFLICT when that one committed (look it up
     * again), OMS_EBUSY when the wait was too long. */
    oms_err (*claim_idempotency_key)(order_repo *r, oms_tx *tx, oms_arena *a, const order_idempotency_key *key,
                                     const char *fingerprint, const char *order_id, oms_error *err);
} order_repo_ops;
struct order_repo {
    const order_repo_ops *ops;
    void *self;
};

static inline oms_err order_repo_insert(order_repo *r, oms_tx *tx, oms_arena *a, const order *o, oms_error *err)
{
    return r->ops->insert(r, tx, a, o, err);
}
static inline oms_err order_repo_load(order_repo *r, oms_tx *tx, oms_arena *a, const char *id, order *out,
                                      oms_error *err)
{
    return r->ops->load(r, tx, a, id, out, err);
}
static inline oms_err order_repo_update(order_repo *r, oms_tx *tx, oms_arena *a, const order *o, oms_error *err)
{
    return r->ops->update(r, tx, a, o, err);
}
static inline oms_err order_repo_find_idempotency_key(order_repo *r, oms_tx *tx, oms_arena *a,
                                                      const order_idempotency_key *key,
                                                      char fingerprint[ORDER_FINGERPRINT_LEN + 1],
                                                      char order_id[OMS_UUID_LEN + 1], oms_error *err)
{
    return r->ops->find_idempotency_key(r, tx, a, key, fingerprint, order_id, err);
}
static inline oms_err order_repo_claim_idempotency_key(order_repo *r, oms_tx *tx, oms_arena *a,
                                                       const order_idempotency_key *key, const char *fingerprint,
                                                       const char *order_id, oms_error *err)
{
    return r->ops->claim_idempotency_key(r, tx, a, key, fingerprint, order_id, err);
}

#endif
