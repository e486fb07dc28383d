/* test_gateway_proxy.c -- the gateway in-process against fake services on
 * loopback (lib/oms HTTP servers with canned handlers), driven by libcurl as
 * a client. No database: this runs with the unit tests. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/gateway.h"
#include "oms/http.h"
#include "oms/log.h"

#define SLOW_MS 1500

/* ---- fake services ---- */

typedef struct fake_service {
    const char *name;
    int port;
    atomic_int requests;
    oms_http_server *server;
} fake_service;

/* Echoes what arrived, so a test can check what the gateway passed on. */
static void echo(void *ctx, oms_http_request *req, oms_http_response *res)
{
    fake_service *f = ctx;
    atomic_fetch_add(&f->requests, 1);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}", "server", f->name,
                            "method", req->method, "path", req->path, "body", req->body, "customer_id",
                            oms_http_query(req, "customer_id"), "limit", oms_http_query(req, "limit"),
                            "content_type", oms_http_header(req, "Content-Type"), "idempotency_key",
                            oms_http_header(req, "Idempotency-Key"), "accept", oms_http_header(req, "Accept"),
                            "request_id", oms_http_header(req, "X-Request-Id"), "unknown_param",
                            oms_http_query(req, "unknown"));
    int status = strcmp(req->method, "POST") == 0 ? 201 : 200;
    oms_http_respond_json(req, res, status, doc);
    json_decref(doc);
    if (status == 201)
        oms_http_add_header(req, res, "Location", "/orders/o-1");
}

static void slow(void *ctx, oms_http_request *req, oms_http_response *res)
{
    fake_service *f = ctx;
    atomic_fetch_add(&f->requests, 1);
    usleep(SLOW_MS * 1000);
    oms_http_respond_error(req, res, 200, "late", "too late", NULL);
}

static const oms_http_route fake_routes[] = {
    {"POST", "/orders", echo, "create"},
    {"GET", "/orders", echo, "list"},
    {"GET", "/orders/{}", echo, "get"},
    {"POST", "/orders/{}/cancel", slow, "slow_cancel"},
    {"GET", "/orders/{}/saga", slow, "slow_saga"},
    {"GET", "/products/{}", echo, "get_product"},
    {"GET", "/accounts/{}", echo, "get_account"},
};

/* A port nobody listens on right now (bound then released). */
static int free_port(void)
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

static void fake_start(fake_service *f, const char *name)
{
    f->name = name;
    atomic_init(&f->requests, 0);
    f->port = free_port();
    oms_http_config cfg = {.bind_address = "127.0.0.1",
                           .port = f->port,
                           .threads = 4,
                           .routes = fake_routes,
                           .route_count = sizeof fake_routes / sizeof fake_routes[0],
                           .ctx = f};
    oms_error err;
    f->server = oms_http_server_start(&cfg, &err);
    if (!f->server)
        fail_msg("fake %s: %s", name, err.message);
}

static void fake_stop(fake_service *f)
{
    oms_http_server_stop(f->server, 3000);
    f->server = NULL;
}

/* A listener that answers anything with bytes that are not HTTP. */
typedef struct garbage_server {
    int fd;
    int port;
    pthread_t thread;
} garbage_server;

static void *garbage_loop(void *arg)
{
    garbage_server *g = arg;
    for (;;) {
        int c = accept(g->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[4096];
        ssize_t n = read(c, buf, sizeof buf);
        (void)n;
        static const char junk[] = "this is not HTTP at all\r\n\r\n";
        ssize_t w = write(c, junk, sizeof junk - 1);
        (void)w;
        close(c);
    }
}

static void garbage_start(garbage_server *g)
{
    g->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(g->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(g->fd, (struct sockaddr *)&a, &len);
    g->port = ntohs(a.sin_port);
    assert_int_equal(listen(g->fd, 8), 0);
    pthread_create(&g->thread, NULL, garbage_loop, g);
}

static void garbage_stop(garbage_server *g)
{
    shutdown(g->fd, SHUT_RDWR);
    close(g->fd);
    pthread_join(g->thread, NULL);
}

/* A TCP relay in front of a fake service that counts the connections it
 * accepts: the service-side view of keep-alive. It copies bytes both ways
 * and knows nothing of HTTP. */
typedef struct relay {
    int fd;
    int port;
    int target_port;
    atomic_int accepted;
    pthread_t thread;
} relay;

typedef struct relay_pair {
    int client;
    int target_port;
} relay_pair;

static int connect_loopback(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Copies what is readable on `from` to `to`; false at end of stream. */
static bool pump(int from, int to)
{
    char buf[16384];
    ssize_t n = read(from, buf, sizeof buf);
    if (n <= 0)
        return false;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w <= 0)
            return false;
        off += w;
    }
    return true;
}

static void *relay_connection(void *arg)
{
    relay_pair *pair = arg;
    int up = connect_loopback(pair->target_port);
    struct pollfd fds[2] = {{.fd = pair->client, .events = POLLIN}, {.fd = up, .events = POLLIN}};
    while (up >= 0 && poll(fds, 2, 5000) > 0) {
        if ((fds[0].revents & (POLLIN | POLLHUP)) && !pump(pair->client, up))
            break;
        if ((fds[1].revents & (POLLIN | POLLHUP)) && !pump(up, pair->client))
            break;
    }
    if (up >= 0)
        close(up);
    close(pair->client);
    free(pair);
    return NULL;
}

static void *relay_loop(void *arg)
{
    relay *r = arg;
    for (;;) {
        int c = accept(r->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        atomic_fetch_add(&r->accepted, 1);
        relay_pair *pair = malloc(sizeof *pair);
        pair->client = c;
        pair->target_port = r->target_port;
        pthread_t t;
        pthread_create(&t, NULL, relay_connection, pair);
        pthread_detach(t);
    }
}

static void relay_start(relay *r, int target_port)
{
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(r->fd, (struct sockaddr *)&a, &len);
    r->port = ntohs(a.sin_port);
    r->target_port = target_port;
    atomic_init(&r->accepted, 0);
    assert_int_equal(listen(r->fd, 16), 0);
    pthread_create(&r->thread, NULL, relay_loop, r);
}

/* Stops accepting; connections in flight end when either side closes. */
static void relay_stop(relay *r)
{
    shutdown(r->fd, SHUT_RDWR);
    close(r->fd);
    pthread_join(r->thread, NULL);
}

/* ---- the gateway under test ---- */

typedef struct world {
    fake_service order_a, order_b, inventory, payment;
    int dead_port; /* nobody listens there */
    gateway *gw;
    int gw_port;
    CURL *client;
} world;

static char *url_of(int port)
{
    static __thread char text[64];
    snprintf(text, sizeof text, "http://127.0.0.1:%d", port);
    return text;
}

static void settings_for(world *w, gateway_settings *s, const char *order_urls)
{
    memset(s, 0, sizeof *s);
    w->gw_port = free_port();
    s->port = w->gw_port;
    s->bind_address = "127.0.0.1";
    s->http_threads = 4;
    s->upstream_timeout_ms = 400;
    oms_error err;
    assert_int_equal(upstream_pool_parse(&s->pools[GATEWAY_ORDER_SERVICE], order_urls, &err), OMS_OK);
    assert_int_equal(upstream_pool_parse(&s->pools[GATEWAY_INVENTORY_SERVICE], url_of(w->inventory.port), &err),
                     OMS_OK);
    assert_int_equal(upstream_pool_parse(&s->pools[GATEWAY_PAYMENT_SERVICE], url_of(w->payment.port), &err), OMS_OK);
}

static void gateway_up(world *w, const gateway_settings *s)
{
    oms_error err;
    w->gw = gateway_start(s, &err);
    if (!w->gw)
        fail_msg("gateway: %s", err.message);
}

static int setup(void **state)
{
    world *w = calloc(1, sizeof *w);
    fake_start(&w->order_a, "order-a");
    fake_start(&w->order_b, "order-b");
    fake_start(&w->inventory, "inventory");
    fake_start(&w->payment, "payment");
    w->dead_port = free_port();
    w->client = curl_easy_init();
    *state = w;
    return 0;
}

static int teardown(void **state)
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

/* Starts the gateway with order-service at `order_urls` (a printf format
 * of ports) and default everything else. */
static void start_default(world *w, const char *order_urls)
{
    static gateway_settings s;
    settings_for(w, &s, order_urls);
    gateway_up(w, &s);
}

/* ---- a client ---- */

typedef struct reply {
    long status;
    char body[65536];
    size_t len;
    char request_id[160];
    char location[160];
    char content_type[160];
    char retry_after[32];
    char allow[160];
    json_t *json; /* parsed body, or NULL */
} reply;

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

/* One request to the gateway; `headers` ends with NULL. */
static reply *call(world *w, const char *method, const char *target, const char *body, ...)
{
    reply *r = calloc(1, sizeof *r);
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", w->gw_port, target);
    CURL *h = w->client;
    curl_easy_reset(h);
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    va_list ap;
    va_start(ap, body);
    for (const char *hdr = va_arg(ap, const char *); hdr; hdr = va_arg(ap, const char *))
        list = curl_slist_append(list, hdr);
    va_end(ap);
    curl_easy_setopt(h, CURLOPT_URL, url);
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
    r->json = json_loads(r->body, 0, NULL);
    return r;
}

static void reply_free(reply *r)
{
    json_decref(r->json);
    free(r);
}

static const char *field(const reply *r, const char *name)
{
    const json_t *v = json_object_get(r->json, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *error_code(const reply *r)
{
    const json_t *e = json_object_get(r->json, "error");
    const json_t *c = json_object_get(e, "code");
    return json_is_string(c) ? json_string_value(c) : "(no error body)";
}

/* ---- tests ---- */

/* SPEC 2: method, path, query, body and headers reach the service; its
 * status, body, Content-Type and Location come back. */
static void forwards_the_request_and_returns_the_answer(void **state)
{
    world *w = *state;
    start_default(w, url_of(w->order_a.port));
    reply *r = call(w, "POST", "/orders", "{\"customer_id\":\"c1\"}", "Content-Type: application/json",
                    "Idempotency-Key: idem-42", "Accept: application/json", "X-Request-Id: req-abc.1", NULL);
    assert_int_equal(r->status, 201);
    assert_string_equal(r->location, "/orders/o-1");
    assert_string_equal(r->content_type, "application/json");
    assert_string_equal(field(r, "server"), "order-a");
    assert_string_equal(field(r, "method"), "POST");
    assert_string_equal(field(r, "path"), "/orders");
    assert_string_equal(field(r, "body"), "{\"customer_id\":\"c1\"}");
    assert_string_equal(field(r, "content_type"), "application/json");
    assert_string_equal(field(r, "idempotency_key"), "idem-42");
    assert_string_equal(field(r, "accept"), "application/json");
    assert_string_equal(field(r, "request_id"), "req-abc.1");
    assert_string_equal(r->request_id, "req-abc.1");
    reply_free(r);

    r = call(w, "GET", "/orders?customer_id=c%201%26x&limit=5&unknown=1", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(field(r, "method"), "GET");
    assert_string_equal(field(r, "customer_id"), "c 1&x");
    assert_string_equal(field(r, "limit"), "5");
    reply_free(r);

    r = call(w, "GET", "/products/p%201", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(field(r, "server"), "inventory");
    assert_string_equal(field(r, "path"), "/products/p 1");
    reply_free(r);

    r = call(w, "GET", "/accounts/c1", NULL, NULL);
    assert_string_equal(field(r, "server"), "payment");
    reply_free(r);
}

/* A request without X-Request-Id gets one from the gateway, the same one
 * the service sees and the client is told. */
static void the_gateway_request_id_reaches_the_service(void **state)
{
    world *w = *state;
    start_default(w, url_of(w->order_a.port));
    reply *r = call(w, "GET", "/orders/o-9", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_true(strlen(r->request_id) > 0);
    assert_string_equal(field(r, "request_id"), r->request_id);
    reply_free(r);
}

/* Repeated requests reuse the gateway's TCP connection to the service. */
static void repeated_requests_reuse_the_upstream_connection(void **state)
{
    world *w = *state;
    start_default(w, url_of(w->order_a.port));
    reply *r = call(w, "GET", "/orders/first", NULL, NULL);
    assert_int_equal(r->status, 200);
    reply_free(r);
    unsigned long long after_first = gateway_upstream_connections(w->gw);
    assert_int_equal(after_first, 1);
    for (int i = 0; i < 10; i++) {
        r = call(w, "GET", "/orders/again", NULL, NULL);
        assert_int_equal(r->status, 200);
        reply_free(r);
    }
    assert_int_equal(gateway_upstream_connections(w->gw), after_first);
    assert_int_equal(atomic_load(&w->order_a.requests), 11);
}

/* Seen from the service: the same sequence arrives over one accepted TCP
 * connection. */
static void the_service_accepts_one_connection_for_many_requests(void **state)
{
    world *w = *state;
    relay r;
    relay_start(&r, w->order_a.port);
    start_default(w, url_of(r.port));
    for (int i = 0; i < 10; i++) {
        reply *rep = call(w, "GET", "/orders/again", NULL, NULL);
        assert_int_equal(rep->status, 200);
        reply_free(rep);
    }
    assert_int_equal(atomic_load(&r.accepted), 1);
    gateway_stop(w->gw); /* closes the gateway's side of the relayed connection */
    w->gw = NULL;
    relay_stop(&r);
}

typedef struct load_worker {
    world *w;
    int ok;
} load_worker;

static void *load(void *arg)
{
    load_worker *lw = arg;
    CURL *h = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/orders/x", lw->w->gw_port);
    for (int i = 0; i < 25; i++) {
        reply r = {0};
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
        long status = 0;
        if (curl_easy_perform(h) == CURLE_OK && curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
            status == 200)
            lw->ok++;
    }
    curl_easy_cleanup(h);
    return NULL;
}

/* Concurrent clients: every request answered, spread over both instances,
 * over a bounded number of upstream connections. */
static void concurrent_requests_are_all_answered(void **state)
{
    world *w = *state;
    char urls[128];
    snprintf(urls, sizeof urls, "http://127.0.0.1:%d,http://127.0.0.1:%d", w->order_a.port, w->order_b.port);
    start_default(w, urls);
    enum { WORKERS = 6 };
    pthread_t threads[WORKERS];
    load_worker workers[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        workers[i] = (load_worker){.w = w};
        pthread_create(&threads[i], NULL, load, &workers[i]);
    }
    int ok = 0;
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(threads[i], NULL);
        ok += workers[i].ok;
    }
    assert_int_equal(ok, WORKERS * 25);
    assert_int_equal(atomic_load(&w->order_a.requests), WORKERS * 25 / 2);
    assert_int_equal(atomic_load(&w->order_b.requests), WORKERS * 25 / 2);
    assert_true(gateway_upstream_connections(w->gw) <= 2 * WORKERS);
}

/* Several URLs: requests are spread evenly. */
static void requests_are_balanced_round_robin(void **state)
{
    world *w = *state;
    char urls[128];
    snprintf(urls, sizeof urls, "http://127.0.0.1:%d,http://127.0.0.1:%d", w->order_a.port, w->order_b.port);
    start_default(w, urls);
    for (int i = 0; i < 6; i++)
        reply_free(call(w, "GET", "/orders/x", NULL, NULL));
    assert_int_equal(atomic_load(&w->order_a.requests), 3);
    assert_int_equal(atomic_load(&w->order_b.requests), 3);
}

/* The first URL is down: every request still succeeds through the second,
 * POST included (nothing was sent to the dead one). */
static void fails_over_to_the_next_url_when_one_is_down(void **state)
{
    world *w = *state;
    char urls[128];
    snprintf(urls, sizeof urls, "http://127.0.0.1:%d,http://127.0.0.1:%d", w->dead_port, w->order_b.port);
    start_default(w, urls);
    for (int i = 0; i < 4; i++) {
        reply *r = call(w, i % 2 ? "GET" : "POST", i % 2 ? "/orders/x" : "/orders", i % 2 ? NULL : "{}",
                        "Content-Type: application/json", NULL);
        assert_true(r->status == 200 || r->status == 201);
        assert_string_equal(field(r, "server"), "order-b");
        reply_free(r);
    }
    assert_int_equal(atomic_load(&w->order_b.requests), 4);
}

/* No instance answers: 503 service_unavailable with the SPEC error body. */
static void all_instances_down_is_503(void **state)
{
    world *w = *state;
    char urls[128];
    int other_dead = free_port();
    snprintf(urls, sizeof urls, "http://127.0.0.1:%d,http://127.0.0.1:%d", w->dead_port, other_dead);
    start_default(w, urls);
    for (int i = 0; i < 2; i++) { /* connect failure, then marked down */
        reply *r = call(w, "GET", "/orders/x", NULL, NULL);
        assert_int_equal(r->status, 503);
        assert_string_equal(error_code(r), "service_unavailable");
        reply_free(r);
    }
}

/* A service slower than UPSTREAM_TIMEOUT_MS: 504 upstream_timeout; a POST
 * is not retried on the other instance (it may have been applied). */
static void slow_service_is_504_and_post_is_not_retried(void **state)
{
    world *w = *state;
    char urls[128];
    snprintf(urls, sizeof urls, "http://127.0.0.1:%d,http://127.0.0.1:%d", w->order_a.port, w->order_b.port);
    start_default(w, urls);
    reply *r = call(w, "POST", "/orders/o-1/cancel", "{\"reason\":\"x\"}", "Content-Type: application/json", NULL);
    assert_int_equal(r->status, 504);
    assert_string_equal(error_code(r), "upstream_timeout");
    reply_free(r);
    int total = atomic_load(&w->order_a.requests) + atomic_load(&w->order_b.requests);
    assert_int_equal(total, 1);
}

/* A GET that times out is a read, safe to ask the other instance. */
static void slow_get_is_tried_on_the_other_instance_then_504(void **state)
{
    world *w = *state;
    char urls[128];
    snprintf(urls, sizeof urls, "http://127.0.0.1:%d,http://127.0.0.1:%d", w->order_a.port, w->order_b.port);
    start_default(w, urls);
    reply *r = call(w, "GET", "/orders/o-1/saga", NULL, NULL);
    assert_int_equal(r->status, 504);
    assert_string_equal(error_code(r), "upstream_timeout");
    reply_free(r);
    assert_int_equal(atomic_load(&w->order_a.requests), 1);
    assert_int_equal(atomic_load(&w->order_b.requests), 1);
}

/* Body over 64 KiB: 413; a body that is not JSON: 415; neither reaches a
 * service. */
static void oversized_or_non_json_bodies_are_refused(void **state)
{
    world *w = *state;
    start_default(w, url_of(w->order_a.port));
    size_t big_len = 70 * 1024;
    char *big = malloc(big_len + 1);
    memset(big, ' ', big_len);
    big[0] = '{';
    big[big_len - 1] = '}';
    big[big_len] = '\0';
    reply *r = call(w, "POST", "/orders", big, "Content-Type: application/json", NULL);
    free(big);
    assert_int_equal(r->status, 413);
    reply_free(r);
    r = call(w, "POST", "/orders", "customer_id=c1", "Content-Type: text/plain", NULL);
    assert_int_equal(r->status, 415);
    reply_free(r);
    assert_int_equal(atomic_load(&w->order_a.requests), 0);
}

/* An answer that is not HTTP: 502 bad_gateway. */
static void invalid_answer_is_502(void **state)
{
    world *w = *state;
    garbage_server g;
    garbage_start(&g);
    start_default(w, url_of(g.port));
    reply *r = call(w, "GET", "/orders/x", NULL, NULL);
    assert_int_equal(r->status, 502);
    assert_string_equal(error_code(r), "bad_gateway");
    reply_free(r);
    gateway_stop(w->gw);
    w->gw = NULL;
    garbage_stop(&g);
}

/* API_KEYS set: a request without a valid key is 401; X-API-Key or a Bearer
 * token passes; /health and /openapi.yaml need none. */
static void api_keys_are_required_when_configured(void **state)
{
    world *w = *state;
    static gateway_settings s;
    settings_for(w, &s, url_of(w->order_a.port));
    oms_error err;
    assert_int_equal(api_key_set_parse(&s.api_keys, "k-one,k-two", &err), OMS_OK);
    gateway_up(w, &s);

    reply *r = call(w, "GET", "/orders/x", NULL, NULL);
    assert_int_equal(r->status, 401);
    assert_string_equal(error_code(r), "unauthorized");
    reply_free(r);
    r = call(w, "GET", "/orders/x", NULL, "X-API-Key: k-wrong", NULL);
    assert_int_equal(r->status, 401);
    reply_free(r);
    r = call(w, "GET", "/orders/x", NULL, "X-API-Key: k-two", NULL);
    assert_int_equal(r->status, 200);
    reply_free(r);
    r = call(w, "GET", "/orders/x", NULL, "Authorization: Bearer k-one", NULL);
    assert_int_equal(r->status, 200);
    reply_free(r);
    r = call(w, "GET", "/health", NULL, NULL);
    assert_int_equal(r->status, 200);
    reply_free(r);
    r = call(w, "GET", "/openapi.yaml", NULL, NULL);
    assert_int_equal(r->status, 200);
    reply_free(r);
}

/* RATE_LIMIT_RPS=2: a burst of 2, then 429 rate_limited with Retry-After. */
static void rate_limit_answers_429_with_retry_after(void **state)
{
    world *w = *state;
    static gateway_settings s;
    settings_for(w, &s, url_of(w->order_a.port));
    s.rate_limit_rps = 2;
    gateway_up(w, &s);
    for (int i = 0; i < 2; i++) {
        reply *r = call(w, "GET", "/orders/x", NULL, NULL);
        assert_int_equal(r->status, 200);
        reply_free(r);
    }
    reply *r = call(w, "GET", "/orders/x", NULL, NULL);
    assert_int_equal(r->status, 429);
    assert_string_equal(error_code(r), "rate_limited");
    assert_string_equal(r->retry_after, "1");
    reply_free(r);
    r = call(w, "GET", "/health", NULL, NULL); /* never limited */
    assert_int_equal(r->status, 200);
    reply_free(r);
    usleep(600 * 1000);
    r = call(w, "GET", "/orders/x", NULL, NULL);
    assert_int_equal(r->status, 200);
    reply_free(r);
}

/* Unknown path: 404; known path, wrong method: 405 with Allow; both with the
 * SPEC error body, and nothing reaches a service. */
static void unknown_path_is_404_and_wrong_method_is_405(void **state)
{
    world *w = *state;
    start_default(w, url_of(w->order_a.port));
    reply *r = call(w, "GET", "/nowhere", NULL, NULL);
    assert_int_equal(r->status, 404);
    assert_string_equal(error_code(r), "not_found");
    reply_free(r);
    r = call(w, "DELETE", "/orders/x", NULL, NULL);
    assert_int_equal(r->status, 405);
    assert_string_equal(error_code(r), "method_not_allowed");
    assert_string_equal(r->allow, "GET");
    reply_free(r);
    assert_int_equal(atomic_load(&w->order_a.requests), 0);
}

/* GET /openapi.yaml serves the document embedded at build time. */
static void serves_the_embedded_openapi_document(void **state)
{
    world *w = *state;
    start_default(w, url_of(w->order_a.port));
    reply *r = call(w, "GET", "/openapi.yaml", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->content_type, "yaml"));
    assert_int_equal(strncmp(r->body, "openapi: 3.0.3", 14), 0);
    assert_non_null(strstr(r->body, "/orders/{order_id}/cancel"));
    reply_free(r);
}

/* /ready: 200 while every service has an instance up; 503 naming the one
 * that is down. */
static void ready_names_the_service_that_is_down(void **state)
{
    world *w = *state;
    start_default(w, url_of(w->order_a.port));
    reply *r = call(w, "GET", "/ready", NULL, NULL);
    assert_int_equal(r->status, 200);
    reply_free(r);
    fake_stop(&w->payment);
    r = call(w, "GET", "/ready", NULL, NULL);
    assert_int_equal(r->status, 503);
    assert_non_null(strstr(r->body, "payment-service"));
    assert_null(strstr(r->body, "order-service"));
    reply_free(r);
}

int main(void)
{
    oms_log_init("gateway-test", OMS_LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(forwards_the_request_and_returns_the_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(the_gateway_request_id_reaches_the_service, setup, teardown),
        cmocka_unit_test_setup_teardown(repeated_requests_reuse_the_upstream_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(the_service_accepts_one_connection_for_many_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(requests_are_balanced_round_robin, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_requests_are_all_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(fails_over_to_the_next_url_when_one_is_down, setup, teardown),
        cmocka_unit_test_setup_teardown(all_instances_down_is_503, setup, teardown),
        cmocka_unit_test_setup_teardown(slow_service_is_504_and_post_is_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(slow_get_is_tried_on_the_other_instance_then_504, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_or_non_json_bodies_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_answer_is_502, setup, teardown),
        cmocka_unit_test_setup_teardown(api_keys_are_required_when_configured, setup, teardown),
        cmocka_unit_test_setup_teardown(rate_limit_answers_429_with_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_path_is_404_and_wrong_method_is_405, setup, teardown),
        cmocka_unit_test_setup_teardown(serves_the_embedded_openapi_document, setup, teardown),
        cmocka_unit_test_setup_teardown(ready_names_the_service_that_is_down, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
