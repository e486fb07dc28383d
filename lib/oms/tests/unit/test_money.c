/* Unit tests of oms/money.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oms/money.h"

static int64_t parsed(const char *text)
{
    int64_t cents = -12345;
    assert_int_equal(oms_money_parse(text, &cents), OMS_OK);
    return cents;
}

static void refused(const char *text)
{
    int64_t cents = 0;
    assert_int_equal(oms_money_parse(text, &cents), OMS_EINVAL);
}

static void plain_decimals_parse_to_cents(void **state)
{
    (void)state;
    assert_int_equal(parsed("0"), 0);
    assert_int_equal(parsed("12"), 1200);
    assert_int_equal(parsed("12.3"), 1230);
    assert_int_equal(parsed("12.30"), 1230);
    assert_int_equal(parsed("10.25"), 1025);
    assert_int_equal(parsed("-4.05"), -405);
    assert_int_equal(parsed("-0.5"), -50);
    assert_int_equal(parsed("1000000.00"), 100000000);
}

static void trailing_zeros_beyond_two_decimals_are_accepted(void **state)
{
    (void)state;
    assert_int_equal(parsed("1.230"), 123);
    assert_int_equal(parsed("1.2500000"), 125);
}

static void a_third_significant_decimal_is_refused(void **state)
{
    (void)state;
    refused("1.234");
    refused("0.001");
    refused("10.001");
}

static void anything_but_a_plain_decimal_is_refused(void **state)
{
    (void)state;
    refused("");
    refused("+1");
    refused(" 1");
    refused("1 ");
    refused("1e2");
    refused("1.");
    refused(".5");
    refused("-");
    refused("abc");
    refused("1,5");
    refused("--1");
}

static void overflow_is_refused_and_extremes_parse(void **state)
{
    (void)state;
    assert_int_equal(parsed("92233720368547758.07"), INT64_MAX);
    assert_int_equal(parsed("-92233720368547758.08"), INT64_MIN);
    refused("92233720368547758.08");
    refused("-92233720368547758.09");
    refused("99999999999999999999");
}

static oms_err number(const char *text, int64_t *cents) { return oms_money_parse_number(text, strlen(text), cents); }

static int64_t number_ok(const char *text)
{
    int64_t c = -12345;
    assert_int_equal(number(text, &c), OMS_OK);
    return c;
}

static void json_number_texts_parse_exactly_exponents_included(void **state)
{
    (void)state;
    assert_int_equal(number_ok("10.25"), 1025);
    assert_int_equal(number_ok("1.025e1"), 1025);
    assert_int_equal(number_ok("1025E-2"), 1025);
    assert_int_equal(number_ok("1e+2"), 10000);
    assert_int_equal(number_ok("0.000e5"), 0);
    assert_int_equal(number_ok("0e-999999999999"), 0);
    assert_int_equal(number_ok("-0.50"), -50);
    assert_int_equal(number_ok("10.5000000000000000000000000000"), 1050);
    assert_int_equal(number_ok("92233720368547758.07"), INT64_MAX);
}

static void json_number_texts_below_a_cent_or_too_large_are_refused(void **state)
{
    (void)state;
    int64_t c = 77;
    assert_int_equal(number("10.0000000000000001", &c), OMS_EINVAL);
    assert_int_equal(number("1.0001e1", &c), OMS_EINVAL);
    assert_int_equal(number("1e-3", &c), OMS_EINVAL);
    assert_int_equal(number("5e-999999999999", &c), OMS_EINVAL);
    assert_int_equal(number("1e17", &c), OMS_ETOOLARGE);
    assert_int_equal(number("1e999999999999", &c), OMS_ETOOLARGE);
    assert_int_equal(number("92233720368547758.08", &c), OMS_ETOOLARGE);
    assert_int_equal(number("123456789012345678901234567890", &c), OMS_ETOOLARGE);
    assert_int_equal(number("1e", &c), OMS_EINVAL);
    assert_int_equal(number("1.e2", &c), OMS_EINVAL);
    assert_int_equal(number("e2", &c), OMS_EINVAL);
    assert_int_equal(number("1e2x", &c), OMS_EINVAL);
    assert_int_equal(c, 77);
    assert_int_equal(oms_money_parse_number("10.255", 4, &c), OMS_OK); /* only len bytes count */
    assert_int_equal(c, 1020);
}

static void cents_format_with_exactly_two_decimals(void **state)
{
    (void)state;
    char buf[OMS_MONEY_TEXT_MAX];
    assert_string_equal(oms_money_format(1025, buf), "10.25");
    assert_string_equal(oms_money_format(5, buf), "0.05");
    assert_string_equal(oms_money_format(-300, buf), "-3.00");
    assert_string_equal(oms_money_format(-5, buf), "-0.05");
    assert_string_equal(oms_money_format(INT64_MIN, buf), "-92233720368547758.08");
    assert_string_equal(oms_money_format(INT64_MAX, buf), "92233720368547758.07");
}

static void arithmetic_reports_overflow(void **state)
{
    (void)state;
    int64_t out = 0;
    assert_int_equal(oms_money_mul(1025, 3, &out), OMS_OK);
    assert_int_equal(out, 3075);
    assert_int_equal(oms_money_mul(INT64_MAX / 2, 3, &out), OMS_EINVAL);
    assert_int_equal(oms_money_add(INT64_MAX, 1, &out), OMS_EINVAL);
    assert_int_equal(oms_money_add(-5, 7, &out), OMS_OK);
    assert_int_equal(out, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_decimals_parse_to_cents),
        cmocka_unit_test(trailing_zeros_beyond_two_decimals_are_accepted),
        cmocka_unit_test(a_third_significant_decimal_is_refused),
        cmocka_unit_test(anything_but_a_plain_decimal_is_refused),
        cmocka_unit_test(overflow_is_refused_and_extremes_parse),
        cmocka_unit_test(json_number_texts_parse_exactly_exponents_included),
        cmocka_unit_test(json_number_texts_below_a_cent_or_too_large_are_refused),
        cmocka_unit_test(cents_format_with_exactly_two_decimals),
        cmocka_unit_test(arithmetic_reports_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
