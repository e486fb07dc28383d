/* Unit tests of dead_letter.c: status names, the fingerprint, the envelope
 * fields of a payload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oms/bus.h"

static void statuses_round_trip_and_unknown_names_are_refused(void **state)
{
    (void)state;
    oms_dead_letter_status s;
    for (int i = OMS_DEAD_LETTER_DEAD; i <= OMS_DEAD_LETTER_DISCARDED; i++) {
        assert_true(oms_dead_letter_status_parse(oms_dead_letter_status_name((oms_dead_letter_status)i), &s));
        assert_int_equal(s, i);
    }
    assert_false(oms_dead_letter_status_parse("DEAD", &s));
    assert_false(oms_dead_letter_status_parse(NULL, &s));
    assert_null(oms_dead_letter_status_name((oms_dead_letter_status)7));
}

/* Ids, amounts and counts do not split a failure; topic, subscription, type
 * and wording do. */
static void the_fingerprint_groups_the_same_failure_and_only_it(void **state)
{
    (void)state;
    char a[OMS_DEAD_LETTER_FINGERPRINT_LEN + 1], b[sizeof a], c[sizeof a];
    oms_dead_letter_fingerprint("payment-commands", "payment-service", "PaymentRequested",
                                "order 5f0c1d2e-0000-4000-8000-000000000001 has no account of 12.50", a);
    oms_dead_letter_fingerprint("payment-commands", "payment-service", "PaymentRequested",
                                "order 77aa1d2e-0000-4000-8000-000000000002 has no account of 3.00", b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), OMS_DEAD_LETTER_FINGERPRINT_LEN);
    oms_dead_letter_fingerprint("payment-commands", "payment-service", "RefundRequested",
                                "order 5f0c1d2e-0000-4000-8000-000000000001 has no account of 12.50", c);
    assert_string_not_equal(a, c);
    oms_dead_letter_fingerprint("payment-commands", "payment-service", "PaymentRequested",
                                "order 5f0c1d2e-0000-4000-8000-000000000001 is unknown", c);
    assert_string_not_equal(a, c);
    oms_dead_letter_fingerprint("payment-commands", "other", "PaymentRequested",
                                "order 5f0c1d2e-0000-4000-8000-000000000001 has no account of 12.50", c);
    assert_string_not_equal(a, c);
    /* NULL parts are allowed (a poison message has no type). */
    oms_dead_letter_fingerprint("t", "s", NULL, NULL, c);
    assert_int_equal(strlen(c), OMS_DEAD_LETTER_FINGERPRINT_LEN);
}

static void describe_reads_the_envelope_and_survives_garbage(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    const char *json = "{\"event_id\":\"e\",\"event_type\":\"T\",\"saga_id\":\"s\",\"order_id\":\"o\",\"payload\":{}}";
    oms_dead_letter d = {.topic = "t", .subscription = "s", .payload = json, .payload_len = strlen(json), .error = "x"};
    oms_dead_letter_describe(&d, a);
    assert_string_equal(d.event_id, "e");
    assert_string_equal(d.event_type, "T");
    assert_string_equal(d.saga_id, "s");
    assert_string_equal(d.order_id, "o");
    const char *garbage[] = {"", "[1,2]", "\"text\"", "{\"event_type\": 12}", "{not json"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        oms_dead_letter g = {
            .topic = "t", .subscription = "s", .payload = garbage[i], .payload_len = strlen(garbage[i])};
        oms_dead_letter_describe(&g, a);
        assert_null(g.event_type);
        assert_null(g.order_id);
        assert_int_equal(strlen(g.fingerprint), OMS_DEAD_LETTER_FINGERPRINT_LEN);
    }
    oms_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(statuses_round_trip_and_unknown_names_are_refused),
        cmocka_unit_test(the_fingerprint_groups_the_same_failure_and_only_it),
        cmocka_unit_test(describe_reads_the_envelope_and_survives_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
