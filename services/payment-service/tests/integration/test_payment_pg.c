/* test_payment_pg.c -- the pg adapters of payment-service, through the
 * application, against a real PostgreSQL (POSTGRES_* from the environment;
 * database TEST_DB, default "it_payments", created and migrated here).
 * Replies are read back from the outbox table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/bus_consumers.h"
#include "adapters/pg_adapters.h"
#include "application/payment_app.h"
#include "oms/json.h"
#include "oms/pg.h"
#include "oms/audit_pg.h"
#include "oms/tests/support/test_pg.h"
#include "oms/tests/support/test_tx.h"
#include "oms/util.h"

#define DEFAULT_CREDIT 100000 /* 1000.00 */

typedef struct fixture {
    test_pg_fixture db;
    account_repo accounts;
    payment_repo payments;
    oms_reply_outbox replies;
    oms_audit_log audit;
    payment_app app;
    oms_saga_consumer consumer;
} fixture;

static fixture fx;

/* ---- helpers ---- */

static PGresult *query(const char *sql, int n, const char *const *params)
{
    return test_pg_query(fx.db.pool, fx.db.arena, sql, n, params);
}

static int64_t query_int(const char *sql, int n, const char *const *params)
{
    return test_pg_query_int(fx.db.pool, fx.db.arena, sql, n, params);
}

static void open_account(const char *customer, int64_t cents)
{
    oms_error err;
    account a = {.customer_id = customer, .balance_cents = cents};
    assert_int_equal(payment_open_account(&fx.app, fx.db.arena, oms_principal_local_admin(), &a, &err), OMS_OK);
}

static int64_t balance(const char *customer)
{
    oms_error err;
    account a;
    assert_int_equal(payment_get_account(&fx.app, fx.db.arena, oms_principal_local_admin(), customer, &a, &err),
                     OMS_OK);
    return a.balance_cents;
}

static payment payment_of(const char *order_id)
{
    oms_error err;
    payment p;
    assert_int_equal(payment_get_payment(&fx.app, fx.db.arena, oms_principal_local_admin(), order_id, &p, &err),
                     OMS_OK);
    return p;
}

typedef struct command_args {
    oms_arena *arena;
    oms_command_origin origin;
    const char *customer_id;
    int64_t amount_cents;
} command_args;

/* Message commands run in their own transaction, as the inbox would
 * (test_tx_run, retrying on deadlock or serialization). */
static oms_err do_charge(void *args, oms_tx *tx, oms_error *err)
{
    const command_args *a = args;
    return payment_charge(&fx.app, tx, a->arena, &a->origin, a->customer_id, a->amount_cents, err);
}

static oms_err do_refund(void *args, oms_tx *tx, oms_error *err)
{
    const command_args *a = args;
    return payment_refund(&fx.app, tx, a->arena, &a->origin, a->customer_id, err);
}

static oms_err charge(const char *order_id, const char *customer, int64_t cents)
{
    command_args a = {
        .arena = fx.db.arena, .origin = test_origin(order_id, "cmd-1"), .customer_id = customer, .amount_cents = cents};
    return test_tx_run(fx.app.tx, do_charge, &a);
}

static oms_err refund(const char *order_id, const char *customer)
{
    command_args a = {.arena = fx.db.arena, .origin = test_origin(order_id, "cmd-2"), .customer_id = customer};
    return test_tx_run(fx.app.tx, do_refund, &a);
}

/* The payload of the last reply of `event_type` queued for the order. */
static json_t *last_reply(const char *order_id, const char *event_type)
{
    return test_outbox_last(fx.db.pool, fx.db.arena, order_id, event_type);
}

static long replies(const char *order_id) { return test_outbox_count(fx.db.pool, fx.db.arena, order_id); }

static int64_t reply_int(json_t *reply, const char *key) { return json_integer_value(json_object_get(reply, key)); }

/* SPEC invariant 2 for every account: opening - captured + refunded =
 * balance, the ledger agrees with the payments, and no balance is negative. */
static void assert_money_invariant(void)
{
    PGresult *r = query("SELECT a.customer_id FROM accounts a WHERE a.balance_cents < 0"
                        " OR a.balance_cents <> (SELECT coalesce(sum(delta_cents), 0) FROM account_ledger l"
                        "                        WHERE l.customer_id = a.customer_id)"
                        " OR a.balance_cents <> (SELECT coalesce(sum(delta_cents), 0) FROM account_ledger l"
                        "                        WHERE l.customer_id = a.customer_id AND kind = 'OPENING')"
                        "     - (SELECT coalesce(sum(amount_cents), 0) FROM payments p"
                        "        WHERE p.customer_id = a.customer_id AND p.status = 'CAPTURED')",
                        0, NULL);
    if (PQntuples(r) > 0)
        fail_msg("money invariant broken for customer %s", oms_pg_value(r, 0, 0));
}

/* ---- setup ---- */

static int setup_all(void **state)
{
    (void)state;
    if (test_pg_fixture_open(&fx.db, "it_payments", "services/payment-service/migrations", "payments-test") != 0)
        return -1;
    fx.accounts = pg_account_repo();
    fx.payments = pg_payment_repo();
    fx.replies = oms_saga_reply_outbox();
    fx.audit = oms_pg_audit_log();
    fx.app = (payment_app){.tx = oms_pg_tx_manager(fx.db.pool),
                           .accounts = &fx.accounts,
                           .payments = &fx.payments,
                           .replies = &fx.replies,
                           .audit = &fx.audit,
                           .default_credit_cents = DEFAULT_CREDIT};
    fx.consumer = payment_consumer(fx.db.pool, &fx.app);
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    test_pg_fixture_close(&fx.db);
    return 0;
}

static int clean(void **state)
{
    (void)state;
    test_pg_fixture_clean(&fx.db, "TRUNCATE accounts, payments, account_ledger, outbox, inbox");
    return 0;
}

/* ---- tests ---- */

/* An account opens with its balance; a second one for the customer is a
 * conflict; an unknown one is not found. */
static void account_opens_once(void **state)
{
    (void)state;
    open_account("alice", 12345);
    assert_int_equal(balance("alice"), 12345);
    oms_error err;
    account again = {.customer_id = "alice", .balance_cents = 1};
    assert_int_equal(payment_open_account(&fx.app, fx.db.arena, oms_principal_local_admin(), &again, &err),
                     OMS_ECONFLICT);
    assert_int_equal(balance("alice"), 12345);
    account a;
    assert_int_equal(payment_get_account(&fx.app, fx.db.arena, oms_principal_local_admin(), "bob", &a, &err),
                     OMS_ENOTFOUND);
    assert_money_invariant();
}

/* A covered amount is captured once; the same request again answers success
 * with the same payment and charges nothing more. */
static void payment_is_captured_once(void **state)
{
    (void)state;
    open_account("alice", 10000);
    char order[OMS_UUID_LEN + 1];
    oms_uuid_new(order);
    assert_int_equal(charge(order, "alice", 2550), OMS_OK);
    assert_int_equal(balance("alice"), 7450);
    payment p = payment_of(order);
    assert_int_equal(p.status, PAYMENT_CAPTURED);
    assert_int_equal(p.amount_cents, 2550);
    json_t *reply = last_reply(order, "PaymentProcessed");
    assert_true(json_is_true(json_object_get(reply, "success")));
    assert_int_equal(reply_int(reply, "amount_cents"), 2550);
    assert_string_equal(json_string_value(json_object_get(reply, "payment_id")), p.payment_id);

    assert_int_equal(charge(order, "alice", 2550), OMS_OK);
    assert_int_equal(balance("alice"), 7450);
    assert_int_equal(replies(order), 2);
    assert_true(json_is_true(json_object_get(last_reply(order, "PaymentProcessed"), "success")));
    assert_money_invariant();
}

/* One cent short: declined with "insufficient funds", nothing taken, and the
 * same answer again even after money arrives elsewhere. */
static void short_balance_is_declined_and_remembered(void **state)
{
    (void)state;
    open_account("alice", 999);
    char order[OMS_UUID_LEN + 1];
    oms_uuid_new(order);
    assert_int_equal(charge(order, "alice", 1000), OMS_OK);
    assert_int_equal(balance("alice"), 999);
    json_t *reply = last_reply(order, "PaymentProcessed");
    assert_true(json_is_false(json_object_get(reply, "success")));
    assert_string_equal(json_string_value(json_object_get(reply, "reason")), "insufficient funds");
    assert_int_equal(payment_of(order).status, PAYMENT_DECLINED);
    assert_int_equal(charge(order, "alice", 500), OMS_OK);
    assert_int_equal(balance("alice"), 999);
    assert_true(json_is_false(json_object_get(last_reply(order, "PaymentProcessed"), "success")));
    assert_money_invariant();
}

/* A customer without an account gets one opened with the default credit. */
static void unknown_customer_gets_default_credit(void **state)
{
    (void)state;
    char order[OMS_UUID_LEN + 1];
    oms_uuid_new(order);
    assert_int_equal(charge(order, "newcomer", 100), OMS_OK);
    assert_int_equal(balance("newcomer"), DEFAULT_CREDIT - 100);
    const char *params[] = {"newcomer"};
    assert_int_equal(
        query_int("SELECT delta_cents FROM account_ledger WHERE customer_id = $1 AND kind = 'OPENING'", 1, params),
        DEFAULT_CREDIT);
    assert_money_invariant();
}

/* A refund gives a capture back once; repeated, it answers the same amount;
 * a late request for the order fails with "refunded". */
static void refund_gives_back_once(void **state)
{
    (void)state;
    open_account("alice", 10000);
    char order[OMS_UUID_LEN + 1];
    oms_uuid_new(order);
    assert_int_equal(charge(order, "alice", 3000), OMS_OK);
    assert_int_equal(refund(order, "alice"), OMS_OK);
    assert_int_equal(balance("alice"), 10000);
    assert_int_equal(payment_of(order).status, PAYMENT_REFUNDED);
    assert_int_equal(reply_int(last_reply(order, "PaymentRefunded"), "amount_cents"), 3000);
    assert_int_equal(refund(order, "alice"), OMS_OK);
    assert_int_equal(balance("alice"), 10000);
    assert_int_equal(reply_int(last_reply(order, "PaymentRefunded"), "amount_cents"), 3000);
    assert_int_equal(charge(order, "alice", 3000), OMS_OK);
    assert_int_equal(balance("alice"), 10000);
    json_t *reply = last_reply(order, "PaymentProcessed");
    assert_true(json_is_false(json_object_get(reply, "success")));
    assert_string_equal(json_string_value(json_object_get(reply, "reason")), "refunded");
    assert_money_invariant();
}

/* A refund before any payment leaves a tombstone: the late request never
 * charges, and a declined payment refunds 0. */
static void refund_before_payment_blocks_the_charge(void **state)
{
    (void)state;
    open_account("alice", 10000);
    char order[OMS_UUID_LEN + 1];
    oms_uuid_new(order);
    assert_int_equal(refund(order, "alice"), OMS_OK);
    assert_int_equal(reply_int(last_reply(order, "PaymentRefunded"), "amount_cents"), 0);
    payment p = payment_of(order);
    assert_int_equal(p.status, PAYMENT_DECLINED);
    assert_string_equal(p.reason, "cancelled before payment");
    assert_int_equal(charge(order, "alice", 100), OMS_OK);
    assert_int_equal(balance("alice"), 10000);
    json_t *reply = last_reply(order, "PaymentProcessed");
    assert_true(json_is_false(json_object_get(reply, "success")));
    assert_string_equal(json_string_value(json_object_get(reply, "reason")), "cancelled before payment");
    assert_money_invariant();
}

/* ---- concurrency ---- */

#define THREADS 12

typedef struct worker {
    char order[OMS_UUID_LEN + 1];
    const char *customer;
    int64_t cents;
    oms_err rc;
} worker;

static void *charge_worker(void *p)
{
    worker *w = p;
    oms_arena *a = oms_arena_create(0);
    command_args args = {
        .arena = a, .origin = test_origin(w->order, "cmd-c"), .customer_id = w->customer, .amount_cents = w->cents};
    w->rc = test_tx_run(fx.app.tx, do_charge, &args);
    oms_arena_destroy(a);
    return NULL;
}

static void run_workers(worker *w, size_t n) { test_run_threads(charge_worker, w, n, sizeof *w); }

/* Many orders of one customer at once never overdraw: exactly as many are
 * captured as the balance covers. */
static void concurrent_charges_never_overdraw(void **state)
{
    (void)state;
    open_account("alice", 1000);
    worker w[THREADS];
    for (size_t i = 0; i < THREADS; i++) {
        oms_uuid_new(w[i].order);
        w[i].customer = "alice";
        w[i].cents = 300;
    }
    run_workers(w, THREADS);
    for (size_t i = 0; i < THREADS; i++)
        assert_int_equal(w[i].rc, OMS_OK);
    assert_int_equal(query_int("SELECT count(*) FROM payments WHERE status = 'CAPTURED'", 0, NULL), 3);
    assert_int_equal(balance("alice"), 100);
    assert_money_invariant();
}

/* A new customer's first orders racing to open the account open it once. */
static void concurrent_first_charges_open_one_account(void **state)
{
    (void)state;
    worker w[THREADS];
    for (size_t i = 0; i < THREADS; i++) {
        oms_uuid_new(w[i].order);
        w[i].customer = "racer";
        w[i].cents = 100;
    }
    run_workers(w, THREADS);
    for (size_t i = 0; i < THREADS; i++)
        assert_int_equal(w[i].rc, OMS_OK);
    assert_int_equal(balance("racer"), DEFAULT_CREDIT - THREADS * 100);
    assert_int_equal(query_int("SELECT count(*) FROM account_ledger WHERE kind = 'OPENING'", 0, NULL), 1);
    assert_money_invariant();
}

/* The same request delivered many times at once charges once. */
static void same_request_at_once_charges_once(void **state)
{
    (void)state;
    open_account("alice", 10000);
    worker w[THREADS];
    char order[OMS_UUID_LEN + 1];
    oms_uuid_new(order);
    for (size_t i = 0; i < THREADS; i++) {
        memcpy(w[i].order, order, sizeof order);
        w[i].customer = "alice";
        w[i].cents = 700;
    }
    run_workers(w, THREADS);
    /* A loser of the race on the order's key gets a conflict, which the bus
     * turns into a redelivery; the retried message then answers again. */
    for (size_t i = 0; i < THREADS; i++)
        assert_true(w[i].rc == OMS_OK || w[i].rc == OMS_ECONFLICT);
    assert_int_equal(balance("alice"), 9300);
    assert_int_equal(query_int("SELECT count(*) FROM payments", 0, NULL), 1);
    assert_money_invariant();
}

/* ---- the message path ---- */

static oms_bus_disposition deliver(const char *event_id, const char *event_type, const char *order_id,
                                   const char *payload_json)
{
    const oms_msg_def *commands = oms_msg_def_of(OMS_MSG_PAYMENT_REQUESTED);
    return test_deliver(oms_saga_consume, &fx.consumer, commands->topic, commands->consumer, event_id, event_type,
                        order_id, payload_json);
}

/* A message is handled once per event id; a re-sent command (new event id)
 * is answered again without charging again; garbage is dead-lettered. */
static void messages_are_handled_once(void **state)
{
    (void)state;
    open_account("alice", 10000);
    char order[OMS_UUID_LEN + 1], event1[OMS_UUID_LEN + 1], event2[OMS_UUID_LEN + 1];
    oms_uuid_new(order);
    oms_uuid_new(event1);
    oms_uuid_new(event2);
    const char *payload = "{\"command_id\":\"c-9\",\"customer_id\":\"alice\",\"amount_cents\":1234}";
    assert_int_equal(deliver(event1, "PaymentRequested", order, payload), OMS_BUS_ACK);
    assert_int_equal(deliver(event1, "PaymentRequested", order, payload), OMS_BUS_ACK);
    assert_int_equal(replies(order), 1);
    assert_int_equal(deliver(event2, "PaymentRequested", order, payload), OMS_BUS_ACK);
    assert_int_equal(replies(order), 2);
    assert_int_equal(balance("alice"), 10000 - 1234);
    assert_string_equal(json_string_value(json_object_get(last_reply(order, "PaymentProcessed"), "command_id")), "c-9");

    char event3[OMS_UUID_LEN + 1];
    oms_uuid_new(event3);
    assert_int_equal(deliver(event3, "RefundRequested", order,
                             "{\"command_id\":\"c-10\",\"customer_id\":\"alice\",\"reason\":\"x\"}"),
                     OMS_BUS_ACK);
    assert_int_equal(balance("alice"), 10000);

    char event4[OMS_UUID_LEN + 1];
    oms_uuid_new(event4);
    assert_int_equal(deliver(event4, "PaymentRequested", order, "{\"command_id\":\"c\",\"customer_id\":\"alice\"}"),
                     OMS_BUS_DEAD);
    oms_uuid_new(event4);
    assert_int_equal(deliver(event4, "Nonsense", order, "{\"command_id\":\"c\"}"), OMS_BUS_DEAD);
    assert_money_invariant();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(account_opens_once, clean),
        cmocka_unit_test_setup(payment_is_captured_once, clean),
        cmocka_unit_test_setup(short_balance_is_declined_and_remembered, clean),
        cmocka_unit_test_setup(unknown_customer_gets_default_credit, clean),
        cmocka_unit_test_setup(refund_gives_back_once, clean),
        cmocka_unit_test_setup(refund_before_payment_blocks_the_charge, clean),
        cmocka_unit_test_setup(concurrent_charges_never_overdraw, clean),
        cmocka_unit_test_setup(concurrent_first_charges_open_one_account, clean),
        cmocka_unit_test_setup(same_request_at_once_charges_once, clean),
        cmocka_unit_test_setup(messages_are_handled_once, clean),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
