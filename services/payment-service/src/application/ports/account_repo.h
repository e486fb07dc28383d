/* account_repo.h -- where accounts and their ledger are kept.
 *
 * Every call runs inside the caller's unit of work (oms_tx); none commits by
 * itself. Strings handed out live in the arena `a`. */
#ifndef PAYMENT_ACCOUNT_REPO_H
#define PAYMENT_ACCOUNT_REPO_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/payment.h"
#include "oms/arena.h"
#include "oms/tx.h"

typedef struct account_repo account_repo;

typedef struct account_repo_ops {
    /* Opens an account with its OPENING ledger entry. When it exists already:
     * OMS_ECONFLICT if `must_be_new`, else OMS_OK with *opened false and
     * nothing changed. */
    oms_err (*open)(account_repo *r, oms_tx *tx, oms_arena *a, const account *acct, bool must_be_new, bool *opened,
                    oms_error *err);
    /* The account, or OMS_ENOTFOUND. */
    oms_err (*find)(account_repo *r, oms_tx *tx, oms_arena *a, const char *customer_id, account *out, oms_error *err);
    /* The same, locked for the rest of the transaction. */
    oms_err (*find_for_update)(account_repo *r, oms_tx *tx, oms_arena *a, const char *customer_id, account *out,
                               oms_error *err);
    /* Adds delta to the balance and appends a ledger entry (customer, delta,
     * kind, order id). OMS_ENOTFOUND for an unknown account; OMS_EINVAL when
     * the balance would go negative (the database refuses). */
    oms_err (*change_balance)(account_repo *r, oms_tx *tx, oms_arena *a, const char *customer_id, int64_t delta,
                              account_change_kind kind, const char *order_id, oms_error *err);
} account_repo_ops;

struct account_repo {
    const account_repo_ops *ops;
    void *self;
};

static inline oms_err account_repo_open(account_repo *r, oms_tx *tx, oms_arena *a, const account *acct,
                                        bool must_be_new, bool *opened, oms_error *err)
{
    return r->ops->open(r, tx, a, acct, must_be_new, opened, err);
}
static inline oms_err account_repo_find(account_repo *r, oms_tx *tx, oms_arena *a, const char *customer_id,
                                        account *out, oms_error *err)
{
    return r->ops->find(r, tx, a, customer_id, out, err);
}
static inline oms_err account_repo_find_for_update(account_repo *r, oms_tx *tx, oms_arena *a, const char *customer_id,
                                                   account *out, oms_error *err)
{
    return r->ops->find_for_update(r, tx, a, customer_id, out, err);
}
static inline oms_err account_repo_change_balance(account_repo *r, oms_tx *tx, oms_arena *a, const char *customer_id,
                                                  int64_t delta, account_change_kind kind, const char *order_id,
                                                  oms_error *err)
{
    return r->ops->change_balance(r, tx, a, customer_id, delta, kind, order_id, err);
}

#endif
