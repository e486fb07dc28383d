/* memory_adapters.h -- in-memory adapters of payment-service's ports, for
 * application tests without I/O. Transactions are a memory_tx over
 * mem_state (test_tx.h): a command works on a copy of the committed state,
 * so tests see exactly what a failed command left behind (nothing). */
#ifndef PAYMENT_MEMORY_ADAPTERS_H
#define PAYMENT_MEMORY_ADAPTERS_H

#include <stdbool.h>

#include "application/payment_app.h"
#include "oms/tests/support/test_audit.h"
#include "oms/tests/support/test_replies.h"
#include "oms/tests/support/test_tx.h"

#define MEM_ACCOUNTS 16
#define MEM_PAYMENTS 16
#define MEM_LEDGER 64

typedef struct mem_account {
    char customer_id[PAYMENT_CUSTOMER_ID_MAX + 1];
    int64_t balance_cents;
} mem_account;

typedef struct mem_payment {
    char payment_id[64];
    char order_id[64];
    char customer_id[PAYMENT_CUSTOMER_ID_MAX + 1];
    int64_t amount_cents;
    payment_status status;
    char reason[PAYMENT_REASON_MAX];
    bool has_reason;
} mem_payment;

typedef struct mem_ledger_entry {
    char customer_id[PAYMENT_CUSTOMER_ID_MAX + 1];
    int64_t delta;
    account_change_kind kind;
} mem_ledger_entry;

typedef struct mem_state {
    mem_account accounts[MEM_ACCOUNTS];
    size_t account_count;
    mem_payment payments[MEM_PAYMENTS];
    size_t payment_count;
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
    account_repo accounts;
    payment_repo payments;
    test_reply_outbox replies;
    test_audit_log audit;
    payment_app app;
} memory_world;

/* Resets `w` to an empty committed state with every port plugged in and
 * the given default credit. */
void memory_world_init(memory_world *w, int64_t default_credit_cents);

#endif
