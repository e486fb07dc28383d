/* Unit tests of oms/json.c: parsing, field readers and exact money. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oms/json.h"

static oms_arena *arena;

static int setup(void **state)
{
    (void)state;
    arena = oms_arena_create(0);
    return arena ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    oms_arena_destroy(arena);
    return 0;
}

static json_t *parse(const char *text)
{
    json_t *v = NULL;
    oms_error err;
    assert_int_equal(oms_json_parse_request(arena, text, strlen(text), &v, &err), OMS_OK);
    return v;
}

static oms_err money_of(const char *text, int64_t *cents, oms_error *err)
{
    json_t *doc = parse(text);
    return oms_json_money(doc, "price", "items[0].unit_price", 0, 100000000, cents, err);
}

static int64_t money_ok(const char *text)
{
    int64_t cents = -1;
    oms_error err;
    assert_int_equal(money_of(text, &cents, &err), OMS_OK);
    return cents;
}

static void money_is_read_from_the_numbers_text(void **state)
{
    (void)state;
    assert_int_equal(money_ok("{\"price\": 10.500}"), 1050);
    assert_int_equal(money_ok("{\"price\": 1.05e1}"), 1050);
    assert_int_equal(money_ok("{\"price\": 1025e-2}"), 1025);
    assert_int_equal(money_ok("{\"price\": 1.001e1}"), 1001);
    assert_int_equal(money_ok("{\"price\": 0.0}"), 0);
    assert_int_equal(money_ok("{\"price\": 999999.99}"), 99999999);
    assert_int_equal(money_ok("{\"price\": 10.1}"), 1010);
    assert_int_equal(money_ok("{\"price\": 0.29}"), 29);
    assert_int_equal(money_ok("{\"price\": 1000000.00}"), 100000000);
    assert_int_equal(money_ok("{\"price\": 10.25}"), 1025);
    assert_int_equal(money_ok("{\"price\": 1e2}"), 10000);
    assert_int_equal(money_ok("{\"price\": 1.5E1}"), 1500);
    assert_int_equal(money_ok("{\"price\": 1.230}"), 123);
}

static void money_integers_are_exact(void **state)
{
    (void)state;
    assert_int_equal(money_ok("{\"price\": 7}"), 700);
    assert_int_equal(money_ok("{\"price\": 0}"), 0);
}

static void money_with_a_third_decimal_or_out_of_range_is_refused_naming_the_field(void **state)
{
    (void)state;
    int64_t cents;
    oms_error err;
    assert_int_equal(money_of("{\"price\": 10.001}", &cents, &err), OMS_EINVAL);
    assert_string_equal(err.field, "items[0].unit_price");
    assert_int_equal(money_of("{\"price\": 1e-7}", &cents, &err), OMS_EINVAL);
    assert_int_equal(money_of("{\"price\": 1e300}", &cents, &err), OMS_EINVAL);
    assert_int_equal(money_of("{\"price\": -1}", &cents, &err), OMS_EINVAL);
    assert_int_equal(money_of("{\"price\": 1000000.01}", &cents, &err), OMS_EINVAL);
    assert_int_equal(money_of("{\"price\": \"10\"}", &cents, &err), OMS_EINVAL);
    assert_int_equal(money_of("{}", &cents, &err), OMS_EINVAL);
    assert_int_equal(money_of("{\"price\": 92233720368547758}", &cents, &err), OMS_EINVAL);
    assert_int_equal(money_of("{\"price\": 123456789012345678901234567890}", &cents, &err), OMS_EINVAL);
    assert_non_null(strstr(err.message, "must be from"));
}

/* The review's L1: a double cannot tell these from 10.00 or 10.01. */
static void money_with_a_digit_below_a_cent_is_refused_whatever_a_double_makes_of_it(void **state)
{
    (void)state;
    int64_t cents = -1;
    oms_error err;
    assert_int_equal(money_of("{\"price\": 10.0000000000000001}", &cents, &err), OMS_EINVAL);
    assert_non_null(strstr(err.message, "at most two decimals"));
    assert_int_equal(money_of("{\"price\": 10.0099999999999999999}", &cents, &err), OMS_EINVAL);
    assert_int_equal(money_of("{\"price\": 1.0000000000000000000000000000000000000000000000001}", &cents, &err),
                     OMS_EINVAL);
    assert_int_equal(money_of("{\"price\": 1.0001e1}", &cents, &err), OMS_EINVAL);
    assert_int_equal(money_of("{\"price\": 1e-400}", &cents, &err), OMS_EINVAL);
    assert_int_equal(cents, -1);
}

/* Only what a reader reads can make a body invalid: an extra property may
 * hold any number and any key (issue 11's schemathesis remarks). */
static void extra_properties_with_huge_numbers_or_nul_keys_leave_a_body_valid(void **state)
{
    (void)state;
    json_t *doc = parse("{\"q\":5,\"extra\":123456789012345678901234567890,\"huge\":1e999,"
                        "\"a\\u0000b\":1,\"s\":\"x\\u0000y\",\"price\":2.50}");
    int64_t n = 0, cents = 0;
    oms_error err;
    assert_int_equal(oms_json_integer(doc, "q", "q", 1, 10, &n, &err), OMS_OK);
    assert_int_equal(n, 5);
    assert_int_equal(oms_json_money(doc, "price", "price", 0, 1000, &cents, &err), OMS_OK);
    assert_int_equal(cents, 250);
    assert_int_equal(oms_json_integer(doc, "extra", "extra", 1, 10, &n, &err), OMS_EINVAL);
    assert_non_null(strstr(err.message, "from 1 to 10"));
    assert_int_equal(oms_json_money(doc, "huge", "huge", 0, 1000, &cents, &err), OMS_EINVAL);
    const char *s = NULL;
    assert_int_equal(oms_json_string(doc, "s", "s", 10, true, &s, &err), OMS_EINVAL);
    assert_non_null(json_object_get(doc, "a\xef\xbf\xbd"
                                         "b"));
}

static void a_number_where_a_string_belongs_is_refused(void **state)
{
    (void)state;
    json_t *doc = parse("{\"id\":1.5,\"n\":7}");
    const char *s = NULL;
    oms_error err;
    assert_int_equal(oms_json_string(doc, "id", "id", 64, true, &s, &err), OMS_EINVAL);
    assert_non_null(strstr(err.message, "must be a string"));
    assert_int_equal(oms_json_string(doc, "n", "n", 64, true, &s, &err), OMS_EINVAL);
}

/* Errors point at the text the client sent, not at the rewritten one. */
static void a_bad_request_body_names_the_place_in_what_was_sent(void **state)
{
    (void)state;
    json_t *v = NULL;
    oms_error err;
    const char *text = "{\"a\": 1.5,\n \"b\": }";
    assert_int_equal(oms_json_parse_request(arena, text, strlen(text), &v, &err), OMS_EINVAL);
    assert_non_null(strstr(err.message, "line 2, column 7"));
    text = "{\"a\": 1e999, \"b\": 1.2.3}";
    assert_int_equal(oms_json_parse_request(arena, text, strlen(text), &v, &err), OMS_EINVAL);
    text = "{\"a\": 01}";
    assert_int_equal(oms_json_parse_request(arena, text, strlen(text), &v, &err), OMS_EINVAL);
}

/* oms_json_parse (messages, stored JSON) keeps no text: a real is no money. */
static void a_real_without_its_text_is_not_money(void **state)
{
    (void)state;
    json_t *v = NULL;
    oms_error err;
    const char *text = "{\"price\": 10.25}";
    assert_int_equal(oms_json_parse(arena, text, strlen(text), &v, &err), OMS_OK);
    int64_t cents = 0;
    assert_int_equal(oms_json_money(v, "price", "price", 0, 100000, &cents, &err), OMS_EINVAL);
}

static void money_values_dump_as_exact_decimals(void **state)
{
    (void)state;
    json_t *doc = json_object();
    json_object_set_new(doc, "a", oms_json_money_value(1025));
    json_object_set_new(doc, "b", oms_json_money_value(100000000));
    json_object_set_new(doc, "total", oms_json_money_value(1000000000000000000LL));
    json_object_set_new(doc, "neg", oms_json_money_value(-5));
    json_object_set_new(doc, "name", json_string("x"));
    json_t *list = json_array();
    json_array_append_new(list, oms_json_money_value(1));
    json_object_set_new(doc, "list", list);
    size_t len = 0;
    char *text = oms_json_dump(arena, doc, &len);
    json_decref(doc);
    assert_string_equal(text, "{\"a\":10.25,\"b\":1000000.00,\"total\":10000000000000000.00,\"neg\":-0.05,"
                              "\"name\":\"x\",\"list\":[0.01]}");
    assert_int_equal(len, strlen(text));
}

static void duplicate_keys_are_refused(void **state)
{
    (void)state;
    json_t *v = NULL;
    oms_error err;
    const char *text = "{\"a\":1,\"a\":2}";
    assert_int_equal(oms_json_parse(arena, text, strlen(text), &v, &err), OMS_EINVAL);
}

static void bad_json_names_line_and_column(void **state)
{
    (void)state;
    json_t *v = NULL;
    oms_error err;
    const char *text = "{\n  \"a\": }";
    assert_int_equal(oms_json_parse(arena, text, strlen(text), &v, &err), OMS_EINVAL);
    assert_non_null(strstr(err.message, "line 2"));
    assert_int_equal(oms_json_parse(arena, "", 0, &v, &err), OMS_EINVAL);
}

static void strings_with_control_characters_or_too_long_are_refused(void **state)
{
    (void)state;
    json_t *doc = parse(
        "{\"ok\":\"abc\",\"ctl\":\"a\\u0001b\",\"nl\":\"a\\nb\",\"empty\":\"\",\"num\":5,\"nul\":null}");
    const char *out = NULL;
    oms_error err;
    assert_int_equal(oms_json_string(doc, "ok", "ok", 3, true, &out, &err), OMS_OK);
    assert_string_equal(out, "abc");
    assert_int_equal(oms_json_string(doc, "ok", "path.ok", 2, true, &out, &err), OMS_EINVAL);
    assert_string_equal(err.field, "path.ok");
    assert_int_equal(oms_json_string(doc, "ctl", "ctl", 10, true, &out, &err), OMS_EINVAL);
    assert_string_equal(err.field, "ctl");
    assert_int_equal(oms_json_string(doc, "nl", "nl", 10, true, &out, &err), OMS_EINVAL);
    assert_int_equal(oms_json_string(doc, "empty", "empty", 10, true, &out, &err), OMS_EINVAL);
    assert_int_equal(oms_json_string(doc, "num", "num", 10, true, &out, &err), OMS_EINVAL);
    assert_int_equal(oms_json_string(doc, "missing", "missing", 10, true, &out, &err), OMS_EINVAL);
    out = "x";
    assert_int_equal(oms_json_string(doc, "nul", "nul", 10, false, &out, &err), OMS_OK);
    assert_null(out);
}

static void integers_are_range_checked_and_reals_refused(void **state)
{
    (void)state;
    json_t *doc = parse("{\"q\":5,\"r\":1.0,\"big\":1000001}");
    int64_t n = 0;
    oms_error err;
    assert_int_equal(oms_json_integer(doc, "q", "q", 1, 1000000, &n, &err), OMS_OK);
    assert_int_equal(n, 5);
    assert_int_equal(oms_json_integer(doc, "r", "r", 1, 1000000, &n, &err), OMS_EINVAL);
    assert_int_equal(oms_json_integer(doc, "big", "items[1].quantity", 1, 1000000, &n, &err), OMS_EINVAL);
    assert_string_equal(err.field, "items[1].quantity");
}

/* Text that merely looks like a money marker (a client's string, a key) is
 * written as the string it is, never turned into a number or refused. */
static void strings_that_look_like_money_markers_stay_strings(void **state)
{
    (void)state;
    oms_arena *a = arena;
    json_t *money = oms_json_money_value(5);
    const char *marker_and_cents = json_string_value(money);
    char *lookalike = oms_arena_sprintf(a, "%.*scu", (int)(strlen(marker_and_cents) - 1), marker_and_cents);
    json_t *doc = json_pack("{s:s, s:o}", "id", lookalike, "total", money);
    json_object_set_new(doc, marker_and_cents, json_true());
    char *text = oms_json_dump(a, doc, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"total\":0.05"));
    char *expected_id = oms_arena_sprintf(a, "\"id\":\"%s\"", lookalike);
    assert_non_null(strstr(text, expected_id));
    char *expected_key = oms_arena_sprintf(a, "\"%s\":true", marker_and_cents);
    assert_non_null(strstr(text, expected_key));
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(money_is_read_from_the_numbers_text, setup, teardown),
        cmocka_unit_test_setup_teardown(money_with_a_digit_below_a_cent_is_refused_whatever_a_double_makes_of_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(extra_properties_with_huge_numbers_or_nul_keys_leave_a_body_valid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_number_where_a_string_belongs_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_bad_request_body_names_the_place_in_what_was_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(a_real_without_its_text_is_not_money, setup, teardown),
        cmocka_unit_test_setup_teardown(money_integers_are_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(strings_that_look_like_money_markers_stay_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(money_with_a_third_decimal_or_out_of_range_is_refused_naming_the_field, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(money_values_dump_as_exact_decimals, setup, teardown),
        cmocka_unit_test_setup_teardown(duplicate_keys_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_json_names_line_and_column, setup, teardown),
        cmocka_unit_test_setup_teardown(strings_with_control_characters_or_too_long_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(integers_are_range_checked_and_reals_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
