/* test_gateway_domain.c -- the gateway's pure decisions: token buckets and
 * the per-client table, round robin with failover and mark-down, URL list
 * and API key parsing, route lookup. Time is a plain number (a fake clock).
 * The binary also runs the application group (test_gateway_application.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/domain/api_keys.h"
#include "../../src/domain/gateway_routes.h"
#include "../../src/domain/rate_limiter.h"
#include "../../src/domain/token_bucket.h"
#include "../../src/domain/upstream_pool.h"
#include "oms/log.h"
#include "test_gateway_application.h"

/* ---- token bucket ---- */

/* A new client may send a whole burst (= rate) at once, then is refused. */
static void bucket_allows_a_burst_of_rate_then_refuses(void **state)
{
    (void)state;
    token_bucket b;
    token_bucket_init(&b, 5, 1000);
    for (int i = 0; i < 5; i++)
        assert_true(token_bucket_take(&b, 5, 1000, NULL));
    int64_t wait = 0;
    assert_false(token_bucket_take(&b, 5, 1000, &wait));
    assert_int_equal(wait, 200); /* one token every 200 ms at 5/s */
}

/* A rate below one still allows one request: burst is max(1, rate). */
static void bucket_burst_is_at_least_one(void **state)
{
    (void)state;
    assert_int_equal(token_bucket_burst(0), 1);
    assert_int_equal(token_bucket_burst(1), 1);
    assert_int_equal(token_bucket_burst(50), 50);
}

/* Tokens come back at exactly `rate` per second, not before. */
static void bucket_refills_at_the_configured_rate(void **state)
{
    (void)state;
    token_bucket b;
    token_bucket_init(&b, 2, 0);
    assert_true(token_bucket_take(&b, 2, 0, NULL));
    assert_true(token_bucket_take(&b, 2, 0, NULL));
    int64_t wait = 0;
    assert_false(token_bucket_take(&b, 2, 499, &wait));
    assert_int_equal(wait, 1);
    assert_true(token_bucket_take(&b, 2, 500, NULL));
    assert_false(token_bucket_take(&b, 2, 500, NULL));
}

/* A long idle period fills the bucket to its burst, never beyond. */
static void bucket_never_exceeds_its_burst(void **state)
{
    (void)state;
    token_bucket b;
    token_bucket_init(&b, 3, 0);
    for (int i = 0; i < 3; i++)
        assert_true(token_bucket_take(&b, 3, 0, NULL));
    int64_t much_later = INT64_C(1) << 50;
    for (int i = 0; i < 3; i++)
        assert_true(token_bucket_take(&b, 3, much_later, NULL));
    assert_false(token_bucket_take(&b, 3, much_later, NULL));
}

/* A clock going backwards gives no tokens. */
static void bucket_ignores_a_clock_going_backwards(void **state)
{
    (void)state;
    token_bucket b;
    token_bucket_init(&b, 1, 10000);
    assert_true(token_bucket_take(&b, 1, 10000, NULL));
    assert_false(token_bucket_take(&b, 1, 5000, NULL));
    assert_false(token_bucket_take(&b, 1, 10999, NULL));
    assert_true(token_bucket_take(&b, 1, 11000, NULL));
}

/* ---- rate limiter (per client) ---- */

/* Each client has its own bucket: one client's burst does not limit another. */
static void limiter_keeps_one_bucket_per_client(void **state)
{
    (void)state;
    rate_limiter rl;
    assert_int_equal(rate_limiter_init(&rl, 1, 16), OMS_OK);
    int64_t wait = 0;
    assert_true(rate_limiter_admit(&rl, "ip:10.0.0.1", 0, &wait));
    assert_false(rate_limiter_admit(&rl, "ip:10.0.0.1", 0, &wait));
    assert_int_equal(wait, 1000);
    assert_true(rate_limiter_admit(&rl, "ip:10.0.0.2", 0, &wait));
    assert_true(rate_limiter_admit(&rl, "ip:10.0.0.1", 1000, &wait));
    rate_limiter_destroy(&rl);
}

/* Many clients over time: idle ones are forgotten so memory stays bounded
 * and new clients are still admitted. */
static void limiter_forgets_idle_clients_when_full(void **state)
{
    (void)state;
    rate_limiter rl;
    assert_int_equal(rate_limiter_init(&rl, 10, 16), OMS_OK);
    int64_t wait = 0;
    char id[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "ip:client-%d", i);
        assert_true(rate_limiter_admit(&rl, id, (int64_t)i * 1000, &wait));
    }
    assert_true(rl.used <= rl.capacity);
    rate_limiter_destroy(&rl);
}

/* When every slot belongs to an active client, a new client is refused
 * (bounded memory) with a retry hint, while known clients keep working. */
static void limiter_refuses_new_clients_when_all_slots_are_active(void **state)
{
    (void)state;
    rate_limiter rl;
    assert_int_equal(rate_limiter_init(&rl, 1, 16), OMS_OK);
    int64_t wait = 0;
    char id[32];
    int admitted = 0;
    for (int i = 0; i < 16; i++) {
        snprintf(id, sizeof id, "ip:c%d", i);
        admitted += rate_limiter_admit(&rl, id, 0, &wait);
    }
    assert_int_equal(admitted, 12); /* load kept under 3/4 of 16 */
    assert_false(rate_limiter_admit(&rl, "ip:newcomer", 0, &wait));
    assert_true(wait >= 1);
    assert_true(rate_limiter_admit(&rl, "ip:newcomer", 1000, &wait)); /* the others refilled */
    rate_limiter_destroy(&rl);
}

/* ---- URL lists ---- */

static void url_list_parses_several_urls_and_trims(void **state)
{
    (void)state;
    upstream_pool p;
    oms_error err;
    assert_int_equal(upstream_pool_parse(&p, " http://a:8001/ , http://10.0.0.2:8001,http://[::1]:9/api", &err),
                     OMS_OK);
    assert_int_equal(p.count, 3);
    assert_string_equal(p.instances[0].base_url, "http://a:8001");
    assert_string_equal(p.instances[1].base_url, "http://10.0.0.2:8001");
    assert_string_equal(p.instances[2].base_url, "http://[::1]:9/api");
    /* Every trailing slash goes (found by the gateway_config fuzzer). */
    assert_int_equal(upstream_pool_parse(&p, "http://a:8001//,http://b/api//", &err), OMS_OK);
    assert_string_equal(p.instances[0].base_url, "http://a:8001");
    assert_string_equal(p.instances[1].base_url, "http://b/api");
}

static void url_list_rejects_what_is_not_an_http_url(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "https://a:8001",
        "a:8001",
        "http://",
        "http://a:0",
        "http://a:65536",
        "http://a:80x",
        "http://a:8001,",
        "http://a,,http://b",
        "http://user@a:80",
        "http://a:80/x?y=1",
        "http://a b",
        "http://a:80/%41",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        upstream_pool p;
        oms_error err;
        oms_error_clear(&err);
        if (upstream_pool_parse(&p, bad[i], &err) != OMS_EINVAL)
            fail_msg("accepted '%s'", bad[i]);
        assert_true(err.message[0] != '\0');
    }
}

static void url_list_rejects_more_than_the_maximum(void **state)
{
    (void)state;
    char list[4096] = "";
    for (int i = 0; i <= UPSTREAM_MAX_INSTANCES; i++) {
        char item[32];
        snprintf(item, sizeof item, "%shttp://h%d:1", i ? "," : "", i);
        strcat(list, item);
    }
    upstream_pool p;
    oms_error err;
    assert_int_equal(upstream_pool_parse(&p, list, &err), OMS_EINVAL);
}

/* ---- round robin with failover and mark-down ---- */

static upstream_pool three_instances(void)
{
    upstream_pool p;
    oms_error err;
    assert_int_equal(upstream_pool_parse(&p, "http://a:1,http://b:1,http://c:1", &err), OMS_OK);
    return p;
}

/* Successive requests go to each instance in turn. */
static void round_robin_spreads_requests_evenly(void **state)
{
    (void)state;
    upstream_pool p = three_instances();
    int hits[3] = {0};
    for (int i = 0; i < 30; i++)
        hits[upstream_pool_pick(&p, 0, 0)]++;
    assert_int_equal(hits[0], 10);
    assert_int_equal(hits[1], 10);
    assert_int_equal(hits[2], 10);
}

/* Within one request, failover never asks an instance twice, then gives up. */
static void failover_tries_each_instance_once(void **state)
{
    (void)state;
    upstream_pool p = three_instances();
    upstream_tried tried = 0;
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        int index = upstream_pool_pick(&p, 0, tried);
        assert_true(index >= 0);
        assert_false((tried >> index) & 1u);
        tried |= 1u << index;
        seen++;
    }
    assert_int_equal(seen, 3);
    assert_int_equal(upstream_pool_pick(&p, 0, tried), -1);
}

/* A marked-down instance is skipped until its mark expires. */
static void marked_down_instance_is_skipped_until_it_expires(void **state)
{
    (void)state;
    upstream_pool p = three_instances();
    upstream_pool_mark_down(&p, 1, 1000, 1000);
    for (int i = 0; i < 10; i++)
        assert_int_not_equal(upstream_pool_pick(&p, 1999, 0), 1);
    int hits_b = 0;
    for (int i = 0; i < 3; i++)
        hits_b += upstream_pool_pick(&p, 2000, 0) == 1;
    assert_int_equal(hits_b, 1);
}

/* All instances marked down: nothing to pick (the proxy answers 503). */
static void all_marked_down_gives_no_instance(void **state)
{
    (void)state;
    upstream_pool p = three_instances();
    for (int i = 0; i < 3; i++)
        upstream_pool_mark_down(&p, i, 0, 1000);
    assert_int_equal(upstream_pool_pick(&p, 500, 0), -1);
    upstream_pool_mark_up(&p, 2);
    assert_int_equal(upstream_pool_pick(&p, 500, 0), 2);
}

/* ---- API keys ---- */

static void api_keys_match_any_configured_key(void **state)
{
    (void)state;
    static api_key_set set;
    oms_error err;
    assert_int_equal(api_key_set_parse(&set, "alpha, beta,gamma", &err), OMS_OK);
    assert_int_equal(set.count, 3);
    int index = -1;
    assert_true(api_key_set_match(&set, "beta", &index));
    assert_int_equal(index, 1);
    assert_false(api_key_set_match(&set, "bet", NULL));
    assert_false(api_key_set_match(&set, "betaa", NULL));
    assert_false(api_key_set_match(&set, "", NULL));
    assert_false(api_key_set_match(&set, NULL, NULL));
}

static void api_keys_unset_means_off_and_bad_lists_are_refused(void **state)
{
    (void)state;
    static api_key_set set;
    oms_error err;
    assert_int_equal(api_key_set_parse(&set, NULL, &err), OMS_OK);
    assert_int_equal(set.count, 0);
    assert_false(api_key_set_match(&set, "anything", NULL));
    assert_int_equal(api_key_set_parse(&set, "a,,b", &err), OMS_EINVAL);
    assert_int_equal(api_key_set_parse(&set, "a b", &err), OMS_EINVAL);
    char long_key[API_KEY_MAX_LEN + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    assert_int_equal(api_key_set_parse(&set, long_key, &err), OMS_EINVAL);
    assert_false(api_key_set_match(&set, long_key, NULL));
}

/* ---- routes ---- */

static void routes_send_each_path_to_its_service(void **state)
{
    (void)state;
    struct {
        const char *method, *path;
        gateway_service service;
    } cases[] = {
        {"POST", "/orders", GATEWAY_ORDER_SERVICE},
        {"GET", "/orders", GATEWAY_ORDER_SERVICE},
        {"GET", "/orders/abc", GATEWAY_ORDER_SERVICE},
        {"POST", "/orders/abc/cancel", GATEWAY_ORDER_SERVICE},
        {"GET", "/orders/abc/saga", GATEWAY_ORDER_SERVICE},
        {"GET", "/customers/c1/orders", GATEWAY_ORDER_SERVICE},
        {"GET", "/sagas", GATEWAY_ORDER_SERVICE},
        {"POST", "/products", GATEWAY_INVENTORY_SERVICE},
        {"GET", "/products", GATEWAY_INVENTORY_SERVICE},
        {"GET", "/products/p1", GATEWAY_INVENTORY_SERVICE},
        {"POST", "/products/p1/stock", GATEWAY_INVENTORY_SERVICE},
        {"GET", "/reservations", GATEWAY_INVENTORY_SERVICE},
        {"POST", "/accounts", GATEWAY_PAYMENT_SERVICE},
        {"GET", "/accounts/c1", GATEWAY_PAYMENT_SERVICE},
        {"GET", "/payments", GATEWAY_PAYMENT_SERVICE},
        {"GET", "/openapi.yaml", GATEWAY_SELF},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const gateway_route *r = NULL;
        assert_int_equal(gateway_route_lookup(cases[i].method, cases[i].path, &r), GATEWAY_ROUTE_FOUND);
        assert_int_equal(r->service, cases[i].service);
    }
}

static void routes_tell_wrong_method_from_unknown_path(void **state)
{
    (void)state;
    const gateway_route *r = NULL;
    assert_int_equal(gateway_route_lookup("DELETE", "/orders/abc", &r), GATEWAY_ROUTE_WRONG_METHOD);
    assert_int_equal(gateway_route_lookup("GET", "/orders/abc/cancel", &r), GATEWAY_ROUTE_WRONG_METHOD);
    assert_int_equal(gateway_route_lookup("PUT", "/products", &r), GATEWAY_ROUTE_WRONG_METHOD);
    assert_int_equal(gateway_route_lookup("GET", "/nope", &r), GATEWAY_ROUTE_NOT_FOUND);
    assert_int_equal(gateway_route_lookup("GET", "/orders/", &r), GATEWAY_ROUTE_NOT_FOUND);
    assert_int_equal(gateway_route_lookup("GET", "/orders/a/b", &r), GATEWAY_ROUTE_NOT_FOUND);
    assert_int_equal(gateway_route_lookup("GET", "/orders//saga", &r), GATEWAY_ROUTE_NOT_FOUND);
    assert_int_equal(gateway_route_lookup("GET", "/", &r), GATEWAY_ROUTE_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bucket_allows_a_burst_of_rate_then_refuses),
        cmocka_unit_test(bucket_burst_is_at_least_one),
        cmocka_unit_test(bucket_refills_at_the_configured_rate),
        cmocka_unit_test(bucket_never_exceeds_its_burst),
        cmocka_unit_test(bucket_ignores_a_clock_going_backwards),
        cmocka_unit_test(limiter_keeps_one_bucket_per_client),
        cmocka_unit_test(limiter_forgets_idle_clients_when_full),
        cmocka_unit_test(limiter_refuses_new_clients_when_all_slots_are_active),
        cmocka_unit_test(url_list_parses_several_urls_and_trims),
        cmocka_unit_test(url_list_rejects_what_is_not_an_http_url),
        cmocka_unit_test(url_list_rejects_more_than_the_maximum),
        cmocka_unit_test(round_robin_spreads_requests_evenly),
        cmocka_unit_test(failover_tries_each_instance_once),
        cmocka_unit_test(marked_down_instance_is_skipped_until_it_expires),
        cmocka_unit_test(all_marked_down_gives_no_instance),
        cmocka_unit_test(api_keys_match_any_configured_key),
        cmocka_unit_test(api_keys_unset_means_off_and_bad_lists_are_refused),
        cmocka_unit_test(routes_send_each_path_to_its_service),
        cmocka_unit_test(routes_tell_wrong_method_from_unknown_path),
    };
    oms_log_init("gateway-test", OMS_LOG_ERROR); /* upstream failures are expected here */
    int failed = cmocka_run_group_tests_name("domain", tests, NULL, NULL);
    return failed + run_application_tests();
}
