/* reconcile_rules.c -- see reconcile_rules.h. */
#include "reconcile_rules.h"

#include <string.h>

static bool is(const char *value, const char *expected) { return value && strcmp(value, expected) == 0; }

/* INVENTORY_CONFIRMED: exactly one CAPTURED payment of the total, one
 * RESERVED reservation of its items (one per order by construction: both
 * tables are keyed by order id). */
static const char *confirmed(const order_facts *f)
{
    if (!f->payment_status)
        return "confirmed without a payment";
    if (!is(f->payment_status, "CAPTURED"))
        return "confirmed but its payment is not CAPTURED";
    if (f->payment_cents != f->total_cents)
        return "confirmed but the captured amount is not the order's total";
    if (!f->reservation_state)
        return "confirmed without a reservation";
    if (!is(f->reservation_state, "RESERVED"))
        return "confirmed but its reservation is not RESERVED";
    if (!f->items_match)
        return "confirmed but the reservation does not hold the order's items";
    return NULL;
}

/* FAILED or CANCELLED: no money and no stock held, unless an admin
 * settled that obligation by hand. */
static const char *ended(const order_facts *f, const char **explained)
{
    bool holds_money = is(f->payment_status, "CAPTURED");
    bool holds_stock = is(f->reservation_state, "RESERVED");
    /* Settled by hand and then by the system too (a refund still in flight
     * when the admin resolved it): the customer got the money twice. */
    if (f->refund_resolved_manually && is(f->payment_status, "REFUNDED"))
        return "refunded twice: by hand (manual resolution) and by the system";
    if (f->release_resolved_manually && is(f->reservation_state, "RELEASED"))
        return "stock given back twice: by hand (manual resolution) and by the system";
    if (holds_money && !f->refund_resolved_manually)
        return "ended but holds money: its payment is CAPTURED";
    if (holds_stock && !f->release_resolved_manually)
        return "ended but holds stock: its reservation is RESERVED";
    if (holds_money && holds_stock)
        *explained = "refund and stock release settled by hand (manual resolution)";
    else if (holds_money)
        *explained = "refund settled by hand (manual resolution): its payment stays CAPTURED here";
    else if (holds_stock)
        *explained = "stock release settled by hand (manual resolution): its reservation stays RESERVED here";
    return NULL;
}

const char *reconcile_order_violation(const order_facts *f, const char **explained)
{
    *explained = NULL;
    if (is(f->status, "INVENTORY_CONFIRMED"))
        return confirmed(f);
    if (is(f->status, "FAILED") || is(f->status, "CANCELLED"))
        return ended(f, explained);
    return NULL;
}
