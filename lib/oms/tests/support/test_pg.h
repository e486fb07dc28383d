/* test_pg.h -- helpers for a service's integration tests against a real
 * PostgreSQL (POSTGRES_* from the environment): the test database, queries
 * that fail the test on error, the replies a command queued in the outbox,
 * and delivering a message to a handler as the bus would. */
#ifndef OMS_TEST_PG_H
#define OMS_TEST_PG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "oms/arena.h"
#include "oms/bus.h"
#include "oms/pg.h"
#include "oms/saga_messages.h"

/* Migrates database TEST_DB (default `default_db`; never POSTGRES_DB, as a
 * test empties its tables) with the migrations of MIGRATIONS_DIR (default
 * `default_migrations`), then opens a pool of 16 connections on it labelled
 * `pool_name`. NULL, with the reason on stderr, when either fails. */
oms_pg_pool *test_pg_open(const char *default_db, const char *default_migrations, const char *pool_name);

/* The part of a service's integration fixture that every service has: the
 * pool on its migrated test database, and an arena for what the test reads. */
typedef struct test_pg_fixture {
    oms_pg_pool *pool;
    oms_arena *arena;
} test_pg_fixture;

/* test_pg_open and an arena; 0, or -1 (a cmocka group setup's failure) when
 * either cannot be had. */
int test_pg_fixture_open(test_pg_fixture *f, const char *default_db, const char *default_migrations,
                         const char *pool_name);
void test_pg_fixture_close(test_pg_fixture *f);
/* Between tests: resets the arena and runs `truncate_sql` (the service's
 * tables, its outbox and inbox). */
void test_pg_fixture_clean(test_pg_fixture *f, const char *truncate_sql);

/* The origin of a command the test runs: its saga id is the order id, its
 * correlation id "test". */
oms_command_origin test_origin(const char *order_id, const char *command_id);

/* Runs a parameterised statement on a connection of `pool`; the result lives
 * in `a`. Fails the test on any error. */
PGresult *test_pg_query(oms_pg_pool *pool, oms_arena *a, const char *sql, int n, const char *const *params);

/* The first value of the statement's first row as an integer (0 when NULL). */
int64_t test_pg_query_int(oms_pg_pool *pool, oms_arena *a, const char *sql, int n, const char *const *params);

/* The payload of the last message of `event_type` queued in the outbox for
 * `order_id` (in `a`). Fails the test when there is none, or when a message
 * keyed by the order names another order. */
json_t *test_outbox_last(oms_pg_pool *pool, oms_arena *a, const char *order_id, const char *event_type);

/* How many messages the outbox holds for `order_id`. */
long test_outbox_count(oms_pg_pool *pool, oms_arena *a, const char *order_id);

/* Hands `handler` (with `ctx`) a batch of one message, the envelope
 * {event_id, event_type, saga_id and order_id = order_id, payload =
 * payload_json}, as the bus delivers it on topic/subscription, keyed by the
 * order; returns its disposition. */
oms_bus_disposition test_deliver(oms_bus_batch_handler handler, void *ctx, const char *topic, const char *subscription,
                                 const char *event_id, const char *event_type, const char *order_id,
                                 const char *payload_json);

/* Runs fn on each of the `n` items of `items` (each `item_size` bytes), all
 * in threads of their own at once; returns when every one has finished. */
void test_run_threads(void *(*fn)(void *), void *items, size_t n, size_t item_size);

#endif
