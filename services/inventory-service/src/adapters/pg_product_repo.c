/* pg_product_repo.c -- products and the stock ledger in PostgreSQL. Every
 * stock change and its ledger entry are one statement, so they cannot part. */
#include <stdlib.h>

#include "adapters/pg_adapters.h"

#define PRODUCT_COLUMNS "product_id, name, stock, reserved, coalesce(price_cents, -1), price_version"

static oms_err read_product(oms_arena *a, const PGresult *r, int row, product *out, oms_error *err)
{
    out->product_id = oms_pg_text_value(a, r, row, 0);
    out->name = oms_pg_text_value(a, r, row, 1);
    if (!out->product_id || !out->name)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    oms_err rc = oms_pg_int_value(r, row, 2, &out->stock, err);
    if (rc == OMS_OK)
        rc = oms_pg_int_value(r, row, 3, &out->reserved, err);
    if (rc == OMS_OK)
        rc = oms_pg_int_value(r, row, 4, &out->price_cents, err);
    if (rc == OMS_OK)
        rc = oms_pg_int_value(r, row, 5, &out->price_version, err);
    return rc;
}

static oms_err read_products(oms_arena *a, const PGresult *r, product **out, size_t *count, oms_error *err)
{
    int rows = PQntuples(r);
    product *list = oms_arena_calloc(a, rows > 0 ? (size_t)rows : 1, sizeof *list);
    if (!list)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (int i = 0; i < rows; i++) {
        oms_err rc = read_product(a, r, i, &list[i], err);
        if (rc != OMS_OK)
            return rc;
    }
    *out = list;
    *count = (size_t)rows;
    return OMS_OK;
}

static oms_err insert(product_repo *repo, oms_tx *tx, oms_arena *a, const product *p, oms_error *err)
{
    (void)repo;
    static const char
        sql[] = "WITH p AS (INSERT INTO products (product_id, name, stock, price_cents, price_version)"
                " VALUES ($1, $2, $3::bigint, $4::bigint, $5::bigint) RETURNING product_id)"
                " INSERT INTO stock_ledger (product_id, delta, kind) SELECT product_id, $3::bigint, 'INITIAL' FROM p";
    const char *params[] = {p->product_id, p->name, oms_pg_int_param(a, p->stock), oms_pg_int_param(a, p->price_cents),
                            oms_pg_int_param(a, p->price_version)};
    if (!params[2] || !params[3] || !params[4])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    if (!oms_pg_tx_exec(a, tx, sql, 5, params, err)) {
        if (err->code == OMS_ECONFLICT)
            oms_error_set(err, OMS_ECONFLICT, "product_id", "product %s already exists", p->product_id);
        return err->code;
    }
    return OMS_OK;
}

static oms_err set_price(product_repo *repo, oms_tx *tx, oms_arena *a, const char *product_id, int64_t price_cents,
                         product *out, oms_error *err)
{
    (void)repo;
    static const char sql[] = "UPDATE products SET price_cents = $2::bigint, price_version = price_version + 1,"
                              " modified_at = now() WHERE product_id = $1 RETURNING " PRODUCT_COLUMNS;
    const char *params[] = {product_id, oms_pg_int_param(a, price_cents)};
    if (!params[1])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    PGresult *r = oms_pg_tx_exec(a, tx, sql, 2, params, err);
    if (!r)
        return err->code;
    if (PQntuples(r) == 0)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "product %s not found", product_id);
    return read_product(a, r, 0, out, err);
}

static oms_err find(product_repo *repo, oms_tx *tx, oms_arena *a, const char *product_id, product *out, oms_error *err)
{
    (void)repo;
    static const char sql[] = "SELECT " PRODUCT_COLUMNS " FROM products WHERE product_id = $1";
    const char *params[] = {product_id};
    PGresult *r = oms_pg_tx_exec(a, tx, sql, 1, params, err);
    if (!r)
        return err->code;
    if (PQntuples(r) == 0)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "product %s not found", product_id);
    return read_product(a, r, 0, out, err);
}

static oms_err list(product_repo *repo, oms_tx *tx, oms_arena *a, size_t limit, product **out, size_t *count,
                    oms_error *err)
{
    (void)repo;
    /* LIMIT NULL is LIMIT ALL. */
    static const char sql[] = "SELECT " PRODUCT_COLUMNS
                              " FROM products ORDER BY product_id COLLATE \"C\" LIMIT $1::bigint";
    const char *params[] = {limit > 0 ? oms_pg_int_param(a, (int64_t)limit) : NULL};
    if (limit > 0 && !params[0])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    PGresult *r = oms_pg_tx_exec(a, tx, sql, 1, params, err);
    if (!r)
        return err->code;
    return read_products(a, r, out, count, err);
}

static oms_err lock(product_repo *repo, oms_tx *tx, oms_arena *a, const char *const *product_ids, size_t n,
                    product **out, size_t *count, oms_error *err)
{
    (void)repo;
    /* Row locks are taken as rows come out of the sort: always in byte order
     * of the id, whichever order the caller named them in. */
    static const char sql[] = "SELECT " PRODUCT_COLUMNS " FROM products WHERE product_id = ANY($1::text[])"
                              " ORDER BY product_id COLLATE \"C\" FOR UPDATE";
    const char *params[] = {oms_pg_array_param(a, product_ids, NULL, n)};
    if (!params[0])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    PGresult *r = oms_pg_tx_exec(a, tx, sql, 1, params, err);
    if (!r)
        return err->code;
    return read_products(a, r, out, count, err);
}

static oms_err change_stock(product_repo *repo, oms_tx *tx, oms_arena *a, const char *product_id, int64_t stock_delta,
                            int64_t reserved_delta, stock_change_kind kind, const char *order_id, oms_error *err)
{
    (void)repo;
    static const char
        sql[] = "WITH p AS (UPDATE products SET stock = stock + $2::bigint, reserved = reserved + $3::bigint,"
                " modified_at = now() WHERE product_id = $1 RETURNING product_id)"
                " INSERT INTO stock_ledger (product_id, delta, kind, order_id)"
                " SELECT product_id, $2::bigint, $4, $5::uuid FROM p";
    const char *params[] = {product_id, oms_pg_int_param(a, stock_delta), oms_pg_int_param(a, reserved_delta),
                            stock_change_kind_name(kind), order_id};
    if (!params[1] || !params[2])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    PGresult *r = oms_pg_tx_exec(a, tx, sql, 5, params, err);
    if (!r)
        return err->code;
    if (atoi(PQcmdTuples(r)) == 0)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "product %s not found", product_id);
    return OMS_OK;
}

static const product_repo_ops ops = {
    .insert = insert,
    .set_price = set_price,
    .find = find,
    .list = list,
    .lock = lock,
    .change_stock = change_stock,
};

product_repo pg_product_repo(void) { return (product_repo){.ops = &ops, .self = NULL}; }
