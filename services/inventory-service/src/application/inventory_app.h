/* inventory_app.h -- the application layer of inventory-service: the ports
 * it is plugged into (by main.c or a test), its commands and its queries.
 *
 * Commands change state. HTTP commands run their own unit of work; message
 * commands run inside the caller's (the inbox transaction of oms_inbox_handle),
 * so that "message handled", the state change and the reply commit together.
 * Queries only read. */
#ifndef INVENTORY_APP_H
#define INVENTORY_APP_H

#include <stddef.h>

#include "application/ports/product_repo.h"
#include "application/ports/reservation_repo.h"
#include "domain/inventory.h"
#include "oms/arena.h"
#include "oms/audit.h"
#include "oms/saga_messages.h"
#include "oms/tx.h"

typedef struct inventory_app {
    oms_tx_manager *tx;
    product_repo *products;
    reservation_repo *reservations;
    oms_reply_outbox *replies; /* InventoryAllocated, InventoryReleased, ProductPriceChanged */
    oms_audit_log *audit;      /* one row per admin write (product.create, product.set_price, product.restock) */
} inventory_app;

/* ---- commands ---- */

/* Creates a product (validated by the domain) with its price, and tells the
 * catalog's copies (ProductPriceChanged, in the same transaction).
 * OMS_EINVAL, OMS_ECONFLICT when it exists, or a store error. *out is the
 * product as stored. Each of these three admin writes appends its audit
 * row, by `who`, in its transaction. */
oms_err inventory_create_product(inventory_app *app, oms_arena *a, const oms_principal *who, const product *p,
                                 product *out, oms_error *err);

/* Changes a product's catalog price (SPEC 7) and tells the catalog's
 * copies (ProductPriceChanged with the next version, in the same
 * transaction). OMS_ENOTFOUND, OMS_EINVAL. */
oms_err inventory_set_price(inventory_app *app, oms_arena *a, const oms_principal *who, const char *product_id,
                            int64_t price_cents, product *out, oms_error *err);

/* Adds `quantity` to a product's stock. OMS_ENOTFOUND, OMS_EINVAL. */
oms_err inventory_restock(inventory_app *app, oms_arena *a, const oms_principal *who, const char *product_id,
                          int64_t quantity, product *out, oms_error *err);

/* InventoryRequested: reserves every line or none, once per order, and queues
 * InventoryAllocated. Invalid lines are answered with a failure (nothing is
 * recorded: the same lines always fail the same way). Runs in `tx`. */
oms_err inventory_reserve(inventory_app *app, oms_tx *tx, oms_arena *a, const oms_command_origin *o,
                          const reservation_line *lines, size_t n, oms_error *err);

/* InventoryReleaseRequested: gives a RESERVED reservation's stock back, or
 * records a tombstone when none exists, and queues InventoryReleased. Runs in
 * `tx`. */
oms_err inventory_release(inventory_app *app, oms_tx *tx, oms_arena *a, const oms_command_origin *o, oms_error *err);

/* ---- queries ---- */

oms_err inventory_get_product(inventory_app *app, oms_arena *a, const char *product_id, product *out, oms_error *err);
/* limit 0: all. */
oms_err inventory_list_products(inventory_app *app, oms_arena *a, size_t limit, product **out, size_t *count,
                                oms_error *err);
/* The order's reservation as a client sees it: RESERVED or RELEASED.
 * OMS_ENOTFOUND when none, and for a FAILED attempt (which holds nothing). */
oms_err inventory_get_reservation(inventory_app *app, oms_arena *a, const char *order_id, reservation *out,
                                  oms_error *err);

#endif
