/* http_api.c -- routes -> payment commands and queries. Money goes out as
 * exact decimals (oms_json_money_value + oms_json_dump). */
#include "adapters/http_api.h"
#include "application/payment_app.h"
#include "oms/json.h"
#include "oms/service_auth.h"
#include "oms/util.h"

static json_t *account_json(const account *acct)
{
    return json_pack("{s:s, s:o}", "customer_id", acct->customer_id, "balance",
                     oms_json_money_value(acct->balance_cents));
}

static void open_account(void *ctx, oms_http_request *req, oms_http_response *res)
{
    json_t *body = oms_http_json_body(req, res);
    if (!body)
        return;
    if (!json_is_object(body)) {
        oms_http_respond_error(req, res, 400, "invalid_argument", "the body must be a JSON object", NULL);
        return;
    }
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    oms_error err;
    oms_error_clear(&err);
    account acct = {0};
    if (oms_json_string(body, "customer_id", "customer_id", PAYMENT_CUSTOMER_ID_MAX, true, &acct.customer_id, &err) !=
            OMS_OK ||
        oms_json_money(body, "balance", "balance", 0, PAYMENT_BALANCE_MAX_CENTS, &acct.balance_cents, &err) != OMS_OK ||
        payment_open_account(ctx, req->arena, who, &acct, &err) != OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    const char *location = oms_arena_sprintf(req->arena, "/accounts/%s", acct.customer_id);
    if (location)
        oms_http_add_header(req, res, "Location", location);
    oms_http_respond_doc(req, res, 201, account_json(&acct));
}

static void get_account(void *ctx, oms_http_request *req, oms_http_response *res)
{
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    oms_error err;
    oms_error_clear(&err);
    account acct;
    const char *customer_id = req->param_count > 0 ? req->params[0] : NULL;
    if (payment_get_account(ctx, req->arena, who, customer_id, &acct, &err) != OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    oms_http_respond_doc(req, res, 200, account_json(&acct));
}

static json_t *payment_json(const payment *p)
{
    json_t *doc = json_pack("{s:s, s:s, s:s, s:o, s:s}", "payment_id", p->payment_id, "order_id", p->order_id,
                            "customer_id", p->customer_id, "amount", oms_json_money_value(p->amount_cents), "status",
                            payment_status_name(p->status));
    if (doc && p->reason && json_object_set_new(doc, "reason", json_string(p->reason)) != 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static void get_payment(void *ctx, oms_http_request *req, oms_http_response *res)
{
    const oms_principal *who = oms_request_principal(req, res);
    const char *order_id = who ? oms_http_query_uuid(req, res, "order_id") : NULL;
    if (!order_id)
        return;
    oms_error err;
    oms_error_clear(&err);
    payment p;
    if (payment_get_payment(ctx, req->arena, who, order_id, &p, &err) != OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    oms_http_respond_doc(req, res, 200, payment_json(&p));
}

const oms_http_route payment_http_routes[] = {
    {"POST", "/accounts", open_account, "open_account", NULL},
    {"GET", "/accounts/{}", get_account, "get_account", NULL},
    {"GET", "/payments", get_payment, "get_payment", NULL},
};
const size_t payment_http_route_count = sizeof payment_http_routes / sizeof payment_http_routes[0];
