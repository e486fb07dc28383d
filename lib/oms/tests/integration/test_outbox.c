/* Integration tests of oms/outbox.c: the relay and oms_handle_once, over a
 * real PostgreSQL and the real pg bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <cmocka.h>

#include "it_common.h"
#include "oms/json.h"
#include "oms/outbox.h"

#define SAGA "0b8f5a9e-2c1d-4e5f-8a7b-6c5d4e3f2a1b"
#define ORDER "1c9e6b0f-3d2e-4f60-9b8c-7d6e5f4a3b2c"

static char dbname[64], bus_dbname[64];
static oms_pg_settings settings, bus_settings;
static oms_pg_pool *pool;

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static int seen_count;
static char seen[16][64];

static oms_bus_disposition collect(void *ctx, const oms_bus_message *m, oms_arena *a, char *reason, size_t len)
{
    (void)ctx;
    (void)a;
    (void)reason;
    (void)len;
    pthread_mutex_lock(&seen_lock);
    if (seen_count < 16)
        snprintf(seen[seen_count++], sizeof seen[0], "%s", m->payload);
    pthread_mutex_unlock(&seen_lock);
    return OMS_BUS_ACK;
}

static int setup(void **state)
{
    (void)state;
    settings = it_settings(dbname, sizeof dbname, "oms_it_outbox");
    bus_settings = it_settings(bus_dbname, sizeof bus_dbname, "oms_it_outbox_bus");
    it_drop_database(&settings);
    it_drop_database(&bus_settings);
    oms_error err;
    if (oms_pg_migrate(&settings, NULL, &err) != OMS_OK)
        return -1;
    pool = oms_pg_pool_create("outbox-test", &settings, 4, &err);
    return pool ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    oms_pg_pool_destroy(pool);
    it_drop_database(&settings);
    it_drop_database(&bus_settings);
    return 0;
}

static void append_in_tx(const char *payload, bool commit)
{
    oms_tx_manager *tm = oms_pg_tx_manager(pool);
    oms_tx *tx = NULL;
    oms_error err;
    oms_arena *a = oms_arena_create(0);
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    assert_int_equal(oms_outbox_append(a, tx, "t-outbox", ORDER, payload, &err), OMS_OK);
    if (commit)
        assert_int_equal(oms_tx_commit(tm, tx, &err), OMS_OK);
    else
        oms_tx_rollback(tm, tx);
    oms_arena_destroy(a);
}

static void the_relay_publishes_committed_rows_in_order_and_never_rolled_back_ones(void **state)
{
    (void)state;
    oms_error err;
    oms_bus_options o = {.consumer_threads = 1};
    oms_bus *bus = oms_bus_pg_create(&bus_settings, &o, &err);
    assert_non_null(bus);
    assert_int_equal(oms_bus_subscribe(bus, "t-outbox", "test", collect, NULL, &err), OMS_OK);
    assert_int_equal(oms_bus_start(bus, &err), OMS_OK);

    append_in_tx("first", true);
    append_in_tx("rolled-back", false);
    append_in_tx("second", true);
    assert_int_equal(oms_outbox_pending(pool), 2);

    oms_outbox_relay *relay = oms_outbox_relay_start(pool, bus, &err);
    assert_non_null(relay);
    for (int i = 0; i < 250 && seen_count < 2; i++)
        it_sleep_ms(20);
    /* A row appended while the relay runs is woken by NOTIFY. */
    append_in_tx("third", true);
    for (int i = 0; i < 250 && seen_count < 3; i++)
        it_sleep_ms(20);
    it_sleep_ms(400);
    oms_outbox_relay_stop(relay, 2000);
    oms_bus_stop(bus);
    oms_bus_destroy(bus);

    assert_int_equal(seen_count, 3);
    assert_string_equal(seen[0], "first");
    assert_string_equal(seen[1], "second");
    assert_string_equal(seen[2], "third");
    assert_int_equal(oms_outbox_pending(pool), 0);
}

static void stopping_the_relay_flushes_what_is_pending(void **state)
{
    (void)state;
    oms_error err;
    oms_bus_options o = {.consumer_threads = 1};
    oms_bus *bus = oms_bus_pg_create(&bus_settings, &o, &err);
    assert_non_null(bus);
    oms_outbox_relay *relay = oms_outbox_relay_start(pool, bus, &err);
    append_in_tx("late", true);
    oms_outbox_relay_stop(relay, 3000);
    assert_int_equal(oms_outbox_pending(pool), 0);
    PGconn *c = it_connect(&bus_settings, bus_dbname);
    /* The subscription recorded by the first test received it. */
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_queue WHERE payload = 'late'"), 1);
    PQfinish(c);
    oms_bus_destroy(bus);
}

static bool was_seen(const char *payload)
{
    bool found = false;
    pthread_mutex_lock(&seen_lock);
    for (int i = 0; i < seen_count; i++)
        found = found || strcmp(seen[i], payload) == 0;
    pthread_mutex_unlock(&seen_lock);
    return found;
}

static void the_relay_recovers_when_its_connection_is_killed(void **state)
{
    (void)state;
    oms_error err;
    oms_bus_options o = {.consumer_threads = 1};
    oms_bus *bus = oms_bus_pg_create(&bus_settings, &o, &err);
    assert_non_null(bus);
    assert_int_equal(oms_bus_subscribe(bus, "t-outbox", "test", collect, NULL, &err), OMS_OK);
    assert_int_equal(oms_bus_start(bus, &err), OMS_OK);
    oms_outbox_relay *relay = oms_outbox_relay_start(pool, bus, &err);
    it_sleep_ms(300);

    PGconn *c = it_connect(&settings, "postgres");
    const char *params[] = {dbname};
    PQclear(PQexecParams(c,
                         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = $1 AND pid <> pg_backend_pid()",
                         1, NULL, params, NULL, NULL, 0));
    PQfinish(c);
    it_sleep_ms(200);
    append_in_tx("after-kill", true);
    for (int i = 0; i < 500 && !was_seen("after-kill"); i++)
        it_sleep_ms(20);
    oms_outbox_relay_stop(relay, 2000);
    oms_bus_stop(bus);
    oms_bus_destroy(bus);
    assert_true(was_seen("after-kill"));
}

static int handled;

static oms_err count_handling(void *ctx, oms_tx *tx, const oms_envelope *env, oms_arena *a, oms_error *err)
{
    oms_err answer = ctx ? *(oms_err *)ctx : OMS_OK;
    assert_string_equal(env->order_id, ORDER);
    assert_string_equal(env->event_type, "PaymentRequested");
    const char *params[] = {env->event_id};
    if (!oms_pg_tx_exec(a, tx, "SELECT $1::uuid", 1, params, err))
        return err->code;
    handled++;
    if (answer != OMS_OK)
        return oms_error_set(err, answer, NULL, "told to fail");
    return OMS_OK;
}

static oms_bus_message message_of(const char *payload)
{
    oms_bus_message m = {.topic = "payment-commands", .subscription = "payment-service", .key = ORDER,
                         .payload = payload, .payload_len = strlen(payload), .message_id = "1"};
    return m;
}

static void handle_once_skips_an_event_id_seen_before(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    json_t *payload = json_pack("{s:s}", "command_id", "c");
    char *text = oms_envelope_build(a, "PaymentRequested", SAGA, ORDER, "corr-1", payload, NULL);
    json_decref(payload);
    oms_bus_message m = message_of(text);
    char reason[256] = "";
    handled = 0;
    assert_int_equal(oms_handle_once(pool, "payment-service", &m, count_handling, NULL, a, reason, sizeof reason),
                     OMS_BUS_ACK);
    assert_int_equal(oms_handle_once(pool, "payment-service", &m, count_handling, NULL, a, reason, sizeof reason),
                     OMS_BUS_ACK);
    assert_int_equal(handled, 1);
    /* Another consumer has its own inbox. */
    assert_int_equal(oms_handle_once(pool, "audit", &m, count_handling, NULL, a, reason, sizeof reason), OMS_BUS_ACK);
    assert_int_equal(handled, 2);
    oms_arena_destroy(a);
}

static void a_failing_handler_is_retried_and_leaves_no_inbox_record(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    json_t *payload = json_object();
    char *text = oms_envelope_build(a, "PaymentRequested", SAGA, ORDER, "", payload, NULL);
    json_decref(payload);
    oms_bus_message m = message_of(text);
    char reason[256] = "";
    handled = 0;
    oms_err busy = OMS_EBUSY;
    assert_int_equal(oms_handle_once(pool, "payment-service", &m, count_handling, &busy, a, reason, sizeof reason),
                     OMS_BUS_RETRY);
    assert_non_null(strstr(reason, "told to fail"));
    assert_int_equal(oms_handle_once(pool, "payment-service", &m, count_handling, NULL, a, reason, sizeof reason),
                     OMS_BUS_ACK);
    assert_int_equal(handled, 2);
    oms_arena_destroy(a);
}

static void invalid_input_and_bad_envelopes_are_dead(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    json_t *payload = json_object();
    char *text = oms_envelope_build(a, "PaymentRequested", SAGA, ORDER, "", payload, NULL);
    json_decref(payload);
    oms_bus_message m = message_of(text);
    char reason[256] = "";
    oms_err invalid = OMS_EINVAL;
    assert_int_equal(oms_handle_once(pool, "payment-service", &m, count_handling, &invalid, a, reason, sizeof reason),
                     OMS_BUS_DEAD);
    oms_bus_message junk = message_of("{not json");
    assert_int_equal(oms_handle_once(pool, "payment-service", &junk, count_handling, NULL, a, reason, sizeof reason),
                     OMS_BUS_DEAD);
    assert_true(reason[0] != '\0');
    oms_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_relay_publishes_committed_rows_in_order_and_never_rolled_back_ones),
        cmocka_unit_test(stopping_the_relay_flushes_what_is_pending),
        cmocka_unit_test(the_relay_recovers_when_its_connection_is_killed),
        cmocka_unit_test(handle_once_skips_an_event_id_seen_before),
        cmocka_unit_test(a_failing_handler_is_retried_and_leaves_no_inbox_record),
        cmocka_unit_test(invalid_input_and_bad_envelopes_are_dead),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
