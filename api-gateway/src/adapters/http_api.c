/* http_api.c -- requests -> admission, authorization, proxy; outcomes ->
 * HTTP statuses (the one place where they are mapped). */
#include "http_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../domain/request_checks.h"
#include "oms/audit_pg.h"
#include "oms/json.h"
#include "oms/metrics.h"
#include "console_assets.h"
#include "openapi_document.h"
#include "timeline.h"

/* The query parameters of SPEC section 2 and of GET /sagas' filters (issue
 * 12 item 1), passed on when present. */
static const char *const forwarded_query[] = {
    "customer_id",
    "status",
    "limit",
    "cursor",
    "include_saga_history",
    "state",
    "stuck",
    "inconsistent",
    "order_id",
    "step",
    "stuck_reason",
    "older_than",
    "sort",
    "count_only",
    "wait",
    "timeout_s",
    "last_event_id",
    "actor",
    "saga_id",
    "target",
    "since",
    /* dead letters and jobs (issue 12) */
    "topic",
    "event_type",
    "items_after",
};

/* ---- admission ---- */

/* The token of "Authorization: Bearer <token>", or NULL. */
static const char *bearer_token(const oms_http_request *req)
{
    const char *auth = oms_http_header(req, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
        return auth + 7;
    return NULL;
}

static void respond_unauthorized(oms_http_request *req, oms_http_response *res, const char *why)
{
    oms_http_respond_error(req, res, 401, "unauthorized", why, NULL);
    oms_http_add_header(req, res, "WWW-Authenticate", "Bearer");
}

static void respond_rate_limited(oms_http_request *req, oms_http_response *res, int64_t retry_after_s)
{
    char seconds[24];
    snprintf(seconds, sizeof seconds, "%lld", (long long)retry_after_s);
    oms_http_respond_error(req, res, 429, "rate_limited", "too many requests; retry later", NULL);
    oms_http_add_header(req, res, "Retry-After", seconds);
}

static bool admit(void *ctx, oms_http_request *req, oms_http_response *res)
{
    gateway_http *g = ctx;
    admission_result *result = oms_arena_alloc(req->arena, sizeof *result);
    if (!result) {
        oms_http_respond_error(req, res, 503, "service_unavailable", "the gateway is out of memory", NULL);
        return false;
    }
    admission_request rq = {.path = req->path,
                            .api_key = oms_http_header(req, "X-API-Key"),
                            .bearer = bearer_token(req),
                            .client_ip = req->client_ip};
    switch (admission_decide(g->admission, &rq, result)) {
    case ADMIT_OK: break;
    case ADMIT_UNAUTHORIZED: respond_unauthorized(req, res, result->why.message); return false;
    case ADMIT_RATE_LIMITED: respond_rate_limited(req, res, result->retry_after_s); return false;
    case ADMIT_NO_MEMORY:
        oms_http_respond_error(req, res, 503, "service_unavailable", "the gateway is out of memory", NULL);
        return false;
    }
    if (!request_path_is_canonical(req->path)) {
        oms_http_respond_error(req, res, 400, "invalid_path", "the path must not have empty, '.' or '..' segments",
                               NULL);
        return false;
    }
    req->auth = result->authenticated ? &result->who : NULL;
    return true;
}

/* ---- authorization (SPEC 7) ---- */

/* The body's `field` when it is a JSON object holding that string, else
 * NULL (a body the service will refuse itself: it parses the same way). */
static const char *body_string(oms_http_request *req, const char *field)
{
    json_t *doc = NULL;
    oms_error err;
    if (oms_json_parse_request(req->arena, req->body, req->body_len, &doc, &err) != OMS_OK || !json_is_object(doc))
        return NULL;
    const json_t *value = json_object_get(doc, field);
    return json_is_string(value) ? json_string_value(value) : NULL;
}

/* Whether `who` may use `route` on this request; answers 403 or 404 itself
 * when not. A customer reaching for another customer's data by its id in the
 * path gets 404 (nothing to enumerate), the same as an unknown id. */
static bool authorized(oms_http_request *req, oms_http_response *res, const gateway_route *route, const principal *who)
{
    if (!principal_may(who, route->roles)) {
        char message[128];
        snprintf(message, sizeof message, "the %s role may not %s %s", role_name(who->role), route->method,
                 route->pattern);
        oms_http_respond_error(req, res, 403, "forbidden", message, NULL);
        return false;
    }
    if (route->customer_param >= 0 && route->customer_param < req->param_count &&
        principal_is_other_customer(who, req->params[route->customer_param])) {
        oms_http_respond_error(req, res, 404, "not_found", "no such resource", NULL);
        return false;
    }
    const char *claimed = route->customer_field && who->role == ROLE_CUSTOMER ? body_string(req, route->customer_field)
                                                                              : NULL;
    if (claimed && principal_is_other_customer(who, claimed)) {
        oms_http_respond_error(req, res, 403, "forbidden", "a customer may only act for itself", route->customer_field);
        return false;
    }
    return true;
}

/* ---- the upstream request ---- */

static void add_query_param(upstream_request *rq, const char *name, const char *value)
{
    if (rq->query_count == UPSTREAM_MAX_QUERY)
        return;
    rq->query[rq->query_count].name = name;
    rq->query[rq->query_count].value = value;
    rq->query_count++;
}

/* The SPEC's query parameters; for a customer, the route's customer
 * parameter is its own id whatever it sent. */
static void add_query(const oms_http_request *req, const gateway_route *route, const principal *who,
                      upstream_request *rq)
{
    size_t n = sizeof forwarded_query / sizeof forwarded_query[0];
    for (size_t i = 0; i < n; i++) {
        const char *name = forwarded_query[i];
        bool scoped = who->role == ROLE_CUSTOMER && route->customer_query && strcmp(route->customer_query, name) == 0;
        const char *value = scoped ? who->subject : oms_http_query(req, name);
        if (value)
            add_query_param(rq, name, value);
    }
}

/* A client header passed on, or NULL; *ok turns false (and `res` is a 400)
 * when its value could smuggle a second header. */
static const char *passed_header(oms_http_request *req, oms_http_response *res, const char *name, bool *ok)
{
    const char *value = oms_http_header(req, name);
    if (!value || !*ok || request_header_value_is_safe(value))
        return value;
    char message[96];
    snprintf(message, sizeof message, "the %s header has a control character", name);
    oms_http_respond_error(req, res, 400, "invalid_header", message, name);
    *ok = false;
    return NULL;
}

static bool make_upstream_request(gateway_http *g, oms_http_request *req, oms_http_response *res,
                                  const gateway_route *route, const principal *who, upstream_request *rq)
{
    bool ok = true;
    memset(rq, 0, sizeof *rq);
    rq->method = req->method;
    rq->path = req->path;
    rq->body = req->body;
    rq->body_len = req->body_len;
    rq->content_type = passed_header(req, res, "Content-Type", &ok);
    rq->idempotency_key = passed_header(req, res, "Idempotency-Key", &ok);
    rq->if_match = passed_header(req, res, "If-Match", &ok);
    rq->accept = passed_header(req, res, "Accept", &ok);
    rq->last_event_id = passed_header(req, res, "Last-Event-ID", &ok);
    rq->request_id = req->request_id;
    rq->forwarded_for = req->client_ip;
    rq->internal_key = g->internal_key;
    rq->role = role_name(who->role);
    rq->subject = who->subject;
    rq->principal_id = who->id;
    add_query(req, route, who, rq);
    return ok;
}

/* ---- answers ---- */

static void pass_answer(oms_http_request *req, oms_http_response *res, const upstream_response *out)
{
    const char *type = out->content_type ? out->content_type : "application/json";
    oms_http_respond_text(req, res, out->status, type, out->body, out->body_len);
    if (out->location)
        oms_http_add_header(req, res, "Location", out->location);
    if (out->retry_after)
        oms_http_add_header(req, res, "Retry-After", out->retry_after);
    if (out->etag)
        oms_http_add_header(req, res, "ETag", out->etag);
}

/* A timeout or a broken answer comes after the request was sent: a write may
 * have been applied, and only the same Idempotency-Key makes a retry safe. */
static void respond_after_sending(oms_http_request *req, oms_http_response *res, int status, const char *code,
                                  const char *what, gateway_service s)
{
    char message[256];
    bool write = strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0;
    snprintf(message, sizeof message, "%s %s%s", gateway_service_name(s), what,
             write ? "; the request may have been applied: retry it with the same Idempotency-Key" : "");
    oms_http_respond_error(req, res, status, code, message, NULL);
}

static void respond_failure(oms_http_request *req, oms_http_response *res, proxy_outcome o, gateway_service s)
{
    char message[128];
    switch (o) {
    case PROXY_UNAVAILABLE:
        snprintf(message, sizeof message, "%s is unavailable", gateway_service_name(s));
        oms_http_respond_error(req, res, 503, "service_unavailable", message, NULL);
        return;
    case PROXY_TIMEOUT: respond_after_sending(req, res, 504, "upstream_timeout", "did not answer in time", s); return;
    case PROXY_BAD_GATEWAY: respond_after_sending(req, res, 502, "bad_gateway", "gave an invalid answer", s); return;
    case PROXY_NO_MEMORY:
    case PROXY_OK: break;
    }
    oms_http_respond_error(req, res, 503, "service_unavailable", "the gateway is out of memory", NULL);
}

/* ---- waiting requests ---- */

static bool waits(const oms_http_request *req, const gateway_route *route)
{
    return route->waits == ROUTE_WAITS || (route->waits == ROUTE_WAITS_WHEN_ASKED && oms_http_query(req, "wait"));
}

/* Takes one of the waiting places; answers 503 itself when none is free. A
 * waiting request holds its handler thread (the exchange with the service
 * is synchronous): the bound keeps half the threads for everything else. */
static bool take_waiting_place(gateway_http *g, oms_http_request *req, oms_http_response *res)
{
    if (atomic_fetch_add(&g->waiting, 1) < g->max_waiting)
        return true;
    atomic_fetch_sub(&g->waiting, 1);
    oms_counter_add(oms_metrics_counter("gateway_waits_refused_total",
                                        "Long polls and event streams refused: every waiting place was taken", NULL),
                    1);
    oms_http_add_header(req, res, "Retry-After", "1");
    oms_http_respond_error(req, res, 503, "too_many_waiting", "too many requests are waiting; retry", NULL);
    return false;
}

/* ---- handlers ---- */

/* Authorizes and forwards the request to its service; true with `out`
 * filled when the service answered, else the failure is answered. */
static bool forward(gateway_http *g, oms_http_request *req, oms_http_response *res, upstream_response *out)
{
    const gateway_route *route = req->route_data;
    const principal *who = req->auth;
    if (!who) { /* every proxied path needs one: admission made sure */
        respond_unauthorized(req, res, "a credential is required");
        return false;
    }
    if (!authorized(req, res, route, who))
        return false;
    upstream_request rq;
    if (!make_upstream_request(g, req, res, route, who, &rq))
        return false;
    bool waiting = waits(req, route);
    if (waiting && !take_waiting_place(g, req, res))
        return false;
    rq.wait_ms = waiting ? GATEWAY_WAIT_MS : 0;
    proxy_outcome o = proxy_forward(g->proxy, route->service, &rq, req->arena, out);
    if (waiting)
        atomic_fetch_sub(&g->waiting, 1);
    if (o != PROXY_OK)
        respond_failure(req, res, o, route->service);
    return o == PROXY_OK;
}

static void proxy_handler(void *ctx, oms_http_request *req, oms_http_response *res)
{
    upstream_response out;
    if (forward(ctx, req, res, &out))
        pass_answer(req, res, &out);
}

/* GET /orders/{id}/timeline: order-service's timeline (which decided who may
 * see it), with each participant's handling of the order's messages added
 * (timeline.c). */
static void timeline_handler(void *ctx, oms_http_request *req, oms_http_response *res)
{
    gateway_http *g = ctx;
    upstream_response out;
    if (!forward(g, req, res, &out))
        return;
    if (out.status != 200) {
        pass_answer(req, res, &out);
        return;
    }
    json_t *doc = gateway_timeline_complete(g->proxy, g->internal_key, req->request_id, req->arena, &out);
    if (!doc) {
        pass_answer(req, res, &out); /* order-service's part, unchanged */
        return;
    }
    oms_http_respond_doc(req, res, 200, doc);
}

/* The entries of a service's GET /audit answer (a 200 with
 * {"entries": [...]}), tied to the arena; NULL when it is not one. */
static json_t *audit_entries(oms_arena *arena, const upstream_response *out)
{
    json_t *doc = NULL;
    oms_error err;
    if (oms_json_parse(arena, out->body, out->body_len, &doc, &err) != OMS_OK)
        return NULL;
    json_t *entries = json_object_get(doc, "entries");
    return json_is_array(entries) ? entries : NULL;
}

/* The page size a client asked for (the services refuse a bad one first). */
static size_t audit_limit(const oms_http_request *req)
{
    const char *text = oms_http_query(req, "limit");
    long n = text ? strtol(text, NULL, 10) : 0;
    return n >= 1 && n <= OMS_AUDIT_LIMIT_MAX ? (size_t)n : OMS_AUDIT_LIMIT_DEFAULT;
}

/* GET /audit: each service's page of its own rows, merged by time into one
 * page with a cursor (audit_pg.h). A service that cannot answer fails the
 * whole request, naming it: an audit trail with a hole is not shown as whole. */
static void fanout_audit_handler(void *ctx, oms_http_request *req, oms_http_response *res)
{
    gateway_http *g = ctx;
    const gateway_route *route = req->route_data;
    const principal *who = req->auth;
    if (!who) {
        respond_unauthorized(req, res, "a credential is required");
        return;
    }
    upstream_request rq;
    if (!authorized(req, res, route, who) || !make_upstream_request(g, req, res, route, who, &rq))
        return;
    json_t *pages[GATEWAY_SERVICE_COUNT];
    for (int s = 0; s < GATEWAY_SERVICE_COUNT; s++) {
        upstream_response out;
        proxy_outcome o = proxy_forward(g->proxy, (gateway_service)s, &rq, req->arena, &out);
        if (o != PROXY_OK) {
            respond_failure(req, res, o, (gateway_service)s);
            return;
        }
        if (out.status != 200) { /* a 400 for a bad filter, a 403: the same from every service */
            pass_answer(req, res, &out);
            return;
        }
        pages[s] = audit_entries(req->arena, &out);
        if (!pages[s]) {
            respond_failure(req, res, PROXY_BAD_GATEWAY, (gateway_service)s);
            return;
        }
    }
    const char *next = NULL;
    json_t *merged = oms_audit_merge(pages, GATEWAY_SERVICE_COUNT, audit_limit(req), req->arena, &next);
    json_t *doc = merged ? json_pack("{s:o, s:s?}", "entries", merged, "next_cursor", next) : NULL;
    if (!doc) {
        oms_http_respond_error(req, res, 503, "service_unavailable", "the gateway is out of memory", NULL);
        return;
    }
    oms_http_respond_doc(req, res, 200, doc);
}

static void openapi_handler(void *ctx, oms_http_request *req, oms_http_response *res);

/* The gateway's own routes need a principal and the route's role, as the
 * proxied ones; answers 401/403 itself. */
static bool allowed_here(oms_http_request *req, oms_http_response *res)
{
    const principal *who = req->auth;
    if (!who) {
        respond_unauthorized(req, res, "a credential is required");
        return false;
    }
    return authorized(req, res, req->route_data, who);
}

/* POST /reconciliation/run (operator and above): runs the reconciliation
 * now and answers the run; a service that did not answer makes it a 503
 * (the run, marked failed, is still the last one). */
static void run_reconciliation_handler(void *ctx, oms_http_request *req, oms_http_response *res)
{
    gateway_http *g = ctx;
    if (!allowed_here(req, res))
        return;
    json_t *run = reconciler_run(g->reconciler);
    const char *status = json_string_value(json_object_get(run, "status"));
    if (run && status && strcmp(status, "failed") == 0) {
        oms_http_respond_error(req, res, 503, "reconciliation_failed", json_string_value(json_object_get(run, "error")),
                               NULL);
        json_decref(run);
        return;
    }
    oms_http_respond_doc(req, res, 200, run);
}

/* GET /reconciliation (viewer and above): the last run, periodic or asked for. */
static void get_reconciliation_handler(void *ctx, oms_http_request *req, oms_http_response *res)
{
    gateway_http *g = ctx;
    if (!allowed_here(req, res))
        return;
    json_t *run = reconciler_last(g->reconciler);
    if (!run) {
        oms_http_respond_error(req, res, 404, "not_found", "no reconciliation has run yet", NULL);
        return;
    }
    oms_http_respond_doc(req, res, 200, run);
}

static void openapi_handler(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    oms_http_respond_text(req, res, 200, "application/yaml", (const char *)gateway_openapi_yaml,
                          gateway_openapi_yaml_len);
}

/* The console's files: /console is its page, /console/<file> the rest. The
 * page runs no inline script and is never framed, so the policy can forbid
 * both; it calls only this gateway's API. */
static void console_handler(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    const char *name = req->param_count > 0 ? req->params[0] : "index.html";
    const console_asset *asset = console_asset_find(name);
    if (!asset) {
        oms_http_respond_error(req, res, 404, "not_found", "no such console file", NULL);
        return;
    }
    oms_http_respond_text(req, res, 200, asset->content_type, (const char *)asset->data, asset->len);
    oms_http_add_header(req, res, "Content-Security-Policy",
                        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    oms_http_add_header(req, res, "Cache-Control", "no-cache");
}

/* GET /whoami: the principal the credential names, so that a client (the
 * console) shows only what its role may do. */
static void whoami_handler(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    const principal *who = req->auth;
    if (!who) {
        respond_unauthorized(req, res, "a credential is required");
        return;
    }
    json_t *doc = json_pack("{s:s, s:s?}", "role", role_name(who->role), "subject",
                            who->subject[0] ? who->subject : NULL);
    oms_http_respond_doc(req, res, 200, doc);
}

/* The handler of a route the gateway answers itself, by the route's name. */
static oms_http_handler self_handler(const gateway_route *r)
{
    if (strcmp(r->name, "run_reconciliation") == 0)
        return run_reconciliation_handler;
    if (strcmp(r->name, "get_reconciliation") == 0)
        return get_reconciliation_handler;
    if (strcmp(r->name, "whoami") == 0)
        return whoami_handler;
    if (strncmp(r->name, "console", 7) == 0)
        return console_handler;
    return openapi_handler;
}

void gateway_http_configure(gateway_http *g, proxy *p, admission *a, const char *internal_key, int handler_threads,
                            oms_http_config *cfg)
{
    int threads = handler_threads > 0 ? handler_threads : 16; /* 0: the server's default (http.h) */
    g->max_waiting = threads / 2 > 0 ? threads / 2 : 1;
    atomic_store(&g->waiting, 0);
    g->proxy = p;
    g->admission = a;
    g->internal_key = internal_key;
    g->route_count = 0;
    for (size_t i = 0; i < gateway_route_count && i < sizeof g->routes / sizeof g->routes[0]; i++) {
        const gateway_route *r = &gateway_routes[i];
        g->routes[i] = (oms_http_route){
            .method = r->method,
            .pattern = r->pattern,
            .handler = r->service == GATEWAY_SELF                     ? self_handler(r)
                       : r->service == GATEWAY_ALL                    ? fanout_audit_handler
                       : strcmp(r->name, GATEWAY_TIMELINE_ROUTE) == 0 ? timeline_handler
                                                                      : proxy_handler,
            .name = r->name,
            .data = r,
        };
        g->route_count++;
    }
    cfg->routes = g->routes;
    cfg->route_count = g->route_count;
    cfg->ctx = g;
    cfg->ready = NULL; /* ready when it can serve: upstreams answer for their own routes (SPEC 1) */
    cfg->admit = admit;
    cfg->make_request_ids = true;
    /* The console's address as a person types it. */
    static const char *const slash_redirects[] = {"/console/", NULL};
    cfg->slash_redirects = slash_redirects;
}
