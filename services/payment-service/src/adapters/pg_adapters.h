/* pg_adapters.h -- the PostgreSQL adapters of payment-service's ports.
 * They keep no state of their own: every call works on the connection of the
 * oms_tx it is given (made by oms_pg_tx_manager), so one port value serves
 * every thread. Each constructor returns the port by value (main keeps it). */
#ifndef PAYMENT_PG_ADAPTERS_H
#define PAYMENT_PG_ADAPTERS_H

#include "application/ports/account_repo.h"
#include "application/ports/payment_repo.h"
#include "oms/pg.h"
#include "oms/reconcile.h"

/* Tables accounts and account_ledger (migrations/001_init.sql). */
account_repo pg_account_repo(void);
/* The same, with the test switch of a local run (PAYMENT_TEST_FAIL_REFUNDS_FILE,
 * issue 12 item 3): while the file `flag_file` exists, every refund of a
 * balance fails (OMS_EUNAVAILABLE), as a broken bank link would; NULL: never.
 * `flag_file` must outlive the repository. */
account_repo pg_account_repo_with_refund_switch(const char *flag_file);
/* Table payments. */
payment_repo pg_payment_repo(void);

/* The queries of the gateway's reconciliation (pg_reconciliation.c). */
extern const oms_reconcile_query payment_reconcile_queries[];
extern const size_t payment_reconcile_query_count;

#endif
