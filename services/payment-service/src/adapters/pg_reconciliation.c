/* pg_reconciliation.c -- what payment tells the gateway's reconciliation
 * (lib/oms/reconcile.h; api-gateway/src/adapters/reconciler.h): SPEC 6
 * invariant 2 judged in one statement of this database, and the payments
 * of given orders for invariant 3. Read-only. */
#include "adapters/pg_adapters.h"

/* Every customer whose balance differs from opening - captured + refunded
 * (the payments still CAPTURED: a refunded one gave its money back), or
 * from the sum of its ledger, or is negative; with up to 20 of its orders. */
#define ACCOUNTS_SQL                                                                                                   \
    "WITH ledger AS (SELECT customer_id, sum(delta_cents) FILTER (WHERE kind = 'OPENING') AS opening,"                 \
    "                       sum(delta_cents) AS total FROM account_ledger GROUP BY customer_id),"                      \
    " held AS (SELECT customer_id, sum(amount_cents) AS captured FROM payments WHERE status = 'CAPTURED'"              \
    "          GROUP BY customer_id)"                                                                                  \
    "SELECT json_build_object('customer_id', a.customer_id, 'balance', a.balance_cents,"                               \
    "  'expected_balance', coalesce(l.opening, 0) - coalesce(h.captured, 0), 'ledger_balance', coalesce(l.total, 0),"  \
    "  'order_ids', coalesce((SELECT json_agg(x.order_id) FROM (SELECT order_id FROM payments p"                       \
    "     WHERE p.customer_id = a.customer_id ORDER BY p.created_at DESC LIMIT 20) x), '[]'::json))"                   \
    " FROM accounts a LEFT JOIN ledger l USING (customer_id) LEFT JOIN held h USING (customer_id)"                     \
    " WHERE $1::jsonb IS NOT NULL AND (a.balance_cents < 0"                                                            \
    "   OR a.balance_cents <> coalesce(l.opening, 0) - coalesce(h.captured, 0)"                                        \
    "   OR a.balance_cents <> coalesce(l.total, 0))"                                                                   \
    " ORDER BY a.customer_id"

/* The payments of the orders in $1's "ids". */
#define PAYMENTS_SQL                                                                                                   \
    "SELECT json_build_object('order_id', order_id, 'status', status, 'amount', amount_cents,"                         \
    "  'customer_id', customer_id)"                                                                                    \
    " FROM payments WHERE order_id IN (SELECT jsonb_array_elements_text($1::jsonb -> 'ids')::uuid)"

const oms_reconcile_query payment_reconcile_queries[] = {
    {"accounts", ACCOUNTS_SQL},
    {"payments", PAYMENTS_SQL},
};
const size_t payment_reconcile_query_count = sizeof payment_reconcile_queries / sizeof payment_reconcile_queries[0];
