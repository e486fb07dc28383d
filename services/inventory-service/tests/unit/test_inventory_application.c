/* test_inventory_application.c -- inventory's commands and queries over the
 * in-memory ports: what is stored, what is answered, and that a failing
 * step leaves nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "memory_adapters.h"

static memory_world world;
static oms_arena *arena;

static int setup(void **state)
{
    (void)state;
    memory_world_init(&world);
    arena = oms_arena_create(0);
    return arena ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    oms_arena_destroy(arena);
    return 0;
}

#define ORDER "11111111-1111-4111-8111-111111111111"

static const oms_command_origin origin = {
    .saga_id = ORDER, .order_id = ORDER, .correlation_id = "", .command_id = "c1"};

static void create(const char *id, int64_t stock)
{
    product p = {.product_id = id, .name = "thing", .stock = stock}, out;
    assert_int_equal(inventory_create_product(&world.app, arena, oms_principal_local_admin(), &p, &out, NULL), OMS_OK);
}

static int64_t stock_of(const char *id)
{
    product p;
    assert_int_equal(inventory_get_product(&world.app, arena, id, &p, NULL), OMS_OK);
    return p.stock;
}

/* Runs a message command as the inbox does: in one transaction, committed
 * only when the command succeeded. */
static oms_err reserve(const reservation_line *lines, size_t n)
{
    oms_error err;
    oms_tx *tx = test_tx_begin(world.app.tx);
    return test_tx_end(world.app.tx, tx, inventory_reserve(&world.app, tx, arena, &origin, lines, n, &err));
}

static oms_err release(void)
{
    oms_error err;
    oms_tx *tx = test_tx_begin(world.app.tx);
    return test_tx_end(world.app.tx, tx, inventory_release(&world.app, tx, arena, &origin, &err));
}

static const test_reply *last_event(void) { return test_reply_last(&world.committed.replies); }

/* The committed messages of one type (a product's creation sends its
 * ProductPriceChanged too). */
static size_t sent(oms_msg_type type)
{
    size_t n = 0;
    for (size_t i = 0; i < world.committed.replies.count; i++)
        n += world.committed.replies.replies[i].type == type;
    return n;
}

/* An invalid product is refused before anything is stored. */
static void invalid_product_is_not_stored(void **state)
{
    (void)state;
    product p = {.product_id = "p", .name = "", .stock = 1}, out;
    oms_error err;
    assert_int_equal(inventory_create_product(&world.app, arena, oms_principal_local_admin(), &p, &out, &err),
                     OMS_EINVAL);
    assert_string_equal(err.field, "name");
    assert_int_equal(world.committed.product_count, 0);
}

/* A reservation takes every line, records it with merged lines and answers
 * success with the command's id. */
static void reservation_takes_every_line(void **state)
{
    (void)state;
    create("a", 5);
    create("b", 5);
    reservation_line lines[] = {{"b", 1}, {"a", 2}, {"b", 1}};
    assert_int_equal(reserve(lines, 3), OMS_OK);
    assert_int_equal(stock_of("a"), 3);
    assert_int_equal(stock_of("b"), 3);
    reservation r;
    assert_int_equal(inventory_get_reservation(&world.app, arena, ORDER, &r, NULL), OMS_OK);
    assert_int_equal(r.line_count, 2);
    assert_int_equal(r.lines[1].quantity, 2);
    assert_int_equal(last_event()->type, OMS_MSG_INVENTORY_ALLOCATED);
    assert_string_equal(last_event()->command_id, "c1");
    assert_true(last_event()->success);
}

/* The same request twice takes stock once and answers success twice. */
static void repeated_request_reserves_once(void **state)
{
    (void)state;
    create("a", 5);
    reservation_line lines[] = {{"a", 2}};
    assert_int_equal(reserve(lines, 1), OMS_OK);
    assert_int_equal(reserve(lines, 1), OMS_OK);
    assert_int_equal(stock_of("a"), 3);
    assert_int_equal(sent(OMS_MSG_INVENTORY_ALLOCATED), 2);
    assert_true(last_event()->success);
}

/* A short line takes nothing, records FAILED (hidden from GET) and answers
 * failure naming the product; the same answer comes again later. */
static void short_line_takes_nothing(void **state)
{
    (void)state;
    create("a", 5);
    create("b", 1);
    reservation_line lines[] = {{"a", 1}, {"b", 2}};
    assert_int_equal(reserve(lines, 2), OMS_OK);
    assert_int_equal(stock_of("a"), 5);
    assert_false(last_event()->success);
    assert_non_null(strstr(last_event()->reason, "product b"));
    reservation r;
    assert_int_equal(inventory_get_reservation(&world.app, arena, ORDER, &r, NULL), OMS_ENOTFOUND);
    assert_int_equal(world.committed.reservations[0].state, RESERVATION_FAILED);
    assert_int_equal(reserve(lines, 2), OMS_OK);
    assert_false(last_event()->success);
    assert_non_null(strstr(last_event()->reason, "product b"));
}

/* Invalid lines are answered with a failure and record nothing. */
static void invalid_lines_are_answered_not_recorded(void **state)
{
    (void)state;
    create("a", 5);
    reservation_line lines[] = {{"a", 0}};
    assert_int_equal(reserve(lines, 1), OMS_OK);
    assert_false(last_event()->success);
    assert_non_null(strstr(last_event()->reason, "invalid request"));
    assert_int_equal(world.committed.reservation_count, 0);
}

/* When the reply cannot be queued, the command fails and its transaction
 * leaves no stock taken and no reservation. */
static void failed_reply_leaves_nothing(void **state)
{
    (void)state;
    create("a", 5);
    world.fail_events = true;
    reservation_line lines[] = {{"a", 2}};
    assert_int_equal(reserve(lines, 1), OMS_EUNAVAILABLE);
    world.fail_events = false;
    assert_int_equal(stock_of("a"), 5);
    assert_int_equal(world.committed.reservation_count, 0);
    assert_int_equal(sent(OMS_MSG_INVENTORY_ALLOCATED), 0);
}

/* A release gives back every line and answers released; again, it answers
 * released without giving back twice; a late request fails "released". */
static void release_gives_back_once(void **state)
{
    (void)state;
    create("a", 5);
    reservation_line lines[] = {{"a", 2}};
    assert_int_equal(reserve(lines, 1), OMS_OK);
    assert_int_equal(release(), OMS_OK);
    assert_int_equal(stock_of("a"), 5);
    assert_int_equal(last_event()->type, OMS_MSG_INVENTORY_RELEASED);
    assert_true(last_event()->released);
    assert_int_equal(release(), OMS_OK);
    assert_int_equal(stock_of("a"), 5);
    assert_true(last_event()->released);
    assert_int_equal(reserve(lines, 1), OMS_OK);
    assert_int_equal(stock_of("a"), 5);
    assert_false(last_event()->success);
    assert_string_equal(last_event()->reason, "released");
}

/* A release with nothing reserved records a tombstone and answers false. */
static void release_first_records_a_tombstone(void **state)
{
    (void)state;
    create("a", 5);
    assert_int_equal(release(), OMS_OK);
    assert_false(last_event()->released);
    reservation_line lines[] = {{"a", 1}};
    assert_int_equal(reserve(lines, 1), OMS_OK);
    assert_int_equal(stock_of("a"), 5);
    assert_false(last_event()->success);
}

/* Restock adds to stock and the ledger; an unknown product is not found. */
static void restock_adds_stock(void **state)
{
    (void)state;
    create("a", 5);
    product p;
    assert_int_equal(inventory_restock(&world.app, arena, oms_principal_local_admin(), "a", 3, &p, NULL), OMS_OK);
    assert_int_equal(p.stock, 8);
    assert_int_equal(stock_of("a"), 8);
    assert_int_equal(world.committed.ledger[world.committed.ledger_count - 1].kind, STOCK_RESTOCK);
    assert_int_equal(inventory_restock(&world.app, arena, oms_principal_local_admin(), "zz", 3, &p, NULL),
                     OMS_ENOTFOUND);
}

/* Every admin write that succeeds appends exactly one audit row, by its
 * principal and request, with the product before and after; a refused or
 * rolled-back write none (issue 12 item 7). */
static void each_admin_write_has_one_audit_row(void **state)
{
    (void)state;
    const oms_principal admin = {.role = OMS_ROLE_ADMIN, .id = "key:0123456789abcdef", .request_id = "req-1"};
    const test_audit_rows *rows = &world.committed.audit;
    product p = {.product_id = "a", .name = "thing", .stock = 5, .price_cents = 100}, out;
    assert_int_equal(inventory_create_product(&world.app, arena, &admin, &p, &out, NULL), OMS_OK);
    assert_int_equal(rows->count, 1);
    assert_string_equal(rows->rows[0].action, "product.create");
    assert_string_equal(rows->rows[0].target, "product:a");
    assert_string_equal(rows->rows[0].actor, "key:0123456789abcdef");
    assert_string_equal(rows->rows[0].role, "admin");
    assert_string_equal(rows->rows[0].request_id, "req-1");
    assert_string_equal(rows->rows[0].before, "");
    assert_string_equal(rows->rows[0].after, "product_id=a,name=thing,price=100,stock=5,reserved=0");
    assert_int_equal(inventory_create_product(&world.app, arena, &admin, &p, &out, NULL), OMS_ECONFLICT);
    assert_int_equal(inventory_restock(&world.app, arena, &admin, "a", 3, &out, NULL), OMS_OK);
    assert_int_equal(inventory_restock(&world.app, arena, &admin, "zz", 3, &out, NULL), OMS_ENOTFOUND);
    assert_int_equal(inventory_restock(&world.app, arena, &admin, "a", 0, &out, NULL), OMS_EINVAL);
    assert_int_equal(rows->count, 2);
    assert_string_equal(rows->rows[1].action, "product.restock");
    assert_string_equal(rows->rows[1].before, "product_id=a,name=thing,price=100,stock=5,reserved=0");
    assert_string_equal(rows->rows[1].after, "product_id=a,name=thing,price=100,stock=8,reserved=0");
    assert_int_equal(inventory_set_price(&world.app, arena, &admin, "a", 250, &out, NULL), OMS_OK);
    assert_int_equal(inventory_set_price(&world.app, arena, &admin, "zz", 250, &out, NULL), OMS_ENOTFOUND);
    assert_int_equal(rows->count, 3);
    assert_string_equal(rows->rows[2].action, "product.set_price");
    assert_string_equal(rows->rows[2].before, "product_id=a,name=thing,price=100,stock=8,reserved=0");
    assert_string_equal(rows->rows[2].after, "product_id=a,name=thing,price=250,stock=8,reserved=0");
    world.fail_events = true; /* the price event cannot be queued: the write and its row roll back */
    assert_int_equal(inventory_set_price(&world.app, arena, &admin, "a", 300, &out, NULL), OMS_EUNAVAILABLE);
    assert_int_equal(rows->count, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(invalid_product_is_not_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(reservation_takes_every_line, setup, teardown),
        cmocka_unit_test_setup_teardown(repeated_request_reserves_once, setup, teardown),
        cmocka_unit_test_setup_teardown(short_line_takes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_lines_are_answered_not_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_reply_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(release_gives_back_once, setup, teardown),
        cmocka_unit_test_setup_teardown(release_first_records_a_tombstone, setup, teardown),
        cmocka_unit_test_setup_teardown(restock_adds_stock, setup, teardown),
        cmocka_unit_test_setup_teardown(each_admin_write_has_one_audit_row, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
