/* test_inventory_pg.c -- the pg adapters of inventory-service, through the
 * application, against a real PostgreSQL (POSTGRES_* from the environment;
 * database TEST_DB, default "it_inventory", created and migrated here).
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
#include "application/inventory_app.h"
#include "oms/json.h"
#include "oms/pg.h"
#include "oms/audit_pg.h"
#include "oms/tests/support/test_pg.h"
#include "oms/tests/support/test_tx.h"
#include "oms/util.h"

typedef struct fixture {
    test_pg_fixture db;
    product_repo products;
    reservation_repo reservations;
    oms_reply_outbox replies;
    oms_audit_log audit;
    inventory_app app;
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

static void new_order(char id[OMS_UUID_LEN + 1]) { oms_uuid_new(id); }

static void create(const char *id, int64_t stock)
{
    oms_error err;
    product p = {.product_id = id, .name = "test product", .stock = stock}, out;
    assert_int_equal(inventory_create_product(&fx.app, fx.db.arena, oms_principal_local_admin(), &p, &out, &err),
                     OMS_OK);
}

static product get(const char *id)
{
    oms_error err;
    product p;
    assert_int_equal(inventory_get_product(&fx.app, fx.db.arena, id, &p, &err), OMS_OK);
    return p;
}

/* Message commands run in their own transaction, as the inbox would
 * (test_tx_run, retrying on deadlock or serialization). */
typedef struct reserve_args {
    oms_arena *arena;
    oms_command_origin origin;
    const reservation_line *lines;
    size_t n;
} reserve_args;

static oms_err do_reserve(void *p, oms_tx *tx, oms_error *err)
{
    reserve_args *a = p;
    return inventory_reserve(&fx.app, tx, a->arena, &a->origin, a->lines, a->n, err);
}

static oms_err do_release(void *p, oms_tx *tx, oms_error *err)
{
    reserve_args *a = p;
    return inventory_release(&fx.app, tx, a->arena, &a->origin, err);
}

static oms_err reserve(const char *order_id, const reservation_line *lines, size_t n)
{
    reserve_args a = {.arena = fx.db.arena, .origin = test_origin(order_id, "cmd-1"), .lines = lines, .n = n};
    return test_tx_run(fx.app.tx, do_reserve, &a);
}

static oms_err release(const char *order_id)
{
    reserve_args a = {.arena = fx.db.arena, .origin = test_origin(order_id, "cmd-2")};
    return test_tx_run(fx.app.tx, do_release, &a);
}

/* The payload of the last reply of `event_type` queued for the order. */
static json_t *last_reply(const char *order_id, const char *event_type)
{
    return test_outbox_last(fx.db.pool, fx.db.arena, order_id, event_type);
}

static long replies(const char *order_id) { return test_outbox_count(fx.db.pool, fx.db.arena, order_id); }

/* SPEC invariant 1 for every product: the ledger sums to the stock, and
 * initial + restocks - RESERVED quantities = stock; nothing negative. */
static void assert_stock_invariant(void)
{
    PGresult *r = query(
        "SELECT p.product_id FROM products p WHERE p.stock < 0 OR p.reserved < 0"
        " OR p.stock <> (SELECT coalesce(sum(delta), 0) FROM stock_ledger l WHERE l.product_id = p.product_id)"
        " OR p.stock <> (SELECT coalesce(sum(delta), 0) FROM stock_ledger l WHERE l.product_id = p.product_id"
        "                AND kind IN ('INITIAL', 'RESTOCK'))"
        "              - (SELECT coalesce(sum(i.quantity), 0) FROM reservation_items i JOIN reservations s"
        "                 USING (order_id) WHERE s.state = 'RESERVED' AND i.product_id = p.product_id)"
        " OR p.reserved <> (SELECT coalesce(sum(i.quantity), 0) FROM reservation_items i JOIN reservations s"
        "                 USING (order_id) WHERE s.state = 'RESERVED' AND i.product_id = p.product_id)",
        0, NULL);
    if (PQntuples(r) > 0)
        fail_msg("stock invariant broken for product %s", oms_pg_value(r, 0, 0));
}

/* ---- setup ---- */

static int setup_all(void **state)
{
    (void)state;
    if (test_pg_fixture_open(&fx.db, "it_inventory", "services/inventory-service/migrations", "inventory-test") != 0)
        return -1;
    fx.products = pg_product_repo();
    fx.reservations = pg_reservation_repo();
    fx.replies = oms_saga_reply_outbox();
    fx.audit = oms_pg_audit_log();
    fx.app = (inventory_app){.tx = oms_pg_tx_manager(fx.db.pool),
                             .products = &fx.products,
                             .reservations = &fx.reservations,
                             .replies = &fx.replies,
                             .audit = &fx.audit};
    fx.consumer = inventory_consumer(fx.db.pool, &fx.app);
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
    test_pg_fixture_clean(&fx.db, "TRUNCATE products, reservations, reservation_items, stock_ledger, outbox, inbox");
    return 0;
}

/* ---- tests ---- */

/* A product is stored with its initial stock; a second one with the same id
 * is refused with a conflict. */
static void created_product_is_readable_and_unique(void **state)
{
    (void)state;
    create("p-1", 7);
    product p = get("p-1");
    assert_string_equal(p.name, "test product");
    assert_int_equal(p.stock, 7);
    assert_int_equal(p.reserved, 0);
    oms_error err;
    product dup = {.product_id = "p-1", .name = "again", .stock = 1}, out;
    assert_int_equal(inventory_create_product(&fx.app, fx.db.arena, oms_principal_local_admin(), &dup, &out, &err),
                     OMS_ECONFLICT);
    assert_int_equal(inventory_get_product(&fx.app, fx.db.arena, "nope", &p, &err), OMS_ENOTFOUND);
    assert_stock_invariant();
}

/* Products list in id order, bounded by the limit. */
static void products_list_in_id_order(void **state)
{
    (void)state;
    create("b", 1);
    create("a", 2);
    create("c", 3);
    oms_error err;
    product *list;
    size_t n;
    assert_int_equal(inventory_list_products(&fx.app, fx.db.arena, 0, &list, &n, &err), OMS_OK);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].product_id, "a");
    assert_string_equal(list[2].product_id, "c");
    assert_int_equal(inventory_list_products(&fx.app, fx.db.arena, 2, &list, &n, &err), OMS_OK);
    assert_int_equal(n, 2);
}

/* A restock adds stock and a RESTOCK ledger entry; an unknown product is 404. */
static void restock_adds_stock(void **state)
{
    (void)state;
    create("p-1", 1);
    oms_error err;
    product p;
    assert_int_equal(inventory_restock(&fx.app, fx.db.arena, oms_principal_local_admin(), "p-1", 5, &p, &err), OMS_OK);
    assert_int_equal(p.stock, 6);
    assert_int_equal(get("p-1").stock, 6);
    assert_int_equal(inventory_restock(&fx.app, fx.db.arena, oms_principal_local_admin(), "ghost", 5, &p, &err),
                     OMS_ENOTFOUND);
    assert_int_equal(inventory_restock(&fx.app, fx.db.arena, oms_principal_local_admin(), "p-1", 0, &p, &err),
                     OMS_EINVAL);
    assert_int_equal(query_int("SELECT count(*) FROM stock_ledger WHERE kind = 'RESTOCK'", 0, NULL), 1);
    assert_stock_invariant();
}

/* In PostgreSQL: each admin write that succeeds appends exactly one row to
 * audit_log in its transaction, with who, the request and the product as
 * JSON before and after; a refused write none; oms_audit_list reads them
 * back in order, filtered and paged (issue 12 item 7). */
static void each_admin_write_has_one_audit_row(void **state)
{
    (void)state;
    const oms_principal admin = {.role = OMS_ROLE_ADMIN, .id = "key:00000000000000aa", .request_id = "it-req"};
    char target_id[OMS_UUID_LEN + 1], target[OMS_UUID_LEN + 16];
    oms_uuid_new(target_id); /* audit_log is append-only: rows of earlier runs stay */
    snprintf(target, sizeof target, "product:%s", target_id);
    const char *params[] = {target};
    oms_error err;
    product p = {.product_id = target_id, .name = "audited", .stock = 2, .price_cents = 1050}, out;
    assert_int_equal(inventory_create_product(&fx.app, fx.db.arena, &admin, &p, &out, &err), OMS_OK);
    assert_int_equal(inventory_create_product(&fx.app, fx.db.arena, &admin, &p, &out, &err), OMS_ECONFLICT);
    assert_int_equal(inventory_restock(&fx.app, fx.db.arena, &admin, target_id, 3, &out, &err), OMS_OK);
    assert_int_equal(inventory_restock(&fx.app, fx.db.arena, &admin, target_id, 0, &out, &err), OMS_EINVAL);
    assert_int_equal(inventory_set_price(&fx.app, fx.db.arena, &admin, target_id, 1100, &out, &err), OMS_OK);
    assert_int_equal(query_int("SELECT count(*) FROM audit_log WHERE target = $1", 1, params), 3);
    PGresult *r = query("SELECT action, actor, role, request_id, state_before->>'stock', state_after->>'stock',"
                        " state_after->>'price' FROM audit_log WHERE target = $1 ORDER BY id",
                        1, params);
    assert_string_equal(oms_pg_value(r, 0, 0), "product.create");
    assert_null(oms_pg_value(r, 0, 4));
    assert_string_equal(oms_pg_value(r, 0, 5), "2");
    assert_string_equal(oms_pg_value(r, 0, 6), "10.50");
    assert_string_equal(oms_pg_value(r, 1, 0), "product.restock");
    assert_string_equal(oms_pg_value(r, 1, 4), "2");
    assert_string_equal(oms_pg_value(r, 1, 5), "5");
    assert_string_equal(oms_pg_value(r, 2, 0), "product.set_price");
    assert_string_equal(oms_pg_value(r, 2, 6), "11.00");
    assert_string_equal(oms_pg_value(r, 2, 1), "key:00000000000000aa");
    assert_string_equal(oms_pg_value(r, 2, 2), "admin");
    assert_string_equal(oms_pg_value(r, 2, 3), "it-req");
    /* Read back as GET /audit does: two a page, then the rest after the cursor. */
    oms_audit_filter f = {.target = target, .limit = 2};
    json_t *rows;
    assert_int_equal(oms_audit_list(fx.db.pool, fx.db.arena, "inventory-service", &f, &rows, &err), OMS_OK);
    assert_int_equal(json_array_size(rows), 2);
    const char *next;
    json_t *page = oms_audit_merge(&rows, 1, 2, fx.db.arena, &next);
    assert_non_null(page);
    assert_non_null(next);
    json_decref(page);
    f.cursor = next;
    assert_int_equal(oms_audit_list(fx.db.pool, fx.db.arena, "inventory-service", &f, &rows, &err), OMS_OK);
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "action")), "product.set_price");
    json_t *after = json_object_get(json_array_get(rows, 0), "after");
    assert_int_equal(json_integer_value(json_object_get(after, "stock")), 5);
    assert_non_null(strstr(oms_json_dump(fx.db.arena, after, NULL), "\"price\":11.00")); /* money exact */
    f = (oms_audit_filter){.cursor = "not-a-cursor", .limit = 2};
    assert_int_equal(oms_audit_list(fx.db.pool, fx.db.arena, "inventory-service", &f, &rows, &err), OMS_EINVAL);
    f = (oms_audit_filter){.since = "yesterday-ish", .limit = 2};
    assert_int_equal(oms_audit_list(fx.db.pool, fx.db.arena, "inventory-service", &f, &rows, &err), OMS_EINVAL);
}

/* Every line reserved at once: stock moves to reserved, success is queued,
 * and the same request again reserves nothing more but answers success. */
static void reservation_takes_every_line_once(void **state)
{
    (void)state;
    create("a", 5);
    create("b", 5);
    char order[OMS_UUID_LEN + 1];
    new_order(order);
    reservation_line lines[] = {{"b", 2}, {"a", 1}, {"b", 1}};
    assert_int_equal(reserve(order, lines, 3), OMS_OK);
    assert_int_equal(get("a").stock, 4);
    assert_int_equal(get("b").stock, 2);
    assert_int_equal(get("b").reserved, 3);
    assert_true(json_is_true(json_object_get(last_reply(order, "InventoryAllocated"), "success")));
    assert_string_equal(json_string_value(json_object_get(last_reply(order, "InventoryAllocated"), "command_id")),
                        "cmd-1");

    assert_int_equal(reserve(order, lines, 3), OMS_OK);
    assert_int_equal(get("b").stock, 2);
    assert_int_equal(replies(order), 2);
    assert_true(json_is_true(json_object_get(last_reply(order, "InventoryAllocated"), "success")));

    oms_error err;
    reservation r;
    assert_int_equal(inventory_get_reservation(&fx.app, fx.db.arena, order, &r, &err), OMS_OK);
    assert_int_equal(r.state, RESERVATION_RESERVED);
    assert_int_equal(r.line_count, 2);
    assert_string_equal(r.lines[0].product_id, "a");
    assert_int_equal(r.lines[1].quantity, 3);
    assert_stock_invariant();
}

/* One short line: nothing is reserved, the failure names the product, and it
 * is answered again the same way even after a restock. */
static void short_line_reserves_nothing_and_is_remembered(void **state)
{
    (void)state;
    create("a", 5);
    create("b", 1);
    char order[OMS_UUID_LEN + 1];
    new_order(order);
    reservation_line lines[] = {{"a", 1}, {"b", 2}};
    assert_int_equal(reserve(order, lines, 2), OMS_OK);
    assert_int_equal(get("a").stock, 5);
    json_t *reply = last_reply(order, "InventoryAllocated");
    assert_true(json_is_false(json_object_get(reply, "success")));
    assert_non_null(strstr(json_string_value(json_object_get(reply, "reason")), "product b"));

    oms_error err;
    product p;
    assert_int_equal(inventory_restock(&fx.app, fx.db.arena, oms_principal_local_admin(), "b", 10, &p, &err), OMS_OK);
    assert_int_equal(reserve(order, lines, 2), OMS_OK);
    assert_int_equal(get("b").stock, 11);
    assert_true(json_is_false(json_object_get(last_reply(order, "InventoryAllocated"), "success")));
    reservation r;
    assert_int_equal(inventory_get_reservation(&fx.app, fx.db.arena, order, &r, &err), OMS_ENOTFOUND);
    assert_stock_invariant();
}

/* An unknown product fails the order, naming the product. */
static void unknown_product_fails_the_order(void **state)
{
    (void)state;
    create("a", 5);
    char order[OMS_UUID_LEN + 1];
    new_order(order);
    reservation_line lines[] = {{"a", 1}, {"ghost", 1}};
    assert_int_equal(reserve(order, lines, 2), OMS_OK);
    json_t *reply = last_reply(order, "InventoryAllocated");
    assert_true(json_is_false(json_object_get(reply, "success")));
    assert_string_equal(json_string_value(json_object_get(reply, "reason")), "unknown product ghost");
    assert_int_equal(get("a").stock, 5);
}

/* A release gives the stock back once; a repeated release answers again;
 * a late request for the order is refused with "released". */
static void release_gives_back_once(void **state)
{
    (void)state;
    create("a", 5);
    char order[OMS_UUID_LEN + 1];
    new_order(order);
    reservation_line lines[] = {{"a", 4}};
    assert_int_equal(reserve(order, lines, 1), OMS_OK);
    assert_int_equal(release(order), OMS_OK);
    assert_int_equal(get("a").stock, 5);
    assert_int_equal(get("a").reserved, 0);
    assert_true(json_is_true(json_object_get(last_reply(order, "InventoryReleased"), "released")));
    assert_int_equal(release(order), OMS_OK);
    assert_int_equal(get("a").stock, 5);
    assert_true(json_is_true(json_object_get(last_reply(order, "InventoryReleased"), "released")));
    assert_int_equal(reserve(order, lines, 1), OMS_OK);
    assert_int_equal(get("a").stock, 5);
    json_t *reply = last_reply(order, "InventoryAllocated");
    assert_true(json_is_false(json_object_get(reply, "success")));
    assert_string_equal(json_string_value(json_object_get(reply, "reason")), "released");
    assert_stock_invariant();
}

/* A release before any request leaves a tombstone: the late request never
 * reserves. */
static void release_before_request_blocks_the_request(void **state)
{
    (void)state;
    create("a", 5);
    char order[OMS_UUID_LEN + 1];
    new_order(order);
    assert_int_equal(release(order), OMS_OK);
    assert_true(json_is_false(json_object_get(last_reply(order, "InventoryReleased"), "released")));
    reservation_line lines[] = {{"a", 1}};
    assert_int_equal(reserve(order, lines, 1), OMS_OK);
    assert_int_equal(get("a").stock, 5);
    assert_true(json_is_false(json_object_get(last_reply(order, "InventoryAllocated"), "success")));
    oms_error err;
    reservation r;
    assert_int_equal(inventory_get_reservation(&fx.app, fx.db.arena, order, &r, &err), OMS_OK);
    assert_int_equal(r.state, RESERVATION_RELEASED);
    assert_int_equal(r.line_count, 0);
}

/* ---- concurrency ---- */

#define THREADS 12

typedef struct worker {
    char order[OMS_UUID_LEN + 1];
    reservation_line lines[2];
    size_t n;
    oms_err rc;
} worker;

static void *reserve_worker(void *p)
{
    worker *w = p;
    oms_arena *a = oms_arena_create(0);
    reserve_args args = {.arena = a, .origin = test_origin(w->order, "cmd-c"), .lines = w->lines, .n = w->n};
    w->rc = test_tx_run(fx.app.tx, do_reserve, &args);
    oms_arena_destroy(a);
    return NULL;
}

static void run_workers(worker *w, size_t n) { test_run_threads(reserve_worker, w, n, sizeof *w); }

/* Many orders racing for the same two products (named in opposite orders)
 * never oversell and never deadlock: exactly as many succeed as stock allows. */
static void concurrent_reservations_never_oversell(void **state)
{
    (void)state;
    create("x", 10);
    create("y", 10);
    worker w[THREADS];
    for (size_t i = 0; i < THREADS; i++) {
        new_order(w[i].order);
        w[i].n = 2;
        w[i].lines[0] = (reservation_line){i % 2 ? "x" : "y", 3};
        w[i].lines[1] = (reservation_line){i % 2 ? "y" : "x", 3};
    }
    run_workers(w, THREADS);
    for (size_t i = 0; i < THREADS; i++)
        assert_int_equal(w[i].rc, OMS_OK);
    assert_int_equal(query_int("SELECT count(*) FROM reservations WHERE state = 'RESERVED'", 0, NULL), 3);
    assert_int_equal(query_int("SELECT count(*) FROM reservations WHERE state = 'FAILED'", 0, NULL), THREADS - 3);
    assert_int_equal(get("x").stock, 1);
    assert_int_equal(get("y").stock, 1);
    assert_stock_invariant();
}

/* The same request delivered twice at once reserves once. */
static void same_request_twice_at_once_reserves_once(void **state)
{
    (void)state;
    create("x", 10);
    worker w[THREADS];
    char order[OMS_UUID_LEN + 1];
    new_order(order);
    for (size_t i = 0; i < THREADS; i++) {
        memcpy(w[i].order, order, sizeof order);
        w[i].n = 1;
        w[i].lines[0] = (reservation_line){"x", 2};
    }
    run_workers(w, THREADS);
    /* A loser of the race on the order's key gets a conflict, which the bus
     * turns into a redelivery; the retried message then answers again. */
    for (size_t i = 0; i < THREADS; i++)
        assert_true(w[i].rc == OMS_OK || w[i].rc == OMS_ECONFLICT);
    assert_int_equal(get("x").stock, 8);
    assert_int_equal(query_int("SELECT count(*) FROM reservations", 0, NULL), 1);
    assert_stock_invariant();
}

/* ---- the message path ---- */

static oms_bus_disposition deliver(const char *event_id, const char *event_type, const char *order_id,
                                   const char *payload_json)
{
    const oms_msg_def *commands = oms_msg_def_of(OMS_MSG_INVENTORY_REQUESTED);
    return test_deliver(oms_saga_consume, &fx.consumer, commands->topic, commands->consumer, event_id, event_type,
                        order_id, payload_json);
}

/* A message is handled once per event id; a re-sent command (new event id)
 * is answered again without reserving again; garbage is dead-lettered. */
static void messages_are_handled_once(void **state)
{
    (void)state;
    create("a", 5);
    char order[OMS_UUID_LEN + 1], event1[OMS_UUID_LEN + 1], event2[OMS_UUID_LEN + 1];
    new_order(order);
    oms_uuid_new(event1);
    oms_uuid_new(event2);
    const char *payload = "{\"command_id\":\"c-9\",\"items\":[{\"product_id\":\"a\",\"quantity\":2}]}";
    assert_int_equal(deliver(event1, "InventoryRequested", order, payload), OMS_BUS_ACK);
    assert_int_equal(deliver(event1, "InventoryRequested", order, payload), OMS_BUS_ACK);
    assert_int_equal(replies(order), 1);
    assert_int_equal(deliver(event2, "InventoryRequested", order, payload), OMS_BUS_ACK);
    assert_int_equal(replies(order), 2);
    assert_int_equal(get("a").stock, 3);
    json_t *reply = last_reply(order, "InventoryAllocated");
    assert_string_equal(json_string_value(json_object_get(reply, "command_id")), "c-9");

    char event3[OMS_UUID_LEN + 1];
    oms_uuid_new(event3);
    assert_int_equal(deliver(event3, "InventoryReleaseRequested", order, "{\"command_id\":\"c-10\",\"reason\":\"x\"}"),
                     OMS_BUS_ACK);
    assert_int_equal(get("a").stock, 5);

    char event4[OMS_UUID_LEN + 1];
    oms_uuid_new(event4);
    assert_int_equal(deliver(event4, "InventoryRequested", order, "{\"items\":[]}"), OMS_BUS_DEAD);
    oms_uuid_new(event4);
    assert_int_equal(deliver(event4, "Nonsense", order, "{\"command_id\":\"c\"}"), OMS_BUS_DEAD);
    assert_stock_invariant();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(created_product_is_readable_and_unique, clean),
        cmocka_unit_test_setup(products_list_in_id_order, clean),
        cmocka_unit_test_setup(restock_adds_stock, clean),
        cmocka_unit_test_setup(each_admin_write_has_one_audit_row, clean),
        cmocka_unit_test_setup(reservation_takes_every_line_once, clean),
        cmocka_unit_test_setup(short_line_reserves_nothing_and_is_remembered, clean),
        cmocka_unit_test_setup(unknown_product_fails_the_order, clean),
        cmocka_unit_test_setup(release_gives_back_once, clean),
        cmocka_unit_test_setup(release_before_request_blocks_the_request, clean),
        cmocka_unit_test_setup(concurrent_reservations_never_oversell, clean),
        cmocka_unit_test_setup(same_request_twice_at_once_reserves_once, clean),
        cmocka_unit_test_setup(messages_are_handled_once, clean),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
