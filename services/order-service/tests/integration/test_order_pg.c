/* test_order_pg.c -- each PostgreSQL adapter of order-service against a real
 * PostgreSQL (POSTGRES_* from the environment; database TEST_DB, default
 * "it_orders", dropped and migrated afresh), and the whole write path through
 * the bus consumer, including resuming every unfinished saga after a "crash". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <pthread.h>

#include "adapters/bus_consumers.h"
#include "adapters/deadline_scanner.h"
#include "adapters/http_api.h"
#include "adapters/pg_adapters.h"
#include "adapters/uuid_generator.h"
#include "application/commands.h"
#include "application/queries.h"
#include "oms/audit_pg.h"
#include "oms/envelope.h"
#include "oms/json.h"
#include "oms/inbox.h"
#include "oms/log.h"
#include "oms/outbox.h"
#include "oms/tests/support/test_metrics.h"
#include "oms/pg.h"
#include "oms/retention.h"
#include "oms/service_auth.h"

/* Tests act as the local admin unless a test is about who may do what. */
#define ADMIN oms_principal_local_admin()

static oms_pg_settings db;
static const saga_settings saga_cfg = {.step_timeout_s = 30, .max_attempts = 3};

/* A clock the test moves; ids are real UUIDs. */
static int64_t fake_now_ms;
static int64_t fake_now(oms_clock *c)
{
    (void)c;
    return __atomic_load_n(&fake_now_ms, __ATOMIC_SEQ_CST);
}
static const oms_clock_ops fake_clock_ops = {fake_now};

/* Everything one order-service process holds. */
typedef struct process {
    oms_pg_pool *pool;
    order_repo orders;
    saga_repo sagas;
    order_read_model read_model;
    order_outbox outbox;
    oms_clock clock;
    id_generator ids;
    catalog catalog;
    oms_audit_log audit;
    order_app app;
    order_queries queries;
    oms_saga_consumer consumer;
    oms_arena *a;
} process;

static process *process_start(void)
{
    process *p = calloc(1, sizeof *p);
    oms_error err;
    p->pool = oms_pg_pool_create("it-orders", &db, 4, &err);
    assert_non_null(p->pool);
    p->orders = pg_order_repo();
    p->sagas = pg_saga_repo();
    p->read_model = pg_read_model(p->pool);
    p->outbox = pg_order_outbox();
    p->clock = (oms_clock){&fake_clock_ops, NULL};
    p->ids = uuid_generator();
    p->catalog = pg_catalog();
    p->audit = oms_pg_audit_log();
    p->app = (order_app){oms_pg_tx_manager(p->pool),
                         &p->orders,
                         &p->sagas,
                         &p->read_model,
                         &p->outbox,
                         &p->clock,
                         &p->ids,
                         saga_cfg,
                         &p->catalog,
                         &p->audit,
                         NULL};
    p->queries = (order_queries){&p->read_model, &p->clock, &p->app.saga};
    p->consumer = order_consumer(p->pool, &p->app);
    p->a = oms_arena_create(0);
    return p;
}

static void process_stop(process *p)
{
    oms_arena_destroy(p->a);
    oms_pg_pool_destroy(p->pool);
    free(p);
}

/* Runs SQL on a fresh connection of the test database; returns the first
 * value of the first row as a long (or -1). */
static long sql_long(const char *sql, int n, const char *const *params)
{
    oms_error err;
    oms_pg_pool *pool = oms_pg_pool_create("it-check", &db, 1, &err);
    PGconn *c = oms_pg_acquire(pool, 5000, &err);
    assert_non_null(c);
    oms_arena *a = oms_arena_create(0);
    PGresult *r = oms_pg_exec(a, c, sql, n, params, &err);
    if (!r)
        fail_msg("%s: %s", sql, err.message);
    long v = PQntuples(r) > 0 && oms_pg_value(r, 0, 0) ? atol(oms_pg_value(r, 0, 0)) : -1;
    oms_arena_destroy(a);
    oms_pg_release(pool, c, false);
    oms_pg_pool_destroy(pool);
    return v;
}

/* The catalog's prices the tests order at, as ProductPriceChanged would
 * have left them. */
static int seed_catalog(void)
{
    oms_error err;
    oms_pg_pool *pool = oms_pg_pool_create("it-seed", &db, 1, &err);
    PGconn *c = pool ? oms_pg_acquire(pool, 5000, &err) : NULL;
    PGresult *r = c ? PQexec(c, "INSERT INTO catalog_prices (product_id, price_cents, version)"
                                " VALUES ('product-1', 1050, 1), ('product-2', 99, 1)")
                    : NULL;
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (c)
        oms_pg_release(pool, c, false);
    oms_pg_pool_destroy(pool);
    fake_now_ms = 1800000000000;
    return ok ? 0 : -1;
}

static int setup_database(void **state)
{
    (void)state;
    static char dbname[64];
    const char *name = getenv("TEST_DB");
    snprintf(dbname, sizeof dbname, "%s", name && *name ? name : "it_orders");
    db = oms_pg_settings_from_env("TEST_DB", dbname);
    db.dbname = dbname;
    oms_pg_settings admin = db;
    admin.dbname = "postgres";
    oms_error err;
    oms_pg_pool *pool = oms_pg_pool_create("it-admin", &admin, 1, &err);
    PGconn *c = pool ? oms_pg_acquire(pool, 5000, &err) : NULL;
    if (!c) {
        fprintf(stderr, "cannot reach PostgreSQL: %s\n", err.message);
        return -1;
    }
    /* The name is ours (TEST_DB), checked to be a plain identifier. */
    for (const char *p = dbname; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return -1;
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    oms_pg_release(pool, c, false);
    oms_pg_pool_destroy(pool);
    if (!ok)
        return -1;
    const char *dir = getenv("ORDER_MIGRATIONS_DIR");
    const char *dirs[] = {dir ? dir : "services/order-service/migrations", NULL};
    if (oms_pg_migrate(&db, oms_outbox_migrations, OMS_OUTBOX_MIGRATION_COUNT, dirs, &err) != OMS_OK) {
        fprintf(stderr, "migrate: %s\n", err.message);
        return -1;
    }
    return seed_catalog();
}

static order_item items[2] = {{"product-1", 2, 1050}, {"product-2", 1, 99}};

static order create_order(process *p, const char *customer, const char *key, order_create_outcome *outcome)
{
    order_create_request req = {.customer_id = customer, .items = items, .item_count = 2};
    order o;
    order_create_outcome local;
    oms_error err;
    oms_err rc = order_create(&p->app, p->a, ADMIN, &req, key, "it-request", &o, outcome ? outcome : &local, &err);
    if (rc != OMS_OK)
        fail_msg("create: %s", err.message);
    return o;
}

/* ---- order_repo ------------------------------------------------------------ */

static void order_repo_round_trips_an_order_with_items_and_reasons(void **state)
{
    (void)state;
    process *p = process_start();
    order o = create_order(p, "repo-customer", NULL, NULL);
    oms_tx *tx;
    oms_error err;
    assert_int_equal(oms_tx_begin(p->app.tx, &tx, &err), OMS_OK);
    order loaded;
    assert_int_equal(order_repo_load(&p->orders, tx, p->a, o.id, &loaded, &err), OMS_OK);
    assert_string_equal(loaded.customer_id, "repo-customer");
    assert_int_equal(loaded.item_count, 2);
    assert_string_equal(loaded.items[1].product_id, "product-2");
    assert_int_equal(loaded.items[0].unit_price_cents, 1050);
    assert_int_equal(loaded.total_cents, 2199);
    assert_true(loaded.created_at_ms == fake_now_ms);
    assert_null(loaded.failure_reason);
    loaded.failure_reason = "it's \"quoted\"";
    loaded.modified_at_ms = fake_now_ms + 5;
    assert_int_equal(order_repo_update(&p->orders, tx, p->a, &loaded, &err), OMS_OK);
    order again;
    assert_int_equal(order_repo_load(&p->orders, tx, p->a, o.id, &again, &err), OMS_OK);
    assert_string_equal(again.failure_reason, "it's \"quoted\"");
    assert_true(again.modified_at_ms == fake_now_ms + 5);
    assert_int_equal(order_repo_load(&p->orders, tx, p->a, "99999999-9999-4999-8999-999999999999", &again, &err),
                     OMS_ENOTFOUND);
    oms_tx_rollback(p->app.tx, tx);
    process_stop(p);
}

static void idempotency_key_is_claimed_once(void **state)
{
    (void)state;
    process *p = process_start();
    order_create_outcome outcome;
    order first = create_order(p, "idem", "it-key-1", &outcome);
    assert_int_equal(outcome, ORDER_CREATE_NEW);
    order second = create_order(p, "idem", "it-key-1", &outcome);
    assert_int_equal(outcome, ORDER_CREATE_REPLAYED);
    assert_string_equal(first.id, second.id);
    const char *params[] = {"idem"};
    assert_int_equal(sql_long("SELECT count(*) FROM orders WHERE customer_id = $1", 1, params), 1);
    order_create_request other = {.customer_id = "idem", .items = items, .item_count = 1};
    order o;
    oms_error err;
    assert_int_equal(order_create(&p->app, p->a, ADMIN, &other, "it-key-1", "", &o, &outcome, &err), OMS_ECONFLICT);
    assert_string_equal(err.reason, ORDER_REASON_KEY_REUSED);
    process_stop(p);
}

/* SPEC 7: a key is its principal's (another's same key makes another
 * order), and lives IDEMPOTENCY_KEY_RETENTION_H hours: the retention job
 * removes older keys (in batches), counts them, and then a retry is a new
 * request. */
static void idempotency_keys_are_per_principal_and_removed_after_their_retention(void **state)
{
    (void)state;
    process *p = process_start();
    static const oms_principal alice = {.role = OMS_ROLE_CUSTOMER, .subject = "ret-alice", .id = "key:alice"};
    static const oms_principal bob = {.role = OMS_ROLE_CUSTOMER, .subject = "ret-bob", .id = "key:bob"};
    order_create_request req = {.customer_id = NULL, .items = items, .item_count = 2};
    order alices, bobs;
    order_create_outcome outcome;
    oms_error err;
    assert_int_equal(order_create(&p->app, p->a, &alice, &req, "shared-key", "", &alices, &outcome, &err), OMS_OK);
    assert_int_equal(order_create(&p->app, p->a, &bob, &req, "shared-key", "", &bobs, &outcome, &err), OMS_OK);
    assert_int_equal(outcome, ORDER_CREATE_NEW);
    assert_string_not_equal(alices.id, bobs.id);
    const char *key_sql = "SELECT count(*) FROM idempotency_keys WHERE principal = $1 AND key = 'shared-key'"
                          " AND length(request_hash) = 64";
    assert_int_equal(sql_long(key_sql, 1, (const char *[]){"key:alice"}), 1);

    /* alice's key 25 h old, and 2500 more old keys: one sweep removes them all */
    sql_long("WITH aged AS (UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
             " WHERE principal = 'key:alice' RETURNING order_id)"
             " INSERT INTO idempotency_keys (principal, key, request_hash, order_id, created_at)"
             " SELECT 'key:old', 'old-' || g, 'x', (SELECT order_id FROM aged), now() - interval '30 hours'"
             " FROM generate_series(1, 2500) g RETURNING 1",
             0, NULL);
    const oms_retention_rule rules[] = {{.table = "idempotency_keys", .time_column = "created_at", .keep_s = 86400}};
    long counted = test_metric_sum(p->a, "oms_retention_removed_total");
    int64_t removed = 0;
    oms_pg_pool *pool = oms_pg_pool_create("it-retention", &db, 1, &err);
    assert_non_null(pool);
    assert_int_equal(oms_retention_sweep(pool, p->a, rules, 1, &removed, &err), OMS_OK);
    assert_int_equal(removed, 2501);
    assert_int_equal(test_metric_sum(p->a, "oms_retention_removed_total") - counted, 2501);
    assert_int_equal(sql_long(key_sql, 1, (const char *[]){"key:alice"}), 0);
    assert_int_equal(sql_long(key_sql, 1, (const char *[]){"key:bob"}), 1);
    order again;
    assert_int_equal(order_create(&p->app, p->a, &alice, &req, "shared-key", "", &again, &outcome, &err), OMS_OK);
    assert_int_equal(outcome, ORDER_CREATE_NEW); /* the key was gone: a new request */

    /* the background job does the same on its own */
    sql_long("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE principal = 'key:bob'"
             " RETURNING 1",
             0, NULL);
    oms_retention *job = oms_retention_start(pool, rules, 1, 1, &err);
    assert_non_null(job);
    for (int tries = 0; tries < 100 && sql_long(key_sql, 1, (const char *[]){"key:bob"}) != 0; tries++)
        usleep(50000);
    oms_retention_stop(job);
    assert_int_equal(sql_long(key_sql, 1, (const char *[]){"key:bob"}), 0);
    assert_int_equal(sql_long(key_sql, 1, (const char *[]){"key:alice"}), 1); /* the new one stays */
    oms_pg_pool_destroy(pool);
    process_stop(p);
}

typedef struct racer {
    process *p;
    order o;
    order_create_outcome outcome;
    oms_err rc;
} racer;

static void *race_create(void *arg)
{
    racer *r = arg;
    order_create_request req = {.customer_id = "racer", .items = items, .item_count = 2};
    oms_error err;
    oms_arena *a = oms_arena_create(0);
    r->rc = order_create(&r->p->app, a, ADMIN, &req, "it-race-key", "", &r->o, &r->outcome, &err);
    char id[OMS_UUID_LEN + 1];
    memcpy(id, r->o.id, sizeof id);
    oms_arena_destroy(a);
    memset(&r->o, 0, sizeof r->o);
    memcpy(r->o.id, id, sizeof id);
    return NULL;
}

/* Two POSTs with one key at the same moment: one order, both get it. */
static void concurrent_duplicates_yield_one_order(void **state)
{
    (void)state;
    process *p = process_start();
    racer r[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (racer){.p = p};
        pthread_create(&t[i], NULL, race_create, &r[i]);
    }
    int created = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].rc, OMS_OK);
        created += r[i].outcome == ORDER_CREATE_NEW;
        assert_string_equal(r[i].o.id, r[0].o.id);
    }
    assert_int_equal(created, 1);
    const char *params[] = {"racer"};
    assert_int_equal(sql_long("SELECT count(*) FROM orders WHERE customer_id = $1", 1, params), 1);
    process_stop(p);
}

/* ---- saga_repo -------------------------------------------------------------- */

static void saga_repo_checks_versions_and_numbers_the_log(void **state)
{
    (void)state;
    process *p = process_start();
    order o = create_order(p, "saga-customer", NULL, NULL);
    oms_tx *tx;
    oms_error err;
    assert_int_equal(oms_tx_begin(p->app.tx, &tx, &err), OMS_OK);
    saga s;
    const char *correlation = NULL;
    assert_int_equal(saga_repo_load_for_update(&p->sagas, tx, p->a, o.id, &s, &correlation, &err), OMS_OK);
    assert_string_equal(correlation, "it-request");
    assert_int_equal(s.state, ORDER_PENDING_PAYMENT);
    assert_int_equal(s.step, SAGA_STEP_PAYMENT);
    assert_int_equal(s.attempts, 1);
    assert_true(s.deadline_ms == fake_now_ms + 30000);
    assert_true(oms_uuid_valid(s.command_id));
    int64_t version = s.version;
    s.version++;
    s.attempts = 2;
    assert_int_equal(saga_repo_update(&p->sagas, tx, p->a, &s, version, &err), OMS_OK);
    s.version++;
    assert_int_equal(saga_repo_update(&p->sagas, tx, p->a, &s, version, &err), OMS_ECONFLICT); /* stale */
    oms_tx_rollback(p->app.tx, tx);
    const char *params[] = {s.id};
    long steps = sql_long("SELECT count(*) FROM saga_step_log WHERE saga_id = $1", 1, params);
    assert_true(steps >= 3);
    assert_int_equal(sql_long("SELECT max(seq) FROM saga_step_log WHERE saga_id = $1", 1, params), steps);
    process_stop(p);
}

/* A second scanner skips the sagas the first one holds. */
static void lock_due_skips_sagas_locked_elsewhere(void **state)
{
    (void)state;
    process *p = process_start();
    process *q = process_start();
    int64_t later = fake_now_ms + 10 * 3600 * 1000LL; /* everything created so far is due */
    oms_tx *tx1, *tx2;
    oms_error err;
    assert_int_equal(oms_tx_begin(p->app.tx, &tx1, &err), OMS_OK);
    assert_int_equal(oms_tx_begin(q->app.tx, &tx2, &err), OMS_OK);
    char(*ids1)[OMS_UUID_LEN + 1];
    char(*ids2)[OMS_UUID_LEN + 1];
    size_t n1 = 0, n2 = 0;
    assert_int_equal(saga_repo_lock_due(&p->sagas, tx1, p->a, later, 2, &ids1, &n1, &err), OMS_OK);
    assert_int_equal(saga_repo_lock_due(&q->sagas, tx2, q->a, later, 1000, &ids2, &n2, &err), OMS_OK);
    assert_int_equal(n1, 2);
    assert_true(n2 >= 1);
    for (size_t i = 0; i < n2; i++)
        for (size_t j = 0; j < n1; j++)
            assert_string_not_equal(ids2[i], ids1[j]);
    assert_int_equal(saga_repo_lock_due(&q->sagas, tx2, q->a, fake_now_ms - 1, 1000, &ids2, &n2, &err), OMS_OK);
    assert_int_equal(n2, 0); /* nothing is due before its deadline */
    oms_tx_rollback(p->app.tx, tx1);
    oms_tx_rollback(q->app.tx, tx2);
    process_stop(p);
    process_stop(q);
}

/* ---- read model -------------------------------------------------------------- */

static void read_model_lists_newest_first_and_pages(void **state)
{
    (void)state;
    process *p = process_start();
    char ids[3][OMS_UUID_LEN + 1];
    for (int i = 0; i < 3; i++) {
        __atomic_add_fetch(&fake_now_ms, 10, __ATOMIC_SEQ_CST);
        order o = create_order(p, "reader", NULL, NULL);
        memcpy(ids[i], o.id, sizeof ids[i]);
    }
    order got;
    oms_error err;
    assert_int_equal(order_query_get(&p->queries, p->a, ADMIN, ids[1], &got, &err), OMS_OK);
    assert_int_equal(got.status, ORDER_PENDING_PAYMENT);
    assert_int_equal(got.item_count, 2);
    order_list_params params = {.customer_id = "reader", .limit = "2"};
    order_page page;
    assert_int_equal(order_query_list(&p->queries, p->a, ADMIN, &params, &page, &err), OMS_OK);
    assert_int_equal(page.count, 2);
    assert_string_equal(page.orders[0].id, ids[2]);
    assert_string_equal(page.orders[1].id, ids[1]);
    char cursor[ORDER_CURSOR_MAX];
    memcpy(cursor, page.next_cursor, sizeof cursor);
    params.cursor = cursor;
    assert_int_equal(order_query_list(&p->queries, p->a, ADMIN, &params, &page, &err), OMS_OK);
    assert_int_equal(page.count, 1);
    assert_string_equal(page.orders[0].id, ids[0]);
    assert_string_equal(page.next_cursor, "");
    order_list_params by_status = {.customer_id = "reader", .status = "FAILED"};
    assert_int_equal(order_query_list(&p->queries, p->a, ADMIN, &by_status, &page, &err), OMS_OK);
    assert_int_equal(page.count, 0);
    order *orders;
    size_t count;
    int64_t total;
    assert_int_equal(order_query_customer(&p->queries, p->a, ADMIN, "reader", &orders, &count, &total, &err), OMS_OK);
    assert_int_equal(total, 3);
    saga_history h;
    assert_int_equal(order_query_saga(&p->queries, p->a, ADMIN, ids[0], &h, &err), OMS_OK);
    assert_int_equal(h.saga.state, ORDER_PENDING_PAYMENT);
    assert_true(h.step_count >= 3);
    assert_int_equal(h.steps[0].seq, 1);
    process_stop(p);
}

/* ---- outbox ------------------------------------------------------------------- */

static void create_writes_envelopes_to_the_outbox(void **state)
{
    (void)state;
    process *p = process_start();
    order o = create_order(p, "outbox-customer", NULL, NULL);
    const char *params[] = {o.id};
    assert_int_equal(sql_long("SELECT count(*) FROM outbox WHERE key = $1", 1, params), 3);
    assert_int_equal(sql_long("SELECT (payload::jsonb->'payload'->>'amount_cents')::bigint FROM outbox"
                              " WHERE key = $1 AND topic = 'payment-commands'"
                              " AND payload::jsonb->>'event_type' = 'PaymentRequested'",
                              1, params),
                     2199);
    assert_int_equal(sql_long("SELECT count(*) FROM outbox WHERE key = $1 AND topic = 'order-events'"
                              " AND payload::jsonb->>'correlation_id' = 'it-request'",
                              1, params),
                     2);
    process_stop(p);
}

/* ---- through the bus consumer --------------------------------------------------- */

#define ORDER_SUBSCRIPTION (oms_msg_def_of(OMS_MSG_PAYMENT_PROCESSED)->consumer)

/* Hands `m` to the consumer as the bus would: a batch of one. */
static oms_bus_disposition handle(process *p, const oms_bus_message *m)
{
    oms_bus_outcome out = {.disposition = OMS_BUS_RETRY};
    oms_saga_consume(&p->consumer, m, 1, p->a, &out);
    return out.disposition;
}

/* A reply about `o` as the bus hands it over (taking `payload`'s reference). */
static oms_bus_message reply_message(process *p, const char *topic, const char *event_type, const order *o,
                                     json_t *payload, char event_id[OMS_UUID_LEN + 1])
{
    char *text = oms_envelope_build(p->a, event_type, o->saga_id, o->id, "it-reply", payload, event_id);
    json_decref(payload);
    assert_non_null(text);
    return (oms_bus_message){.topic = topic,
                             .subscription = ORDER_SUBSCRIPTION,
                             .key = o->id,
                             .payload = text,
                             .payload_len = strlen(text),
                             .message_id = "it"};
}

static oms_bus_disposition deliver(process *p, const char *topic, const char *event_type, const order *o,
                                   json_t *payload, char event_id[OMS_UUID_LEN + 1])
{
    oms_bus_message m = reply_message(p, topic, event_type, o, payload, event_id);
    return handle(p, &m);
}

/* The command_id the saga of `o` sent for `step` ("payment", "inventory",
 * ...): what a genuine reply names. In a static buffer per step. */
static const char *command_of(const order *o, const char *step)
{
    static char ids[4][OMS_UUID_LEN + 1];
    static const char *const steps[] = {"payment", "inventory", "release", "refund"};
    int i = 0;
    while (i < 3 && strcmp(steps[i], step) != 0)
        i++;
    oms_error err;
    oms_pg_pool *pool = oms_pg_pool_create("it-check", &db, 1, &err);
    PGconn *c = oms_pg_acquire(pool, 5000, &err);
    assert_non_null(c);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT %s_command_id FROM sagas WHERE order_id = $1", steps[i]);
    PGresult *r = oms_pg_exec(NULL, c, sql, 1, (const char *[]){o->id}, &err);
    assert_non_null(r);
    snprintf(ids[i], sizeof ids[i], "%s", PQntuples(r) && oms_pg_value(r, 0, 0) ? oms_pg_value(r, 0, 0) : "");
    PQclear(r);
    oms_pg_release(pool, c, false);
    oms_pg_pool_destroy(pool);
    return ids[i];
}

static order_status status_of(process *p, const char *id)
{
    order o;
    oms_error err;
    assert_int_equal(order_query_get(&p->queries, p->a, ADMIN, id, &o, &err), OMS_OK);
    return o.status;
}

static void replies_drive_the_saga_once_each(void **state)
{
    (void)state;
    process *p = process_start();
    order o = create_order(p, "bus-customer", NULL, NULL);
    char event_id[OMS_UUID_LEN + 1];
    json_t *paid = json_pack("{s:s, s:b, s:I}", "command_id", command_of(&o, "payment"), "success", 1, "amount_cents",
                             (json_int_t)2199);
    assert_int_equal(deliver(p, OMS_TOPIC_PAYMENT_EVENTS, "PaymentProcessed", &o, paid, event_id), OMS_BUS_ACK);
    assert_int_equal(status_of(p, o.id), ORDER_PAYMENT_CONFIRMED);
    const char *params[] = {o.saga_id};
    long steps = sql_long("SELECT count(*) FROM saga_step_log WHERE saga_id = $1", 1, params);
    /* malformed payload -> dead letter */
    json_t *bad = json_pack("{s:s}", "success", "yes");
    assert_int_equal(deliver(p, OMS_TOPIC_INVENTORY_EVENTS, "InventoryAllocated", &o, bad, event_id), OMS_BUS_DEAD);
    assert_int_equal(sql_long("SELECT count(*) FROM saga_step_log WHERE saga_id = $1", 1, params), steps);
    /* unknown event type -> acknowledged, logged as ignored */
    json_t *odd = json_pack("{}");
    assert_int_equal(deliver(p, OMS_TOPIC_INVENTORY_EVENTS, "InventoryAudited", &o, odd, event_id), OMS_BUS_ACK);
    assert_int_equal(
        sql_long("SELECT count(*) FROM saga_step_log WHERE saga_id = $1 AND kind = 'IGNORED_REPLY'", 1, params), 1);
    json_t *allocated = json_pack("{s:s, s:b}", "command_id", command_of(&o, "inventory"), "success", 1);
    assert_int_equal(deliver(p, OMS_TOPIC_INVENTORY_EVENTS, "InventoryAllocated", &o, allocated, event_id),
                     OMS_BUS_ACK);
    assert_int_equal(status_of(p, o.id), ORDER_INVENTORY_CONFIRMED);
    process_stop(p);
}

static void the_same_event_id_is_handled_once(void **state)
{
    (void)state;
    process *p = process_start();
    order o = create_order(p, "dedup-customer", NULL, NULL);
    json_t *declined = json_pack("{s:s, s:b, s:s}", "command_id", command_of(&o, "payment"), "success", 0, "reason",
                                 "insufficient funds");
    char *text = oms_envelope_build(p->a, "PaymentProcessed", o.saga_id, o.id, "", declined, NULL);
    json_decref(declined);
    oms_bus_message m = {.topic = OMS_TOPIC_PAYMENT_EVENTS,
                         .subscription = ORDER_SUBSCRIPTION,
                         .key = o.id,
                         .payload = text,
                         .payload_len = strlen(text),
                         .message_id = "it"};
    assert_int_equal(handle(p, &m), OMS_BUS_ACK);
    const char *params[] = {o.saga_id};
    long steps = sql_long("SELECT count(*) FROM saga_step_log WHERE saga_id = $1", 1, params);
    assert_int_equal(handle(p, &m), OMS_BUS_ACK);
    assert_int_equal(sql_long("SELECT count(*) FROM saga_step_log WHERE saga_id = $1", 1, params), steps);
    assert_int_equal(status_of(p, o.id), ORDER_FAILED);
    process_stop(p);
}

/* Review M7: an inbox record is kept INBOX_RETENTION_H (168 h by default):
 * within it a redelivered message is a duplicate; once the record is gone a
 * replay is handled again and the saga's state refuses it (not applied
 * twice). The log of an ended saga goes after SAGA_LOG_RETENTION_D, a live
 * saga's stays. */
static void retention_keeps_replays_out_and_removes_only_ended_sagas_logs(void **state)
{
    (void)state;
    process *p = process_start();
    order ended = create_order(p, "ret-ended", NULL, NULL);
    order live = create_order(p, "ret-live", NULL, NULL);
    json_t *declined = json_pack("{s:s, s:b, s:s}", "command_id", command_of(&ended, "payment"), "success", 0, "reason",
                                 "insufficient funds");
    char event_id[OMS_UUID_LEN + 1];
    oms_bus_message m = reply_message(p, OMS_TOPIC_PAYMENT_EVENTS, "PaymentProcessed", &ended, declined, event_id);
    assert_int_equal(handle(p, &m), OMS_BUS_ACK);
    assert_int_equal(status_of(p, ended.id), ORDER_FAILED);
    const char *ended_id[] = {ended.saga_id}, *live_id[] = {live.saga_id}, *event[] = {event_id};
    const char *applied_sql = "SELECT count(*) FROM saga_step_log WHERE saga_id = $1"
                              " AND kind NOT IN ('IGNORED_REPLY', 'REJECTED_REPLY')";
    long applied = sql_long(applied_sql, 1, ended_id);
    const char *record_sql = "SELECT count(*) FROM inbox WHERE event_id = $1::uuid";
    oms_error err;
    oms_pg_pool *pool = oms_pg_pool_create("it-retention", &db, 1, &err);
    assert_non_null(pool);
    const oms_retention_rule inbox = oms_inbox_retention_rule(168 * 3600);

    /* 167 h old: kept, and a redelivery is a duplicate */
    sql_long("UPDATE inbox SET handled_at = now() - interval '167 hours' WHERE event_id = $1::uuid RETURNING 1", 1,
             event);
    assert_int_equal(oms_retention_sweep(pool, p->a, &inbox, 1, NULL, &err), OMS_OK);
    assert_int_equal(sql_long(record_sql, 1, event), 1);
    long all_rows = sql_long("SELECT count(*) FROM saga_step_log WHERE saga_id = $1", 1, ended_id);
    assert_int_equal(handle(p, &m), OMS_BUS_ACK);
    assert_int_equal(sql_long("SELECT count(*) FROM saga_step_log WHERE saga_id = $1", 1, ended_id), all_rows);

    /* 169 h old: removed; the replay is handled again and changes nothing */
    sql_long("UPDATE inbox SET handled_at = now() - interval '169 hours' WHERE event_id = $1::uuid RETURNING 1", 1,
             event);
    assert_int_equal(oms_retention_sweep(pool, p->a, &inbox, 1, NULL, &err), OMS_OK);
    assert_int_equal(sql_long(record_sql, 1, event), 0);
    oms_bus_disposition replayed = handle(p, &m);
    assert_true(replayed == OMS_BUS_ACK || replayed == OMS_BUS_DEAD);
    assert_int_equal(status_of(p, ended.id), ORDER_FAILED);
    assert_int_equal(sql_long(applied_sql, 1, ended_id), applied);

    /* both logs 100 days old: the ended saga's goes, the live one's stays */
    sql_long("UPDATE saga_step_log SET at = now() - interval '100 days' WHERE saga_id IN ($1::uuid, $2::uuid)"
             " RETURNING 1",
             2, (const char *[]){ended.saga_id, live.saga_id});
    long live_rows = sql_long("SELECT count(*) FROM saga_step_log WHERE saga_id = $1", 1, live_id);
    assert_true(live_rows > 0);
    const oms_retention_rule log = pg_saga_log_retention_rule(90 * 86400);
    assert_int_equal(oms_retention_sweep(pool, p->a, &log, 1, NULL, &err), OMS_OK);
    assert_int_equal(sql_long("SELECT count(*) FROM saga_step_log WHERE saga_id = $1", 1, ended_id), 0);
    assert_int_equal(sql_long("SELECT count(*) FROM saga_step_log WHERE saga_id = $1", 1, live_id), live_rows);
    oms_pg_pool_destroy(pool);
    process_stop(p);
}

/* Standard output, with info lines, goes to a file while the test looks
 * (the log lines). */
typedef struct captured_stdout {
    FILE *file;
    int saved;
} captured_stdout;

#define LOG_NAME "order-pg-test"

static captured_stdout capture_stdout(void)
{
    captured_stdout c = {.file = tmpfile()};
    assert_non_null(c.file);
    oms_log_init(LOG_NAME, OMS_LOG_INFO);
    fflush(stdout);
    c.saved = dup(STDOUT_FILENO);
    assert_true(c.saved >= 0 && dup2(fileno(c.file), STDOUT_FILENO) >= 0);
    return c;
}

/* Restores stdout and returns how many captured lines hold both strings. */
static long release_stdout(captured_stdout *c, const char *needle, const char *other)
{
    fflush(stdout);
    dup2(c->saved, STDOUT_FILENO);
    close(c->saved);
    oms_log_init(LOG_NAME, OMS_LOG_WARN);
    rewind(c->file);
    char line[4096];
    long n = 0;
    while (fgets(line, sizeof line, c->file))
        n += strstr(line, needle) && strstr(line, other);
    fclose(c->file);
    return n;
}

/* A batch that fails as a whole is rolled back and handled again message by
 * message (oms_inbox_handle_batch): the good message's saga steps are logged and
 * counted once, by the commit that kept them, not also by the attempt that
 * was rolled back. */
static void a_split_batch_logs_and_counts_each_step_once(void **state)
{
    (void)state;
    process *p = process_start();
    order good = create_order(p, "split-customer", NULL, NULL);
    order other = create_order(p, "split-customer", NULL, NULL);
    const char *params[] = {good.saga_id};
    const char *rows_sql = "SELECT count(*) FROM saga_step_log WHERE saga_id = $1";
    long rows_before = sql_long(rows_sql, 1, params);
    long counted_before = test_metric_sum(p->a, "order_saga_steps_total");
    char event_id[OMS_UUID_LEN + 1];
    oms_bus_message batch[2] = {
        reply_message(p, OMS_TOPIC_PAYMENT_EVENTS, "PaymentProcessed", &good,
                      json_pack("{s:s, s:b, s:I}", "command_id", command_of(&good, "payment"), "success", 1,
                                "amount_cents", (json_int_t)good.total_cents),
                      event_id),
        /* malformed: fails the batch, dead-lettered on its own */
        reply_message(p, OMS_TOPIC_INVENTORY_EVENTS, "InventoryAllocated", &other, json_pack("{s:s}", "success", "yes"),
                      event_id),
    };
    oms_bus_outcome out[2];
    captured_stdout c = capture_stdout();
    oms_saga_consume(&p->consumer, batch, 2, p->a, out);
    long lines = release_stdout(&c, "\"event\":\"saga_step\"", good.id);
    assert_int_equal(out[0].disposition, OMS_BUS_ACK);
    assert_int_equal(out[1].disposition, OMS_BUS_DEAD);
    assert_int_equal(status_of(p, good.id), ORDER_PAYMENT_CONFIRMED);
    long written = sql_long(rows_sql, 1, params) - rows_before;
    assert_int_equal(written, 3); /* reply received, state changed, InventoryRequested sent */
    assert_int_equal(lines, written);
    assert_int_equal(test_metric_sum(p->a, "order_saga_steps_total") - counted_before, written);
    process_stop(p);
}

/* Whether GET /sagas with `params` lists the saga of `order_id` now. */
static bool listed(process *p, const saga_list_params *params, const char *order_id)
{
    saga_page page;
    oms_error err;
    assert_int_equal(order_query_sagas(&p->queries, p->a, ADMIN, params, &page, &err), OMS_OK);
    for (size_t i = 0; i < page.count; i++)
        if (strcmp(page.sagas[i].order_id, order_id) == 0)
            return true;
    return false;
}

static bool listed_as_stuck(process *p, const char *order_id)
{
    return listed(p, &(saga_list_params){.stuck = "true"}, order_id);
}

static bool listed_as_inconsistent(process *p, const char *order_id)
{
    return listed(p, &(saga_list_params){.inconsistent = "true"}, order_id);
}

/* SPEC 5's stuck sagas as the read model's SQL finds them: not ended, and
 * compensating or past the current step's deadline. */
static void read_model_lists_stuck_sagas(void **state)
{
    (void)state;
    process *p = process_start();
    order waiting = create_order(p, "stuck-customer", NULL, NULL);
    order compensating = create_order(p, "stuck-customer", NULL, NULL);
    order failed = create_order(p, "stuck-customer", NULL, NULL);
    order cancelled;
    oms_error err;
    assert_int_equal(order_cancel(&p->app, p->a, ADMIN, compensating.id, NULL, "", &cancelled, &err), OMS_OK);
    char event_id[OMS_UUID_LEN + 1];
    assert_int_equal(deliver(p, OMS_TOPIC_PAYMENT_EVENTS, "PaymentProcessed", &failed,
                             json_pack("{s:s, s:b}", "command_id", command_of(&failed, "payment"), "success", 0),
                             event_id),
                     OMS_BUS_ACK);
    assert_false(listed_as_stuck(p, waiting.id));
    assert_true(listed_as_stuck(p, compensating.id));
    assert_false(listed_as_stuck(p, failed.id));
    __atomic_add_fetch(&fake_now_ms, 31000, __ATOMIC_SEQ_CST); /* past the payment step's 30 s */
    assert_true(listed_as_stuck(p, waiting.id));
    assert_false(listed_as_stuck(p, failed.id));
    process_stop(p);
}

/* Runs one statement as the test's superuser (a state the test needs). */
static void sql_do(const char *sql, const char *order_id) { (void)sql_long(sql, 1, (const char *[]){order_id}); }

static saga_page sagas_where(process *p, saga_list_params params)
{
    saga_page page;
    oms_error err;
    if (order_query_sagas(&p->queries, p->a, ADMIN, &params, &page, &err) != OMS_OK)
        fail_msg("GET /sagas: %s", err.message);
    return page;
}

/* The one order a filter of the customer's sagas finds (NULL: none or several). */
static const char *only_match(process *p, const char *customer, saga_list_params params)
{
    params.customer_id = customer;
    saga_page page = sagas_where(p, params);
    return page.count == 1 ? page.sagas[0].order_id : NULL;
}

/* Issue 12 item 1: every stuck reason and filter as the read model's SQL
 * derives them (order_read_model.h), over sagas put in each state. */
static void read_model_filters_sagas_by_stuck_reason_and_more(void **state)
{
    (void)state;
    process *p = process_start();
    char customer[48];
    snprintf(customer, sizeof customer, "filters-%lld", (long long)fake_now(NULL));
    order fine = create_order(p, customer, NULL, NULL);
    order retrying = create_order(p, customer, NULL, NULL);
    order paused = create_order(p, customer, NULL, NULL);
    order blocked = create_order(p, customer, NULL, NULL);
    order late = create_order(p, customer, NULL, NULL);
    order cancelled;
    oms_error err;
    assert_int_equal(order_cancel(&p->app, p->a, ADMIN, blocked.id, NULL, "", &cancelled, &err), OMS_OK);
    sql_do("UPDATE sagas SET attempts = 2, last_error = 'no reply' WHERE order_id = $1", retrying.id);
    sql_do("UPDATE sagas SET paused = true WHERE order_id = $1", paused.id);
    sql_do("UPDATE sagas SET attempts = 3 WHERE order_id = $1", blocked.id); /* saga_cfg: limit 3 */
    sql_do("UPDATE sagas SET deadline = now() - interval '1 day' WHERE order_id = $1", late.id);
    sql_do("UPDATE sagas SET created_at = created_at - interval '2 hours' WHERE order_id = $1", fine.id);

    assert_string_equal(only_match(p, customer, (saga_list_params){.stuck_reason = "retrying"}), retrying.id);
    assert_string_equal(only_match(p, customer, (saga_list_params){.stuck_reason = "paused"}), paused.id);
    assert_string_equal(only_match(p, customer, (saga_list_params){.stuck_reason = "compensation_blocked"}),
                        blocked.id);
    assert_string_equal(only_match(p, customer, (saga_list_params){.stuck_reason = "deadline_exceeded"}), late.id);
    assert_null(only_match(p, customer, (saga_list_params){.stuck_reason = "waiting_on_dead_letter"}));
    assert_string_equal(only_match(p, customer, (saga_list_params){.step = "refund"}), blocked.id);
    assert_string_equal(only_match(p, customer, (saga_list_params){.state = "COMPENSATING"}), blocked.id);
    assert_string_equal(only_match(p, customer, (saga_list_params){.order_id = late.id}), late.id);
    assert_string_equal(only_match(p, customer, (saga_list_params){.older_than = "1h"}), fine.id);
    assert_null(only_match(p, customer, (saga_list_params){.order_id = late.id, .stuck_reason = "paused"}));

    saga_page page = sagas_where(p, (saga_list_params){.customer_id = customer, .count_only = "true"});
    assert_true(page.count_only);
    assert_int_equal(page.total, 5);
    page = sagas_where(p, (saga_list_params){.customer_id = customer, .stuck = "true", .count_only = "true"});
    assert_int_equal(page.total, 4); /* all but the fine one */

    /* What GET /orders/{id}/saga shows. */
    saga_history h;
    assert_int_equal(order_query_saga(&p->queries, p->a, ADMIN, retrying.id, &h, &err), OMS_OK);
    assert_int_equal(h.saga.stuck, SAGA_STUCK_RETRYING);
    assert_string_equal(h.saga.last_error, "no reply");
    assert_string_equal(h.saga.customer_id, customer);
    assert_int_equal(h.saga.created_ms, retrying.created_at_ms);
    assert_int_equal(order_query_saga(&p->queries, p->a, ADMIN, fine.id, &h, &err), OMS_OK);
    assert_int_equal(h.saga.stuck, SAGA_STUCK_NONE);

    /* Oldest first, two at a time: each saga once, the back-dated one first. */
    const char *seen[8];
    size_t n = 0;
    saga_list_params params = {.customer_id = customer, .sort = "age", .limit = "2"};
    for (int pages = 0; pages < 5; pages++) {
        page = sagas_where(p, params);
        for (size_t i = 0; i < page.count && n < 8; i++)
            seen[n++] = oms_arena_strdup(p->a, page.sagas[i].order_id);
        if (!page.next_cursor[0])
            break;
        params.cursor = oms_arena_strdup(p->a, page.next_cursor);
    }
    assert_int_equal(n, 5);
    assert_string_equal(seen[0], fine.id);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(seen[i], seen[j]);
    /* Nearest deadline first, the same way: the overdue one leads. */
    params = (saga_list_params){.customer_id = customer, .limit = "3"};
    page = sagas_where(p, params);
    assert_string_equal(page.sagas[0].order_id, late.id);
    assert_true(page.next_cursor[0]);
    params.cursor = oms_arena_strdup(p->a, page.next_cursor);
    assert_int_equal(sagas_where(p, params).count, 2);

    /* The metrics' counts include these. */
    saga_stats st;
    assert_int_equal(order_read_model_saga_stats(&p->read_model, p->a, fake_now(NULL), 3, &st, &err), OMS_OK);
    assert_true(st.stuck[SAGA_STUCK_RETRYING][SAGA_STEP_PAYMENT] >= 1);
    assert_true(st.stuck[SAGA_STUCK_PAUSED][SAGA_STEP_PAYMENT] >= 1);
    assert_true(st.stuck[SAGA_STUCK_COMPENSATION_BLOCKED][SAGA_STEP_REFUND] >= 1);
    assert_true(st.stuck[SAGA_STUCK_DEADLINE_EXCEEDED][SAGA_STEP_PAYMENT] >= 1);
    assert_true(st.open >= 5);
    assert_true(st.age_bucket[5] + st.age_bucket[6] >= 1); /* the one two hours old */
    process_stop(p);
}

/* An operator's action at the saga's version as stored now. */
static oms_err act_on(process *p, const order *o, const char *action, oms_error *err)
{
    const char *params[] = {o->id};
    char version[24];
    snprintf(version, sizeof version, "%ld", sql_long("SELECT version FROM sagas WHERE order_id = $1", 1, params));
    const oms_principal operator_principal = {.role = OMS_ROLE_OPERATOR, .subject = "ops", .id = "key:ops"};
    saga_action_request req = {.action = action, .reason = "incident 7", .if_match = version};
    saga_outcome out;
    return order_saga_action(&p->app, p->a, &operator_principal, o->saga_id, &req, "req-ops", &out, err);
}

/* Issue 12 item 2 over PostgreSQL: a paused saga is skipped by the deadline
 * scanner and holds a reply (saga_held_replies, REPLY_HELD); resume applies
 * it and empties the table; a stale version is refused; each action is a
 * row of the saga log. */
static void paused_saga_holds_replies_until_resumed(void **state)
{
    (void)state;
    process *p = process_start();
    order o = create_order(p, "paused-customer", NULL, NULL);
    const char *order_params[] = {o.id};
    const char *saga_params[] = {o.saga_id};
    oms_error err;
    assert_int_equal(act_on(p, &o, "pause", &err), OMS_OK);
    assert_int_equal(sql_long("SELECT count(*) FROM sagas WHERE order_id = $1 AND paused", 1, order_params), 1);
    __atomic_add_fetch(&fake_now_ms, 3600 * 1000, __ATOMIC_SEQ_CST);
    size_t handled = 99;
    assert_int_equal(order_on_step_deadlines(&p->app, p->a, 50, &handled, &err), OMS_OK);
    assert_int_equal(sql_long("SELECT attempts FROM sagas WHERE order_id = $1", 1, order_params), 1);
    char event_id[OMS_UUID_LEN + 1];
    assert_int_equal(deliver(p, OMS_TOPIC_PAYMENT_EVENTS, "PaymentProcessed", &o,
                             json_pack("{s:s, s:b, s:I}", "command_id", command_of(&o, "payment"), "success", 1,
                                       "amount_cents", (json_int_t)o.total_cents),
                             event_id),
                     OMS_BUS_ACK);
    assert_int_equal(status_of(p, o.id), ORDER_PENDING_PAYMENT);
    assert_int_equal(sql_long("SELECT count(*) FROM saga_held_replies WHERE saga_id = $1", 1, saga_params), 1);
    assert_int_equal(
        sql_long("SELECT count(*) FROM saga_step_log WHERE saga_id = $1 AND kind = 'REPLY_HELD'", 1, saga_params), 1);
    const oms_principal operator_principal = {.role = OMS_ROLE_OPERATOR, .subject = "ops", .id = "key:ops"};
    saga_action_request stale = {.action = "resume", .reason = "r", .if_match = "\"0\""};
    saga_outcome out;
    assert_int_equal(order_saga_action(&p->app, p->a, &operator_principal, o.saga_id, &stale, "", &out, &err),
                     OMS_ECONFLICT);
    assert_string_equal(err.reason, ORDER_REASON_VERSION_MISMATCH);
    assert_int_equal(act_on(p, &o, "resume", &err), OMS_OK);
    assert_int_equal(status_of(p, o.id), ORDER_PAYMENT_CONFIRMED);
    assert_int_equal(sql_long("SELECT count(*) FROM saga_held_replies WHERE saga_id = $1", 1, saga_params), 0);
    assert_int_equal(sql_long("SELECT count(*) FROM saga_step_log WHERE saga_id = $1 AND kind = 'OPERATOR_ACTION'"
                              " AND detail LIKE '%key:ops (operator): incident 7'",
                              1, saga_params),
                     2);
    assert_int_equal(act_on(p, &o, "retry_now", &err), OMS_OK); /* the inventory request, again */
    assert_int_equal(sql_long("SELECT attempts FROM sagas WHERE order_id = $1", 1, order_params), 2);
    /* one audit row per accepted action (pause, resume, retry_now), none for the stale one */
    assert_int_equal(
        sql_long("SELECT count(*) FROM audit_log WHERE saga_id = $1 AND action LIKE 'saga.%'", 1, saga_params), 3);
    process_stop(p);
}

/* Issue 12 item 8: a reply for an order without a saga is kept in
 * orphan_replies and counted {why="unknown_saga"} (once, however often it is
 * delivered); one for an ended saga is an IGNORED_REPLY row, counted
 * {why="finished_saga"}. Both are acknowledged. */
static void replies_nobody_waits_for_are_recorded_and_counted(void **state)
{
    (void)state;
    process *p = process_start();
    long before = test_metric_sum(p->a, "oms_orphan_replies_total");
    order ghost = {0};
    snprintf(ghost.id, sizeof ghost.id, "%s", "99999999-9999-4999-8999-999999999991");
    snprintf(ghost.saga_id, sizeof ghost.saga_id, "%s", "99999999-9999-4999-8999-999999999992");
    char event_id[OMS_UUID_LEN + 1];
    oms_bus_message m = reply_message(p, OMS_TOPIC_PAYMENT_EVENTS, "PaymentProcessed", &ghost,
                                      json_pack("{s:s, s:b, s:I}", "command_id", "99999999-9999-4999-8999-999999999993",
                                                "success", 1, "amount_cents", (json_int_t)100),
                                      event_id);
    assert_int_equal(handle(p, &m), OMS_BUS_ACK);
    assert_int_equal(handle(p, &m), OMS_BUS_ACK); /* a redelivery: the inbox has it */
    const char *params[] = {event_id};
    assert_int_equal(sql_long("SELECT count(*) FROM orphan_replies WHERE event_id = $1 AND order_id = "
                              "'99999999-9999-4999-8999-999999999991' AND event_type = 'PaymentProcessed'",
                              1, params),
                     1);
    assert_int_equal(test_metric_sum(p->a, "oms_orphan_replies_total") - before, 1);

    order o = create_order(p, "orphan-customer", NULL, NULL);
    assert_int_equal(deliver(p, OMS_TOPIC_PAYMENT_EVENTS, "PaymentProcessed", &o,
                             json_pack("{s:s, s:b}", "command_id", command_of(&o, "payment"), "success", 0), event_id),
                     OMS_BUS_ACK); /* declined: FAILED */
    assert_int_equal(status_of(p, o.id), ORDER_FAILED);
    assert_int_equal(deliver(p, OMS_TOPIC_PAYMENT_EVENTS, "PaymentProcessed", &o,
                             json_pack("{s:s, s:b}", "command_id", command_of(&o, "payment"), "success", 0), event_id),
                     OMS_BUS_ACK); /* a second answer to an ended saga */
    const char *saga_params[] = {o.saga_id};
    assert_int_equal(
        sql_long("SELECT count(*) FROM saga_step_log WHERE saga_id = $1 AND kind = 'IGNORED_REPLY'", 1, saga_params),
        1);
    assert_int_equal(test_metric_sum(p->a, "oms_orphan_replies_total") - before, 2);
    process_stop(p);
}

/* An order with a message dead in the bus (saga_dead_letters, filled by
 * order-service's dead-letter scan) lists as waiting_on_dead_letter; a
 * paused one stays paused (the operator's word first). */
static void a_dead_lettered_message_shows_as_waiting_on_dead_letter(void **state)
{
    (void)state;
    process *p = process_start();
    char customer[48];
    snprintf(customer, sizeof customer, "dead-%lld", (long long)fake_now(NULL));
    order o = create_order(p, customer, NULL, NULL);
    assert_null(only_match(p, customer, (saga_list_params){.stuck_reason = "waiting_on_dead_letter"}));
    sql_do("INSERT INTO saga_dead_letters (order_id, dead_letters) VALUES ($1, 1)", o.id);
    assert_string_equal(only_match(p, customer, (saga_list_params){.stuck_reason = "waiting_on_dead_letter"}), o.id);
    saga_history h;
    oms_error err;
    assert_int_equal(order_query_saga(&p->queries, p->a, ADMIN, o.id, &h, &err), OMS_OK);
    assert_int_equal(h.saga.stuck, SAGA_STUCK_WAITING_ON_DEAD_LETTER);
    sql_do("UPDATE sagas SET paused = true WHERE order_id = $1", o.id);
    assert_string_equal(only_match(p, customer, (saga_list_params){.stuck_reason = "paused"}), o.id);
    /* the scan replaces the whole set: none now */
    oms_tx *tx = NULL;
    assert_int_equal(oms_tx_begin(p->app.tx, &tx, &err), OMS_OK);
    assert_int_equal(saga_repo_replace_dead_lettered(&p->sagas, tx, p->a, NULL, NULL, 0, &err), OMS_OK);
    assert_int_equal(oms_tx_commit(p->app.tx, tx, &err), OMS_OK);
    assert_int_equal(sql_long("SELECT count(*) FROM saga_dead_letters", 0, NULL), 0);
    process_stop(p);
}

/* ---- replies the saga trusts (the bus is not) -------------------------------------------- */

/* A reply naming a command the saga never sent (forged, or another saga's)
 * and a payment of another amount are refused: logged REJECTED_REPLY in a
 * committed transaction, dead-lettered with the why, the saga unchanged; a
 * redelivery is a duplicate. A reply on another type's topic is refused
 * before that. */
static void replies_that_answer_no_command_are_dead_lettered_and_logged(void **state)
{
    (void)state;
    process *p = process_start();
    order o = create_order(p, "forged-customer", NULL, NULL);
    const char *saga_params[] = {o.saga_id};
    const char *rejected_sql = "SELECT count(*) FROM saga_step_log WHERE saga_id = $1 AND kind = 'REJECTED_REPLY'";
    char event_id[OMS_UUID_LEN + 1];
    oms_bus_message forged = reply_message(p, OMS_TOPIC_PAYMENT_EVENTS, "PaymentProcessed", &o,
                                           json_pack("{s:s, s:b, s:I}", "command_id",
                                                     "00000000-0000-4000-8000-000000000001", "success", 1,
                                                     "amount_cents", (json_int_t)o.total_cents),
                                           event_id);
    oms_bus_outcome out = {.disposition = OMS_BUS_RETRY};
    oms_saga_consume(&p->consumer, &forged, 1, p->a, &out);
    assert_int_equal(out.disposition, OMS_BUS_DEAD);
    assert_non_null(strstr(out.reason, "not the saga's payment command"));
    assert_int_equal(sql_long(rejected_sql, 1, saga_params), 1);
    assert_int_equal(status_of(p, o.id), ORDER_PENDING_PAYMENT);
    assert_int_equal(handle(p, &forged), OMS_BUS_ACK); /* a redrive: already handled */
    assert_int_equal(sql_long(rejected_sql, 1, saga_params), 1);

    /* the right command, not the order's amount */
    assert_int_equal(deliver(p, OMS_TOPIC_PAYMENT_EVENTS, "PaymentProcessed", &o,
                             json_pack("{s:s, s:b, s:I}", "command_id", command_of(&o, "payment"), "success", 1,
                                       "amount_cents", (json_int_t)1),
                             event_id),
                     OMS_BUS_DEAD);
    assert_int_equal(sql_long(rejected_sql, 1, saga_params), 2);
    /* a payment reply on inventory-events: refused as misrouted, not logged */
    assert_int_equal(deliver(p, OMS_TOPIC_INVENTORY_EVENTS, "PaymentProcessed", &o,
                             json_pack("{s:s, s:b, s:I}", "command_id", command_of(&o, "payment"), "success", 1,
                                       "amount_cents", (json_int_t)o.total_cents),
                             event_id),
                     OMS_BUS_DEAD);
    assert_int_equal(sql_long(rejected_sql, 1, saga_params), 2);
    assert_int_equal(status_of(p, o.id), ORDER_PENDING_PAYMENT);
    assert_false(listed_as_inconsistent(p, o.id));
    process_stop(p);
}

/* A genuine decline after the saga acted on a confirmation (a forged one
 * that named the right command): the saga compensates as for any failure
 * and is marked inconsistent, for an operator. */
static void a_contradicting_reply_marks_the_saga_inconsistent(void **state)
{
    (void)state;
    process *p = process_start();
    order o = create_order(p, "contradicted-customer", NULL, NULL);
    char event_id[OMS_UUID_LEN + 1];
    assert_int_equal(deliver(p, OMS_TOPIC_PAYMENT_EVENTS, "PaymentProcessed", &o,
                             json_pack("{s:s, s:b, s:I}", "command_id", command_of(&o, "payment"), "success", 1,
                                       "amount_cents", (json_int_t)o.total_cents),
                             event_id),
                     OMS_BUS_ACK);
    assert_false(listed_as_inconsistent(p, o.id));
    assert_int_equal(deliver(p, OMS_TOPIC_PAYMENT_EVENTS, "PaymentProcessed", &o,
                             json_pack("{s:s, s:b, s:s}", "command_id", command_of(&o, "payment"), "success", 0,
                                       "reason", "insufficient funds"),
                             event_id),
                     OMS_BUS_ACK);
    const char *saga_params[] = {o.saga_id};
    assert_int_equal(
        sql_long("SELECT count(*) FROM saga_step_log WHERE saga_id = $1 AND kind = 'INCONSISTENT'", 1, saga_params), 1);
    assert_int_equal(sql_long("SELECT count(*) FROM sagas WHERE id = $1 AND inconsistency IS NOT NULL", 1, saga_params),
                     1);
    assert_true(listed_as_inconsistent(p, o.id));
    process_stop(p);
}

/* ---- restart: every unfinished saga resumes ---------------------------------------- */

static void unfinished_sagas_resume_after_a_crash(void **state)
{
    (void)state;
    process *first = process_start();
    order orders[3];
    for (int i = 0; i < 3; i++)
        orders[i] = create_order(first, "crash-customer", NULL, NULL);
    /* "Crash": the process goes away mid-saga, nothing is finished or flushed. */
    process_stop(first);

    /* A new process, later than every deadline: its scanner resends each
     * command with the same command_id, and replies then complete them. */
    __atomic_add_fetch(&fake_now_ms, 31000, __ATOMIC_SEQ_CST);
    process *second = process_start();
    oms_error err;
    deadline_scanner *scanner = deadline_scanner_start(&second->app, 20, &err);
    assert_non_null(scanner);
    for (int i = 0; i < 3; i++) {
        const char *params[] = {orders[i].id};
        for (int tries = 0; tries < 250 && sql_long("SELECT count(*) FROM outbox WHERE key = $1 AND"
                                                    " payload::jsonb->>'event_type' = 'PaymentRequested'",
                                                    1, params) < 2;
             tries++)
            usleep(20000);
        assert_int_equal(sql_long("SELECT count(DISTINCT payload::jsonb->'payload'->>'command_id') FROM outbox"
                                  " WHERE key = $1 AND payload::jsonb->>'event_type' = 'PaymentRequested'",
                                  1, params),
                         1); /* same command */
        assert_int_equal(sql_long("SELECT count(DISTINCT payload::jsonb->>'event_id') FROM outbox"
                                  " WHERE key = $1 AND payload::jsonb->>'event_type' = 'PaymentRequested'",
                                  1, params),
                         2); /* sent twice */
    }
    deadline_scanner_stop(scanner);
    for (int i = 0; i < 3; i++) {
        char event_id[OMS_UUID_LEN + 1];
        json_t *paid = json_pack("{s:s, s:b, s:I}", "command_id", command_of(&orders[i], "payment"), "success", 1,
                                 "amount_cents", (json_int_t)orders[i].total_cents);
        assert_int_equal(deliver(second, OMS_TOPIC_PAYMENT_EVENTS, "PaymentProcessed", &orders[i], paid, event_id),
                         OMS_BUS_ACK);
        json_t *allocated = json_pack("{s:s, s:b}", "command_id", command_of(&orders[i], "inventory"), "success", 1);
        assert_int_equal(
            deliver(second, OMS_TOPIC_INVENTORY_EVENTS, "InventoryAllocated", &orders[i], allocated, event_id),
            OMS_BUS_ACK);
        assert_int_equal(status_of(second, orders[i].id), ORDER_INVENTORY_CONFIRMED);
        const char *params[] = {orders[i].saga_id};
        assert_int_equal(
            sql_long("SELECT count(*) FROM saga_step_log WHERE saga_id = $1 AND kind = 'RETRY'", 1, params), 1);
    }
    process_stop(second);
}

static void cancel_confirmed_order_releases_then_refunds(void **state)
{
    (void)state;
    process *p = process_start();
    order o = create_order(p, "cancel-customer", NULL, NULL);
    char event_id[OMS_UUID_LEN + 1];
    deliver(p, OMS_TOPIC_PAYMENT_EVENTS, "PaymentProcessed", &o,
            json_pack("{s:s, s:b, s:I}", "command_id", command_of(&o, "payment"), "success", 1, "amount_cents",
                      (json_int_t)o.total_cents),
            event_id);
    deliver(p, OMS_TOPIC_INVENTORY_EVENTS, "InventoryAllocated", &o,
            json_pack("{s:s, s:b}", "command_id", command_of(&o, "inventory"), "success", 1), event_id);
    order cancelled;
    oms_error err;
    assert_int_equal(order_cancel(&p->app, p->a, ADMIN, o.id, "no longer needed", "", &cancelled, &err), OMS_OK);
    assert_int_equal(cancelled.status, ORDER_COMPENSATING);
    const char *params[] = {o.id};
    assert_int_equal(sql_long("SELECT count(*) FROM outbox WHERE key = $1 AND"
                              " payload::jsonb->>'event_type' = 'InventoryReleaseRequested'",
                              1, params),
                     1);
    deliver(p, OMS_TOPIC_INVENTORY_EVENTS, "InventoryReleased", &o,
            json_pack("{s:s, s:b}", "command_id", command_of(&o, "release"), "released", 1), event_id);
    deliver(p, OMS_TOPIC_PAYMENT_EVENTS, "PaymentRefunded", &o,
            json_pack("{s:s, s:I}", "command_id", command_of(&o, "refund"), "amount_cents", (json_int_t)o.total_cents),
            event_id);
    assert_int_equal(status_of(p, o.id), ORDER_CANCELLED);
    assert_int_equal(order_cancel(&p->app, p->a, ADMIN, o.id, NULL, "", &cancelled, &err), OMS_ECONFLICT);
    assert_string_equal(err.reason, ORDER_REASON_ORDER_ENDED);
    saga_page page;
    assert_int_equal(
        order_query_sagas(&p->queries, p->a, ADMIN, &(saga_list_params){.state = "CANCELLED"}, &page, &err), OMS_OK);
    assert_true(page.count >= 1);
    process_stop(p);
}

/* ---- the HTTP adapter, on a real server ---------------------------------- */

typedef struct http_reply {
    long status;
    char body[8192];
    size_t len;
    char location[128];
} http_reply;

static size_t collect_body(char *data, size_t size, size_t n, void *arg)
{
    http_reply *r = arg;
    size_t take = size * n;
    if (take > sizeof r->body - 1 - r->len)
        take = sizeof r->body - 1 - r->len;
    memcpy(r->body + r->len, data, take);
    r->len += take;
    r->body[r->len] = '\0';
    return size * n;
}

static size_t collect_header(char *data, size_t size, size_t n, void *arg)
{
    http_reply *r = arg;
    size_t len = size * n;
    if (len > 10 && strncasecmp(data, "Location: ", 10) == 0)
        snprintf(r->location, sizeof r->location, "%.*s", (int)(len - 12), data + 10);
    return len;
}

static int http_port;

static http_reply http_call(const char *method, const char *path, const char *body, const char *header)
{
    http_reply r = {0};
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", http_port, path);
    CURL *c = curl_easy_init();
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (header)
        headers = curl_slist_append(headers, header);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (curl_easy_perform(c) != CURLE_OK)
        fail_msg("%s %s failed", method, path);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return r;
}

static void expect_error(const http_reply *r, long status, const char *code, const char *field)
{
    if (r->status != status)
        fail_msg("status %ld, wanted %ld: %s", r->status, status, r->body);
    char want[128];
    snprintf(want, sizeof want, "\"code\":\"%s\"", code);
    assert_non_null(strstr(r->body, want));
    if (field) {
        snprintf(want, sizeof want, "\"field\":\"%s\"", field);
        assert_non_null(strstr(r->body, want));
    }
}

/* The services' admission without keys: a request without identity headers
 * is the local admin's (service_auth.h). */
static bool admit_as_local_admin(void *ctx, oms_http_request *req, oms_http_response *res)
{
    (void)ctx;
    static const oms_internal_keys none = {0};
    return oms_service_admit(&none, req, res);
}

static void http_api_answers_as_the_spec_says(void **state)
{
    (void)state;
    process *p = process_start();
    http_api api = {.app = &p->app, .queries = &p->queries};
    size_t count = 0;
    const oms_http_route *routes = http_api_routes(&count);
    http_port = 30000 + (int)(getpid() % 20000);
    oms_http_config cfg = {.bind_address = "127.0.0.1",
                           .port = http_port,
                           .limits = {.threads = 2},
                           .routes = routes,
                           .route_count = count,
                           .ctx = &api,
                           .admit = admit_as_local_admin};
    oms_error err;
    oms_http_server *server = oms_http_server_start(&cfg, &err);
    if (!server)
        fail_msg("http server: %s", err.message);

    const char *body = "{\"customer_id\":\"http-customer\",\"items\":[{\"product_id\":\"product-1\","
                       "\"quantity\":2,\"unit_price\":10.50}]}";
    http_reply created = http_call("POST", "/orders", body, "Idempotency-Key: http-key-1");
    assert_int_equal(created.status, 201);
    assert_non_null(strstr(created.body, "\"status\":\"PENDING_PAYMENT\""));
    assert_non_null(strstr(created.body, "\"total_amount\":21.00"));
    assert_non_null(strstr(created.location, "/orders/"));
    http_reply again = http_call("POST", "/orders", body, "Idempotency-Key: http-key-1");
    assert_int_equal(again.status, 200);
    assert_string_equal(again.location, created.location);
    http_reply reused = http_call("POST", "/orders",
                                  "{\"customer_id\":\"x\",\"items\":[{\"product_id\":\"p\","
                                  "\"quantity\":1,\"unit_price\":1}]}",
                                  "Idempotency-Key: http-key-1");
    expect_error(&reused, 422, "idempotency_key_reused", "Idempotency-Key");
    http_reply bad_key = http_call("POST", "/orders", body, "Idempotency-Key: has space");
    expect_error(&bad_key, 400, "invalid_argument", "Idempotency-Key");
    http_reply tampered = http_call("POST", "/orders",
                                    "{\"customer_id\":\"c\",\"items\":[{\"product_id\":"
                                    "\"product-1\",\"quantity\":1,\"unit_price\":0}]}",
                                    NULL);
    expect_error(&tampered, 409, "price_changed", "items[0].unit_price");
    assert_non_null(strstr(tampered.body, "10.50"));
    http_reply unknown = http_call("POST", "/orders",
                                   "{\"customer_id\":\"c\",\"items\":[{\"product_id\":"
                                   "\"no-such-product\",\"quantity\":1}]}",
                                   NULL);
    expect_error(&unknown, 409, "unknown_product", "items[0].product_id");
    http_reply nobody = http_call("POST", "/orders", "{\"items\":[{\"product_id\":\"product-1\",\"quantity\":1}]}",
                                  NULL);
    expect_error(&nobody, 400, "invalid_argument", "customer_id");

    http_reply got = http_call("GET", created.location, NULL, NULL);
    assert_int_equal(got.status, 200);
    char path[160];
    snprintf(path, sizeof path, "%s?include_saga_history=true", created.location);
    http_reply history = http_call("GET", path, NULL, NULL);
    assert_non_null(strstr(history.body, "\"saga_history\":[{\"seq\":1"));
    snprintf(path, sizeof path, "%s/saga", created.location);
    http_reply saga_doc = http_call("GET", path, NULL, NULL);
    assert_non_null(strstr(saga_doc.body, "\"current_step\":\"payment\""));
    assert_non_null(strstr(saga_doc.body, "\"steps\":["));

    expect_error((http_reply[]){http_call("POST", "/orders",
                                          "{\"customer_id\":\"c\",\"items\":[{\"product_id\":"
                                          "\"p\",\"quantity\":0,\"unit_price\":1}]}",
                                          NULL)},
                 400, "invalid_argument", "items[0].quantity");
    expect_error((http_reply[]){http_call("POST", "/orders",
                                          "{\"customer_id\":\"c\",\"items\":[{\"product_id\":"
                                          "\"p\",\"quantity\":1,\"unit_price\":1.005}]}",
                                          NULL)},
                 400, "invalid_argument", "items[0].unit_price");
    expect_error((http_reply[]){http_call("POST", "/orders", "{\"customer_id\":\"c\",\"items\":[]}", NULL)}, 400,
                 "invalid_argument", "items");
    expect_error((http_reply[]){http_call("POST", "/orders", "{", NULL)}, 400, "invalid_json", NULL);
    expect_error((http_reply[]){http_call("GET", "/orders/not-a-uuid", NULL, NULL)}, 404, "not_found", NULL);
    expect_error((http_reply[]){http_call("GET", "/orders/00000000-0000-4000-8000-000000000000", NULL, NULL)}, 404,
                 "not_found", NULL);
    expect_error((http_reply[]){http_call("GET", "/orders?status=NOPE", NULL, NULL)}, 400, "invalid_argument",
                 "status");
    expect_error((http_reply[]){http_call("GET", "/orders?cursor=%21%21", NULL, NULL)}, 400, "invalid_argument",
                 "cursor");
    expect_error((http_reply[]){http_call("GET", "/orders?limit=501", NULL, NULL)}, 400, "invalid_argument", "limit");

    http_reply list = http_call("GET", "/orders?customer_id=http-customer&limit=1", NULL, NULL);
    assert_int_equal(list.status, 200);
    assert_non_null(strstr(list.body, "\"next_cursor\":null"));
    http_reply customer = http_call("GET", "/customers/http-customer/orders", NULL, NULL);
    assert_non_null(strstr(customer.body, "\"total_orders\":1"));
    http_reply stuck = http_call("GET", "/sagas?state=&stuck=true", NULL, NULL);
    assert_int_equal(stuck.status, 200);

    snprintf(path, sizeof path, "%s/cancel", created.location);
    char long_reason[600] = "{\"reason\":\"";
    memset(long_reason + strlen(long_reason), 'r', 501);
    strcat(long_reason, "\"}");
    expect_error((http_reply[]){http_call("POST", path, long_reason, NULL)}, 400, "invalid_argument", "reason");
    http_reply cancelled = http_call("POST", path, "{\"reason\":\"changed my mind\"}", NULL);
    assert_int_equal(cancelled.status, 202);
    assert_non_null(strstr(cancelled.body, "\"status\":\"COMPENSATING\""));
    assert_non_null(strstr(cancelled.body, "\"cancellation_reason\":\"changed my mind\""));
    expect_error((http_reply[]){http_call("POST", "/orders/00000000-0000-4000-8000-000000000000/cancel", "{}", NULL)},
                 404, "not_found", NULL);

    oms_http_server_stop(server, 1000);
    process_stop(p);
}

int main(void)
{
    oms_log_init(LOG_NAME, OMS_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(order_repo_round_trips_an_order_with_items_and_reasons),
        cmocka_unit_test(idempotency_key_is_claimed_once),
        cmocka_unit_test(idempotency_keys_are_per_principal_and_removed_after_their_retention),
        cmocka_unit_test(retention_keeps_replays_out_and_removes_only_ended_sagas_logs),
        cmocka_unit_test(concurrent_duplicates_yield_one_order),
        cmocka_unit_test(saga_repo_checks_versions_and_numbers_the_log),
        cmocka_unit_test(lock_due_skips_sagas_locked_elsewhere),
        cmocka_unit_test(read_model_lists_newest_first_and_pages),
        cmocka_unit_test(create_writes_envelopes_to_the_outbox),
        cmocka_unit_test(replies_drive_the_saga_once_each),
        cmocka_unit_test(the_same_event_id_is_handled_once),
        cmocka_unit_test(a_split_batch_logs_and_counts_each_step_once),
        cmocka_unit_test(replies_that_answer_no_command_are_dead_lettered_and_logged),
        cmocka_unit_test(a_contradicting_reply_marks_the_saga_inconsistent),
        cmocka_unit_test(unfinished_sagas_resume_after_a_crash),
        cmocka_unit_test(cancel_confirmed_order_releases_then_refunds),
        cmocka_unit_test(http_api_answers_as_the_spec_says),
        cmocka_unit_test(read_model_lists_stuck_sagas),
        cmocka_unit_test(read_model_filters_sagas_by_stuck_reason_and_more),
        cmocka_unit_test(paused_saga_holds_replies_until_resumed),
        cmocka_unit_test(replies_nobody_waits_for_are_recorded_and_counted),
        cmocka_unit_test(a_dead_lettered_message_shows_as_waiting_on_dead_letter),
    };
    return cmocka_run_group_tests_name("order_pg", tests, setup_database, NULL);
}
