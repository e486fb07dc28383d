/* pg_reconciliation.c -- what inventory tells the gateway's reconciliation
 * (lib/oms/reconcile.h; api-gateway/src/adapters/reconciler.h): SPEC 6
 * invariant 1 judged in one statement of this database, and the
 * reservations of given orders for invariant 3. Read-only. */
#include "adapters/pg_adapters.h"

/* Every product whose stock or reserved differs from initial + restocks -
 * RESERVED quantities (and from its ledger), or is negative; with up to 20
 * orders holding it. */
#define PRODUCTS_SQL                                                                                                   \
    "WITH added AS (SELECT product_id, sum(delta) FILTER (WHERE kind IN ('INITIAL', 'RESTOCK')) AS added,"             \
    "                      sum(delta) AS ledger FROM stock_ledger GROUP BY product_id),"                               \
    " held AS (SELECT i.product_id, sum(i.quantity) AS held FROM reservation_items i"                                  \
    "          JOIN reservations r USING (order_id) WHERE r.state = 'RESERVED' GROUP BY i.product_id)"                 \
    "SELECT json_build_object('product_id', p.product_id, 'stock', p.stock, 'reserved', p.reserved,"                   \
    "  'expected_stock', coalesce(a.added, 0) - coalesce(h.held, 0), 'expected_reserved', coalesce(h.held, 0),"        \
    "  'ledger_stock', coalesce(a.ledger, 0),"                                                                         \
    "  'order_ids', coalesce((SELECT json_agg(x.order_id) FROM (SELECT r.order_id FROM reservation_items i"            \
    "     JOIN reservations r USING (order_id) WHERE i.product_id = p.product_id AND r.state = 'RESERVED'"             \
    "     ORDER BY r.modified_at DESC LIMIT 20) x), '[]'::json))"                                                      \
    " FROM products p LEFT JOIN added a USING (product_id) LEFT JOIN held h USING (product_id)"                        \
    " WHERE $1::jsonb IS NOT NULL AND (p.stock < 0 OR p.reserved < 0"                                                  \
    "   OR p.stock <> coalesce(a.added, 0) - coalesce(h.held, 0) OR p.reserved <> coalesce(h.held, 0)"                 \
    "   OR p.stock <> coalesce(a.ledger, 0))"                                                                          \
    " ORDER BY p.product_id"

/* The reservations of the orders in $1's "ids": state and quantity per product. */
#define RESERVATIONS_SQL                                                                                               \
    "SELECT json_build_object('order_id', r.order_id, 'state', r.state,"                                               \
    "  'items', coalesce((SELECT json_object_agg(i.product_id, i.quantity) FROM reservation_items i"                   \
    "                     WHERE i.order_id = r.order_id), '{}'::json))"                                                \
    " FROM reservations r"                                                                                             \
    " WHERE r.order_id IN (SELECT jsonb_array_elements_text($1::jsonb -> 'ids')::uuid)"

const oms_reconcile_query inventory_reconcile_queries[] = {
    {"products", PRODUCTS_SQL},
    {"reservations", RESERVATIONS_SQL},
};
const size_t inventory_reconcile_query_count = sizeof inventory_reconcile_queries /
                                               sizeof inventory_reconcile_queries[0];
