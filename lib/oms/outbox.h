/* outbox.h -- the transactional outbox (SPEC section 4) and its relay.
 *
 * A service writes a message with oms_outbox_append inside the same
 * transaction as the state change that causes it; after commit, the relay
 * thread publishes pending rows through the bus in id order, and marks them
 * sent only after the bus said they are durable. One relay per database runs
 * at a time (advisory lock), so per-key order holds with several instances.
 * Tables outbox and inbox: the migration "000_oms_outbox_inbox", embedded in
 * outbox.c and applied first by oms_pg_migrate. */
#ifndef OMS_OUTBOX_H
#define OMS_OUTBOX_H

#include "bus.h"
#include "pg.h"

/* Inserts one pending row (deferred: it goes out with the transaction's next
 * statement or its commit) and records a commit hook that wakes this
 * process's relay of the tx's pool. */
oms_err oms_outbox_append(oms_arena *a, oms_tx *tx, const char *topic, const char *key, const char *payload,
                          oms_error *err);

typedef struct oms_outbox_relay oms_outbox_relay;

/* Starts the relay thread on its own connection from `pool`. */
oms_outbox_relay *oms_outbox_relay_start(oms_pg_pool *pool, oms_bus *bus, oms_error *err);

/* Publishes what is pending (up to `grace_ms`), stops the thread, frees. */
void oms_outbox_relay_stop(oms_outbox_relay *r, int grace_ms);

/* Rows not yet sent, for /metrics and tests; -1 on error. */
long oms_outbox_pending(oms_pg_pool *pool);

/* Handling a message exactly once (the inbox side).
 *
 * Begins a transaction on `pool`, records m's event_id for `consumer` in the
 * inbox table (skipping, with OMS_BUS_ACK, an event_id seen before), calls
 * `fn` with the transaction and the parsed envelope, and commits. Returns:
 * ACK after commit or for a duplicate; DEAD when the envelope cannot be parsed
 * or fn returns OMS_EINVAL; RETRY for anything else (database down, conflict,
 * fn failing), with `reason` filled. */
#include "envelope.h"
typedef oms_err (*oms_message_fn)(void *ctx, oms_tx *tx, const oms_envelope *env, oms_arena *a, oms_error *err);
oms_bus_disposition oms_handle_once(oms_pg_pool *pool, const char *consumer, const oms_bus_message *m,
                                    oms_message_fn fn, void *ctx, oms_arena *a, char *reason, size_t reason_len);

/* The same for a batch (an oms_bus_batch_handler's work): every message in
 * one transaction, one commit for all, and out[i] for each. When a message
 * fails (or the commit does: a deadlock, the database gone), the transaction
 * is rolled back and each message is handled again on its own with
 * oms_handle_once, so only the failing one is retried or dead-lettered; a
 * later message of the same key (Pulsar batches may hold several) is then
 * not handled but retried, to keep the key's order. `fn` must keep its
 * effects inside the transaction, or record them with oms_tx_on_commit: on
 * that path it runs twice for the good messages, and only the hooks of the
 * transaction that commits run. */
void oms_handle_batch(oms_pg_pool *pool, const char *consumer, const oms_bus_message *msgs, size_t n,
                      oms_message_fn fn, void *ctx, oms_arena *a, oms_bus_outcome *out);

#endif
