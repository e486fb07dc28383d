/* inventory_events.h -- the replies inventory sends to the saga. Each call
 * queues one message inside the caller's unit of work (the outbox), so the
 * reply is sent if and only if the state change commits. */
#ifndef INVENTORY_EVENTS_H
#define INVENTORY_EVENTS_H

#include <stdbool.h>

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

typedef struct inventory_events inventory_events;

typedef struct inventory_events_ops {
    /* InventoryAllocated {command_id, success, reason (NULL on success)}. */
    oms_err (*allocated)(inventory_events *e, oms_tx *tx, oms_arena *a, const command_origin *o, bool success,
                         const char *reason, oms_error *err);
    /* InventoryReleased {command_id, released}. */
    oms_err (*released)(inventory_events *e, oms_tx *tx, oms_arena *a, const command_origin *o, bool released,
                        oms_error *err);
} inventory_events_ops;

struct inventory_events {
    const inventory_events_ops *ops;
    void *self;
};

static inline oms_err inventory_events_allocated(inventory_events *e, oms_tx *tx, oms_arena *a,
                                                 const command_origin *o, bool success, const char *reason,
                                                 oms_error *err)
{
    return e->ops->allocated(e, tx, a, o, success, reason, err);
}
static inline oms_err inventory_events_released(inventory_events *e, oms_tx *tx, oms_arena *a,
                                                const command_origin *o, bool released, oms_error *err)
{
    return e->ops->released(e, tx, a, o, released, err);
}

#endif
