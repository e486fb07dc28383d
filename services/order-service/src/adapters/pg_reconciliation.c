/* pg_reconciliation.c -- what order-service tells the gateway's
 * reconciliation (lib/oms/reconcile.h; api-gateway/src/adapters/
 * reconciler.h): the settled orders a page at a time (in id order after
 * $1's "after"), and given orders as they are now (to see whether a
 * suspect moved meanwhile). Quantities are summed per product, as a
 * reservation holds them. Read-only. */
#include "adapters/pg_adapters.h"

/* resolved_manually: the obligations an admin settled by hand (issue 12 item
 * 3; sagas.resolved_manually, bits 1 << step: release 8, refund 16) and the
 * MANUAL_RESOLUTION rows of its saga log saying what, with which evidence,
 * by whom and why: the reconciliation's explained adjustments. */
#define ORDER_JSON                                                                                                     \
    "json_build_object('order_id', o.id, 'status', o.status, 'total', o.total_cents,"                                  \
    "  'customer_id', o.customer_id, 'modified_at', o.modified_at,"                                                    \
    "  'resolved_manually', coalesce((SELECT s.resolved_manually FROM sagas s WHERE s.order_id = o.id), 0),"           \
    "  'manual_resolutions', coalesce((SELECT json_agg(l.detail ORDER BY l.seq) FROM saga_step_log l"                  \
    "     JOIN sagas s ON s.id = l.saga_id WHERE s.order_id = o.id AND l.kind = 'MANUAL_RESOLUTION'), '[]'::json),"    \
    "  'items', coalesce((SELECT json_object_agg(x.product_id, x.quantity) FROM (SELECT product_id,"                   \
    "     sum(quantity) AS quantity FROM order_items WHERE order_id = o.id GROUP BY product_id) x), '{}'::json))"

#define FINAL_ORDERS_SQL                                                                                               \
    "SELECT " ORDER_JSON " FROM orders o"                                                                              \
    " WHERE o.status IN ('INVENTORY_CONFIRMED', 'FAILED', 'CANCELLED')"                                                \
    "   AND ($1::jsonb ->> 'after' IS NULL OR o.id > ($1::jsonb ->> 'after')::uuid)"                                   \
    " ORDER BY o.id LIMIT 500"

#define ORDERS_SQL                                                                                                     \
    "SELECT " ORDER_JSON " FROM orders o"                                                                              \
    " WHERE o.id IN (SELECT jsonb_array_elements_text($1::jsonb -> 'ids')::uuid)"

const oms_reconcile_query order_reconcile_queries[] = {
    {"final_orders", FINAL_ORDERS_SQL},
    {"orders", ORDERS_SQL},
};
const size_t order_reconcile_query_count = sizeof order_reconcile_queries / sizeof order_reconcile_queries[0];
