/* Unit tests of oms/http.c: a real server on a loopback port, called with libcurl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <pthread.h>
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
    json_t *doc = json_pack("{s:s, s:s?}", "request_id", req->request_id, "client_request_id",
                            req->client_request_id);
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
    oms_http_config cfg = {.bind_address = "127.0.0.1", .port = port, .routes = routes,
                           .route_count = sizeof routes / sizeof routes[0], .ready = ready};
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
    call("GET", "/orders/", NULL, NULL, 0);
    assert_int_equal(r.status, 404);
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
    oms_http_config cfg = {.bind_address = "127.0.0.1", .port = port, .routes = routes,
                           .route_count = sizeof routes / sizeof routes[0], .make_request_ids = true};
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
        /* Last: it stops the server. */
        cmocka_unit_test(stopping_lets_a_request_in_flight_finish_then_refuses_connections),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
