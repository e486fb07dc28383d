/* order_app.h -- the application's wiring: the ports a command or query
 * needs, filled by main.c (PostgreSQL adapters) or by tests (in memory). */
#ifndef ORDER_APP_H
#define ORDER_APP_H

#include "application/admission.h"
#include "application/ports/catalog.h"
#include "application/ports/id_generator.h"
#include "application/ports/order_read_model.h"
#include "application/ports/order_repo.h"
#include "application/ports/outbox.h"
#include "application/ports/saga_repo.h"
#include "domain/saga.h"
#include "oms/audit.h"
#include "oms/clock.h"
#include "oms/tx.h"

typedef struct order_app {
    oms_tx_manager *tx; /* the write database */
    order_repo *orders;
    saga_repo *sagas;
    order_read_model *read_model; /* project() on writes; reads in queries */
    order_outbox *outbox;
    oms_clock *clock;
    id_generator *ids;
    saga_settings saga;
    catalog *catalog;          /* the catalog's prices (SPEC 7) */
    oms_audit_log *audit;      /* one row per requested write (order.cancel) */
    saga_admission *admission; /* sagas in flight and their bound; NULL: none */
} order_app;

#endif
