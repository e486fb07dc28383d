/* gateway_harness.c -- see gateway_harness.h. */
#include "gateway_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- fake services ---- */

static const char *const echoed_headers[][2] = {
    {"content_type", "Content-Type"}, {"idempotency_key", "Idempotency-Key"}, {"accept", "Accept"},
    {"request_id", "X-Request-Id"},   {"internal_key", "X-OMS-Internal-Key"}, {"role", "X-OMS-Role"},
    {"subject", "X-OMS-Subject"},     {"principal", "X-OMS-Principal"},       {"injected", "X-OMS-Injected"},
};

static void set_if(json_t *doc, const char *key, const char *value)
{
    if (value)
        json_object_set_new(doc, key, json_string(value));
}

static void echo(void *ctx, oms_http_request *req, oms_http_response *res)
{
    fake_service *f = ctx;
    atomic_fetch_add(&f->requests, 1);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s}", "server", f->name, "method", req->method, "path", req->path, "body",
                            req->body);
    set_if(doc, "customer_id", oms_http_query(req, "customer_id"));
    set_if(doc, "limit", oms_http_query(req, "limit"));
    set_if(doc, "unknown_param", oms_http_query(req, "unknown"));
    for (size_t i = 0; i < sizeof echoed_headers / sizeof echoed_headers[0]; i++)
        set_if(doc, echoed_headers[i][0], oms_http_header(req, echoed_headers[i][1]));
    int status = strcmp(req->method, "GET") == 0 ? 200 : 201;
    oms_http_respond_json(req, res, status, doc);
    json_decref(doc);
    if (status == 201)
        oms_http_add_header(req, res, "Location", "/orders/o-1");
}

/* The order "slow" answers late; any other is echoed. */
static void slow(void *ctx, oms_http_request *req, oms_http_response *res)
{
    if (req->param_count < 1 || strcmp(req->params[0], "slow") != 0) {
        echo(ctx, req, res);
        return;
    }
    fake_service *f = ctx;
    atomic_fetch_add(&f->requests, 1);
    usleep(HARNESS_SLOW_MS * 1000);
    oms_http_respond_error(req, res, 200, "late", "too late", NULL);
}

/* GET /audit: two rows of this service's at fixed times (order 10 and 40,
 * inventory 20 and 30, payment 20 and 50 microseconds), each carrying the
 * actor filter it was asked for, so a test sees the merge and the query. */
static void audit(void *ctx, oms_http_request *req, oms_http_response *res)
{
    fake_service *f = ctx;
    atomic_fetch_add(&f->requests, 1);
    json_int_t times[2] = {10, 40};
    if (strcmp(f->name, "inventory") == 0)
        times[0] = 20, times[1] = 30;
    else if (strcmp(f->name, "payment") == 0)
        times[0] = 20, times[1] = 50;
    json_t *entries = json_array();
    for (int i = 0; i < 2; i++) {
        json_t *row = json_pack("{s:I, s:s, s:I, s:s}", "id", (json_int_t)(i + 1), "service", f->name, "at_us",
                                times[i], "action", "thing.do");
        set_if(row, "actor", oms_http_query(req, "actor"));
        json_array_append_new(entries, row);
    }
    oms_http_respond_doc(req, res, 200, json_pack("{s:o}", "entries", entries));
}

static const oms_http_route fake_routes[] = {
    {"GET", "/audit", audit, "audit", NULL},
    {"POST", "/orders", echo, "create", NULL},
    {"GET", "/orders", echo, "list", NULL},
    {"GET", "/orders/{}", echo, "get", NULL},
    {"POST", "/orders/{}/cancel", slow, "slow_cancel", NULL},
    {"GET", "/orders/{}/saga", slow, "slow_saga", NULL},
    {"GET", "/orders/{}/events", echo, "events", NULL},
    {"GET", "/orders/{}/timeline", echo, "timeline", NULL},
    {"GET", "/customers/{}/orders", echo, "customer_orders", NULL},
    {"GET", "/sagas", echo, "sagas", NULL},
    {"POST", "/sagas/{}/actions", echo, "saga_action", NULL},
    {"POST", "/sagas/bulk", echo, "bulk_sagas", NULL},
    {"GET", "/dead-letters", echo, "dead_letters", NULL},
    {"POST", "/dead-letters/redrive", echo, "redrive", NULL},
    {"POST", "/dead-letters/{}/discard", echo, "discard", NULL},
    {"GET", "/jobs", echo, "jobs", NULL},
    {"GET", "/jobs/{}", echo, "job", NULL},
    {"POST", "/jobs/{}/stop", echo, "stop_job", NULL},
    {"POST", "/products", echo, "create_product", NULL},
    {"GET", "/products", echo, "list_products", NULL},
    {"GET", "/products/{}", echo, "get_product", NULL},
    {"PUT", "/products/{}/price", echo, "set_price", NULL},
    {"POST", "/products/{}/stock", echo, "restock", NULL},
    {"GET", "/reservations", echo, "reservations", NULL},
    {"POST", "/accounts", echo, "create_account", NULL},
    {"GET", "/accounts/{}", echo, "get_account", NULL},
    {"GET", "/payments", echo, "payments", NULL},
};

int harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

void fake_start(fake_service *f, const char *name)
{
    f->name = name;
    atomic_init(&f->requests, 0);
    f->port = harness_free_port();
    oms_http_config cfg = {.bind_address = "127.0.0.1",
                           .port = f->port,
                           .limits = {.threads = 4},
                           .routes = fake_routes,
                           .route_count = sizeof fake_routes / sizeof fake_routes[0],
                           .ctx = f};
    oms_error err;
    f->server = oms_http_server_start(&cfg, &err);
    if (!f->server)
        fail_msg("fake %s: %s", name, err.message);
}

void fake_stop(fake_service *f)
{
    oms_http_server_stop(f->server, 3000);
    f->server = NULL;
}

const char *harness_url_of(int port)
{
    static __thread char text[64];
    snprintf(text, sizeof text, "http://127.0.0.1:%d", port);
    return text;
}

/* ---- a client ---- */

static size_t collect(char *data, size_t size, size_t n, void *userdata)
{
    reply *r = userdata;
    size_t bytes = size * n;
    size_t room = sizeof r->body - 1 - r->len;
    size_t take = bytes < room ? bytes : room;
    memcpy(r->body + r->len, data, take);
    r->len += take;
    r->body[r->len] = '\0';
    return bytes;
}

static void copy_header(CURL *h, const char *name, char *out, size_t len)
{
    struct curl_header *hdr = NULL;
    out[0] = '\0';
    if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK)
        snprintf(out, len, "%s", hdr->value);
}

reply *harness_call(CURL *h, int port, const char *method, const char *target, const char *body, va_list headers)
{
    reply *r = calloc(1, sizeof *r);
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, target);
    curl_easy_reset(h);
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    for (const char *hdr = va_arg(headers, const char *); hdr; hdr = va_arg(headers, const char *))
        list = curl_slist_append(list, hdr);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(list);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, target, curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    copy_header(h, "X-Request-Id", r->request_id, sizeof r->request_id);
    copy_header(h, "Location", r->location, sizeof r->location);
    copy_header(h, "Content-Type", r->content_type, sizeof r->content_type);
    copy_header(h, "Retry-After", r->retry_after, sizeof r->retry_after);
    copy_header(h, "Allow", r->allow, sizeof r->allow);
    copy_header(h, "WWW-Authenticate", r->www_authenticate, sizeof r->www_authenticate);
    r->json = json_loads(r->body, 0, NULL);
    return r;
}

void reply_free(reply *r)
{
    json_decref(r->json);
    free(r);
}

const char *reply_field(const reply *r, const char *name)
{
    const json_t *v = json_object_get(r->json, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *reply_error_code(const reply *r)
{
    const json_t *e = json_object_get(r->json, "error");
    const json_t *c = json_object_get(e, "code");
    return json_is_string(c) ? json_string_value(c) : "(no error body)";
}

/* ---- the world of one test ---- */

int world_setup(void **state)
{
    world *w = calloc(1, sizeof *w);
    fake_start(&w->order_a, "order-a");
    fake_start(&w->order_b, "order-b");
    fake_start(&w->inventory, "inventory");
    fake_start(&w->payment, "payment");
    w->dead_port = harness_free_port();
    w->client = curl_easy_init();
    *state = w;
    return 0;
}

int world_teardown(void **state)
{
    world *w = *state;
    gateway_stop(w->gw);
    curl_easy_cleanup(w->client);
    fake_stop(&w->order_a);
    fake_stop(&w->order_b);
    fake_stop(&w->inventory);
    if (w->payment.server)
        fake_stop(&w->payment);
    free(w);
    return 0;
}

void world_settings(world *w, gateway_settings *s, const char *order_urls)
{
    memset(s, 0, sizeof *s);
    w->gw_port = harness_free_port();
    s->port = w->gw_port;
    s->bind_address = "127.0.0.1";
    s->http.threads = 4;
    s->upstream_timeout_ms = 400;
    s->local_run = true;
    oms_error err;
    assert_int_equal(upstream_pool_parse(&s->pools[GATEWAY_ORDER_SERVICE], order_urls, &err), OMS_OK);
    assert_int_equal(upstream_pool_parse(&s->pools[GATEWAY_INVENTORY_SERVICE], harness_url_of(w->inventory.port), &err),
                     OMS_OK);
    assert_int_equal(upstream_pool_parse(&s->pools[GATEWAY_PAYMENT_SERVICE], harness_url_of(w->payment.port), &err),
                     OMS_OK);
}

void world_start(world *w, const gateway_settings *s)
{
    oms_error err;
    w->gw = gateway_start(s, &err);
    if (!w->gw)
        fail_msg("gateway: %s", err.message);
}

reply *call(world *w, const char *method, const char *target, const char *body, ...)
{
    va_list ap;
    va_start(ap, body);
    reply *r = harness_call(w->client, w->gw_port, method, target, body, ap);
    va_end(ap);
    return r;
}

int world_served(world *w)
{
    return atomic_load(&w->order_a.requests) + atomic_load(&w->order_b.requests) + atomic_load(&w->inventory.requests) +
           atomic_load(&w->payment.requests);
}
