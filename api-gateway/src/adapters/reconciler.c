/* reconciler.c -- see reconciler.h. */
#include "reconciler.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../domain/reconcile_rules.h"
#include "oms/json.h"
#include "oms/log.h"
#include "oms/metrics.h"
#include "oms/ticker.h"
#include "oms/util.h"

#define PAGE_LIMIT 500 /* the order-service query's page */
#define MAX_PAGES 100000

struct reconciler {
    proxy *proxy;
    const char *internal_key;
    pthread_mutex_t run_lock; /* one run at a time */
    pthread_mutex_t last_lock;
    json_t *last;
    long runs;
    oms_ticker *ticker;
};

/* One exchange of a run: the facts named `name` of `service` for `body`,
 * as the array of its answer's rows (tied to `a`); NULL with *why set. */
static json_t *ask(reconciler *r, oms_arena *a, gateway_service service, const char *name, json_t *body,
                   const char **why)
{
    char path[96];
    snprintf(path, sizeof path, "/internal/reconciliation/%s", name);
    const char *text = oms_json_dump(a, body, NULL);
    json_decref(body);
    if (!text) {
        *why = "out of memory";
        return NULL;
    }
    upstream_request rq = {.method = "POST",
                           .path = path,
                           .body = text,
                           .body_len = strlen(text),
                           .content_type = "application/json",
                           .internal_key = r->internal_key,
                           .role = "viewer",
                           .subject = "",
                           .principal_id = "reconciliation"};
    upstream_response out;
    proxy_outcome o = proxy_forward(r->proxy, service, &rq, a, &out);
    json_t *doc = NULL;
    oms_error err;
    if (o != PROXY_OK || out.status != 200 || oms_json_parse(a, out.body, out.body_len, &doc, &err) != OMS_OK ||
        !json_is_array(json_object_get(doc, "rows"))) {
        *why = oms_arena_sprintf(a, "%s did not answer %s (%s %d)", gateway_service_name(service), name,
                                 o == PROXY_OK ? "status" : "outcome", o == PROXY_OK ? out.status : (int)o);
        return NULL;
    }
    return json_object_get(doc, "rows");
}

static json_t *ids_body(json_t *ids) { return json_pack("{s:O}", "ids", ids); }

/* rows keyed by their order_id member, for lookups. */
static json_t *by_order(json_t *rows)
{
    json_t *map = json_object();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *id = json_string_value(json_object_get(row, "order_id"));
        if (map && id)
            json_object_set(map, id, row);
    }
    return map;
}

static json_t *violation(const char *invariant, const char *subject, const char *detail, json_t *order_ids,
                         json_t *facts)
{
    return json_pack("{s:s, s:s, s:s, s:O, s:O}", "invariant", invariant, "subject", subject, "detail", detail,
                     "order_ids", order_ids ? order_ids : json_array(), "facts", facts);
}

/* Invariants 1 and 2: every row the service reports is a violation. */
static bool local_violations(reconciler *r, oms_arena *a, gateway_service service, const char *name,
                             const char *invariant, const char *key, json_t *out, const char **why)
{
    json_t *rows = ask(r, a, service, name, json_object(), why);
    if (!rows)
        return false;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *subject = json_string_value(json_object_get(row, key));
        const char *detail = strcmp(invariant, "stock") == 0
                                 ? "stock or reserved differs from its ledger and the RESERVED reservations"
                                 : "balance differs from opening - captured + refunded (or from its ledger)";
        json_array_append_new(
            out, violation(invariant, subject ? subject : "?", detail, json_object_get(row, "order_ids"), row));
    }
    return true;
}

/* What a run found about the settled orders. */
typedef struct findings {
    json_t *violations;
    json_t *explained; /* what a manual resolution explains (issue 12 item 3) */
} findings;

#define RESOLVED_RELEASE (1 << 3) /* sagas.resolved_manually: 1 << the saga's step */
#define RESOLVED_REFUND (1 << 4)

/* The facts of one settled order, from its row and the lookups. */
static const char *judge(json_t *order, json_t *payments, json_t *reservations, const char **explained)
{
    json_int_t resolved = json_integer_value(json_object_get(order, "resolved_manually"));
    const char *id = json_string_value(json_object_get(order, "order_id"));
    json_t *pay = id ? json_object_get(payments, id) : NULL;
    json_t *res = id ? json_object_get(reservations, id) : NULL;
    order_facts f = {.status = json_string_value(json_object_get(order, "status")),
                     .total_cents = json_integer_value(json_object_get(order, "total")),
                     .payment_status = json_string_value(json_object_get(pay, "status")),
                     .payment_cents = json_integer_value(json_object_get(pay, "amount")),
                     .reservation_state = json_string_value(json_object_get(res, "state")),
                     .items_match = json_equal(json_object_get(order, "items"), json_object_get(res, "items")),
                     .release_resolved_manually = (resolved & RESOLVED_RELEASE) != 0,
                     .refund_resolved_manually = (resolved & RESOLVED_REFUND) != 0};
    return reconcile_order_violation(&f, explained);
}

/* An explained adjustment: the order, what explains it, and the manual
 * resolutions of its saga log (what, evidence, who, why). */
static bool add_explained(json_t *out, json_t *order, const char *explained)
{
    const char *id = json_string_value(json_object_get(order, "order_id"));
    json_t *e = json_pack("{s:s, s:s, s:s, s:[s], s:O}", "invariant", "order", "subject", id ? id : "?", "detail",
                          explained, "order_ids", id ? id : "?", "resolutions",
                          json_object_get(order, "manual_resolutions"));
    return e && json_array_append_new(out, e) == 0;
}

/* The order row a suspect was judged on. */
static json_t *suspect_order(json_t *v) { return json_object_get(json_object_get(v, "facts"), "order"); }

/* The suspects of a page that are still as they were when judged: an order
 * that moved meanwhile (a cancel of a confirmed one) is judged next run. */
static bool still_suspect(reconciler *r, oms_arena *a, json_t *suspects, json_t *out, const char **why)
{
    if (json_array_size(suspects) == 0)
        return true;
    json_t *ids = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(suspects, i, v) json_array_append(ids, json_object_get(suspect_order(v), "order_id"));
    json_t *now = ask(r, a, GATEWAY_ORDER_SERVICE, "orders", ids_body(ids), why);
    json_decref(ids);
    if (!now)
        return false;
    json_t *current = oms_json_own(a, by_order(now));
    json_array_foreach(suspects, i, v)
    {
        json_t *then = suspect_order(v);
        json_t *again = json_object_get(current, json_string_value(json_object_get(then, "order_id")));
        if (again && json_equal(json_object_get(again, "status"), json_object_get(then, "status")) &&
            json_equal(json_object_get(again, "modified_at"), json_object_get(then, "modified_at")))
            json_array_append(out, v);
    }
    return true;
}

/* Invariant 3 over one page of settled orders. */
static bool judge_page(reconciler *r, oms_arena *a, json_t *orders, findings *out, const char **why)
{
    json_t *ids = json_array();
    size_t i;
    json_t *order;
    json_array_foreach(orders, i, order) json_array_append(ids, json_object_get(order, "order_id"));
    json_t *pays = ask(r, a, GATEWAY_PAYMENT_SERVICE, "payments", ids_body(ids), why);
    json_t *ress = pays ? ask(r, a, GATEWAY_INVENTORY_SERVICE, "reservations", ids_body(ids), why) : NULL;
    json_decref(ids);
    if (!ress)
        return false;
    json_t *payments = oms_json_own(a, by_order(pays)), *reservations = oms_json_own(a, by_order(ress));
    json_t *suspects = oms_json_own(a, json_array());
    json_array_foreach(orders, i, order)
    {
        const char *explained = NULL;
        const char *why_not = judge(order, payments, reservations, &explained);
        if (explained && !add_explained(out->explained, order, explained)) {
            *why = "out of memory";
            return false;
        }
        if (!why_not)
            continue;
        const char *id = json_string_value(json_object_get(order, "order_id"));
        json_t *facts = json_pack("{s:O, s:O*, s:O*}", "order", order, "payment", json_object_get(payments, id),
                                  "reservation", json_object_get(reservations, id));
        json_t *order_ids = json_pack("[s]", id);
        json_t *v = facts && order_ids ? violation("order", id, why_not, order_ids, facts) : NULL;
        json_decref(order_ids);
        json_decref(facts);
        if (!v || json_array_append_new(suspects, v) != 0) {
            *why = "out of memory";
            return false;
        }
    }
    return still_suspect(r, a, suspects, out->violations, why);
}

static bool check_orders(reconciler *r, oms_arena *a, findings *out, long *checked, const char **why)
{
    const char *after = NULL;
    for (int page = 0; page < MAX_PAGES; page++) {
        json_t *body = after ? json_pack("{s:s}", "after", after) : json_object();
        json_t *orders = ask(r, a, GATEWAY_ORDER_SERVICE, "final_orders", body, why);
        if (!orders || !judge_page(r, a, orders, out, why))
            return false;
        size_t n = json_array_size(orders);
        *checked += (long)n;
        if (n < PAGE_LIMIT)
            return true;
        after = oms_arena_strdup(a, json_string_value(json_object_get(json_array_get(orders, n - 1), "order_id")));
    }
    return true;
}

static void export_metrics(json_t *violations)
{
    static const char *const names[] = {"stock", "balance", "order"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        long n = 0;
        size_t i;
        json_t *v;
        json_array_foreach(violations, i, v)
            n += strcmp(json_string_value(json_object_get(v, "invariant")), names[k]) == 0;
        char labels[64];
        snprintf(labels, sizeof labels, "invariant=\"%s\"", names[k]);
        oms_gauge_set(oms_metrics_gauge("oms_invariant_violations",
                                        "Violations of SPEC 6's invariants found by the last reconciliation run",
                                        labels),
                      (double)n);
    }
}

static json_t *run_once(reconciler *r, oms_arena *a)
{
    char started[32], finished[32];
    oms_time_format(oms_now_ms(), started, sizeof started);
    json_t *violations = json_array();
    findings found = {.violations = violations, .explained = json_array()};
    const char *why = NULL;
    long orders = 0;
    bool ok = local_violations(r, a, GATEWAY_INVENTORY_SERVICE, "products", "stock", "product_id", violations, &why) &&
              local_violations(r, a, GATEWAY_PAYMENT_SERVICE, "accounts", "balance", "customer_id", violations, &why) &&
              check_orders(r, a, &found, &orders, &why);
    oms_time_format(oms_now_ms(), finished, sizeof finished);
    const char *status = !ok ? "failed" : json_array_size(violations) ? "violations" : "consistent";
    if (ok)
        export_metrics(violations);
    json_t *doc = json_pack("{s:I, s:s, s:s, s:s, s:s?, s:{s:I}, s:o, s:o}", "run", (json_int_t)++r->runs, "started_at",
                            started, "finished_at", finished, "status", status, "error", ok ? NULL : why, "checked",
                            "orders", (json_int_t)orders, "violations", violations, "explained", found.explained);
    oms_log_num(ok ? OMS_LOG_INFO : OMS_LOG_WARN, "reconciliation_run", "violations",
                (double)json_array_size(violations), NULL);
    return doc;
}

json_t *reconciler_run(reconciler *r)
{
    oms_arena *a = oms_arena_create(0);
    if (!a)
        return NULL;
    pthread_mutex_lock(&r->run_lock);
    json_t *doc = run_once(r, a);
    if (doc) {
        pthread_mutex_lock(&r->last_lock);
        json_decref(r->last);
        r->last = json_deep_copy(doc);
        pthread_mutex_unlock(&r->last_lock);
    }
    pthread_mutex_unlock(&r->run_lock);
    oms_arena_destroy(a);
    return doc;
}

json_t *reconciler_last(reconciler *r)
{
    pthread_mutex_lock(&r->last_lock);
    json_t *doc = r->last ? json_deep_copy(r->last) : NULL;
    pthread_mutex_unlock(&r->last_lock);
    return doc;
}

static void tick(void *ctx, oms_arena *a)
{
    (void)a;
    json_decref(reconciler_run(ctx));
}

reconciler *reconciler_create(proxy *p, const char *internal_key, int interval_s, oms_error *err)
{
    reconciler *r = calloc(1, sizeof *r);
    if (!r) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    r->proxy = p;
    r->internal_key = internal_key;
    pthread_mutex_init(&r->run_lock, NULL);
    pthread_mutex_init(&r->last_lock, NULL);
    if (interval_s > 0) {
        r->ticker = oms_ticker_start(interval_s * 1000, tick, r, err);
        if (!r->ticker) {
            reconciler_destroy(r);
            return NULL;
        }
    }
    return r;
}

void reconciler_destroy(reconciler *r)
{
    if (!r)
        return;
    oms_ticker_stop(r->ticker);
    json_decref(r->last);
    pthread_mutex_destroy(&r->run_lock);
    pthread_mutex_destroy(&r->last_lock);
    free(r);
}
