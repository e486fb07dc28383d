/* Unit tests of oms/http.c: a real server on a loopback port, called with libcurl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "oms/http.h"
#include "oms/json.h"

static oms_http_server *server;
static int port;
static bool ready_answer = true;

typedef struct reply {
    long status;
    char body[200000];
    size_t body_len;
    char headers[8192];
    size_t headers_len;
} reply;

static reply r;
static const char *extra_header; /* one more request header, when set */

static void get_order(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    json_t *doc = json_pack("{s:s, s:o}", "id", req->params[0], "total", oms_json_money_value(1025));
    oms_http_respond_json(req, res, 200, doc);
    json_decref(doc);
}

static void cancel_order(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    json_t *body = oms_http_json_body(req, res);
    if (!body)
        return;
    char text[64];
    snprintf(text, sizeof text, "{\"body_len\":%zu}", req->body_len);
    oms_http_add_header(req, res, "Location", "/orders/x");
    oms_http_respond_text(req, res, 202, "application/json", text, strlen(text));
}

static void upload(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    char text[64];
    snprintf(text, sizeof text, "{\"body_len\":%zu}", req->body_len);
    oms_http_respond_text(req, res, 200, "application/json", text, strlen(text));
}

static void fail_validation(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    oms_error err;
    oms_error_set(&err, OMS_EINVAL, "items[0].quantity", "must be at least %d", 1);
    oms_http_respond_oms_error(req, res, &err);
}

static void slow(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    usleep(600 * 1000);
    oms_http_respond_text(req, res, 200, "application/json", "{\"slow\":true}", 13);
}

static void whoami(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    json_t *doc = json_pack("{s:s, s:s?}", "request_id", req->request_id, "client_request_id", req->client_request_id);
    oms_http_respond_json(req, res, 200, doc);
    json_decref(doc);
}

static bool ready(void *ctx, char *why, size_t why_len)
{
    (void)ctx;
    if (!ready_answer)
        snprintf(why, why_len, "database: connection refused");
    return ready_answer;
}

static const oms_http_route routes[] = {
    {"GET", "/orders/{}", get_order, "get_order", NULL},
    {"POST", "/orders/{}/cancel", cancel_order, "cancel_order", NULL},
    {"POST", "/upload", upload, "upload", NULL},
    {"POST", "/invalid", fail_validation, "invalid", NULL},
    {"GET", "/slow", slow, "slow", NULL},
    {"GET", "/whoami", whoami, "whoami", NULL},
};

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&addr, sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    return ntohs(addr.sin_port);
}

static int start_server(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    port = free_port();
    static const char *const slash_redirects[] = {"/whoami/", NULL};
    oms_http_config cfg = {.bind_address = "127.0.0.1",
                           .port = port,
                           .routes = routes,
                           .route_count = sizeof routes / sizeof routes[0],
                           .ready = ready,
                           .slash_redirects = slash_redirects};
    oms_error err;
    server = oms_http_server_start(&cfg, &err);
    return server ? 0 : -1;
}

static int stop_server(void **state)
{
    (void)state;
    oms_http_server_stop(server, 1000);
    curl_global_cleanup();
    return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    (void)user;
    size_t len = size * n;
    if (r.body_len + len < sizeof r.body) {
        memcpy(r.body + r.body_len, data, len);
        r.body_len += len;
        r.body[r.body_len] = '\0';
    }
    return len;
}

static size_t discard(char *data, size_t size, size_t n, void *user)
{
    (void)data;
    (void)user;
    return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    (void)user;
    size_t len = size * n;
    if (r.headers_len + len < sizeof r.headers) {
        memcpy(r.headers + r.headers_len, data, len);
        r.headers_len += len;
        r.headers[r.headers_len] = '\0';
    }
    return len;
}

/* Performs one request on `curl` (NULL: a fresh handle); fills r. */
static void call_on(CURL *curl, const char *method, const char *path, const char *content_type, const char *body,
                    size_t body_len, const char *request_id)
{
    bool own = curl == NULL;
    if (own)
        curl = curl_easy_init();
    memset(&r, 0, sizeof r);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L); /* "/a/../b" goes out as it is */
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    struct curl_slist *headers = NULL;
    char line[256];
    if (content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", content_type);
        headers = curl_slist_append(headers, line);
    }
    if (extra_header)
        headers = curl_slist_append(headers, extra_header);
    if (request_id) {
        snprintf(line, sizeof line, "X-Request-Id: %s", request_id);
        headers = curl_slist_append(headers, line);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
    } else {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(curl);
    assert_int_equal(rc, CURLE_OK);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(headers);
    if (own)
        curl_easy_cleanup(curl);
}

static void call(const char *method, const char *path, const char *content_type, const char *body, size_t len)
{
    call_on(NULL, method, path, content_type, body, len, NULL);
}

static void health_answers_ok(void **state)
{
    (void)state;
    call("GET", "/health", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
}

static void ready_answers_503_with_the_reason_when_a_dependency_is_down(void **state)
{
    (void)state;
    call("GET", "/ready", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ready\"}");
    ready_answer = false;
    call("GET", "/ready", NULL, NULL, 0);
    ready_answer = true;
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "{\"status\":\"unavailable\",\"reason\":\"database: connection refused\"}");
}

static void a_route_captures_its_parameter_and_writes_exact_money(void **state)
{
    (void)state;
    call("GET", "/orders/abc-123", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"id\":\"abc-123\",\"total\":10.25}");
    assert_non_null(strcasestr(r.headers, "Content-Type: application/json"));
}

static void an_unknown_path_is_404_with_the_error_body(void **state)
{
    (void)state;
    call("GET", "/nothing/here", NULL, NULL, 0);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such resource\",\"field\":null}}");
}

/* A path that decodes to bytes that are not UTF-8 can never name anything,
 * and must not reach a handler that would echo it into an error body. */
static void a_path_that_is_not_utf8_is_400(void **state)
{
    (void)state;
    call("GET", "/orders/%ff%fe", NULL, NULL, 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"invalid_path\""));
}

static void a_known_path_with_another_method_is_405_with_allow(void **state)
{
    (void)state;
    call("DELETE", "/orders/abc", NULL, NULL, 0);
    assert_int_equal(r.status, 405);
    assert_non_null(strcasestr(r.headers, "Allow: GET"));
    assert_non_null(strstr(r.body, "\"code\":\"method_not_allowed\""));
}

static void a_body_over_64_kib_is_413_and_exactly_64_kib_is_accepted(void **state)
{
    (void)state;
    size_t n = OMS_HTTP_MAX_BODY + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    call("POST", "/upload", "application/json", big, n);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "\"code\":\"payload_too_large\""));
    call("POST", "/upload", "application/json", big, n - 1);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"body_len\":65536}");
    free(big);
}

static void a_chunked_body_growing_over_64_kib_is_413(void **state)
{
    (void)state;
    extra_header = "Transfer-Encoding: chunked";
    size_t n = OMS_HTTP_MAX_BODY + 100;
    char *big = malloc(n);
    memset(big, ' ', n);
    call("POST", "/upload", "application/json", big, n);
    assert_int_equal(r.status, 413);
    call("POST", "/upload", "application/json", big, 1000);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"body_len\":1000}");
    extra_header = NULL;
    free(big);
}

static void a_body_that_is_not_json_is_415(void **state)
{
    (void)state;
    call("POST", "/orders/a/cancel", "text/plain", "hello", 5);
    assert_int_equal(r.status, 415);
    call("POST", "/orders/a/cancel", "application/json; charset=utf-8", "{\"reason\":\"x\"}", 14);
    assert_int_equal(r.status, 202);
    assert_non_null(strcasestr(r.headers, "Location: /orders/x"));
}

static void bad_json_is_400_invalid_json(void **state)
{
    (void)state;
    call("POST", "/orders/a/cancel", "application/json", "{nope", 5);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"code\":\"invalid_json\""));
}

static void an_oms_error_maps_to_its_status_and_names_the_field(void **state)
{
    (void)state;
    call("POST", "/invalid", NULL, NULL, 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"error\":{\"code\":\"invalid_argument\",\"message\":\"must be at least 1\","
                                "\"field\":\"items[0].quantity\"}}");
}

static void the_request_id_is_echoed_or_made(void **state)
{
    (void)state;
    call_on(NULL, "GET", "/health", NULL, NULL, 0, "abc.DEF_123-x");
    assert_non_null(strcasestr(r.headers, "X-Request-Id: abc.DEF_123-x\r\n"));
    call_on(NULL, "GET", "/health", NULL, NULL, 0, "bad id!");
    char *made = strcasestr(r.headers, "X-Request-Id: ");
    assert_non_null(made);
    assert_null(strstr(made, "bad id"));
    assert_int_equal(strcspn(made + 14, "\r\n"), 36);
}

/* A public listener (the gateway) makes every request id itself and keeps
 * the client's apart (review M9). */
static void a_listener_making_request_ids_keeps_the_clients_apart(void **state)
{
    (void)state;
    int main_port = port;
    port = free_port();
    oms_http_config cfg = {.bind_address = "127.0.0.1",
                           .port = port,
                           .routes = routes,
                           .route_count = sizeof routes / sizeof routes[0],
                           .make_request_ids = true};
    oms_error err;
    oms_http_server *own = oms_http_server_start(&cfg, &err);
    assert_non_null(own);
    call_on(NULL, "GET", "/whoami", NULL, NULL, 0, "forged-id-123");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"client_request_id\":\"forged-id-123\""));
    assert_null(strstr(r.body, "\"request_id\":\"forged-id-123\""));
    assert_null(strcasestr(r.headers, "X-Request-Id: forged-id-123"));
    call_on(NULL, "GET", "/whoami", NULL, NULL, 0, NULL);
    assert_non_null(strstr(r.body, "\"client_request_id\":null"));
    oms_http_server_stop(own, 1000);
    port = main_port;
}

static void one_connection_serves_several_requests(void **state)
{
    (void)state;
    CURL *curl = curl_easy_init();
    call_on(curl, "GET", "/health", NULL, NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    call_on(curl, "GET", "/orders/k", NULL, NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    long new_connections = -1;
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &new_connections);
    assert_int_equal(new_connections, 0);
    call_on(curl, "POST", "/upload", "application/json", "{}", 2, NULL);
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &new_connections);
    assert_int_equal(new_connections, 0);
    curl_easy_cleanup(curl);
}

static void metrics_count_requests_per_route_and_status(void **state)
{
    (void)state;
    call("GET", "/orders/m", NULL, NULL, 0);
    call("GET", "/metrics", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strcasestr(r.headers, "Content-Type: text/plain; version=0.0.4"));
    assert_non_null(strstr(r.body, "http_requests_total{route=\"get_order\",method=\"GET\",status=\"200\"}"));
    assert_non_null(strstr(r.body, "http_request_duration_seconds_bucket{route=\"get_order\",le=\"+Inf\"}"));
}

#define CLIENTS 16
#define CALLS_PER_CLIENT 25

static void *hammer(void *arg)
{
    long ok = 0;
    (void)arg;
    CURL *curl = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/orders/concurrent", port);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    for (int i = 0; i < CALLS_PER_CLIENT; i++) {
        long status = 0;
        if (curl_easy_perform(curl) == CURLE_OK) {
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
            ok += status == 200;
        }
    }
    curl_easy_cleanup(curl);
    return (void *)ok;
}

static void many_concurrent_clients_are_all_answered(void **state)
{
    (void)state;
    pthread_t t[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        pthread_create(&t[i], NULL, hammer, NULL);
    long total = 0;
    for (int i = 0; i < CLIENTS; i++) {
        void *ok = NULL;
        pthread_join(t[i], &ok);
        total += (long)ok;
    }
    assert_int_equal(total, CLIENTS * CALLS_PER_CLIENT);
}

static void a_port_in_use_fails_to_start_with_unavailable(void **state)
{
    (void)state;
    oms_http_config cfg = {.bind_address = "127.0.0.1", .port = port, .routes = routes, .route_count = 1};
    oms_error err;
    oms_error_clear(&err);
    assert_null(oms_http_server_start(&cfg, &err));
    assert_int_equal(err.code, OMS_EUNAVAILABLE);
    cfg.bind_address = "not-an-address";
    assert_null(oms_http_server_start(&cfg, &err));
    assert_int_equal(err.code, OMS_EINVAL);
}

static void *call_slow(void *arg)
{
    (void)arg;
    call("GET", "/slow", NULL, NULL, 0);
    return NULL;
}

static void a_blocking_handler_does_not_stall_other_requests(void **state)
{
    (void)state;
    pthread_t t;
    pthread_create(&t, NULL, call_slow, NULL);
    usleep(100 * 1000);
    CURL *curl = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/health", port);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    double seconds = 10;
    assert_int_equal(curl_easy_perform(curl), CURLE_OK);
    curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &seconds);
    curl_easy_cleanup(curl);
    assert_true(seconds < 0.3);
    pthread_join(t, NULL);
    assert_int_equal(r.status, 200);
}

/* ---- the server model: bounded handler threads, parking, limits ---- */

static _Atomic int handlers_now, handlers_most;

static void counted(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    int now = atomic_fetch_add(&handlers_now, 1) + 1;
    int most = atomic_load(&handlers_most);
    while (now > most && !atomic_compare_exchange_weak(&handlers_most, &most, now))
        ;
    usleep(100 * 1000);
    atomic_fetch_sub(&handlers_now, 1);
    oms_http_respond_text(req, res, 200, "application/json", "{}", 2);
}

typedef struct parked_slot {
    pthread_mutex_t lock;
    oms_http_request *req; /* NULL once finished */
    oms_http_response *res;
    int delay_ms;
} parked_slot;

static parked_slot slot = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0};

static void finish_slot(int status)
{
    pthread_mutex_lock(&slot.lock);
    oms_http_request *req = slot.req;
    slot.req = NULL;
    if (req) {
        oms_http_respond_text(req, slot.res, status, "application/json", "{\"parked\":true}", 15);
        oms_http_finish(req);
    }
    pthread_mutex_unlock(&slot.lock);
}

static void *finish_later(void *arg)
{
    (void)arg;
    usleep((useconds_t)slot.delay_ms * 1000);
    finish_slot(200);
    return NULL;
}

static void slot_stopped(void *ctx, oms_http_request *req)
{
    (void)ctx;
    pthread_mutex_lock(&slot.lock);
    bool mine = slot.req == req;
    pthread_mutex_unlock(&slot.lock);
    if (mine)
        finish_slot(503);
}

static void park_it(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    pthread_mutex_lock(&slot.lock);
    slot.req = req;
    slot.res = res;
    pthread_mutex_unlock(&slot.lock);
    oms_http_park(req, slot_stopped, NULL);
    if (slot.delay_ms > 0) {
        pthread_t t;
        pthread_create(&t, NULL, finish_later, NULL);
        pthread_detach(t);
    }
}

static const oms_http_route model_routes[] = {
    {"GET", "/counted", counted, "counted", NULL},
    {"GET", "/park", park_it, "park", NULL},
    {"GET", "/whoami", whoami, "whoami", NULL},
};

static oms_http_server *start_model(int threads, int per_ip, int header_timeout_s)
{
    port = free_port();
    oms_http_config cfg = {
        .bind_address = "127.0.0.1",
        .port = port,
        .routes = model_routes,
        .route_count = sizeof model_routes / sizeof model_routes[0],
        .limits = {.threads = threads, .per_ip_connections = per_ip, .header_timeout_s = header_timeout_s}};
    oms_error err;
    oms_http_server *s = oms_http_server_start(&cfg, &err);
    assert_non_null(s);
    return s;
}

static void *call_counted(void *arg)
{
    (void)arg;
    CURL *curl = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/counted", port);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    long status = 0;
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    return (void *)status;
}

/* However many clients, no more handlers run at once than HTTP_THREADS. */
static void handlers_run_on_a_bounded_set_of_threads(void **state)
{
    (void)state;
    int main_port = port;
    oms_http_server *s = start_model(2, 0, 0);
    atomic_store(&handlers_most, 0);
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, call_counted, NULL);
    for (int i = 0; i < 8; i++) {
        void *status = NULL;
        pthread_join(t[i], &status);
        assert_int_equal((long)status, 200);
    }
    assert_int_equal(atomic_load(&handlers_most), 2);
    oms_http_server_stop(s, 1000);
    port = main_port;
}

static void *call_park(void *arg)
{
    (void)arg;
    call("GET", "/park", NULL, NULL, 0);
    return NULL;
}

/* A parked request holds no thread: with one handler thread, other requests
 * are answered while it waits, and it is answered when finished. */
static void a_parked_request_frees_its_thread_and_is_answered_when_finished(void **state)
{
    (void)state;
    int main_port = port;
    oms_http_server *s = start_model(1, 0, 0);
    slot.delay_ms = 700;
    pthread_t t;
    pthread_create(&t, NULL, call_park, NULL);
    usleep(200 * 1000);
    reply parked_reply;
    for (int i = 0; i < 3; i++) {
        CURL *curl = curl_easy_init();
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/whoami", port);
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
        assert_int_equal(curl_easy_perform(curl), CURLE_OK);
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(curl);
        assert_int_equal(status, 200);
        pthread_mutex_lock(&slot.lock);
        assert_non_null(slot.req); /* still parked while the others were answered */
        pthread_mutex_unlock(&slot.lock);
    }
    pthread_join(t, NULL);
    parked_reply = r;
    assert_int_equal(parked_reply.status, 200);
    assert_string_equal(parked_reply.body, "{\"parked\":true}");
    oms_http_server_stop(s, 1000);
    port = main_port;
}

/* At stop, a parked request is handed to its owner's on_stop, which answers. */
static void stopping_asks_parked_requests_to_finish(void **state)
{
    (void)state;
    int main_port = port;
    oms_http_server *s = start_model(1, 0, 0);
    slot.delay_ms = 0; /* only on_stop finishes it */
    pthread_t t;
    pthread_create(&t, NULL, call_park, NULL);
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&slot.lock);
        bool parked = slot.req != NULL;
        pthread_mutex_unlock(&slot.lock);
        if (parked)
            break;
        usleep(20 * 1000);
    }
    oms_http_server_stop(s, 1000);
    pthread_join(t, NULL);
    assert_int_equal(r.status, 503);
    port = main_port;
}

static int connect_from(const char *source)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in from = {.sin_family = AF_INET};
    inet_pton(AF_INET, source, &from.sin_addr);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (bind(fd, (struct sockaddr *)&from, sizeof from) != 0 || connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* 0: the server closed it; 1: still open (nothing to read yet). */
static int open_after(int fd, int wait_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, wait_ms) == 0)
        return 1;
    char c;
    return recv(fd, &c, 1, MSG_DONTWAIT) > 0;
}

static void one_address_gets_at_most_its_cap(void **state)
{
    (void)state;
    int main_port = port;
    oms_http_server *s = start_model(1, 3, 0);
    int fds[5], open_count = 0;
    for (int i = 0; i < 5; i++) {
        fds[i] = connect_from("127.0.0.9");
        assert_true(fds[i] >= 0);
        ssize_t sent = send(fds[i], "GET /whoami HTTP/1.1\r\n", 22, 0);
        assert_int_equal(sent, 22);
    }
    for (int i = 0; i < 5; i++)
        open_count += open_after(fds[i], 300);
    assert_int_equal(open_count, 3);
    call("GET", "/whoami", NULL, NULL, 0); /* from 127.0.0.1: served */
    assert_int_equal(r.status, 200);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    oms_http_server_stop(s, 1000);
    port = main_port;
}

/* libmicrohttpd alone would keep a connection that sends a byte now and then
 * for ever; the header deadline closes it. */
static void a_head_that_never_ends_is_closed_at_the_header_deadline(void **state)
{
    (void)state;
    int main_port = port;
    oms_http_server *s = start_model(1, 0, 1);
    int fd = connect_from("127.0.0.10");
    assert_true(fd >= 0);
    int open_rounds = 0;
    for (int i = 0; i < 40; i++) {
        if (send(fd, "X", 1, MSG_NOSIGNAL) != 1 || !open_after(fd, 100))
            break;
        open_rounds++;
    }
    close(fd);
    assert_true(open_rounds >= 5); /* not closed at once */
    assert_true(open_rounds < 35); /* closed near the 1 s deadline (+1 s sweep), not left open for 4 s */
    oms_http_server_stop(s, 1000);
    port = main_port;
}

static void requests_with_bad_header_values_or_dot_segments_are_400(void **state)
{
    (void)state;
    extra_header = "X-Thing: a\rb";
    call("GET", "/whoami", NULL, NULL, 0);
    extra_header = NULL;
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "invalid_header"));
    const char *paths[] = {"/orders/../x", "/orders/%2E%2e", "/orders/./x", "/orders//x", "/orders/", "//health"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        call("GET", paths[i], NULL, NULL, 0);
        assert_int_equal(r.status, 400);
        assert_non_null(strstr(r.body, "invalid_path"));
    }
}

/* Only the paths the config names; any other trailing '/' stays a 400. */
static void a_named_trailing_slash_is_redirected_once(void **state)
{
    (void)state;
    call("GET", "/whoami/", NULL, NULL, 0);
    assert_int_equal(r.status, 308);
    assert_non_null(strcasestr(r.headers, "Location: /whoami\r\n"));
    call("GET", "/orders/abc/", NULL, NULL, 0);
    assert_int_equal(r.status, 400);
}

static void answers_carry_the_security_headers(void **state)
{
    (void)state;
    call("GET", "/orders/abc", NULL, NULL, 0);
    assert_non_null(strcasestr(r.headers, "X-Content-Type-Options: nosniff"));
    assert_non_null(strcasestr(r.headers, "X-Frame-Options: DENY"));
    assert_non_null(strcasestr(r.headers, "Referrer-Policy: no-referrer"));
    assert_non_null(strcasestr(r.headers, "Cache-Control: no-store"));
    assert_non_null(strcasestr(r.headers, "Content-Security-Policy: default-src 'none'"));
    assert_null(strcasestr(r.headers, "Strict-Transport-Security"));
}

static void stopping_lets_a_request_in_flight_finish_then_refuses_connections(void **state)
{
    (void)state;
    pthread_t t;
    pthread_create(&t, NULL, call_slow, NULL);
    usleep(150 * 1000);
    oms_http_server_stop(server, 3000);
    server = NULL;
    pthread_join(t, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"slow\":true}");
    CURL *curl = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/health", port);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    assert_int_equal(curl_easy_perform(curl), CURLE_COULDNT_CONNECT);
    curl_easy_cleanup(curl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(health_answers_ok),
        cmocka_unit_test(ready_answers_503_with_the_reason_when_a_dependency_is_down),
        cmocka_unit_test(a_route_captures_its_parameter_and_writes_exact_money),
        cmocka_unit_test(an_unknown_path_is_404_with_the_error_body),
        cmocka_unit_test(a_path_that_is_not_utf8_is_400),
        cmocka_unit_test(a_known_path_with_another_method_is_405_with_allow),
        cmocka_unit_test(a_body_over_64_kib_is_413_and_exactly_64_kib_is_accepted),
        cmocka_unit_test(a_chunked_body_growing_over_64_kib_is_413),
        cmocka_unit_test(a_body_that_is_not_json_is_415),
        cmocka_unit_test(bad_json_is_400_invalid_json),
        cmocka_unit_test(an_oms_error_maps_to_its_status_and_names_the_field),
        cmocka_unit_test(the_request_id_is_echoed_or_made),
        cmocka_unit_test(a_listener_making_request_ids_keeps_the_clients_apart),
        cmocka_unit_test(one_connection_serves_several_requests),
        cmocka_unit_test(metrics_count_requests_per_route_and_status),
        cmocka_unit_test(a_blocking_handler_does_not_stall_other_requests),
        cmocka_unit_test(a_port_in_use_fails_to_start_with_unavailable),
        cmocka_unit_test(many_concurrent_clients_are_all_answered),
        cmocka_unit_test(requests_with_bad_header_values_or_dot_segments_are_400),
        cmocka_unit_test(a_named_trailing_slash_is_redirected_once),
        cmocka_unit_test(answers_carry_the_security_headers),
        cmocka_unit_test(handlers_run_on_a_bounded_set_of_threads),
        cmocka_unit_test(a_parked_request_frees_its_thread_and_is_answered_when_finished),
        cmocka_unit_test(stopping_asks_parked_requests_to_finish),
        cmocka_unit_test(one_address_gets_at_most_its_cap),
        cmocka_unit_test(a_head_that_never_ends_is_closed_at_the_header_deadline),
        /* Last: it stops the server. */
        cmocka_unit_test(stopping_lets_a_request_in_flight_finish_then_refuses_connections),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
