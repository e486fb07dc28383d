/* inbox.h -- handling a message exactly once (SPEC section 4): the
 * receiving side of the outbox. The inbox table (consumer, event_id) is
 * created with the outbox's (oms_outbox_migrations). */
#ifndef OMS_INBOX_H
#define OMS_INBOX_H

#include "bus.h"
#include "envelope.h"
#include "pg.h"
#include "retention.h"

/* What handles one message inside the inbox's transaction: OMS_OK to
 * acknowledge, OMS_EINVAL when it can never succeed, anything else to retry.
 * env->topic is the topic the message came on. */
typedef oms_err (*oms_inbox_fn)(void *ctx, oms_tx *tx, const oms_envelope *env, oms_arena *a, oms_error *err);

/* The err->reason of a handler that refuses a message but keeps a record of
 * it (a reply that answers no command of the saga): set by oms_inbox_refuse. */
#define OMS_INBOX_REFUSED "refused"

/* For a handler that refuses its message and wants what it wrote (the
 * record of the refusal) to commit: sets err (the why, reason
 * OMS_INBOX_REFUSED) and returns OMS_OK; the inbox then commits the
 * transaction and dead-letters the message (<topic>-DLQ) with the why, so
 * operators see it and a redrive finds it handled (the inbox keeps its
 * event_id). */
oms_err oms_inbox_refuse(oms_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Begins a transaction on `pool`, records m's event_id for `consumer` in the
 * inbox table (skipping, with OMS_BUS_ACK, an event_id seen before), calls
 * `fn` with the transaction and the parsed envelope, and commits. Returns:
 * ACK after commit or for a duplicate; DEAD when the envelope cannot be parsed
 * or fn returns OMS_EINVAL, and after commit when fn refused it
 * (oms_inbox_refuse); RETRY for anything else (database down, conflict, fn
 * failing), with `reason` filled. */
oms_bus_disposition oms_inbox_handle(oms_pg_pool *pool, const char *consumer, const oms_bus_message *m, oms_inbox_fn fn,
                                     void *ctx, oms_arena *a, char *reason, size_t reason_len);

/* The same for a batch (an oms_bus_batch_handler's work): every message in
 * one transaction, one commit for all, and out[i] for each. When a message
 * fails (or the commit does: a deadlock, the database gone), the transaction
 * is rolled back and each message is handled again on its own with
 * oms_inbox_handle, so only the failing one is retried or dead-lettered; a
 * later message of the same key (Pulsar batches may hold several) is then
 * not handled but retried, to keep the key's order. `fn` must keep its
 * effects inside the transaction, or record them with oms_tx_on_commit: on
 * that path it runs twice for the good messages, and only the hooks of the
 * transaction that commits run. */
void oms_inbox_handle_batch(oms_pg_pool *pool, const char *consumer, const oms_bus_message *msgs, size_t n,
                            oms_inbox_fn fn, void *ctx, oms_arena *a, oms_bus_outcome *out);

/* ---- reading the inbox (the order timeline, issue 13 item 1) ---- */

#define OMS_INBOX_LOOKUP_MAX 256 /* event ids in one lookup */

/* One handled message: who handled it and when. */
typedef struct oms_inbox_row {
    const char *consumer;
    const char *event_id;
    int64_t handled_at_ms;
} oms_inbox_row;

/* The inbox rows of the given event ids (at most OMS_INBOX_LOOKUP_MAX, each a
 * UUID), oldest first, in the arena (index inbox_event_id: one probe per
 * id). OMS_EINVAL for too many ids or one that is not a UUID. */
oms_err oms_inbox_lookup(oms_pg_pool *pool, oms_arena *a, const char *const *event_ids, size_t n, oms_inbox_row **out,
                         size_t *count, oms_error *err);

/* The inbox's retention rule: records handled more than `keep_s` ago are
 * removed. Keep them longer than any redelivery of the same message can
 * come (the service's INBOX_RETENTION_H, at least 24 h: a pg-bus message is
 * retried at most BUS_MAX_REDELIVERIES (<= 1000) times, at most 30 s apart,
 * after a lease of at most BUS_LEASE_S (<= 3600), under 9.4 h in all; a
 * Pulsar message the same). A message redelivered after its record is gone
 * is handled again, and the handlers' own idempotency (the saga's command
 * ids, the participants' one payment and one reservation per order) refuses
 * to apply it twice. */
oms_retention_rule oms_inbox_retention_rule(int64_t keep_s);

#endif
