/* test_service.c -- oms_service_main against a real PostgreSQL (POSTGRES_*;
 * databases TEST_DB, default "it_oms_service", and <TEST_DB>_bus): each case
 * runs a service in a child process, talks to it over HTTP, stops it with
 * SIGTERM and reads back which hooks ran, in which order, and its exit
 * status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "oms/config.h"
#include "oms/service.h"
#include "oms/service_auth.h"

static char work_dir[] = "/tmp/oms_service_test_XXXXXX";
static char events_path[300], log_path[300], err_path[300];
static int port;

/* ---- the service under test (runs in the child) ---- */

typedef struct test_service {
    bool fail_start;       /* hook start fails */
    bool unreachable_pool; /* wire adds a pool nobody listens for */
    oms_pg_settings dead_db;
} test_service;

static void record(const char *event)
{
    FILE *f = fopen(events_path, "a");
    if (f) {
        fprintf(f, "%s ", event);
        fclose(f);
    }
}

static void hello(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    oms_http_respond_text(req, res, 200, "text/plain", "hello", 5);
}

/* The principal the request speaks for: "role subject id" ("-": none). */
static void whoami(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    const oms_principal *p = oms_request_principal(req, res);
    if (!p)
        return;
    const char *text = oms_arena_sprintf(req->arena, "%s %s %s", oms_role_name(p->role), p->subject ? p->subject : "-",
                                         p->id);
    oms_http_respond_text(req, res, 200, "text/plain", text, strlen(text));
}

static const oms_http_route routes[] = {
    {"GET", "/hello", hello, "hello", NULL},
    {"GET", "/whoami", whoami, "whoami", NULL},
};

static void add_settings(void *ctx, oms_settings *t)
{
    (void)ctx;
    (void)t;
    record("add_settings");
}

static oms_err wire(void *ctx, oms_service *svc, oms_error *err)
{
    test_service *t = ctx;
    record("wire");
    if (!oms_service_pool(svc))
        return oms_error_set(err, OMS_EINTERNAL, NULL, "no write pool");
    t->dead_db = oms_service_settings_of(svc)->db;
    t->dead_db.port = "1";
    if (t->unreachable_pool && !oms_service_add_pool(svc, "dead", &t->dead_db, "read database", err))
        return err->code;
    return OMS_OK;
}

static oms_err subscribe(void *ctx, oms_bus *bus, oms_error *err)
{
    (void)ctx;
    (void)bus;
    (void)err;
    record("subscribe");
    return OMS_OK;
}

static oms_err start(void *ctx, oms_error *err)
{
    test_service *t = ctx;
    record("start");
    return t->fail_start ? oms_error_set(err, OMS_EUNAVAILABLE, NULL, "scanner refused") : OMS_OK;
}

static void stop(void *ctx)
{
    (void)ctx;
    record("stop");
}

/* Runs the service in a child with stdout/stderr in files; returns its pid. */
static pid_t spawn(test_service t)
{
    remove(events_path);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid > 0)
        return pid;
    if (!freopen(log_path, "w", stdout) || !freopen(err_path, "w", stderr))
        _exit(99);
    const oms_service_def def = {.name = "test-service",
                                 .port = 8000,
                                 .database = "unused",
                                 .routes = routes,
                                 .route_count = 2,
                                 .ctx = &t,
                                 .add_settings = add_settings,
                                 .wire = wire,
                                 .subscribe = subscribe,
                                 .start = start,
                                 .stop = stop};
    char *argv[] = {"test-service", NULL};
    exit(oms_service_main(&def, 1, argv));
}

static int wait_exit(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* ---- HTTP ---- */

typedef struct body {
    char text[512];
    size_t len;
} body;

static size_t collect(char *data, size_t size, size_t n, void *p)
{
    body *b = p;
    size_t room = sizeof b->text - 1 - b->len, take = size * n < room ? size * n : room;
    memcpy(b->text + b->len, data, take);
    b->len += take;
    b->text[b->len] = '\0';
    return size * n;
}

#define KEY_CURRENT "internal-key-current-0123456789"
#define KEY_NEXT "internal-key-next-0123456789ab"

/* The headers the gateway sends with each request, as the default. */
static const char *const as_gateway[] = {"X-OMS-Internal-Key: " KEY_CURRENT, "X-OMS-Role: admin",
                                         "X-OMS-Principal: key:0123456789abcdef", NULL};

/* GET path with `headers` (NULL-terminated) on `host`; the status (0 when
 * nothing answers), the body in `b`. */
static long get_at(const char *host, int at_port, const char *path, const char *const *headers, body *b)
{
    char url[160];
    snprintf(url, sizeof url, "http://%s:%d%s", host, at_port, path);
    *b = (body){0};
    CURL *c = curl_easy_init();
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(list);
    return status;
}

static long get_from(const char *host, const char *path, const char *const *headers, body *b)
{
    return get_at(host, port, path, headers, b);
}

static long get_with(const char *path, const char *const *headers, body *b)
{
    return get_from("127.0.0.1", path, headers, b);
}

static long get(const char *path, body *b) { return get_with(path, as_gateway, b); }

static void wait_until_serving(void)
{
    body b;
    for (int i = 0; i < 300 && get("/health", &b) != 200; i++)
        usleep(100 * 1000);
    assert_int_equal(get("/health", &b), 200);
}

static char *read_file(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f) {
        buf[fread(buf, 1, len - 1, f)] = '\0';
        fclose(f);
    }
    return buf;
}

/* ---- tests ---- */

/* A service serves its routes, /health and /ready under its SERVICE_NAME;
 * SIGTERM stops it cleanly (exit 0) after every hook ran once, in order. */
static void runs_until_sigterm_and_stops_in_reverse(void **state)
{
    (void)state;
    setenv("SERVICE_NAME", "renamed-service", 1);
    pid_t pid = spawn((test_service){0});
    wait_until_serving();
    body b;
    assert_int_equal(get("/hello", &b), 200);
    assert_string_equal(b.text, "hello");
    assert_int_equal(get("/ready", &b), 200);
    kill(pid, SIGTERM);
    assert_int_equal(wait_exit(pid), 0);
    unsetenv("SERVICE_NAME");
    char text[8192];
    assert_string_equal(read_file(events_path, text, sizeof text), "add_settings wire subscribe start stop ");
    const char *stopped = "\"service\":\"renamed-service\",\"event\":\"stopped\"";
    assert_non_null(strstr(read_file(log_path, text, sizeof text), stopped));
}

/* /ready answers 503 naming the pool that cannot be reached, but not where
 * it is (review L11: no host or port in a public answer). */
static void ready_names_the_pool_that_is_down(void **state)
{
    (void)state;
    pid_t pid = spawn((test_service){.unreachable_pool = true});
    wait_until_serving();
    body b;
    assert_int_equal(get("/ready", &b), 503);
    assert_string_equal(b.text, "{\"status\":\"unavailable\",\"reason\":\"read database unavailable\"}");
    kill(pid, SIGTERM);
    assert_int_equal(wait_exit(pid), 0);
}

/* A step that fails stops what started (not the step itself) and exits 1
 * with one line on stderr naming the step. */
static void failed_start_exits_1_naming_the_step(void **state)
{
    (void)state;
    pid_t pid = spawn((test_service){.fail_start = true});
    assert_int_equal(wait_exit(pid), 1);
    char text[8192];
    assert_string_equal(read_file(events_path, text, sizeof text), "add_settings wire subscribe start ");
    assert_string_equal(read_file(err_path, text, sizeof text),
                        "test-service: cannot start (start): scanner refused\n");
}

/* Without the internal credential only /health, /ready and /metrics
 * answer; either of the two INTERNAL_API_KEYS (a rotation) lets a request
 * through. */
static void only_the_gateway_reaches_a_route_and_the_built_ins_stay_open(void **state)
{
    (void)state;
    pid_t pid = spawn((test_service){0});
    wait_until_serving();
    body b;
    assert_int_equal(get_with("/hello", NULL, &b), 401);
    assert_non_null(strstr(b.text, "\"code\":\"unauthorized\""));
    const char *const wrong[] = {"X-OMS-Internal-Key: internal-key-current-012345678X", "X-OMS-Role: admin",
                                 "X-OMS-Principal: local", NULL};
    assert_int_equal(get_with("/hello", wrong, &b), 401);
    const char *const prefix[] = {"X-OMS-Internal-Key: internal-key-current", "X-OMS-Role: admin",
                                  "X-OMS-Principal: local", NULL};
    assert_int_equal(get_with("/hello", prefix, &b), 401);
    assert_int_equal(get_with("/no-such-path", NULL, &b), 401);
    assert_int_equal(get("/hello", &b), 200);
    const char *const next[] = {"X-OMS-Internal-Key: " KEY_NEXT, "X-OMS-Role: viewer", "X-OMS-Principal: local", NULL};
    assert_int_equal(get_with("/hello", next, &b), 200);
    assert_int_equal(get_with("/health", NULL, &b), 200);
    assert_int_equal(get_with("/ready", NULL, &b), 200);
    assert_int_equal(get_with("/metrics", NULL, &b), 200);
    kill(pid, SIGTERM);
    assert_int_equal(wait_exit(pid), 0);
}

/* METRICS_PORT (review H3): a second listener with /health, /ready and
 * /metrics only, open without the credential, so that a network policy can
 * let the monitoring namespaces scrape without reaching the API. */
static void the_metrics_port_serves_the_built_ins_only(void **state)
{
    (void)state;
    char value[16];
    snprintf(value, sizeof value, "%d", port + 1);
    setenv("METRICS_PORT", value, 1);
    pid_t pid = spawn((test_service){0});
    wait_until_serving();
    body b;
    for (int i = 0; i < 100 && get_at("127.0.0.1", port + 1, "/health", NULL, &b) != 200; i++)
        usleep(50 * 1000);
    assert_int_equal(get_at("127.0.0.1", port + 1, "/health", NULL, &b), 200);
    assert_int_equal(get_at("127.0.0.1", port + 1, "/ready", NULL, &b), 200);
    assert_int_equal(get_at("127.0.0.1", port + 1, "/metrics", NULL, &b), 200);
    /* no route there, with or without the gateway's credential */
    assert_int_equal(get_at("127.0.0.1", port + 1, "/hello", as_gateway, &b), 404);
    assert_int_equal(get_at("127.0.0.1", port + 1, "/hello", NULL, &b), 404);
    /* the API port is unchanged */
    assert_int_equal(get_with("/hello", NULL, &b), 401);
    assert_int_equal(get("/hello", &b), 200);
    kill(pid, SIGTERM);
    assert_int_equal(wait_exit(pid), 0);
    unsetenv("METRICS_PORT");
}

/* The request's principal is the one of the gateway's headers; headers
 * that do not make one are refused. */
static void the_principal_of_the_headers_reaches_the_handler(void **state)
{
    (void)state;
    pid_t pid = spawn((test_service){0});
    wait_until_serving();
    body b;
    const char *const customer[] = {"X-OMS-Internal-Key: " KEY_CURRENT, "X-OMS-Role: customer",
                                    "X-OMS-Subject: customer-1", "X-OMS-Principal: key:00112233aabbccdd", NULL};
    assert_int_equal(get_with("/whoami", customer, &b), 200);
    assert_string_equal(b.text, "customer customer-1 key:00112233aabbccdd");
    const char *const no_subject[] = {"X-OMS-Internal-Key: " KEY_CURRENT, "X-OMS-Role: customer",
                                      "X-OMS-Principal: key:00112233aabbccdd", NULL};
    assert_int_equal(get_with("/whoami", no_subject, &b), 401);
    const char *const unknown_role[] = {"X-OMS-Internal-Key: " KEY_CURRENT, "X-OMS-Role: root",
                                        "X-OMS-Principal: local", NULL};
    assert_int_equal(get_with("/whoami", unknown_role, &b), 401);
    const char *const no_role[] = {"X-OMS-Internal-Key: " KEY_CURRENT, NULL};
    assert_int_equal(get_with("/whoami", no_role, &b), 401);
    kill(pid, SIGTERM);
    assert_int_equal(wait_exit(pid), 0);
}

/* Outside a local run a service does not start without the credential it
 * must ask for: one line naming INTERNAL_API_KEYS, exit 2. */
static void outside_a_local_run_no_internal_keys_stops_the_start(void **state)
{
    (void)state;
    unsetenv("INTERNAL_API_KEYS");
    pid_t pid = spawn((test_service){0});
    int code = wait_exit(pid);
    setenv("INTERNAL_API_KEYS", KEY_CURRENT "," KEY_NEXT, 1);
    assert_int_equal(code, 2);
    char text[8192];
    assert_non_null(strstr(read_file(err_path, text, sizeof text), "config: INTERNAL_API_KEYS: must be set"));
}

/* An IPv4 address of this machine that is not loopback, or false. */
static bool non_loopback_ipv4(char *out, size_t len)
{
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0)
        return false;
    bool found = false;
    for (struct ifaddrs *i = list; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK))
            continue;
        found = inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out, (socklen_t)len) != NULL;
    }
    freeifaddrs(list);
    return found;
}

/* A local run without keys: nothing is asked, a request speaks for the
 * local admin, and the service listens on 127.0.0.1 only. */
static void a_local_run_listens_on_loopback_and_serves_the_local_admin(void **state)
{
    (void)state;
    unsetenv("INTERNAL_API_KEYS");
    setenv("OMS_LOCAL_RUN", "1", 1);
    pid_t pid = spawn((test_service){0});
    wait_until_serving();
    body b;
    assert_int_equal(get_with("/whoami", NULL, &b), 200);
    assert_string_equal(b.text, "admin - local");
    char address[INET_ADDRSTRLEN];
    if (non_loopback_ipv4(address, sizeof address))
        assert_int_equal(get_from(address, "/health", NULL, &b), 0);
    kill(pid, SIGTERM);
    int code = wait_exit(pid);
    unsetenv("OMS_LOCAL_RUN");
    setenv("INTERNAL_API_KEYS", KEY_CURRENT "," KEY_NEXT, 1);
    assert_int_equal(code, 0);
    char text[8192];
    assert_non_null(strstr(read_file(log_path, text, sizeof text), "no_internal_credential"));
}

static int setup_all(void **state)
{
    (void)state;
    if (!mkdtemp(work_dir))
        return -1;
    snprintf(events_path, sizeof events_path, "%s/events", work_dir);
    snprintf(log_path, sizeof log_path, "%s/log", work_dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", work_dir);
    static char db[64], bus_db[80], port_text[16];
    snprintf(db, sizeof db, "%s", oms_config_str("TEST_DB", "it_oms_service"));
    snprintf(bus_db, sizeof bus_db, "%s_bus", db);
    port = 20000 + (int)(getpid() % 20000);
    snprintf(port_text, sizeof port_text, "%d", port);
    setenv("POSTGRES_DB", db, 1);
    setenv("BUS_POSTGRES_DB", bus_db, 1);
    setenv("MESSAGE_BUS", "pg", 1);
    setenv("PORT", port_text, 1);
    setenv("MIGRATIONS_DIR", work_dir, 1); /* no *.sql of its own: only the outbox/inbox tables */
    setenv("HTTP_THREADS", "2", 1);
    setenv("DB_POOL_SIZE", "2", 1);
    setenv("INTERNAL_API_KEYS", KEY_CURRENT "," KEY_NEXT, 1);
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int teardown_all(void **state)
{
    (void)state;
    remove(events_path);
    remove(log_path);
    remove(err_path);
    rmdir(work_dir);
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runs_until_sigterm_and_stops_in_reverse),
        cmocka_unit_test(ready_names_the_pool_that_is_down),
        cmocka_unit_test(failed_start_exits_1_naming_the_step),
        cmocka_unit_test(only_the_gateway_reaches_a_route_and_the_built_ins_stay_open),
        cmocka_unit_test(the_metrics_port_serves_the_built_ins_only),
        cmocka_unit_test(the_principal_of_the_headers_reaches_the_handler),
        cmocka_unit_test(outside_a_local_run_no_internal_keys_stops_the_start),
        cmocka_unit_test(a_local_run_listens_on_loopback_and_serves_the_local_admin),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
