/* The Pulsar client against a real broker (PULSAR_HOST/PULSAR_PORT). The
 * restart test runs `infrastructure/pulsar/pulsar.sh restart` (from the
 * repository root, PULSAR_DIR as the runner set it). */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "broker_util.h"
#include "oms/log.h"
#include "pulsar/frame.h"
#include "pulsar/pulsar.h"

static char host[256];
static int port;

static pulsar_client *new_client(void)
{
    oms_error err;
    pulsar_client_options o = test_client_options();
    pulsar_client *c = pulsar_client_create(host, port, &o, &err);
    assert_non_null(c);
    return c;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* One message goes out with its key and comes back once; a negative
 * acknowledgement brings it back with redelivery_count 1. */
static void message_round_trips_and_nack_redelivers(void **state)
{
    (void)state;
    char topic[128];
    test_unique_topic("lp-roundtrip", topic, sizeof topic);
    pulsar_client *client = new_client();
    oms_error err;
    pulsar_producer *p = pulsar_producer_create(client, topic, NULL, &err);
    assert_non_null(p);
    pulsar_message_id id;
    const char *payload = "{\"order_id\":\"order-1\"}";
    assert_int_equal(pulsar_producer_send(p, "order-1", payload, strlen(payload), NULL, 0, 10000, &id, &err), OMS_OK);
    pulsar_consumer_options o = {.type = PULSAR_KEY_SHARED};
    pulsar_consumer *c = pulsar_consumer_create(client, topic, "sub", &o, &err);
    assert_non_null(c);
    pulsar_message *m = NULL;
    assert_int_equal(pulsar_consumer_receive(c, 10000, &m), OMS_OK);
    assert_string_equal(m->key, "order-1");
    assert_int_equal(m->payload_len, strlen(payload));
    assert_string_equal(m->payload, payload);
    assert_int_equal(m->redelivery_count, 0);
    assert_int_equal(m->id.ledger, id.ledger);
    assert_int_equal(m->id.entry, id.entry);
    assert_int_equal(pulsar_consumer_nack(c, m, 100), OMS_OK);
    pulsar_message_free(m);
    assert_int_equal(pulsar_consumer_receive(c, 10000, &m), OMS_OK);
    assert_string_equal(m->payload, payload);
    assert_int_equal(m->redelivery_count, 1);
    assert_int_equal(pulsar_consumer_ack(c, m), OMS_OK);
    pulsar_message_free(m);
    assert_int_equal(pulsar_consumer_receive(c, 1000, &m), OMS_ETIMEOUT);
    pulsar_consumer_close(c);
    pulsar_producer_close(p);
    pulsar_client_destroy(client);
}

/* Batched messages (as the official clients send them) come out one by
 * one with their batch index; a batch is acknowledged as one entry, and a
 * negative acknowledgement of one message redelivers its whole batch. */
static void batches_are_split_and_resolved_as_one_entry(void **state)
{
    (void)state;
    char topic[128];
    test_unique_topic("lp-batch", topic, sizeof topic);
    pulsar_client *client = new_client();
    oms_error err;
    pulsar_producer_options po = {.batch_max_messages = 100};
    pulsar_producer *p = pulsar_producer_create(client, topic, &po, &err);
    assert_non_null(p);
    for (int i = 0; i < 250; i++) {
        char payload[16];
        snprintf(payload, sizeof payload, "b-%d", i);
        assert_int_equal(pulsar_producer_send_async(p, "same-key", payload, strlen(payload), NULL, 0, NULL, NULL, &err),
                         OMS_OK);
    }
    assert_int_equal(pulsar_producer_flush(p, 10000, &err), OMS_OK);
    pulsar_consumer_options o = {.type = PULSAR_KEY_SHARED};
    pulsar_consumer *c = pulsar_consumer_create(client, topic, "batch", &o, &err);
    assert_non_null(c);
    uint64_t first_entry = 0;
    int in_first_entry = 0;
    for (int i = 0; i < 250; i++) {
        pulsar_message *m = NULL;
        assert_int_equal(pulsar_consumer_receive(c, 10000, &m), OMS_OK);
        char expected[16];
        snprintf(expected, sizeof expected, "b-%d", i);
        assert_string_equal(m->payload, expected);
        assert_string_equal(m->key, "same-key");
        assert_int_equal(m->id.batch_index, i % 100);
        if (i == 0)
            first_entry = m->id.entry;
        if (m->id.entry == first_entry)
            in_first_entry++;
        if (i == 7)
            pulsar_consumer_nack(c, m, 100);
        else
            pulsar_consumer_ack(c, m);
        pulsar_message_free(m);
    }
    assert_int_equal(in_first_entry, 100);
    /* The first batch comes back whole, the others were acknowledged. */
    for (int i = 0; i < 100; i++) {
        pulsar_message *m = NULL;
        assert_int_equal(pulsar_consumer_receive(c, 10000, &m), OMS_OK);
        assert_int_equal(m->id.entry, first_entry);
        assert_int_equal(m->redelivery_count, 1);
        pulsar_consumer_ack(c, m);
        pulsar_message_free(m);
    }
    pulsar_message *m = NULL;
    assert_int_equal(pulsar_consumer_receive(c, 1500, &m), OMS_ETIMEOUT);
    pulsar_consumer_close(c);
    pulsar_producer_close(p);
    pulsar_client_destroy(client);
}

/* ---- two Key_Shared consumers */
#define KS_MESSAGES 10000
#define KS_KEYS 50

typedef struct ks_consumer {
    pulsar_consumer *consumer;
    test_seen *seen;
    atomic_bool *stop;
    long last_seq[KS_KEYS];
    int received;
    int duplicates;
    int out_of_order;
    bool keys[KS_KEYS];
} ks_consumer;

static void *ks_consume(void *arg)
{
    ks_consumer *k = arg;
    for (int i = 0; i < KS_KEYS; i++)
        k->last_seq[i] = -1;
    while (!atomic_load(k->stop)) {
        pulsar_message *m = NULL;
        if (pulsar_consumer_receive(k->consumer, 200, &m) != OMS_OK)
            continue;
        int key = -1;
        long seq = -1;
        if (sscanf(m->payload, "key-%d:%ld", &key, &seq) == 2 && key >= 0 && key < KS_KEYS) {
            char expected_key[32];
            snprintf(expected_key, sizeof expected_key, "key-%d", key);
            if (strcmp(expected_key, m->key) != 0)
                k->out_of_order++;
            k->received++;
            k->keys[key] = true;
            if (!test_seen_add(k->seen, m->payload))
                k->duplicates++;
            else if (seq <= k->last_seq[key])
                k->out_of_order++;
            if (seq > k->last_seq[key])
                k->last_seq[key] = seq;
        }
        pulsar_consumer_ack(k->consumer, m);
        pulsar_message_free(m);
    }
    return NULL;
}

/* 10,000 messages over 50 keys through two Key_Shared consumers: none lost,
 * none twice, each key on one consumer and in publish order. */
static void key_shared_keeps_per_key_order_across_two_consumers(void **state)
{
    (void)state;
    char topic[128];
    test_unique_topic("lp-keyshared", topic, sizeof topic);
    pulsar_client *client = new_client();
    oms_error err;
    atomic_bool stop = false;
    test_seen *seen = test_seen_create(KS_MESSAGES);
    ks_consumer ks[2];
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) {
        memset(&ks[i], 0, sizeof ks[i]);
        pulsar_consumer_options o = {.type = PULSAR_KEY_SHARED};
        ks[i].consumer = pulsar_consumer_create(client, topic, "ks", &o, &err);
        assert_non_null(ks[i].consumer);
        ks[i].seen = seen;
        ks[i].stop = &stop;
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, ks_consume, &ks[i]), 0);
    /* Batched per key, as the official clients do for Key_Shared. */
    pulsar_producer_options po = {.batch_max_messages = 100, .batch_by_key = true};
    pulsar_producer *p = pulsar_producer_create(client, topic, &po, &err);
    assert_non_null(p);
    for (int i = 0; i < KS_MESSAGES; i++) {
        char key[32], payload[64];
        snprintf(key, sizeof key, "key-%d", i % KS_KEYS);
        snprintf(payload, sizeof payload, "key-%d:%d", i % KS_KEYS, i / KS_KEYS);
        assert_int_equal(pulsar_producer_send_async(p, key, payload, strlen(payload), NULL, 0, NULL, NULL, &err),
                         OMS_OK);
    }
    assert_int_equal(pulsar_producer_flush(p, 60000, &err), OMS_OK);
    int64_t deadline = test_now_ms() + 120000;
    while (test_seen_count(seen) < KS_MESSAGES && test_now_ms() < deadline)
        sleep_ms(50);
    sleep_ms(500); /* anything arriving twice would arrive now */
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    int keys_on_both = 0;
    for (int k = 0; k < KS_KEYS; k++)
        keys_on_both += ks[0].keys[k] && ks[1].keys[k];
    fprintf(stderr, "key_shared: consumer A %d, consumer B %d messages\n", ks[0].received, ks[1].received);
    assert_int_equal(test_seen_count(seen), KS_MESSAGES);
    assert_int_equal(ks[0].duplicates + ks[1].duplicates, 0);
    assert_int_equal(ks[0].out_of_order + ks[1].out_of_order, 0);
    assert_int_equal(keys_on_both, 0);
    assert_true(ks[0].received > 0 && ks[1].received > 0);
    for (int i = 0; i < 2; i++)
        pulsar_consumer_close(ks[i].consumer);
    pulsar_producer_close(p);
    pulsar_client_destroy(client);
    test_seen_destroy(seen);
}

/* ---- broker restart in the middle of a stream */
#define RESTART_MESSAGES 3000

typedef struct restart_stream {
    pulsar_client *client;
    const char *topic;
    atomic_int queued;
    oms_err flushed;
} restart_stream;

static void *restart_produce(void *arg)
{
    restart_stream *s = arg;
    oms_error err;
    pulsar_producer *p = pulsar_producer_create(s->client, s->topic, NULL, &err);
    if (!p) {
        s->flushed = err.code;
        return NULL;
    }
    for (int i = 0; i < RESTART_MESSAGES; i++) {
        char payload[32];
        snprintf(payload, sizeof payload, "m-%d", i);
        if (pulsar_producer_send_async(p, "k", payload, strlen(payload), NULL, 0, NULL, NULL, &err) != OMS_OK)
            break;
        atomic_store(&s->queued, i + 1);
        if (i % 20 == 0)
            sleep_ms(10); /* a stream, not a burst: the restart falls in the middle */
    }
    s->flushed = pulsar_producer_flush(p, 240000, &err);
    pulsar_producer_close(p);
    return NULL;
}

static void broker_restart_loses_nothing(void **state)
{
    (void)state;
    const char *script = getenv("PULSAR_CTL") ? getenv("PULSAR_CTL") : "infrastructure/pulsar/pulsar.sh";
    if (access(script, X_OK) != 0)
        fail_msg("%s not found: run the test from the repository root (or set PULSAR_CTL)", script);
    char topic[128];
    test_unique_topic("lp-restart", topic, sizeof topic);
    pulsar_client *client = new_client();
    oms_error err;
    pulsar_consumer_options o = {.type = PULSAR_KEY_SHARED};
    pulsar_consumer *c = pulsar_consumer_create(client, topic, "restart", &o, &err);
    assert_non_null(c);
    restart_stream s = {.client = client, .topic = topic, .flushed = OMS_EINTERNAL};
    pthread_t producer;
    assert_int_equal(pthread_create(&producer, NULL, restart_produce, &s), 0);
    test_seen *seen = test_seen_create(RESTART_MESSAGES);
    bool restarted = false;
    int restart_rc = -1;
    int64_t deadline = test_now_ms() + 300000;
    while (test_seen_count(seen) < RESTART_MESSAGES && test_now_ms() < deadline) {
        if (!restarted && atomic_load(&s.queued) >= RESTART_MESSAGES / 3) {
            char cmd[600];
            snprintf(cmd, sizeof cmd, "%s restart >&2", script);
            fprintf(stderr, "restarting the broker after %d messages queued\n", atomic_load(&s.queued));
            restart_rc = system(cmd);
            restarted = true;
        }
        pulsar_message *m = NULL;
        if (pulsar_consumer_receive(c, 200, &m) != OMS_OK)
            continue;
        test_seen_add(seen, m->payload);
        pulsar_consumer_ack(c, m);
        pulsar_message_free(m);
    }
    pthread_join(producer, NULL);
    assert_true(restarted);
    assert_int_equal(restart_rc, 0);
    assert_int_equal(s.flushed, OMS_OK);
    assert_int_equal(test_seen_count(seen), RESTART_MESSAGES);
    pulsar_consumer_close(c);
    pulsar_client_destroy(client);
    test_seen_destroy(seen);
}

/* Unloading the topic makes the broker send CLOSE_PRODUCER and
 * CLOSE_CONSUMER: both are looked up and created again, pending sends are
 * resent, and nothing is lost. */
static void topic_unload_reattaches_producer_and_consumer(void **state)
{
    (void)state;
    char topic[128];
    test_unique_topic("lp-unload", topic, sizeof topic);
    pulsar_client *client = new_client();
    oms_error err;
    pulsar_consumer_options o = {.type = PULSAR_KEY_SHARED};
    pulsar_consumer *c = pulsar_consumer_create(client, topic, "unload", &o, &err);
    assert_non_null(c);
    pulsar_producer *p = pulsar_producer_create(client, topic, NULL, &err);
    assert_non_null(p);
    test_seen *seen = test_seen_create(1000);
    for (int i = 0; i < 1000; i++) {
        char payload[16];
        snprintf(payload, sizeof payload, "u-%d", i);
        assert_int_equal(pulsar_producer_send_async(p, "k", payload, strlen(payload), NULL, 0, NULL, NULL, &err),
                         OMS_OK);
        if (i == 400) {
            char path[512];
            snprintf(path, sizeof path, "persistent/public/default/%s/unload", topic);
            assert_int_equal(test_admin_request("PUT", path, NULL, 0), 0);
        }
        pulsar_message *m = NULL;
        while (pulsar_consumer_receive(c, 0, &m) == OMS_OK) {
            test_seen_add(seen, m->payload);
            pulsar_consumer_ack(c, m);
            pulsar_message_free(m);
        }
    }
    assert_int_equal(pulsar_producer_flush(p, 60000, &err), OMS_OK);
    int64_t deadline = test_now_ms() + 60000;
    while (test_seen_count(seen) < 1000 && test_now_ms() < deadline) {
        pulsar_message *m = NULL;
        if (pulsar_consumer_receive(c, 200, &m) != OMS_OK)
            continue;
        test_seen_add(seen, m->payload);
        pulsar_consumer_ack(c, m);
        pulsar_message_free(m);
    }
    assert_int_equal(test_seen_count(seen), 1000);
    assert_true(pulsar_consumer_connected(c));
    pulsar_consumer_close(c);
    pulsar_producer_close(p);
    pulsar_client_destroy(client);
    test_seen_destroy(seen);
}

/* A message that always fails goes to <topic>-DLQ after max_redeliveries,
 * and the messages behind it (same key) are handled meanwhile. */
static void poison_message_ends_in_dlq_and_others_flow(void **state)
{
    (void)state;
    char topic[128], dlq[160];
    test_unique_topic("lp-poison", topic, sizeof topic);
    snprintf(dlq, sizeof dlq, "%s-DLQ", topic);
    pulsar_client *client = new_client();
    oms_error err;
    pulsar_consumer_options o = {.type = PULSAR_KEY_SHARED, .max_redeliveries = 2, .dead_letter_topic = dlq};
    pulsar_consumer *c = pulsar_consumer_create(client, topic, "poison", &o, &err);
    assert_non_null(c);
    pulsar_producer *p = pulsar_producer_create(client, topic, NULL, &err);
    assert_non_null(p);
    assert_int_equal(pulsar_producer_send(p, "k", "poison", 6, NULL, 0, 10000, NULL, &err), OMS_OK);
    for (int i = 0; i < 10; i++) {
        char payload[16];
        snprintf(payload, sizeof payload, "ok-%d", i);
        assert_int_equal(pulsar_producer_send(p, "k", payload, strlen(payload), NULL, 0, 10000, NULL, &err), OMS_OK);
    }
    int ok = 0, poison_deliveries = 0;
    uint32_t last_count = 0;
    int64_t deadline = test_now_ms() + 60000;
    while ((ok < 10 || poison_deliveries < 3) && test_now_ms() < deadline) {
        pulsar_message *m = NULL;
        if (pulsar_consumer_receive(c, 200, &m) != OMS_OK)
            continue;
        if (strcmp(m->payload, "poison") == 0) {
            poison_deliveries++;
            last_count = m->redelivery_count;
            pulsar_consumer_nack(c, m, 100);
        } else {
            ok++;
            pulsar_consumer_ack(c, m);
        }
        pulsar_message_free(m);
    }
    assert_int_equal(ok, 10);
    assert_int_equal(poison_deliveries, 3); /* first delivery and two redeliveries */
    assert_int_equal(last_count, 2);
    pulsar_message *m = NULL;
    assert_int_equal(pulsar_consumer_receive(c, 1500, &m), OMS_ETIMEOUT); /* acked: not back */

    pulsar_consumer_options od = {.type = PULSAR_SHARED};
    pulsar_consumer *d = pulsar_consumer_create(client, dlq, "check", &od, &err);
    assert_non_null(d);
    assert_int_equal(pulsar_consumer_receive(d, 10000, &m), OMS_OK);
    assert_string_equal(m->payload, "poison");
    assert_string_equal(m->key, "k");
    pulsar_consumer_ack(d, m);
    pulsar_message_free(m);
    pulsar_consumer_close(d);
    pulsar_consumer_close(c);
    pulsar_producer_close(p);
    pulsar_client_destroy(client);
}

/* A full producer queue with fail_when_full answers OMS_EBUSY instead of blocking. */
static void full_queue_fails_when_asked_to(void **state)
{
    (void)state;
    char topic[128];
    test_unique_topic("lp-full", topic, sizeof topic);
    pulsar_client *client = new_client();
    oms_error err;
    pulsar_producer_options o = {.max_pending = 5, .fail_when_full = true};
    pulsar_producer *p = pulsar_producer_create(client, topic, &o, &err);
    assert_non_null(p);
    int busy = 0;
    for (int i = 0; i < 200; i++) {
        if (pulsar_producer_send_async(p, NULL, "x", 1, NULL, 0, NULL, NULL, &err) == OMS_EBUSY)
            busy++;
    }
    assert_true(busy > 0);
    assert_int_equal(pulsar_producer_flush(p, 10000, &err), OMS_OK);
    pulsar_producer_close(p);
    pulsar_client_destroy(client);
}


/* ---- a send at idle after a burst goes out at once ---- */

typedef struct burst_sender {
    pulsar_producer *p;
    int count;
    int failed;
} burst_sender;

static void *burst_send(void *arg)
{
    burst_sender *b = arg;
    oms_error err;
    char key[32];
    for (int i = 0; i < b->count; i++) {
        snprintf(key, sizeof key, "k-%d", i % 50);
        if (pulsar_producer_send(b->p, key, "burst", 5, NULL, 0, 10000, NULL, &err) != OMS_OK)
            b->failed++;
    }
    return NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int compare_ms(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The I/O thread is woken by a byte in a pipe, guarded by a "wake pending"
 * flag. It used to clear the flag before draining the pipe: a sender that
 * wrote its byte in between lost it to the drain and left the flag set with
 * the pipe empty, so that every later frame waited for the next read or for
 * poll's one-second timeout. Many concurrent senders make that interleaving
 * likely; afterwards, one send at a time must still take milliseconds. */
static void sends_stay_prompt_after_a_burst(void **state)
{
    (void)state;
    char topic[128];
    test_unique_topic("lp-burst", topic, sizeof topic);
    pulsar_client *client = new_client();
    oms_error err;
    pulsar_producer *p = pulsar_producer_create(client, topic, NULL, &err);
    assert_non_null(p);
    enum { SENDERS = 8 };
    burst_sender senders[SENDERS];
    pthread_t threads[SENDERS];
    for (int i = 0; i < SENDERS; i++) {
        senders[i] = (burst_sender){.p = p, .count = 300};
        assert_int_equal(pthread_create(&threads[i], NULL, burst_send, &senders[i]), 0);
    }
    for (int i = 0; i < SENDERS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(senders[i].failed, 0);
    }
    enum { ALONE = 15 };
    int64_t took[ALONE];
    for (int i = 0; i < ALONE; i++) {
        sleep_ms(20);
        int64_t start = now_ms();
        assert_int_equal(pulsar_producer_send(p, "alone", "x", 1, NULL, 0, 10000, NULL, &err), OMS_OK);
        took[i] = now_ms() - start;
    }
    qsort(took, ALONE, sizeof took[0], compare_ms);
    printf("# send after a burst: median %lld ms, max %lld ms\n", (long long)took[ALONE / 2],
           (long long)took[ALONE - 1]);
    assert_true(took[ALONE / 2] < 300);
    pulsar_producer_close(p);
    pulsar_client_destroy(client);
}

/* ---- a hostile "broker": handshake, then a broken frame */
#define HOSTILE_VARIANTS 5

typedef struct hostile_server {
    int listen_fd;
    int dropped; /* connections the client closed after the broken frame */
} hostile_server;

static void hostile_frame(int variant, pulsar_buf *out)
{
    uint8_t b[256];
    size_t n = 0;
    srand((unsigned)variant);
    switch (variant) {
    case 0: /* totalSize far above the limit */
        b[0] = b[1] = b[2] = b[3] = 0xff;
        n = 8;
        break;
    case 1: /* commandSize larger than totalSize */
        b[0] = 0, b[1] = 0, b[2] = 0, b[3] = 8;
        b[4] = 0, b[5] = 0, b[6] = 1, b[7] = 0;
        n = 12;
        break;
    case 2: /* a command that is not protobuf */
        b[0] = 0, b[1] = 0, b[2] = 0, b[3] = 12;
        b[4] = 0, b[5] = 0, b[6] = 0, b[7] = 8;
        memset(b + 8, 0xff, 8);
        n = 16;
        break;
    case 3: /* a MESSAGE whose metadataSize runs past the frame */
    {
        Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
        Pulsar__CommandMessage msg = PULSAR__COMMAND_MESSAGE__INIT;
        Pulsar__MessageIdData id = PULSAR__MESSAGE_ID_DATA__INIT;
        cmd.type = PULSAR__BASE_COMMAND__TYPE__MESSAGE;
        cmd.message = &msg;
        msg.message_id = &id;
        pulsar_buf c = {0};
        pulsar_frame_encode_command(&c, &cmd);
        size_t cmd_len = c.len - 8;
        uint32_t total = (uint32_t)(4 + cmd_len + 4 + 2);
        b[0] = (uint8_t)(total >> 24), b[1] = (uint8_t)(total >> 16), b[2] = (uint8_t)(total >> 8),
        b[3] = (uint8_t)total;
        memcpy(b + 4, c.data + 4, 4 + cmd_len);
        n = 8 + cmd_len;
        b[n++] = 0, b[n++] = 0, b[n++] = 0x10, b[n++] = 0; /* metadataSize 4096 */
        b[n++] = 1, b[n++] = 2;
        pulsar_buf_free(&c);
        break;
    }
    default: /* random bytes */
        for (n = 0; n < 200; n++)
            b[n] = (uint8_t)rand();
        b[0] = 0x7f;
        break;
    }
    pulsar_buf_append(out, b, n);
}

static bool wait_readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 1;
}

static void *hostile_main(void *arg)
{
    hostile_server *s = arg;
    for (int variant = 0; variant < HOSTILE_VARIANTS; variant++) {
        if (!wait_readable(s->listen_fd, 10000))
            return NULL;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        uint8_t in[4096];
        if (wait_readable(fd, 5000) && read(fd, in, sizeof in) > 0) { /* CONNECT */
            Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
            Pulsar__CommandConnected connected = PULSAR__COMMAND_CONNECTED__INIT;
            cmd.type = PULSAR__BASE_COMMAND__TYPE__CONNECTED;
            cmd.connected = &connected;
            connected.server_version = "hostile";
            pulsar_buf out = {0};
            pulsar_frame_encode_command(&out, &cmd);
            hostile_frame(variant, &out);
            if (write(fd, out.data, out.len) == (ssize_t)out.len) {
                /* The client must close the connection: read until EOF. */
                int64_t deadline = test_now_ms() + 5000;
                ssize_t r = 1;
                while (r > 0 && test_now_ms() < deadline && wait_readable(fd, 100))
                    r = read(fd, in, sizeof in);
                if (r <= 0)
                    s->dropped++;
            }
            pulsar_buf_free(&out);
        }
        close(fd);
    }
    return NULL;
}

/* Broken frames from the peer close the connection (and the client connects
 * again), never crash it. */
static void hostile_frames_close_the_connection(void **state)
{
    (void)state;
    hostile_server s = {.listen_fd = socket(AF_INET, SOCK_STREAM, 0)};
    assert_true(s.listen_fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    assert_int_equal(bind(s.listen_fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(s.listen_fd, 4), 0);
    assert_int_equal(getsockname(s.listen_fd, (struct sockaddr *)&addr, &len), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hostile_main, &s), 0);
    oms_error err;
    pulsar_client *c = pulsar_client_create("127.0.0.1", ntohs(addr.sin_port), NULL, &err);
    assert_non_null(c);
    pthread_join(t, NULL);
    pulsar_client_destroy(c);
    close(s.listen_fd);
    assert_int_equal(s.dropped, HOSTILE_VARIANTS);
}

int main(void)
{
    oms_log_init("pulsar_broker_test", OMS_LOG_WARN);
    test_broker_address(host, sizeof host, &port);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hostile_frames_close_the_connection),
        cmocka_unit_test(sends_stay_prompt_after_a_burst),
        cmocka_unit_test(message_round_trips_and_nack_redelivers),
        cmocka_unit_test(full_queue_fails_when_asked_to),
        cmocka_unit_test(batches_are_split_and_resolved_as_one_entry),
        cmocka_unit_test(poison_message_ends_in_dlq_and_others_flow),
        cmocka_unit_test(topic_unload_reattaches_producer_and_consumer),
        cmocka_unit_test(key_shared_keeps_per_key_order_across_two_consumers),
        cmocka_unit_test(broker_restart_loses_nothing),
    };
    if (getenv("PULSAR_TEST_FILTER")) /* e.g. "*poison*", for running one test */
        cmocka_set_test_filter(getenv("PULSAR_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
