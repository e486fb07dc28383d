/* pg_payment_repo.c -- payments in PostgreSQL, one per order. */
#include "adapters/pg_adapters.h"

#define PAYMENT_SELECT                                                                                                 \
    "SELECT payment_id, order_id, customer_id, amount_cents, status, reason FROM payments"                             \
    " WHERE order_id = $1::uuid"

static oms_err find_with(const char *sql, oms_tx *tx, oms_arena *a, const char *order_id, payment *out, oms_error *err)
{
    const char *params[] = {order_id};
    PGresult *r = oms_pg_tx_exec(a, tx, sql, 1, params, err);
    if (!r)
        return err->code;
    if (PQntuples(r) == 0)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "no payment for order %s", order_id);
    *out = (payment){0};
    out->payment_id = oms_pg_text_value(a, r, 0, 0);
    out->order_id = oms_pg_text_value(a, r, 0, 1);
    out->customer_id = oms_pg_text_value(a, r, 0, 2);
    out->reason = oms_pg_text_value(a, r, 0, 5);
    if (!out->payment_id || !out->order_id || !out->customer_id)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    if (!payment_status_parse(oms_pg_value(r, 0, 4), &out->status))
        return oms_error_set(err, OMS_EINTERNAL, NULL, "unknown payment status %s", oms_pg_value(r, 0, 4));
    return oms_pg_int_value(r, 0, 3, &out->amount_cents, err);
}

static oms_err find_for_update(payment_repo *repo, oms_tx *tx, oms_arena *a, const char *order_id, payment *out,
                               oms_error *err)
{
    (void)repo;
    return find_with(PAYMENT_SELECT " FOR UPDATE", tx, a, order_id, out, err);
}

static oms_err find(payment_repo *repo, oms_tx *tx, oms_arena *a, const char *order_id, payment *out, oms_error *err)
{
    (void)repo;
    return find_with(PAYMENT_SELECT, tx, a, order_id, out, err);
}

static oms_err insert(payment_repo *repo, oms_tx *tx, oms_arena *a, const payment *p, oms_error *err)
{
    (void)repo;
    static const char sql[] = "INSERT INTO payments (payment_id, order_id, customer_id, amount_cents, status, reason)"
                              " VALUES ($1::uuid, $2::uuid, $3, $4::bigint, $5, $6)";
    const char *params[] = {p->payment_id,
                            p->order_id,
                            p->customer_id,
                            oms_pg_int_param(a, p->amount_cents),
                            payment_status_name(p->status),
                            p->reason};
    if (!params[3])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    if (!oms_pg_tx_exec(a, tx, sql, 6, params, err)) {
        if (err->code == OMS_ECONFLICT)
            oms_error_set(err, OMS_ECONFLICT, NULL, "order %s has a payment already", p->order_id);
        return err->code;
    }
    return OMS_OK;
}

static oms_err set_status(payment_repo *repo, oms_tx *tx, oms_arena *a, const char *order_id, payment_status status,
                          oms_error *err)
{
    (void)repo;
    static const char sql[] = "UPDATE payments SET status = $2, modified_at = now() WHERE order_id = $1::uuid";
    const char *params[] = {order_id, payment_status_name(status)};
    PGresult *r = oms_pg_tx_exec(a, tx, sql, 2, params, err);
    if (!r)
        return err->code;
    if (PQcmdTuples(r)[0] == '0')
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "no payment for order %s", order_id);
    return OMS_OK;
}

static const payment_repo_ops ops = {
    .find_for_update = find_for_update,
    .find = find,
    .insert = insert,
    .set_status = set_status,
};

payment_repo pg_payment_repo(void) { return (payment_repo){.ops = &ops, .self = NULL}; }
