/* Integration tests of the pg message transport (oms/bus_pg.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>

#include <cmocka.h>

#include "it_common.h"
#include "oms/bus.h"
#include "oms/util.h"

static char dbname[64];
static oms_pg_settings settings;

#define KEYS 20
#define PER_KEY 25
#define MAX_SEEN 1024

typedef struct recorder {
    pthread_mutex_t lock;
    int count;
    char keys[MAX_SEEN][32];
    char payloads[MAX_SEEN][64];
    uint32_t redeliveries[MAX_SEEN];
    int next_seq[KEYS];  /* per-key order check */
    int out_of_order;
    int concurrent_same_key;
    int in_handler[KEYS];
    const char *poison;  /* payload that is retried or killed */
    oms_bus_disposition poison_answer;
} recorder;

static recorder rec;

static void recorder_reset(void)
{
    pthread_mutex_destroy(&rec.lock);
    memset(&rec, 0, sizeof rec);
    pthread_mutex_init(&rec.lock, NULL);
}

static oms_bus_disposition record(void *ctx, const oms_bus_message *m, oms_arena *a, char *reason, size_t reason_len)
{
    (void)ctx;
    (void)a;
    pthread_mutex_lock(&rec.lock);
    int i = rec.count < MAX_SEEN ? rec.count++ : MAX_SEEN - 1;
    snprintf(rec.keys[i], sizeof rec.keys[i], "%s", m->key);
    snprintf(rec.payloads[i], sizeof rec.payloads[i], "%s", m->payload);
    rec.redeliveries[i] = m->redelivery_count;
    pthread_mutex_unlock(&rec.lock);
    if (rec.poison && strcmp(m->payload, rec.poison) == 0) {
        snprintf(reason, reason_len, "poison message");
        return rec.poison_answer;
    }
    return OMS_BUS_ACK;
}

/* Checks that the messages of one key come one at a time and in order. */
static oms_bus_disposition ordered(void *ctx, const oms_bus_message *m, oms_arena *a, char *reason, size_t reason_len)
{
    (void)ctx;
    (void)a;
    (void)reason;
    (void)reason_len;
    int key = 0, seq = 0;
    sscanf(m->payload, "%d:%d", &key, &seq);
    pthread_mutex_lock(&rec.lock);
    if (rec.in_handler[key]++)
        rec.concurrent_same_key++;
    if (rec.next_seq[key] != seq)
        rec.out_of_order++;
    rec.next_seq[key] = seq + 1;
    rec.count++;
    pthread_mutex_unlock(&rec.lock);
    usleep((useconds_t)(rand() % 500));
    pthread_mutex_lock(&rec.lock);
    rec.in_handler[key]--;
    pthread_mutex_unlock(&rec.lock);
    return OMS_BUS_ACK;
}

static int setup(void **state)
{
    (void)state;
    settings = it_settings(dbname, sizeof dbname, "oms_it_bus");
    it_drop_database(&settings);
    pthread_mutex_init(&rec.lock, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    it_drop_database(&settings);
    return 0;
}

static oms_bus *make_leased_bus(int threads, int max_redeliveries, int lease_ms, const char *topic,
                                oms_bus_handler handler, void *ctx)
{
    oms_bus_options o = {.service_name = "test", .max_redeliveries = max_redeliveries, .consumer_threads = threads,
                         .retry_base_delay_ms = 10, .lease_ms = lease_ms};
    oms_error err;
    oms_bus *b = oms_bus_pg_create(&settings, &o, &err);
    assert_non_null(b);
    assert_int_equal(oms_bus_subscribe(b, topic, "test-sub", handler, ctx, &err), OMS_OK);
    assert_int_equal(oms_bus_start(b, &err), OMS_OK);
    return b;
}

static oms_bus *make_bus(int threads, int max_redeliveries, const char *topic, oms_bus_handler handler)
{
    return make_leased_bus(threads, max_redeliveries, 0, topic, handler, NULL);
}

static void publish_one(oms_bus *b, const char *topic, const char *key, const char *payload)
{
    oms_bus_outgoing m = {.topic = topic, .key = key, .payload = payload, .payload_len = strlen(payload)};
    oms_error err;
    assert_int_equal(oms_bus_publish(b, &m, 1, &err), OMS_OK);
}

static bool wait_for_count(int n, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        pthread_mutex_lock(&rec.lock);
        int count = rec.count;
        pthread_mutex_unlock(&rec.lock);
        if (count >= n)
            return true;
        it_sleep_ms(20);
    }
    return false;
}

static void a_published_message_is_delivered_once_with_its_key_and_payload(void **state)
{
    (void)state;
    recorder_reset();
    oms_bus *b = make_bus(1, 5, "t-round", record);
    publish_one(b, "t-round", "order-1", "{\"hello\":1}");
    assert_true(wait_for_count(1, 5000));
    it_sleep_ms(300);
    assert_int_equal(rec.count, 1);
    assert_string_equal(rec.keys[0], "order-1");
    assert_string_equal(rec.payloads[0], "{\"hello\":1}");
    assert_int_equal(rec.redeliveries[0], 0);
    char why[256];
    assert_true(oms_bus_healthy(b, why, sizeof why));
    oms_bus_stop(b);
    oms_bus_destroy(b);
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_queue WHERE topic = 't-round'"), 0);
    PQfinish(c);
}

static void messages_published_before_start_to_a_seeded_subscription_are_kept(void **state)
{
    (void)state;
    recorder_reset();
    oms_bus_options o = {.consumer_threads = 1};
    oms_error err;
    oms_bus *publisher = oms_bus_pg_create(&settings, &o, &err);
    assert_non_null(publisher);
    publish_one(publisher, OMS_TOPIC_PAYMENT_COMMANDS, "order-9", "early");
    oms_bus_destroy(publisher);
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_queue WHERE topic = 'payment-commands'"
                                " AND subscription = 'payment-service'"),
                     1);
    PQclear(PQexec(c, "DELETE FROM bus_queue WHERE topic = 'payment-commands'"));
    PQfinish(c);
}

static void two_consumers_keep_per_key_order_and_lose_or_double_nothing(void **state)
{
    (void)state;
    recorder_reset();
    /* Two buses on one subscription stand for two consumer processes. */
    oms_bus *b = make_bus(2, 5, "t-order", ordered);
    oms_bus *other = make_bus(2, 5, "t-order", ordered);
    /* Published in batches, as the outbox relay does. */
    for (int seq = 0; seq < PER_KEY; seq++) {
        oms_bus_outgoing msgs[KEYS];
        char keys[KEYS][16], payloads[KEYS][32];
        for (int k = 0; k < KEYS; k++) {
            snprintf(keys[k], sizeof keys[k], "key-%d", k);
            snprintf(payloads[k], sizeof payloads[k], "%d:%d", k, seq);
            msgs[k] = (oms_bus_outgoing){"t-order", keys[k], payloads[k], strlen(payloads[k])};
        }
        oms_error err;
        assert_int_equal(oms_bus_publish(b, msgs, KEYS, &err), OMS_OK);
    }
    assert_true(wait_for_count(KEYS * PER_KEY, 60000));
    it_sleep_ms(300);
    oms_bus_stop(other);
    oms_bus_destroy(other);
    oms_bus_stop(b);
    oms_bus_destroy(b);
    assert_int_equal(rec.count, KEYS * PER_KEY);
    assert_int_equal(rec.out_of_order, 0);
    assert_int_equal(rec.concurrent_same_key, 0);
    for (int k = 0; k < KEYS; k++)
        assert_int_equal(rec.next_seq[k], PER_KEY);
}

static void a_retried_message_is_dead_lettered_after_the_limit_and_the_next_of_its_key_flows(void **state)
{
    (void)state;
    recorder_reset();
    rec.poison = "poison";
    rec.poison_answer = OMS_BUS_RETRY;
    oms_bus *b = make_bus(2, 2, "t-retry", record);
    publish_one(b, "t-retry", "k", "poison");
    publish_one(b, "t-retry", "k", "next");
    assert_true(wait_for_count(4, 10000));
    it_sleep_ms(300);
    oms_bus_stop(b);
    oms_bus_destroy(b);
    /* Three deliveries of the poison (first + 2 redeliveries), in order, then "next". */
    assert_int_equal(rec.count, 4);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(rec.payloads[i], "poison");
        assert_int_equal(rec.redeliveries[i], (uint32_t)i);
    }
    assert_string_equal(rec.payloads[3], "next");
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_dead_letter WHERE topic = 't-retry-DLQ' AND key = 'k'"
                                " AND payload = 'poison' AND reason = 'poison message' AND attempts = 3"),
                     1);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_queue WHERE topic = 't-retry'"), 0);
    PQfinish(c);
}

static void a_dead_message_goes_straight_to_the_dead_letter_table(void **state)
{
    (void)state;
    recorder_reset();
    rec.poison = "garbage";
    rec.poison_answer = OMS_BUS_DEAD;
    oms_bus *b = make_bus(1, 5, "t-dead", record);
    publish_one(b, "t-dead", "k2", "garbage");
    publish_one(b, "t-dead", "k2", "fine");
    assert_true(wait_for_count(2, 5000));
    it_sleep_ms(300);
    oms_bus_stop(b);
    oms_bus_destroy(b);
    assert_int_equal(rec.count, 2);
    assert_string_equal(rec.payloads[0], "garbage");
    assert_string_equal(rec.payloads[1], "fine");
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_dead_letter WHERE topic = 't-dead-DLQ'"
                                " AND payload = 'garbage' AND attempts = 1"),
                     1);
    PQfinish(c);
}

static void consumers_and_publishers_reconnect_after_their_connections_are_killed(void **state)
{
    (void)state;
    recorder_reset();
    oms_bus *b = make_bus(1, 5, "t-kill", record);
    publish_one(b, "t-kill", "k", "before");
    assert_true(wait_for_count(1, 5000));
    PGconn *c = it_connect(&settings, "postgres");
    const char *params[] = {dbname};
    PQclear(PQexecParams(c,
                         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = $1 AND pid <> pg_backend_pid()",
                         1, NULL, params, NULL, NULL, 0));
    PQfinish(c);
    it_sleep_ms(200);
    oms_error err;
    oms_bus_outgoing m = {.topic = "t-kill", .key = "k", .payload = "after", .payload_len = 5};
    /* The pool notices the killed idle connection before lending it. */
    assert_int_equal(oms_bus_publish(b, &m, 1, &err), OMS_OK);
    assert_true(wait_for_count(2, 10000));
    assert_string_equal(rec.payloads[1], "after");
    oms_bus_stop(b);
    oms_bus_destroy(b);
}

/* Sessions of the bus database (other than the checker's) that hold a
 * transaction, an xid or a snapshot while not running a statement. */
static long idle_sessions_holding_the_horizon(PGconn *c)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND pid <> pg_backend_pid()"
             " AND state <> 'active' AND (state LIKE 'idle in transaction%%'"
             "   OR backend_xid IS NOT NULL OR backend_xmin IS NOT NULL)",
             dbname);
    return it_long(c, sql);
}

static atomic_int slow_running;

/* The key "slow" blocks its handler for 2 s; every other key is quick. */
static oms_bus_disposition slow_on_one_key(void *ctx, const oms_bus_message *m, oms_arena *a, char *reason,
                                           size_t reason_len)
{
    if (strcmp(m->key, "slow") == 0) {
        atomic_store(&slow_running, 1);
        it_sleep_ms(2000);
        atomic_store(&slow_running, 0);
    }
    return record(ctx, m, a, reason, reason_len);
}

static void a_blocked_handler_holds_no_transaction_and_other_keys_flow(void **state)
{
    (void)state;
    recorder_reset();
    atomic_store(&slow_running, 0);
    oms_bus *b = make_bus(2, 5, "t-block", slow_on_one_key);
    publish_one(b, "t-block", "slow", "slow-0");
    for (int waited = 0; !atomic_load(&slow_running) && waited < 5000; waited += 10)
        it_sleep_ms(10);
    assert_true(atomic_load(&slow_running));
    for (int i = 0; i < 10; i++) {
        char key[16], payload[16];
        snprintf(key, sizeof key, "quick-%d", i);
        snprintf(payload, sizeof payload, "quick-%d", i);
        publish_one(b, "t-block", key, payload);
    }
    /* The ten quick ones arrive while "slow" is still in its handler... */
    assert_true(wait_for_count(10, 1500));
    assert_true(atomic_load(&slow_running));
    /* ... and meanwhile no session of the bus database keeps a transaction open. */
    PGconn *c = it_connect(&settings, "postgres");
    for (int i = 0; i < 5 && atomic_load(&slow_running); i++) {
        assert_int_equal(idle_sessions_holding_the_horizon(c), 0);
        it_sleep_ms(50);
    }
    PQfinish(c);
    assert_true(wait_for_count(11, 5000));
    oms_bus_stop(b);
    oms_bus_destroy(b);
    assert_string_equal(rec.payloads[10], "slow-0");
    c = it_connect(&settings, dbname);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_queue WHERE topic = 't-block'"), 0);
    PQfinish(c);
}

/* ctx is the time, in ms, the first message "m" is held by this consumer. */
static oms_bus_disposition hold_first(void *ctx, const oms_bus_message *m, oms_arena *a, char *reason,
                                      size_t reason_len)
{
    oms_bus_disposition d = record(ctx, m, a, reason, reason_len);
    if (strcmp(m->payload, "m") == 0)
        it_sleep_ms(*(const int *)ctx);
    return d;
}

static void an_expired_lease_lets_another_consumer_take_the_message_and_the_late_ack_deletes_nothing(void **state)
{
    (void)state;
    recorder_reset();
    static const int first_hold_ms = 1000, second_hold_ms = 2000;
    /* The first consumer's lease (300 ms) runs out while its handler runs. */
    oms_bus *first = make_leased_bus(1, 5, 300, "t-lease", hold_first, (void *)&first_hold_ms);
    publish_one(first, "t-lease", "k", "m");
    publish_one(first, "t-lease", "k", "m2");
    assert_true(wait_for_count(1, 5000));
    oms_bus *second = make_leased_bus(1, 5, 60000, "t-lease", hold_first, (void *)&second_hold_ms);
    assert_true(wait_for_count(2, 5000));
    /* The first consumer has acknowledged by now: "m" is still there, the second's. */
    it_sleep_ms(first_hold_ms + 200);
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_queue WHERE topic = 't-lease' AND payload = 'm'"
                                " AND leased_until > now()"),
                     1);
    assert_true(wait_for_count(3, 5000));
    it_sleep_ms(300);
    oms_bus_stop(first);
    oms_bus_stop(second);
    oms_bus_destroy(first);
    oms_bus_destroy(second);
    /* "m" twice (the redelivery of an expired lease is not a retry), then "m2" once. */
    assert_int_equal(rec.count, 3);
    assert_string_equal(rec.payloads[0], "m");
    assert_string_equal(rec.payloads[1], "m");
    assert_int_equal(rec.redeliveries[1], 0);
    assert_string_equal(rec.payloads[2], "m2");
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_queue WHERE topic = 't-lease'"), 0);
    PQfinish(c);
}

static void an_unreachable_bus_database_fails_creation(void **state)
{
    (void)state;
    oms_pg_settings nowhere = settings;
    nowhere.port = "1";
    oms_error err;
    assert_null(oms_bus_pg_create(&nowhere, NULL, &err));
    assert_int_equal(err.code, OMS_EUNAVAILABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_published_message_is_delivered_once_with_its_key_and_payload),
        cmocka_unit_test(messages_published_before_start_to_a_seeded_subscription_are_kept),
        cmocka_unit_test(two_consumers_keep_per_key_order_and_lose_or_double_nothing),
        cmocka_unit_test(a_retried_message_is_dead_lettered_after_the_limit_and_the_next_of_its_key_flows),
        cmocka_unit_test(a_dead_message_goes_straight_to_the_dead_letter_table),
        cmocka_unit_test(consumers_and_publishers_reconnect_after_their_connections_are_killed),
        cmocka_unit_test(a_blocked_handler_holds_no_transaction_and_other_keys_flow),
        cmocka_unit_test(an_expired_lease_lets_another_consumer_take_the_message_and_the_late_ack_deletes_nothing),
        cmocka_unit_test(an_unreachable_bus_database_fails_creation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
