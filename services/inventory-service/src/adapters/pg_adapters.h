/* pg_adapters.h -- the PostgreSQL adapters of inventory-service's ports.
 * They keep no state of their own: every call works on the connection of the
 * oms_tx it is given (made by oms_pg_tx_manager), so one port value serves
 * every thread. Each constructor returns the port by value (main keeps it). */
#ifndef INVENTORY_PG_ADAPTERS_H
#define INVENTORY_PG_ADAPTERS_H

#include "application/ports/product_repo.h"
#include "application/ports/reservation_repo.h"
#include "oms/pg.h"
#include "oms/reconcile.h"

/* Tables products and stock_ledger (migrations/001_init.sql). */
product_repo pg_product_repo(void);
/* Tables reservations and reservation_items. */
reservation_repo pg_reservation_repo(void);

/* The queries of the gateway's reconciliation (pg_reconciliation.c). */
extern const oms_reconcile_query inventory_reconcile_queries[];
extern const size_t inventory_reconcile_query_count;

#endif
