/* Unit tests of oms/envelope.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oms/envelope.h"
#include "oms/json.h"

#define SAGA "0b8f5a9e-2c1d-4e5f-8a7b-6c5d4e3f2a1b"
#define ORDER "1c9e6b0f-3d2e-4f60-9b8c-7d6e5f4a3b2c"

static void a_built_envelope_parses_back_with_the_same_fields(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    json_t *payload = json_pack("{s:s, s:o}", "command_id", "c-1", "amount", oms_json_money_value(1025));
    char event_id[OMS_UUID_LEN + 1];
    char *text = oms_envelope_build(a, "PaymentRequested", SAGA, ORDER, "req-7", payload, event_id);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"amount\":10.25"));
    assert_true(oms_uuid_valid(event_id));
    /* The payload stays the caller's. */
    assert_int_equal(payload->refcount, 1);
    json_decref(payload);

    oms_envelope env;
    oms_error err;
    assert_int_equal(oms_envelope_parse(a, text, strlen(text), &env, &err), OMS_OK);
    assert_string_equal(env.event_id, event_id);
    assert_string_equal(env.event_type, "PaymentRequested");
    assert_string_equal(env.saga_id, SAGA);
    assert_string_equal(env.order_id, ORDER);
    assert_string_equal(env.correlation_id, "req-7");
    assert_int_equal(strlen(env.occurred_at), 24);
    assert_string_equal(json_string_value(json_object_get(env.payload, "command_id")), "c-1");
    oms_arena_destroy(a);
}

static oms_err parse_text(const char *text, oms_error *err)
{
    oms_arena *a = oms_arena_create(0);
    oms_envelope env;
    oms_err rc = oms_envelope_parse(a, text, strlen(text), &env, err);
    oms_arena_destroy(a);
    return rc;
}

static void malformed_envelopes_are_refused_naming_the_field(void **state)
{
    (void)state;
    oms_error err;
    assert_int_equal(parse_text("not json", &err), OMS_EINVAL);
    assert_int_equal(parse_text("[]", &err), OMS_EINVAL);
    assert_int_equal(parse_text("{\"event_id\":\"nope\",\"event_type\":\"X\",\"saga_id\":\"" SAGA "\",\"order_id\":\"" ORDER
                                "\",\"occurred_at\":\"t\",\"payload\":{}}",
                                &err),
                     OMS_EINVAL);
    assert_string_equal(err.field, "event_id");
    assert_int_equal(parse_text("{\"event_id\":\"" SAGA "\",\"event_type\":\"\",\"saga_id\":\"" SAGA "\",\"order_id\":\"" ORDER
                                "\",\"occurred_at\":\"t\",\"payload\":{}}",
                                &err),
                     OMS_EINVAL);
    assert_string_equal(err.field, "event_type");
    assert_int_equal(parse_text("{\"event_id\":\"" SAGA "\",\"event_type\":\"X\",\"saga_id\":\"" SAGA "\",\"order_id\":\"" ORDER
                                "\",\"occurred_at\":\"t\",\"payload\":[]}",
                                &err),
                     OMS_EINVAL);
    assert_string_equal(err.field, "payload");
}

static void a_missing_correlation_id_reads_as_empty(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    const char *text = "{\"event_id\":\"" SAGA "\",\"event_type\":\"X\",\"saga_id\":\"" SAGA "\",\"order_id\":\"" ORDER
                       "\",\"occurred_at\":\"t\",\"payload\":{}}";
    oms_envelope env;
    oms_error err;
    assert_int_equal(oms_envelope_parse(a, text, strlen(text), &env, &err), OMS_OK);
    assert_string_equal(env.correlation_id, "");
    oms_arena_destroy(a);
}

/* A message about no order (a catalog price) has neither saga_id nor
 * order_id; one of the two alone is refused. */
static void an_envelope_about_no_order_has_neither_id(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    json_t *payload = json_pack("{s:s}", "product_id", "p-1");
    char *text = oms_envelope_build(a, "ProductPriceChanged", NULL, NULL, "", payload, NULL);
    json_decref(payload);
    assert_non_null(text);
    assert_null(strstr(text, "order_id"));
    oms_envelope env;
    oms_error err;
    assert_int_equal(oms_envelope_parse(a, text, strlen(text), &env, &err), OMS_OK);
    assert_string_equal(env.saga_id, "");
    assert_string_equal(env.order_id, "");
    assert_int_equal(parse_text("{\"event_id\":\"" SAGA "\",\"event_type\":\"X\",\"order_id\":\"" ORDER
                                "\",\"occurred_at\":\"t\",\"payload\":{}}",
                                &err),
                     OMS_EINVAL);
    assert_string_equal(err.field, "saga_id");
    oms_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_built_envelope_parses_back_with_the_same_fields),
        cmocka_unit_test(malformed_envelopes_are_refused_naming_the_field),
        cmocka_unit_test(a_missing_correlation_id_reads_as_empty),
        cmocka_unit_test(an_envelope_about_no_order_has_neither_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
