/* http_api.c -- routes to commands and queries. Decodes requests with the
 * oms_json_* readers (400 naming the field), maps errors once, and renders
 * orders and sagas as the SPEC documents. No decision is taken here. */
#include "adapters/http_api.h"

#include <stdio.h>
#include <string.h>

#include "adapters/order_json.h"
#include "adapters/order_waits.h"
#include "oms/ident.h"
#include "oms/json.h"
#include "oms/service_auth.h"

/* A query parameter, NULL when absent or empty ("?state=&stuck=true"). */
static const char *query_param(const oms_http_request *req, const char *name)
{
    const char *v = oms_http_query(req, name);
    return v && v[0] ? v : NULL;
}

/* ---- rendering ------------------------------------------------------------ */

static json_t *time_or_null(int64_t ms)
{
    char text[40];
    return ms ? json_string(oms_time_format(ms, text, sizeof text)) : json_null();
}

static json_t *steps_json(const saga_history *h)
{
    json_t *steps = json_array();
    for (size_t i = 0; steps && i < h->step_count; i++) {
        const saga_log_entry *e = &h->steps[i];
        json_t *step = json_pack("{s:i, s:o, s:s, s:s, s:s, s:s, s:o, s:o}", "seq", e->seq, "at",
                                 time_or_null(e->at_ms), "kind", saga_log_kind_name(e->kind), "step",
                                 saga_step_name(e->step), "from_state", order_status_name(e->from_state), "to_state",
                                 order_status_name(e->to_state), "event_id",
                                 e->event_id ? json_string(e->event_id) : json_null(), "detail",
                                 e->detail ? json_string(e->detail) : json_null());
        if (!step || json_array_append_new(steps, step) != 0) {
            json_decref(steps);
            return NULL;
        }
    }
    return steps;
}

static json_t *text_or_null(const char *text) { return text && text[0] ? json_string(text) : json_null(); }

/* What an operator needs (issue 12 item 1): why the saga is stuck, when its
 * command goes again and why the last one failed, its age. 0, or -1 when
 * out of memory. */
static int set_operating_fields(json_t *doc, const saga *s)
{
    bool waiting = s->step != SAGA_STEP_NONE && !order_status_is_final(s->state);
    int rc = json_object_set_new(doc, "stuck_reason", text_or_null(saga_stuck_reason_name(s->stuck)));
    rc |= json_object_set_new(doc, "paused", json_boolean(s->paused));
    rc |= json_object_set_new(doc, "next_attempt_at",
                              waiting && !s->paused ? time_or_null(s->deadline_ms) : json_null());
    rc |= json_object_set_new(doc, "last_error", text_or_null(s->last_error));
    rc |= json_object_set_new(doc, "created_at", time_or_null(s->created_ms));
    rc |= json_object_set_new(doc, "customer_id", text_or_null(s->customer_id));
    return rc ? -1 : 0;
}

/* What the compensation owes, in business words (issue 12 item 3): each
 * obligation with its status, and the last error of the failing one. */
static json_t *obligations_json(oms_arena *a, const saga *s, const saga_settings *cfg)
{
    saga_obligation list[2];
    size_t n = saga_obligations(s, cfg, list);
    json_t *out = json_array();
    for (size_t i = 0; out && i < n; i++) {
        bool failing = list[i].status == SAGA_OBLIGATION_FAILING;
        json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "obligation", saga_obligation_name(list[i].kind), "description",
                              saga_obligation_describe(a, list[i].kind, s->total_cents, s->customer_id, s->order_id),
                              "status", saga_obligation_status_name(list[i].status), "last_error",
                              failing ? text_or_null(s->last_error) : json_null());
        if (!o || json_array_append_new(out, o) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *saga_json(oms_arena *a, const saga_settings *cfg, const saga *s, json_t *steps)
{
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:o, s:i, s:I, s:b, s:b, s:o}", "saga_id", s->id, "order_id",
                            s->order_id, "state", order_status_name(s->state), "current_step", saga_step_name(s->step),
                            "deadline", time_or_null(s->deadline_ms), "attempts", s->attempts, "version",
                            (json_int_t)s->version, "payment_captured", s->payment_captured, "stock_reserved",
                            s->stock_reserved, "compensation_target",
                            s->state == ORDER_COMPENSATING ? json_string(order_status_name(s->target)) : json_null());
    /* A participant's answer contradicted the saga (docs/architecture.md,
     * "Replies the saga trusts"): for an operator to look into. */
    bool inconsistent = s->inconsistency[0] != '\0';
    if (doc &&
        (json_object_set_new(doc, "inconsistent", json_boolean(inconsistent)) != 0 ||
         json_object_set_new(doc, "inconsistency", inconsistent ? json_string(s->inconsistency) : json_null()) != 0 ||
         set_operating_fields(doc, s) != 0 ||
         json_object_set_new(doc, "obligations", obligations_json(a, s, cfg)) != 0)) {
        json_decref(doc);
        return NULL;
    }
    if (doc && steps && json_object_set_new(doc, "steps", steps) != 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static json_t *orders_json(const order *orders, size_t count)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < count; i++) {
        json_t *doc = order_document_json(&orders[i]);
        if (!doc || json_array_append_new(list, doc) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* ---- POST /orders --------------------------------------------------------- */

static oms_err decode_item(oms_arena *a, const json_t *item, size_t i, order_item *out, oms_error *err)
{
    char path[48];
    snprintf(path, sizeof path, "items[%zu]", i);
    if (!json_is_object(item))
        return oms_error_set(err, OMS_EINVAL, path, "%s must be an object", path);
    char *product_path = oms_arena_sprintf(a, "items[%zu].product_id", i);
    char *quantity_path = oms_arena_sprintf(a, "items[%zu].quantity", i);
    char *price_path = oms_arena_sprintf(a, "items[%zu].unit_price", i);
    if (!product_path || !quantity_path || !price_path)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    oms_err rc = oms_json_string(item, "product_id", product_path, ORDER_PRODUCT_ID_MAX, true, &out->product_id, err);
    if (rc == OMS_OK)
        rc = oms_json_integer(item, "quantity", quantity_path, 1, ORDER_QUANTITY_MAX, &out->quantity, err);
    /* Left out (or null): the catalog's price (SPEC 7). */
    const json_t *price = json_object_get(item, "unit_price");
    out->unit_price_cents = ORDER_PRICE_FROM_CATALOG;
    if (rc == OMS_OK && price && !json_is_null(price))
        rc = oms_json_money(item, "unit_price", price_path, 0, ORDER_UNIT_PRICE_MAX_CENTS, &out->unit_price_cents, err);
    return rc;
}

static oms_err decode_create(oms_arena *a, const json_t *body, order_create_request *req, oms_error *err)
{
    memset(req, 0, sizeof *req);
    if (!json_is_object(body))
        return oms_error_set(err, OMS_EINVAL, NULL, "the body must be a JSON object");
    /* Optional: a customer's own when omitted (order_authorize_create). */
    oms_err rc = oms_json_string(body, "customer_id", "customer_id", ORDER_CUSTOMER_ID_MAX, false, &req->customer_id,
                                 err);
    if (rc != OMS_OK)
        return rc;
    const json_t *items = json_object_get(body, "items");
    if (!json_is_array(items))
        return oms_error_set(err, OMS_EINVAL, "items", "items must be an array of items");
    size_t n = json_array_size(items);
    if (n == 0 || n > ORDER_ITEMS_MAX)
        return oms_error_set(err, OMS_EINVAL, "items", "items must hold 1 to %d items", ORDER_ITEMS_MAX);
    order_item *decoded = oms_arena_calloc(a, n, sizeof *decoded);
    if (!decoded)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        rc = decode_item(a, json_array_get(items, i), i, &decoded[i], err);
        if (rc != OMS_OK)
            return rc;
    }
    req->items = decoded;
    req->item_count = n;
    return OMS_OK;
}

static void respond_order(oms_http_request *req, oms_http_response *res, int status, const order *o)
{
    oms_http_respond_doc(req, res, status, order_document_json(o));
}

static void post_order(void *ctx, oms_http_request *req, oms_http_response *res)
{
    http_api *api = ctx;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    const char *key = oms_http_header(req, "Idempotency-Key");
    if (key && !order_idempotency_key_valid(key)) {
        oms_http_respond_error(req, res, 400, "invalid_argument",
                               "Idempotency-Key must be 1 to 128 of " OMS_IDENT_CHARS ", and not \".\" or \"..\"",
                               "Idempotency-Key");
        return;
    }
    /* SPEC 7: after a 502/504 a customer could not know whether its order
     * was made; the key makes the retry safe, so it is required. */
    if (!key && oms_principal_is_customer(who)) {
        oms_http_respond_error(req, res, 400, "idempotency_key_required",
                               "a customer's POST /orders needs an Idempotency-Key header", "Idempotency-Key");
        return;
    }
    json_t *body = oms_http_json_body(req, res);
    if (!body)
        return;
    oms_error err;
    oms_error_clear(&err);
    order_create_request create;
    if (decode_create(req->arena, body, &create, &err) != OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    order created;
    order_create_outcome outcome;
    oms_err rc = order_create(api->app, req->arena, who, &create, key, req->request_id, &created, &outcome, &err);
    if (rc != OMS_OK && strcmp(err.reason, ORDER_REASON_OVERLOADED) == 0) {
        /* Admission control (issue 14): refused before anything was stored. */
        oms_http_add_header(req, res, "Retry-After", oms_arena_sprintf(req->arena, "%d", SAGA_ADMISSION_RETRY_AFTER_S));
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    if (rc != OMS_OK && strcmp(err.reason, ORDER_REASON_KEY_REUSED) == 0) {
        /* SPEC 7: the request is understood but cannot be this key's (422). */
        oms_http_respond_error(req, res, 422, err.reason, err.message, err.field);
        return;
    }
    if (rc != OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    oms_http_add_header(req, res, "Location", oms_arena_sprintf(req->arena, "/orders/%s", created.id));
    respond_order(req, res, outcome == ORDER_CREATE_REPLAYED ? 200 : 201, &created);
}

/* ---- GET /orders/{id}, /orders/{id}/saga -------------------------------- */

/* A boolean query parameter as the document types it: absent is false,
 * "true" or "false"; anything else ("null", "", "1") is 400 naming it, so
 * that a client generated from openapi.yaml gets what it says. */
static bool query_flag(oms_http_request *req, oms_http_response *res, const char *name, bool *out)
{
    const char *v = oms_http_query(req, name);
    *out = v && strcmp(v, "true") == 0;
    if (!v || *out || strcmp(v, "false") == 0)
        return true;
    char message[96];
    snprintf(message, sizeof message, "%s must be true or false", name);
    oms_http_respond_error(req, res, 400, "invalid_argument", message, name);
    return false;
}

static void get_order(void *ctx, oms_http_request *req, oms_http_response *res)
{
    http_api *api = ctx;
    if (oms_http_query(req, "wait")) {
        order_wait_final(api->queries, api->waits, req, res);
        return;
    }
    const oms_principal *who = oms_request_principal(req, res);
    bool with_history = false;
    if (!who || !query_flag(req, res, "include_saga_history", &with_history))
        return;
    oms_error err;
    oms_error_clear(&err);
    order o;
    if (order_query_get(api->queries, req->arena, who, req->params[0], &o, &err) != OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    json_t *doc = order_document_json(&o);
    if (doc && with_history) {
        saga_history h;
        if (order_query_saga(api->queries, req->arena, who, o.id, &h, &err) != OMS_OK) {
            json_decref(doc);
            oms_http_respond_oms_error(req, res, &err);
            return;
        }
        json_object_set_new(doc, "saga_history", steps_json(&h));
    }
    oms_http_respond_doc(req, res, 200, doc);
}

static void get_order_events(void *ctx, oms_http_request *req, oms_http_response *res)
{
    http_api *api = ctx;
    order_events(api->queries, api->waits, req, res);
}

static void get_order_timeline(void *ctx, oms_http_request *req, oms_http_response *res)
{
    http_api *api = ctx;
    order_timeline(&api->timeline, req, res);
}

static void get_order_saga(void *ctx, oms_http_request *req, oms_http_response *res)
{
    http_api *api = ctx;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    oms_error err;
    oms_error_clear(&err);
    saga_history h;
    if (order_query_saga(api->queries, req->arena, who, req->params[0], &h, &err) != OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    /* The version an action's If-Match names (issue 12 item 2). */
    oms_http_add_header(req, res, "ETag", oms_arena_sprintf(req->arena, "\"%lld\"", (long long)h.saga.version));
    oms_http_respond_doc(req, res, 200, saga_json(req->arena, &api->app->saga, &h.saga, steps_json(&h)));
}

/* ---- lists ----------------------------------------------------------------- */

static void list_orders(void *ctx, oms_http_request *req, oms_http_response *res)
{
    http_api *api = ctx;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    oms_error err;
    oms_error_clear(&err);
    order_list_params p = {
        .customer_id = query_param(req, "customer_id"),
        .status = query_param(req, "status"),
        .limit = query_param(req, "limit"),
        .cursor = query_param(req, "cursor"),
    };
    order_page page;
    if (order_query_list(api->queries, req->arena, who, &p, &page, &err) != OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    json_t *orders = orders_json(page.orders, page.count);
    json_t *doc = orders ? json_pack("{s:o, s:o}", "orders", orders, "next_cursor",
                                     page.next_cursor[0] ? json_string(page.next_cursor) : json_null())
                         : NULL;
    oms_http_respond_doc(req, res, 200, doc);
}

static void customer_orders(void *ctx, oms_http_request *req, oms_http_response *res)
{
    http_api *api = ctx;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    oms_error err;
    oms_error_clear(&err);
    order *orders = NULL;
    size_t count = 0;
    int64_t total = 0;
    if (order_query_customer(api->queries, req->arena, who, req->params[0], &orders, &count, &total, &err) != OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    json_t *list = orders_json(orders, count);
    json_t *doc = list ? json_pack("{s:s, s:o, s:I}", "customer_id", req->params[0], "orders", list, "total_orders",
                                   (json_int_t)total)
                       : NULL;
    oms_http_respond_doc(req, res, 200, doc);
}

static json_t *sagas_json(oms_arena *a, const saga_settings *cfg, const saga_page *page)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < page->count; i++) {
        json_t *doc = saga_json(a, cfg, &page->sagas[i], NULL);
        if (!doc || json_array_append_new(list, doc) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list ? json_pack("{s:o, s:o}", "sagas", list, "next_cursor", text_or_null(page->next_cursor)) : NULL;
}

static void list_sagas(void *ctx, oms_http_request *req, oms_http_response *res)
{
    http_api *api = ctx;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    oms_error err;
    oms_error_clear(&err);
    const saga_list_params p = {.state = query_param(req, "state"),
                                .step = query_param(req, "step"),
                                .stuck_reason = query_param(req, "stuck_reason"),
                                .customer_id = query_param(req, "customer_id"),
                                .order_id = query_param(req, "order_id"),
                                .older_than = query_param(req, "older_than"),
                                .sort = query_param(req, "sort"),
                                .cursor = query_param(req, "cursor"),
                                .limit = query_param(req, "limit"),
                                .count_only = query_param(req, "count_only"),
                                .stuck = query_param(req, "stuck"),
                                .inconsistent = query_param(req, "inconsistent")};
    saga_page page;
    if (order_query_sagas(api->queries, req->arena, who, &p, &page, &err) != OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    if (page.count_only)
        oms_http_respond_doc(req, res, 200, json_pack("{s:I}", "count", (json_int_t)page.total));
    else
        oms_http_respond_doc(req, res, 200, sagas_json(req->arena, &api->app->saga, &page));
}

/* ---- POST /orders/{id}/cancel ---------------------------------------------- */

static oms_err decode_cancel(oms_http_request *req, oms_http_response *res, const char **reason, bool *answered,
                             oms_error *err)
{
    *reason = NULL;
    *answered = false;
    if (req->body_len == 0)
        return OMS_OK; /* a cancel without a body is a cancel without a reason */
    json_t *body = oms_http_json_body(req, res);
    if (!body) {
        *answered = true;
        return OMS_EINVAL;
    }
    if (!json_is_object(body))
        return oms_error_set(err, OMS_EINVAL, NULL, "the body must be a JSON object");
    return oms_json_string(body, "reason", "reason", ORDER_REASON_MAX, false, reason, err);
}

static void cancel_order(void *ctx, oms_http_request *req, oms_http_response *res)
{
    http_api *api = ctx;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    oms_error err;
    oms_error_clear(&err);
    const char *order_id = req->params[0];
    if (!oms_uuid_valid(order_id)) {
        oms_http_respond_error(req, res, 404, "not_found", "order not found", NULL);
        return;
    }
    const char *reason = NULL;
    bool answered = false;
    if (decode_cancel(req, res, &reason, &answered, &err) != OMS_OK) {
        if (!answered)
            oms_http_respond_oms_error(req, res, &err);
        return;
    }
    order o;
    oms_err rc = order_cancel(api->app, req->arena, who, order_id, reason, req->request_id, &o, &err);
    if (rc != OMS_OK)
        oms_http_respond_oms_error(req, res, &err);
    else
        respond_order(req, res, 202, &o);
}

/* ---- POST /sagas/{id}/actions (issue 12 item 2) ------------------------------- */

static oms_err decode_action(const json_t *body, saga_action_request *req, oms_error *err)
{
    if (!json_is_object(body))
        return oms_error_set(err, OMS_EINVAL, NULL, "the body must be a JSON object");
    oms_err rc = oms_json_string(body, "action", "action", 32, true, &req->action, err);
    if (rc == OMS_OK)
        rc = oms_json_string(body, "reason", "reason", ORDER_REASON_MAX, true, &req->reason, err);
    if (rc == OMS_OK)
        rc = oms_json_string(body, "obligation", "obligation", 32, false, &req->obligation, err);
    if (rc == OMS_OK)
        rc = oms_json_string(body, "evidence", "evidence", ORDER_REASON_MAX, false, &req->evidence, err);
    const json_t *extend = json_object_get(body, "extend_s");
    if (rc == OMS_OK && extend && !json_is_null(extend))
        rc = oms_json_integer(body, "extend_s", "extend_s", 1, SAGA_ACTION_EXTEND_MAX_S, &req->extend_s, err);
    return rc;
}

/* 412 when the saga moved on since the If-Match version, 428 without one
 * (RFC 6585), else the usual mapping of the error. */
static void respond_action_error(oms_http_request *req, oms_http_response *res, const oms_error *err)
{
    if (strcmp(err->reason, ORDER_REASON_VERSION_MISMATCH) == 0)
        oms_http_respond_error(req, res, 412, err->reason, err->message, err->field);
    else if (strcmp(err->reason, ORDER_REASON_IF_MATCH_REQUIRED) == 0)
        oms_http_respond_error(req, res, 428, err->reason, err->message, err->field);
    else if (err->code == OMS_ECONFLICT && err->reason[0])
        oms_http_respond_error(req, res, 409, err->reason, err->message, err->field);
    else
        oms_http_respond_oms_error(req, res, err);
}

static void post_saga_action(void *ctx, oms_http_request *req, oms_http_response *res)
{
    http_api *api = ctx;
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    json_t *body = oms_http_json_body(req, res);
    if (!body)
        return;
    oms_error err;
    oms_error_clear(&err);
    saga_action_request action = {.if_match = oms_http_header(req, "If-Match")};
    saga_outcome out;
    if (decode_action(body, &action, &err) != OMS_OK ||
        order_saga_action(api->app, req->arena, who, req->params[0], &action, req->request_id, &out, &err) != OMS_OK) {
        respond_action_error(req, res, &err);
        return;
    }
    saga_history h;
    if (order_query_saga(api->queries, req->arena, who, out.after.order_id, &h, &err) != OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    oms_http_add_header(req, res, "ETag", oms_arena_sprintf(req->arena, "\"%lld\"", (long long)h.saga.version));
    oms_http_respond_doc(req, res, 200, saga_json(req->arena, &api->app->saga, &h.saga, steps_json(&h)));
}

static const oms_http_route routes[] = {
    {"POST", "/orders", post_order, "create_order", NULL},
    {"GET", "/orders", list_orders, "list_orders", NULL},
    {"GET", "/orders/{}", get_order, "get_order", NULL},
    {"POST", "/orders/{}/cancel", cancel_order, "cancel_order", NULL},
    {"GET", "/orders/{}/saga", get_order_saga, "get_order_saga", NULL},
    {"GET", "/orders/{}/events", get_order_events, "get_order_events", NULL},
    {"GET", "/orders/{}/timeline", get_order_timeline, "get_order_timeline", NULL},
    {"GET", "/customers/{}/orders", customer_orders, "customer_orders", NULL},
    {"GET", "/sagas", list_sagas, "list_sagas", NULL},
    {"POST", "/sagas/{}/actions", post_saga_action, "saga_action", NULL},
};

const oms_http_route *http_api_routes(size_t *count)
{
    *count = sizeof routes / sizeof routes[0];
    return routes;
}
