/* http_api.c -- routes -> proxy; outcomes -> HTTP statuses (the one place
 * where they are mapped). */
#include "http_api.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "openapi_document.h"

/* The query parameters of SPEC section 2, passed on when present. */
static const char *const forwarded_query[] = {
    "customer_id", "status", "limit", "cursor", "include_saga_history", "state", "stuck", "order_id",
};

static void add_query(const oms_http_request *req, upstream_request *rq)
{
    size_t n = sizeof forwarded_query / sizeof forwarded_query[0];
    for (size_t i = 0; i < n && rq->query_count < UPSTREAM_MAX_QUERY; i++) {
        const char *value = oms_http_query(req, forwarded_query[i]);
        if (!value)
            continue;
        rq->query[rq->query_count].name = forwarded_query[i];
        rq->query[rq->query_count].value = value;
        rq->query_count++;
    }
}

static void make_upstream_request(oms_http_request *req, upstream_request *rq)
{
    memset(rq, 0, sizeof *rq);
    rq->method = req->method;
    rq->path = req->path;
    rq->body = req->body;
    rq->body_len = req->body_len;
    rq->content_type = oms_http_header(req, "Content-Type");
    rq->idempotency_key = oms_http_header(req, "Idempotency-Key");
    rq->accept = oms_http_header(req, "Accept");
    rq->request_id = req->request_id;
    rq->forwarded_for = req->client_ip;
    add_query(req, rq);
}

static void pass_answer(oms_http_request *req, oms_http_response *res, const upstream_response *out)
{
    const char *type = out->content_type ? out->content_type : "application/json";
    oms_http_respond_text(req, res, out->status, type, out->body, out->body_len);
    if (out->location)
        oms_http_add_header(req, res, "Location", out->location);
    if (out->retry_after)
        oms_http_add_header(req, res, "Retry-After", out->retry_after);
}

static void respond_failure(oms_http_request *req, oms_http_response *res, proxy_outcome o, gateway_service s)
{
    char message[128];
    switch (o) {
    case PROXY_UNAVAILABLE:
        snprintf(message, sizeof message, "%s is unavailable", gateway_service_name(s));
        oms_http_respond_error(req, res, 503, "service_unavailable", message, NULL);
        return;
    case PROXY_TIMEOUT:
        snprintf(message, sizeof message, "%s did not answer in time", gateway_service_name(s));
        oms_http_respond_error(req, res, 504, "upstream_timeout", message, NULL);
        return;
    case PROXY_BAD_GATEWAY:
        snprintf(message, sizeof message, "%s gave an invalid answer", gateway_service_name(s));
        oms_http_respond_error(req, res, 502, "bad_gateway", message, NULL);
        return;
    case PROXY_NO_MEMORY:
    case PROXY_OK:
        break;
    }
    oms_http_respond_error(req, res, 503, "service_unavailable", "the gateway is out of memory", NULL);
}

static void proxy_handler(void *ctx, oms_http_request *req, oms_http_response *res)
{
    gateway_http *g = ctx;
    const gateway_route *route = NULL;
    if (gateway_route_lookup(req->method, req->path, &route) != GATEWAY_ROUTE_FOUND || route->service == GATEWAY_SELF) {
        oms_http_respond_error(req, res, 404, "not_found", "no such route", NULL);
        return;
    }
    upstream_request rq;
    make_upstream_request(req, &rq);
    upstream_response out;
    proxy_outcome o = proxy_forward(g->proxy, route->service, &rq, req->arena, &out);
    if (o == PROXY_OK)
        pass_answer(req, res, &out);
    else
        respond_failure(req, res, o, route->service);
}

static void openapi_handler(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    oms_http_respond_text(req, res, 200, "application/yaml", (const char *)gateway_openapi_yaml,
                          gateway_openapi_yaml_len);
}

static bool ready(void *ctx, char *why, size_t why_len)
{
    gateway_http *g = ctx;
    oms_arena *arena = oms_arena_create(0);
    if (!arena) {
        snprintf(why, why_len, "out of memory");
        return false;
    }
    bool ok = proxy_ready(g->proxy, arena, why, why_len);
    oms_arena_destroy(arena);
    return ok;
}

/* The key from X-API-Key, else from "Authorization: Bearer <key>". */
static const char *presented_key(const oms_http_request *req)
{
    const char *key = oms_http_header(req, "X-API-Key");
    if (key)
        return key;
    const char *auth = oms_http_header(req, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
        return auth + 7;
    return NULL;
}

static bool admit(void *ctx, oms_http_request *req, oms_http_response *res)
{
    gateway_http *g = ctx;
    int64_t retry_after_s = 0;
    admission_verdict v = admission_decide(g->admission, req->path, presented_key(req), req->client_ip, &retry_after_s);
    if (v == ADMIT_OK)
        return true;
    if (v == ADMIT_UNAUTHORIZED) {
        oms_http_respond_error(req, res, 401, "unauthorized", "a valid X-API-Key header is required", NULL);
        oms_http_add_header(req, res, "WWW-Authenticate", "Bearer");
        return false;
    }
    char seconds[24];
    snprintf(seconds, sizeof seconds, "%lld", (long long)retry_after_s);
    oms_http_respond_error(req, res, 429, "rate_limited", "too many requests; retry later", NULL);
    oms_http_add_header(req, res, "Retry-After", seconds);
    return false;
}

void gateway_http_configure(gateway_http *g, proxy *p, admission *a, oms_http_config *cfg)
{
    g->proxy = p;
    g->admission = a;
    g->route_count = 0;
    for (size_t i = 0; i < gateway_route_count && i < sizeof g->routes / sizeof g->routes[0]; i++) {
        const gateway_route *r = &gateway_routes[i];
        g->routes[i] = (oms_http_route){
            .method = r->method,
            .pattern = r->pattern,
            .handler = r->service == GATEWAY_SELF ? openapi_handler : proxy_handler,
            .name = r->name,
        };
        g->route_count++;
    }
    cfg->routes = g->routes;
    cfg->route_count = g->route_count;
    cfg->ctx = g;
    cfg->ready = ready;
    cfg->admit = admit;
}
