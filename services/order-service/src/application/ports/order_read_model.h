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
    const char *customer_id;  /* NULL: any */
    bool has_status;
    order_status status;
    bool has_cursor;          /* only orders strictly older than (created_ms, id) */
    int64_t cursor_created_ms;
    char cursor_id[OMS_UUID_LEN + 1];
    int limit;                /* rows wanted */
} order_list_filter;

typedef struct saga_list_filter {
    bool has_state;
    order_status state;
    bool stuck_only;          /* stuck for operators: not ended, and COMPENSATING or past its deadline */
    bool inconsistent_only;   /* a participant's answer contradicted the saga */
    int64_t now_ms;
    int limit;
} saga_list_filter;

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
    /* The order's saga; OMS_ENOTFOUND when unknown. */
    oms_err (*get_saga)(order_read_model *m, oms_arena *a, const char *order_id, saga *out, oms_error *err);
    /* The saga's log in seq order. */
    oms_err (*saga_steps)(order_read_model *m, oms_arena *a, const char *saga_id, saga_log_entry **out,
                          size_t *count, oms_error *err);
    /* Sagas, most urgent deadline first. */
    oms_err (*list_sagas)(order_read_model *m, oms_arena *a, const saga_list_filter *f, saga **out, size_t *count,
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
static inline oms_err order_read_model_list(order_read_model *m, oms_arena *a, const order_list_filter *f,
                                            order **out, size_t *count, oms_error *err)
{
    return m->ops->list(m, a, f, out, count, err);
}
static inline oms_err order_read_model_count_by_customer(order_read_model *m, oms_arena *a, const char *customer_id,
                                                         int64_t *count, oms_error *err)
{
    return m->ops->count_by_customer(m, a, customer_id, count, err);
}
static inline oms_err order_read_model_get_saga(order_read_model *m, oms_arena *a, const char *order_id, saga *out,
                                                oms_error *err)
{
    return m->ops->get_saga(m, a, order_id, out, err);
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

#endif
