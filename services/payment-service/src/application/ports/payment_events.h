/* payment_events.h -- the replies payment sends to the saga. Each call
 * queues one message inside the caller's unit of work (the outbox), so the
 * reply is sent if and only if the state change commits. */
#ifndef PAYMENT_EVENTS_H
#define PAYMENT_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "oms/arena.h"
#include "oms/tx.h"

/* Where a command came from: its reply carries the same saga, order,
 * correlation and command ids. */
typedef struct command_origin {
    const char *saga_id;
    const char *order_id;
    const char *correlation_id;
    const char *command_id;
} command_origin;

typedef struct payment_events payment_events;

typedef struct payment_events_ops {
    /* PaymentProcessed {command_id, success, payment_id (NULL when none),
     * amount_cents, reason (NULL on success)}. */
    oms_err (*processed)(payment_events *e, oms_tx *tx, oms_arena *a, const command_origin *o, bool success,
                         const char *payment_id, int64_t amount_cents, const char *reason, oms_error *err);
    /* PaymentRefunded {command_id, payment_id, amount_cents} (0 when nothing
     * was captured). */
    oms_err (*refunded)(payment_events *e, oms_tx *tx, oms_arena *a, const command_origin *o, const char *payment_id,
                        int64_t amount_cents, oms_error *err);
} payment_events_ops;

struct payment_events {
    const payment_events_ops *ops;
    void *self;
};

static inline oms_err payment_events_processed(payment_events *e, oms_tx *tx, oms_arena *a, const command_origin *o,
                                               bool success, const char *payment_id, int64_t amount_cents,
                                               const char *reason, oms_error *err)
{
    return e->ops->processed(e, tx, a, o, success, payment_id, amount_cents, reason, err);
}
static inline oms_err payment_events_refunded(payment_events *e, oms_tx *tx, oms_arena *a, const command_origin *o,
                                              const char *payment_id, int64_t amount_cents, oms_error *err)
{
    return e->ops->refunded(e, tx, a, o, payment_id, amount_cents, err);
}

#endif
