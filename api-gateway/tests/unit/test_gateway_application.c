/* test_gateway_application.c -- the proxy's failover policy and admission,
 * with an in-memory upstream client and a fake clock (no I/O). Part of the
 * gateway_domain binary (its main lives in test_gateway_domain.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/application/admission.h"
#include "../../src/application/proxy.h"
#include "test_gateway_application.h"

/* ---- fakes ---- */

typedef struct fake_clock {
    gateway_clock port;
    int64_t now;
} fake_clock;

static int64_t fake_now(gateway_clock *c)
{
    return ((fake_clock *)c->self)->now;
}

static const gateway_clock_ops fake_clock_ops = {.now_ms = fake_now};

#define MAX_CALLS 32

/* Answers per base URL: an outcome chosen by the test; records each call. */
typedef struct fake_upstream {
    upstream_client port;
    const char *urls[4];
    upstream_outcome outcomes[4];
    int url_count;
    const char *calls[MAX_CALLS];
    int call_count;
} fake_upstream;

static upstream_outcome fake_send(upstream_client *c, const char *base_url, const upstream_request *rq,
                                  oms_arena *arena, upstream_response *out, char *detail, size_t detail_len)
{
    (void)rq;
    (void)arena;
    fake_upstream *f = c->self;
    snprintf(detail, detail_len, "fake");
    for (int i = 0; i < f->url_count; i++) {
        if (strcmp(f->urls[i], base_url) != 0)
            continue;
        if (f->call_count < MAX_CALLS)
            f->calls[f->call_count++] = f->urls[i];
        if (f->outcomes[i] == UPSTREAM_OK) {
            *out = (upstream_response){.status = 200, .body = f->urls[i], .body_len = strlen(f->urls[i])};
        }
        return f->outcomes[i];
    }
    return UPSTREAM_CONNECT_FAILED;
}

static const upstream_client_ops fake_upstream_ops = {.send = fake_send};

typedef struct fixture {
    fake_clock clock;
    fake_upstream upstream;
    proxy proxy;
    oms_arena *arena;
} fixture;

/* order-service at http://a:1 and http://b:1; the others at one URL each. */
static fixture *fixture_new(upstream_outcome a, upstream_outcome b)
{
    static fixture fx;
    memset(&fx, 0, sizeof fx);
    fx.clock = (fake_clock){.port = {.ops = &fake_clock_ops, .self = &fx.clock}, .now = 10000};
    fx.upstream.port = (upstream_client){.ops = &fake_upstream_ops, .self = &fx.upstream};
    fx.upstream.urls[0] = "http://a:1";
    fx.upstream.urls[1] = "http://b:1";
    fx.upstream.urls[2] = "http://inv:1";
    fx.upstream.urls[3] = "http://pay:1";
    fx.upstream.outcomes[0] = a;
    fx.upstream.outcomes[1] = b;
    fx.upstream.url_count = 4;
    upstream_pool pools[GATEWAY_SERVICE_COUNT];
    oms_error err;
    assert_int_equal(upstream_pool_parse(&pools[GATEWAY_ORDER_SERVICE], "http://a:1,http://b:1", &err), OMS_OK);
    assert_int_equal(upstream_pool_parse(&pools[GATEWAY_INVENTORY_SERVICE], "http://inv:1", &err), OMS_OK);
    assert_int_equal(upstream_pool_parse(&pools[GATEWAY_PAYMENT_SERVICE], "http://pay:1", &err), OMS_OK);
    proxy_init(&fx.proxy, pools, &fx.upstream.port, &fx.clock.port, 1000);
    fx.arena = oms_arena_create(0);
    return &fx;
}

static void fixture_free(fixture *fx)
{
    proxy_destroy(&fx->proxy);
    oms_arena_destroy(fx->arena);
}

static bool was_called(const fake_upstream *f, const char *url)
{
    for (int i = 0; i < f->call_count; i++)
        if (strcmp(f->calls[i], url) == 0)
            return true;
    return false;
}

static proxy_outcome send_one(fixture *fx, const char *method)
{
    upstream_request rq = {.method = method, .path = "/orders"};
    upstream_response out;
    return proxy_forward(&fx->proxy, GATEWAY_ORDER_SERVICE, &rq, fx->arena, &out);
}

/* ---- proxy ---- */

/* A connect failure on the first instance: the request is answered by the
 * second, and for the next second the first is not even tried. */
static void connect_failure_fails_over_and_marks_the_instance_down(void **state)
{
    (void)state;
    fixture *fx = fixture_new(UPSTREAM_CONNECT_FAILED, UPSTREAM_OK);
    assert_int_equal(send_one(fx, "POST"), PROXY_OK);
    assert_int_equal(fx->upstream.call_count, 2);
    assert_string_equal(fx->upstream.calls[0], "http://a:1");
    assert_string_equal(fx->upstream.calls[1], "http://b:1");
    for (int i = 0; i < 4; i++)
        assert_int_equal(send_one(fx, "GET"), PROXY_OK);
    assert_int_equal(fx->upstream.call_count, 6); /* only b: a is skipped while marked down */
    for (int i = 2; i < 6; i++)
        assert_string_equal(fx->upstream.calls[i], "http://b:1");
    fx->clock.now += PROXY_MARK_DOWN_MS;
    fx->upstream.call_count = 0;
    send_one(fx, "GET");
    send_one(fx, "GET");
    assert_true(was_called(&fx->upstream, "http://a:1")); /* the mark expired: a is tried again */
    fixture_free(fx);
}

/* Every instance refuses: 503, each tried once. */
static void all_instances_refusing_is_unavailable(void **state)
{
    (void)state;
    fixture *fx = fixture_new(UPSTREAM_CONNECT_FAILED, UPSTREAM_CONNECT_FAILED);
    assert_int_equal(send_one(fx, "POST"), PROXY_UNAVAILABLE);
    assert_int_equal(fx->upstream.call_count, 2);
    assert_int_equal(send_one(fx, "GET"), PROXY_UNAVAILABLE); /* both marked down: none tried */
    assert_int_equal(fx->upstream.call_count, 2);
    fixture_free(fx);
}

/* A POST that timed out may have been applied: never sent to another. */
static void post_timeout_is_not_retried(void **state)
{
    (void)state;
    fixture *fx = fixture_new(UPSTREAM_TIMEOUT, UPSTREAM_OK);
    assert_int_equal(send_one(fx, "POST"), PROXY_TIMEOUT);
    assert_int_equal(fx->upstream.call_count, 1);
    fixture_free(fx);
}

/* A GET that timed out is a read: the other instance answers. */
static void get_timeout_is_retried_on_another_instance(void **state)
{
    (void)state;
    fixture *fx = fixture_new(UPSTREAM_TIMEOUT, UPSTREAM_OK);
    assert_int_equal(send_one(fx, "GET"), PROXY_OK);
    assert_int_equal(fx->upstream.call_count, 2);
    fixture_free(fx);
}

/* An invalid answer is 502 and is not retried (the request was sent). */
static void bad_answer_is_bad_gateway_without_retry(void **state)
{
    (void)state;
    fixture *fx = fixture_new(UPSTREAM_BAD_ANSWER, UPSTREAM_OK);
    assert_int_equal(send_one(fx, "GET"), PROXY_BAD_GATEWAY);
    assert_int_equal(fx->upstream.call_count, 1);
    fixture_free(fx);
}

/* Ready only when every service has an instance answering /health. */
static void ready_names_every_service_down(void **state)
{
    (void)state;
    fixture *fx = fixture_new(UPSTREAM_CONNECT_FAILED, UPSTREAM_OK);
    char why[256];
    assert_true(proxy_ready(&fx->proxy, fx->arena, why, sizeof why));
    fx->upstream.outcomes[1] = UPSTREAM_CONNECT_FAILED;
    fx->upstream.outcomes[3] = UPSTREAM_TIMEOUT;
    assert_false(proxy_ready(&fx->proxy, fx->arena, why, sizeof why));
    assert_string_equal(why, "order-service, payment-service: no instance answers GET /health");
    fixture_free(fx);
}

/* ---- admission ---- */

static api_key_set keys;

/* Keys required: none or a wrong one is refused, the public document is not. */
static void admission_requires_a_valid_key_when_keys_are_set(void **state)
{
    (void)state;
    fake_clock clock = {.port = {.ops = &fake_clock_ops, .self = &clock}, .now = 0};
    oms_error err;
    assert_int_equal(api_key_set_parse(&keys, "k1,k2", &err), OMS_OK);
    admission a;
    assert_int_equal(admission_init(&a, &keys, 0, &clock.port), OMS_OK);
    int64_t retry = 0;
    assert_int_equal(admission_decide(&a, "/orders", NULL, "1.2.3.4", &retry), ADMIT_UNAUTHORIZED);
    assert_int_equal(admission_decide(&a, "/orders", "k3", "1.2.3.4", &retry), ADMIT_UNAUTHORIZED);
    assert_int_equal(admission_decide(&a, "/orders", "k2", "1.2.3.4", &retry), ADMIT_OK);
    assert_int_equal(admission_decide(&a, "/openapi.yaml", NULL, "1.2.3.4", &retry), ADMIT_OK);
    admission_destroy(&a);
}

/* Rate per client: a key has its own bucket apart from its address; the
 * wait is given in whole seconds. */
static void admission_limits_each_client_separately(void **state)
{
    (void)state;
    fake_clock clock = {.port = {.ops = &fake_clock_ops, .self = &clock}, .now = 0};
    oms_error err;
    assert_int_equal(api_key_set_parse(&keys, "k1", &err), OMS_OK);
    admission a;
    assert_int_equal(admission_init(&a, &keys, 1, &clock.port), OMS_OK);
    int64_t retry = 0;
    assert_int_equal(admission_decide(&a, "/orders", "k1", "1.2.3.4", &retry), ADMIT_OK);
    assert_int_equal(admission_decide(&a, "/orders", "k1", "1.2.3.4", &retry), ADMIT_RATE_LIMITED);
    assert_int_equal(retry, 1);
    assert_int_equal(admission_decide(&a, "/openapi.yaml", NULL, "1.2.3.4", &retry), ADMIT_OK); /* the IP's bucket */
    clock.now = 999;
    assert_int_equal(admission_decide(&a, "/orders", "k1", "1.2.3.4", &retry), ADMIT_RATE_LIMITED);
    clock.now = 1000;
    assert_int_equal(admission_decide(&a, "/orders", "k1", "1.2.3.4", &retry), ADMIT_OK);
    admission_destroy(&a);
}

/* Both off: everything is admitted. */
static void admission_is_open_when_unconfigured(void **state)
{
    (void)state;
    fake_clock clock = {.port = {.ops = &fake_clock_ops, .self = &clock}, .now = 0};
    oms_error err;
    assert_int_equal(api_key_set_parse(&keys, NULL, &err), OMS_OK);
    admission a;
    assert_int_equal(admission_init(&a, &keys, 0, &clock.port), OMS_OK);
    int64_t retry = 0;
    for (int i = 0; i < 100; i++)
        assert_int_equal(admission_decide(&a, "/orders", NULL, "1.2.3.4", &retry), ADMIT_OK);
    admission_destroy(&a);
}

int run_application_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connect_failure_fails_over_and_marks_the_instance_down),
        cmocka_unit_test(all_instances_refusing_is_unavailable),
        cmocka_unit_test(post_timeout_is_not_retried),
        cmocka_unit_test(get_timeout_is_retried_on_another_instance),
        cmocka_unit_test(bad_answer_is_bad_gateway_without_retry),
        cmocka_unit_test(ready_names_every_service_down),
        cmocka_unit_test(admission_requires_a_valid_key_when_keys_are_set),
        cmocka_unit_test(admission_limits_each_client_separately),
        cmocka_unit_test(admission_is_open_when_unconfigured),
    };
    return cmocka_run_group_tests_name("application", tests, NULL, NULL);
}
