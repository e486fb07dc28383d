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

#include "../../src/adapters/sha256_fingerprint.h"
#include "../../src/gateway.h"
#include "../support/gateway_harness.h"
#include "oms/http.h"
#include "oms/log.h"

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
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
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

/* Starts the gateway with order-service at `order_urls` (a printf format
 * of ports) and default everything else. */
static void start_default(world *w, const char *order_urls)
{
    static gateway_settings s;
    world_settings(w, &s, order_urls);
    world_start(w, &s);
}

/* ---- tests ---- */

/* SPEC 2: method, path, query, body and headers reach the service; its
 * status, body, Content-Type and Location come back. A client's
 * X-Request-Id is not taken (M9): the gateway's own id reaches the service
 * and the client. */
static void forwards_the_request_and_returns_the_answer(void **state)
{
    world *w = *state;
    start_default(w, harness_url_of(w->order_a.port));
    reply *r = call(w, "POST", "/orders", "{\"customer_id\":\"c1\"}", "Content-Type: application/json",
                    "Idempotency-Key: idem-42", "Accept: application/json", "X-Request-Id: req-abc.1", NULL);
    assert_int_equal(r->status, 201);
    assert_string_equal(r->location, "/orders/o-1");
    assert_string_equal(r->content_type, "application/json");
    assert_string_equal(reply_field(r, "server"), "order-a");
    assert_string_equal(reply_field(r, "method"), "POST");
    assert_string_equal(reply_field(r, "path"), "/orders");
    assert_string_equal(reply_field(r, "body"), "{\"customer_id\":\"c1\"}");
    assert_string_equal(reply_field(r, "content_type"), "application/json");
    assert_string_equal(reply_field(r, "idempotency_key"), "idem-42");
    assert_string_equal(reply_field(r, "accept"), "application/json");
    assert_string_not_equal(r->request_id, "req-abc.1");
    assert_string_equal(reply_field(r, "request_id"), r->request_id);
    assert_string_equal(reply_field(r, "role"), "admin"); /* a local run without credentials */
    assert_string_equal(reply_field(r, "principal"), "local");
    assert_null(reply_field(r, "internal_key"));
    reply_free(r);

    r = call(w, "GET", "/orders?customer_id=c%201%26x&limit=5&unknown=1", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(reply_field(r, "method"), "GET");
    assert_string_equal(reply_field(r, "customer_id"), "c 1&x");
    assert_string_equal(reply_field(r, "limit"), "5");
    reply_free(r);

    r = call(w, "GET", "/products/p%201", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(reply_field(r, "server"), "inventory");
    assert_string_equal(reply_field(r, "path"), "/products/p 1");
    reply_free(r);

    r = call(w, "GET", "/accounts/c1", NULL, NULL);
    assert_string_equal(reply_field(r, "server"), "payment");
    reply_free(r);
}

/* GET /audit asks every service with the client's filter and merges their
 * rows by time (then service, then id) into one page of `limit` rows, with
 * the cursor of its last row when more may follow (issue 12 item 7). */
static void audit_merges_every_service_by_time(void **state)
{
    world *w = *state;
    start_default(w, harness_url_of(w->order_a.port));
    reply *r = call(w, "GET", "/audit?actor=key:abc&limit=4", NULL, NULL);
    assert_int_equal(r->status, 200);
    json_t *doc = json_loads(r->body, 0, NULL);
    assert_non_null(doc);
    json_t *entries = json_object_get(doc, "entries");
    assert_int_equal(json_array_size(entries), 4);
    static const char *const services[] = {"order-a", "inventory", "payment", "inventory"};
    static const json_int_t times[] = {10, 20, 20, 30};
    for (size_t i = 0; i < 4; i++) {
        json_t *row = json_array_get(entries, i);
        assert_string_equal(json_string_value(json_object_get(row, "service")), services[i]);
        assert_int_equal(json_integer_value(json_object_get(row, "at_us")), times[i]);
        assert_string_equal(json_string_value(json_object_get(row, "actor")), "key:abc");
    }
    assert_string_equal(json_string_value(json_object_get(doc, "next_cursor")), "30:inventory:2");
    json_decref(doc);
    reply_free(r);

    r = call(w, "GET", "/audit", NULL, NULL); /* all six fit in a default page: no cursor */
    doc = json_loads(r->body, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "entries")), 6);
    assert_true(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    reply_free(r);

    fake_stop(&w->payment); /* a service that cannot answer fails the whole page, named */
    r = call(w, "GET", "/audit", NULL, NULL);
    assert_int_equal(r->status, 503);
    assert_non_null(strstr(r->body, "payment-service"));
    reply_free(r);
}

/* A reconciliation whose services do not answer its questions (these
 * fakes know none) fails as a 503 naming the service, and is still the
 * last run GET /reconciliation shows, marked failed; none before: 404. */
static void a_reconciliation_without_answers_is_503_and_recorded(void **state)
{
    world *w = *state;
    start_default(w, harness_url_of(w->order_a.port));
    reply *r = call(w, "GET", "/reconciliation", NULL, NULL);
    assert_int_equal(r->status, 404);
    reply_free(r);
    r = call(w, "POST", "/reconciliation/run", "{}", "Content-Type: application/json", NULL);
    assert_int_equal(r->status, 503);
    assert_non_null(strstr(r->body, "reconciliation_failed"));
    assert_non_null(strstr(r->body, "inventory-service"));
    reply_free(r);
    r = call(w, "GET", "/reconciliation", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "\"status\":\"failed\""));
    reply_free(r);
}

/* A request without X-Request-Id gets one from the gateway, the same one
 * the service sees and the client is told. */
static void the_gateway_request_id_reaches_the_service(void **state)
{
    world *w = *state;
    start_default(w, harness_url_of(w->order_a.port));
    reply *r = call(w, "GET", "/orders/o-9", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_true(strlen(r->request_id) > 0);
    assert_string_equal(reply_field(r, "request_id"), r->request_id);
    reply_free(r);
}

/* Repeated requests reuse the gateway's TCP connection to the service. */
static void repeated_requests_reuse_the_upstream_connection(void **state)
{
    world *w = *state;
    start_default(w, harness_url_of(w->order_a.port));
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
    start_default(w, harness_url_of(r.port));
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

static size_t discard(char *data, size_t size, size_t n, void *userdata)
{
    (void)data;
    (void)userdata;
    return size * n;
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
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
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
        assert_string_equal(reply_field(r, "server"), "order-b");
        reply_free(r);
    }
    assert_int_equal(atomic_load(&w->order_b.requests), 4);
}

/* No instance answers: 503 service_unavailable with the SPEC error body. */
static void all_instances_down_is_503(void **state)
{
    world *w = *state;
    char urls[128];
    int other_dead = harness_free_port();
    snprintf(urls, sizeof urls, "http://127.0.0.1:%d,http://127.0.0.1:%d", w->dead_port, other_dead);
    start_default(w, urls);
    for (int i = 0; i < 2; i++) { /* connect failure, then marked down */
        reply *r = call(w, "GET", "/orders/x", NULL, NULL);
        assert_int_equal(r->status, 503);
        assert_string_equal(reply_error_code(r), "service_unavailable");
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
    reply *r = call(w, "POST", "/orders/slow/cancel", "{\"reason\":\"x\"}", "Content-Type: application/json", NULL);
    assert_int_equal(r->status, 504);
    assert_string_equal(reply_error_code(r), "upstream_timeout");
    assert_non_null(strstr(r->body, "may have been applied")); /* M2 */
    assert_non_null(strstr(r->body, "same Idempotency-Key"));
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
    reply *r = call(w, "GET", "/orders/slow/saga", NULL, NULL);
    assert_int_equal(r->status, 504);
    assert_string_equal(reply_error_code(r), "upstream_timeout");
    assert_null(strstr(r->body, "Idempotency-Key")); /* a read is safe to repeat */
    reply_free(r);
    assert_int_equal(atomic_load(&w->order_a.requests), 1);
    assert_int_equal(atomic_load(&w->order_b.requests), 1);
}

/* Body over 64 KiB: 413; a body that is not JSON: 415; neither reaches a
 * service. */
static void oversized_or_non_json_bodies_are_refused(void **state)
{
    world *w = *state;
    start_default(w, harness_url_of(w->order_a.port));
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
    start_default(w, harness_url_of(g.port));
    reply *r = call(w, "GET", "/orders/x", NULL, NULL);
    assert_int_equal(r->status, 502);
    assert_string_equal(reply_error_code(r), "bad_gateway");
    reply_free(r);
    gateway_stop(w->gw);
    w->gw = NULL;
    garbage_stop(&g);
}

/* API_KEYS set: a request without a valid key is 401 with
 * WWW-Authenticate; X-API-Key or a Bearer token passes; /health and
 * /openapi.yaml need none. */
static void api_keys_are_required_when_configured(void **state)
{
    world *w = *state;
    static gateway_settings s;
    world_settings(w, &s, harness_url_of(w->order_a.port));
    s.local_run = false;
    oms_error err;
    assert_int_equal(api_key_set_parse(&s.api_keys, "k-one:admin,k-two:viewer", sha256_fingerprint, &err), OMS_OK);
    world_start(w, &s);

    reply *r = call(w, "GET", "/orders/x", NULL, NULL);
    assert_int_equal(r->status, 401);
    assert_string_equal(reply_error_code(r), "unauthorized");
    assert_string_equal(r->www_authenticate, "Bearer");
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
    assert_int_equal(atomic_load(&w->order_a.requests), 2);
}

/* No credential source outside a local run: the gateway does not start. */
static void no_credential_source_outside_a_local_run_does_not_start(void **state)
{
    world *w = *state;
    static gateway_settings s;
    world_settings(w, &s, harness_url_of(w->order_a.port));
    s.local_run = false;
    oms_error err;
    oms_error_clear(&err);
    assert_null(gateway_start(&s, &err));
    assert_int_equal(err.code, OMS_EINVAL);
}

/* RATE_LIMIT_RPS=2: a burst of 2, then 429 rate_limited with Retry-After,
 * the built-ins included (H1: they are served after admission). */
static void rate_limit_answers_429_with_retry_after(void **state)
{
    world *w = *state;
    static gateway_settings s;
    world_settings(w, &s, harness_url_of(w->order_a.port));
    s.rate_limit_rps = 2;
    world_start(w, &s);
    for (int i = 0; i < 2; i++) {
        reply *r = call(w, "GET", "/orders/x", NULL, NULL);
        assert_int_equal(r->status, 200);
        reply_free(r);
    }
    const char *paths[] = {"/orders/x", "/health", "/ready", "/metrics"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        reply *r = call(w, "GET", paths[i], NULL, NULL);
        assert_int_equal(r->status, 429);
        assert_string_equal(reply_error_code(r), "rate_limited");
        assert_string_equal(r->retry_after, "1");
        reply_free(r);
    }
    usleep(600 * 1000);
    reply *r = call(w, "GET", "/orders/x", NULL, NULL);
    assert_int_equal(r->status, 200);
    reply_free(r);
}

/* Unknown path: 404; known path, wrong method: 405 with Allow; both with the
 * SPEC error body, and nothing reaches a service. */
static void unknown_path_is_404_and_wrong_method_is_405(void **state)
{
    world *w = *state;
    start_default(w, harness_url_of(w->order_a.port));
    reply *r = call(w, "GET", "/nowhere", NULL, NULL);
    assert_int_equal(r->status, 404);
    assert_string_equal(reply_error_code(r), "not_found");
    reply_free(r);
    r = call(w, "DELETE", "/orders/x", NULL, NULL);
    assert_int_equal(r->status, 405);
    assert_string_equal(reply_error_code(r), "method_not_allowed");
    assert_string_equal(r->allow, "GET");
    reply_free(r);
    assert_int_equal(atomic_load(&w->order_a.requests), 0);
}

/* GET /openapi.yaml serves the document embedded at build time. */
static void serves_the_embedded_openapi_document(void **state)
{
    world *w = *state;
    start_default(w, harness_url_of(w->order_a.port));
    reply *r = call(w, "GET", "/openapi.yaml", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->content_type, "yaml"));
    assert_int_equal(strncmp(r->body, "openapi: 3.0.3", 14), 0);
    assert_non_null(strstr(r->body, "/orders/{order_id}/cancel"));
    reply_free(r);
}

/* GET /whoami with `credential` answers 200 with both JSON members. */
static void expect_whoami(world *w, const char *credential, const char *role, const char *subject)
{
    reply *r = call(w, "GET", "/whoami", NULL, credential, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, role));
    assert_non_null(strstr(r->body, subject));
    reply_free(r);
}

/* The console: its files are built in and need no credential (their API
 * calls do), an unknown file is 404, and GET /whoami names the principal
 * (the console shows buttons by its role). */
static void serves_the_console_and_whoami(void **state)
{
    world *w = *state;
    static gateway_settings s;
    world_settings(w, &s, harness_url_of(w->order_a.port));
    s.local_run = false;
    oms_error err;
    assert_int_equal(
        api_key_set_parse(&s.api_keys, "k-one:admin,k-two:viewer,k-three:customer:c-7", sha256_fingerprint, &err),
        OMS_OK);
    world_start(w, &s);

    reply *r = call(w, "GET", "/console", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->content_type, "text/html"));
    assert_non_null(strstr(r->body, "/console/console.js"));
    reply_free(r);
    const char *files[][2] = {{"/console/console.js", "text/javascript"},
                              {"/console/console.css", "text/css"},
                              {"/console/index.html", "text/html"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        r = call(w, "GET", files[i][0], NULL, NULL);
        assert_int_equal(r->status, 200);
        assert_non_null(strstr(r->content_type, files[i][1]));
        reply_free(r);
    }
    r = call(w, "GET", "/console/secret.js", NULL, NULL);
    assert_int_equal(r->status, 404);
    assert_string_equal(reply_error_code(r), "not_found");
    reply_free(r);

    r = call(w, "GET", "/whoami", NULL, NULL);
    assert_int_equal(r->status, 401);
    reply_free(r);
    expect_whoami(w, "X-API-Key: k-two", "\"role\":\"viewer\"", "\"subject\":null");
    expect_whoami(w, "X-API-Key: k-three", "\"role\":\"customer\"", "\"subject\":\"c-7\"");
    assert_int_equal(atomic_load(&w->order_a.requests), 0);
}

/* M4: /ready is "the gateway can serve": 200 with payment-service down,
 * while the routes of payment-service answer 503 and the others still work. */
static void ready_stays_200_while_a_service_is_down(void **state)
{
    world *w = *state;
    start_default(w, harness_url_of(w->order_a.port));
    fake_stop(&w->payment);
    reply *r = call(w, "GET", "/ready", NULL, NULL);
    assert_int_equal(r->status, 200);
    reply_free(r);
    r = call(w, "GET", "/accounts/c1", NULL, NULL);
    assert_int_equal(r->status, 503);
    assert_string_equal(reply_error_code(r), "service_unavailable");
    reply_free(r);
    r = call(w, "GET", "/orders/o-1", NULL, NULL);
    assert_int_equal(r->status, 200);
    reply_free(r);
}

/* M5: a path with an empty, "." or ".." segment (sent as it is, or
 * percent-encoded) is refused with 400 before any route or service sees it. */
static void dot_and_empty_segments_are_refused(void **state)
{
    world *w = *state;
    start_default(w, harness_url_of(w->order_a.port));
    const char *targets[] = {
        "/customers/../orders", "/customers/%2e%2e/orders", "/orders/./x", "/orders//saga", "/orders/x/", "//orders"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        reply *r = call(w, "GET", targets[i], NULL, NULL);
        if (r->status != 400)
            fail_msg("%s: %ld %s", targets[i], r->status, r->body);
        assert_string_equal(reply_error_code(r), "invalid_path");
        reply_free(r);
    }
    assert_int_equal(atomic_load(&w->order_a.requests), 0);
}

/* L12: a header value with a bare CR is refused (400), never forwarded. */
static void header_values_with_a_carriage_return_are_refused(void **state)
{
    world *w = *state;
    start_default(w, harness_url_of(w->order_a.port));
    reply *r = call(w, "GET", "/orders/x", NULL, "Accept: application/json\rX-Injected: yes", NULL);
    assert_int_equal(r->status, 400);
    assert_string_equal(reply_error_code(r), "invalid_header");
    reply_free(r);
    assert_int_equal(atomic_load(&w->order_a.requests), 0);
}

int main(void)
{
    oms_log_init("gateway-test", OMS_LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(forwards_the_request_and_returns_the_answer, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(audit_merges_every_service_by_time, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(a_reconciliation_without_answers_is_503_and_recorded, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(the_gateway_request_id_reaches_the_service, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(repeated_requests_reuse_the_upstream_connection, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(the_service_accepts_one_connection_for_many_requests, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(requests_are_balanced_round_robin, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(concurrent_requests_are_all_answered, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(fails_over_to_the_next_url_when_one_is_down, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(all_instances_down_is_503, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(slow_service_is_504_and_post_is_not_retried, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(slow_get_is_tried_on_the_other_instance_then_504, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(oversized_or_non_json_bodies_are_refused, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(invalid_answer_is_502, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(api_keys_are_required_when_configured, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(no_credential_source_outside_a_local_run_does_not_start, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(rate_limit_answers_429_with_retry_after, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(unknown_path_is_404_and_wrong_method_is_405, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(serves_the_embedded_openapi_document, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(serves_the_console_and_whoami, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(ready_stays_200_while_a_service_is_down, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(dot_and_empty_segments_are_refused, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(header_values_with_a_carriage_return_are_refused, world_setup, world_teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
