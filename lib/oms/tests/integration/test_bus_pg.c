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
#include "oms/saga_messages.h"
#include "oms/util.h"
#include "oms/tests/support/test_bus.h"

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
    int next_seq[KEYS]; /* per-key order check */
    int out_of_order;
    int concurrent_same_key;
    int in_handler[KEYS];
    const char *poison; /* payload that is retried or killed */
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

static oms_bus *make_leased_bus(int threads, int max_redeliveries, int lease_ms, const char *topic, test_bus_fn handler,
                                void *ctx)
{
    oms_bus_options o = {.service_name = "test",
                         .max_redeliveries = max_redeliveries,
                         .consumer_threads = threads,
                         .retry_base_delay_ms = 10,
                         .lease_ms = lease_ms};
    oms_error err;
    oms_bus *b = oms_bus_pg_create(&settings, &o, &err);
    assert_non_null(b);
    assert_int_equal(test_bus_subscribe_each(b, topic, "test-sub", handler, ctx, &err), OMS_OK);
    assert_int_equal(oms_bus_start(b, &err), OMS_OK);
    return b;
}

static oms_bus *make_bus(int threads, int max_redeliveries, const char *topic, test_bus_fn handler)
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

/* ---- batch subscriptions ---- */

#define BATCH_MAX_SEEN 512

/* What a batch handler saw: every message with the call it came in. */
typedef struct batch_recorder {
    pthread_mutex_t lock;
    int calls;
    int call_sizes[BATCH_MAX_SEEN];
    int same_key_in_one_call; /* calls holding two messages of one key */
    int count;
    char keys[BATCH_MAX_SEEN][32];
    char payloads[BATCH_MAX_SEEN][32];
    uint32_t redeliveries[BATCH_MAX_SEEN];
    int call_of[BATCH_MAX_SEEN];
    const char *retry_first; /* payload answered RETRY on its first delivery */
    const char *dead;        /* payload answered DEAD with dead_reason */
    const char *dead_reason;
    const char *dead_silent; /* payload answered DEAD with no reason */
    char topic[32];          /* the subscription's */
    int malformed;           /* messages with a wrong topic, length or id */
} batch_recorder;

static batch_recorder brec = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void batch_recorder_reset(void)
{
    pthread_mutex_destroy(&brec.lock);
    memset(&brec, 0, sizeof brec);
    pthread_mutex_init(&brec.lock, NULL);
}

static void record_batch(void *ctx, const oms_bus_message *msgs, size_t n, oms_arena *a, oms_bus_outcome *out)
{
    (void)ctx;
    (void)a;
    pthread_mutex_lock(&brec.lock);
    int call = brec.calls < BATCH_MAX_SEEN ? brec.calls++ : BATCH_MAX_SEEN - 1;
    brec.call_sizes[call] = (int)n;
    bool same_key = false;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++)
            same_key = same_key || strcmp(msgs[i].key, msgs[j].key) == 0;
        int k = brec.count < BATCH_MAX_SEEN ? brec.count++ : BATCH_MAX_SEEN - 1;
        snprintf(brec.keys[k], sizeof brec.keys[k], "%s", msgs[i].key);
        snprintf(brec.payloads[k], sizeof brec.payloads[k], "%s", msgs[i].payload);
        brec.redeliveries[k] = msgs[i].redelivery_count;
        brec.call_of[k] = call;
        if (msgs[i].payload_len != strlen(msgs[i].payload) || !msgs[i].message_id || !*msgs[i].message_id ||
            strcmp(msgs[i].topic, brec.topic) != 0 || strcmp(msgs[i].subscription, "test-sub") != 0)
            brec.malformed++; /* checked by the test: no cmocka assert off the main thread */
        const char *p = msgs[i].payload;
        if (brec.retry_first && strcmp(p, brec.retry_first) == 0 && msgs[i].redelivery_count == 0) {
            out[i].disposition = OMS_BUS_RETRY;
            snprintf(out[i].reason, sizeof out[i].reason, "not yet");
        } else if (brec.dead && strcmp(p, brec.dead) == 0) {
            out[i].disposition = OMS_BUS_DEAD;
            snprintf(out[i].reason, sizeof out[i].reason, "%s", brec.dead_reason);
        } else if (brec.dead_silent && strcmp(p, brec.dead_silent) == 0) {
            out[i].disposition = OMS_BUS_DEAD;
        } else {
            out[i].disposition = OMS_BUS_ACK;
        }
    }
    if (same_key)
        brec.same_key_in_one_call++;
    pthread_mutex_unlock(&brec.lock);
}

static bool wait_for_batch_count(int n, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        pthread_mutex_lock(&brec.lock);
        int count = brec.count;
        pthread_mutex_unlock(&brec.lock);
        if (count >= n)
            return true;
        it_sleep_ms(10);
    }
    return false;
}

/* A bus with a subscription to `topic` (a batch one to record_batch when
 * `handler` is NULL), not started yet; the subscription is recorded so that
 * what is published before start waits for it. */
static oms_bus *make_unstarted_bus(int batch_size, int retry_base_delay_ms, int max_redeliveries, const char *topic,
                                   test_bus_fn handler)
{
    oms_bus_options o = {.service_name = "test",
                         .max_redeliveries = max_redeliveries,
                         .consumer_threads = 1,
                         .batch_size = batch_size,
                         .retry_base_delay_ms = retry_base_delay_ms};
    oms_error err;
    oms_bus *b = oms_bus_pg_create(&settings, &o, &err);
    assert_non_null(b);
    snprintf(brec.topic, sizeof brec.topic, "%s", topic);
    if (handler)
        assert_int_equal(test_bus_subscribe_each(b, topic, "test-sub", handler, NULL, &err), OMS_OK);
    else
        assert_int_equal(oms_bus_subscribe(b, topic, "test-sub", record_batch, NULL, &err), OMS_OK);
    PGconn *c = it_connect(&settings, dbname);
    const char *params[] = {topic};
    PGresult *r = PQexecParams(c, "INSERT INTO bus_subscription VALUES ($1, 'test-sub') ON CONFLICT DO NOTHING", 1,
                               NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
    return b;
}

static oms_bus *make_batch_bus(int batch_size, int retry_base_delay_ms, const char *topic)
{
    return make_unstarted_bus(batch_size, retry_base_delay_ms, 5, topic, NULL);
}

static void start_bus(oms_bus *b)
{
    oms_error err;
    assert_int_equal(oms_bus_start(b, &err), OMS_OK);
}

/* The index in brec of the delivery number `nth` (0 = first) of `payload`, or -1. */
static int delivery_of(const char *payload, int nth)
{
    for (int i = 0; i < brec.count; i++) {
        if (strcmp(brec.payloads[i], payload) == 0 && nth-- == 0)
            return i;
    }
    return -1;
}

static int deliveries_of(const char *payload)
{
    int n = 0;
    while (delivery_of(payload, n) >= 0)
        n++;
    return n;
}

#define BATCH_KEYS 50
#define BATCH_PER_KEY 4

static void a_batch_handler_gets_heads_of_distinct_keys_and_every_message_once_in_key_order(void **state)
{
    (void)state;
    batch_recorder_reset();
    oms_bus *b = make_batch_bus(0, 10, "t-batch"); /* 0: the default batch size, 64 */
    /* Published before start, in four publishes of one message per key. */
    for (int seq = 0; seq < BATCH_PER_KEY; seq++) {
        oms_bus_outgoing msgs[BATCH_KEYS];
        char keys[BATCH_KEYS][16], payloads[BATCH_KEYS][16];
        for (int k = 0; k < BATCH_KEYS; k++) {
            snprintf(keys[k], sizeof keys[k], "key-%d", k);
            snprintf(payloads[k], sizeof payloads[k], "%d:%d", k, seq);
            msgs[k] = (oms_bus_outgoing){"t-batch", keys[k], payloads[k], strlen(payloads[k])};
        }
        oms_error err;
        assert_int_equal(oms_bus_publish(b, msgs, BATCH_KEYS, &err), OMS_OK);
    }
    start_bus(b);
    assert_true(wait_for_batch_count(BATCH_KEYS * BATCH_PER_KEY, 10000));
    it_sleep_ms(300);
    oms_bus_stop(b);
    oms_bus_destroy(b);

    assert_int_equal(brec.count, BATCH_KEYS * BATCH_PER_KEY);
    int seen[BATCH_KEYS][BATCH_PER_KEY] = {{0}};
    int next_seq[BATCH_KEYS] = {0};
    int last_call[BATCH_KEYS];
    for (int k = 0; k < BATCH_KEYS; k++)
        last_call[k] = -1;
    for (int i = 0; i < brec.count; i++) {
        int k = -1, seq = -1;
        assert_int_equal(sscanf(brec.payloads[i], "%d:%d", &k, &seq), 2);
        assert_true(k >= 0 && k < BATCH_KEYS && seq >= 0 && seq < BATCH_PER_KEY);
        char key[16];
        snprintf(key, sizeof key, "key-%d", k);
        assert_string_equal(brec.keys[i], key);
        assert_int_equal(brec.redeliveries[i], 0);
        seen[k][seq]++;
        /* Per key in publish order, each in a later call than the one before. */
        assert_int_equal(seq, next_seq[k]);
        next_seq[k] = seq + 1;
        assert_true(brec.call_of[i] > last_call[k]);
        last_call[k] = brec.call_of[i];
    }
    for (int k = 0; k < BATCH_KEYS; k++) {
        for (int seq = 0; seq < BATCH_PER_KEY; seq++)
            assert_int_equal(seen[k][seq], 1);
    }
    assert_int_equal(brec.same_key_in_one_call, 0);
    assert_int_equal(brec.malformed, 0);
    /* Everything was waiting: the first call had the head of every key. */
    assert_int_equal(brec.call_sizes[0], BATCH_KEYS);
    for (int i = 0; i < brec.calls; i++)
        assert_true(brec.call_sizes[i] >= 1 && brec.call_sizes[i] <= 64);
    assert_true(brec.calls < BATCH_KEYS * BATCH_PER_KEY / 2);
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_queue WHERE topic = 't-batch'"), 0);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_dead_letter WHERE topic = 't-batch-DLQ'"), 0);
    PQfinish(c);
}

static void a_batch_never_exceeds_the_batch_size(void **state)
{
    (void)state;
    batch_recorder_reset();
    oms_bus *b = make_batch_bus(7, 10, "t-batch-size");
    oms_bus_outgoing msgs[30];
    char keys[30][16];
    for (int k = 0; k < 30; k++) {
        snprintf(keys[k], sizeof keys[k], "k%d", k);
        msgs[k] = (oms_bus_outgoing){"t-batch-size", keys[k], keys[k], strlen(keys[k])};
    }
    oms_error err;
    assert_int_equal(oms_bus_publish(b, msgs, 30, &err), OMS_OK);
    start_bus(b);
    assert_true(wait_for_batch_count(30, 10000));
    it_sleep_ms(200);
    oms_bus_stop(b);
    oms_bus_destroy(b);
    assert_int_equal(brec.count, 30);
    /* 7 + 7 + 7 + 7 + 2, oldest first. */
    assert_int_equal(brec.calls, 5);
    for (int i = 0; i < 4; i++)
        assert_int_equal(brec.call_sizes[i], 7);
    assert_int_equal(brec.call_sizes[4], 2);
    assert_int_equal(brec.malformed, 0);
    for (int i = 0; i < 30; i++)
        assert_string_equal(brec.payloads[i], keys[i]);
}

static void a_retried_message_of_a_batch_comes_back_alone_and_holds_back_only_its_key(void **state)
{
    (void)state;
    batch_recorder_reset();
    brec.retry_first = "B:0";
    /* The retry waits 400 ms: long enough to see the other keys go on. */
    oms_bus *b = make_batch_bus(0, 400, "t-batch-retry");
    const char *order[] = {"A:0", "B:0", "C:0", "A:1", "B:1", "C:1"};
    oms_bus_outgoing msgs[6];
    char keys[6][2];
    for (int i = 0; i < 6; i++) {
        snprintf(keys[i], sizeof keys[i], "%c", order[i][0]);
        msgs[i] = (oms_bus_outgoing){"t-batch-retry", keys[i], order[i], strlen(order[i])};
    }
    oms_error err;
    assert_int_equal(oms_bus_publish(b, msgs, 6, &err), OMS_OK);
    start_bus(b);
    assert_true(wait_for_batch_count(7, 10000));
    it_sleep_ms(300);
    oms_bus_stop(b);
    oms_bus_destroy(b);

    assert_int_equal(brec.count, 7);
    /* The first call: the three heads, B:0 among them. */
    assert_int_equal(brec.call_sizes[0], 3);
    assert_int_equal(brec.call_of[delivery_of("A:0", 0)], 0);
    assert_int_equal(brec.call_of[delivery_of("B:0", 0)], 0);
    assert_int_equal(brec.call_of[delivery_of("C:0", 0)], 0);
    /* The acknowledged ones of that call are not delivered again. */
    assert_int_equal(deliveries_of("A:0"), 1);
    assert_int_equal(deliveries_of("C:0"), 1);
    assert_int_equal(deliveries_of("A:1"), 1);
    assert_int_equal(deliveries_of("C:1"), 1);
    assert_int_equal(deliveries_of("B:1"), 1);
    /* B:0 comes again, as a redelivery, after A:1 and C:1 flowed meanwhile ... */
    assert_int_equal(deliveries_of("B:0"), 2);
    int again = delivery_of("B:0", 1);
    assert_int_equal(brec.redeliveries[again], 1);
    assert_true(delivery_of("A:1", 0) < again);
    assert_true(delivery_of("C:1", 0) < again);
    /* ... and B:1 waited behind it. */
    assert_true(delivery_of("B:1", 0) > again);
    assert_true(brec.call_of[delivery_of("B:1", 0)] > brec.call_of[again]);
    assert_int_equal(brec.same_key_in_one_call, 0);
    assert_int_equal(brec.malformed, 0);
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_queue WHERE topic = 't-batch-retry'"), 0);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_dead_letter WHERE topic = 't-batch-retry-DLQ'"), 0);
    PQfinish(c);
}

static void a_dead_message_of_a_batch_is_dead_lettered_with_its_reason_and_the_rest_flow(void **state)
{
    (void)state;
    batch_recorder_reset();
    brec.dead = "X:0";
    brec.dead_reason = "bad shape: no order_id";
    brec.dead_silent = "Z:0";
    oms_bus *b = make_batch_bus(0, 10, "t-batch-dead");
    const char *order[] = {"X:0", "Y:0", "Z:0", "X:1", "Y:1"};
    oms_bus_outgoing msgs[5];
    char keys[5][2];
    for (int i = 0; i < 5; i++) {
        snprintf(keys[i], sizeof keys[i], "%c", order[i][0]);
        msgs[i] = (oms_bus_outgoing){"t-batch-dead", keys[i], order[i], strlen(order[i])};
    }
    oms_error err;
    assert_int_equal(oms_bus_publish(b, msgs, 5, &err), OMS_OK);
    start_bus(b);
    assert_true(wait_for_batch_count(5, 10000));
    it_sleep_ms(300);
    oms_bus_stop(b);
    oms_bus_destroy(b);

    assert_int_equal(brec.count, 5);
    assert_int_equal(brec.malformed, 0);
    assert_int_equal(brec.call_sizes[0], 3);
    for (int i = 0; i < 5; i++)
        assert_int_equal(deliveries_of(order[i]), 1);
    /* X:1 came after X:0 was dead-lettered. */
    assert_true(delivery_of("X:1", 0) > delivery_of("X:0", 0));
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_dead_letter WHERE topic = 't-batch-dead-DLQ'"), 2);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_dead_letter WHERE topic = 't-batch-dead-DLQ'"
                                " AND subscription = 'test-sub' AND key = 'X' AND payload = 'X:0'"
                                " AND reason = 'bad shape: no order_id' AND attempts = 1"),
                     1);
    /* With no reason given, the dead letter still says why. */
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_dead_letter WHERE topic = 't-batch-dead-DLQ'"
                                " AND key = 'Z' AND payload = 'Z:0' AND reason = 'rejected by the handler'"),
                     1);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_queue WHERE topic = 't-batch-dead'"), 0);
    PQfinish(c);
}

static void a_per_message_handler_over_a_claimed_batch_settles_each_message_on_its_own(void **state)
{
    (void)state;
    recorder_reset();
    rec.poison = "q1";
    rec.poison_answer = OMS_BUS_RETRY;
    /* One redelivery allowed: q1 is delivered twice, then dead-lettered. */
    oms_bus *b = make_unstarted_bus(0, 10, 1, "t-batch-single", record);
    for (int i = 0; i < 3; i++) {
        char key[8];
        snprintf(key, sizeof key, "q%d", i);
        publish_one(b, "t-batch-single", key, key);
    }
    start_bus(b);
    assert_true(wait_for_count(4, 10000));
    it_sleep_ms(300);
    oms_bus_stop(b);
    oms_bus_destroy(b);
    assert_int_equal(rec.count, 4);
    /* The three heads of the first claim, in publish order, then q1 again. */
    assert_string_equal(rec.payloads[0], "q0");
    assert_string_equal(rec.payloads[1], "q1");
    assert_string_equal(rec.payloads[2], "q2");
    assert_string_equal(rec.payloads[3], "q1");
    assert_int_equal(rec.redeliveries[3], 1);
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_dead_letter WHERE topic = 't-batch-single-DLQ'"
                                " AND payload = 'q1' AND reason = 'poison message' AND attempts = 2"),
                     1);
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_queue WHERE topic = 't-batch-single'"), 0);
    PQfinish(c);
}

/* The waiting dead letters of `topic` by oms_bus_count_dead_letters. */
static int64_t count_of(oms_bus *b, oms_arena *a, const char *topic)
{
    oms_dead_letter_count *counts = NULL;
    size_t n = 0;
    oms_error err;
    assert_int_equal(oms_bus_count_dead_letters(b, a, &counts, &n, &err), OMS_OK);
    for (size_t i = 0; i < n; i++)
        if (strcmp(counts[i].topic, topic) == 0)
            return counts[i].count;
    return 0;
}

/* Lists with every filter, redrives once (back to its subscription, same
 * payload, handled, marked redriven; a second redrive is a conflict), and
 * discards with the reason; first and last failure are kept. */
static void dead_letters_are_listed_redriven_once_and_discarded(void **state)
{
    (void)state;
    recorder_reset();
    rec.poison = "{\"event_id\":\"e1\",\"event_type\":\"PaymentRequested\",\"order_id\":\"o-1\",\"saga_id\":\"s-1\"}";
    rec.poison_answer = OMS_BUS_RETRY;
    oms_bus *b = make_bus(1, 1, "t-dlq", record);
    publish_one(b, "t-dlq", "o-1", rec.poison);
    publish_one(b, "t-dlq", "o-2", "not json at all 12345");
    rec.poison_answer = OMS_BUS_RETRY;
    assert_true(wait_for_count(3, 10000)); /* the poison twice, the other once (acked) */
    it_sleep_ms(300);
    PGconn *c = it_connect(&settings, dbname);
    /* The garbage was acknowledged by `record`: dead-letter one by hand, as a participant would. */
    it_long(c, "INSERT INTO bus_dead_letter (topic, subscription, key, payload, reason, attempts)"
               " VALUES ('t-dlq-DLQ', 'test-sub', 'o-2', 'not json at all 12345', 'bad json at 17', 1)");
    oms_arena *a = oms_arena_create(0);
    oms_error err;
    oms_dead_letter *list = NULL;
    size_t n = 0;
    oms_dead_letter_filter all = {.topic = "t-dlq", .status = OMS_DEAD_LETTER_DEAD};
    assert_int_equal(oms_bus_dead_letters(b, &all, a, &list, &n, &err), OMS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].topic, "t-dlq");
    assert_string_equal(list[0].subscription, "test-sub");
    assert_string_equal(list[0].event_type, "PaymentRequested");
    assert_string_equal(list[0].event_id, "e1");
    assert_string_equal(list[0].saga_id, "s-1");
    assert_string_equal(list[0].error, "poison message");
    assert_int_equal(list[0].attempts, 2);
    assert_true(list[0].first_failure_ms > 0 && list[0].first_failure_ms <= list[0].last_failure_ms);
    assert_null(list[1].event_type);
    assert_int_equal(strlen(list[1].fingerprint), OMS_DEAD_LETTER_FINGERPRINT_LEN);
    int64_t poison_id = list[0].id, garbage_id = list[1].id;
    assert_int_equal(count_of(b, a, "t-dlq"), 2); /* other tests' topics count apart */
    oms_dead_letter_filter by_type = {.event_type = "PaymentRequested", .status = OMS_DEAD_LETTER_DEAD};
    assert_int_equal(oms_bus_dead_letters(b, &by_type, a, &list, &n, &err), OMS_OK);
    assert_int_equal(n, 1);
    oms_dead_letter_filter by_order = {.order_id = "o-2", .status = OMS_DEAD_LETTER_DEAD};
    assert_int_equal(oms_bus_dead_letters(b, &by_order, a, &list, &n, &err), OMS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, garbage_id);
    oms_dead_letter_filter page = {.topic = "t-dlq", .status = OMS_DEAD_LETTER_DEAD, .after_id = poison_id, .limit = 1};
    assert_int_equal(oms_bus_dead_letters(b, &page, a, &list, &n, &err), OMS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, garbage_id);
    oms_dead_letter_filter future = {.since = "2999-01-01T00:00:00Z", .any_status = true};
    assert_int_equal(oms_bus_dead_letters(b, &future, a, &list, &n, &err), OMS_OK);
    assert_int_equal(n, 0);
    oms_dead_letter_filter bad_time = {.since = "yesterday-ish", .any_status = true};
    assert_int_equal(oms_bus_dead_letters(b, &bad_time, a, &list, &n, &err), OMS_EINVAL);

    /* The cause is gone: the redriven message is handled and acknowledged. */
    int before = rec.count;
    rec.poison = NULL;
    assert_int_equal(oms_bus_redrive(b, poison_id, &err), OMS_OK);
    assert_true(wait_for_count(before + 1, 5000));
    assert_int_equal(oms_bus_redrive(b, poison_id, &err), OMS_ECONFLICT);
    assert_string_equal(err.reason, "not_dead");
    assert_int_equal(oms_bus_redrive(b, 999999, &err), OMS_ENOTFOUND);
    assert_int_equal(oms_bus_discard(b, garbage_id, "not ours", "key:0123", &err), OMS_OK);
    assert_int_equal(oms_bus_discard(b, garbage_id, "again", "key:0123", &err), OMS_ECONFLICT);
    it_sleep_ms(300);
    assert_int_equal(rec.count, before + 1);
    oms_dead_letter_filter any = {.topic = "t-dlq", .any_status = true};
    assert_int_equal(oms_bus_dead_letters(b, &any, a, &list, &n, &err), OMS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].status, OMS_DEAD_LETTER_REDRIVEN);
    assert_true(list[0].settled_ms > 0);
    assert_int_equal(list[1].status, OMS_DEAD_LETTER_DISCARDED);
    assert_int_equal(count_of(b, a, "t-dlq"), 0); /* neither is waiting any more */
    assert_string_equal(list[1].discard_reason, "not ours");
    assert_string_equal(list[1].discarded_by, "key:0123");
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_queue WHERE topic = 't-dlq'"), 0);
    oms_arena_destroy(a);
    PQfinish(c);
    oms_bus_stop(b);
    oms_bus_destroy(b);
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
        cmocka_unit_test(a_batch_handler_gets_heads_of_distinct_keys_and_every_message_once_in_key_order),
        cmocka_unit_test(a_batch_never_exceeds_the_batch_size),
        cmocka_unit_test(a_retried_message_of_a_batch_comes_back_alone_and_holds_back_only_its_key),
        cmocka_unit_test(a_dead_message_of_a_batch_is_dead_lettered_with_its_reason_and_the_rest_flow),
        cmocka_unit_test(a_per_message_handler_over_a_claimed_batch_settles_each_message_on_its_own),
        cmocka_unit_test(dead_letters_are_listed_redriven_once_and_discarded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
