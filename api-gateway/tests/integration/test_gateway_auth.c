/* test_gateway_auth.c -- credentials and roles end to end (SPEC 7): the
 * gateway in-process with real libjwt and OpenSSL, tokens signed with keys
 * the test makes (HS256, RS256, ES256), against fake services that echo what
 * reached them. No database: this runs with the unit tests. */
#include <curl/curl.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../src/adapters/sha256_fingerprint.h"
#include "../../src/gateway.h"
#include "../support/gateway_harness.h"
#include "oms/log.h"

#define HS_SECRET "an-hs256-secret-of-at-least-32-bytes!"
#define ISSUER "https://idp.test"
#define AUDIENCE "oms-api"

/* ---- keys the test makes ---- */

typedef struct key_pair {
    char *private_pem;
    char *public_pem;
} key_pair;

static char *pem_of(EVP_PKEY *k, bool private_part)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int ok = private_part ? PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) : PEM_write_bio_PUBKEY(bio, k);
    assert_int_equal(ok, 1);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    char *copy = strndup(data, (size_t)len);
    BIO_free(bio);
    return copy;
}

static key_pair make_keys(EVP_PKEY *k)
{
    assert_non_null(k);
    key_pair p = {.private_pem = pem_of(k, true), .public_pem = pem_of(k, false)};
    EVP_PKEY_free(k);
    return p;
}

static key_pair rsa_keys, ec_keys, other_rsa_keys;

static int make_all_keys(void **state)
{
    (void)state;
    rsa_keys = make_keys(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048));
    other_rsa_keys = make_keys(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048));
    ec_keys = make_keys(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
    return 0;
}

static int free_all_keys(void **state)
{
    (void)state;
    key_pair *all[] = {&rsa_keys, &other_rsa_keys, &ec_keys};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        free(all[i]->private_pem);
        free(all[i]->public_pem);
    }
    return 0;
}

/* ---- tokens ---- */

typedef struct token_spec {
    jwt_alg_t alg;
    const char *key; /* PEM private key or HMAC secret; NULL for "none" */
    const char *role;
    const char *sub;
    long exp_in_s; /* 0: no exp */
    long nbf_in_s; /* 0: no nbf */
    const char *iss;
    const char *aud;
} token_spec;

/* "Authorization: Bearer <token>", malloc'd; `headers_json` (or NULL) adds
 * members to the token's header. */
static char *bearer_with_header(const token_spec *t, const char *headers_json)
{
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_new(&jwt), 0);
    if (headers_json)
        assert_int_equal(jwt_add_headers_json(jwt, headers_json), 0);
    long now = (long)time(NULL);
    if (t->role)
        jwt_add_grant(jwt, "role", t->role);
    if (t->sub)
        jwt_add_grant(jwt, "sub", t->sub);
    if (t->exp_in_s)
        jwt_add_grant_int(jwt, "exp", now + t->exp_in_s);
    if (t->nbf_in_s)
        jwt_add_grant_int(jwt, "nbf", now + t->nbf_in_s);
    if (t->iss)
        jwt_add_grant(jwt, "iss", t->iss);
    if (t->aud)
        jwt_add_grant(jwt, "aud", t->aud);
    if (t->key)
        assert_int_equal(jwt_set_alg(jwt, t->alg, (const unsigned char *)t->key, (int)strlen(t->key)), 0);
    char *token = jwt_encode_str(jwt);
    assert_non_null(token);
    char *header = NULL;
    assert_true(asprintf(&header, "Authorization: Bearer %s", token) > 0);
    free(token);
    jwt_free(jwt);
    return header;
}

static char *bearer(const token_spec *t) { return bearer_with_header(t, NULL); }

/* ---- the gateway under test ---- */

static void settings_for(world *w, gateway_settings *s)
{
    world_settings(w, s, harness_url_of(w->order_a.port));
    s->local_run = false;
    s->internal_key = "internal-key-0123456789";
    s->jwt_leeway_s = 0;
    oms_error err;
    assert_int_equal(api_key_set_parse(&s->api_keys,
                                       "k-alice:customer:alice,k-bob:customer:bob,k-viewer:viewer,"
                                       "k-operator:operator,k-admin:admin",
                                       sha256_fingerprint, &err),
                     OMS_OK);
}

/* Keys, HS256 and RS256 (iss and aud checked). */
static void start_with_hs_and_rsa(world *w)
{
    static gateway_settings s;
    settings_for(w, &s);
    s.jwt = (jwt_keys){.hs256_secret = HS_SECRET,
                       .hs256_secret_len = strlen(HS_SECRET),
                       .public_key_pem = rsa_keys.public_pem,
                       .public_key_pem_len = strlen(rsa_keys.public_pem)};
    s.jwt_issuer = ISSUER;
    s.jwt_audience = AUDIENCE;
    world_start(w, &s);
}

/* GET /orders/x with `header` must be 401 and reach no service. */
static void expect_401(world *w, char *header, const char *message_part)
{
    int before = world_served(w);
    reply *r = call(w, "GET", "/orders/x", NULL, header, NULL);
    if (r->status != 401)
        fail_msg("%s: %ld %s", header, r->status, r->body);
    assert_string_equal(reply_error_code(r), "unauthorized");
    if (message_part && !strstr(r->body, message_part))
        fail_msg("%s: expected '%s' in %s", header, message_part, r->body);
    reply_free(r);
    free(header);
    assert_int_equal(world_served(w), before);
}

static char *copy(const char *text) { return strdup(text); }

/* ---- tests ---- */

/* A token of each algorithm, valid, gives its role and subject; the
 * services see who it is. */
static void valid_tokens_of_each_algorithm_are_accepted(void **state)
{
    world *w = *state;
    start_with_hs_and_rsa(w);
    token_spec specs[] = {
        {JWT_ALG_HS256, HS_SECRET, "viewer", "dashboard", 60, 0, ISSUER, AUDIENCE},
        {JWT_ALG_RS256, NULL, "customer", "alice", 60, -10, ISSUER, AUDIENCE},
    };
    specs[1].key = rsa_keys.private_pem;
    const char *roles[] = {"viewer", "customer"};
    const char *principals[] = {"jwt:dashboard", "jwt:alice"};
    for (size_t i = 0; i < 2; i++) {
        char *h = bearer(&specs[i]);
        reply *r = call(w, "GET", "/orders/o-1", NULL, h, NULL);
        free(h);
        if (r->status != 200)
            fail_msg("token %zu: %ld %s", i, r->status, r->body);
        assert_string_equal(reply_field(r, "role"), roles[i]);
        assert_string_equal(reply_field(r, "principal"), principals[i]);
        reply_free(r);
    }
}

static void es256_tokens_are_accepted_with_a_p256_key(void **state)
{
    world *w = *state;
    static gateway_settings s;
    settings_for(w, &s);
    s.jwt = (jwt_keys){.public_key_pem = ec_keys.public_pem, .public_key_pem_len = strlen(ec_keys.public_pem)};
    world_start(w, &s);
    token_spec t = {JWT_ALG_ES256, ec_keys.private_pem, "operator", "oncall", 60, 0, NULL, NULL};
    char *h = bearer(&t);
    reply *r = call(w, "GET", "/sagas", NULL, h, NULL);
    free(h);
    assert_int_equal(r->status, 200);
    assert_string_equal(reply_field(r, "role"), "operator");
    reply_free(r);
    token_spec rs = {JWT_ALG_RS256, rsa_keys.private_pem, "admin", "root", 60, 0, NULL, NULL};
    expect_401(w, bearer(&rs), "algorithm"); /* RS256 has no key here */
    token_spec hs = {JWT_ALG_HS256, HS_SECRET, "admin", "root", 60, 0, NULL, NULL};
    expect_401(w, bearer(&hs), "algorithm");
}

/* SPEC 7: expired, not yet valid, another issuer or audience, no exp. */
static void tokens_outside_their_time_or_audience_are_401(void **state)
{
    world *w = *state;
    start_with_hs_and_rsa(w);
    token_spec expired = {JWT_ALG_HS256, HS_SECRET, "admin", "root", -5, 0, ISSUER, AUDIENCE};
    expect_401(w, bearer(&expired), "expired");
    token_spec early = {JWT_ALG_HS256, HS_SECRET, "admin", "root", 600, 300, ISSUER, AUDIENCE};
    expect_401(w, bearer(&early), "not valid yet");
    token_spec issuer = {JWT_ALG_HS256, HS_SECRET, "admin", "root", 60, 0, "https://evil.test", AUDIENCE};
    expect_401(w, bearer(&issuer), "iss");
    token_spec audience = {JWT_ALG_HS256, HS_SECRET, "admin", "root", 60, 0, ISSUER, "another-api"};
    expect_401(w, bearer(&audience), "aud");
    token_spec no_exp = {JWT_ALG_HS256, HS_SECRET, "admin", "root", 0, 0, ISSUER, AUDIENCE};
    expect_401(w, bearer(&no_exp), "exp");
    token_spec no_role = {JWT_ALG_HS256, HS_SECRET, NULL, "root", 60, 0, ISSUER, AUDIENCE};
    expect_401(w, bearer(&no_role), "role");
}

/* Badly signed, "alg": "none", an algorithm without a key, the RSA public
 * key used as an HMAC secret (key confusion), a critical header extension:
 * all 401. */
static void badly_signed_and_unaccepted_algorithms_are_401(void **state)
{
    world *w = *state;
    start_with_hs_and_rsa(w);
    token_spec other_secret = {JWT_ALG_HS256, "another-secret-of-at-least-32-bytes!!", "admin", "root", 60, 0, ISSUER,
                               AUDIENCE};
    expect_401(w, bearer(&other_secret), "signature");
    token_spec other_key = {JWT_ALG_RS256, other_rsa_keys.private_pem, "admin", "root", 60, 0, ISSUER, AUDIENCE};
    expect_401(w, bearer(&other_key), "signature");
    token_spec none = {JWT_ALG_NONE, NULL, "admin", "root", 60, 0, ISSUER, AUDIENCE};
    expect_401(w, bearer(&none), "algorithm");
    token_spec hs384 = {JWT_ALG_HS384, HS_SECRET, "admin", "root", 60, 0, ISSUER, AUDIENCE};
    expect_401(w, bearer(&hs384), "algorithm");
    token_spec confused = {JWT_ALG_HS256, rsa_keys.public_pem, "admin", "root", 60, 0, ISSUER, AUDIENCE};
    expect_401(w, bearer(&confused), "signature");
    /* A valid token with one byte of its signature changed. */
    token_spec good = {JWT_ALG_RS256, rsa_keys.private_pem, "admin", "root", 60, 0, ISSUER, AUDIENCE};
    char *h = bearer(&good);
    h[strlen(h) - 3] = h[strlen(h) - 3] == 'A' ? 'B' : 'A';
    expect_401(w, h, "signature");
    /* Well signed, but with a critical header extension nobody here understands. */
    expect_401(w, bearer_with_header(&good, "{\"crit\":[\"x-policy\"],\"x-policy\":\"strict\"}"), "crit");
    expect_401(w, copy("Authorization: Bearer not.a.jwt"), NULL);
    expect_401(w, copy("Authorization: Bearer "), NULL);
    expect_401(w, copy("Authorization: Basic azE6"), "credential");
}

/* Every route, every role: 403 exactly where the table forbids, and the
 * forbidden request reaches no service. */
static void each_role_gets_403_exactly_where_the_table_forbids(void **state)
{
    world *w = *state;
    start_with_hs_and_rsa(w);
    static const struct {
        const char *key;
        gateway_role role;
    } who[] = {
        {"k-alice", ROLE_CUSTOMER}, {"k-viewer", ROLE_VIEWER}, {"k-operator", ROLE_OPERATOR}, {"k-admin", ROLE_ADMIN}};
    for (size_t i = 0; i < gateway_route_count; i++) {
        const gateway_route *route = &gateway_routes[i];
        if (route->service == GATEWAY_SELF)
            continue;
        char target[128];
        snprintf(target, sizeof target, "%s", route->pattern);
        for (char *p = strstr(target, "{}"); p; p = strstr(target, "{}")) /* the customer's own id: alice */
            memmove(p + 5, p + 2, strlen(p + 2) + 1), memcpy(p, "alice", 5);
        bool write = strcmp(route->method, "GET") != 0;
        for (size_t k = 0; k < sizeof who / sizeof who[0]; k++) {
            char header[64];
            snprintf(header, sizeof header, "X-API-Key: %s", who[k].key);
            principal p = {.role = who[k].role};
            bool allowed = principal_may(&p, route->roles);
            int before = world_served(w);
            reply *r = call(w, route->method, target, write ? "{}" : NULL, header, "Content-Type: application/json",
                            NULL);
            if (allowed ? r->status == 403 : r->status != 403)
                fail_msg("%s %s as %s: %ld %s", route->method, target, role_name(who[k].role), r->status, r->body);
            int asked = route->service == GATEWAY_ALL ? GATEWAY_SERVICE_COUNT : 1; /* GET /audit: every service */
            assert_int_equal(world_served(w), before + (allowed ? asked : 0));
            reply_free(r);
        }
    }
}

/* The services learn who sends, from the gateway alone: a client's X-OMS-*
 * headers are dropped and the internal credential is added. */
static void identity_headers_come_from_the_gateway_only(void **state)
{
    world *w = *state;
    start_with_hs_and_rsa(w);
    reply *r = call(w, "GET", "/orders/o-1", NULL, "X-API-Key: k-alice", "X-OMS-Role: admin", "X-OMS-Subject: bob",
                    "X-OMS-Principal: key:forged", "X-OMS-Internal-Key: forged", "X-OMS-Injected: yes", NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(reply_field(r, "role"), "customer");
    assert_string_equal(reply_field(r, "subject"), "alice");
    assert_string_equal(reply_field(r, "principal"), "key:8fab151ebfe45da0"); /* SHA-256 of k-alice */
    assert_string_equal(reply_field(r, "internal_key"), "internal-key-0123456789");
    assert_null(reply_field(r, "injected"));
    reply_free(r);
    r = call(w, "GET", "/orders/o-1", NULL, "X-API-Key: k-viewer", NULL);
    assert_string_equal(reply_field(r, "role"), "viewer");
    assert_null(reply_field(r, "subject")); /* no subject: no header */
    reply_free(r);
}

/* A customer reaches only its own data by id: another customer's account
 * or order list is 404 (nothing to enumerate); lists are filtered by the
 * principal; an order for someone else is 403. */
static void a_customer_reaches_only_its_own_data(void **state)
{
    world *w = *state;
    start_with_hs_and_rsa(w);
    const char *other[] = {"/accounts/bob", "/customers/bob/orders"};
    for (size_t i = 0; i < 2; i++) {
        reply *r = call(w, "GET", other[i], NULL, "X-API-Key: k-alice", NULL);
        assert_int_equal(r->status, 404);
        assert_string_equal(reply_error_code(r), "not_found");
        reply_free(r);
    }
    assert_int_equal(world_served(w), 0);
    reply *r = call(w, "GET", "/accounts/alice", NULL, "X-API-Key: k-alice", NULL);
    assert_int_equal(r->status, 200);
    reply_free(r);
    r = call(w, "GET", "/orders?customer_id=bob&limit=5", NULL, "X-API-Key: k-alice", NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(reply_field(r, "customer_id"), "alice");
    assert_string_equal(reply_field(r, "limit"), "5");
    reply_free(r);
    r = call(w, "GET", "/orders", NULL, "X-API-Key: k-alice", NULL);
    assert_string_equal(reply_field(r, "customer_id"), "alice");
    reply_free(r);
    r = call(w, "GET", "/orders?customer_id=bob", NULL, "X-API-Key: k-viewer", NULL);
    assert_string_equal(reply_field(r, "customer_id"), "bob"); /* a viewer lists anyone's */
    reply_free(r);
    int before = world_served(w);
    r = call(w, "POST", "/orders", "{\"customer_id\":\"bob\",\"items\":[]}", "X-API-Key: k-alice",
             "Content-Type: application/json", NULL);
    assert_int_equal(r->status, 403);
    reply_free(r);
    assert_int_equal(world_served(w), before);
    r = call(w, "POST", "/orders", "{\"customer_id\":\"alice\",\"items\":[]}", "X-API-Key: k-alice",
             "Content-Type: application/json", NULL);
    assert_int_equal(r->status, 201);
    reply_free(r);
    r = call(w, "POST", "/orders", "{\"customer_id\":\"bob\",\"items\":[]}", "X-API-Key: k-admin",
             "Content-Type: application/json", NULL);
    assert_int_equal(r->status, 201); /* an admin orders for anyone */
    reply_free(r);
}

int main(void)
{
    oms_log_init("gateway-auth-test", OMS_LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(valid_tokens_of_each_algorithm_are_accepted, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(es256_tokens_are_accepted_with_a_p256_key, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(tokens_outside_their_time_or_audience_are_401, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(badly_signed_and_unaccepted_algorithms_are_401, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(each_role_gets_403_exactly_where_the_table_forbids, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(identity_headers_come_from_the_gateway_only, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(a_customer_reaches_only_its_own_data, world_setup, world_teardown),
    };
    int failed = cmocka_run_group_tests_name("gateway_auth", tests, make_all_keys, free_all_keys);
    curl_global_cleanup();
    return failed;
}
