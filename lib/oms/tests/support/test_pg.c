/* test_pg.c -- see test_pg.h. */
#include "test_pg.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oms/config.h"
#include "oms/envelope.h"
#include "oms/outbox.h"

#define TEST_POOL_SIZE 16
#define MAX_THREADS 64

oms_pg_pool *test_pg_open(const char *default_db, const char *default_migrations, const char *pool_name)
{
    oms_pg_settings s = oms_pg_settings_from_env("TEST_DB", default_db);
    const char *dirs[] = {oms_config_str("MIGRATIONS_DIR", default_migrations), NULL};
    oms_error err;
    if (oms_pg_migrate(&s, oms_outbox_migrations, OMS_OUTBOX_MIGRATION_COUNT, dirs, &err) != OMS_OK) {
        fprintf(stderr, "migrate: %s\n", err.message);
        return NULL;
    }
    oms_pg_pool *pool = oms_pg_pool_create(pool_name, &s, TEST_POOL_SIZE, &err);
    if (!pool)
        fprintf(stderr, "pool: %s\n", err.message);
    return pool;
}

int test_pg_fixture_open(test_pg_fixture *f, const char *default_db, const char *default_migrations,
                         const char *pool_name)
{
    f->pool = test_pg_open(default_db, default_migrations, pool_name);
    f->arena = oms_arena_create(0);
    return f->pool && f->arena ? 0 : -1;
}

void test_pg_fixture_close(test_pg_fixture *f)
{
    oms_arena_destroy(f->arena);
    oms_pg_pool_destroy(f->pool);
    *f = (test_pg_fixture){0};
}

void test_pg_fixture_clean(test_pg_fixture *f, const char *truncate_sql)
{
    oms_arena_reset(f->arena);
    test_pg_query(f->pool, f->arena, truncate_sql, 0, NULL);
}

oms_command_origin test_origin(const char *order_id, const char *command_id)
{
    return (oms_command_origin){
        .saga_id = order_id, .order_id = order_id, .correlation_id = "test", .command_id = command_id};
}

PGresult *test_pg_query(oms_pg_pool *pool, oms_arena *a, const char *sql, int n, const char *const *params)
{
    oms_error err;
    PGconn *c = oms_pg_acquire(pool, 5000, &err);
    if (!c)
        fail_msg("no connection: %s", err.message);
    PGresult *r = oms_pg_exec(a, c, sql, n, params, &err);
    oms_pg_release(pool, c, false);
    if (!r)
        fail_msg("%s: %s", sql, err.message);
    return r;
}

int64_t test_pg_query_int(oms_pg_pool *pool, oms_arena *a, const char *sql, int n, const char *const *params)
{
    const char *v = oms_pg_value(test_pg_query(pool, a, sql, n, params), 0, 0);
    return v ? strtoll(v, NULL, 10) : 0;
}

json_t *test_outbox_last(oms_pg_pool *pool, oms_arena *a, const char *order_id, const char *event_type)
{
    const char *params[] = {order_id};
    PGresult *r = test_pg_query(pool, a, "SELECT payload FROM outbox WHERE key = $1 ORDER BY id", 1, params);
    json_t *found = NULL;
    for (int i = 0; i < PQntuples(r); i++) {
        oms_envelope env;
        oms_error err;
        const char *text = oms_pg_value(r, i, 0);
        assert_int_equal(oms_envelope_parse(a, text, strlen(text), &env, &err), OMS_OK);
        assert_string_equal(env.order_id, order_id);
        if (strcmp(env.event_type, event_type) == 0)
            found = env.payload;
    }
    if (!found)
        fail_msg("no %s reply for %s", event_type, order_id);
    return found;
}

long test_outbox_count(oms_pg_pool *pool, oms_arena *a, const char *order_id)
{
    const char *params[] = {order_id};
    return (long)test_pg_query_int(pool, a, "SELECT count(*) FROM outbox WHERE key = $1", 1, params);
}

oms_bus_disposition test_deliver(oms_bus_batch_handler handler, void *ctx, const char *topic, const char *subscription,
                                 const char *event_id, const char *event_type, const char *order_id,
                                 const char *payload_json)
{
    /* The message outlives the handler's arena, as with the bus. */
    oms_arena *message_arena = oms_arena_create(0);
    oms_arena *handler_arena = oms_arena_create(0);
    assert_true(message_arena && handler_arena);
    char *text = oms_arena_sprintf(message_arena,
                                   "{\"event_id\":\"%s\",\"event_type\":\"%s\",\"saga_id\":\"%s\",\"order_id\":\"%s\","
                                   "\"occurred_at\":\"2026-11-28T03:00:00.000Z\",\"correlation_id\":\"req-1\","
                                   "\"payload\":%s}",
                                   event_id, event_type, order_id, order_id, payload_json);
    assert_non_null(text);
    oms_bus_message m = {.topic = topic,
                         .subscription = subscription,
                         .key = order_id,
                         .payload = text,
                         .payload_len = strlen(text),
                         .message_id = "test"};
    oms_bus_outcome out = {.disposition = OMS_BUS_RETRY};
    handler(ctx, &m, 1, handler_arena, &out);
    oms_arena_destroy(handler_arena);
    oms_arena_destroy(message_arena);
    return out.disposition;
}

void test_run_threads(void *(*fn)(void *), void *items, size_t n, size_t item_size)
{
    pthread_t threads[MAX_THREADS];
    assert_true(n <= MAX_THREADS);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, fn, (char *)items + i * item_size), 0);
    for (size_t i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
}
