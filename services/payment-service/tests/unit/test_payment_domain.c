/* test_payment_domain.c -- the account and payment rules, without I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "domain/payment.h"

/* An account with a valid id and a balance from 0 to 1,000,000,000.00 opens. */
static void valid_account_is_accepted(void **state)
{
    (void)state;
    account a = {.customer_id = "c-1", .balance_cents = 0};
    assert_int_equal(payment_validate_new_account(&a, NULL), OMS_OK);
    a.balance_cents = PAYMENT_BALANCE_MAX_CENTS;
    assert_int_equal(payment_validate_new_account(&a, NULL), OMS_OK);
}

/* A negative balance or one above the bound is refused, naming the field. */
static void balance_out_of_range_is_refused(void **state)
{
    (void)state;
    oms_error err;
    account a = {.customer_id = "c-1", .balance_cents = -1};
    assert_int_equal(payment_validate_new_account(&a, &err), OMS_EINVAL);
    assert_string_equal(err.field, "balance");
    a.balance_cents = PAYMENT_BALANCE_MAX_CENTS + 1;
    assert_int_equal(payment_validate_new_account(&a, &err), OMS_EINVAL);
}

/* An empty customer id or one over 64 characters is refused. */
static void bad_customer_id_is_refused(void **state)
{
    (void)state;
    char id[66];
    memset(id, 'c', 65);
    id[65] = '\0';
    oms_error err;
    assert_int_equal(payment_validate_customer_id(id, "customer_id", &err), OMS_EINVAL);
    assert_string_equal(err.field, "customer_id");
    id[64] = '\0';
    assert_int_equal(payment_validate_customer_id(id, "customer_id", &err), OMS_OK);
    assert_int_equal(payment_validate_customer_id("", "customer_id", &err), OMS_EINVAL);
}

/* A balance that covers the amount captures it, to the last cent. */
static void enough_balance_captures(void **state)
{
    (void)state;
    const char *reason = "x";
    assert_int_equal(payment_decide(1000, 1000, &reason), PAYMENT_CAPTURED);
    assert_null(reason);
    assert_int_equal(payment_decide(1000, 0, &reason), PAYMENT_CAPTURED);
}

/* One cent short declines with "insufficient funds". */
static void short_balance_declines(void **state)
{
    (void)state;
    const char *reason = NULL;
    assert_int_equal(payment_decide(999, 1000, &reason), PAYMENT_DECLINED);
    assert_string_equal(reason, "insufficient funds");
}

/* A negative amount is refused. */
static void negative_amount_is_refused(void **state)
{
    (void)state;
    assert_int_equal(payment_validate_amount(-1, NULL), OMS_EINVAL);
    assert_int_equal(payment_validate_amount(0, NULL), OMS_OK);
}

/* A repeated request answers what was recorded: success for CAPTURED,
 * the stored reason for DECLINED, "refunded" for REFUNDED. */
static void repeated_request_answers_the_record(void **state)
{
    (void)state;
    const char *reason = "x";
    assert_true(payment_repeated_answer(PAYMENT_CAPTURED, NULL, &reason));
    assert_null(reason);
    assert_false(payment_repeated_answer(PAYMENT_DECLINED, "cancelled before payment", &reason));
    assert_string_equal(reason, "cancelled before payment");
    assert_false(payment_repeated_answer(PAYMENT_REFUNDED, NULL, &reason));
    assert_string_equal(reason, "refunded");
}

/* A refund gives back CAPTURED, tombstones a missing payment, and only
 * repeats the answer for REFUNDED or DECLINED. */
static void refund_plans_follow_the_status(void **state)
{
    (void)state;
    assert_int_equal(payment_plan_refund(true, PAYMENT_CAPTURED), REFUND_GIVE_BACK);
    assert_int_equal(payment_plan_refund(false, PAYMENT_CAPTURED), REFUND_TOMBSTONE);
    assert_int_equal(payment_plan_refund(true, PAYMENT_REFUNDED), REFUND_ANSWER);
    assert_int_equal(payment_plan_refund(true, PAYMENT_DECLINED), REFUND_ANSWER);
    assert_int_equal(payment_repeated_refund_amount(PAYMENT_REFUNDED, 250), 250);
    assert_int_equal(payment_repeated_refund_amount(PAYMENT_DECLINED, 250), 0);
}

/* CAPTURED -> REFUNDED is the only transition. */
static void only_captured_moves_to_refunded(void **state)
{
    (void)state;
    assert_true(payment_can_transition(PAYMENT_CAPTURED, PAYMENT_REFUNDED));
    assert_false(payment_can_transition(PAYMENT_DECLINED, PAYMENT_REFUNDED));
    assert_false(payment_can_transition(PAYMENT_REFUNDED, PAYMENT_CAPTURED));
    assert_false(payment_can_transition(PAYMENT_DECLINED, PAYMENT_CAPTURED));
    assert_false(payment_can_transition(PAYMENT_CAPTURED, PAYMENT_DECLINED));
}

/* Status names round-trip; anything else is refused. */
static void status_names_round_trip(void **state)
{
    (void)state;
    payment_status s;
    for (int i = PAYMENT_CAPTURED; i <= PAYMENT_REFUNDED; i++) {
        assert_true(payment_status_parse(payment_status_name((payment_status)i), &s));
        assert_int_equal(s, i);
    }
    assert_false(payment_status_parse("captured", &s));
    assert_string_equal(account_change_kind_name(ACCOUNT_OPENING), "OPENING");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_account_is_accepted),
        cmocka_unit_test(balance_out_of_range_is_refused),
        cmocka_unit_test(bad_customer_id_is_refused),
        cmocka_unit_test(enough_balance_captures),
        cmocka_unit_test(short_balance_declines),
        cmocka_unit_test(negative_amount_is_refused),
        cmocka_unit_test(repeated_request_answers_the_record),
        cmocka_unit_test(refund_plans_follow_the_status),
        cmocka_unit_test(only_captured_moves_to_refunded),
        cmocka_unit_test(status_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
