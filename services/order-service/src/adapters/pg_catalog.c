/* pg_catalog.c -- the catalog's prices in the orders database. */
#include "adapters/pg_adapters.h"
#include "domain/order.h"

static oms_err prices(catalog *c, oms_tx *tx, oms_arena *a, const char *const *product_ids, size_t n, int64_t *out,
                      oms_error *err)
{
    (void)c;
    /* One row per asked id, in the asked order (a product named twice
     * twice), the price or NULL. */
    static const char sql[] = "SELECT p.price_cents FROM unnest($1::text[]) WITH ORDINALITY AS i (product_id, n)"
                              " LEFT JOIN catalog_prices p ON p.product_id = i.product_id ORDER BY i.n";
    const char *params[] = {oms_pg_array_param(a, product_ids, NULL, n)};
    if (!params[0])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    PGresult *r = oms_pg_tx_exec(a, tx, sql, 1, params, err);
    if (!r)
        return err->code;
    if ((size_t)PQntuples(r) != n)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "catalog: %d prices for %zu products", PQntuples(r), n);
    for (size_t i = 0; i < n; i++) {
        out[i] = ORDER_NO_CATALOG_PRICE;
        if (oms_pg_value(r, (int)i, 0) && oms_pg_int_value(r, (int)i, 0, &out[i], err) != OMS_OK)
            return err->code;
    }
    return OMS_OK;
}

static oms_err apply(catalog *c, oms_tx *tx, oms_arena *a, const char *product_id, int64_t price_cents, int64_t version,
                     oms_error *err)
{
    (void)c;
    static const char sql[] = "INSERT INTO catalog_prices (product_id, price_cents, version)"
                              " VALUES ($1, $2::bigint, $3::bigint)"
                              " ON CONFLICT (product_id) DO UPDATE SET price_cents = excluded.price_cents,"
                              " version = excluded.version, updated_at = now()"
                              " WHERE catalog_prices.version < excluded.version";
    const char *params[] = {product_id, oms_pg_int_param(a, price_cents), oms_pg_int_param(a, version)};
    if (!params[1] || !params[2])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    return oms_pg_tx_exec(a, tx, sql, 3, params, err) ? OMS_OK : err->code;
}

static const catalog_ops ops = {.prices = prices, .apply = apply};

catalog pg_catalog(void) { return (catalog){.ops = &ops, .self = NULL}; }
