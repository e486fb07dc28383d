/* order_read_model.h -- the query side (CQRS). `project` writes the order's
 * row of the read model inside the caller's write transaction, so an order
 * is readable the moment its command commits; every other call reads on the
 * read model's own connections (READ_POSTGRES_*), outside any transaction.
 * Every call allocates in the caller's arena `a`; results live there. */
#ifndef ORDER_PORT_ORDER_READ_MODEL_H
#define ORDER_PORT_ORDER_READ_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "application/ports/saga_repo.h"
#include "domain/order.h"
#include "domain/saga.h"
#include "oms/arena.h"
#include "oms/tx.h"

typedef struct order_list_filter {
    const char *customer_id; /* NULL: any */
    bool has_status;
    order_status status;
    bool has_cursor; /* only orders strictly older than (created_ms, id) */
    int64_t cursor_created_ms;
    char cursor_id[OMS_UUID_LEN + 1];
    int limit; /* rows wanted */
} order_list_filter;

/* How GET /sagas orders its page. */
typedef enum {
    SAGA_SORT_URGENCY = 0, /* nearest deadline first (none last), then id */
    SAGA_SORT_AGE          /* oldest first (created_at to the millisecond), then id */
} saga_sort;

/* The stuck reason of a saga (saga.stuck), as every read derives it, first
 * rule that holds: an ended saga (FAILED, CANCELLED) has none; paused;
 * compensation_blocked when COMPENSATING and its step was sent
 * compensation_limit times or more; waiting_on_dead_letter when a message of
 * its order is dead in the bus (saga_repo replace_dead_lettered keeps which);
 * deadline_exceeded when its deadline is before now_ms; retrying when its
 * step was sent more than once; else none. */
typedef struct saga_list_filter {
    bool has_state;
    order_status state;
    bool has_step;
    saga_step step;
    bool has_stuck_reason;
    saga_stuck_reason stuck_reason;
    const char *customer_id;   /* NULL: any */
    const char *order_id;      /* NULL: any */
    int64_t created_before_ms; /* 0: any (older_than) */
    bool stuck_only;        /* stuck for operators: not ended, and COMPENSATING, past its deadline or a stuck reason */
    bool inconsistent_only; /* a participant's answer contradicted the saga */
    saga_sort sort;
    bool has_cursor;       /* only sagas after (cursor_key_ms, cursor_id) in the sort's order */
    int64_t cursor_key_ms; /* created_ms (AGE) or deadline_ms, 0 for none (URGENCY) */
    char cursor_id[OMS_UUID_LEN + 1];
    int64_t now_ms;
    int compensation_limit; /* saga_compensation_limit() */
    int limit;
} saga_list_filter;

/* Unfinished sagas by stuck reason and step, and by age, for the metrics. */
#define SAGA_AGE_BUCKETS 9
/* Upper bounds of the age buckets, seconds: a minute to a week. */
#define SAGA_AGE_BOUNDS_S                                                                                              \
    {                                                                                                                  \
        60, 300, 900, 1800, 3600, 7200, 21600, 86400, 604800                                                           \
    }
typedef struct saga_stats {
    int64_t stuck[SAGA_STUCK_COUNT][SAGA_STEP_COUNT];
    int64_t age_bucket[SAGA_AGE_BUCKETS + 1]; /* not cumulative; the last: older than every bound */
    int64_t open;
    double age_sum_s;
} saga_stats;

typedef struct order_read_model order_read_model;
typedef struct order_read_model_ops {
    /* Upserts the order's read row in the write transaction. */
    oms_err (*project)(order_read_model *m, oms_tx *tx, oms_arena *a, const order *o, oms_error *err);
    /* OMS_ENOTFOUND when unknown. */
    oms_err (*get)(order_read_model *m, oms_arena *a, const char *order_id, order *out, oms_error *err);
    /* Newest first (created_at, then id, descending), at most filter->limit. */
    oms_err (*list)(order_read_model *m, oms_arena *a, const order_list_filter *f, order **out, size_t *count,
                    oms_error *err);
    oms_err (*count_by_customer)(order_read_model *m, oms_arena *a, const char *customer_id, int64_t *count,
                                 oms_error *err);
    /* The saga's log in seq order. */
    oms_err (*saga_steps)(order_read_model *m, oms_arena *a, const char *saga_id, saga_log_entry **out, size_t *count,
                          oms_error *err);
    /* Sagas matching the filter in its sort order, at most f->limit. */
    oms_err (*list_sagas)(order_read_model *m, oms_arena *a, const saga_list_filter *f, saga **out, size_t *count,
                          oms_error *err);
    /* How many sagas match the filter (its sort, cursor and limit unused). */
    oms_err (*count_sagas)(order_read_model *m, oms_arena *a, const saga_list_filter *f, int64_t *count,
                           oms_error *err);
    /* Unfinished sagas counted by stuck reason and step, and by age at now_ms. */
    oms_err (*saga_stats)(order_read_model *m, oms_arena *a, int64_t now_ms, int compensation_limit, saga_stats *out,
                          oms_error *err);
} order_read_model_ops;
struct order_read_model {
    const order_read_model_ops *ops;
    void *self;
};

static inline oms_err order_read_model_project(order_read_model *m, oms_tx *tx, oms_arena *a, const order *o,
                                               oms_error *err)
{
    return m->ops->project(m, tx, a, o, err);
}
static inline oms_err order_read_model_get(order_read_model *m, oms_arena *a, const char *id, order *out,
                                           oms_error *err)
{
    return m->ops->get(m, a, id, out, err);
}
static inline oms_err order_read_model_list(order_read_model *m, oms_arena *a, const order_list_filter *f, order **out,
                                            size_t *count, oms_error *err)
{
    return m->ops->list(m, a, f, out, count, err);
}
static inline oms_err order_read_model_count_by_customer(order_read_model *m, oms_arena *a, const char *customer_id,
                                                         int64_t *count, oms_error *err)
{
    return m->ops->count_by_customer(m, a, customer_id, count, err);
}
static inline oms_err order_read_model_saga_steps(order_read_model *m, oms_arena *a, const char *saga_id,
                                                  saga_log_entry **out, size_t *count, oms_error *err)
{
    return m->ops->saga_steps(m, a, saga_id, out, count, err);
}
static inline oms_err order_read_model_list_sagas(order_read_model *m, oms_arena *a, const saga_list_filter *f,
                                                  saga **out, size_t *count, oms_error *err)
{
    return m->ops->list_sagas(m, a, f, out, count, err);
}
static inline oms_err order_read_model_count_sagas(order_read_model *m, oms_arena *a, const saga_list_filter *f,
                                                   int64_t *count, oms_error *err)
{
    return m->ops->count_sagas(m, a, f, count, err);
}
static inline oms_err order_read_model_saga_stats(order_read_model *m, oms_arena *a, int64_t now_ms,
                                                  int compensation_limit, saga_stats *out, oms_error *err)
{
    return m->ops->saga_stats(m, a, now_ms, compensation_limit, out, err);
}

#endif
