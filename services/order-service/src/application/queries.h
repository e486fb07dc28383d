/* queries.h -- the read side: everything GET answers. Reads only the read
 * model (its own connections), never the write tables' locks. Results live
 * in the caller's arena. Input from outside (status names, limits, cursors)
 * is validated here: OMS_EINVAL with the query parameter as field. */
#ifndef ORDER_QUERIES_H
#define ORDER_QUERIES_H

#include <stdbool.h>
#include <stddef.h>

#include "application/cursor.h"
#include "application/order_app.h"
#include "oms/principal.h"

#define ORDER_LIST_DEFAULT_LIMIT 50
#define ORDER_LIST_MAX_LIMIT 500
#define ORDER_CUSTOMER_ORDERS_MAX 500
#define ORDER_OLDER_THAN_MAX_MS (3650LL * 86400 * 1000) /* GET /sagas?older_than: ten years */

typedef struct order_queries {
    order_read_model *read_model;
    oms_clock *clock;
    const saga_settings *saga; /* for the stuck reasons; NULL: the defaults */
} order_queries;

/* Every query reads as `who` may see (SPEC 7): a customer its own orders
 * only; another customer's order answers as an unknown one. */

/* OMS_ENOTFOUND when unknown (or not a UUID, or not `who`'s to see). */
oms_err order_query_get(order_queries *q, oms_arena *a, const oms_principal *who, const char *order_id, order *out,
                        oms_error *err);

/* A saga with its log. */
typedef struct saga_history {
    saga saga;
    saga_log_entry *steps;
    size_t step_count;
} saga_history;

/* OMS_ENOTFOUND when the order (or its saga) is unknown or not `who`'s. */
oms_err order_query_saga(order_queries *q, oms_arena *a, const oms_principal *who, const char *order_id,
                         saga_history *out, oms_error *err);

/* Raw query parameters of GET /orders; NULL when absent. */
typedef struct order_list_params {
    const char *customer_id;
    const char *status;
    const char *limit;
    const char *cursor;
} order_list_params;

typedef struct order_page {
    order *orders;
    size_t count;
    char next_cursor[ORDER_CURSOR_MAX]; /* "" when this is the last page */
} order_page;

/* A customer's list is its own, whatever customer_id it asks for. */
oms_err order_query_list(order_queries *q, oms_arena *a, const oms_principal *who, const order_list_params *p,
                         order_page *out, oms_error *err);

/* The customer's newest orders (at most ORDER_CUSTOMER_ORDERS_MAX) and how
 * many they have in all; OMS_ENOTFOUND for a customer asking for another's. */
oms_err order_query_customer(order_queries *q, oms_arena *a, const oms_principal *who, const char *customer_id,
                             order **orders, size_t *count, int64_t *total, oms_error *err);

/* Raw query parameters of GET /sagas; NULL when absent. */
typedef struct saga_list_params {
    const char *state;        /* a status name */
    const char *step;         /* none, payment, inventory, release, refund */
    const char *stuck_reason; /* retrying, deadline_exceeded, ... */
    const char *customer_id;
    const char *order_id;
    const char *older_than;   /* created longer ago than this: 30s, 10m, 2h, 7d */
    const char *sort;         /* "age": oldest first; absent or "urgency": nearest deadline first */
    const char *cursor;       /* a next_cursor of the same query */
    const char *limit;        /* 1..500, default 500 */
    const char *count_only;   /* "true": only how many match */
    const char *stuck;        /* "true"/"false" */
    const char *inconsistent; /* "true"/"false": only sagas a participant contradicted */
} saga_list_params;

typedef struct saga_page {
    saga *sagas;
    size_t count;
    char next_cursor[ORDER_CURSOR_MAX]; /* "" when this is the last page */
    bool count_only;                    /* then only total is set */
    int64_t total;
} saga_page;

/* GET /sagas: one page of the sagas that match every given filter (stuck
 * reasons: order_read_model.h), or with count_only their number.
 * OMS_EFORBIDDEN unless `who` is a viewer or above; OMS_EINVAL naming the
 * parameter. */
oms_err order_query_sagas(order_queries *q, oms_arena *a, const oms_principal *who, const saga_list_params *p,
                          saga_page *out, oms_error *err);

/* "30s", "10m", "2h", "7d" (1 to 9 digits and a unit) into milliseconds;
 * false for anything else. */
bool order_duration_parse(const char *text, int64_t *ms);

#endif
