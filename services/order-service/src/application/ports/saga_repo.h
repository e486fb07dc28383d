/* saga_repo.h -- the saga record of SPEC section 5: one row of current state
 * per saga and an append-only step log. Every call runs inside the caller's
 * unit of work (oms_tx) and allocates in the caller's arena `a`; none
 * commits by itself. */
#ifndef ORDER_PORT_SAGA_REPO_H
#define ORDER_PORT_SAGA_REPO_H

#include <stddef.h>

#include "domain/saga.h"
#include "oms/arena.h"
#include "oms/tx.h"

/* One row of the step log. Strings are borrowed (writes) or arena-owned (reads). */
typedef struct saga_log_entry {
    int seq; /* assigned by the repository, 1, 2, ... per saga */
    int64_t at_ms;
    saga_log_kind kind;
    saga_step step;
    order_status from_state;
    order_status to_state;
    const char *event_id; /* the message received or sent; NULL when none */
    const char *detail;   /* one human sentence; may be NULL */
} saga_log_entry;

/* A reply that came while the saga was paused, kept to be applied on
 * resume (issue 12 item 2). Strings borrowed (writes) or arena-owned (reads). */
typedef struct saga_held_reply {
    saga_event event;
    saga_reply_claim claim; /* claim.command_id as below */
    const char *reason;     /* may be NULL */
    const char *event_id;
    const char *detail;
} saga_held_reply;

/* A reply that names an order without a saga (issue 12 item 8). Borrowed strings. */
typedef struct saga_orphan_reply {
    const char *event_id;
    const char *event_type;
    const char *order_id;
    const char *command_id; /* may be NULL */
} saga_orphan_reply;

typedef struct saga_repo saga_repo;
typedef struct saga_repo_ops {
    /* Stores a new saga. OMS_ECONFLICT when it (or one for the order) exists. */
    oms_err (*insert)(saga_repo *r, oms_tx *tx, oms_arena *a, const saga *s, const char *correlation_id,
                      oms_error *err);
    /* Loads the order's saga and locks it until the transaction ends, so two
     * processes never decide on the same saga at once. *correlation_id_out
     * is the request id that started it. OMS_ENOTFOUND when unknown. */
    oms_err (*load_for_update)(saga_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, saga *out,
                               const char **correlation_id_out, oms_error *err);
    /* Saves the saga if its stored version is still expected_version (then
     * stored as s->version). OMS_ECONFLICT when someone changed it meanwhile. */
    oms_err (*update)(saga_repo *r, oms_tx *tx, oms_arena *a, const saga *s, int64_t expected_version, oms_error *err);
    /* Appends one log row (seq assigned). */
    oms_err (*append_log)(saga_repo *r, oms_tx *tx, oms_arena *a, const char *saga_id, const saga_log_entry *e,
                          oms_error *err);
    /* Locks up to `limit` unfinished sagas whose deadline is before now_ms,
     * oldest deadline first, skipping those another transaction holds; their
     * order ids go to order_ids (an array in `a`) and *count. */
    oms_err (*lock_due)(saga_repo *r, oms_tx *tx, oms_arena *a, int64_t now_ms, int limit,
                        char (**order_ids)[OMS_UUID_LEN + 1], size_t *count, oms_error *err);
    /* The order of the saga `saga_id`. OMS_ENOTFOUND when unknown. */
    oms_err (*order_of)(saga_repo *r, oms_tx *tx, oms_arena *a, const char *saga_id, char order_id[OMS_UUID_LEN + 1],
                        oms_error *err);
    /* Keeps a reply of a paused saga (whose row the caller holds locked). */
    oms_err (*hold_reply)(saga_repo *r, oms_tx *tx, oms_arena *a, const char *saga_id, const saga_held_reply *h,
                          oms_error *err);
    /* Removes and returns the saga's held replies, in the order they came. */
    oms_err (*take_held)(saga_repo *r, oms_tx *tx, oms_arena *a, const char *saga_id, saga_held_reply **out,
                         size_t *count, oms_error *err);
    /* Keeps a reply nobody waits for (a repeat of the same event_id is kept once). */
    oms_err (*record_orphan)(saga_repo *r, oms_tx *tx, oms_arena *a, const saga_orphan_reply *o, oms_error *err);
    /* Replaces the set of orders with a message in a dead-letter queue
     * (waiting_on_dead_letter) by these n order ids and their counts. */
    oms_err (*replace_dead_lettered)(saga_repo *r, oms_tx *tx, oms_arena *a, const char *const *order_ids,
                                     const char *const *counts, size_t n, oms_error *err);
} saga_repo_ops;
struct saga_repo {
    const saga_repo_ops *ops;
    void *self;
};

static inline oms_err saga_repo_insert(saga_repo *r, oms_tx *tx, oms_arena *a, const saga *s,
                                       const char *correlation_id, oms_error *err)
{
    return r->ops->insert(r, tx, a, s, correlation_id, err);
}
static inline oms_err saga_repo_load_for_update(saga_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, saga *out,
                                                const char **correlation_id_out, oms_error *err)
{
    return r->ops->load_for_update(r, tx, a, order_id, out, correlation_id_out, err);
}
static inline oms_err saga_repo_update(saga_repo *r, oms_tx *tx, oms_arena *a, const saga *s, int64_t expected_version,
                                       oms_error *err)
{
    return r->ops->update(r, tx, a, s, expected_version, err);
}
static inline oms_err saga_repo_append_log(saga_repo *r, oms_tx *tx, oms_arena *a, const char *saga_id,
                                           const saga_log_entry *e, oms_error *err)
{
    return r->ops->append_log(r, tx, a, saga_id, e, err);
}
static inline oms_err saga_repo_lock_due(saga_repo *r, oms_tx *tx, oms_arena *a, int64_t now_ms, int limit,
                                         char (**order_ids)[OMS_UUID_LEN + 1], size_t *count, oms_error *err)
{
    return r->ops->lock_due(r, tx, a, now_ms, limit, order_ids, count, err);
}

static inline oms_err saga_repo_order_of(saga_repo *r, oms_tx *tx, oms_arena *a, const char *saga_id,
                                         char order_id[OMS_UUID_LEN + 1], oms_error *err)
{
    return r->ops->order_of(r, tx, a, saga_id, order_id, err);
}
static inline oms_err saga_repo_hold_reply(saga_repo *r, oms_tx *tx, oms_arena *a, const char *saga_id,
                                           const saga_held_reply *h, oms_error *err)
{
    return r->ops->hold_reply(r, tx, a, saga_id, h, err);
}
static inline oms_err saga_repo_take_held(saga_repo *r, oms_tx *tx, oms_arena *a, const char *saga_id,
                                          saga_held_reply **out, size_t *count, oms_error *err)
{
    return r->ops->take_held(r, tx, a, saga_id, out, count, err);
}
static inline oms_err saga_repo_record_orphan(saga_repo *r, oms_tx *tx, oms_arena *a, const saga_orphan_reply *o,
                                              oms_error *err)
{
    return r->ops->record_orphan(r, tx, a, o, err);
}
static inline oms_err saga_repo_replace_dead_lettered(saga_repo *r, oms_tx *tx, oms_arena *a,
                                                      const char *const *order_ids, const char *const *counts, size_t n,
                                                      oms_error *err)
{
    return r->ops->replace_dead_lettered(r, tx, a, order_ids, counts, n, err);
}

#endif
