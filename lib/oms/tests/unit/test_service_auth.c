/* test_service_auth.c -- principals (principal.h) and the internal keys of
 * a service (service_auth.h): what the gateway's headers make, who may see
 * whose data, and the keys a rotation accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oms/principal.h"
#include "oms/service_auth.h"

static oms_principal parsed(const char *role, const char *subject, const char *id)
{
    oms_principal p;
    oms_error err;
    oms_error_clear(&err);
    assert_int_equal(oms_principal_parse(role, subject, id, &p, &err), OMS_OK);
    return p;
}

static const char *refusal(const char *role, const char *subject, const char *id)
{
    static oms_error err;
    oms_principal p;
    oms_error_clear(&err);
    assert_int_equal(oms_principal_parse(role, subject, id, &p, &err), OMS_EINVAL);
    return err.field;
}

static void the_gateways_headers_make_a_principal(void **state)
{
    (void)state;
    oms_principal p = parsed("customer", "customer-1", "key:0011223344556677");
    assert_int_equal(p.role, OMS_ROLE_CUSTOMER);
    assert_string_equal(p.subject, "customer-1");
    assert_string_equal(p.id, "key:0011223344556677");
    p = parsed("operator", NULL, "jwt-role:operator");
    assert_int_equal(p.role, OMS_ROLE_OPERATOR);
    assert_null(p.subject);
    assert_string_equal(oms_role_name(p.role), "operator");
}

static void headers_that_make_no_principal_are_refused(void **state)
{
    (void)state;
    assert_string_equal(refusal(NULL, NULL, "local"), "X-OMS-Role");
    assert_string_equal(refusal("root", NULL, "local"), "X-OMS-Role");
    assert_string_equal(refusal("Admin", NULL, "local"), "X-OMS-Role");
    assert_string_equal(refusal("customer", NULL, "key:00"), "X-OMS-Subject");
    assert_string_equal(refusal("customer", "", "key:00"), "X-OMS-Subject");
    assert_string_equal(refusal("customer", "a b", "key:00"), "X-OMS-Subject");
    char long_subject[OMS_PRINCIPAL_SUBJECT_MAX + 2];
    memset(long_subject, 'c', sizeof long_subject - 1);
    long_subject[sizeof long_subject - 1] = '\0';
    assert_string_equal(refusal("customer", long_subject, "key:00"), "X-OMS-Subject");
    assert_string_equal(refusal("admin", NULL, NULL), "X-OMS-Principal");
    assert_string_equal(refusal("admin", NULL, "bad\x01id"), "X-OMS-Principal");
}

static void roles_nest_and_a_customer_stands_apart(void **state)
{
    (void)state;
    oms_principal admin = parsed("admin", NULL, "local"), viewer = parsed("viewer", NULL, "v");
    oms_principal customer = parsed("customer", "c-1", "c");
    assert_true(oms_principal_is_at_least(&admin, OMS_ROLE_OPERATOR));
    assert_true(oms_principal_is_at_least(&admin, OMS_ROLE_VIEWER));
    assert_false(oms_principal_is_at_least(&admin, OMS_ROLE_CUSTOMER));
    assert_false(oms_principal_is_at_least(&viewer, OMS_ROLE_OPERATOR));
    assert_true(oms_principal_is_at_least(&customer, OMS_ROLE_CUSTOMER));
    assert_false(oms_principal_is_at_least(&customer, OMS_ROLE_VIEWER));
    assert_true(oms_principal_is_at_least(oms_principal_local_admin(), OMS_ROLE_ADMIN));
}

static void a_customer_sees_only_its_own_data(void **state)
{
    (void)state;
    oms_principal customer = parsed("customer", "c-1", "c"), viewer = parsed("viewer", NULL, "v");
    assert_true(oms_principal_may_see(&customer, "c-1"));
    assert_false(oms_principal_may_see(&customer, "c-2"));
    assert_false(oms_principal_may_see(&customer, "c-10"));
    assert_false(oms_principal_may_see(&customer, NULL));
    assert_true(oms_principal_may_see(&viewer, "c-2"));
}

#define KEY_A "0123456789abcdef-current"
#define KEY_B "fedcba9876543210-next"

static void two_keys_are_accepted_during_a_rotation(void **state)
{
    (void)state;
    oms_internal_keys keys;
    oms_error err;
    assert_int_equal(oms_internal_keys_parse(KEY_A "," KEY_B, &keys, &err), OMS_OK);
    assert_int_equal(keys.count, 2);
    assert_true(oms_internal_keys_match(&keys, KEY_A));
    assert_true(oms_internal_keys_match(&keys, KEY_B));
    assert_false(oms_internal_keys_match(&keys, NULL));
    assert_false(oms_internal_keys_match(&keys, ""));
    assert_false(oms_internal_keys_match(&keys, "0123456789abcdef"));         /* a prefix */
    assert_false(oms_internal_keys_match(&keys, KEY_A "x"));                  /* longer */
    assert_false(oms_internal_keys_match(&keys, "0123456789abcdef-currenT")); /* one byte off */
    assert_false(oms_internal_keys_match(&keys, KEY_A "," KEY_B));
    assert_int_equal(oms_internal_keys_parse(NULL, &keys, &err), OMS_OK);
    assert_int_equal(keys.count, 0);
    assert_false(oms_internal_keys_match(&keys, KEY_A));
}

static void bad_internal_keys_are_refused_without_echoing_them(void **state)
{
    (void)state;
    oms_internal_keys keys;
    oms_error err;
    const char *const bad[] = {"",        "short-key", KEY_A ",", KEY_A "," KEY_B "," KEY_A, "has a blank in it 0123",
                               KEY_A ",,"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        oms_error_clear(&err);
        assert_int_equal(oms_internal_keys_parse(bad[i], &keys, &err), OMS_EINVAL);
        assert_null(strstr(err.message, "0123456789"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_gateways_headers_make_a_principal),
        cmocka_unit_test(headers_that_make_no_principal_are_refused),
        cmocka_unit_test(roles_nest_and_a_customer_stands_apart),
        cmocka_unit_test(a_customer_sees_only_its_own_data),
        cmocka_unit_test(two_keys_are_accepted_during_a_rotation),
        cmocka_unit_test(bad_internal_keys_are_refused_without_echoing_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
