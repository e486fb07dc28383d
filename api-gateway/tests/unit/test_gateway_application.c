/* test_gateway_application.c -- the proxy's failover policy and admission
 * (credentials, rate limits), with an in-memory upstream client, a fake
 * token verifier and a fake clock (no I/O). Part of the gateway_domain
 * binary (its main lives in test_gateway_domain.c). */
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

static int64_t fake_now(gateway_clock *c) { return ((fake_clock *)c->self)->now; }

static int64_t fake_wall(gateway_clock *c) { return 1700000000 + ((fake_clock *)c->self)->now / 1000; }

static const gateway_clock_ops fake_clock_ops = {.now_ms = fake_now, .wall_s = fake_wall};

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

/* ---- admission ---- */

/* A verifier that trusts tokens of the form "jwt.<role>.<sub>.<exp offset>"
 * and refuses the rest as badly signed: the claims checks are the
 * application's, the signature the adapter's (tested in gateway_auth). */
static oms_err fake_verify(token_verifier *v, const char *token, token_claims *claims, oms_error *err)
{
    (void)v;
    char role[32], sub[32];
    long exp_offset = 0;
    if (sscanf(token, "jwt.%31[a-z].%31[a-z0-9-].%ld", role, sub, &exp_offset) != 3)
        return oms_error_set(err, OMS_EINVAL, NULL, "the token's signature is not valid");
    token_text_claim_set(&claims->role, role, strlen(role));
    token_text_claim_set(&claims->sub, sub, strlen(sub));
    claims->has_exp = true;
    claims->exp = 1700000000 + exp_offset;
    return OMS_OK;
}

static const token_verifier_ops fake_verifier_ops = {.verify = fake_verify};
static token_verifier fake_verifier = {.ops = &fake_verifier_ops, .self = NULL};

static bool plain_fingerprint(const char *key, char out[API_KEY_FINGERPRINT_LEN + 1])
{
    snprintf(out, API_KEY_FINGERPRINT_LEN + 1, "%016zx", strlen(key));
    return true;
}

static api_key_set keys;

typedef struct gate {
    fake_clock clock;
    admission a;
} gate;

static gate *gate_new(const char *key_list, bool with_tokens, bool open, long rate)
{
    static gate g;
    memset(&g, 0, sizeof g);
    g.clock = (fake_clock){.port = {.ops = &fake_clock_ops, .self = &g.clock}, .now = 0};
    oms_error err;
    assert_int_equal(api_key_set_parse(&keys, key_list, plain_fingerprint, &err), OMS_OK);
    admission_config cfg = {.keys = &keys,
                            .tokens = with_tokens ? &fake_verifier : NULL,
                            .policy = {.leeway_s = 0},
                            .open = open,
                            .rate_per_s = rate};
    assert_int_equal(admission_init(&g.a, &cfg, &g.clock.port), OMS_OK);
    return &g;
}

static admission_verdict ask(gate *g, const char *path, const char *api_key, const char *bearer, const char *ip,
                             admission_result *out)
{
    admission_request rq = {.path = path, .api_key = api_key, .bearer = bearer, .client_ip = ip};
    return admission_decide(&g->a, &rq, out);
}

/* SPEC 7: no, a wrong, an expired or a badly signed credential is 401 on
 * every path but the public ones. */
static void admission_refuses_missing_wrong_expired_and_badly_signed_credentials(void **state)
{
    (void)state;
    gate *g = gate_new("k1:admin,k2:customer:alice", true, false, 0);
    admission_result r;
    assert_int_equal(ask(g, "/orders", NULL, NULL, "1.2.3.4", &r), ADMIT_UNAUTHORIZED);
    assert_non_null(strstr(r.why.message, "credential"));
    assert_int_equal(ask(g, "/orders", "k3", NULL, "1.2.3.4", &r), ADMIT_UNAUTHORIZED);
    assert_int_equal(ask(g, "/orders", NULL, "k3", "1.2.3.4", &r), ADMIT_UNAUTHORIZED);
    assert_int_equal(ask(g, "/orders", NULL, "jwt.admin.root.-1", "1.2.3.4", &r), ADMIT_UNAUTHORIZED);
    assert_non_null(strstr(r.why.message, "expired"));
    assert_int_equal(ask(g, "/orders", NULL, "jwt.admin.root", "1.2.3.4", &r), ADMIT_UNAUTHORIZED);
    assert_non_null(strstr(r.why.message, "signature"));
    assert_int_equal(ask(g, "/orders", "jwt.admin.root.60", NULL, "1.2.3.4", &r), ADMIT_UNAUTHORIZED); /* not a key */
    const char *open_paths[] = {"/health", "/ready", "/metrics", "/openapi.yaml"};
    for (size_t i = 0; i < sizeof open_paths / sizeof open_paths[0]; i++) {
        assert_int_equal(ask(g, open_paths[i], NULL, NULL, "1.2.3.4", &r), ADMIT_OK);
        assert_false(r.authenticated);
    }
    admission_destroy(&g->a);
}

/* A valid key (header or bearer) or token gives its principal. */
static void admission_gives_the_principal_of_a_valid_credential(void **state)
{
    (void)state;
    gate *g = gate_new("k1:admin,k2:customer:alice", true, false, 0);
    admission_result r;
    assert_int_equal(ask(g, "/orders", "k2", NULL, "1.2.3.4", &r), ADMIT_OK);
    assert_true(r.authenticated);
    assert_int_equal(r.who.role, ROLE_CUSTOMER);
    assert_string_equal(r.who.subject, "alice");
    assert_string_equal(r.who.id, "key:0000000000000002");
    assert_int_equal(ask(g, "/orders", NULL, "k1", "1.2.3.4", &r), ADMIT_OK);
    assert_int_equal(r.who.role, ROLE_ADMIN);
    assert_int_equal(ask(g, "/orders", NULL, "jwt.viewer.v-1.60", "1.2.3.4", &r), ADMIT_OK);
    assert_int_equal(r.who.role, ROLE_VIEWER);
    assert_string_equal(r.who.id, "jwt:v-1");
    assert_int_equal(ask(g, "/orders", "k1", "jwt.customer.bob.60", "1.2.3.4", &r), ADMIT_OK); /* X-API-Key wins */
    assert_int_equal(r.who.role, ROLE_ADMIN);
    admission_destroy(&g->a);
}

/* Without a verifier, a token is only a wrong key. */
static void admission_without_a_jwt_key_refuses_tokens(void **state)
{
    (void)state;
    gate *g = gate_new("k1:admin", false, false, 0);
    admission_result r;
    assert_int_equal(ask(g, "/orders", NULL, "jwt.admin.root.60", "1.2.3.4", &r), ADMIT_UNAUTHORIZED);
    admission_destroy(&g->a);
}

/* Rate per client: a principal has its own bucket apart from its address;
 * the wait is given in whole seconds. */
static void admission_limits_each_client_separately(void **state)
{
    (void)state;
    gate *g = gate_new("k1:admin", true, false, 1);
    admission_result r;
    assert_int_equal(ask(g, "/orders", "k1", NULL, "1.2.3.4", &r), ADMIT_OK);
    assert_int_equal(ask(g, "/orders", "k1", NULL, "1.2.3.4", &r), ADMIT_RATE_LIMITED);
    assert_int_equal(r.retry_after_s, 1);
    assert_int_equal(ask(g, "/orders", NULL, "jwt.admin.root.60", "1.2.3.4", &r), ADMIT_OK); /* another principal */
    assert_int_equal(ask(g, "/openapi.yaml", NULL, NULL, "1.2.3.4", &r), ADMIT_OK);          /* the IP's bucket */
    g->clock.now = 999;
    assert_int_equal(ask(g, "/orders", "k1", NULL, "1.2.3.4", &r), ADMIT_RATE_LIMITED);
    g->clock.now = 1000;
    assert_int_equal(ask(g, "/orders", "k1", NULL, "1.2.3.4", &r), ADMIT_OK);
    admission_destroy(&g->a);
}

/* H1: the built-ins are limited like everything else, and a refused
 * credential costs its address a token (guessing keys is limited). */
static void admission_limits_built_ins_and_refused_credentials(void **state)
{
    (void)state;
    gate *g = gate_new("k1:admin", true, false, 2);
    admission_result r;
    assert_int_equal(ask(g, "/metrics", NULL, NULL, "5.6.7.8", &r), ADMIT_OK);
    assert_int_equal(ask(g, "/orders", "guess", NULL, "5.6.7.8", &r), ADMIT_UNAUTHORIZED);
    assert_int_equal(ask(g, "/ready", NULL, NULL, "5.6.7.8", &r), ADMIT_RATE_LIMITED);
    assert_int_equal(ask(g, "/orders", "guess", NULL, "5.6.7.8", &r), ADMIT_RATE_LIMITED);
    assert_int_equal(ask(g, "/orders", "k1", NULL, "5.6.7.8", &r), ADMIT_OK); /* the key has its own bucket */
    admission_destroy(&g->a);
}

/* L3: with the table full of addresses, a valid key is still admitted. */
static void admission_admits_a_valid_key_when_the_table_is_full(void **state)
{
    (void)state;
    gate *g = gate_new("k1:admin", false, false, 1);
    admission_result r;
    char ip[32];
    for (int i = 0; i < 13000; i++) {
        snprintf(ip, sizeof ip, "10.1.%d.%d", i / 256, i % 256);
        assert_int_equal(ask(g, "/orders", "wrong", NULL, ip, &r), ADMIT_UNAUTHORIZED);
    }
    assert_int_equal(ask(g, "/orders", "k1", NULL, "10.9.9.9", &r), ADMIT_OK);
    admission_destroy(&g->a);
}

/* No credential source (a local run): every request is the local admin,
 * still rate-limited by address. */
static void admission_open_serves_everyone_as_the_local_admin(void **state)
{
    (void)state;
    gate *g = gate_new(NULL, false, true, 0);
    admission_result r;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(ask(g, "/orders", NULL, NULL, "1.2.3.4", &r), ADMIT_OK);
        assert_true(r.authenticated);
        assert_int_equal(r.who.role, ROLE_ADMIN);
        assert_string_equal(r.who.id, "local");
    }
    admission_destroy(&g->a);
}

int run_application_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connect_failure_fails_over_and_marks_the_instance_down),
        cmocka_unit_test(all_instances_refusing_is_unavailable),
        cmocka_unit_test(post_timeout_is_not_retried),
        cmocka_unit_test(get_timeout_is_retried_on_another_instance),
        cmocka_unit_test(bad_answer_is_bad_gateway_without_retry),
        cmocka_unit_test(admission_refuses_missing_wrong_expired_and_badly_signed_credentials),
        cmocka_unit_test(admission_gives_the_principal_of_a_valid_credential),
        cmocka_unit_test(admission_without_a_jwt_key_refuses_tokens),
        cmocka_unit_test(admission_limits_each_client_separately),
        cmocka_unit_test(admission_limits_built_ins_and_refused_credentials),
        cmocka_unit_test(admission_admits_a_valid_key_when_the_table_is_full),
        cmocka_unit_test(admission_open_serves_everyone_as_the_local_admin),
    };
    return cmocka_run_group_tests_name("application", tests, NULL, NULL);
}
