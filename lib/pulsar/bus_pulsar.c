/* bus_pulsar.c -- the oms_bus port (oms/bus.h) over the project's Pulsar
 * client.
 *
 * publish: every message goes to persistent://public/default/<topic> with
 * the key as partition key and ordering key; returns OMS_OK once every
 * receipt is in. subscribe: per (topic, subscription), consumer_threads
 * Key_Shared consumers, each with one handler thread: the broker gives one
 * key to one consumer and that consumer's thread handles its messages in
 * order, so one key's messages are handled sequentially and in order. The
 * handler gets what the consumer has received, up to batch_size messages,
 * in one call (messages of one key in their order).
 * A message that fails (RETRY) stays with its worker (key_order.h): it is
 * tried again after retry_base_delay_ms doubling per attempt (capped at
 * 30 s), and its key's later messages wait behind it, so the key keeps its
 * order and a message held back is never counted as failing; at
 * max_redeliveries, and at once for DEAD, the message goes to
 * "<topic>-DLQ" and is then acknowledged, and the ones behind it go on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oms/bus.h"
#include "oms/log.h"
#include "oms/metrics.h"
#include "pulsar/internal.h"
#include "pulsar/key_order.h"

#define PUBLISH_TIMEOUT_MS 30000
#define MAX_RETRY_DELAY_MS 30000
#define RECEIVE_POLL_MS 200
/* Messages a worker holds behind failing ones at most; beyond, it takes no
 * new message (the broker then stops sending) until some are handled. */
#define HELD_MAX 10000

typedef struct bus_subscription {
    char topic[256];
    char subscription[256];
    char dlq_topic[300];
    oms_bus_batch_handler handler;
    void *ctx;
    struct bus_subscription *next;
} bus_subscription;

typedef struct bus_worker {
    struct pulsar_bus *bus;
    bus_subscription *sub;
    pulsar_consumer *consumer;
    key_order *order; /* failed messages and the ones held behind them */
    pthread_t thread;
    bool started;
} bus_worker;

typedef struct topic_producer {
    char topic[256];
    pulsar_producer *producer;
    struct topic_producer *next;
} topic_producer;

typedef struct pulsar_bus {
    oms_bus bus;
    pulsar_client *client;
    oms_bus_options options;
    char service_name[128];
    pthread_mutex_t mu; /* producers, subscriptions */
    topic_producer *producers;
    bus_subscription *subscriptions;
    bus_worker *workers;
    size_t n_workers;
    atomic_bool running;
    bool started;
    /* Metrics, looked up once. */
    oms_counter *published;
    oms_histogram *publish_seconds;
    oms_counter *handled[3]; /* by disposition */
    oms_histogram *handle_seconds;
} pulsar_bus;

static pulsar_bus *self_of(oms_bus *b) { return b->self; }

/* ---- publish */
static pulsar_producer *producer_for(pulsar_bus *bus, const char *topic, oms_error *err)
{
    pthread_mutex_lock(&bus->mu);
    topic_producer *tp = bus->producers;
    while (tp && strcmp(tp->topic, topic) != 0)
        tp = tp->next;
    pulsar_producer *p = tp ? tp->producer : NULL;
    if (!tp) {
        /* Created under the lock: two publishers of a new topic make one producer. */
        tp = calloc(1, sizeof *tp);
        /* A full queue (broker away for long) fails the publish at once
         * rather than blocking the outbox relay; it retries later. */
        pulsar_producer_options o = {.name_prefix = bus->service_name, .fail_when_full = true};
        p = tp && strlen(topic) < sizeof tp->topic ? pulsar_producer_create(bus->client, topic, &o, err) : NULL;
        if (p) {
            snprintf(tp->topic, sizeof tp->topic, "%s", topic);
            tp->producer = p;
            tp->next = bus->producers;
            bus->producers = tp;
        } else {
            free(tp);
            if (!tp || err->code == OMS_OK)
                oms_error_set(err, OMS_ENOMEM, "topic", "pulsar: cannot create a producer for %s", topic);
        }
    }
    pthread_mutex_unlock(&bus->mu);
    return p;
}

typedef struct publish_wait {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    size_t remaining;
    oms_err first_error;
    atomic_int refs;
} publish_wait;

static void publish_wait_release(publish_wait *w, int n)
{
    if (atomic_fetch_sub(&w->refs, n) == n) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cond);
        free(w);
    }
}

static void publish_done(void *ctx, oms_err result, const pulsar_message_id *id)
{
    (void)id;
    publish_wait *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->remaining--;
    if (result != OMS_OK && w->first_error == OMS_OK)
        w->first_error = result;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mu);
    publish_wait_release(w, 1);
}

static oms_err bus_publish(oms_bus *b, const oms_bus_outgoing *msgs, size_t n, oms_error *err)
{
    pulsar_bus *bus = self_of(b);
    oms_error local;
    if (!err)
        err = &local;
    oms_error_clear(err);
    if (n == 0)
        return OMS_OK;
    int64_t start = pulsar_now_ms();
    publish_wait *w = calloc(1, sizeof *w);
    if (!w)
        return oms_error_set(err, OMS_ENOMEM, NULL, "pulsar: out of memory");
    pthread_mutex_init(&w->mu, NULL);
    pulsar_cond_init(&w->cond);
    atomic_init(&w->refs, (int)n + 1);
    w->remaining = n;
    oms_err rc = OMS_OK;
    size_t sent = 0;
    for (; sent < n && rc == OMS_OK; sent++) {
        pulsar_producer *p = producer_for(bus, msgs[sent].topic, err);
        rc = p ? pulsar_producer_send_async(p, msgs[sent].key, msgs[sent].payload, msgs[sent].payload_len, NULL, 0,
                                            publish_done, w, err)
               : err->code;
    }
    if (rc != OMS_OK) {
        sent--; /* the failed one was not queued */
        pthread_mutex_lock(&w->mu);
        w->remaining -= n - sent;
        pthread_mutex_unlock(&w->mu);
        publish_wait_release(w, (int)(n - sent));
    }
    int64_t deadline = start + PUBLISH_TIMEOUT_MS;
    pthread_mutex_lock(&w->mu);
    while (w->remaining > 0 && pulsar_now_ms() < deadline)
        pulsar_cond_wait_until(&w->cond, &w->mu, deadline);
    size_t missing = w->remaining;
    oms_err failed = w->first_error;
    pthread_mutex_unlock(&w->mu);
    publish_wait_release(w, 1);
    oms_histogram_observe(bus->publish_seconds, (double)(pulsar_now_ms() - start) / 1000.0);
    if (rc != OMS_OK)
        return rc;
    if (missing)
        return oms_error_set(err, OMS_ETIMEOUT, NULL, "pulsar: %zu of %zu messages without receipt after %d ms",
                             missing, n, PUBLISH_TIMEOUT_MS);
    if (failed != OMS_OK)
        return oms_error_set(err, failed, NULL, "pulsar: a message was not stored");
    oms_counter_add(bus->published, n);
    return OMS_OK;
}

/* ---- consume */

/* What key_order does to a message, on the worker's consumer. */
static void order_ack(void *ctx, pulsar_message *m)
{
    bus_worker *w = ctx;
    pulsar_consumer_ack(w->consumer, m);
}

static bool order_dead_letter(void *ctx, pulsar_message *m, const char *reason)
{
    bus_worker *w = ctx;
    return pulsar_consumer_dead_letter(w->consumer, m, reason) == OMS_OK;
}

static void order_give_back(void *ctx, pulsar_message *m, int delay_ms)
{
    bus_worker *w = ctx;
    pulsar_consumer_nack(w->consumer, m, delay_ms);
}

static void order_release(void *ctx, pulsar_message *m)
{
    (void)ctx;
    pulsar_message_free(m);
}

static const key_order_ops order_ops = {
    .ack = order_ack,
    .dead_letter = order_dead_letter,
    .give_back = order_give_back,
    .release = order_release,
};

static void message_id_text(const pulsar_message *m, char *out, size_t len)
{
    snprintf(out, len, "%llu:%llu:%d", (unsigned long long)m->id.ledger, (unsigned long long)m->id.entry,
             m->id.batch_index);
}

static oms_bus_message bus_message_of(const bus_worker *w, const pulsar_message *m, uint32_t attempt,
                                      const char *message_id)
{
    return (oms_bus_message){
        .topic = w->sub->topic,
        .subscription = w->sub->subscription,
        .key = m->key,
        .payload = m->payload,
        .payload_len = m->payload_len,
        .redelivery_count = attempt,
        .message_id = message_id,
    };
}

static void count_outcome(bus_worker *w, oms_bus_disposition d)
{
    if (d >= OMS_BUS_ACK && d <= OMS_BUS_DEAD)
        oms_counter_add(w->bus->handled[d], 1);
}

/* Hands a round to the subscription's handler and fills out[] (RETRY for
 * what it could not hand over). */
static void handle_round(bus_worker *w, pulsar_message **ms, const uint32_t *attempts, size_t n, oms_arena *arena,
                         oms_bus_outcome *out)
{
    for (size_t i = 0; i < n; i++) {
        out[i].disposition = OMS_BUS_RETRY;
        out[i].reason[0] = '\0';
    }
    oms_bus_message *msgs = oms_arena_calloc(arena, n, sizeof *msgs);
    char(*ids)[80] = oms_arena_calloc(arena, n, sizeof *ids);
    if (!msgs || !ids) {
        for (size_t i = 0; i < n; i++)
            snprintf(out[i].reason, sizeof out[i].reason, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        message_id_text(ms[i], ids[i], sizeof ids[i]);
        msgs[i] = bus_message_of(w, ms[i], attempts[i], ids[i]);
    }
    int64_t start = pulsar_now_ms();
    w->sub->handler(w->sub->ctx, msgs, n, arena, out);
    oms_histogram_observe(w->bus->handle_seconds, (double)(pulsar_now_ms() - start) / 1000.0);
    for (size_t i = 0; i < n; i++) {
        out[i].reason[sizeof out[i].reason - 1] = '\0';
        count_outcome(w, out[i].disposition);
    }
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* The next round: held messages whose turn has come, then what the consumer
 * has received, up to max. It waits (at most until a held key is due) only
 * when it has nothing: under load a round fills up, and alone a message does
 * not wait for company. A received message of a held key waits behind it. */
static size_t next_round(bus_worker *w, pulsar_message **ms, uint32_t *attempts, size_t max)
{
    key_order_new_session(w->order, pulsar_consumer_session(w->consumer));
    int64_t now = pulsar_now_ms();
    size_t n = key_order_take_due(w->order, now, ms, attempts, max);
    int64_t due_in = key_order_next_due_in(w->order, now);
    int wait_ms = n > 0 ? 0 : due_in < 0 || due_in > RECEIVE_POLL_MS ? RECEIVE_POLL_MS : (int)due_in;
    if (key_order_full(w->order)) {
        if (n == 0)
            sleep_ms(wait_ms);
        return n;
    }
    for (size_t received = 0; n < max && received < max; received++) {
        pulsar_message *m = NULL;
        if (pulsar_consumer_receive(w->consumer, wait_ms, &m) != OMS_OK)
            break;
        wait_ms = 0;
        if (key_order_hold_if_waiting(w->order, m))
            continue;
        ms[n] = m;
        attempts[n] = m->redelivery_count;
        n++;
    }
    return n;
}

static void *worker_main(void *arg)
{
    bus_worker *w = arg;
    oms_arena *arena = oms_arena_create(0);
    size_t max = (size_t)w->bus->options.batch_size;
    pulsar_message **ms = calloc(max, sizeof *ms);
    uint32_t *attempts = calloc(max, sizeof *attempts);
    oms_bus_outcome *out = calloc(max, sizeof *out);
    if (!arena || !ms || !attempts || !out)
        oms_log(OMS_LOG_ERROR, "pulsar_out_of_memory", "topic", w->sub->topic, "action", "consumer thread stopped",
                NULL);
    while (arena && ms && attempts && out && atomic_load(&w->bus->running)) {
        size_t n = next_round(w, ms, attempts, max);
        if (n == 0)
            continue;
        handle_round(w, ms, attempts, n, arena, out);
        key_order_settle(w->order, pulsar_now_ms(), ms, attempts, out, n);
        oms_arena_reset(arena);
    }
    free(out);
    free(attempts);
    free(ms);
    oms_arena_destroy(arena);
    return NULL;
}

static oms_err bus_subscribe(oms_bus *b, const char *topic, const char *subscription, oms_bus_batch_handler handler,
                             void *ctx, oms_error *err)
{
    pulsar_bus *bus = self_of(b);
    if (!topic || !subscription || !handler || strlen(topic) >= 256 || strlen(subscription) >= 256)
        return oms_error_set(err, OMS_EINVAL, "topic", "pulsar: bad subscription");
    bus_subscription *s = calloc(1, sizeof *s);
    if (!s)
        return oms_error_set(err, OMS_ENOMEM, NULL, "pulsar: out of memory");
    snprintf(s->topic, sizeof s->topic, "%s", topic);
    snprintf(s->subscription, sizeof s->subscription, "%s", subscription);
    snprintf(s->dlq_topic, sizeof s->dlq_topic, "%s-DLQ", topic);
    s->handler = handler;
    s->ctx = ctx;
    pthread_mutex_lock(&bus->mu);
    bool late = bus->started;
    if (!late) {
        s->next = bus->subscriptions;
        bus->subscriptions = s;
    }
    pthread_mutex_unlock(&bus->mu);
    if (late) {
        free(s);
        return oms_error_set(err, OMS_ECONFLICT, NULL, "pulsar: subscribe after start");
    }
    return OMS_OK;
}

static void stop_workers(pulsar_bus *bus)
{
    atomic_store(&bus->running, false);
    for (size_t i = 0; i < bus->n_workers; i++) {
        if (bus->workers[i].started)
            pthread_join(bus->workers[i].thread, NULL);
        bus->workers[i].started = false;
    }
    for (size_t i = 0; i < bus->n_workers; i++) {
        /* Held messages go first: the broker delivers them again. */
        key_order_destroy(bus->workers[i].order);
        bus->workers[i].order = NULL;
        pulsar_consumer_close(bus->workers[i].consumer);
        bus->workers[i].consumer = NULL;
    }
    free(bus->workers);
    bus->workers = NULL;
    bus->n_workers = 0;
}

static oms_err bus_start(oms_bus *b, oms_error *err)
{
    pulsar_bus *bus = self_of(b);
    oms_error local;
    if (!err)
        err = &local;
    oms_error_clear(err);
    pthread_mutex_lock(&bus->mu);
    bool again = bus->started;
    bus->started = true;
    pthread_mutex_unlock(&bus->mu);
    if (again)
        return oms_error_set(err, OMS_ECONFLICT, NULL, "pulsar: bus started twice");
    size_t n_subs = 0;
    for (bus_subscription *s = bus->subscriptions; s; s = s->next)
        n_subs++;
    size_t threads = (size_t)bus->options.consumer_threads;
    bus->workers = calloc(n_subs * threads + 1, sizeof *bus->workers);
    if (!bus->workers)
        return oms_error_set(err, OMS_ENOMEM, NULL, "pulsar: out of memory");
    /* Every consumer first, so a failure starts no handler. */
    oms_err rc = OMS_OK;
    key_order_options order_options = {.max_redeliveries = (uint32_t)bus->options.max_redeliveries,
                                       .retry_base_delay_ms = bus->options.retry_base_delay_ms,
                                       .retry_max_delay_ms = MAX_RETRY_DELAY_MS,
                                       .max_held = HELD_MAX};
    for (bus_subscription *s = bus->subscriptions; s && rc == OMS_OK; s = s->next) {
        for (size_t i = 0; i < threads && rc == OMS_OK; i++) {
            pulsar_consumer_options o = {.type = PULSAR_KEY_SHARED,
                                         .max_redeliveries = bus->options.max_redeliveries,
                                         .dead_letter_topic = s->dlq_topic,
                                         .name_prefix = bus->service_name};
            bus_worker *w = &bus->workers[bus->n_workers];
            w->bus = bus;
            w->sub = s;
            w->order = key_order_create(&order_ops, w, &order_options);
            w->consumer = w->order ? pulsar_consumer_create(bus->client, s->topic, s->subscription, &o, err) : NULL;
            if (w->consumer) {
                bus->n_workers++;
            } else {
                key_order_destroy(w->order);
                w->order = NULL;
                rc = err->code != OMS_OK ? err->code : oms_error_set(err, OMS_ENOMEM, NULL, "pulsar: out of memory");
            }
        }
    }
    atomic_store(&bus->running, true);
    for (size_t i = 0; i < bus->n_workers && rc == OMS_OK; i++) {
        if (pthread_create(&bus->workers[i].thread, NULL, worker_main, &bus->workers[i]) != 0)
            rc = oms_error_set(err, OMS_ENOMEM, NULL, "pulsar: cannot start a consumer thread");
        else
            bus->workers[i].started = true;
    }
    if (rc != OMS_OK)
        stop_workers(bus);
    return rc;
}

static bool bus_healthy(oms_bus *b, char *why, size_t why_len)
{
    pulsar_bus *bus = self_of(b);
    if (!pulsar_client_connected(bus->client)) {
        snprintf(why, why_len, "pulsar broker not connected");
        return false;
    }
    for (size_t i = 0; i < bus->n_workers; i++) {
        if (bus->workers[i].consumer && !pulsar_consumer_connected(bus->workers[i].consumer)) {
            snprintf(why, why_len, "pulsar consumer of %s not attached", bus->workers[i].sub->topic);
            return false;
        }
    }
    return true;
}

static void bus_stop(oms_bus *b) { stop_workers(self_of(b)); }

static void bus_destroy(oms_bus *b)
{
    pulsar_bus *bus = self_of(b);
    stop_workers(bus);
    while (bus->producers) {
        topic_producer *tp = bus->producers;
        bus->producers = tp->next;
        oms_error ignored;
        pulsar_producer_flush(tp->producer, 5000, &ignored);
        pulsar_producer_close(tp->producer);
        free(tp);
    }
    while (bus->subscriptions) {
        bus_subscription *s = bus->subscriptions;
        bus->subscriptions = s->next;
        free(s);
    }
    pulsar_client_destroy(bus->client);
    pthread_mutex_destroy(&bus->mu);
    free(bus);
}

static const oms_bus_ops pulsar_bus_ops = {
    .publish = bus_publish,
    .subscribe = bus_subscribe,
    .start = bus_start,
    .healthy = bus_healthy,
    .stop = bus_stop,
    .destroy = bus_destroy,
};

/* PULSAR_URL is checked when the settings are loaded. */
static oms_err parse_url_setting(const char *value, void *target, oms_error *err)
{
    char host[256];
    int port;
    bool tls;
    if (value && pulsar_parse_url(value, host, sizeof host, &port, &tls) != OMS_OK)
        return oms_error_set(err, OMS_EINVAL, NULL, "must look like pulsar://host:port or pulsar+ssl://host:port");
    *(const char **)target = value;
    return OMS_OK;
}

void oms_bus_pulsar_settings_add(oms_settings *t, oms_bus_pulsar_settings *s)
{
    const oms_setting rows[] = {
        {.name = "PULSAR_HOST",
         .kind = OMS_SETTING_TEXT,
         .fallback = "localhost",
         .target = &s->host,
         .doc = "pulsar transport: the broker's host (plain TCP), unless PULSAR_URL is set."},
        {.name = "PULSAR_PORT",
         .kind = OMS_SETTING_INT,
         .fallback = "6650",
         .min = 1,
         .max = 65535,
         .target = &s->port,
         .doc = "pulsar transport: the broker's port, unless PULSAR_URL is set."},
        {.name = "PULSAR_URL",
         .kind = OMS_SETTING_PARSED,
         .parse = parse_url_setting,
         .bounds = "pulsar://host:port or pulsar+ssl://host:port",
         .target = &s->url,
         .doc = "pulsar transport: the broker's URL, pulsar+ssl:// for TLS; wins over PULSAR_HOST and PULSAR_PORT."},
        {.name = "PULSAR_AUTH_TOKEN_FILE",
         .kind = OMS_SETTING_TEXT,
         .target = &s->auth_token_file,
         .doc = "pulsar transport: a file holding the token (JWT) to authenticate with, read at every connect "
                "and when the broker asks for a fresh one."},
        {.name = "PULSAR_AUTH_TOKEN",
         .kind = OMS_SETTING_TEXT,
         .target = &s->auth_token,
         .flags = OMS_SETTING_SECRET,
         .doc = "pulsar transport: the token itself, when no PULSAR_AUTH_TOKEN_FILE is set."},
        {.name = "PULSAR_TLS_CA_FILE",
         .kind = OMS_SETTING_TEXT,
         .target = &s->tls_ca_file,
         .doc = "pulsar transport: the CA certificates (PEM) the broker's must chain to with pulsar+ssl://; "
                "unset: the system's."},
    };
    oms_settings_add(t, "pulsar", rows, sizeof rows / sizeof rows[0]);
}

/* The client for the settings; a file it cannot use is OMS_EINVAL naming
 * the setting. */
static pulsar_client *client_for(const oms_bus_pulsar_settings *s, oms_error *err)
{
    char host[256];
    int port = s->port;
    pulsar_client_options co = {
        .auth_token = s->auth_token, .auth_token_file = s->auth_token_file, .tls_ca_file = s->tls_ca_file};
    if (s->url && pulsar_parse_url(s->url, host, sizeof host, &port, &co.tls) != OMS_OK) {
        oms_error_set(err, OMS_EINVAL, "PULSAR_URL", "PULSAR_URL=%s: must look like pulsar://host:port", s->url);
        return NULL;
    }
    if (!s->url)
        snprintf(host, sizeof host, "%s", s->host && *s->host ? s->host : "localhost");
    pulsar_client *c = pulsar_client_create(host, port > 0 ? port : 6650, &co, err);
    if (!c && err->code == OMS_EINVAL) {
        const char *name = strcmp(err->field, "auth_token_file") == 0 ? "PULSAR_AUTH_TOKEN_FILE" : "PULSAR_TLS_CA_FILE";
        char message[sizeof err->message];
        snprintf(message, sizeof message, "%s", err->message);
        oms_error_set(err, OMS_EINVAL, name, "%s: %s", name, message);
    }
    return c;
}

oms_bus *oms_bus_pulsar_create(const oms_bus_pulsar_settings *s, const oms_bus_options *o, oms_error *err)
{
    pulsar_bus *bus = calloc(1, sizeof *bus);
    if (!bus) {
        oms_error_set(err, OMS_ENOMEM, NULL, "pulsar: out of memory");
        return NULL;
    }
    bus->options = (oms_bus_options){.max_redeliveries = OMS_BUS_DEFAULT_MAX_REDELIVERIES,
                                     .consumer_threads = OMS_BUS_DEFAULT_CONSUMER_THREADS,
                                     .batch_size = OMS_BUS_DEFAULT_BATCH_SIZE,
                                     .retry_base_delay_ms = OMS_BUS_DEFAULT_RETRY_BASE_DELAY_MS};
    if (o) {
        if (o->batch_size > 0)
            bus->options.batch_size = o->batch_size;
        if (o->max_redeliveries > 0)
            bus->options.max_redeliveries = o->max_redeliveries;
        if (o->consumer_threads > 0)
            bus->options.consumer_threads = o->consumer_threads;
        if (o->retry_base_delay_ms > 0)
            bus->options.retry_base_delay_ms = o->retry_base_delay_ms;
    }
    snprintf(bus->service_name, sizeof bus->service_name, "%s", o && o->service_name ? o->service_name : "oms");
    bus->options.service_name = bus->service_name;
    pthread_mutex_init(&bus->mu, NULL);
    atomic_init(&bus->running, false);
    bus->client = client_for(s, err);
    if (!bus->client) {
        pthread_mutex_destroy(&bus->mu);
        free(bus);
        return NULL;
    }
    bus->published = oms_metrics_counter("bus_pulsar_published_total", "Messages published and stored by Pulsar.",
                                         NULL);
    bus->publish_seconds = oms_metrics_histogram("bus_pulsar_publish_seconds",
                                                 "Publish calls until every receipt came.", NULL);
    static const char *const dispositions[3] = {"disposition=\"ack\"", "disposition=\"retry\"", "disposition=\"dead\""};
    for (int i = 0; i < 3; i++)
        bus->handled[i] = oms_metrics_counter("bus_pulsar_handled_total", "Messages handled, by disposition.",
                                              dispositions[i]);
    bus->handle_seconds = oms_metrics_histogram("bus_pulsar_handle_seconds", "Handler duration.", NULL);
    bus->bus.ops = &pulsar_bus_ops;
    bus->bus.self = bus;
    return &bus->bus;
}
