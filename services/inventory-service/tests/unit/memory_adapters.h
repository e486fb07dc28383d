/* memory_adapters.h -- in-memory adapters of inventory-service's ports, for
 * application tests without I/O. Transactions are a memory_tx over
 * mem_state (test_tx.h): a command works on a copy of the committed state,
 * so tests see exactly what a failed command left behind (nothing). */
#ifndef INVENTORY_MEMORY_ADAPTERS_H
#define INVENTORY_MEMORY_ADAPTERS_H

#include <stdbool.h>

#include "application/inventory_app.h"
#include "oms/tests/support/test_audit.h"
#include "oms/tests/support/test_replies.h"
#include "oms/tests/support/test_tx.h"

#define MEM_PRODUCTS 16
#define MEM_RESERVATIONS 16
#define MEM_LINES 8
#define MEM_LEDGER 64

typedef struct mem_product {
    char id[INVENTORY_ID_MAX + 1];
    char name[INVENTORY_NAME_MAX + 1];
    int64_t stock, reserved;
    int64_t price_cents, price_version;
} mem_product;

typedef struct mem_reservation {
    char order_id[64];
    reservation_state state;
    char reason[INVENTORY_REASON_MAX];
    bool has_reason;
    char line_ids[MEM_LINES][INVENTORY_ID_MAX + 1];
    int64_t quantities[MEM_LINES];
    size_t line_count;
} mem_reservation;

typedef struct mem_ledger_entry {
    char product_id[INVENTORY_ID_MAX + 1];
    int64_t delta;
    stock_change_kind kind;
} mem_ledger_entry;

typedef struct mem_state {
    mem_product products[MEM_PRODUCTS];
    size_t product_count;
    mem_reservation reservations[MEM_RESERVATIONS];
    size_t reservation_count;
    test_reply_log replies;
    test_audit_rows audit;
    mem_ledger_entry ledger[MEM_LEDGER];
    size_t ledger_count;
} mem_state;

typedef struct memory_world {
    mem_state committed;
    mem_state working;
    bool fail_events; /* the outbox refuses: OMS_EUNAVAILABLE */
    memory_tx tx;
    product_repo products;
    reservation_repo reservations;
    test_reply_outbox replies;
    test_audit_log audit;
    inventory_app app;
} memory_world;

/* Resets `w` to an empty committed state with every port plugged in. */
void memory_world_init(memory_world *w);

#endif
