/* test_payment_application.c -- payment's commands and queries over the
 * in-memory ports: what is stored, what is answered, and that a failing
 * step leaves nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "memory_adapters.h"

#define DEFAULT_CREDIT 100000
#define ORDER "22222222-2222-4222-8222-222222222222"
#define ADMIN oms_principal_local_admin()

static const oms_principal alice = {.role = OMS_ROLE_CUSTOMER, .subject = "alice", .id = "key:a"};
static const oms_principal bob = {.role = OMS_ROLE_CUSTOMER, .subject = "bob", .id = "key:b"};
static const oms_principal operator= {.role = OMS_ROLE_OPERATOR, .subject = NULL, .id = "key:o"};

static memory_world world;
static oms_arena *arena;
static const oms_command_origin origin = {
    .saga_id = ORDER, .order_id = ORDER, .correlation_id = "", .command_id = "c1"};

static int setup(void **state)
{
    (void)state;
    memory_world_init(&world, DEFAULT_CREDIT);
    arena = oms_arena_create(0);
    return arena ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    oms_arena_destroy(arena);
    return 0;
}

static void open_account(const char *id, int64_t cents)
{
    account a = {.customer_id = id, .balance_cents = cents};
    assert_int_equal(payment_open_account(&world.app, arena, ADMIN, &a, NULL), OMS_OK);
}

static int64_t balance(const char *id)
{
    account a;
    assert_int_equal(payment_get_account(&world.app, arena, ADMIN, id, &a, NULL), OMS_OK);
    return a.balance_cents;
}

/* Runs a message command as the inbox does: in one transaction, committed
 * only when the command succeeded. */
static oms_err charge(const char *customer, int64_t cents)
{
    oms_error err;
    oms_tx *tx = test_tx_begin(world.app.tx);
    return test_tx_end(world.app.tx, tx, payment_charge(&world.app, tx, arena, &origin, customer, cents, &err));
}

static oms_err refund(const char *customer)
{
    oms_error err;
    oms_tx *tx = test_tx_begin(world.app.tx);
    return test_tx_end(world.app.tx, tx, payment_refund(&world.app, tx, arena, &origin, customer, &err));
}

static const test_reply *last_event(void) { return test_reply_last(&world.committed.replies); }

/* An account opens once; a second open is a conflict and changes nothing. */
static void account_opens_once(void **state)
{
    (void)state;
    open_account("alice", 500);
    account again = {.customer_id = "alice", .balance_cents = 1};
    assert_int_equal(payment_open_account(&world.app, arena, ADMIN, &again, NULL), OMS_ECONFLICT);
    assert_int_equal(balance("alice"), 500);
    assert_int_equal(world.committed.ledger_count, 1);
}

/* A covered charge is captured once; repeated, it answers success with the
 * same payment id and takes nothing more. */
static void charge_captures_once(void **state)
{
    (void)state;
    open_account("alice", 500);
    assert_int_equal(charge("alice", 200), OMS_OK);
    assert_int_equal(balance("alice"), 300);
    assert_true(last_event()->success);
    char payment_id[64];
    strcpy(payment_id, last_event()->payment_id);
    assert_int_equal(charge("alice", 200), OMS_OK);
    assert_int_equal(balance("alice"), 300);
    assert_true(last_event()->success);
    assert_string_equal(last_event()->payment_id, payment_id);
    assert_int_equal(world.committed.payment_count, 1);
}

/* A customer with no account is opened with the default credit first. */
static void unknown_customer_opens_with_default_credit(void **state)
{
    (void)state;
    assert_int_equal(charge("newcomer", 250), OMS_OK);
    assert_int_equal(balance("newcomer"), DEFAULT_CREDIT - 250);
    assert_int_equal(world.committed.ledger[0].kind, ACCOUNT_OPENING);
    assert_int_equal(world.committed.ledger[0].delta, DEFAULT_CREDIT);
}

/* Short by a cent: declined "insufficient funds", nothing taken. */
static void short_balance_declines(void **state)
{
    (void)state;
    open_account("alice", 199);
    assert_int_equal(charge("alice", 200), OMS_OK);
    assert_int_equal(balance("alice"), 199);
    assert_false(last_event()->success);
    assert_string_equal(last_event()->reason, "insufficient funds");
    payment p;
    assert_int_equal(payment_get_payment(&world.app, arena, ADMIN, ORDER, &p, NULL), OMS_OK);
    assert_int_equal(p.status, PAYMENT_DECLINED);
}

/* A negative amount is answered with a failure and records nothing. */
static void invalid_amount_is_answered_not_recorded(void **state)
{
    (void)state;
    open_account("alice", 500);
    assert_int_equal(charge("alice", -5), OMS_OK);
    assert_false(last_event()->success);
    assert_non_null(strstr(last_event()->reason, "invalid request"));
    assert_int_equal(world.committed.payment_count, 0);
    assert_int_equal(balance("alice"), 500);
}

/* When the reply cannot be queued, nothing is charged or recorded. */
static void failed_reply_leaves_nothing(void **state)
{
    (void)state;
    open_account("alice", 500);
    world.fail_events = true;
    assert_int_equal(charge("alice", 200), OMS_EUNAVAILABLE);
    world.fail_events = false;
    assert_int_equal(balance("alice"), 500);
    assert_int_equal(world.committed.payment_count, 0);
}

/* A refund credits a capture back once; repeated, it answers the same
 * amount; a late charge fails with "refunded". */
static void refund_gives_back_once(void **state)
{
    (void)state;
    open_account("alice", 500);
    assert_int_equal(charge("alice", 200), OMS_OK);
    assert_int_equal(refund("alice"), OMS_OK);
    assert_int_equal(balance("alice"), 500);
    assert_int_equal(last_event()->type, OMS_MSG_PAYMENT_REFUNDED);
    assert_int_equal(last_event()->amount_cents, 200);
    assert_int_equal(refund("alice"), OMS_OK);
    assert_int_equal(balance("alice"), 500);
    assert_int_equal(last_event()->amount_cents, 200);
    assert_int_equal(charge("alice", 200), OMS_OK);
    assert_int_equal(balance("alice"), 500);
    assert_false(last_event()->success);
    assert_string_equal(last_event()->reason, "refunded");
}

/* A refund before any charge leaves a tombstone: refunded 0, and the late
 * charge fails with "cancelled before payment". */
static void refund_first_blocks_the_charge(void **state)
{
    (void)state;
    open_account("alice", 500);
    assert_int_equal(refund("alice"), OMS_OK);
    assert_int_equal(last_event()->amount_cents, 0);
    assert_int_equal(charge("alice", 100), OMS_OK);
    assert_int_equal(balance("alice"), 500);
    assert_false(last_event()->success);
    assert_string_equal(last_event()->reason, "cancelled before payment");
}

/* A refund of a declined payment answers 0 and changes nothing. */
static void refund_of_declined_answers_zero(void **state)
{
    (void)state;
    open_account("alice", 10);
    assert_int_equal(charge("alice", 100), OMS_OK);
    assert_int_equal(refund("alice"), OMS_OK);
    assert_int_equal(last_event()->amount_cents, 0);
    assert_int_equal(balance("alice"), 10);
    payment p;
    assert_int_equal(payment_get_payment(&world.app, arena, ADMIN, ORDER, &p, NULL), OMS_OK);
    assert_int_equal(p.status, PAYMENT_DECLINED);
}

/* SPEC 7: an opening balance is money; only an admin opens an account. */
static void only_an_admin_opens_an_account(void **state)
{
    (void)state;
    account a = {.customer_id = "alice", .balance_cents = 100000000};
    oms_error err;
    assert_int_equal(payment_open_account(&world.app, arena, &alice, &a, &err), OMS_EFORBIDDEN);
    assert_int_equal(payment_open_account(&world.app, arena, &operator, & a, &err), OMS_EFORBIDDEN);
    assert_int_equal(payment_get_account(&world.app, arena, ADMIN, "alice", &a, &err), OMS_ENOTFOUND);
    assert_int_equal(payment_open_account(&world.app, arena, ADMIN, &a, &err), OMS_OK);
}

/* A customer reads its own account and payments; another's answer as if
 * there were none (SPEC 7: nothing to enumerate). */
static void a_customer_reads_only_its_own_account_and_payments(void **state)
{
    (void)state;
    open_account("alice", 10000);
    assert_int_equal(charge("alice", 2500), OMS_OK);
    account a;
    payment p;
    oms_error mine, theirs, none;
    assert_int_equal(payment_get_account(&world.app, arena, &alice, "alice", &a, &mine), OMS_OK);
    assert_int_equal(payment_get_account(&world.app, arena, &bob, "alice", &a, &theirs), OMS_ENOTFOUND);
    assert_int_equal(payment_get_account(&world.app, arena, &bob, "carol", &a, &none), OMS_ENOTFOUND);
    assert_int_equal(payment_get_payment(&world.app, arena, &alice, ORDER, &p, &mine), OMS_OK);
    assert_string_equal(p.customer_id, "alice");
    assert_int_equal(payment_get_payment(&world.app, arena, &bob, ORDER, &p, &theirs), OMS_ENOTFOUND);
    assert_string_equal(theirs.message, "no payment for order " ORDER);
    assert_int_equal(payment_get_payment(&world.app, arena, &operator, ORDER, &p, &mine), OMS_OK);
}

/* An account an admin opens has one audit row with its opening balance;
 * a refused opening (a duplicate, not an admin) none, and a charge (the
 * saga's, not a person's write) none (issue 12 item 7). */
static void an_opened_account_has_one_audit_row(void **state)
{
    (void)state;
    const test_audit_rows *rows = &world.committed.audit;
    open_account("alice", 500);
    account again = {.customer_id = "alice", .balance_cents = 1};
    assert_int_equal(payment_open_account(&world.app, arena, ADMIN, &again, NULL), OMS_ECONFLICT);
    account other = {.customer_id = "carol", .balance_cents = 1};
    assert_int_equal(payment_open_account(&world.app, arena, &operator, & other, NULL), OMS_EFORBIDDEN);
    assert_int_equal(charge("alice", 200), OMS_OK);
    assert_int_equal(rows->count, 1);
    assert_string_equal(rows->rows[0].action, "account.open");
    assert_string_equal(rows->rows[0].target, "account:alice");
    assert_string_equal(rows->rows[0].role, "admin");
    assert_string_equal(rows->rows[0].before, "");
    assert_string_equal(rows->rows[0].after, "customer_id=alice,balance=500");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(only_an_admin_opens_an_account, setup, teardown),
        cmocka_unit_test_setup_teardown(an_opened_account_has_one_audit_row, setup, teardown),
        cmocka_unit_test_setup_teardown(a_customer_reads_only_its_own_account_and_payments, setup, teardown),
        cmocka_unit_test_setup_teardown(account_opens_once, setup, teardown),
        cmocka_unit_test_setup_teardown(charge_captures_once, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_customer_opens_with_default_credit, setup, teardown),
        cmocka_unit_test_setup_teardown(short_balance_declines, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_amount_is_answered_not_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_reply_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(refund_gives_back_once, setup, teardown),
        cmocka_unit_test_setup_teardown(refund_first_blocks_the_charge, setup, teardown),
        cmocka_unit_test_setup_teardown(refund_of_declined_answers_zero, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
