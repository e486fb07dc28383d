/* pg_adapters.h -- the PostgreSQL adapters of the order service's ports, and
 * the small helpers they share. Each constructor returns a port value whose
 * ops table is static; only pg_read_model holds state (its read pool). */
#ifndef ORDER_PG_ADAPTERS_H
#define ORDER_PG_ADAPTERS_H

#include "adapters/order_json.h"
#include "application/ports/catalog.h"
#include "application/ports/order_read_model.h"
#include "application/ports/order_repo.h"
#include "application/ports/outbox.h"
#include "application/ports/saga_repo.h"
#include "oms/pg.h"
#include "oms/reconcile.h"
#include "oms/retention.h"

order_repo pg_order_repo(void);
/* The catalog's prices in the orders database (catalog_prices). */
catalog pg_catalog(void);
saga_repo pg_saga_repo(void);
/* The retention rule of the saga log (review M7): the steps of a FAILED or
 * CANCELLED saga older than `keep_s`, never a live saga's (an
 * INVENTORY_CONFIRMED order may still be cancelled, and its log is the
 * history its reads show). */
oms_retention_rule pg_saga_log_retention_rule(int64_t keep_s);
/* Reads through `read_pool` (READ_POSTGRES_*); project() writes in the tx. */
order_read_model pg_read_model(oms_pg_pool *read_pool);
/* Serialises messages into envelopes and oms_outbox_append's them. */
order_outbox pg_order_outbox(void);

/* SQL for ms since the epoch <-> timestamptz, exact to the millisecond. */
#define PG_MS_TO_TS(param) "(timestamptz 'epoch' + (" param ")::bigint * interval '1 millisecond')"
#define PG_TS_TO_MS(col) "(extract(epoch from " col ") * 1000)::bigint"

/* Column list of a saga row, and its parser (pg_saga_repo.c). */
#define PG_SAGA_COLUMNS                                                                                                \
    "id, order_id, state, current_step, coalesce(target_state, 'CREATED'), coalesce(command_id::text, ''), "           \
    "attempts, coalesce(" PG_TS_TO_MS(                                                                                 \
        "deadline") ", 0), version, payment_captured, stock_reserved, "                                                \
                    "correlation_id, coalesce(payment_command_id::text, ''), coalesce(inventory_command_id::text, "    \
                    "''), "                                                                                            \
                    "coalesce(release_command_id::text, ''), coalesce(refund_command_id::text, ''), "                  \
                    "coalesce(inconsistency, ''), "                                                                    \
                    "paused, coalesce(last_error, ''), " PG_TS_TO_MS("created_at") ", resolved_manually"
#define PG_SAGA_COLUMN_COUNT 21
oms_err pg_saga_from_row(const PGresult *r, int row, saga *out, oms_error *err);

/* The queries of the gateway's reconciliation (pg_reconciliation.c). */
extern const oms_reconcile_query order_reconcile_queries[];
extern const size_t order_reconcile_query_count;

#endif
