/* test_inventory_domain.c -- the stock and reservation rules, without I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "domain/inventory.h"

/* A new product with a valid id, name and stock is accepted. */
static void valid_new_product_is_accepted(void **state)
{
    (void)state;
    product p = {.product_id = "product-1", .name = "Widget", .stock = 10};
    assert_int_equal(inventory_validate_new_product(&p, NULL), OMS_OK);
}

/* An id over 64 characters is refused, naming the field. */
static void product_id_over_64_characters_is_refused(void **state)
{
    (void)state;
    char id[66];
    memset(id, 'x', 65);
    id[65] = '\0';
    product p = {.product_id = id, .name = "Widget", .stock = 1};
    oms_error err;
    assert_int_equal(inventory_validate_new_product(&p, &err), OMS_EINVAL);
    assert_string_equal(err.field, "product_id");
    id[64] = '\0';
    assert_int_equal(inventory_validate_new_product(&p, &err), OMS_OK);
}

/* An empty name, a negative stock, or a stock over 10^9 are refused. */
static void bad_name_or_stock_is_refused(void **state)
{
    (void)state;
    oms_error err;
    product p = {.product_id = "p", .name = "", .stock = 1};
    assert_int_equal(inventory_validate_new_product(&p, &err), OMS_EINVAL);
    assert_string_equal(err.field, "name");
    p.name = "n";
    p.stock = -1;
    assert_int_equal(inventory_validate_new_product(&p, &err), OMS_EINVAL);
    assert_string_equal(err.field, "stock");
    p.stock = INVENTORY_STOCK_MAX + 1;
    assert_int_equal(inventory_validate_new_product(&p, &err), OMS_EINVAL);
    p.stock = INVENTORY_STOCK_MAX;
    assert_int_equal(inventory_validate_new_product(&p, &err), OMS_OK);
}

/* A restock of 0 or one that would pass the total bound is refused. */
static void restock_quantity_is_bounded(void **state)
{
    (void)state;
    oms_error err;
    product p = {.product_id = "p", .name = "n", .stock = 5, .reserved = 5};
    assert_int_equal(inventory_validate_restock(&p, 0, &err), OMS_EINVAL);
    assert_int_equal(inventory_validate_restock(&p, 1, &err), OMS_OK);
    p.stock = INVENTORY_TOTAL_MAX - 10;
    assert_int_equal(inventory_validate_restock(&p, 6, &err), OMS_EINVAL);
    assert_int_equal(inventory_validate_restock(&p, 5, &err), OMS_OK);
}

/* The same product twice in one order is one line with the summed quantity,
 * and lines come out sorted by product id. */
static void duplicate_lines_are_summed_and_sorted(void **state)
{
    (void)state;
    reservation_line in[] = {{"b", 2}, {"a", 1}, {"b", 3}};
    reservation_line out[3];
    size_t n = 0;
    assert_int_equal(inventory_merge_lines(in, 3, out, &n, NULL), OMS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].product_id, "a");
    assert_int_equal(out[0].quantity, 1);
    assert_string_equal(out[1].product_id, "b");
    assert_int_equal(out[1].quantity, 5);
}

/* No items, a zero quantity, or more than 100 lines are invalid requests. */
static void invalid_lines_are_refused(void **state)
{
    (void)state;
    reservation_line out[101];
    size_t n;
    oms_error err;
    assert_int_equal(inventory_merge_lines(NULL, 0, out, &n, &err), OMS_EINVAL);
    reservation_line zero[] = {{"a", 1}, {"b", 0}};
    assert_int_equal(inventory_merge_lines(zero, 2, out, &n, &err), OMS_EINVAL);
    assert_string_equal(err.field, "items[1].quantity");
    reservation_line many[101];
    for (int i = 0; i < 101; i++)
        many[i] = (reservation_line){"a", 1};
    assert_int_equal(inventory_merge_lines(many, 101, out, &n, &err), OMS_EINVAL);
    assert_int_equal(inventory_merge_lines(many, 100, out, &n, &err), OMS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].quantity, 100);
}

/* Enough stock on every line: the reservation can be made. */
static void reserve_all_when_every_line_has_stock(void **state)
{
    (void)state;
    stock_check lines[] = {{"a", 2, true, 2}, {"b", 1, true, 9}};
    char reason[INVENTORY_REASON_MAX];
    assert_true(inventory_can_reserve_all(lines, 2, reason, sizeof reason));
}

/* One short line refuses the whole order, naming that product. */
static void one_short_line_refuses_all(void **state)
{
    (void)state;
    stock_check lines[] = {{"a", 2, true, 2}, {"b", 10, true, 9}};
    char reason[INVENTORY_REASON_MAX];
    assert_false(inventory_can_reserve_all(lines, 2, reason, sizeof reason));
    assert_non_null(strstr(reason, "insufficient stock for product b"));
}

/* An unknown product refuses the whole order, naming it. */
static void unknown_product_refuses_all(void **state)
{
    (void)state;
    stock_check lines[] = {{"ghost", 1, false, 0}, {"b", 1, true, 9}};
    char reason[INVENTORY_REASON_MAX];
    assert_false(inventory_can_reserve_all(lines, 2, reason, sizeof reason));
    assert_string_equal(reason, "unknown product ghost");
}

/* A second request for an order is answered from what was recorded. */
static void repeated_request_is_answered_from_the_record(void **state)
{
    (void)state;
    assert_int_equal(inventory_plan_reserve(false, RESERVATION_RESERVED), RESERVE_ATTEMPT);
    assert_int_equal(inventory_plan_reserve(true, RESERVATION_RESERVED), RESERVE_ANSWER_SUCCESS);
    assert_int_equal(inventory_plan_reserve(true, RESERVATION_RELEASED), RESERVE_ANSWER_FAILURE);
    assert_int_equal(inventory_plan_reserve(true, RESERVATION_FAILED), RESERVE_ANSWER_FAILURE);
    assert_string_equal(inventory_repeated_failure_reason(RESERVATION_RELEASED, NULL), "released");
    assert_string_equal(inventory_repeated_failure_reason(RESERVATION_FAILED, "unknown product x"),
                        "unknown product x");
}

/* A release gives back a RESERVED reservation, tombstones a missing one, and
 * only repeats the answer otherwise. */
static void release_plans_follow_the_state(void **state)
{
    (void)state;
    assert_int_equal(inventory_plan_release(true, RESERVATION_RESERVED), RELEASE_GIVE_BACK);
    assert_int_equal(inventory_plan_release(false, RESERVATION_RESERVED), RELEASE_TOMBSTONE);
    assert_int_equal(inventory_plan_release(true, RESERVATION_RELEASED), RELEASE_ANSWER);
    assert_int_equal(inventory_plan_release(true, RESERVATION_FAILED), RELEASE_ANSWER);
    assert_true(inventory_repeated_release_flag(RESERVATION_RELEASED, 2));
    assert_false(inventory_repeated_release_flag(RESERVATION_RELEASED, 0));
    assert_false(inventory_repeated_release_flag(RESERVATION_FAILED, 0));
}

/* RESERVED -> RELEASED is the only transition. */
static void only_reserved_moves_to_released(void **state)
{
    (void)state;
    assert_true(reservation_can_transition(RESERVATION_RESERVED, RESERVATION_RELEASED));
    assert_false(reservation_can_transition(RESERVATION_RELEASED, RESERVATION_RESERVED));
    assert_false(reservation_can_transition(RESERVATION_FAILED, RESERVATION_RELEASED));
    assert_false(reservation_can_transition(RESERVATION_FAILED, RESERVATION_RESERVED));
}

/* State names round-trip; anything else is refused. */
static void state_names_round_trip(void **state)
{
    (void)state;
    reservation_state s;
    for (int i = RESERVATION_RESERVED; i <= RESERVATION_FAILED; i++) {
        assert_true(reservation_state_parse(reservation_state_name((reservation_state)i), &s));
        assert_int_equal(s, i);
    }
    assert_false(reservation_state_parse("reserved", &s));
    assert_string_equal(stock_change_kind_name(STOCK_RELEASE), "RELEASE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_new_product_is_accepted),
        cmocka_unit_test(product_id_over_64_characters_is_refused),
        cmocka_unit_test(bad_name_or_stock_is_refused),
        cmocka_unit_test(restock_quantity_is_bounded),
        cmocka_unit_test(duplicate_lines_are_summed_and_sorted),
        cmocka_unit_test(invalid_lines_are_refused),
        cmocka_unit_test(reserve_all_when_every_line_has_stock),
        cmocka_unit_test(one_short_line_refuses_all),
        cmocka_unit_test(unknown_product_refuses_all),
        cmocka_unit_test(repeated_request_is_answered_from_the_record),
        cmocka_unit_test(release_plans_follow_the_state),
        cmocka_unit_test(only_reserved_moves_to_released),
        cmocka_unit_test(state_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
