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

oms_err order_query_saga(order_queries *q, oms_arena *a, const oms_principal *who, const char *order_id,
                         saga_history *out, oms_error *err)
{
    if (!oms_uuid_valid(order_id))
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "order not found");
    memset(out, 0, sizeof *out);
    order o;
    oms_err rc = oms_principal_is_customer(who) ? order_query_get(q, a, who, order_id, &o, err) : OMS_OK;
    if (rc == OMS_OK)
        rc = order_read_model_get_saga(q->read_model, a, order_id, &out->saga, err);
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
        return oms_error_set(err, OMS_EINVAL, "limit", "limit must be a whole number from 1 to %d", ORDER_LIST_MAX_LIMIT);
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return oms_error_set(err, OMS_EINVAL, "limit", "limit must be a whole number from 1 to %d",
                                 ORDER_LIST_MAX_LIMIT);
        value = value * 10 + (text[i] - '0');
    }
    if (value < 1 || value > ORDER_LIST_MAX_LIMIT)
        return oms_error_set(err, OMS_EINVAL, "limit", "limit must be a whole number from 1 to %d", ORDER_LIST_MAX_LIMIT);
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
            return oms_error_set(err, OMS_EINVAL, "status", "status must be one of CREATED, PENDING_PAYMENT, "
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
        return oms_error_set(err, OMS_EINVAL, "customer_id", "customer_id must be 1 to %d characters", ORDER_CUSTOMER_ID_MAX);
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

oms_err order_query_sagas(order_queries *q, oms_arena *a, const oms_principal *who, const saga_list_params *p,
                          saga **out, size_t *count, oms_error *err)
{
    if (!oms_principal_is_at_least(who, OMS_ROLE_VIEWER))
        return oms_error_set(err, OMS_EFORBIDDEN, NULL, "role %s may not list sagas", oms_role_name(who->role));
    saga_list_filter f = {.now_ms = oms_clock_now_ms(q->clock), .limit = ORDER_LIST_MAX_LIMIT};
    if (p->state) {
        if (!order_status_parse(p->state, &f.state))
            return oms_error_set(err, OMS_EINVAL, "state", "state must be a saga state (a status name)");
        f.has_state = true;
    }
    if (!parse_flag(p->stuck, &f.stuck_only))
        return oms_error_set(err, OMS_EINVAL, "stuck", "stuck must be true or false");
    if (!parse_flag(p->inconsistent, &f.inconsistent_only))
        return oms_error_set(err, OMS_EINVAL, "inconsistent", "inconsistent must be true or false");
    return order_read_model_list_sagas(q->read_model, a, &f, out, count, err);
}
