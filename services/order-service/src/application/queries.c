/* queries.c -- the read side. Thin: parse what the client sent, ask the read
 * model, shape the page. */
#include "application/queries.h"

#include <string.h>

oms_err order_query_get(order_queries *q, oms_arena *a, const oms_principal *who, const char *order_id, order *out,
                        oms_error *err)
{
    if (!oms_uuid_valid(order_id))
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "order not found");
    oms_err rc = order_read_model_get(q->read_model, a, order_id, out, err);
    if (rc == OMS_OK && !oms_principal_may_see(who, out->customer_id))
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "order %s not found", order_id); /* as unknown */
    return rc;
}

static int compensation_limit(const order_queries *q)
{
    static const saga_settings defaults = {.step_timeout_s = 30, .max_attempts = 5};
    return saga_compensation_limit(q->saga ? q->saga : &defaults);
}

/* The order's saga with its stuck reason, as a list of one reads it. */
static oms_err read_one_saga(order_queries *q, oms_arena *a, const char *order_id, saga *out, oms_error *err)
{
    saga_list_filter f = {.order_id = order_id,
                          .now_ms = oms_clock_now_ms(q->clock),
                          .compensation_limit = compensation_limit(q),
                          .limit = 1};
    saga *found = NULL;
    size_t count = 0;
    oms_err rc = order_read_model_list_sagas(q->read_model, a, &f, &found, &count, err);
    if (rc == OMS_OK && count == 0)
        rc = oms_error_set(err, OMS_ENOTFOUND, NULL, "order %s not found", order_id);
    if (rc == OMS_OK)
        *out = found[0];
    return rc;
}

oms_err order_query_saga(order_queries *q, oms_arena *a, const oms_principal *who, const char *order_id,
                         saga_history *out, oms_error *err)
{
    if (!oms_uuid_valid(order_id))
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "order not found");
    memset(out, 0, sizeof *out);
    order o;
    oms_err rc = oms_principal_is_customer(who) ? order_query_get(q, a, who, order_id, &o, err) : OMS_OK;
    if (rc == OMS_OK)
        rc = read_one_saga(q, a, order_id, &out->saga, err);
    if (rc != OMS_OK)
        return rc;
    return order_read_model_saga_steps(q->read_model, a, out->saga.id, &out->steps, &out->step_count, err);
}

static oms_err parse_limit(const char *text, int *limit, oms_error *err)
{
    *limit = ORDER_LIST_DEFAULT_LIMIT;
    if (!text)
        return OMS_OK;
    int value = 0;
    size_t len = strlen(text);
    if (len == 0 || len > 3)
        return oms_error_set(err, OMS_EINVAL, "limit", "limit must be a whole number from 1 to %d",
                             ORDER_LIST_MAX_LIMIT);
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return oms_error_set(err, OMS_EINVAL, "limit", "limit must be a whole number from 1 to %d",
                                 ORDER_LIST_MAX_LIMIT);
        value = value * 10 + (text[i] - '0');
    }
    if (value < 1 || value > ORDER_LIST_MAX_LIMIT)
        return oms_error_set(err, OMS_EINVAL, "limit", "limit must be a whole number from 1 to %d",
                             ORDER_LIST_MAX_LIMIT);
    *limit = value;
    return OMS_OK;
}

static oms_err parse_list_filter(const order_list_params *p, order_list_filter *f, oms_error *err)
{
    memset(f, 0, sizeof *f);
    if (p->customer_id) {
        if (p->customer_id[0] == '\0' || strlen(p->customer_id) > ORDER_CUSTOMER_ID_MAX)
            return oms_error_set(err, OMS_EINVAL, "customer_id", "customer_id must be 1 to %d characters",
                                 ORDER_CUSTOMER_ID_MAX);
        f->customer_id = p->customer_id;
    }
    if (p->status) {
        if (!order_status_parse(p->status, &f->status))
            return oms_error_set(err, OMS_EINVAL, "status",
                                 "status must be one of CREATED, PENDING_PAYMENT, "
                                 "PAYMENT_CONFIRMED, INVENTORY_CONFIRMED, COMPENSATING, "
                                 "FAILED, CANCELLED");
        f->has_status = true;
    }
    if (p->cursor) {
        if (!order_cursor_decode(p->cursor, &f->cursor_created_ms, f->cursor_id))
            return oms_error_set(err, OMS_EINVAL, "cursor", "cursor is not a cursor this service returned");
        f->has_cursor = true;
    }
    return parse_limit(p->limit, &f->limit, err);
}

oms_err order_query_list(order_queries *q, oms_arena *a, const oms_principal *who, const order_list_params *p,
                         order_page *out, oms_error *err)
{
    memset(out, 0, sizeof *out);
    order_list_filter f;
    oms_err rc = parse_list_filter(p, &f, err);
    if (rc != OMS_OK)
        return rc;
    if (oms_principal_is_customer(who))
        f.customer_id = who->subject; /* by the principal, never by a parameter the client chooses */
    int wanted = f.limit;
    f.limit = wanted + 1; /* one more tells whether a next page exists */
    rc = order_read_model_list(q->read_model, a, &f, &out->orders, &out->count, err);
    if (rc != OMS_OK)
        return rc;
    if (out->count > (size_t)wanted) {
        out->count = (size_t)wanted;
        const order *last = &out->orders[wanted - 1];
        order_cursor_encode(last->created_at_ms, last->id, out->next_cursor);
    }
    return OMS_OK;
}

oms_err order_query_customer(order_queries *q, oms_arena *a, const oms_principal *who, const char *customer_id,
                             order **orders, size_t *count, int64_t *total, oms_error *err)
{
    if (!customer_id || customer_id[0] == '\0' || strlen(customer_id) > ORDER_CUSTOMER_ID_MAX)
        return oms_error_set(err, OMS_EINVAL, "customer_id", "customer_id must be 1 to %d characters",
                             ORDER_CUSTOMER_ID_MAX);
    if (!oms_principal_may_see(who, customer_id))
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "customer %s not found", customer_id);
    order_list_filter f = {.customer_id = customer_id, .limit = ORDER_CUSTOMER_ORDERS_MAX};
    oms_err rc = order_read_model_count_by_customer(q->read_model, a, customer_id, total, err);
    if (rc == OMS_OK)
        rc = order_read_model_list(q->read_model, a, &f, orders, count, err);
    return rc;
}

/* "true" or "false" into *out (absent: false); false when it is neither. */
static bool parse_flag(const char *text, bool *out)
{
    *out = text && strcmp(text, "true") == 0;
    return !text || *out || strcmp(text, "false") == 0;
}

bool order_duration_parse(const char *text, int64_t *ms)
{
    static const struct {
        char unit;
        int64_t ms;
    } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}};
    size_t len = text ? strlen(text) : 0;
    if (len < 2 || len > 10)
        return false;
    int64_t n = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        n = n * 10 + (text[i] - '0');
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (text[len - 1] == units[i].unit) {
            *ms = n * units[i].ms;
            return true;
        }
    }
    return false;
}

static oms_err parse_saga_cursor(const saga_list_params *p, saga_list_filter *f, oms_error *err)
{
    if (p->sort && strcmp(p->sort, "age") != 0 && strcmp(p->sort, "urgency") != 0)
        return oms_error_set(err, OMS_EINVAL, "sort", "sort must be age or urgency");
    f->sort = p->sort && strcmp(p->sort, "age") == 0 ? SAGA_SORT_AGE : SAGA_SORT_URGENCY;
    if (!p->cursor)
        return OMS_OK;
    if (!order_cursor_decode(p->cursor, &f->cursor_key_ms, f->cursor_id))
        return oms_error_set(err, OMS_EINVAL, "cursor", "cursor is not a cursor this service returned");
    f->has_cursor = true;
    return OMS_OK;
}

static oms_err parse_saga_filter(const saga_list_params *p, saga_list_filter *f, oms_error *err)
{
    if (p->state && !order_status_parse(p->state, &f->state))
        return oms_error_set(err, OMS_EINVAL, "state", "state must be a saga state (a status name)");
    f->has_state = p->state != NULL;
    if (p->step && !saga_step_parse(p->step, &f->step))
        return oms_error_set(err, OMS_EINVAL, "step", "step must be none, payment, inventory, release or refund");
    f->has_step = p->step != NULL;
    if (p->stuck_reason && !saga_stuck_reason_parse(p->stuck_reason, &f->stuck_reason))
        return oms_error_set(err, OMS_EINVAL, "stuck_reason",
                             "stuck_reason must be retrying, deadline_exceeded, compensation_blocked, paused or "
                             "waiting_on_dead_letter");
    f->has_stuck_reason = p->stuck_reason != NULL;
    if (p->customer_id && strlen(p->customer_id) > ORDER_CUSTOMER_ID_MAX)
        return oms_error_set(err, OMS_EINVAL, "customer_id", "customer_id must be 1 to %d characters",
                             ORDER_CUSTOMER_ID_MAX);
    f->customer_id = p->customer_id;
    if (p->order_id && !oms_uuid_valid(p->order_id))
        return oms_error_set(err, OMS_EINVAL, "order_id", "order_id must be a UUID");
    f->order_id = p->order_id;
    int64_t older_than = 0;
    if (p->older_than && (!order_duration_parse(p->older_than, &older_than) || older_than > ORDER_OLDER_THAN_MAX_MS))
        return oms_error_set(err, OMS_EINVAL, "older_than",
                             "older_than must be a number and a unit (30s, 10m, 2h, 7d), at most 3650d");
    f->created_before_ms = p->older_than ? f->now_ms - older_than : 0;
    if (!parse_flag(p->stuck, &f->stuck_only))
        return oms_error_set(err, OMS_EINVAL, "stuck", "stuck must be true or false");
    if (!parse_flag(p->inconsistent, &f->inconsistent_only))
        return oms_error_set(err, OMS_EINVAL, "inconsistent", "inconsistent must be true or false");
    oms_err rc = parse_saga_cursor(p, f, err);
    if (rc == OMS_OK)
        rc = parse_limit(p->limit, &f->limit, err);
    if (rc == OMS_OK && !p->limit)
        f->limit = ORDER_LIST_MAX_LIMIT;
    return rc;
}

/* The cursor after the page's last saga, in the page's sort. */
static void saga_next_cursor(const saga_list_filter *f, const saga *last, char out[ORDER_CURSOR_MAX])
{
    order_cursor_encode(f->sort == SAGA_SORT_AGE ? last->created_ms : last->deadline_ms, last->id, out);
}

oms_err order_query_sagas(order_queries *q, oms_arena *a, const oms_principal *who, const saga_list_params *p,
                          saga_page *out, oms_error *err)
{
    memset(out, 0, sizeof *out);
    if (!oms_principal_is_at_least(who, OMS_ROLE_VIEWER))
        return oms_error_set(err, OMS_EFORBIDDEN, NULL, "role %s may not list sagas", oms_role_name(who->role));
    saga_list_filter f = {.now_ms = oms_clock_now_ms(q->clock), .compensation_limit = compensation_limit(q)};
    oms_err rc = parse_saga_filter(p, &f, err);
    bool count_only = false;
    if (rc == OMS_OK && !parse_flag(p->count_only, &count_only))
        rc = oms_error_set(err, OMS_EINVAL, "count_only", "count_only must be true or false");
    if (rc != OMS_OK)
        return rc;
    out->count_only = count_only;
    if (count_only)
        return order_read_model_count_sagas(q->read_model, a, &f, &out->total, err);
    int wanted = f.limit;
    f.limit = wanted + 1; /* one more tells whether a next page exists */
    rc = order_read_model_list_sagas(q->read_model, a, &f, &out->sagas, &out->count, err);
    if (rc == OMS_OK && out->count > (size_t)wanted) {
        out->count = (size_t)wanted;
        saga_next_cursor(&f, &out->sagas[wanted - 1], out->next_cursor);
    }
    return rc;
}
