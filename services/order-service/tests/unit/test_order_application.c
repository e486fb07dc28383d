/* test_order_application.c -- commands and queries against in-memory
 * adapters: what a command writes, in one unit of work (SPEC sections 2, 3, 5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "application/commands.h"
#include "application/queries.h"
#include "memory_adapters.h"
#include "oms/log.h"
#include "oms/tests/support/test_metrics.h"

/* Tests act as the local admin unless a test is about who may do what. */
#define ADMIN oms_principal_local_admin()

static const saga_settings cfg = {.step_timeout_s = 30, .max_attempts = 3};

typedef struct fixture {
    mem_store *m;
    oms_arena *a;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->m = mem_store_create(&cfg);
    f->a = oms_arena_create(0);
    *state = f;
    return f->m && f->a ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    oms_arena_destroy(f->a);
    free(f->m);
    free(f);
    return 0;
}

static order_item two_items[2] = {{"product-1", 2, 1050}, {"product-2", 1, 99}};

static order_create_request request_for(const char *customer)
{
    return (order_create_request){.customer_id = customer, .items = two_items, .item_count = 2};
}

/* Creates an order and returns its id (static buffer per call site). */
static void create(fixture *f, const char *customer, char id_out[OMS_UUID_LEN + 1])
{
    order_create_request req = request_for(customer);
    order o;
    order_create_outcome outcome;
    oms_error err;
    assert_int_equal(order_create(&f->m->app, f->a, ADMIN, &req, NULL, "req-1", &o, &outcome, &err), OMS_OK);
    assert_int_equal(outcome, ORDER_CREATE_NEW);
    memcpy(id_out, o.id, OMS_UUID_LEN + 1);
}

/* A reply delivered as the bus adapter would: inside its own transaction. */
typedef oms_err (*reply_fn)(order_app *, oms_tx *, oms_arena *, const saga_reply *, oms_error *);

/* The step whose command a reply of `fn` answers. */
static saga_step step_answered(reply_fn fn)
{
    if (fn == order_on_payment_processed)
        return SAGA_STEP_PAYMENT;
    if (fn == order_on_payment_refunded)
        return SAGA_STEP_REFUND;
    if (fn == order_on_inventory_allocated)
        return SAGA_STEP_INVENTORY;
    return SAGA_STEP_RELEASE;
}

/* A reply as the participant would send it: naming the command the saga
 * sent for that step, with the order's total as the amount. */
static oms_err deliver_reply(fixture *f, reply_fn fn, saga_reply r, oms_error *why)
{
    oms_tx *tx = NULL;
    oms_error local;
    oms_error *err_out = why ? why : &local;
    oms_error err;
    assert_int_equal(oms_tx_begin(&f->m->tx, &tx, &err), OMS_OK);
    oms_error_clear(&err);
    oms_err rc = fn(&f->m->app, tx, f->a, &r, &err);
    *err_out = err;
    if (rc == OMS_OK)
        assert_int_equal(oms_tx_commit(&f->m->tx, tx, &err), OMS_OK);
    else
        oms_tx_rollback(&f->m->tx, tx);
    return rc;
}

static oms_err deliver(fixture *f, reply_fn fn, const char *order_id, bool success, const char *reason)
{
    const mem_saga *s = mem_find_saga(f->m, order_id);
    const mem_order *o = mem_find_order(f->m, order_id);
    saga_reply r = {.order_id = order_id,
                    .event_id = "abababab-0000-4000-8000-000000000001",
                    .success = success,
                    .reason = reason,
                    .command_id = s ? s->s.sent[step_answered(fn)] : NULL,
                    .amount_cents = o ? o->total_cents : 0};
    return deliver_reply(f, fn, r, NULL);
}

static order_status status_of(fixture *f, const char *id)
{
    const mem_order *o = mem_find_order(f->m, id);
    const mem_order *v = mem_find_view(f->m, id);
    assert_non_null(o);
    assert_non_null(v);
    assert_int_equal(o->status, v->status); /* the read model never lags */
    assert_int_equal(o->status, mem_find_saga(f->m, id)->s.state);
    return o->status;
}

/* SPEC 2/3: POST /orders stores the order and asks for payment at once. */
static void create_stores_order_and_requests_payment_in_one_transaction(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "customer-1", id);
    assert_int_equal(status_of(f, id), ORDER_PENDING_PAYMENT);
    assert_int_equal(f->m->commits, 1);
    const mem_message *pay = mem_last_message(f->m, id, OMS_MSG_PAYMENT_REQUESTED);
    assert_non_null(pay);
    assert_int_equal(pay->amount_cents, 2 * 1050 + 99);
    assert_string_equal(pay->correlation_id, "req-1");
    assert_string_equal(pay->command_id, mem_find_saga(f->m, id)->s.command_id);
    assert_int_equal(mem_message_count(f->m, id, OMS_MSG_ORDER_CREATED), 1);
    assert_int_equal(mem_message_count(f->m, id, OMS_MSG_ORDER_STATUS_CHANGED), 1);
    const mem_saga *s = mem_find_saga(f->m, id);
    assert_int_equal(s->s.attempts, 1);
    assert_true(s->s.deadline_ms == f->m->now_ms + 30000);
    assert_int_equal(mem_log_count(f->m, s->s.id, SAGA_LOG_COMMAND_SENT), 1);
    assert_int_equal(mem_log_count(f->m, s->s.id, SAGA_LOG_STATE_CHANGED), 2);
}

static void invalid_create_names_the_field_and_stores_nothing(void **state)
{
    fixture *f = *state;
    order_item bad[2] = {{"product-1", 1, 100}, {"product-2", 0, 100}};
    order_create_request req = {.customer_id = "c", .items = bad, .item_count = 2};
    order o;
    order_create_outcome outcome;
    oms_error err;
    assert_int_equal(order_create(&f->m->app, f->a, ADMIN, &req, NULL, "", &o, &outcome, &err), OMS_EINVAL);
    assert_string_equal(err.field, "items[1].quantity");
    assert_int_equal(mem_order_count(f->m), 0);
    assert_int_equal(f->m->data.message_count, 0);
}

static void a_failed_write_leaves_nothing_half_done(void **state)
{
    fixture *f = *state;
    f->m->fail_outbox_after = 3; /* OrderCreated, OrderStatusChanged pass; PaymentRequested fails */
    order_create_request req = request_for("c");
    order o;
    order_create_outcome outcome;
    oms_error err;
    assert_int_equal(order_create(&f->m->app, f->a, ADMIN, &req, NULL, "", &o, &outcome, &err), OMS_EUNAVAILABLE);
    assert_int_equal(mem_order_count(f->m), 0);
    assert_int_equal(f->m->data.message_count, 0);
    assert_int_equal(f->m->data.log_count, 0);
    assert_int_equal(f->m->rollbacks, 1);
}

static void retried_post_with_same_key_returns_the_first_order(void **state)
{
    fixture *f = *state;
    order_create_request req = request_for("c");
    order first, second;
    order_create_outcome outcome;
    oms_error err;
    assert_int_equal(order_create(&f->m->app, f->a, ADMIN, &req, "key-1", "", &first, &outcome, &err), OMS_OK);
    assert_int_equal(outcome, ORDER_CREATE_NEW);
    assert_int_equal(order_create(&f->m->app, f->a, ADMIN, &req, "key-1", "", &second, &outcome, &err), OMS_OK);
    assert_int_equal(outcome, ORDER_CREATE_REPLAYED);
    assert_string_equal(first.id, second.id);
    assert_int_equal(second.status, ORDER_PENDING_PAYMENT);
    assert_int_equal(mem_order_count(f->m), 1);
}

static void same_key_with_a_different_body_conflicts(void **state)
{
    fixture *f = *state;
    order_create_request req = request_for("c");
    order o;
    order_create_outcome outcome;
    oms_error err;
    assert_int_equal(order_create(&f->m->app, f->a, ADMIN, &req, "key-1", "", &o, &outcome, &err), OMS_OK);
    req.customer_id = "someone-else";
    assert_int_equal(order_create(&f->m->app, f->a, ADMIN, &req, "key-1", "", &o, &outcome, &err), OMS_ECONFLICT);
    assert_string_equal(err.reason, ORDER_REASON_KEY_REUSED);
    assert_int_equal(mem_order_count(f->m), 1);
}

static void idempotency_keys_are_checked(void **state)
{
    (void)state;
    assert_true(order_idempotency_key_valid("abc-123"));
    assert_false(order_idempotency_key_valid(""));
    assert_false(order_idempotency_key_valid("has space"));
    assert_false(order_idempotency_key_valid("tab\t"));
    char long_key[130];
    memset(long_key, 'k', 129);
    long_key[129] = '\0';
    assert_false(order_idempotency_key_valid(long_key));
    long_key[128] = '\0';
    assert_true(order_idempotency_key_valid(long_key));
}

/* Issue 14, admission control: past the bound a new order is refused at
 * once with nothing stored; a saga that ends frees its place, and the
 * refused request's key works on the retry. */
static void past_the_bound_a_new_order_is_refused_and_stores_nothing(void **state)
{
    fixture *f = *state;
    saga_admission adm = {.max_in_flight = 2};
    f->m->app.admission = &adm;
    char first[OMS_UUID_LEN + 1], second[OMS_UUID_LEN + 1];
    create(f, "c", first);
    create(f, "c", second);
    assert_int_equal(saga_admission_in_flight(&adm), 2);
    long refused = test_metric_sum(f->a, "oms_orders_refused_total");
    order_create_request req = request_for("c");
    order o;
    order_create_outcome outcome;
    oms_error err;
    assert_int_equal(order_create(&f->m->app, f->a, ADMIN, &req, "key-3", "", &o, &outcome, &err), OMS_EUNAVAILABLE);
    assert_string_equal(err.reason, ORDER_REASON_OVERLOADED);
    assert_int_equal(mem_order_count(f->m), 2);
    assert_int_equal(test_metric_sum(f->a, "oms_orders_refused_total"), refused + 1);
    /* One saga ends (paid and reserved): its place is free again. */
    assert_int_equal(deliver(f, order_on_payment_processed, first, true, NULL), OMS_OK);
    assert_int_equal(saga_admission_in_flight(&adm), 2);
    assert_int_equal(deliver(f, order_on_inventory_allocated, first, true, NULL), OMS_OK);
    assert_int_equal(saga_admission_in_flight(&adm), 1);
    assert_int_equal(order_create(&f->m->app, f->a, ADMIN, &req, "key-3", "", &o, &outcome, &err), OMS_OK);
    assert_int_equal(outcome, ORDER_CREATE_NEW);
    assert_int_equal(saga_admission_in_flight(&adm), 2);
    /* A declined payment ends a saga too; a resync replaces the estimate. */
    assert_int_equal(deliver(f, order_on_payment_processed, second, false, "insufficient funds"), OMS_OK);
    assert_int_equal(saga_admission_in_flight(&adm), 1);
    saga_admission_resync(&adm, 7);
    assert_int_equal(saga_admission_in_flight(&adm), 7);
    assert_false(saga_admission_admits(&adm));
}

/* A retry of an order already taken is answered even past the bound; the
 * estimate never goes below 0. */
static void past_the_bound_a_stored_key_still_gets_its_order(void **state)
{
    fixture *f = *state;
    saga_admission adm = {.max_in_flight = 1};
    f->m->app.admission = &adm;
    order_create_request req = request_for("c");
    order first, again;
    order_create_outcome outcome;
    oms_error err;
    assert_int_equal(order_create(&f->m->app, f->a, ADMIN, &req, "key-1", "", &first, &outcome, &err), OMS_OK);
    assert_int_equal(order_create(&f->m->app, f->a, ADMIN, &req, "key-1", "", &again, &outcome, &err), OMS_OK);
    assert_int_equal(outcome, ORDER_CREATE_REPLAYED);
    assert_string_equal(first.id, again.id);
    assert_int_equal(saga_admission_in_flight(&adm), 1);
    saga_admission_add(&adm, -5); /* sagas another replica started ended here */
    assert_int_equal(saga_admission_in_flight(&adm), 0);
    /* Concurrent creates: the place is taken when admitted, not at commit. */
    assert_true(saga_admission_reserve(&adm));
    assert_false(saga_admission_reserve(&adm));
    saga_admission_release(&adm);
    assert_true(saga_admission_reserve(&adm));
    saga_admission_release(&adm);
    saga_admission no_bound = {.max_in_flight = 0};
    assert_true(saga_admission_reserve(&no_bound));
    saga_admission_release(&no_bound);
    assert_int_equal(saga_admission_in_flight(&no_bound), 0);
}

static void happy_path_payment_then_stock_confirms(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    assert_int_equal(deliver(f, order_on_payment_processed, id, true, NULL), OMS_OK);
    assert_int_equal(status_of(f, id), ORDER_PAYMENT_CONFIRMED);
    const mem_message *inv = mem_last_message(f->m, id, OMS_MSG_INVENTORY_REQUESTED);
    assert_non_null(inv);
    assert_int_equal(inv->item_count, 2);
    assert_string_equal(inv->correlation_id, "req-1"); /* carried from the POST */
    assert_int_equal(deliver(f, order_on_inventory_allocated, id, true, NULL), OMS_OK);
    assert_int_equal(status_of(f, id), ORDER_INVENTORY_CONFIRMED);
    const mem_saga *s = mem_find_saga(f->m, id);
    assert_true(s->s.payment_captured && s->s.stock_reserved);
    assert_true(s->s.deadline_ms == 0);
    assert_int_equal(s->s.version, 3);
}

static void declined_payment_fails_with_its_reason(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    assert_int_equal(deliver(f, order_on_payment_processed, id, false, "insufficient funds"), OMS_OK);
    assert_int_equal(status_of(f, id), ORDER_FAILED);
    assert_string_equal(mem_find_view(f->m, id)->failure_reason, "insufficient funds");
    assert_int_equal(mem_message_count(f->m, id, OMS_MSG_REFUND_REQUESTED), 0);
}

static void refused_stock_refunds_then_fails(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    deliver(f, order_on_payment_processed, id, true, NULL);
    assert_int_equal(deliver(f, order_on_inventory_allocated, id, false, "out of stock"), OMS_OK);
    assert_int_equal(status_of(f, id), ORDER_COMPENSATING);
    assert_int_equal(mem_message_count(f->m, id, OMS_MSG_REFUND_REQUESTED), 1);
    assert_int_equal(deliver(f, order_on_payment_refunded, id, true, NULL), OMS_OK);
    assert_int_equal(status_of(f, id), ORDER_FAILED);
    assert_string_equal(mem_find_order(f->m, id)->failure_reason, "out of stock");
}

static oms_err cancel(fixture *f, const char *id, const char *reason, order *o, oms_error *err)
{
    oms_error_clear(err);
    return order_cancel(&f->m->app, f->a, ADMIN, id, reason, "req-2", o, err);
}

static void cancel_while_pending_payment_refunds_and_honours_a_late_capture(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    order o;
    oms_error err;
    assert_int_equal(cancel(f, id, "changed my mind", &o, &err), OMS_OK);
    assert_int_equal(o.status, ORDER_COMPENSATING);
    assert_string_equal(o.cancellation_reason, "changed my mind");
    assert_int_equal(mem_message_count(f->m, id, OMS_MSG_REFUND_REQUESTED), 1);
    assert_int_equal(deliver(f, order_on_payment_processed, id, true, NULL), OMS_OK); /* late capture */
    assert_true(mem_find_saga(f->m, id)->s.payment_captured);
    assert_int_equal(status_of(f, id), ORDER_COMPENSATING);
    assert_int_equal(deliver(f, order_on_payment_refunded, id, true, NULL), OMS_OK);
    assert_int_equal(status_of(f, id), ORDER_CANCELLED);
    assert_false(mem_find_saga(f->m, id)->s.payment_captured);
}

static void cancel_after_confirmation_releases_stock_before_refunding(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    deliver(f, order_on_payment_processed, id, true, NULL);
    deliver(f, order_on_inventory_allocated, id, true, NULL);
    order o;
    oms_error err;
    assert_int_equal(cancel(f, id, NULL, &o, &err), OMS_OK);
    assert_int_equal(o.status, ORDER_COMPENSATING);
    assert_int_equal(mem_message_count(f->m, id, OMS_MSG_INVENTORY_RELEASE_REQUESTED), 1);
    assert_int_equal(mem_message_count(f->m, id, OMS_MSG_REFUND_REQUESTED), 0);
    assert_int_equal(deliver(f, order_on_inventory_released, id, true, NULL), OMS_OK);
    assert_int_equal(mem_message_count(f->m, id, OMS_MSG_REFUND_REQUESTED), 1);
    assert_int_equal(deliver(f, order_on_payment_refunded, id, true, NULL), OMS_OK);
    assert_int_equal(status_of(f, id), ORDER_CANCELLED);
    assert_string_equal(mem_find_order(f->m, id)->cancellation_reason, "cancelled by the client");
}

static void cancel_of_an_ended_order_conflicts_and_unknown_is_not_found(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    deliver(f, order_on_payment_processed, id, false, "declined");
    order o;
    oms_error err;
    assert_int_equal(cancel(f, id, NULL, &o, &err), OMS_ECONFLICT);
    assert_string_equal(err.reason, ORDER_REASON_ORDER_ENDED);
    assert_int_equal(cancel(f, "99999999-9999-4999-8999-999999999999", NULL, &o, &err), OMS_ENOTFOUND);
    assert_string_equal(err.reason, "");
}

static void duplicate_reply_is_logged_and_changes_nothing(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    deliver(f, order_on_payment_processed, id, true, NULL);
    saga before = mem_find_saga(f->m, id)->s;
    size_t messages = f->m->data.message_count;
    assert_int_equal(deliver(f, order_on_payment_processed, id, true, NULL), OMS_OK);
    assert_memory_equal(&mem_find_saga(f->m, id)->s, &before, sizeof before);
    assert_int_equal(f->m->data.message_count, messages);
    assert_int_equal(mem_log_count(f->m, before.id, SAGA_LOG_IGNORED_REPLY), 1);
}

/* A step's log line and count belong to its unit of work: none while it is
 * open, none when it rolls back, one per log row once it commits. */
static void saga_steps_are_counted_once_their_transaction_commits(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    const char *saga_id = mem_find_saga(f->m, id)->s.id;
    saga_reply r = {.order_id = id, .event_id = "abababab-0000-4000-8000-000000000002", .success = true};
    long before = test_metric_sum(f->a, "order_saga_steps_total");
    size_t rows_before = f->m->data.log_count;
    oms_tx *tx = NULL;
    oms_error err;
    assert_int_equal(oms_tx_begin(&f->m->tx, &tx, &err), OMS_OK);
    assert_int_equal(order_on_payment_processed(&f->m->app, tx, f->a, &r, &err), OMS_OK);
    assert_int_equal(test_metric_sum(f->a, "order_saga_steps_total"), before);
    oms_tx_rollback(&f->m->tx, tx);
    assert_int_equal(test_metric_sum(f->a, "order_saga_steps_total"), before);
    assert_int_equal(deliver(f, order_on_payment_processed, id, true, NULL), OMS_OK);
    size_t rows = f->m->data.log_count - rows_before;
    assert_int_equal(rows, 3);
    assert_int_equal(mem_log_count(f->m, saga_id, SAGA_LOG_STATE_CHANGED), 3);
    assert_int_equal(test_metric_sum(f->a, "order_saga_steps_total") - before, (long)rows);
}

static void reply_for_unknown_order_is_not_found(void **state)
{
    fixture *f = *state;
    assert_int_equal(deliver(f, order_on_payment_processed, "99999999-9999-4999-8999-999999999999", true, NULL),
                     OMS_ENOTFOUND);
}

static size_t run_deadlines(fixture *f)
{
    size_t handled = 0;
    oms_error err;
    assert_int_equal(order_on_step_deadlines(&f->m->app, f->a, 50, &handled, &err), OMS_OK);
    return handled;
}

static void passed_deadline_resends_same_command_then_compensates(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    const mem_message *first = mem_last_message(f->m, id, OMS_MSG_PAYMENT_REQUESTED);
    char command_id[OMS_UUID_LEN + 1], event_id[OMS_UUID_LEN + 1];
    memcpy(command_id, first->command_id, sizeof command_id);
    memcpy(event_id, first->event_id, sizeof event_id);
    assert_int_equal(run_deadlines(f), 0); /* not yet */
    f->m->now_ms += 30001;
    assert_int_equal(run_deadlines(f), 1);
    const mem_message *again = mem_last_message(f->m, id, OMS_MSG_PAYMENT_REQUESTED);
    assert_string_equal(again->command_id, command_id);
    assert_string_not_equal(again->event_id, event_id);
    const mem_saga *s = mem_find_saga(f->m, id);
    assert_int_equal(s->s.attempts, 2);
    assert_true(s->s.deadline_ms == f->m->now_ms + 60000); /* backoff doubles */
    assert_int_equal(mem_log_count(f->m, s->s.id, SAGA_LOG_RETRY), 1);
    f->m->now_ms += 60001;
    assert_int_equal(run_deadlines(f), 1);
    f->m->now_ms += 120001; /* third attempt's deadline: attempts exhausted */
    assert_int_equal(run_deadlines(f), 1);
    assert_int_equal(status_of(f, id), ORDER_COMPENSATING);
    assert_int_equal(mem_message_count(f->m, id, OMS_MSG_REFUND_REQUESTED), 1);
    assert_int_equal(mem_log_count(f->m, s->s.id, SAGA_LOG_TIMEOUT), 1);
    assert_string_equal(mem_find_order(f->m, id)->failure_reason, "payment service did not answer in time");
    deliver(f, order_on_payment_refunded, id, true, NULL);
    assert_int_equal(status_of(f, id), ORDER_FAILED);
}

/* One saga whose step keeps failing does not hold the others back. */
static void a_failing_saga_does_not_block_the_deadline_scan(void **state)
{
    fixture *f = *state;
    char bad[OMS_UUID_LEN + 1], good[OMS_UUID_LEN + 1];
    create(f, "c", bad);
    create(f, "c", good);
    memcpy(f->m->poison_order_id, bad, sizeof bad);
    f->m->now_ms += 30001;
    assert_int_equal(run_deadlines(f), 1);
    assert_int_equal(mem_find_saga(f->m, good)->s.attempts, 2);
    assert_int_equal(mem_find_saga(f->m, bad)->s.attempts, 1);
    assert_int_equal(mem_message_count(f->m, good, OMS_MSG_PAYMENT_REQUESTED), 2);
}

/* A deadline already handled (by another process) is not handled twice. */
static void a_deadline_not_yet_passed_changes_nothing(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    size_t log_rows = f->m->data.log_count;
    f->m->now_ms += 29000;
    assert_int_equal(run_deadlines(f), 0);
    assert_int_equal(f->m->data.log_count, log_rows);
    assert_int_equal(mem_find_saga(f->m, id)->s.attempts, 1);
}

static void cancel_messages_carry_the_cancel_request_id(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    order o;
    oms_error err;
    assert_int_equal(order_cancel(&f->m->app, f->a, ADMIN, id, NULL, "cancel-req", &o, &err), OMS_OK);
    assert_string_equal(mem_last_message(f->m, id, OMS_MSG_REFUND_REQUESTED)->correlation_id, "cancel-req");
}

static void queries_page_newest_first_with_an_opaque_cursor(void **state)
{
    fixture *f = *state;
    char ids[5][OMS_UUID_LEN + 1];
    for (int i = 0; i < 5; i++) {
        create(f, i < 3 ? "alice" : "bob", ids[i]);
        f->m->now_ms += 1000;
    }
    order_page page;
    oms_error err;
    order_list_params p = {.limit = "2"};
    assert_int_equal(order_query_list(&f->m->queries, f->a, ADMIN, &p, &page, &err), OMS_OK);
    assert_int_equal(page.count, 2);
    assert_string_equal(page.orders[0].id, ids[4]);
    assert_string_equal(page.orders[1].id, ids[3]);
    assert_true(page.next_cursor[0] != '\0');
    char cursor[ORDER_CURSOR_MAX];
    memcpy(cursor, page.next_cursor, sizeof cursor);
    p.cursor = cursor;
    p.limit = "3";
    assert_int_equal(order_query_list(&f->m->queries, f->a, ADMIN, &p, &page, &err), OMS_OK);
    assert_int_equal(page.count, 3);
    assert_string_equal(page.orders[0].id, ids[2]);
    assert_string_equal(page.orders[2].id, ids[0]);
    assert_string_equal(page.next_cursor, "");
    order_list_params by_customer = {.customer_id = "alice", .status = "PENDING_PAYMENT"};
    assert_int_equal(order_query_list(&f->m->queries, f->a, ADMIN, &by_customer, &page, &err), OMS_OK);
    assert_int_equal(page.count, 3);
    order *orders;
    size_t count;
    int64_t total;
    assert_int_equal(order_query_customer(&f->m->queries, f->a, ADMIN, "bob", &orders, &count, &total, &err), OMS_OK);
    assert_int_equal(total, 2);
    assert_int_equal(count, 2);
}

static void queries_refuse_bad_parameters(void **state)
{
    fixture *f = *state;
    order_page page;
    oms_error err;
    const order_list_params bad[] = {
        {.status = "pending"}, {.limit = "0"},    {.limit = "501"},
        {.limit = "ten"},      {.cursor = "!!!"}, {.cursor = "bm90LWEtY3Vyc29y"}, /* base64url of "not-a-cursor" */
    };
    const char *fields[] = {"status", "limit", "limit", "limit", "cursor", "cursor"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        oms_error_clear(&err);
        assert_int_equal(order_query_list(&f->m->queries, f->a, ADMIN, &bad[i], &page, &err), OMS_EINVAL);
        assert_string_equal(err.field, fields[i]);
    }
    order o;
    assert_int_equal(order_query_get(&f->m->queries, f->a, ADMIN, "not-a-uuid", &o, &err), OMS_ENOTFOUND);
    saga_page sagas;
    const saga_list_params bad_params[] = {
        {.state = "NOPE"},    {.stuck = "maybe"},           {.step = "shipping"}, {.stuck_reason = "bored"},
        {.older_than = "10"}, {.older_than = "999999999d"}, {.sort = "price"},    {.cursor = "!!"},
        {.limit = "0"},       {.count_only = "yes"},        {.order_id = "nope"}};
    const char *bad_fields[] = {"state", "stuck",  "step",  "stuck_reason", "older_than", "older_than",
                                "sort",  "cursor", "limit", "count_only",   "order_id"};
    for (size_t i = 0; i < sizeof bad_params / sizeof bad_params[0]; i++) {
        assert_int_equal(order_query_sagas(&f->m->queries, f->a, ADMIN, &bad_params[i], &sagas, &err), OMS_EINVAL);
        assert_string_equal(err.field, bad_fields[i]);
    }
}

static void saga_history_lists_every_step_in_order(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    deliver(f, order_on_payment_processed, id, true, NULL);
    saga_history h;
    oms_error err;
    assert_int_equal(order_query_saga(&f->m->queries, f->a, ADMIN, id, &h, &err), OMS_OK);
    assert_int_equal(h.saga.state, ORDER_PAYMENT_CONFIRMED);
    assert_true(h.step_count >= 5);
    for (size_t i = 0; i < h.step_count; i++)
        assert_int_equal(h.steps[i].seq, (int)i + 1);
    assert_int_equal(h.steps[h.step_count - 1].kind, SAGA_LOG_COMMAND_SENT); /* InventoryRequested */
    assert_non_null(h.steps[h.step_count - 1].event_id);
}

static void stuck_sagas_are_listed(void **state)
{
    fixture *f = *state;
    char a[OMS_UUID_LEN + 1], b[OMS_UUID_LEN + 1];
    create(f, "c", a);
    create(f, "c", b);
    order o;
    oms_error err;
    cancel(f, b, NULL, &o, &err);
    saga_page page;
    assert_int_equal(order_query_sagas(&f->m->queries, f->a, ADMIN, &(saga_list_params){.stuck = "true"}, &page, &err),
                     OMS_OK);
    assert_int_equal(page.count, 1); /* the compensating one */
    assert_string_equal(page.sagas[0].order_id, b);
    f->m->now_ms += 31000;
    assert_int_equal(order_query_sagas(&f->m->queries, f->a, ADMIN, &(saga_list_params){.stuck = "true"}, &page, &err),
                     OMS_OK);
    assert_int_equal(page.count, 2);
    assert_int_equal(
        order_query_sagas(&f->m->queries, f->a, ADMIN, &(saga_list_params){.state = "PENDING_PAYMENT"}, &page, &err),
        OMS_OK);
    assert_int_equal(page.count, 1);
    assert_int_equal(page.sagas[0].stuck, SAGA_STUCK_DEADLINE_EXCEEDED);
    assert_int_equal(order_query_sagas(&f->m->queries, f->a, ADMIN,
                                       &(saga_list_params){.stuck_reason = "deadline_exceeded", .count_only = "true"},
                                       &page, &err),
                     OMS_OK);
    assert_true(page.count_only);
    assert_int_equal(page.total, 2); /* the compensation is late too */
}

/* Issue 12 item 1: a resent command shows as retrying, with the deadline it
 * missed as last_error; a paused saga is never resent; a new step clears it. */
static void a_resent_command_shows_retrying_with_its_last_error(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    f->m->now_ms += 31000;
    assert_int_equal(run_deadlines(f), 1);
    saga_history h;
    oms_error err;
    assert_int_equal(order_query_saga(&f->m->queries, f->a, ADMIN, id, &h, &err), OMS_OK);
    assert_int_equal(h.saga.stuck, SAGA_STUCK_RETRYING);
    assert_int_equal(h.saga.attempts, 2);
    assert_string_equal(h.saga.last_error, "no reply to the payment command before its deadline (attempt 1)");
    assert_true(h.saga.deadline_ms > f->m->now_ms); /* next_attempt_at */
    deliver(f, order_on_payment_processed, id, true, NULL);
    assert_int_equal(order_query_saga(&f->m->queries, f->a, ADMIN, id, &h, &err), OMS_OK);
    assert_int_equal(h.saga.stuck, SAGA_STUCK_NONE);
    assert_string_equal(h.saga.last_error, "");
}

/* ---- an operator's actions (issue 12 item 2) ---- */

static const oms_principal operator_principal = {.role = OMS_ROLE_OPERATOR, .subject = "ops", .id = "key:ops"};

/* An action as POST /sagas/{id}/actions makes it, at the saga's current version. */
static oms_err act(fixture *f, const char *order_id, const char *action, oms_error *err)
{
    const mem_saga *s = mem_find_saga(f->m, order_id);
    char version[24];
    snprintf(version, sizeof version, "\"%lld\"", (long long)s->s.version);
    saga_action_request req = {.action = action, .reason = "ticket 42", .if_match = version};
    saga_outcome out;
    return order_saga_action(&f->m->app, f->a, &operator_principal, s->s.id, &req, "req-op", &out, err);
}

/* pause: no command leaves, no deadline fires, a reply is held (REPLY_HELD);
 * resume applies it: the order goes on to the inventory step. */
static void pause_holds_everything_and_resume_applies_what_came(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    oms_error err;
    assert_int_equal(act(f, id, "pause", &err), OMS_OK);
    const char *saga_id = mem_find_saga(f->m, id)->s.id;
    assert_true(mem_find_saga(f->m, id)->s.paused);
    size_t sent = mem_message_count(f->m, id, OMS_MSG_PAYMENT_REQUESTED);
    f->m->now_ms += 3600 * 1000;
    assert_int_equal(run_deadlines(f), 0); /* no deadline fires */
    assert_int_equal(deliver(f, order_on_payment_processed, id, true, NULL), OMS_OK);
    assert_int_equal(status_of(f, id), ORDER_PENDING_PAYMENT); /* held, not applied */
    assert_int_equal(mem_log_count(f->m, saga_id, SAGA_LOG_REPLY_HELD), 1);
    assert_int_equal(act(f, id, "retry_now", &err), OMS_ECONFLICT);
    assert_string_equal(err.reason, "saga_paused");
    oms_principal customer = {.role = OMS_ROLE_CUSTOMER, .subject = "c", .id = "key:c"};
    order o;
    assert_int_equal(order_cancel(&f->m->app, f->a, &customer, id, NULL, "", &o, &err), OMS_ECONFLICT);
    assert_string_equal(err.reason, "saga_paused");
    assert_int_equal(mem_message_count(f->m, id, OMS_MSG_PAYMENT_REQUESTED), sent); /* nothing left */
    assert_int_equal(mem_message_count(f->m, id, OMS_MSG_INVENTORY_REQUESTED), 0);
    assert_int_equal(act(f, id, "resume", &err), OMS_OK);
    assert_int_equal(status_of(f, id), ORDER_PAYMENT_CONFIRMED);
    assert_int_equal(mem_message_count(f->m, id, OMS_MSG_INVENTORY_REQUESTED), 1);
    assert_false(mem_find_saga(f->m, id)->s.paused);
    assert_int_equal(mem_log_count(f->m, saga_id, SAGA_LOG_OPERATOR_ACTION), 2);
    assert_int_equal(act(f, id, "resume", &err), OMS_ECONFLICT);
    assert_string_equal(err.reason, "action_not_allowed");
}

/* retry_now resends the pending command with its command_id; compensate
 * cancels; a stale If-Match is version_mismatch, none is if_match_required,
 * a viewer may not act, there is no skip. */
static void actions_are_checked_and_logged(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    const mem_message *first = mem_last_message(f->m, id, OMS_MSG_PAYMENT_REQUESTED);
    char command_id[OMS_UUID_LEN + 1];
    memcpy(command_id, first->command_id, sizeof command_id);
    oms_error err;
    assert_int_equal(act(f, id, "retry_now", &err), OMS_OK);
    assert_int_equal(mem_message_count(f->m, id, OMS_MSG_PAYMENT_REQUESTED), 2);
    assert_string_equal(mem_last_message(f->m, id, OMS_MSG_PAYMENT_REQUESTED)->command_id, command_id);
    assert_int_equal(mem_find_saga(f->m, id)->s.attempts, 2);

    const mem_saga *s = mem_find_saga(f->m, id);
    saga_outcome out;
    saga_action_request stale = {.action = "pause", .reason = "r", .if_match = "\"1\""};
    assert_int_equal(order_saga_action(&f->m->app, f->a, &operator_principal, s->s.id, &stale, "", &out, &err),
                     OMS_ECONFLICT);
    assert_string_equal(err.reason, ORDER_REASON_VERSION_MISMATCH);
    saga_action_request none = {.action = "pause", .reason = "r"};
    assert_int_equal(order_saga_action(&f->m->app, f->a, &operator_principal, s->s.id, &none, "", &out, &err),
                     OMS_ECONFLICT);
    assert_string_equal(err.reason, ORDER_REASON_IF_MATCH_REQUIRED);
    saga_action_request skip = {.action = "skip_payment", .reason = "r", .if_match = "1"};
    assert_int_equal(order_saga_action(&f->m->app, f->a, &operator_principal, s->s.id, &skip, "", &out, &err),
                     OMS_EINVAL);
    assert_string_equal(err.field, "action");
    saga_action_request no_reason = {.action = "pause", .if_match = "1"};
    assert_int_equal(order_saga_action(&f->m->app, f->a, &operator_principal, s->s.id, &no_reason, "", &out, &err),
                     OMS_EINVAL);
    assert_string_equal(err.field, "reason");
    oms_principal viewer = {.role = OMS_ROLE_VIEWER, .subject = "v", .id = "key:v"};
    saga_action_request ok = {.action = "pause", .reason = "r", .if_match = "2"};
    assert_int_equal(order_saga_action(&f->m->app, f->a, &viewer, s->s.id, &ok, "", &out, &err), OMS_EFORBIDDEN);
    assert_int_equal(order_saga_action(&f->m->app, f->a, &operator_principal, "99999999-9999-4999-8999-999999999999",
                                       &ok, "", &out, &err),
                     OMS_ENOTFOUND);

    int64_t deadline = mem_find_saga(f->m, id)->s.deadline_ms;
    assert_int_equal(act(f, id, "extend_deadline", &err), OMS_OK);
    assert_true(mem_find_saga(f->m, id)->s.deadline_ms == deadline + 30000);
    assert_int_equal(act(f, id, "compensate", &err), OMS_OK);
    assert_int_equal(status_of(f, id), ORDER_COMPENSATING);
    assert_int_equal(mem_message_count(f->m, id, OMS_MSG_REFUND_REQUESTED), 1);
    assert_string_equal(mem_find_order(f->m, id)->cancellation_reason, "ticket 42");
    assert_int_equal(deliver(f, order_on_payment_refunded, id, true, NULL), OMS_OK);
    assert_int_equal(status_of(f, id), ORDER_CANCELLED);
    assert_int_equal(act(f, id, "compensate", &err), OMS_ECONFLICT);
    assert_string_equal(err.reason, "order_ended");
    /* one audit row per accepted action, none for a refused one */
    const test_audit_rows *rows = &f->m->data.audit;
    assert_int_equal(rows->count, 3); /* retry_now, extend_deadline, compensate */
    assert_string_equal(rows->rows[0].action, "saga.retry_now");
    assert_string_equal(rows->rows[2].action, "saga.compensate");
    assert_string_equal(rows->rows[2].saga_id, s->s.id);
    assert_string_equal(rows->rows[2].actor, "key:ops");
    assert_string_equal(rows->rows[2].reason, "ticket 42");
    assert_non_null(strstr(rows->rows[2].before, "state=PENDING_PAYMENT"));
    assert_non_null(strstr(rows->rows[2].after, "state=COMPENSATING"));
}

/* ---- who may do what (SPEC 7) ---- */

static const oms_principal alice = {.role = OMS_ROLE_CUSTOMER, .subject = "alice", .id = "key:a"};
static const oms_principal viewer = {.role = OMS_ROLE_VIEWER, .subject = NULL, .id = "key:v"};
static const oms_principal operator= {.role = OMS_ROLE_OPERATOR, .subject = NULL, .id = "key:o"};

static oms_err create_as(fixture *f, const oms_principal *who, const char *customer, order *o, oms_error *err)
{
    order_create_request req = request_for(customer);
    order_create_outcome outcome;
    return order_create(&f->m->app, f->a, who, &req, NULL, "req-1", o, &outcome, err);
}

/* SPEC 7: an Idempotency-Key is its principal's: bob's "key-1" is not
 * alice's (bob gets an order of his own, and never alice's); the same
 * request that means the same (customer_id omitted or given) is a retry. */
static void idempotency_keys_belong_to_their_principal(void **state)
{
    fixture *f = *state;
    static const oms_principal bob = {.role = OMS_ROLE_CUSTOMER, .subject = "bob", .id = "key:b"};
    order_create_request req = request_for(NULL);
    order alices, again, bobs;
    order_create_outcome outcome;
    oms_error err;
    assert_int_equal(order_create(&f->m->app, f->a, &alice, &req, "key-1", "", &alices, &outcome, &err), OMS_OK);
    assert_string_equal(alices.customer_id, "alice");
    req.customer_id = "alice"; /* the same request, customer named */
    assert_int_equal(order_create(&f->m->app, f->a, &alice, &req, "key-1", "", &again, &outcome, &err), OMS_OK);
    assert_int_equal(outcome, ORDER_CREATE_REPLAYED);
    assert_string_equal(again.id, alices.id);
    req.customer_id = NULL;
    assert_int_equal(order_create(&f->m->app, f->a, &bob, &req, "key-1", "", &bobs, &outcome, &err), OMS_OK);
    assert_int_equal(outcome, ORDER_CREATE_NEW);
    assert_string_not_equal(bobs.id, alices.id);
    assert_string_equal(bobs.customer_id, "bob");
    assert_int_equal(mem_order_count(f->m), 2);
}

/* A customer orders for itself (customer_id omitted or its own), never for
 * another; a viewer or operator orders for no one; an admin names whom. */
static void a_customer_orders_for_itself_only(void **state)
{
    fixture *f = *state;
    order o;
    oms_error err;
    assert_int_equal(create_as(f, &alice, NULL, &o, &err), OMS_OK);
    assert_string_equal(o.customer_id, "alice");
    assert_int_equal(create_as(f, &alice, "alice", &o, &err), OMS_OK);
    assert_int_equal(create_as(f, &alice, "bob", &o, &err), OMS_EFORBIDDEN);
    assert_string_equal(err.field, "customer_id");
    assert_int_equal(create_as(f, &viewer, "bob", &o, &err), OMS_EFORBIDDEN);
    assert_int_equal(create_as(f, &operator, "bob", &o, &err), OMS_EFORBIDDEN);
    assert_int_equal(create_as(f, ADMIN, NULL, &o, &err), OMS_EINVAL);
    assert_int_equal(create_as(f, ADMIN, "bob", &o, &err), OMS_OK);
    assert_int_equal(mem_order_count(f->m), 3);
}

/* Another customer's order is not there for a customer: not by id, not
 * its saga, not in any list, not to cancel; a viewer reads but cancels
 * nothing; an operator cancels. */
static void a_customer_reaches_only_its_own_orders(void **state)
{
    fixture *f = *state;
    char mine[OMS_UUID_LEN + 1], theirs[OMS_UUID_LEN + 1];
    create(f, "alice", mine);
    create(f, "bob", theirs);
    order o;
    saga_history h;
    oms_error err;
    assert_int_equal(order_query_get(&f->m->queries, f->a, &alice, mine, &o, &err), OMS_OK);
    assert_int_equal(order_query_get(&f->m->queries, f->a, &alice, theirs, &o, &err), OMS_ENOTFOUND);
    assert_int_equal(order_query_saga(&f->m->queries, f->a, &alice, theirs, &h, &err), OMS_ENOTFOUND);
    assert_int_equal(order_query_saga(&f->m->queries, f->a, &alice, mine, &h, &err), OMS_OK);
    order_list_params everyone = {0}, bobs = {.customer_id = "bob"};
    order_page page;
    assert_int_equal(order_query_list(&f->m->queries, f->a, &alice, &everyone, &page, &err), OMS_OK);
    assert_int_equal(page.count, 1);
    assert_string_equal(page.orders[0].id, mine);
    assert_int_equal(order_query_list(&f->m->queries, f->a, &alice, &bobs, &page, &err), OMS_OK);
    assert_int_equal(page.count, 1);
    assert_string_equal(page.orders[0].id, mine);
    order *orders;
    size_t count;
    int64_t total;
    assert_int_equal(order_query_customer(&f->m->queries, f->a, &alice, "bob", &orders, &count, &total, &err),
                     OMS_ENOTFOUND);
    assert_int_equal(order_query_customer(&f->m->queries, f->a, &viewer, "bob", &orders, &count, &total, &err), OMS_OK);
    saga_page sagas;
    assert_int_equal(order_query_sagas(&f->m->queries, f->a, &alice, &(saga_list_params){}, &sagas, &err),
                     OMS_EFORBIDDEN);
    assert_int_equal(order_cancel(&f->m->app, f->a, &alice, theirs, NULL, "", &o, &err), OMS_ENOTFOUND);
    assert_int_equal(order_cancel(&f->m->app, f->a, &viewer, theirs, NULL, "", &o, &err), OMS_EFORBIDDEN);
    assert_int_equal(status_of(f, theirs), ORDER_PENDING_PAYMENT);
    assert_int_equal(mem_message_count(f->m, theirs, OMS_MSG_REFUND_REQUESTED), 0);
    assert_int_equal(order_cancel(&f->m->app, f->a, &alice, mine, NULL, "", &o, &err), OMS_OK);
    assert_int_equal(order_cancel(&f->m->app, f->a, &operator, theirs, NULL, "", &o, &err), OMS_OK);
}

/* A cancel that is accepted appends one audit row (the order's status
 * before and after, the saga, the reason, who and through which request);
 * a refused one none (issue 12 item 7). */
static void an_accepted_cancel_has_one_audit_row(void **state)
{
    fixture *f = *state;
    char mine[OMS_UUID_LEN + 1], theirs[OMS_UUID_LEN + 1];
    create(f, "alice", mine);
    create(f, "bob", theirs);
    const test_audit_rows *rows = &f->m->data.audit;
    const oms_principal op = {.role = OMS_ROLE_OPERATOR, .id = "key:o", .request_id = "req-9"};
    order o;
    oms_error err;
    assert_int_equal(order_cancel(&f->m->app, f->a, &alice, theirs, NULL, "", &o, &err), OMS_ENOTFOUND);
    assert_int_equal(order_cancel(&f->m->app, f->a, &viewer, theirs, NULL, "", &o, &err), OMS_EFORBIDDEN);
    assert_int_equal(rows->count, 0);
    assert_int_equal(order_cancel(&f->m->app, f->a, &op, theirs, "duplicate", "", &o, &err), OMS_OK);
    assert_int_equal(rows->count, 1);
    assert_string_equal(rows->rows[0].action, "order.cancel");
    char target[OMS_UUID_LEN + 8];
    snprintf(target, sizeof target, "order:%s", theirs);
    assert_string_equal(rows->rows[0].target, target);
    assert_string_equal(rows->rows[0].saga_id, mem_find_saga(f->m, theirs)->s.id);
    assert_string_equal(rows->rows[0].actor, "key:o");
    assert_string_equal(rows->rows[0].role, "operator");
    assert_string_equal(rows->rows[0].request_id, "req-9");
    assert_string_equal(rows->rows[0].reason, "duplicate");
    assert_string_equal(rows->rows[0].before, "status=PENDING_PAYMENT");
    assert_string_equal(rows->rows[0].after, "status=COMPENSATING");
    f->m->fail_outbox_after = 1; /* the refund cannot be queued: the cancel and its row roll back */
    assert_int_not_equal(order_cancel(&f->m->app, f->a, &alice, mine, NULL, "", &o, &err), OMS_OK);
    assert_int_equal(rows->count, 1);
}

/* ---- catalog prices (SPEC 7) ---- */

static oms_err create_items(fixture *f, order_item *items, size_t n, order *o, oms_error *err)
{
    order_create_request req = {.customer_id = "c", .items = items, .item_count = n};
    order_create_outcome outcome;
    return order_create(&f->m->app, f->a, ADMIN, &req, NULL, "req-1", o, &outcome, err);
}

/* A unit_price left out is the catalog's; the order's total and its
 * PaymentRequested follow the catalog. */
static void an_order_takes_the_catalog_price(void **state)
{
    fixture *f = *state;
    order_item items[2] = {{"product-1", 2, ORDER_PRICE_FROM_CATALOG}, {"product-2", 1, 99}};
    order o;
    oms_error err;
    assert_int_equal(create_items(f, items, 2, &o, &err), OMS_OK);
    assert_int_equal(o.items[0].unit_price_cents, 1050);
    assert_int_equal(o.total_cents, 2 * 1050 + 99);
    assert_int_equal(mem_last_message(f->m, o.id, OMS_MSG_PAYMENT_REQUESTED)->amount_cents, 2 * 1050 + 99);
}

/* C2: a client's own price (0 for a product of 10.50) is refused with the
 * current price, and nothing is stored or reserved. */
static void a_price_that_is_not_the_catalogs_is_refused_with_the_current_one(void **state)
{
    fixture *f = *state;
    order_item items[1] = {{"product-1", 1005, 0}};
    order o;
    oms_error err;
    assert_int_equal(create_items(f, items, 1, &o, &err), OMS_ECONFLICT);
    assert_string_equal(err.reason, ORDER_REASON_PRICE_CHANGED);
    assert_string_equal(err.field, "items[0].unit_price");
    assert_non_null(strstr(err.message, "10.50"));
    assert_int_equal(mem_order_count(f->m), 0);
}

static void a_product_the_catalog_does_not_know_is_refused(void **state)
{
    fixture *f = *state;
    order_item items[2] = {{"product-1", 1, ORDER_PRICE_FROM_CATALOG}, {"just-created", 1, ORDER_PRICE_FROM_CATALOG}};
    order o;
    oms_error err;
    assert_int_equal(create_items(f, items, 2, &o, &err), OMS_ECONFLICT);
    assert_string_equal(err.reason, ORDER_REASON_UNKNOWN_PRODUCT);
    assert_string_equal(err.field, "items[1].product_id");
    assert_int_equal(mem_order_count(f->m), 0);
    /* once its price is announced, it can be ordered */
    oms_tx *tx = NULL;
    assert_int_equal(oms_tx_begin(f->m->app.tx, &tx, &err), OMS_OK);
    assert_int_equal(order_on_product_price_changed(&f->m->app, tx, f->a, "just-created", 250, 1, &err), OMS_OK);
    assert_int_equal(oms_tx_commit(f->m->app.tx, tx, &err), OMS_OK);
    assert_int_equal(create_items(f, items, 2, &o, &err), OMS_OK);
    assert_int_equal(o.total_cents, 1050 + 250);
}

/* ProductPriceChanged keeps the newest version: a redelivered or overtaken
 * older one changes nothing; a payload out of bounds is refused. */
static void the_catalog_keeps_the_newest_price(void **state)
{
    fixture *f = *state;
    oms_error err;
    oms_tx *tx = NULL;
    assert_int_equal(oms_tx_begin(f->m->app.tx, &tx, &err), OMS_OK);
    assert_int_equal(order_on_product_price_changed(&f->m->app, tx, f->a, "p-9", 700, 3, &err), OMS_OK);
    assert_int_equal(order_on_product_price_changed(&f->m->app, tx, f->a, "p-9", 500, 2, &err), OMS_OK);
    assert_int_equal(order_on_product_price_changed(&f->m->app, tx, f->a, "p-9", 600, 3, &err), OMS_OK);
    assert_int_equal(order_on_product_price_changed(&f->m->app, tx, f->a, "p-9", -1, 4, &err), OMS_EINVAL);
    assert_int_equal(order_on_product_price_changed(&f->m->app, tx, f->a, "p-9", 1, 0, &err), OMS_EINVAL);
    assert_int_equal(oms_tx_commit(f->m->app.tx, tx, &err), OMS_OK);
    int64_t price = 0, version = 0;
    assert_true(mem_price_of(f->m, "p-9", &price, &version));
    assert_int_equal(price, 700);
    assert_int_equal(version, 3);
}

/* ---- replies the saga trusts (review H4) ---- */

static saga_reply genuine(fixture *f, reply_fn fn, const char *order_id, bool success)
{
    return (saga_reply){.order_id = order_id,
                        .event_id = "abababab-0000-4000-8000-000000000002",
                        .success = success,
                        .command_id = mem_find_saga(f->m, order_id)->s.sent[step_answered(fn)],
                        .amount_cents = mem_find_order(f->m, order_id)->total_cents};
}

static void expect_rejected(fixture *f, reply_fn fn, saga_reply r)
{
    oms_error why;
    assert_int_equal(deliver_reply(f, fn, r, &why), OMS_OK);
    assert_string_equal(why.reason, ORDER_REASON_REPLY_REJECTED);
}

/* A reply that names another command, none, a step the saga never asked
 * for, or not the order's total is logged and changes nothing. */
static void replies_that_answer_no_command_of_the_saga_are_rejected(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    saga_reply forged = genuine(f, order_on_payment_processed, id, true);
    forged.command_id = "not-the-saga-command";
    expect_rejected(f, order_on_payment_processed, forged);
    forged.command_id = NULL;
    expect_rejected(f, order_on_payment_processed, forged);
    saga_reply cheap = genuine(f, order_on_payment_processed, id, true);
    cheap.amount_cents = 1;
    expect_rejected(f, order_on_payment_processed, cheap);
    saga_reply early = genuine(f, order_on_inventory_allocated, id, true);
    early.command_id = cheap.command_id; /* the payment's command: the saga sent no inventory command yet */
    expect_rejected(f, order_on_inventory_allocated, early);
    assert_int_equal(status_of(f, id), ORDER_PENDING_PAYMENT);
    assert_false(mem_find_saga(f->m, id)->s.payment_captured);
    assert_int_equal(mem_log_count(f->m, mem_find_saga(f->m, id)->s.id, SAGA_LOG_REJECTED_REPLY), 4);
    assert_int_equal(
        deliver_reply(f, order_on_payment_processed, genuine(f, order_on_payment_processed, id, true), NULL), OMS_OK);
    assert_int_equal(status_of(f, id), ORDER_PAYMENT_CONFIRMED);
}

/* The review's attack: a forged confirmation that got through (it named
 * the command and the total), then payment's real decline. The saga keeps
 * what it did but is marked inconsistent, visible in GET /sagas. */
static void a_decline_after_a_confirmation_marks_the_saga_inconsistent(void **state)
{
    fixture *f = *state;
    char id[OMS_UUID_LEN + 1];
    create(f, "c", id);
    assert_int_equal(deliver(f, order_on_payment_processed, id, true, NULL), OMS_OK);
    assert_int_equal(deliver(f, order_on_inventory_allocated, id, true, NULL), OMS_OK);
    assert_int_equal(status_of(f, id), ORDER_INVENTORY_CONFIRMED);
    assert_int_equal(deliver(f, order_on_payment_processed, id, false, "insufficient funds"), OMS_OK);
    const saga *s = &mem_find_saga(f->m, id)->s;
    assert_int_equal(status_of(f, id), ORDER_INVENTORY_CONFIRMED);
    assert_non_null(strstr(s->inconsistency, "payment"));
    assert_int_equal(mem_log_count(f->m, s->id, SAGA_LOG_INCONSISTENT), 1);
    saga_page page;
    oms_error err;
    assert_int_equal(
        order_query_sagas(&f->m->queries, f->a, ADMIN, &(saga_list_params){.inconsistent = "true"}, &page, &err),
        OMS_OK);
    assert_int_equal(page.count, 1);
    assert_string_equal(page.sagas[0].order_id, id);
}

int main(void)
{
    oms_log_init("order-application-test", OMS_LOG_WARN); /* keep saga_step lines out of the report */
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(create_stores_order_and_requests_payment_in_one_transaction),
        T(invalid_create_names_the_field_and_stores_nothing),
        T(a_failed_write_leaves_nothing_half_done),
        T(retried_post_with_same_key_returns_the_first_order),
        T(same_key_with_a_different_body_conflicts),
        T(idempotency_keys_are_checked),
        T(idempotency_keys_belong_to_their_principal),
        T(past_the_bound_a_new_order_is_refused_and_stores_nothing),
        T(past_the_bound_a_stored_key_still_gets_its_order),
        T(happy_path_payment_then_stock_confirms),
        T(declined_payment_fails_with_its_reason),
        T(refused_stock_refunds_then_fails),
        T(cancel_while_pending_payment_refunds_and_honours_a_late_capture),
        T(cancel_after_confirmation_releases_stock_before_refunding),
        T(cancel_of_an_ended_order_conflicts_and_unknown_is_not_found),
        T(duplicate_reply_is_logged_and_changes_nothing),
        T(saga_steps_are_counted_once_their_transaction_commits),
        T(reply_for_unknown_order_is_not_found),
        T(passed_deadline_resends_same_command_then_compensates),
        T(a_failing_saga_does_not_block_the_deadline_scan),
        T(a_deadline_not_yet_passed_changes_nothing),
        T(cancel_messages_carry_the_cancel_request_id),
        T(queries_page_newest_first_with_an_opaque_cursor),
        T(queries_refuse_bad_parameters),
        T(saga_history_lists_every_step_in_order),
        T(a_resent_command_shows_retrying_with_its_last_error),
        T(stuck_sagas_are_listed),
        T(pause_holds_everything_and_resume_applies_what_came),
        T(actions_are_checked_and_logged),
        T(a_customer_orders_for_itself_only),
        T(a_customer_reaches_only_its_own_orders),
        T(an_accepted_cancel_has_one_audit_row),
        T(an_order_takes_the_catalog_price),
        T(a_price_that_is_not_the_catalogs_is_refused_with_the_current_one),
        T(a_product_the_catalog_does_not_know_is_refused),
        T(the_catalog_keeps_the_newest_price),
        T(replies_that_answer_no_command_of_the_saga_are_rejected),
        T(a_decline_after_a_confirmation_marks_the_saga_inconsistent),
    };
    return cmocka_run_group_tests_name("order_application", tests, NULL, NULL);
}
