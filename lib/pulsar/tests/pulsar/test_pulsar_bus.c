/* The oms_bus port over Pulsar, against a real broker: publish, subscribe,
 * and the handler's ACK / RETRY / DEAD. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "broker_util.h"
#include "oms/bus.h"
#include "oms/log.h"
#include "oms/tests/support/test_bus.h"
#include "pulsar/pulsar.h"

static char host[256];
static int port;

#define KEYS 10
#define PER_KEY 20

typedef struct handler_state {
    pthread_mutex_t mu;
    test_seen *acked;
    long last_seq[KEYS];
    atomic_int in_flight[KEYS];
    int out_of_order;
    atomic_int concurrent;
    int retry_once_calls;
    int dead_calls;
    int always_calls;
    uint32_t always_last_count;
} handler_state;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static oms_bus_disposition handler(void *ctx, const oms_bus_message *m, oms_arena *arena, char *reason,
                                   size_t reason_len)
{
    (void)arena;
    handler_state *s = ctx;
    int key = -1;
    long seq = -1;
    oms_bus_disposition d = OMS_BUS_ACK;
    if (sscanf(m->payload, "ack:%d:%ld", &key, &seq) == 2 && key >= 0 && key < KEYS) {
        if (atomic_fetch_add(&s->in_flight[key], 1) != 0)
            atomic_fetch_add(&s->concurrent, 1);
        sleep_ms(1); /* widen the window in which two threads could overlap */
        pthread_mutex_lock(&s->mu);
        if (test_seen_add(s->acked, m->payload)) {
            if (seq <= s->last_seq[key])
                s->out_of_order++;
            s->last_seq[key] = seq;
        }
        pthread_mutex_unlock(&s->mu);
        atomic_fetch_sub(&s->in_flight[key], 1);
        return OMS_BUS_ACK;
    }
    pthread_mutex_lock(&s->mu);
    if (strcmp(m->payload, "retry-once") == 0) {
        s->retry_once_calls++;
        d = m->redelivery_count == 0 ? OMS_BUS_RETRY : OMS_BUS_ACK;
    } else if (strcmp(m->payload, "dead") == 0) {
        s->dead_calls++;
        snprintf(reason, reason_len, "unparseable");
        d = OMS_BUS_DEAD;
    } else if (strcmp(m->payload, "always") == 0) {
        s->always_calls++;
        s->always_last_count = m->redelivery_count;
        snprintf(reason, reason_len, "always fails");
        d = OMS_BUS_RETRY;
    }
    pthread_mutex_unlock(&s->mu);
    return d;
}

static bool all_done(handler_state *s)
{
    pthread_mutex_lock(&s->mu);
    bool done = test_seen_count(s->acked) == KEYS * PER_KEY && s->retry_once_calls >= 2 && s->dead_calls >= 1 &&
                s->always_calls >= 3;
    pthread_mutex_unlock(&s->mu);
    return done;
}

/* Publish returns once stored; handlers see each key in order, one at a
 * time; RETRY redelivers; DEAD and exhausted retries land in <topic>-DLQ. */
static void bus_delivers_in_key_order_and_dead_letters(void **state)
{
    (void)state;
    char topic[128], dlq[160];
    test_unique_topic("lp-bus", topic, sizeof topic);
    snprintf(dlq, sizeof dlq, "%s-DLQ", topic);
    oms_error err;
    /* One message at a time (batch_size 1): the handler looks at each alone. */
    oms_bus_options o = {.service_name = "bus-test",
                         .max_redeliveries = 2,
                         .consumer_threads = 2,
                         .batch_size = 1,
                         .retry_base_delay_ms = 50};
    char url[300];
    oms_bus_pulsar_settings settings = test_bus_settings(host, port, url, sizeof url);
    oms_bus *bus = oms_bus_pulsar_create(&settings, &o, &err);
    assert_non_null(bus);
    handler_state s = {.acked = test_seen_create(KEYS * PER_KEY)};
    pthread_mutex_init(&s.mu, NULL);
    for (int k = 0; k < KEYS; k++)
        s.last_seq[k] = -1;
    assert_int_equal(test_bus_subscribe_each(bus, topic, "svc", handler, &s, &err), OMS_OK);
    assert_int_equal(oms_bus_start(bus, &err), OMS_OK);
    char why[128] = "";
    assert_true(oms_bus_healthy(bus, why, sizeof why));

    static char payloads[KEYS * PER_KEY][32];
    static char keys[KEYS][16];
    oms_bus_outgoing out[KEYS * PER_KEY];
    for (int k = 0; k < KEYS; k++)
        snprintf(keys[k], sizeof keys[k], "order-%d", k);
    for (int i = 0; i < KEYS * PER_KEY; i++) {
        snprintf(payloads[i], sizeof payloads[i], "ack:%d:%d", i % KEYS, i / KEYS);
        out[i] = (oms_bus_outgoing){topic, keys[i % KEYS], payloads[i], strlen(payloads[i])};
    }
    assert_int_equal(oms_bus_publish(bus, out, KEYS * PER_KEY, &err), OMS_OK);
    oms_bus_outgoing special[3] = {
        {topic, "x-1", "retry-once", 10}, {topic, "x-2", "dead", 4}, {topic, "x-3", "always", 6}};
    assert_int_equal(oms_bus_publish(bus, special, 3, &err), OMS_OK);

    int64_t deadline = test_now_ms() + 60000;
    while (!all_done(&s) && test_now_ms() < deadline)
        sleep_ms(50);
    sleep_ms(1000); /* nothing more should come */
    oms_bus_stop(bus);
    assert_int_equal(test_seen_count(s.acked), KEYS * PER_KEY);
    assert_int_equal(s.out_of_order, 0);
    assert_int_equal(atomic_load(&s.concurrent), 0);
    assert_int_equal(s.retry_once_calls, 2);
    assert_int_equal(s.dead_calls, 1);
    assert_int_equal(s.always_calls, 3); /* first delivery + max_redeliveries */
    assert_int_equal(s.always_last_count, 2);

    pulsar_client_options co = test_client_options();
    pulsar_client *client = pulsar_client_create(host, port, &co, &err);
    assert_non_null(client);
    pulsar_consumer *d = pulsar_consumer_create(client, dlq, "check", NULL, &err);
    assert_non_null(d);
    bool saw_dead = false, saw_always = false;
    for (int i = 0; i < 2; i++) {
        pulsar_message *m = NULL;
        assert_int_equal(pulsar_consumer_receive(d, 10000, &m), OMS_OK);
        saw_dead |= strcmp(m->payload, "dead") == 0 && strcmp(m->key, "x-2") == 0;
        saw_always |= strcmp(m->payload, "always") == 0 && strcmp(m->key, "x-3") == 0;
        pulsar_consumer_ack(d, m);
        pulsar_message_free(m);
    }
    assert_true(saw_dead);
    assert_true(saw_always);
    pulsar_consumer_close(d);
    pulsar_client_destroy(client);
    oms_bus_destroy(bus);
    test_seen_destroy(s.acked);
    pthread_mutex_destroy(&s.mu);
}

/* ---- per-key order under a failing head (review M8) */

#define MAX_CALLS 32

typedef struct order_state {
    pthread_mutex_t mu;
    char calls[MAX_CALLS][8];   /* payloads handed to the handler, in order */
    uint32_t counts[MAX_CALLS]; /* their redelivery_count */
    int n_calls;
} order_state;

static int calls_of(order_state *s, const char *payload)
{
    pthread_mutex_lock(&s->mu);
    int n = 0;
    for (int i = 0; i < s->n_calls; i++)
        n += strcmp(s->calls[i], payload) == 0;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* As the inbox does: a message behind a failed one of its key in the same
 * batch is held back (RETRY) without being handled; "m1" always fails. */
static void holding_batch_handler(void *ctx, const oms_bus_message *msgs, size_t n, oms_arena *arena,
                                  oms_bus_outcome *out)
{
    (void)arena;
    order_state *s = ctx;
    for (size_t i = 0; i < n; i++) {
        bool held = false;
        for (size_t j = 0; j < i; j++)
            held |= out[j].disposition != OMS_BUS_ACK && strcmp(msgs[j].key, msgs[i].key) == 0;
        out[i].disposition = OMS_BUS_RETRY;
        if (held) {
            snprintf(out[i].reason, sizeof out[i].reason, "an earlier message of key %s was not handled", msgs[i].key);
            continue;
        }
        pthread_mutex_lock(&s->mu);
        if (s->n_calls < MAX_CALLS) {
            snprintf(s->calls[s->n_calls], sizeof s->calls[0], "%s", msgs[i].payload);
            s->counts[s->n_calls++] = msgs[i].redelivery_count;
        }
        pthread_mutex_unlock(&s->mu);
        bool fails = strcmp(msgs[i].payload, "m1") == 0;
        out[i].disposition = fails ? OMS_BUS_RETRY : OMS_BUS_ACK;
        if (fails)
            snprintf(out[i].reason, sizeof out[i].reason, "m1 always fails");
    }
}

/* Key K = [m1 fails on every attempt, m2 fine], and m3 published while m1
 * is failing: m1 is dead-lettered after its own attempts (0..3 with
 * max_redeliveries 3); m2 is handled exactly once, after that, as its first
 * attempt, and is not in the DLQ; m3 comes after m2. */
static void a_failing_head_keeps_its_keys_order_and_only_it_is_dead_lettered(void **state)
{
    (void)state;
    char topic[128], dlq[160];
    test_unique_topic("lp-bus-order", topic, sizeof topic);
    snprintf(dlq, sizeof dlq, "%s-DLQ", topic);
    oms_error err;
    char url[300];
    oms_bus_pulsar_settings settings = test_bus_settings(host, port, url, sizeof url);
    oms_bus_options o = {.service_name = "bus-order-test", .max_redeliveries = 3, .retry_base_delay_ms = 100};
    oms_bus *bus = oms_bus_pulsar_create(&settings, &o, &err);
    assert_non_null(bus);
    order_state s = {.n_calls = 0};
    pthread_mutex_init(&s.mu, NULL);
    assert_int_equal(oms_bus_subscribe(bus, topic, "order-test", holding_batch_handler, &s, &err), OMS_OK);
    assert_int_equal(oms_bus_start(bus, &err), OMS_OK);
    oms_bus_outgoing first[] = {{topic, "K", "m1", 2}, {topic, "K", "m2", 2}};
    assert_int_equal(oms_bus_publish(bus, first, 2, &err), OMS_OK);
    for (int64_t deadline = test_now_ms() + 30000; calls_of(&s, "m1") < 1 && test_now_ms() < deadline;)
        sleep_ms(10);
    oms_bus_outgoing third = {topic, "K", "m3", 2};
    assert_int_equal(oms_bus_publish(bus, &third, 1, &err), OMS_OK);
    for (int64_t deadline = test_now_ms() + 30000; calls_of(&s, "m3") < 1 && test_now_ms() < deadline;)
        sleep_ms(50);
    sleep_ms(1000); /* nothing more should come */
    oms_bus_stop(bus);

    static const char *const expected[] = {"m1", "m1", "m1", "m1", "m2", "m3"};
    static const uint32_t expected_counts[] = {0, 1, 2, 3, 0, 0};
    for (int i = 0; i < s.n_calls; i++)
        fprintf(stderr, "call %d: %s (redelivery_count %u)\n", i, s.calls[i], s.counts[i]);
    assert_int_equal(s.n_calls, 6);
    for (int i = 0; i < 6; i++) {
        assert_string_equal(s.calls[i], expected[i]);
        assert_int_equal(s.counts[i], expected_counts[i]);
    }

    pulsar_client_options co = test_client_options();
    pulsar_client *client = pulsar_client_create(host, port, &co, &err);
    assert_non_null(client);
    pulsar_consumer *d = pulsar_consumer_create(client, dlq, "check", NULL, &err);
    assert_non_null(d);
    pulsar_message *m = NULL;
    assert_int_equal(pulsar_consumer_receive(d, 10000, &m), OMS_OK);
    assert_string_equal(m->payload, "m1");
    pulsar_consumer_ack(d, m);
    pulsar_message_free(m);
    assert_int_equal(pulsar_consumer_receive(d, 2000, &m), OMS_ETIMEOUT);
    pulsar_consumer_close(d);
    pulsar_client_destroy(client);
    oms_bus_destroy(bus);
    pthread_mutex_destroy(&s.mu);
}

/* Publishing after stop still works (the outbox relay flushes after stop). */
static void publish_works_after_stop(void **state)
{
    (void)state;
    char topic[128];
    test_unique_topic("lp-bus-stop", topic, sizeof topic);
    oms_error err;
    char url[300];
    oms_bus_pulsar_settings settings = test_bus_settings(host, port, url, sizeof url);
    oms_bus *bus = oms_bus_pulsar_create(&settings, NULL, &err);
    assert_non_null(bus);
    assert_int_equal(oms_bus_start(bus, &err), OMS_OK);
    oms_bus_stop(bus);
    oms_bus_outgoing m = {topic, "k", "{}", 2};
    assert_int_equal(oms_bus_publish(bus, &m, 1, &err), OMS_OK);
    oms_bus_destroy(bus);
}

/* A broker that is not there: the transport says so in healthy(). */
static void unreachable_broker_is_unhealthy(void **state)
{
    (void)state;
    oms_error err;
    oms_bus *bus = oms_bus_pulsar_create(&(oms_bus_pulsar_settings){.url = "pulsar://127.0.0.1:1"}, NULL, &err);
    assert_non_null(bus);
    char why[128] = "";
    assert_false(oms_bus_healthy(bus, why, sizeof why));
    assert_true(strlen(why) > 0);
    oms_bus_destroy(bus);
}

int main(void)
{
    oms_log_init("pulsar_bus_test", OMS_LOG_WARN);
    test_broker_address(host, sizeof host, &port);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bus_delivers_in_key_order_and_dead_letters),
        cmocka_unit_test(a_failing_head_keeps_its_keys_order_and_only_it_is_dead_lettered),
        cmocka_unit_test(publish_works_after_stop),
        cmocka_unit_test(unreachable_broker_is_unhealthy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
