/* memory_adapters.h -- in-memory adapters of every port of the application,
 * for unit tests. One store holds everything; a transaction snapshots it at
 * begin and restores it on rollback, so "a failing command leaves nothing
 * half-done" can be tested without a database. */
#ifndef ORDER_MEMORY_ADAPTERS_H
#define ORDER_MEMORY_ADAPTERS_H

#include <stdbool.h>

#include "application/order_app.h"
#include "application/queries.h"
#include "oms/tests/support/test_audit.h"
#include "oms/tx_hooks.h"

#define MEM_ORDERS 32
#define MEM_ITEMS 8
#define MEM_LOG 1024
#define MEM_MESSAGES 512
#define MEM_TEXT 512
#define MEM_CATALOG 16

typedef struct mem_item {
    char product_id[65];
    int64_t quantity, unit_price_cents;
} mem_item;

typedef struct mem_order {
    bool used;
    char id[OMS_UUID_LEN + 1], saga_id[OMS_UUID_LEN + 1], customer_id[65];
    order_status status;
    int64_t total_cents, created_at_ms, modified_at_ms;
    bool has_failure, has_cancellation;
    char failure_reason[MEM_TEXT], cancellation_reason[MEM_TEXT];
    mem_item items[MEM_ITEMS];
    size_t item_count;
} mem_order;

typedef struct mem_saga {
    bool used;
    saga s;
    char correlation_id[129];
} mem_saga;

typedef struct mem_log {
    char saga_id[OMS_UUID_LEN + 1];
    saga_log_entry e; /* event_id/detail point into the fields below */
    char event_id[OMS_UUID_LEN + 1];
    bool has_event_id;
    char detail[MEM_TEXT];
} mem_log;

typedef struct mem_message {
    oms_msg_type type;
    char order_id[OMS_UUID_LEN + 1];
    char command_id[OMS_UUID_LEN + 1];
    char event_id[OMS_UUID_LEN + 1];
    char reason[MEM_TEXT];
    order_status status, previous_status;
    int64_t amount_cents;
    size_t item_count;
    char correlation_id[129];
} mem_message;

typedef struct mem_key {
    bool used;
    char principal[OMS_PRINCIPAL_ID_MAX + 1], key[129], fingerprint[ORDER_FINGERPRINT_LEN + 1],
        order_id[OMS_UUID_LEN + 1];
} mem_key;

/* A price of the catalog's copy. */
typedef struct mem_price {
    char product_id[65];
    int64_t price_cents, version;
} mem_price;

/* A reply held while its saga was paused. */
#define MEM_HELD 16
typedef struct mem_held {
    char saga_id[OMS_UUID_LEN + 1];
    saga_held_reply h; /* claim.command_id, reason, event_id, detail point below */
    char command_id[OMS_UUID_LEN + 1], reason[MEM_TEXT], event_id[OMS_UUID_LEN + 1], detail[MEM_TEXT];
    bool has_command_id, has_reason, has_event_id;
} mem_held;

typedef struct mem_data {
    mem_price catalog[MEM_CATALOG];
    size_t catalog_count;
    mem_order orders[MEM_ORDERS];
    mem_order view[MEM_ORDERS]; /* the read model */
    mem_saga sagas[MEM_ORDERS];
    mem_key keys[MEM_ORDERS];
    mem_log log[MEM_LOG];
    size_t log_count;
    mem_message messages[MEM_MESSAGES];
    size_t message_count;
    test_audit_rows audit;
    mem_held held[MEM_HELD];
    size_t held_count;
    size_t orphan_count; /* replies nobody waited for, recorded */
} mem_data;

typedef struct mem_store {
    mem_data data;
    mem_data snapshot;
    bool in_tx;
    oms_tx_hooks commit_hooks;
    int commits, rollbacks;
    int fail_outbox_after;                  /* > 0: the Nth send from now fails (OMS_EUNAVAILABLE) */
    char poison_order_id[OMS_UUID_LEN + 1]; /* every send for this order fails */
    int64_t now_ms;
    unsigned next_id;
    /* the ports */
    oms_tx_manager tx;
    order_repo orders;
    catalog catalog;
    saga_repo sagas;
    order_read_model read_model;
    order_outbox outbox;
    oms_clock clock;
    id_generator ids;
    test_audit_log audit;
    order_app app;
    order_queries queries;
} mem_store;

/* A zeroed store wired into app and queries (heap; free with free()), whose
 * catalog knows product-1 (10.50) and product-2 (0.99), the demo data. */
mem_store *mem_store_create(const saga_settings *cfg);

/* The catalog price of a product (committed at once, as a past message). */
void mem_set_price(mem_store *m, const char *product_id, int64_t price_cents);
/* The kept price and version of a product; false when unknown. */
bool mem_price_of(const mem_store *m, const char *product_id, int64_t *price_cents, int64_t *version);

const mem_saga *mem_find_saga(const mem_store *m, const char *order_id);
const mem_order *mem_find_order(const mem_store *m, const char *order_id);
const mem_order *mem_find_view(const mem_store *m, const char *order_id);
size_t mem_order_count(const mem_store *m);
/* The last message of `type` for the order, or NULL. */
const mem_message *mem_last_message(const mem_store *m, const char *order_id, oms_msg_type type);
size_t mem_message_count(const mem_store *m, const char *order_id, oms_msg_type type);
size_t mem_log_count(const mem_store *m, const char *saga_id, saga_log_kind kind);

#endif
