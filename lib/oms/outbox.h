/* outbox.h -- the transactional outbox (SPEC section 4) and its relay.
 *
 * A service writes a message with oms_outbox_append inside the same
 * transaction as the state change that causes it; after commit, the relay
 * thread publishes pending rows through the bus in id order, and marks them
 * sent only after the bus said they are durable. One relay per database runs
 * at a time (advisory lock), so per-key order holds with several instances.
 * Tables outbox and inbox (inbox.h): oms_outbox_migrations, which a
 * service applies before its own (oms_pg_migrate). */
#ifndef OMS_OUTBOX_H
#define OMS_OUTBOX_H

#include "bus.h"
#include "pg.h"

/* Inserts one pending row (deferred: it goes out with the transaction's next
 * statement or its commit) and records a commit hook that wakes this
 * process's relay of the tx's pool. */
oms_err oms_outbox_append(oms_tx *tx, const char *topic, const char *key, const char *payload, oms_error *err);

typedef struct oms_outbox_relay oms_outbox_relay;

/* Starts the relay thread on its own connection from `pool`. */
oms_outbox_relay *oms_outbox_relay_start(oms_pg_pool *pool, oms_bus *bus, oms_error *err);

/* Publishes what is pending (up to `grace_ms`), stops the thread, frees. */
void oms_outbox_relay_stop(oms_outbox_relay *r, int grace_ms);

/* The outbox and inbox tables, oms_make_append_only(table) for a
 * service's own migrations, and the audit trail's audit_log (audit.h; see
 * outbox.c), for oms_pg_migrate before them
 * (the names are recorded in schema_migrations: never renamed). */
#define OMS_OUTBOX_MIGRATION_COUNT 6
extern const oms_pg_migration oms_outbox_migrations[OMS_OUTBOX_MIGRATION_COUNT];

#endif
