/* reconciler.h -- the reconciliation of SPEC section 6 across the three
 * databases (issue 12 item 6), run by the gateway: the one process that
 * reaches every service (the services' network policies open their API
 * port to it alone), so no database grants another service's role and no
 * service calls another.
 *
 * A run asks each service for facts through its internal route POST
 * /internal/reconciliation/{name} (lib/oms/reconcile.h), as a viewer named
 * "reconciliation":
 *   - inventory `products`: every product breaking invariant 1 (stock or
 *     reserved against the ledger and the RESERVED reservations), judged in
 *     one statement of inventory's database, with the orders holding it;
 *   - payment `accounts`: every customer breaking invariant 2 (balance
 *     against opening - captured + refunded, and against its ledger), with
 *     its orders;
 *   - order `final_orders`, a page at a time, and for each page payment
 *     `payments` and inventory `reservations` of those orders: invariant 3
 *     (domain/reconcile_rules.h). A suspect order is read again afterwards
 *     and kept only when it has not moved meanwhile (a cancel of a
 *     confirmed order between the reads is not a violation).
 * The last run is kept in memory (each gateway instance has its own) and
 * exported as oms_invariant_violations{invariant} (stock, balance, order). */
#ifndef GATEWAY_RECONCILER_H
#define GATEWAY_RECONCILER_H

#include <jansson.h>

#include "../application/proxy.h"
#include "oms/err.h"

typedef struct reconciler reconciler;

/* A reconciler asking through `p` with `internal_key` (NULL: none), and
 * running every interval_s seconds in a thread of its own (0: only on
 * request). `p` must outlive it. NULL with err when it cannot start. */
reconciler *reconciler_create(proxy *p, const char *internal_key, int interval_s, oms_error *err);

/* Stops the periodic run (after the one in progress) and frees. NULL allowed. */
void reconciler_destroy(reconciler *r);

/* Runs now (one run at a time: a second caller waits for the first) and
 * returns the run (a new reference): {run, started_at, finished_at, status
 * ("consistent", "violations" or "failed"), error, checked {orders},
 * violations [{invariant, subject, detail, order_ids, facts}]}. NULL only
 * when memory is exhausted. */
json_t *reconciler_run(reconciler *r);

/* The last run (a new reference), or NULL when none ran yet. */
json_t *reconciler_last(reconciler *r);

#endif
