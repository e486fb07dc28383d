/* reconcile_rules.h -- SPEC section 6, invariant 3, for one settled order:
 * what its payment and reservation must be (issue 12 item 6). Pure C: the
 * reconciler (adapters/reconciler.c) gathers the facts from the three
 * services and asks here. Invariants 1 and 2 (per product, per customer)
 * are judged where their data lives, in one statement of each service's
 * database (services' reconciliation queries). */
#ifndef GATEWAY_RECONCILE_RULES_H
#define GATEWAY_RECONCILE_RULES_H

#include <stdbool.h>
#include <stdint.h>

typedef struct order_facts {
    const char *status; /* INVENTORY_CONFIRMED, FAILED or CANCELLED */
    int64_t total_cents;
    const char *payment_status; /* CAPTURED, DECLINED, REFUNDED; NULL: no payment */
    int64_t payment_cents;
    const char *reservation_state; /* RESERVED, RELEASED, FAILED; NULL: no reservation */
    bool items_match;              /* the reservation holds the order's quantities, product by product */
    /* Obligations an admin settled by hand (issue 12 item 3): the money or
     * stock then left the system outside it, so what the order still holds
     * here is explained, not a violation. */
    bool release_resolved_manually;
    bool refund_resolved_manually;
} order_facts;

/* NULL when the order is as SPEC 6.3 wants it; else why not, in business
 * words ("holds money: payment CAPTURED"). A status that is not settled is
 * never judged (NULL). When what would be a violation is explained by a
 * manual resolution, NULL with *explained saying so (else *explained NULL);
 * an obligation settled by hand and by the system too is a violation. */
const char *reconcile_order_violation(const order_facts *f, const char **explained);

#endif
