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
    assert_int_equal(parse_text("{\"event_id\":\"nope\",\"event_type\":\"X\",\"saga_id\":\"" SAGA
                                "\",\"order_id\":\"" ORDER "\",\"occurred_at\":\"t\",\"payload\":{}}",
                                &err),
                     OMS_EINVAL);
    assert_string_equal(err.field, "event_id");
    assert_int_equal(parse_text("{\"event_id\":\"" SAGA "\",\"event_type\":\"\",\"saga_id\":\"" SAGA
                                "\",\"order_id\":\"" ORDER "\",\"occurred_at\":\"t\",\"payload\":{}}",
                                &err),
                     OMS_EINVAL);
    assert_string_equal(err.field, "event_type");
    assert_int_equal(parse_text("{\"event_id\":\"" SAGA "\",\"event_type\":\"X\",\"saga_id\":\"" SAGA
                                "\",\"order_id\":\"" ORDER "\",\"occurred_at\":\"t\",\"payload\":[]}",
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

/* One trace per order (issue 13 item 2): the trace id is the saga id's hex,
 * the span id follows from the event id alone (the same message, the same
 * span, wherever and whenever it is built), each message its own span. */
static void a_message_about_an_order_carries_its_sagas_trace(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    json_t *payload = json_object();
    char first_id[OMS_UUID_LEN + 1], second_id[OMS_UUID_LEN + 1];
    char *first = oms_envelope_build(a, "PaymentRequested", SAGA, ORDER, "", payload, first_id);
    char *second = oms_envelope_build(a, "PaymentRequested", SAGA, ORDER, "", payload, second_id);
    json_decref(payload);
    oms_envelope one, two;
    oms_error err;
    assert_int_equal(oms_envelope_parse(a, first, strlen(first), &one, &err), OMS_OK);
    assert_int_equal(oms_envelope_parse(a, second, strlen(second), &two, &err), OMS_OK);
    assert_int_equal(strlen(one.traceparent), OMS_TRACEPARENT_LEN);
    assert_memory_equal(one.traceparent, "00-0b8f5a9e2c1d4e5f8a7b6c5d4e3f2a1b-", 36);
    assert_string_equal(one.traceparent + 52, "-01");
    assert_memory_equal(one.traceparent, two.traceparent, 36);               /* one trace */
    assert_memory_not_equal(one.traceparent + 36, two.traceparent + 36, 16); /* two spans */
    char again[OMS_TRACEPARENT_LEN + 1];
    assert_true(oms_traceparent_of(SAGA, first_id, again));
    assert_string_equal(again, one.traceparent); /* derived, not drawn */
    char trace[OMS_TRACE_ID_LEN + 1];
    assert_true(oms_trace_id_of_saga("0B8F5A9E-2C1D-4E5F-8A7B-6C5D4E3F2A1B", trace));
    assert_string_equal(trace, "0b8f5a9e2c1d4e5f8a7b6c5d4e3f2a1b");
    assert_false(oms_trace_id_of_saga("not-a-uuid", trace));
    assert_false(oms_traceparent_of(SAGA, "x", again));
    /* no order, no trace */
    payload = json_object();
    char *none = oms_envelope_build(a, "ProductPriceChanged", NULL, NULL, "", payload, NULL);
    json_decref(payload);
    assert_null(strstr(none, "traceparent"));
    oms_arena_destroy(a);
}

/* W3C: a traceparent that is not valid is ignored, the message is not refused. */
static void a_bad_traceparent_is_ignored(void **state)
{
    (void)state;
    static const char *const bad[] = {"garbage", "01-0b8f5a9e2c1d4e5f8a7b6c5d4e3f2a1b-00f067aa0ba902b7-01",
                                      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                                      "00-0b8f5a9e2c1d4e5f8a7b6c5d4e3f2a1b-0000000000000000-01",
                                      "00-0B8F5A9E2C1D4E5F8A7B6C5D4E3F2A1B-00f067aa0ba902b7-01"};
    oms_arena *a = oms_arena_create(0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *text = oms_arena_sprintf(a,
                                       "{\"event_id\":\"" SAGA "\",\"event_type\":\"X\",\"saga_id\":\"" SAGA
                                       "\",\"order_id\":\"" ORDER "\",\"occurred_at\":\"t\",\"traceparent\":\"%s\","
                                       "\"payload\":{}}",
                                       bad[i]);
        oms_envelope env;
        oms_error err;
        assert_int_equal(oms_envelope_parse(a, text, strlen(text), &env, &err), OMS_OK);
        assert_string_equal(env.traceparent, "");
    }
    oms_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_built_envelope_parses_back_with_the_same_fields),
        cmocka_unit_test(malformed_envelopes_are_refused_naming_the_field),
        cmocka_unit_test(a_missing_correlation_id_reads_as_empty),
        cmocka_unit_test(an_envelope_about_no_order_has_neither_id),
        cmocka_unit_test(a_message_about_an_order_carries_its_sagas_trace),
        cmocka_unit_test(a_bad_traceparent_is_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
