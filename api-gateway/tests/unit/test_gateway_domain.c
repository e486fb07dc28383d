/* test_gateway_domain.c -- the gateway's pure decisions: token buckets and
 * the per-client table, round robin with failover and mark-down, URL lists,
 * principals and API keys, token claims, the route table and the request
 * checks. Time is a plain number (a fake clock). The binary also runs the
 * application group (test_gateway_application.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/domain/api_keys.h"
#include "../../src/domain/gateway_routes.h"
#include "../../src/domain/principal.h"
#include "../../src/domain/rate_limiter.h"
#include "../../src/domain/reconcile_rules.h"
#include "../../src/domain/request_checks.h"
#include "../../src/domain/token_claims.h"
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

/* L3: more clients than the table holds: every newcomer is admitted (the
 * least recently seen client is forgotten), never refused for lack of room. */
static void limiter_admits_every_new_client_when_full(void **state)
{
    (void)state;
    rate_limiter rl;
    assert_int_equal(rate_limiter_init(&rl, 1, 12288), OMS_OK);
    int64_t wait = 0;
    char id[32];
    for (int i = 0; i < 13000; i++) {
        snprintf(id, sizeof id, "ip:10.0.%d.%d", i / 256, i % 256);
        assert_true(rate_limiter_admit(&rl, id, 0, &wait));
    }
    assert_int_equal(rl.used, 12288);
    assert_true(rate_limiter_admit(&rl, "key:0123456789abcdef", 0, &wait)); /* a valid key, at full load */
    assert_false(rate_limiter_admit(&rl, "ip:10.0.50.199", 0, &wait));      /* a recent client keeps its bucket */
    assert_true(rate_limiter_admit(&rl, "ip:10.0.0.0", 0, &wait));          /* the oldest was forgotten */
    rate_limiter_destroy(&rl);
}

/* The table against a model of least-recently-used memory, over a long
 * random sequence with many collisions: a remembered client (its one token
 * spent) is refused, a forgotten or new one admitted. This exercises the
 * backward-shift removal on every wrap of the table. */
static void limiter_remembers_exactly_the_most_recent_clients(void **state)
{
    (void)state;
    enum { MAX = 12, IDS = 40, STEPS = 20000 };
    rate_limiter rl;
    assert_int_equal(rate_limiter_init(&rl, 1, MAX), OMS_OK);
    int model[MAX]; /* ids, most recent first */
    int known = 0;
    unsigned seed = 12345;
    for (int step = 0; step < STEPS; step++) {
        seed = seed * 1103515245u + 12345u;
        int who = (int)((seed >> 16) % IDS);
        int at = -1;
        for (int k = 0; k < known; k++)
            if (model[k] == who)
                at = k;
        bool expected = at < 0;
        if (at < 0)
            at = known < MAX ? known++ : MAX - 1;
        memmove(&model[1], &model[0], (size_t)at * sizeof model[0]);
        model[0] = who;
        char id[16];
        snprintf(id, sizeof id, "c%d", who);
        int64_t wait = 0;
        if (rate_limiter_admit(&rl, id, 0, &wait) != expected)
            fail_msg("step %d: client %d %s", step, who, expected ? "refused" : "admitted twice");
        assert_true(rl.used == (size_t)known);
    }
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
    /* TLS to the services. */
    assert_int_equal(upstream_pool_parse(&p, "https://orders.internal:8443,http://b:1", &err), OMS_OK);
    assert_string_equal(p.instances[0].base_url, "https://orders.internal:8443");
}

static void url_list_rejects_what_is_not_an_http_url(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "ftp://a:8001",
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
    assert_true(upstream_pool_pick(&p, 1000, 0) >= 0); /* the marks expire */
}

/* ---- principals ---- */

static void roles_nest_and_the_customer_stands_apart(void **state)
{
    (void)state;
    gateway_role r;
    assert_true(role_parse("operator", 8, &r));
    assert_int_equal(r, ROLE_OPERATOR);
    assert_false(role_parse("operators", 9, &r));
    assert_false(role_parse("Admin", 5, &r));
    assert_false(role_parse("", 0, &r));
    principal viewer = {.role = ROLE_VIEWER}, admin = {.role = ROLE_ADMIN};
    principal alice = {.role = ROLE_CUSTOMER, .subject = "alice"};
    assert_true(principal_may(&viewer, ROLES_VIEWER));
    assert_false(principal_may(&viewer, ROLES_OPERATOR));
    assert_true(principal_may(&admin, ROLES_OPERATOR));
    assert_false(principal_may(&alice, ROLES_VIEWER));
    assert_true(principal_may(&alice, ROLES_CUSTOMER | ROLES_ADMIN));
    assert_false(principal_may(&admin, ROLES_CUSTOMER));
    assert_false(principal_is_other_customer(&alice, "alice"));
    assert_true(principal_is_other_customer(&alice, "bob"));
    assert_false(principal_is_other_customer(&admin, "bob"));
}

/* ---- API keys ---- */

/* A fake fingerprint: the key's first characters, padded. */
static bool test_fingerprint(const char *key, char out[API_KEY_FINGERPRINT_LEN + 1])
{
    snprintf(out, API_KEY_FINGERPRINT_LEN + 1, "%-16.16s", key);
    for (int i = 0; i < API_KEY_FINGERPRINT_LEN; i++)
        out[i] = out[i] == ' ' ? '0' : out[i];
    return true;
}

static bool failing_fingerprint(const char *key, char out[API_KEY_FINGERPRINT_LEN + 1])
{
    (void)key;
    (void)out;
    return false;
}

static void api_keys_carry_a_role_and_a_subject(void **state)
{
    (void)state;
    static api_key_set set;
    oms_error err;
    assert_int_equal(api_key_set_parse(&set, "k1:customer:customer-1, k2:admin ,k3:viewer:ops-team,k4:customer:t:42",
                                       test_fingerprint, &err),
                     OMS_OK);
    assert_int_equal(set.count, 4);
    assert_string_equal(api_key_set_match(&set, "k4")->subject, "t:42"); /* the rest after the role */
    const principal *p = api_key_set_match(&set, "k1");
    assert_non_null(p);
    assert_int_equal(p->role, ROLE_CUSTOMER);
    assert_string_equal(p->subject, "customer-1");
    assert_string_equal(p->id, "key:k100000000000000");
    p = api_key_set_match(&set, "k2");
    assert_non_null(p);
    assert_int_equal(p->role, ROLE_ADMIN);
    assert_string_equal(p->subject, "");
    p = api_key_set_match(&set, "k3");
    assert_int_equal(p->role, ROLE_VIEWER);
    assert_string_equal(p->subject, "ops-team");
    assert_null(api_key_set_match(&set, "k"));
    assert_null(api_key_set_match(&set, "k22"));
    assert_null(api_key_set_match(&set, "k1:customer:customer-1"));
    assert_null(api_key_set_match(&set, ""));
    assert_null(api_key_set_match(&set, NULL));
}

static void api_keys_unset_means_none_and_bad_lists_are_refused(void **state)
{
    (void)state;
    static api_key_set set;
    oms_error err;
    assert_int_equal(api_key_set_parse(&set, NULL, test_fingerprint, &err), OMS_OK);
    assert_int_equal(set.count, 0);
    assert_null(api_key_set_match(&set, "anything"));
    const char *bad[] = {
        "k1",                 /* no role */
        "k1:",                /* empty role */
        "k1:root",            /* unknown role */
        "k1:customer",        /* a customer without a subject */
        "k1:customer:",       /* empty subject */
        "k1:admin:a b",       /* blank in the subject */
        "k1:admin,,k2:admin", /* empty entry */
        "k1:admin,",          /* trailing comma */
        ":admin",             /* empty key */
        "k 1:admin",          /* blank in the key */
        "k1:admin,k1:viewer", /* the same key twice */
        "k1:customer:a,b",    /* ',' in the subject (two entries, the second bad) */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        set.count = 7;
        oms_error_clear(&err);
        if (api_key_set_parse(&set, bad[i], test_fingerprint, &err) != OMS_EINVAL)
            fail_msg("accepted '%s'", bad[i]);
        assert_int_equal(set.count, 7);         /* untouched */
        assert_null(strstr(err.message, "k1")); /* a key is never echoed */
    }
    char long_key[API_KEY_MAX_LEN + 16];
    memset(long_key, 'k', API_KEY_MAX_LEN + 1);
    strcpy(long_key + API_KEY_MAX_LEN + 1, ":admin");
    assert_int_equal(api_key_set_parse(&set, long_key, test_fingerprint, &err), OMS_EINVAL);
    assert_int_equal(api_key_set_parse(&set, "k1:admin", failing_fingerprint, &err), OMS_EINTERNAL);
}

/* ---- token claims ---- */

#define NOW 1700000000

static token_claims valid_claims(const char *role, const char *sub)
{
    token_claims c;
    memset(&c, 0, sizeof c);
    c.has_exp = true;
    c.exp = NOW + 60;
    if (role)
        token_text_claim_set(&c.role, role, strlen(role));
    if (sub)
        token_text_claim_set(&c.sub, sub, strlen(sub));
    return c;
}

static oms_err judge(const token_claims *c, const token_policy *policy, principal *out, oms_error *err)
{
    oms_error_clear(err);
    return token_claims_check(c, policy, NOW, out, err);
}

static void token_claims_make_a_principal(void **state)
{
    (void)state;
    token_policy policy = {.leeway_s = 30};
    principal p;
    oms_error err;
    token_claims c = valid_claims("customer", "alice");
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_OK);
    assert_int_equal(p.role, ROLE_CUSTOMER);
    assert_string_equal(p.subject, "alice");
    assert_string_equal(p.id, "jwt:alice");
    c = valid_claims("operator", NULL);
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_OK);
    assert_int_equal(p.role, ROLE_OPERATOR);
    assert_string_equal(p.subject, "");
    assert_string_equal(p.id, "jwt-role:operator");
}

static void token_claims_refuse_expired_early_and_unscoped_tokens(void **state)
{
    (void)state;
    token_policy policy = {.leeway_s = 30};
    principal p;
    oms_error err;
    token_claims c = valid_claims("admin", "root");
    c.has_exp = false;
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_EINVAL); /* exp is required */
    assert_non_null(strstr(err.message, "exp"));
    c = valid_claims("admin", "root");
    c.exp = NOW - 30;
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_EINVAL);
    assert_non_null(strstr(err.message, "expired"));
    c.exp = NOW - 29; /* within the leeway */
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_OK);
    c = valid_claims("admin", "root");
    c.has_nbf = true;
    c.nbf = NOW + 31;
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_EINVAL);
    assert_non_null(strstr(err.message, "not valid yet"));
    c.nbf = NOW + 30;
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_OK);
    c = valid_claims("admin", "root");
    c.malformed = true;
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_EINVAL);
}

static void token_claims_check_issuer_and_audience_when_configured(void **state)
{
    (void)state;
    token_policy policy = {.issuer = "https://idp.example", .audience = "oms-api", .leeway_s = 0};
    principal p;
    oms_error err;
    token_claims c = valid_claims("viewer", "v1");
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_EINVAL); /* no iss */
    token_text_claim_set(&c.iss, "https://idp.example", 19);
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_EINVAL); /* no aud */
    assert_non_null(strstr(err.message, "aud"));
    token_text_claim_set(&c.aud[0], "other", 5);
    token_text_claim_set(&c.aud[1], "oms-api", 7);
    c.aud_count = 2;
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_OK);
    token_text_claim_set(&c.iss, "https://evil.example", 20);
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_EINVAL);
    assert_non_null(strstr(err.message, "iss"));
    token_policy unchecked = {.leeway_s = 0};
    assert_int_equal(judge(&c, &unchecked, &p, &err), OMS_OK);
}

static void token_claims_need_a_known_role_and_a_valid_subject(void **state)
{
    (void)state;
    token_policy policy = {.leeway_s = 0};
    principal p;
    oms_error err;
    token_claims c = valid_claims(NULL, "alice");
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_EINVAL);
    c = valid_claims("superuser", "alice");
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_EINVAL);
    c = valid_claims("customer", NULL);
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_EINVAL); /* a customer needs sub */
    c = valid_claims("customer", "a b");
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_EINVAL);
    char long_sub[PRINCIPAL_SUBJECT_MAX + 2];
    memset(long_sub, 's', sizeof long_sub - 1);
    long_sub[sizeof long_sub - 1] = '\0';
    c = valid_claims("customer", long_sub);
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_EINVAL);
    long_sub[PRINCIPAL_SUBJECT_MAX] = '\0';
    c = valid_claims("customer", long_sub);
    assert_int_equal(judge(&c, &policy, &p, &err), OMS_OK);
}

/* ---- routes ---- */

static const gateway_route *route_named(const char *name)
{
    for (size_t i = 0; i < gateway_route_count; i++)
        if (strcmp(gateway_routes[i].name, name) == 0)
            return &gateway_routes[i];
    fail_msg("no route %s", name);
    return NULL;
}

/* SPEC 7's table: admins alone change the catalog and open accounts;
 * viewers read everything; customers read the catalog and their own data. */
static void routes_carry_the_roles_of_spec_7(void **state)
{
    (void)state;
    const char *admin_only[] = {"create_product", "set_product_price", "restock_product", "create_account"};
    for (size_t i = 0; i < sizeof admin_only / sizeof admin_only[0]; i++)
        assert_int_equal(route_named(admin_only[i])->roles, ROLES_ADMIN);
    const char *viewer_only[] = {"list_sagas", "get_reservations", "list_dead_letters", "list_jobs", "get_job"};
    for (size_t i = 0; i < sizeof viewer_only / sizeof viewer_only[0]; i++)
        assert_int_equal(route_named(viewer_only[i])->roles, ROLES_VIEWER);
    const char *customer_reads[] = {"list_orders",   "get_order",   "get_order_saga", "get_customer_orders",
                                    "list_products", "get_product", "get_account",    "get_payments"};
    for (size_t i = 0; i < sizeof customer_reads / sizeof customer_reads[0]; i++)
        assert_int_equal(route_named(customer_reads[i])->roles, ROLES_CUSTOMER | ROLES_VIEWER);
    assert_int_equal(route_named("create_order")->roles, ROLES_CUSTOMER | ROLES_ADMIN);
    assert_int_equal(route_named("cancel_order")->roles, ROLES_CUSTOMER | ROLES_OPERATOR);
    /* Operators redrive and discard dead letters and run bulk jobs (issue 12). */
    const char *operator_writes[] = {"redrive_dead_letters", "discard_dead_letter", "stop_job", "bulk_sagas"};
    for (size_t i = 0; i < sizeof operator_writes / sizeof operator_writes[0]; i++)
        assert_int_equal(route_named(operator_writes[i])->roles, ROLES_OPERATOR);
    assert_string_equal(route_named("create_order")->customer_field, "customer_id");
    assert_string_equal(route_named("list_orders")->customer_query, "customer_id");
    assert_int_equal(route_named("get_customer_orders")->customer_param, 0);
    assert_int_equal(route_named("get_account")->customer_param, 0);
}

/* Every route is one row: no two rows share a method and pattern, and a
 * customer parameter names one of the pattern's `{}`. */
static void routes_are_unique_and_well_formed(void **state)
{
    (void)state;
    for (size_t i = 0; i < gateway_route_count; i++) {
        const gateway_route *r = &gateway_routes[i];
        int wildcards = 0;
        for (const char *p = strstr(r->pattern, "{}"); p; p = strstr(p + 2, "{}"))
            wildcards++;
        assert_true(r->customer_param < wildcards);
        assert_true(r->roles != 0);
        for (size_t j = i + 1; j < gateway_route_count; j++)
            assert_false(strcmp(r->method, gateway_routes[j].method) == 0 &&
                         strcmp(r->pattern, gateway_routes[j].pattern) == 0);
    }
}

static void public_paths_are_the_built_ins_and_the_document(void **state)
{
    (void)state;
    assert_true(gateway_path_is_public("/health"));
    assert_true(gateway_path_is_public("/ready"));
    assert_true(gateway_path_is_public("/metrics"));
    assert_true(gateway_path_is_public("/openapi.yaml"));
    assert_false(gateway_path_is_public("/orders"));
    assert_false(gateway_path_is_public("/health/"));
    assert_false(gateway_path_is_public("/"));
    /* the console's files; never /whoami nor what merely starts alike */
    assert_true(gateway_path_is_public("/console"));
    assert_true(gateway_path_is_public("/console/console.js"));
    assert_false(gateway_path_is_public("/consoles"));
    assert_false(gateway_path_is_public("/console.js"));
    assert_false(gateway_path_is_public("/whoami"));
}

/* ---- request checks ---- */

/* M5: what is matched is what is forwarded: no segment a URL library would
 * resolve into another route. */
static void paths_with_dot_or_empty_segments_are_not_canonical(void **state)
{
    (void)state;
    const char *good[] = {"/", "/orders", "/orders/abc", "/orders/a.b/saga", "/products/..x", "/x/.../y"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!request_path_is_canonical(good[i]))
            fail_msg("refused '%s'", good[i]);
    const char *bad[] = {
        "",          "orders",    "//orders",   "/orders/",         "/orders//saga", "/customers/../orders",
        "/./orders", "/orders/.", "/orders/..", "/a/b/../../orders"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (request_path_is_canonical(bad[i]))
            fail_msg("accepted '%s'", bad[i]);
}

/* L12: a value that could carry a second header is refused. */
static void header_values_with_control_characters_are_unsafe(void **state)
{
    (void)state;
    assert_true(request_header_value_is_safe("application/json; charset=utf-8"));
    assert_true(request_header_value_is_safe("a\tb"));
    assert_true(request_header_value_is_safe(""));
    assert_false(request_header_value_is_safe("application/json\rX-Injected: yes"));
    assert_false(request_header_value_is_safe("a\nb"));
    assert_false(request_header_value_is_safe("a\x01"
                                              "b"));
    assert_false(request_header_value_is_safe("a\x7f"));
}

/* SPEC 6.3: a confirmed order holds one CAPTURED payment of its total and
 * a RESERVED reservation of its items; an ended one holds neither; an order
 * in flight is not judged. */
static void a_settled_order_is_judged_by_what_it_holds(void **state)
{
    (void)state;
    const char *explained;
    order_facts ok = {.status = "INVENTORY_CONFIRMED",
                      .total_cents = 500,
                      .payment_status = "CAPTURED",
                      .payment_cents = 500,
                      .reservation_state = "RESERVED",
                      .items_match = true};
    assert_null(reconcile_order_violation(&ok, &explained));
    order_facts f = ok;
    f.payment_cents = 499;
    assert_non_null(strstr(reconcile_order_violation(&f, &explained), "amount"));
    f = ok;
    f.payment_status = NULL;
    assert_non_null(strstr(reconcile_order_violation(&f, &explained), "without a payment"));
    f = ok;
    f.reservation_state = "RELEASED";
    assert_non_null(strstr(reconcile_order_violation(&f, &explained), "RESERVED"));
    f = ok;
    f.items_match = false;
    assert_non_null(strstr(reconcile_order_violation(&f, &explained), "items"));
    order_facts ended = {.status = "CANCELLED", .payment_status = "REFUNDED", .reservation_state = "RELEASED"};
    assert_null(reconcile_order_violation(&ended, &explained));
    ended.payment_status = "CAPTURED";
    assert_non_null(strstr(reconcile_order_violation(&ended, &explained), "holds money"));
    order_facts failed = {.status = "FAILED", .payment_status = "DECLINED", .reservation_state = "RESERVED"};
    assert_non_null(strstr(reconcile_order_violation(&failed, &explained), "holds stock"));
    order_facts none = {.status = "FAILED"};
    assert_null(reconcile_order_violation(&none, &explained));
    order_facts flying = {.status = "COMPENSATING", .payment_status = "CAPTURED"};
    assert_null(reconcile_order_violation(&flying, &explained));
    assert_null(explained);
}

/* A refund or a stock release an admin settled by hand (issue 12 item 3)
 * explains what the ended order still holds here: no violation, an
 * explained adjustment; the other obligation is still judged. */
static void a_manual_resolution_is_an_explained_adjustment(void **state)
{
    (void)state;
    const char *explained;
    order_facts refund = {.status = "CANCELLED",
                          .payment_status = "CAPTURED",
                          .reservation_state = "RELEASED",
                          .refund_resolved_manually = true};
    assert_null(reconcile_order_violation(&refund, &explained));
    assert_non_null(strstr(explained, "refund settled by hand"));
    order_facts release = {.status = "FAILED", .reservation_state = "RESERVED", .release_resolved_manually = true};
    assert_null(reconcile_order_violation(&release, &explained));
    assert_non_null(strstr(explained, "stock release settled by hand"));
    order_facts only_refund = {.status = "CANCELLED",
                               .payment_status = "CAPTURED",
                               .reservation_state = "RESERVED",
                               .refund_resolved_manually = true};
    assert_non_null(strstr(reconcile_order_violation(&only_refund, &explained), "holds stock"));
    order_facts twice = {.status = "CANCELLED", .payment_status = "REFUNDED", .refund_resolved_manually = true};
    assert_non_null(strstr(reconcile_order_violation(&twice, &explained), "refunded twice"));
    order_facts released_twice = {
        .status = "FAILED", .reservation_state = "RELEASED", .release_resolved_manually = true};
    assert_non_null(strstr(reconcile_order_violation(&released_twice, &explained), "stock given back twice"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_settled_order_is_judged_by_what_it_holds),
        cmocka_unit_test(a_manual_resolution_is_an_explained_adjustment),
        cmocka_unit_test(bucket_allows_a_burst_of_rate_then_refuses),
        cmocka_unit_test(bucket_burst_is_at_least_one),
        cmocka_unit_test(bucket_refills_at_the_configured_rate),
        cmocka_unit_test(bucket_never_exceeds_its_burst),
        cmocka_unit_test(bucket_ignores_a_clock_going_backwards),
        cmocka_unit_test(limiter_keeps_one_bucket_per_client),
        cmocka_unit_test(limiter_admits_every_new_client_when_full),
        cmocka_unit_test(limiter_remembers_exactly_the_most_recent_clients),
        cmocka_unit_test(url_list_parses_several_urls_and_trims),
        cmocka_unit_test(url_list_rejects_what_is_not_an_http_url),
        cmocka_unit_test(url_list_rejects_more_than_the_maximum),
        cmocka_unit_test(round_robin_spreads_requests_evenly),
        cmocka_unit_test(failover_tries_each_instance_once),
        cmocka_unit_test(marked_down_instance_is_skipped_until_it_expires),
        cmocka_unit_test(all_marked_down_gives_no_instance),
        cmocka_unit_test(roles_nest_and_the_customer_stands_apart),
        cmocka_unit_test(api_keys_carry_a_role_and_a_subject),
        cmocka_unit_test(api_keys_unset_means_none_and_bad_lists_are_refused),
        cmocka_unit_test(token_claims_make_a_principal),
        cmocka_unit_test(token_claims_refuse_expired_early_and_unscoped_tokens),
        cmocka_unit_test(token_claims_check_issuer_and_audience_when_configured),
        cmocka_unit_test(token_claims_need_a_known_role_and_a_valid_subject),
        cmocka_unit_test(routes_carry_the_roles_of_spec_7),
        cmocka_unit_test(routes_are_unique_and_well_formed),
        cmocka_unit_test(public_paths_are_the_built_ins_and_the_document),
        cmocka_unit_test(paths_with_dot_or_empty_segments_are_not_canonical),
        cmocka_unit_test(header_values_with_control_characters_are_unsafe),
    };
    oms_log_init("gateway-test", OMS_LOG_ERROR); /* upstream failures are expected here */
    int failed = cmocka_run_group_tests_name("domain", tests, NULL, NULL);
    return failed + run_application_tests();
}
