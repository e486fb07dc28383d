/* queries.c -- what reads accounts and payments. Each query runs in a short
 * transaction of its own that only reads. */
#include "application/payment_app.h"

typedef oms_err (*read_fn)(payment_app *app, oms_tx *tx, void *args, oms_error *err);

static oms_err read_in_tx(payment_app *app, read_fn fn, void *args, oms_error *err)
{
    oms_tx *tx;
    oms_err rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    return oms_tx_finish(app->tx, tx, fn(app, tx, args, err), err);
}

typedef struct lookup_args {
    oms_arena *a;
    const char *key;
    void *out;
} lookup_args;

static oms_err read_account(payment_app *app, oms_tx *tx, void *args, oms_error *err)
{
    lookup_args *l = args;
    return account_repo_find(app->accounts, tx, l->a, l->key, l->out, err);
}

oms_err payment_get_account(payment_app *app, oms_arena *a, const oms_principal *who, const char *customer_id,
                            account *out, oms_error *err)
{
    oms_err rc = payment_validate_customer_id(customer_id, "customer_id", err);
    if (rc != OMS_OK)
        return rc;
    if (!oms_principal_may_see(who, customer_id))
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "account %s not found", customer_id); /* as unknown */
    lookup_args args = {.a = a, .key = customer_id, .out = out};
    return read_in_tx(app, read_account, &args, err);
}

static oms_err read_payment(payment_app *app, oms_tx *tx, void *args, oms_error *err)
{
    lookup_args *l = args;
    return payment_repo_find(app->payments, tx, l->a, l->key, l->out, err);
}

oms_err payment_get_payment(payment_app *app, oms_arena *a, const oms_principal *who, const char *order_id,
                            payment *out, oms_error *err)
{
    lookup_args args = {.a = a, .key = order_id, .out = out};
    oms_err rc = read_in_tx(app, read_payment, &args, err);
    if (rc == OMS_OK && !oms_principal_may_see(who, out->customer_id))
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "no payment for order %s", order_id); /* as none */
    return rc;
}
