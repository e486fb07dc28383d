/* pg_order_repo.c -- orders, their items and idempotency keys in PostgreSQL.
 * Every statement is parameterised and runs on the caller's transaction. */
#include <stdio.h>
#include <string.h>

#include "adapters/pg_adapters.h"
#include "oms/json.h"

static oms_err insert_order(order_repo *r, oms_tx *tx, oms_arena *a, const order *o, oms_error *err)
{
    (void)r;
    oms_err rc = OMS_OK;
    json_t *items = order_items_storage_json(o);
    char *items_text = items ? oms_json_dump(a, items, NULL) : NULL;
    json_decref(items);
    const char *params[] = {o->id,
                            o->customer_id,
                            order_status_name(o->status),
                            oms_pg_int_param(a, o->total_cents),
                            o->saga_id,
                            o->failure_reason,
                            o->cancellation_reason,
                            oms_pg_int_param(a, o->created_at_ms),
                            oms_pg_int_param(a, o->modified_at_ms),
                            items_text};
    if (!items_text || !params[3] || !params[7] || !params[8]) {
        rc = oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    } else {
        /* Deferred (the id is new, so nothing is expected to conflict): both
         * go out with the transaction's next statement. */
        rc = oms_pg_tx_exec_deferred(
            tx,
            "INSERT INTO orders (id, customer_id, status, total_cents, saga_id,"
            " failure_reason, cancellation_reason, created_at, modified_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, " PG_MS_TO_TS("$8") ", " PG_MS_TO_TS("$9") ")",
            9, params, err);
        if (rc == OMS_OK)
            rc = oms_pg_tx_exec_deferred(tx,
                                         "INSERT INTO order_items (order_id, line, product_id, quantity,"
                                         " unit_price_cents) SELECT $1, e.ordinality, e.value->>'product_id',"
                                         " (e.value->>'quantity')::bigint, (e.value->>'unit_price_cents')::bigint"
                                         " FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e",
                                         2, (const char *[]){o->id, items_text}, err);
    }
    return rc;
}

static oms_err load_order(order_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, order *out, oms_error *err)
{
    (void)r;
    const char *params[] = {order_id};
    PGresult *res = oms_pg_tx_exec(
        a, tx,
        "SELECT id, customer_id, status, total_cents, saga_id, failure_reason,"
        " cancellation_reason, " PG_TS_TO_MS("created_at") ", " PG_TS_TO_MS(
            "modified_at") ", (SELECT coalesce(jsonb_agg(jsonb_build_object('product_id', i.product_id,"
                           " 'quantity', i.quantity, 'unit_price_cents', i.unit_price_cents)"
                           " ORDER BY i.line), '[]'::jsonb) FROM order_items i WHERE i.order_id = o.id)"
                           " FROM orders o WHERE id = $1",
        1, params, err);
    if (!res)
        return err->code;
    if (PQntuples(res) == 0)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "order %s not found", order_id);
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", oms_pg_value(res, 0, 0));
    out->customer_id = oms_pg_value(res, 0, 1);
    if (!order_status_parse(oms_pg_value(res, 0, 2), &out->status))
        return oms_error_set(err, OMS_EINTERNAL, NULL, "order %s has an unknown status", order_id);
    snprintf(out->saga_id, sizeof out->saga_id, "%s", oms_pg_value(res, 0, 4));
    out->failure_reason = oms_pg_value(res, 0, 5);
    out->cancellation_reason = oms_pg_value(res, 0, 6);
    oms_err rc = oms_pg_int_value(res, 0, 3, &out->total_cents, err);
    if (rc == OMS_OK)
        rc = oms_pg_int_value(res, 0, 7, &out->created_at_ms, err);
    if (rc == OMS_OK)
        rc = oms_pg_int_value(res, 0, 8, &out->modified_at_ms, err);
    if (rc == OMS_OK)
        rc = order_items_from_storage_json(a, oms_pg_value(res, 0, 9), out, err);
    return rc;
}

static oms_err update_order(order_repo *r, oms_tx *tx, oms_arena *a, const order *o, oms_error *err)
{
    (void)r;
    const char *params[] = {o->id, order_status_name(o->status), o->failure_reason, o->cancellation_reason,
                            oms_pg_int_param(a, o->modified_at_ms)};
    if (!params[4])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    PGresult *res = oms_pg_tx_exec(a, tx,
                                   "UPDATE orders SET status = $2, failure_reason = $3,"
                                   " cancellation_reason = $4, modified_at = " PG_MS_TO_TS("$5") " WHERE id = $1",
                                   5, params, err);
    if (!res)
        return err->code;
    if (strcmp(PQcmdTuples(res), "1") != 0)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "order %s not found", o->id);
    return OMS_OK;
}

static oms_err find_idempotency_key(order_repo *r, oms_tx *tx, oms_arena *a, const order_idempotency_key *key,
                                    char fingerprint[ORDER_FINGERPRINT_LEN + 1], char order_id[OMS_UUID_LEN + 1],
                                    oms_error *err)
{
    (void)r;
    PGresult *res = oms_pg_tx_exec(
        a, tx, "SELECT request_hash, order_id FROM idempotency_keys WHERE principal = $1 AND key = $2", 2,
        (const char *[]){key->principal, key->key}, err);
    if (!res)
        return err->code;
    if (PQntuples(res) == 0)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "idempotency key unused");
    snprintf(fingerprint, ORDER_FINGERPRINT_LEN + 1, "%s", oms_pg_value(res, 0, 0));
    snprintf(order_id, OMS_UUID_LEN + 1, "%s", oms_pg_value(res, 0, 1));
    return OMS_OK;
}

/* The unique index makes a concurrent duplicate wait for the first
 * transaction; the pool's lock_timeout (DB_LOCK_TIMEOUT_MS) bounds that wait
 * (55P03 -> OMS_EBUSY). */
static oms_err claim_idempotency_key(order_repo *r, oms_tx *tx, oms_arena *a, const order_idempotency_key *key,
                                     const char *fingerprint, const char *order_id, oms_error *err)
{
    (void)r;
    if (!oms_pg_tx_exec(a, tx,
                        "INSERT INTO idempotency_keys (principal, key, request_hash, order_id) VALUES ($1, $2, $3, $4)",
                        4, (const char *[]){key->principal, key->key, fingerprint, order_id}, err))
        return err->code;
    return OMS_OK;
}

static const order_repo_ops ops = {
    .insert = insert_order,
    .load = load_order,
    .update = update_order,
    .find_idempotency_key = find_idempotency_key,
    .claim_idempotency_key = claim_idempotency_key,
};

order_repo pg_order_repo(void) { return (order_repo){.ops = &ops, .self = NULL}; }
