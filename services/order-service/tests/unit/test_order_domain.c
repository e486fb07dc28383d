/* test_order_domain.c -- the order rules and the saga table (SPEC section 3).
 * No I/O: links only the domain, err.c and money.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "domain/order.h"
#include "domain/saga.h"

static const saga_settings cfg = {.step_timeout_s = 30, .max_attempts = 5};

#define ORDER_ID "11111111-1111-4111-8111-111111111111"
#define SAGA_ID "22222222-2222-4222-8222-222222222222"
#define CMD_ID "33333333-3333-4333-8333-333333333333"

/* ---- order ---------------------------------------------------------- */

static order_item items3[3] = {
    {"product-1", 2, 1050},
    {"product-2", 1, 99},
    {"product-3", 3, 0},
};

static order_create_request valid_request(void)
{
    return (order_create_request){.customer_id = "customer-1", .items = items3, .item_count = 3};
}

/* The total is the sum of quantity * unit price, exact in cents. */
static void total_is_exact_in_cents(void **state)
{
    (void)state;
    order_create_request req = valid_request();
    int64_t total = -1;
    oms_error err;
    assert_int_equal(order_validate_create(&req, &err), OMS_OK);
    assert_int_equal(order_total_cents(req.items, req.item_count, &total, &err), OMS_OK);
    assert_int_equal(total, 2 * 1050 + 99);
}

static void total_at_the_largest_order_does_not_overflow(void **state)
{
    (void)state;
    order_item many[ORDER_ITEMS_MAX];
    for (int i = 0; i < ORDER_ITEMS_MAX; i++)
        many[i] = (order_item){"p", ORDER_QUANTITY_MAX, ORDER_UNIT_PRICE_MAX_CENTS};
    order_create_request req = {.customer_id = "c", .items = many, .item_count = ORDER_ITEMS_MAX};
    int64_t total = 0;
    oms_error err;
    assert_int_equal(order_validate_create(&req, &err), OMS_OK);
    assert_int_equal(order_total_cents(req.items, req.item_count, &total, &err), OMS_OK);
    assert_true(total == (int64_t)ORDER_ITEMS_MAX * ORDER_QUANTITY_MAX * ORDER_UNIT_PRICE_MAX_CENTS);
}

static void total_overflow_is_refused(void **state)
{
    (void)state;
    order_item huge[2] = {{"p", INT64_MAX / 2, 3}, {"q", 1, 1}};
    int64_t total = 0;
    oms_error err;
    assert_int_equal(order_total_cents(huge, 2, &total, &err), OMS_EINVAL);
    assert_string_equal(err.field, "items[0]");
    order_item sum[2] = {{"p", 1, INT64_MAX}, {"q", 1, 1}};
    assert_int_equal(order_total_cents(sum, 2, &total, &err), OMS_EINVAL);
    assert_string_equal(err.field, "items[1]");
}

static void expect_invalid(const order_create_request *req, const char *field)
{
    oms_error err;
    oms_error_clear(&err);
    assert_int_equal(order_validate_create(req, &err), OMS_EINVAL);
    assert_string_equal(err.field, field);
    assert_true(err.message[0] != '\0');
}

static void empty_or_long_customer_id_is_refused(void **state)
{
    (void)state;
    order_create_request req = valid_request();
    req.customer_id = "";
    expect_invalid(&req, "customer_id");
    req.customer_id = NULL;
    expect_invalid(&req, "customer_id");
    char long_id[66];
    memset(long_id, 'c', 65);
    long_id[65] = '\0';
    req.customer_id = long_id;
    expect_invalid(&req, "customer_id");
    long_id[64] = '\0'; /* exactly 64 is fine */
    oms_error err;
    assert_int_equal(order_validate_create(&req, &err), OMS_OK);
    req.customer_id = "bad\nid";
    expect_invalid(&req, "customer_id");
}

static void no_items_or_too_many_items_is_refused(void **state)
{
    (void)state;
    order_create_request req = valid_request();
    req.item_count = 0;
    expect_invalid(&req, "items");
    order_item many[ORDER_ITEMS_MAX + 1];
    for (int i = 0; i <= ORDER_ITEMS_MAX; i++)
        many[i] = (order_item){"p", 1, 1};
    req.items = many;
    req.item_count = ORDER_ITEMS_MAX + 1;
    expect_invalid(&req, "items");
}

static void bad_product_id_names_its_item(void **state)
{
    (void)state;
    order_item items[3] = {{"a", 1, 1}, {"b", 1, 1}, {"", 1, 1}};
    order_create_request req = {.customer_id = "c", .items = items, .item_count = 3};
    expect_invalid(&req, "items[2].product_id");
    char long_id[66];
    memset(long_id, 'p', 65);
    long_id[65] = '\0';
    items[2].product_id = long_id;
    expect_invalid(&req, "items[2].product_id");
}

static void quantity_out_of_range_names_its_item(void **state)
{
    (void)state;
    order_item items[3] = {{"a", 1, 1}, {"b", 1, 1}, {"c", 0, 1}};
    order_create_request req = {.customer_id = "c", .items = items, .item_count = 3};
    expect_invalid(&req, "items[2].quantity");
    items[2].quantity = -4;
    expect_invalid(&req, "items[2].quantity");
    items[2].quantity = ORDER_QUANTITY_MAX + 1;
    expect_invalid(&req, "items[2].quantity");
}

static void unit_price_out_of_range_names_its_item(void **state)
{
    (void)state;
    order_item items[2] = {{"a", 1, -2}, {"b", 1, 1}};
    order_create_request req = {.customer_id = "c", .items = items, .item_count = 2};
    expect_invalid(&req, "items[0].unit_price");
    items[0].unit_price_cents = ORDER_UNIT_PRICE_MAX_CENTS + 1;
    expect_invalid(&req, "items[0].unit_price");
    items[0].unit_price_cents = ORDER_PRICE_FROM_CATALOG; /* left out: the catalog's */
    oms_error err;
    assert_int_equal(order_validate_create(&req, &err), OMS_OK);
}

static void status_names_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < ORDER_STATUS_COUNT; i++) {
        order_status s;
        assert_true(order_status_parse(order_status_name((order_status)i), &s));
        assert_int_equal(s, i);
    }
    order_status s;
    assert_false(order_status_parse("pending_payment", &s));
    assert_false(order_status_parse("", &s));
}

/* The canonical body: one text per meaning, another for any change. */
static void canonical_body_tells_requests_apart(void **state)
{
    (void)state;
    order_create_request a = valid_request();
    order_create_request b = valid_request();
    char ca[512], cb[512];
    size_t len = order_request_canonical(&a, ca, sizeof ca);
    assert_int_equal(len, strlen(ca));
    order_request_canonical(&b, cb, sizeof cb);
    assert_string_equal(ca, cb);
    order_item other[3];
    memcpy(other, items3, sizeof other);
    other[1].quantity = 2;
    b.items = other;
    order_request_canonical(&b, cb, sizeof cb);
    assert_string_not_equal(ca, cb);
    other[1] = items3[1];
    other[1].unit_price_cents = ORDER_PRICE_FROM_CATALOG;
    order_request_canonical(&b, cb, sizeof cb);
    assert_string_not_equal(ca, cb);
    assert_non_null(strstr(cb, "\"unit_price\":null}"));
    /* quotes and control characters cannot forge structure */
    order_item odd = {.product_id = "p\",\"quantity\":1\n", .quantity = 3, .unit_price_cents = 1050};
    order_create_request c = {.customer_id = "c\\", .items = &odd, .item_count = 1};
    order_request_canonical(&c, cb, sizeof cb);
    assert_string_equal(cb, "{\"customer_id\":\"c\\\\\",\"items\":[{\"product_id\":\"p\\\",\\\"quantity\\\":1\\u000a\","
                            "\"quantity\":3,\"unit_price\":10.50}]}");
    /* too small a buffer: cut and terminated, the whole length returned */
    char tiny[8];
    assert_int_equal(order_request_canonical(&a, tiny, sizeof tiny), len);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
}

/* ---- saga: every row -------------------------------------------------- */

typedef struct expectation {
    const char *name;
    order_status from;
    saga_step step;
    order_status target;
    int attempts;
    saga_event ev;
    order_status to;
    saga_step next;
    unsigned actions;
    saga_log_kind log;
    bool paused; /* the saga was paused by an operator */
} expectation;

#define S(x) ORDER_##x
#define ST(x) SAGA_STEP_##x
#define EV(x) SAGA_EV_##x
#define A(x) SAGA_ACT_##x
#define L(x) SAGA_LOG_##x

/* Written from SPEC section 3, independently of the table. */
static const expectation rows[] = {
    {"start asks for payment", S(CREATED), ST(NONE), 0, 0, EV(START), S(PENDING_PAYMENT), ST(PAYMENT),
     A(SEND_PAYMENT_REQUEST), L(COMMAND_SENT), false},
    {"cancel in CREATED refunds", S(CREATED), ST(NONE), 0, 0, EV(CANCEL_REQUESTED), S(COMPENSATING), ST(REFUND),
     A(SEND_REFUND) | A(RECORD_CANCELLATION_REASON), L(COMPENSATION_SENT), false},
    {"paid asks for stock", S(PENDING_PAYMENT), ST(PAYMENT), 0, 1, EV(PAYMENT_SUCCEEDED), S(PAYMENT_CONFIRMED),
     ST(INVENTORY), A(MARK_PAYMENT_CAPTURED) | A(SEND_INVENTORY_REQUEST), L(REPLY_RECEIVED), false},
    {"declined fails", S(PENDING_PAYMENT), ST(PAYMENT), 0, 1, EV(PAYMENT_FAILED), S(FAILED), ST(NONE),
     A(RECORD_FAILURE_REASON), L(REPLY_RECEIVED), false},
    {"cancel while paying refunds", S(PENDING_PAYMENT), ST(PAYMENT), 0, 1, EV(CANCEL_REQUESTED), S(COMPENSATING),
     ST(REFUND), A(SEND_REFUND) | A(RECORD_CANCELLATION_REASON), L(COMPENSATION_SENT), false},
    {"payment deadline retries", S(PENDING_PAYMENT), ST(PAYMENT), 0, 4, EV(STEP_DEADLINE_PASSED), S(PENDING_PAYMENT),
     ST(PAYMENT), A(SEND_PAYMENT_REQUEST), L(RETRY), false},
    {"payment deadline exhausted compensates", S(PENDING_PAYMENT), ST(PAYMENT), 0, 5, EV(STEP_DEADLINE_PASSED),
     S(COMPENSATING), ST(REFUND), A(SEND_REFUND) | A(RECORD_FAILURE_REASON), L(TIMEOUT), false},
    {"stock allocated confirms", S(PAYMENT_CONFIRMED), ST(INVENTORY), 0, 1, EV(INVENTORY_ALLOCATED),
     S(INVENTORY_CONFIRMED), ST(NONE), A(MARK_STOCK_RESERVED), L(REPLY_RECEIVED), false},
    {"stock refused refunds", S(PAYMENT_CONFIRMED), ST(INVENTORY), 0, 1, EV(INVENTORY_FAILED), S(COMPENSATING),
     ST(REFUND), A(SEND_REFUND) | A(RECORD_FAILURE_REASON), L(REPLY_RECEIVED), false},
    {"cancel when paid releases first", S(PAYMENT_CONFIRMED), ST(INVENTORY), 0, 1, EV(CANCEL_REQUESTED),
     S(COMPENSATING), ST(RELEASE), A(SEND_INVENTORY_RELEASE) | A(RECORD_CANCELLATION_REASON), L(COMPENSATION_SENT),
     false},
    {"inventory deadline retries", S(PAYMENT_CONFIRMED), ST(INVENTORY), 0, 1, EV(STEP_DEADLINE_PASSED),
     S(PAYMENT_CONFIRMED), ST(INVENTORY), A(SEND_INVENTORY_REQUEST), L(RETRY), false},
    {"inventory deadline exhausted releases", S(PAYMENT_CONFIRMED), ST(INVENTORY), 0, 5, EV(STEP_DEADLINE_PASSED),
     S(COMPENSATING), ST(RELEASE), A(SEND_INVENTORY_RELEASE) | A(RECORD_FAILURE_REASON), L(TIMEOUT), false},
    {"cancel when confirmed releases first", S(INVENTORY_CONFIRMED), ST(NONE), 0, 0, EV(CANCEL_REQUESTED),
     S(COMPENSATING), ST(RELEASE), A(SEND_INVENTORY_RELEASE) | A(RECORD_CANCELLATION_REASON), L(COMPENSATION_SENT),
     false},
    {"released then refund", S(COMPENSATING), ST(RELEASE), S(CANCELLED), 1, EV(INVENTORY_RELEASED), S(COMPENSATING),
     ST(REFUND), A(MARK_STOCK_RELEASED) | A(SEND_REFUND), L(COMPENSATION_DONE), false},
    {"late allocation while releasing is honoured", S(COMPENSATING), ST(RELEASE), S(CANCELLED), 1,
     EV(INVENTORY_ALLOCATED), S(COMPENSATING), ST(RELEASE), A(MARK_STOCK_RESERVED), L(REPLY_RECEIVED), false},
    {"late refusal while releasing is recorded", S(COMPENSATING), ST(RELEASE), S(CANCELLED), 1, EV(INVENTORY_FAILED),
     S(COMPENSATING), ST(RELEASE), 0, L(REPLY_RECEIVED), false},
    {"release deadline retries for ever", S(COMPENSATING), ST(RELEASE), S(CANCELLED), 50, EV(STEP_DEADLINE_PASSED),
     S(COMPENSATING), ST(RELEASE), A(SEND_INVENTORY_RELEASE), L(RETRY), false},
    {"refunded ends in the target", S(COMPENSATING), ST(REFUND), S(CANCELLED), 1, EV(PAYMENT_REFUNDED), S(CANCELLED),
     ST(NONE), A(MARK_PAYMENT_REFUNDED), L(COMPENSATION_DONE), false},
    {"late capture while refunding is honoured", S(COMPENSATING), ST(REFUND), S(CANCELLED), 1, EV(PAYMENT_SUCCEEDED),
     S(COMPENSATING), ST(REFUND), A(MARK_PAYMENT_CAPTURED), L(REPLY_RECEIVED), false},
    {"late decline while refunding is recorded", S(COMPENSATING), ST(REFUND), S(CANCELLED), 1, EV(PAYMENT_FAILED),
     S(COMPENSATING), ST(REFUND), 0, L(REPLY_RECEIVED), false},
    {"refund deadline retries for ever", S(COMPENSATING), ST(REFUND), S(FAILED), 50, EV(STEP_DEADLINE_PASSED),
     S(COMPENSATING), ST(REFUND), A(SEND_REFUND), L(RETRY), false},
    {"cancel while releasing towards FAILED ends CANCELLED", S(COMPENSATING), ST(RELEASE), S(FAILED), 1,
     EV(CANCEL_REQUESTED), S(COMPENSATING), ST(RELEASE), A(RECORD_CANCELLATION_REASON), L(STATE_CHANGED), false},
    {"cancel while refunding towards FAILED ends CANCELLED", S(COMPENSATING), ST(REFUND), S(FAILED), 1,
     EV(CANCEL_REQUESTED), S(COMPENSATING), ST(REFUND), A(RECORD_CANCELLATION_REASON), L(STATE_CHANGED), false},
    /* an operator's actions (issue 12 item 2) */
    {"retry_now resends the payment request", S(PENDING_PAYMENT), ST(PAYMENT), S(CREATED), 2, EV(RETRY_NOW),
     S(PENDING_PAYMENT), ST(PAYMENT), A(SEND_PAYMENT_REQUEST), L(RETRY), false},
    {"retry_now resends the inventory request", S(PAYMENT_CONFIRMED), ST(INVENTORY), S(CREATED), 2, EV(RETRY_NOW),
     S(PAYMENT_CONFIRMED), ST(INVENTORY), A(SEND_INVENTORY_REQUEST), L(RETRY), false},
    {"retry_now resends the release", S(COMPENSATING), ST(RELEASE), S(CANCELLED), 9, EV(RETRY_NOW), S(COMPENSATING),
     ST(RELEASE), A(SEND_INVENTORY_RELEASE), L(RETRY), false},
    {"retry_now resends the refund", S(COMPENSATING), ST(REFUND), S(FAILED), 9, EV(RETRY_NOW), S(COMPENSATING),
     ST(REFUND), A(SEND_REFUND), L(RETRY), false},
    {"pause while paying", S(PENDING_PAYMENT), ST(PAYMENT), S(CREATED), 1, EV(PAUSE), S(PENDING_PAYMENT), ST(PAYMENT),
     A(PAUSE), L(OPERATOR_ACTION), false},
    {"pause while reserving", S(PAYMENT_CONFIRMED), ST(INVENTORY), S(CREATED), 1, EV(PAUSE), S(PAYMENT_CONFIRMED),
     ST(INVENTORY), A(PAUSE), L(OPERATOR_ACTION), false},
    {"pause while releasing", S(COMPENSATING), ST(RELEASE), S(CANCELLED), 1, EV(PAUSE), S(COMPENSATING), ST(RELEASE),
     A(PAUSE), L(OPERATOR_ACTION), false},
    {"pause while refunding", S(COMPENSATING), ST(REFUND), S(FAILED), 1, EV(PAUSE), S(COMPENSATING), ST(REFUND),
     A(PAUSE), L(OPERATOR_ACTION), false},
    {"resume while paying", S(PENDING_PAYMENT), ST(PAYMENT), S(CREATED), 1, EV(RESUME), S(PENDING_PAYMENT), ST(PAYMENT),
     A(RESUME), L(OPERATOR_ACTION), true},
    {"resume while reserving", S(PAYMENT_CONFIRMED), ST(INVENTORY), S(CREATED), 1, EV(RESUME), S(PAYMENT_CONFIRMED),
     ST(INVENTORY), A(RESUME), L(OPERATOR_ACTION), true},
    {"resume while releasing", S(COMPENSATING), ST(RELEASE), S(CANCELLED), 1, EV(RESUME), S(COMPENSATING), ST(RELEASE),
     A(RESUME), L(OPERATOR_ACTION), true},
    {"resume while refunding", S(COMPENSATING), ST(REFUND), S(FAILED), 1, EV(RESUME), S(COMPENSATING), ST(REFUND),
     A(RESUME), L(OPERATOR_ACTION), true},
    {"compensate before the start refunds", S(CREATED), ST(NONE), S(CREATED), 0, EV(COMPENSATE), S(COMPENSATING),
     ST(REFUND), A(SEND_REFUND) | A(RECORD_CANCELLATION_REASON), L(COMPENSATION_SENT), false},
    {"compensate while paying (or past its deadline) refunds", S(PENDING_PAYMENT), ST(PAYMENT), S(CREATED), 3,
     EV(COMPENSATE), S(COMPENSATING), ST(REFUND), A(SEND_REFUND) | A(RECORD_CANCELLATION_REASON), L(COMPENSATION_SENT),
     false},
    {"compensate while reserving releases first", S(PAYMENT_CONFIRMED), ST(INVENTORY), S(CREATED), 1, EV(COMPENSATE),
     S(COMPENSATING), ST(RELEASE), A(SEND_INVENTORY_RELEASE) | A(RECORD_CANCELLATION_REASON), L(COMPENSATION_SENT),
     false},
    {"compensate a completed order releases first", S(INVENTORY_CONFIRMED), ST(NONE), S(CREATED), 0, EV(COMPENSATE),
     S(COMPENSATING), ST(RELEASE), A(SEND_INVENTORY_RELEASE) | A(RECORD_CANCELLATION_REASON), L(COMPENSATION_SENT),
     false},
    {"extend the payment's deadline", S(PENDING_PAYMENT), ST(PAYMENT), S(CREATED), 1, EV(EXTEND_DEADLINE),
     S(PENDING_PAYMENT), ST(PAYMENT), A(EXTEND_DEADLINE), L(OPERATOR_ACTION), false},
    {"extend the reservation's deadline", S(PAYMENT_CONFIRMED), ST(INVENTORY), S(CREATED), 1, EV(EXTEND_DEADLINE),
     S(PAYMENT_CONFIRMED), ST(INVENTORY), A(EXTEND_DEADLINE), L(OPERATOR_ACTION), false},
    {"extend the release's deadline", S(COMPENSATING), ST(RELEASE), S(CANCELLED), 1, EV(EXTEND_DEADLINE),
     S(COMPENSATING), ST(RELEASE), A(EXTEND_DEADLINE), L(OPERATOR_ACTION), false},
    {"extend the refund's deadline", S(COMPENSATING), ST(REFUND), S(CANCELLED), 1, EV(EXTEND_DEADLINE), S(COMPENSATING),
     ST(REFUND), A(EXTEND_DEADLINE), L(OPERATOR_ACTION), false},
    /* compensations that keep failing (issue 12 item 3): cfg's limit is 5 */
    {"a release resolved by hand goes on to the refund", S(COMPENSATING), ST(RELEASE), S(CANCELLED), 5,
     EV(RESOLVE_MANUALLY), S(COMPENSATING), ST(REFUND),
     A(MARK_STOCK_RELEASED) | A(MARK_RESOLVED_MANUALLY) | A(SEND_REFUND), L(MANUAL_RESOLUTION), false},
    {"a refund resolved by hand ends the saga", S(COMPENSATING), ST(REFUND), S(CANCELLED), 7, EV(RESOLVE_MANUALLY),
     S(CANCELLED), ST(NONE), A(MARK_PAYMENT_REFUNDED) | A(MARK_RESOLVED_MANUALLY), L(MANUAL_RESOLUTION), false},
};

static saga make_saga(order_status st, saga_step step, order_status target, int attempts)
{
    saga s;
    saga_init(&s, SAGA_ID, ORDER_ID);
    s.state = st;
    s.step = step;
    s.target = target;
    s.attempts = attempts;
    s.deadline_ms = attempts ? 1000 : 0;
    return s;
}

static void every_row_decides_as_the_spec_says(void **state)
{
    (void)state;
    size_t n_rows = 0;
    const saga_transition *table = saga_table(&n_rows);
    bool used[64] = {0};
    assert_true(n_rows < 64);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const expectation *e = &rows[i];
        saga s = make_saga(e->from, e->step, e->target, e->attempts);
        s.paused = e->paused;
        saga_decision d = saga_decide(&s, e->ev, &cfg);
        print_message("row: %s\n", e->name);
        assert_int_equal(d.kind, SAGA_DECISION_APPLY);
        assert_int_equal(d.to_state, e->to);
        assert_int_equal(d.to_step, e->next);
        assert_int_equal(d.actions, e->actions);
        assert_int_equal(d.log_kind, e->log);
        used[d.row - table] = true;
    }
    for (size_t i = 0; i < n_rows; i++)
        assert_true(used[i]); /* no row without an expectation */
}

/* What the table refuses, with why: every action on an ended saga, any
 * but resume on a paused one, resume on one not paused, an action on a saga
 * that waits for nothing; and a paused saga ignores its deadline. */
static void the_table_refuses_actions_without_a_row(void **state)
{
    (void)state;
    const struct {
        order_status st;
        saga_step step;
        bool paused;
        saga_event ev;
        const char *code;
    } refused[] = {
        {ORDER_CANCELLED, SAGA_STEP_NONE, false, SAGA_EV_RETRY_NOW, "order_ended"},
        {ORDER_FAILED, SAGA_STEP_NONE, false, SAGA_EV_COMPENSATE, "order_ended"},
        {ORDER_FAILED, SAGA_STEP_NONE, false, SAGA_EV_PAUSE, "order_ended"},
        {ORDER_PENDING_PAYMENT, SAGA_STEP_PAYMENT, true, SAGA_EV_RETRY_NOW, "saga_paused"},
        {ORDER_PENDING_PAYMENT, SAGA_STEP_PAYMENT, true, SAGA_EV_PAUSE, "saga_paused"},
        {ORDER_PENDING_PAYMENT, SAGA_STEP_PAYMENT, true, SAGA_EV_COMPENSATE, "saga_paused"},
        {ORDER_PENDING_PAYMENT, SAGA_STEP_PAYMENT, true, SAGA_EV_CANCEL_REQUESTED, "saga_paused"},
        {ORDER_PENDING_PAYMENT, SAGA_STEP_PAYMENT, false, SAGA_EV_RESUME, "action_not_allowed"},
        {ORDER_INVENTORY_CONFIRMED, SAGA_STEP_NONE, false, SAGA_EV_RETRY_NOW, "action_not_allowed"},
        {ORDER_INVENTORY_CONFIRMED, SAGA_STEP_NONE, false, SAGA_EV_PAUSE, "action_not_allowed"},
        {ORDER_INVENTORY_CONFIRMED, SAGA_STEP_NONE, false, SAGA_EV_EXTEND_DEADLINE, "action_not_allowed"},
        {ORDER_COMPENSATING, SAGA_STEP_REFUND, false, SAGA_EV_COMPENSATE, "action_not_allowed"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        saga s = make_saga(refused[i].st, refused[i].step, ORDER_CANCELLED, 1);
        s.paused = refused[i].paused;
        saga_decision d = saga_decide(&s, refused[i].ev, &cfg);
        print_message("refused %zu: %s\n", i, saga_event_name(refused[i].ev));
        assert_int_equal(d.kind, SAGA_DECISION_CONFLICT);
        assert_string_equal(d.refusal_code, refused[i].code);
        assert_non_null(d.refusal);
    }
    saga paused = make_saga(ORDER_PENDING_PAYMENT, SAGA_STEP_PAYMENT, ORDER_CREATED, 1);
    paused.paused = true;
    assert_int_equal(saga_decide(&paused, SAGA_EV_STEP_DEADLINE_PASSED, &cfg).kind, SAGA_DECISION_IGNORED);
    /* a cancel while compensating towards CANCELLED stays ignored, not refused */
    saga cancelling = make_saga(ORDER_COMPENSATING, SAGA_STEP_REFUND, ORDER_CANCELLED, 1);
    assert_int_equal(saga_decide(&cancelling, SAGA_EV_CANCEL_REQUESTED, &cfg).kind, SAGA_DECISION_IGNORED);
}

/* pause, then resume; extend_deadline moves the deadline from the later of
 * now and the deadline; names of the actions round-trip. */
static void pause_resume_and_extend_change_the_saga(void **state)
{
    (void)state;
    saga s = make_saga(ORDER_PENDING_PAYMENT, SAGA_STEP_PAYMENT, ORDER_CREATED, 1);
    s.deadline_ms = 50000;
    saga_decision d = saga_decide(&s, SAGA_EV_PAUSE, &cfg);
    saga_apply(&s, &d, &cfg, 10000, NULL);
    assert_true(s.paused);
    assert_int_equal(s.attempts, 1);
    assert_true(s.deadline_ms == 50000);
    d = saga_decide(&s, SAGA_EV_RESUME, &cfg);
    saga_apply(&s, &d, &cfg, 20000, NULL);
    assert_false(s.paused);
    d = saga_decide(&s, SAGA_EV_EXTEND_DEADLINE, &cfg);
    d.extend_ms = 5000;
    saga_apply(&s, &d, &cfg, 20000, NULL);
    assert_true(s.deadline_ms == 55000);
    d = saga_decide(&s, SAGA_EV_EXTEND_DEADLINE, &cfg);
    saga_apply(&s, &d, &cfg, 100000, NULL); /* past its deadline: from now, one step timeout */
    assert_true(s.deadline_ms == 130000);
    d = saga_decide(&s, SAGA_EV_RETRY_NOW, &cfg);
    saga_apply(&s, &d, &cfg, 100000, NULL);
    assert_int_equal(s.attempts, 2);
    const char *names[] = {"retry_now", "pause", "resume", "compensate", "extend_deadline"};
    for (size_t i = 0; i < 5; i++) {
        saga_event ev;
        assert_true(saga_action_parse(names[i], &ev));
        assert_string_equal(saga_action_name(ev), names[i]);
    }
    saga_event ev;
    assert_false(saga_action_parse("skip_payment", &ev));
    assert_false(saga_action_parse("CANCEL_REQUESTED", &ev));
    assert_null(saga_action_name(SAGA_EV_CANCEL_REQUESTED));
}

/* Obligations in business terms: open while the saga is on their step
 * (failing from the compensation limit), done or settled by hand after;
 * resolve_manually only once the compensation is blocked. */
static void obligations_follow_the_compensation(void **state)
{
    (void)state;
    saga s = make_saga(ORDER_COMPENSATING, SAGA_STEP_RELEASE, ORDER_CANCELLED, 1);
    memcpy(s.sent[SAGA_STEP_RELEASE], CMD_ID, sizeof s.sent[0]);
    saga_obligation ob[2];
    assert_int_equal(saga_obligations(&s, &cfg, ob), 2);
    assert_int_equal(ob[0].kind, SAGA_OBLIGATION_STOCK_RELEASE);
    assert_int_equal(ob[0].status, SAGA_OBLIGATION_PENDING);
    assert_int_equal(ob[1].kind, SAGA_OBLIGATION_REFUND);
    assert_int_equal(ob[1].status, SAGA_OBLIGATION_PENDING);
    saga_decision d = saga_decide(&s, SAGA_EV_RESOLVE_MANUALLY, &cfg);
    assert_int_equal(d.kind, SAGA_DECISION_CONFLICT); /* not blocked yet */
    assert_string_equal(d.refusal_code, "action_not_allowed");
    s.attempts = 5;
    saga_obligations(&s, &cfg, ob);
    assert_int_equal(ob[0].status, SAGA_OBLIGATION_FAILING);
    d = saga_decide(&s, SAGA_EV_RESOLVE_MANUALLY, &cfg);
    saga_apply(&s, &d, &cfg, 1000, "44444444-4444-4444-8444-444444444444");
    memcpy(s.sent[SAGA_STEP_REFUND], s.command_id, sizeof s.sent[0]);
    assert_int_equal(s.step, SAGA_STEP_REFUND);
    assert_int_equal(s.state, ORDER_COMPENSATING); /* never compensated while the refund is open */
    saga_obligations(&s, &cfg, ob);
    assert_int_equal(ob[0].status, SAGA_OBLIGATION_RESOLVED_MANUALLY);
    assert_int_equal(ob[1].status, SAGA_OBLIGATION_PENDING);
    d = saga_decide(&s, SAGA_EV_PAYMENT_REFUNDED, &cfg);
    saga_apply(&s, &d, &cfg, 2000, NULL);
    assert_int_equal(s.state, ORDER_CANCELLED);
    saga_obligations(&s, &cfg, ob);
    assert_int_equal(ob[0].status, SAGA_OBLIGATION_RESOLVED_MANUALLY);
    assert_int_equal(ob[1].status, SAGA_OBLIGATION_DONE);
    saga fine = make_saga(ORDER_INVENTORY_CONFIRMED, SAGA_STEP_NONE, ORDER_CREATED, 0);
    assert_int_equal(saga_obligations(&fine, &cfg, ob), 0);
    saga_obligation_kind k;
    assert_false(saga_current_obligation(&fine, &k));
    assert_string_equal(saga_obligation_name(SAGA_OBLIGATION_REFUND), "refund");
    assert_string_equal(saga_obligation_status_name(SAGA_OBLIGATION_FAILING), "failing");
}

static int rank(order_status s) { return s == ORDER_CANCELLED ? ORDER_FAILED : (int)s; }

/* Status never moves backwards: CREATED < PENDING_PAYMENT < PAYMENT_CONFIRMED
 * < INVENTORY_CONFIRMED < COMPENSATING < FAILED | CANCELLED. */
static void no_row_moves_status_backwards(void **state)
{
    (void)state;
    size_t n = 0;
    const saga_transition *table = saga_table(&n);
    for (size_t i = 0; i < n; i++) {
        const saga_transition *t = &table[i];
        if (t->to_state == SAGA_TO_TARGET) {
            assert_int_equal(t->from_state, ORDER_COMPENSATING);
            continue; /* the target is FAILED or CANCELLED, checked below */
        }
        assert_true(rank(t->to_state) >= rank(t->from_state));
        assert_false(order_status_is_final(t->from_state));
        if (t->to_state == ORDER_COMPENSATING && t->from_state != ORDER_COMPENSATING)
            assert_true(t->target == ORDER_FAILED || t->target == ORDER_CANCELLED);
    }
}

/* ---- saga: ignored, conflicts, cancels, deadlines --------------------- */

/* Stock refused, refund under way, then the client cancels: the refund that
 * follows ends the order CANCELLED, not FAILED, with nothing sent twice. */
static void a_cancel_during_a_failing_compensation_ends_cancelled(void **state)
{
    (void)state;
    saga s = make_saga(ORDER_COMPENSATING, SAGA_STEP_REFUND, ORDER_FAILED, 1);
    saga_decision d = saga_decide(&s, SAGA_EV_CANCEL_REQUESTED, &cfg);
    assert_int_equal(d.kind, SAGA_DECISION_APPLY);
    assert_int_equal(d.actions & SAGA_ACT_SEND_ANY, 0);
    saga_apply(&s, &d, &cfg, 5000, CMD_ID);
    assert_int_equal(s.target, ORDER_CANCELLED);
    assert_int_equal(s.attempts, 1);
    d = saga_decide(&s, SAGA_EV_PAYMENT_REFUNDED, &cfg);
    assert_int_equal(d.to_state, ORDER_CANCELLED);
    /* A second cancel changes nothing. */
    d = saga_decide(&s, SAGA_EV_CANCEL_REQUESTED, &cfg);
    assert_int_equal(d.kind, SAGA_DECISION_IGNORED);
}

static void expect_ignored(order_status st, saga_step step, saga_event ev)
{
    saga s = make_saga(st, step, ORDER_CANCELLED, 1);
    saga before = s;
    saga_decision d = saga_decide(&s, ev, &cfg);
    assert_int_equal(d.kind, SAGA_DECISION_IGNORED);
    assert_int_equal(d.log_kind, SAGA_LOG_IGNORED_REPLY);
    saga_apply(&s, &d, &cfg, 5000, CMD_ID);
    assert_memory_equal(&s, &before, sizeof s);
}

static void duplicate_and_late_replies_are_ignored(void **state)
{
    (void)state;
    expect_ignored(ORDER_PAYMENT_CONFIRMED, SAGA_STEP_INVENTORY, SAGA_EV_PAYMENT_SUCCEEDED);
    expect_ignored(ORDER_INVENTORY_CONFIRMED, SAGA_STEP_NONE, SAGA_EV_INVENTORY_ALLOCATED);
    expect_ignored(ORDER_INVENTORY_CONFIRMED, SAGA_STEP_NONE, SAGA_EV_PAYMENT_SUCCEEDED);
    expect_ignored(ORDER_FAILED, SAGA_STEP_NONE, SAGA_EV_PAYMENT_FAILED);
    expect_ignored(ORDER_CANCELLED, SAGA_STEP_NONE, SAGA_EV_PAYMENT_REFUNDED);
    expect_ignored(ORDER_CANCELLED, SAGA_STEP_NONE, SAGA_EV_INVENTORY_RELEASED);
    expect_ignored(ORDER_COMPENSATING, SAGA_STEP_REFUND, SAGA_EV_INVENTORY_ALLOCATED);
    expect_ignored(ORDER_COMPENSATING, SAGA_STEP_RELEASE, SAGA_EV_PAYMENT_REFUNDED);
}

static void illegal_events_are_ignored(void **state)
{
    (void)state;
    expect_ignored(ORDER_PENDING_PAYMENT, SAGA_STEP_PAYMENT, SAGA_EV_INVENTORY_ALLOCATED);
    expect_ignored(ORDER_PENDING_PAYMENT, SAGA_STEP_PAYMENT, SAGA_EV_PAYMENT_REFUNDED);
    expect_ignored(ORDER_PENDING_PAYMENT, SAGA_STEP_PAYMENT, SAGA_EV_START);
    expect_ignored(ORDER_CREATED, SAGA_STEP_NONE, SAGA_EV_PAYMENT_SUCCEEDED);
    expect_ignored(ORDER_INVENTORY_CONFIRMED, SAGA_STEP_NONE, SAGA_EV_STEP_DEADLINE_PASSED);
    expect_ignored(ORDER_FAILED, SAGA_STEP_NONE, SAGA_EV_STEP_DEADLINE_PASSED);
}

static void cancel_of_an_ended_order_conflicts(void **state)
{
    (void)state;
    saga s = make_saga(ORDER_FAILED, SAGA_STEP_NONE, ORDER_FAILED, 0);
    assert_int_equal(saga_decide(&s, SAGA_EV_CANCEL_REQUESTED, &cfg).kind, SAGA_DECISION_CONFLICT);
    s.state = ORDER_CANCELLED;
    assert_int_equal(saga_decide(&s, SAGA_EV_CANCEL_REQUESTED, &cfg).kind, SAGA_DECISION_CONFLICT);
}

static void cancel_while_compensating_changes_nothing(void **state)
{
    (void)state;
    expect_ignored(ORDER_COMPENSATING, SAGA_STEP_REFUND, SAGA_EV_CANCEL_REQUESTED);
    expect_ignored(ORDER_COMPENSATING, SAGA_STEP_RELEASE, SAGA_EV_CANCEL_REQUESTED);
}

/* Walks a saga through events, applying each decision. */
static void feed(saga *s, saga_event ev, int64_t now)
{
    saga_decision d = saga_decide(s, ev, &cfg);
    assert_int_equal(d.kind, SAGA_DECISION_APPLY);
    saga_apply(s, &d, &cfg, now, CMD_ID);
}

static void happy_path_reaches_inventory_confirmed(void **state)
{
    (void)state;
    saga s;
    saga_init(&s, SAGA_ID, ORDER_ID);
    feed(&s, SAGA_EV_START, 1000);
    assert_int_equal(s.state, ORDER_PENDING_PAYMENT);
    assert_int_equal(s.attempts, 1);
    assert_true(s.deadline_ms == 1000 + 30000);
    assert_string_equal(s.command_id, CMD_ID);
    feed(&s, SAGA_EV_PAYMENT_SUCCEEDED, 2000);
    assert_true(s.payment_captured);
    assert_int_equal(s.step, SAGA_STEP_INVENTORY);
    feed(&s, SAGA_EV_INVENTORY_ALLOCATED, 3000);
    assert_int_equal(s.state, ORDER_INVENTORY_CONFIRMED);
    assert_true(s.stock_reserved);
    assert_true(s.deadline_ms == 0);
    assert_int_equal(s.version, 3);
}

static void cancel_after_confirmation_releases_then_refunds_then_cancels(void **state)
{
    (void)state;
    saga s = make_saga(ORDER_INVENTORY_CONFIRMED, SAGA_STEP_NONE, ORDER_CREATED, 0);
    s.payment_captured = s.stock_reserved = true;
    feed(&s, SAGA_EV_CANCEL_REQUESTED, 1000);
    assert_int_equal(s.state, ORDER_COMPENSATING);
    assert_int_equal(s.step, SAGA_STEP_RELEASE);
    assert_int_equal(s.target, ORDER_CANCELLED);
    feed(&s, SAGA_EV_INVENTORY_RELEASED, 2000);
    assert_false(s.stock_reserved);
    assert_int_equal(s.step, SAGA_STEP_REFUND);
    feed(&s, SAGA_EV_PAYMENT_REFUNDED, 3000);
    assert_false(s.payment_captured);
    assert_int_equal(s.state, ORDER_CANCELLED);
    assert_int_equal(s.step, SAGA_STEP_NONE);
}

static void cancel_when_pending_payment_refunds_then_cancels(void **state)
{
    (void)state;
    saga s = make_saga(ORDER_PENDING_PAYMENT, SAGA_STEP_PAYMENT, ORDER_CREATED, 1);
    feed(&s, SAGA_EV_CANCEL_REQUESTED, 1000);
    assert_int_equal(s.step, SAGA_STEP_REFUND);
    /* The payment was captured late: honoured, the refund gives it back. */
    feed(&s, SAGA_EV_PAYMENT_SUCCEEDED, 1500);
    assert_true(s.payment_captured);
    assert_int_equal(s.state, ORDER_COMPENSATING);
    feed(&s, SAGA_EV_PAYMENT_REFUNDED, 2000);
    assert_int_equal(s.state, ORDER_CANCELLED);
    assert_false(s.payment_captured);
}

static void inventory_refused_refunds_then_fails(void **state)
{
    (void)state;
    saga s = make_saga(ORDER_PAYMENT_CONFIRMED, SAGA_STEP_INVENTORY, ORDER_CREATED, 1);
    feed(&s, SAGA_EV_INVENTORY_FAILED, 1000);
    assert_int_equal(s.state, ORDER_COMPENSATING);
    assert_int_equal(s.target, ORDER_FAILED);
    feed(&s, SAGA_EV_PAYMENT_REFUNDED, 2000);
    assert_int_equal(s.state, ORDER_FAILED);
}

static void deadline_retries_with_backoff_then_compensates(void **state)
{
    (void)state;
    saga s;
    saga_init(&s, SAGA_ID, ORDER_ID);
    feed(&s, SAGA_EV_START, 0);
    char first_command[OMS_UUID_LEN + 1];
    memcpy(first_command, s.command_id, sizeof first_command);
    int64_t expected_factor[] = {1, 2, 4, 8, 16};
    for (int attempt = 2; attempt <= cfg.max_attempts; attempt++) {
        saga_decision d = saga_decide(&s, SAGA_EV_STEP_DEADLINE_PASSED, &cfg);
        assert_int_equal(d.log_kind, SAGA_LOG_RETRY);
        assert_false(d.step_changed);
        saga_apply(&s, &d, &cfg, 100000, "44444444-4444-4444-8444-444444444444");
        assert_int_equal(s.attempts, attempt);
        assert_string_equal(s.command_id, first_command); /* same command, resent */
        assert_true(s.deadline_ms == 100000 + 30000 * expected_factor[attempt - 1]);
    }
    saga_decision d = saga_decide(&s, SAGA_EV_STEP_DEADLINE_PASSED, &cfg);
    assert_int_equal(d.log_kind, SAGA_LOG_TIMEOUT);
    saga_apply(&s, &d, &cfg, 200000, "55555555-5555-4555-8555-555555555555");
    assert_int_equal(s.state, ORDER_COMPENSATING);
    assert_int_equal(s.step, SAGA_STEP_REFUND);
    assert_int_equal(s.target, ORDER_FAILED);
    assert_int_equal(s.attempts, 1);
    assert_string_equal(s.command_id, "55555555-5555-4555-8555-555555555555");
}

static void backoff_is_capped(void **state)
{
    (void)state;
    assert_true(saga_deadline_for(&cfg, 1, 0) == 30000);
    assert_true(saga_deadline_for(&cfg, 5, 0) == 30000 * 16);
    assert_true(saga_deadline_for(&cfg, 500, 0) == 30000 * 16);
}

static void compensation_deadline_retries_for_ever(void **state)
{
    (void)state;
    saga s = make_saga(ORDER_COMPENSATING, SAGA_STEP_REFUND, ORDER_CANCELLED, 1);
    memcpy(s.command_id, CMD_ID, OMS_UUID_LEN + 1);
    for (int i = 0; i < 20; i++) {
        saga_decision d = saga_decide(&s, SAGA_EV_STEP_DEADLINE_PASSED, &cfg);
        assert_int_equal(d.kind, SAGA_DECISION_APPLY);
        assert_true(d.actions & SAGA_ACT_SEND_REFUND);
        saga_apply(&s, &d, &cfg, 1000, NULL);
    }
    assert_int_equal(s.state, ORDER_COMPENSATING);
    assert_int_equal(s.attempts, 21);
    assert_string_equal(s.command_id, CMD_ID);
}

/* SPEC 7: the order takes the catalog price; a unit_price left out is the
 * catalog's, a given one must be it. */
static void items_take_the_catalog_price(void **state)
{
    (void)state;
    order_item items[3] = {{"p-1", 2, ORDER_PRICE_FROM_CATALOG}, {"p-2", 1, 525}, {"p-3", 1, 0}};
    const int64_t catalog[3] = {1050, 525, 0};
    order_item priced[3];
    size_t failed = 99;
    assert_int_equal(order_price_items(items, catalog, 3, priced, &failed), ORDER_PRICED);
    assert_int_equal(priced[0].unit_price_cents, 1050);
    assert_int_equal(priced[1].unit_price_cents, 525);
    assert_int_equal(priced[2].unit_price_cents, 0);
    assert_string_equal(priced[0].product_id, "p-1");
}

static void a_price_that_is_not_the_catalogs_or_an_unknown_product_is_refused(void **state)
{
    (void)state;
    order_item tampered[2] = {{"p-1", 1, ORDER_PRICE_FROM_CATALOG}, {"p-2", 1000000, 0}};
    const int64_t catalog[2] = {1050, 999};
    order_item priced[2];
    size_t failed = 99;
    assert_int_equal(order_price_items(tampered, catalog, 2, priced, &failed), ORDER_PRICE_CHANGED);
    assert_int_equal(failed, 1);
    order_item unknown[2] = {{"p-1", 1, 1050}, {"ghost", 1, ORDER_PRICE_FROM_CATALOG}};
    const int64_t partial[2] = {1050, ORDER_NO_CATALOG_PRICE};
    assert_int_equal(order_price_items(unknown, partial, 2, priced, &failed), ORDER_PRICE_UNKNOWN_PRODUCT);
    assert_int_equal(failed, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(items_take_the_catalog_price),
        cmocka_unit_test(a_price_that_is_not_the_catalogs_or_an_unknown_product_is_refused),
        cmocka_unit_test(total_is_exact_in_cents),
        cmocka_unit_test(total_at_the_largest_order_does_not_overflow),
        cmocka_unit_test(total_overflow_is_refused),
        cmocka_unit_test(empty_or_long_customer_id_is_refused),
        cmocka_unit_test(no_items_or_too_many_items_is_refused),
        cmocka_unit_test(bad_product_id_names_its_item),
        cmocka_unit_test(quantity_out_of_range_names_its_item),
        cmocka_unit_test(unit_price_out_of_range_names_its_item),
        cmocka_unit_test(status_names_round_trip),
        cmocka_unit_test(canonical_body_tells_requests_apart),
        cmocka_unit_test(every_row_decides_as_the_spec_says),
        cmocka_unit_test(no_row_moves_status_backwards),
        cmocka_unit_test(duplicate_and_late_replies_are_ignored),
        cmocka_unit_test(a_cancel_during_a_failing_compensation_ends_cancelled),
        cmocka_unit_test(illegal_events_are_ignored),
        cmocka_unit_test(cancel_of_an_ended_order_conflicts),
        cmocka_unit_test(cancel_while_compensating_changes_nothing),
        cmocka_unit_test(happy_path_reaches_inventory_confirmed),
        cmocka_unit_test(cancel_after_confirmation_releases_then_refunds_then_cancels),
        cmocka_unit_test(cancel_when_pending_payment_refunds_then_cancels),
        cmocka_unit_test(inventory_refused_refunds_then_fails),
        cmocka_unit_test(deadline_retries_with_backoff_then_compensates),
        cmocka_unit_test(backoff_is_capped),
        cmocka_unit_test(the_table_refuses_actions_without_a_row),
        cmocka_unit_test(pause_resume_and_extend_change_the_saga),
        cmocka_unit_test(obligations_follow_the_compensation),
        cmocka_unit_test(compensation_deadline_retries_for_ever),
    };
    return cmocka_run_group_tests_name("order_domain", tests, NULL, NULL);
}
