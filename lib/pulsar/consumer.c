/* consumer.c -- SUBSCRIBE, FLOW permits, MESSAGE parsing (single messages
 * and the batches the official clients send), individual ACK, negative ACK
 * through REDELIVER_UNACKNOWLEDGED_MESSAGES after a delay, and dead-lettering.
 *
 * Permits count messages: one is given back for every message the
 * application takes from the queue and for every message dropped here (acked
 * already according to ack_set, corrupt), and a FLOW goes out once half the
 * queue size is owed. A batch is acknowledged as one entry once every message
 * of it is resolved; if any was negatively acknowledged, or could not be
 * kept (no memory), the whole entry is redelivered instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oms/log.h"
#include "oms/util.h"
#include "pulsar/internal.h"

#define DEFAULT_QUEUE_SIZE 1000
#define DEFAULT_MAX_REDELIVERIES 5
#define CLOSE_TIMEOUT_MS 5000
/* Acknowledgements are grouped like the official clients do: one ACK command
 * carries up to this many ids, sent when full or at the next tick (<= 20 ms). */
#define ACK_GROUP_MAX 1000
#define ACK_PENDING_MAX 100000
/* An entry with a message that could not be allocated comes back after this. */
#define OUT_OF_MEMORY_RETRY_MS 1000

typedef struct batch_tracker {
    atomic_int refs;       /* messages of the batch still allocated */
    atomic_int unresolved; /* messages delivered and not yet acked or nacked */
    atomic_bool nacked;
    atomic_int nack_delay_ms;
    uint64_t ledger, entry;
} batch_tracker;

typedef struct consumer_message {
    pulsar_message pub; /* first: the public message is its container */
    pulsar_consumer *consumer;
    batch_tracker *batch;
    bool resolved;
    int compression; /* not NONE: payload is the undecoded entry */
    struct consumer_message *next;
    char data[]; /* key NUL payload NUL */
} consumer_message;

typedef struct nack_entry {
    uint64_t ledger, entry;
    int64_t due_ms;
} nack_entry;

typedef struct ack_entry {
    uint64_t ledger, entry;
} ack_entry;

struct pulsar_consumer {
    pulsar_handle h; /* first: a handle is its consumer */
    pthread_mutex_t mu;
    pthread_cond_t cond; /* messages queued, close */
    char subscription[256];
    char name[128];
    pulsar_subscription_type type;
    uint32_t queue_size;
    int max_redeliveries;
    bool has_dlq;
    char dlq_topic[PULSAR_TOPIC_MAX];
    consumer_message *head, *tail;
    uint32_t permits_owed;
    pulsar_conn *conn;
    uint64_t generation;
    uint64_t session; /* attachments so far; messages carry the one they came in */
    nack_entry *nacks;
    size_t n_nacks, cap_nacks;
    ack_entry *acks; /* grouped, not yet sent */
    size_t n_acks, cap_acks;
    bool closed;
    pthread_mutex_t dlq_mu;
    pulsar_producer *dlq;
};

static consumer_message *container(pulsar_message *m) { return (consumer_message *)m; }

/* ---- commands to the broker */
static void current_conn(pulsar_consumer *c, pulsar_conn **conn, uint64_t *generation)
{
    pthread_mutex_lock(&c->mu);
    *conn = c->conn;
    *generation = c->generation;
    pthread_mutex_unlock(&c->mu);
}

static void send_flow(pulsar_consumer *c, pulsar_conn *conn, uint64_t generation, uint32_t permits)
{
    if (!conn || !permits)
        return;
    Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
    Pulsar__CommandFlow flow = PULSAR__COMMAND_FLOW__INIT;
    cmd.type = PULSAR__BASE_COMMAND__TYPE__FLOW;
    cmd.flow = &flow;
    flow.consumer_id = c->h.id;
    flow.messagepermits = permits;
    pulsar_conn_send_command(conn, generation, &cmd);
}

/* Counts permits the broker may have back; sends FLOW when half the queue. */
static void give_permits(pulsar_consumer *c, uint32_t n)
{
    pthread_mutex_lock(&c->mu);
    c->permits_owed += n;
    uint32_t permits = 0;
    if (c->permits_owed >= c->queue_size / 2) {
        permits = c->permits_owed;
        c->permits_owed = 0;
    }
    pulsar_conn *conn = c->conn;
    uint64_t generation = c->generation;
    pthread_mutex_unlock(&c->mu);
    send_flow(c, conn, generation, permits);
}

/* One ACK command for ids[0..n). */
static oms_err send_ack_command(pulsar_consumer *c, pulsar_conn *conn, uint64_t generation, const ack_entry *ids,
                                size_t n, int validation_error)
{
    Pulsar__MessageIdData *data = calloc(n, sizeof *data);
    Pulsar__MessageIdData **ptrs = calloc(n, sizeof *ptrs);
    oms_err rc = OMS_ENOMEM;
    if (data && ptrs) {
        for (size_t i = 0; i < n; i++) {
            pulsar__message_id_data__init(&data[i]);
            data[i].ledgerid = ids[i].ledger;
            data[i].entryid = ids[i].entry;
            ptrs[i] = &data[i];
        }
        Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
        Pulsar__CommandAck ack = PULSAR__COMMAND_ACK__INIT;
        cmd.type = PULSAR__BASE_COMMAND__TYPE__ACK;
        cmd.ack = &ack;
        ack.consumer_id = c->h.id;
        ack.ack_type = PULSAR__COMMAND_ACK__ACK_TYPE__Individual;
        ack.n_message_id = n;
        ack.message_id = ptrs;
        if (validation_error >= 0) {
            ack.has_validation_error = true;
            ack.validation_error = (Pulsar__CommandAck__ValidationError)validation_error;
        }
        rc = pulsar_conn_send_command(conn, generation, &cmd);
    }
    free(data);
    free(ptrs);
    return rc;
}

/* Sends the grouped acknowledgements (kept while not connected). */
static void flush_acks(pulsar_consumer *c)
{
    pthread_mutex_lock(&c->mu);
    ack_entry *acks = NULL;
    size_t n = 0;
    pulsar_conn *conn = c->conn;
    uint64_t generation = c->generation;
    if (conn && c->n_acks && pulsar_conn_generation(conn) == generation) {
        acks = c->acks;
        n = c->n_acks;
        c->acks = NULL;
        c->n_acks = c->cap_acks = 0;
    }
    pthread_mutex_unlock(&c->mu);
    for (size_t done = 0; done < n; done += ACK_GROUP_MAX) {
        size_t chunk = n - done < ACK_GROUP_MAX ? n - done : ACK_GROUP_MAX;
        send_ack_command(c, conn, generation, acks + done, chunk, -1);
    }
    free(acks);
}

static oms_err send_ack(pulsar_consumer *c, uint64_t ledger, uint64_t entry, int validation_error)
{
    if (validation_error >= 0) {
        pulsar_conn *conn;
        uint64_t generation;
        current_conn(c, &conn, &generation);
        return conn ? send_ack_command(c, conn, generation, &(ack_entry){ledger, entry}, 1, validation_error)
                    : OMS_EUNAVAILABLE;
    }
    pthread_mutex_lock(&c->mu);
    if (c->n_acks == c->cap_acks && c->cap_acks < ACK_PENDING_MAX) {
        size_t cap = c->cap_acks ? c->cap_acks * 2 : 256;
        ack_entry *grown = realloc(c->acks, cap * sizeof *grown);
        if (grown) {
            c->acks = grown;
            c->cap_acks = cap;
        }
    }
    bool stored = c->n_acks < c->cap_acks;
    if (stored)
        c->acks[c->n_acks++] = (ack_entry){ledger, entry};
    bool full = c->n_acks >= ACK_GROUP_MAX;
    pthread_mutex_unlock(&c->mu);
    if (full)
        flush_acks(c);
    /* Not stored (no memory): the broker redelivers it; at least once. */
    return stored ? OMS_OK : OMS_ENOMEM;
}

static void send_redeliver(pulsar_consumer *c, const nack_entry *entries, size_t n)
{
    pulsar_conn *conn;
    uint64_t generation;
    current_conn(c, &conn, &generation);
    if (!conn || n == 0)
        return;
    Pulsar__MessageIdData *ids = calloc(n, sizeof *ids);
    Pulsar__MessageIdData **ptrs = calloc(n, sizeof *ptrs);
    if (ids && ptrs) {
        for (size_t i = 0; i < n; i++) {
            pulsar__message_id_data__init(&ids[i]);
            ids[i].ledgerid = entries[i].ledger;
            ids[i].entryid = entries[i].entry;
            ptrs[i] = &ids[i];
        }
        Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
        Pulsar__CommandRedeliverUnacknowledgedMessages r = PULSAR__COMMAND_REDELIVER_UNACKNOWLEDGED_MESSAGES__INIT;
        cmd.type = PULSAR__BASE_COMMAND__TYPE__REDELIVER_UNACKNOWLEDGED_MESSAGES;
        cmd.redeliverunacknowledgedmessages = &r;
        r.consumer_id = c->h.id;
        r.n_message_ids = n;
        r.message_ids = ptrs;
        pulsar_conn_send_command(conn, generation, &cmd);
    }
    free(ids);
    free(ptrs);
}

static void add_nack(pulsar_consumer *c, uint64_t ledger, uint64_t entry, int delay_ms)
{
    pthread_mutex_lock(&c->mu);
    if (c->n_nacks == c->cap_nacks) {
        size_t cap = c->cap_nacks ? c->cap_nacks * 2 : 64;
        nack_entry *grown = realloc(c->nacks, cap * sizeof *grown);
        if (grown) {
            c->nacks = grown;
            c->cap_nacks = cap;
        }
    }
    bool stored = c->n_nacks < c->cap_nacks;
    if (stored)
        c->nacks[c->n_nacks++] = (nack_entry){ledger, entry, pulsar_now_ms() + delay_ms};
    pthread_mutex_unlock(&c->mu);
    if (!stored) /* out of memory: redeliver now rather than never */
        send_redeliver(c, &(nack_entry){ledger, entry, 0}, 1);
}

void pulsar_consumer_tick(pulsar_handle *h, int64_t now_ms)
{
    pulsar_consumer *c = (pulsar_consumer *)h;
    nack_entry due[256];
    size_t n = 0;
    pthread_mutex_lock(&c->mu);
    size_t kept = 0;
    for (size_t i = 0; i < c->n_nacks; i++) {
        if (c->nacks[i].due_ms <= now_ms && n < 256)
            due[n++] = c->nacks[i];
        else
            c->nacks[kept++] = c->nacks[i];
    }
    c->n_nacks = kept;
    pthread_mutex_unlock(&c->mu);
    send_redeliver(c, due, n);
    flush_acks(c);
}

/* ---- incoming messages (I/O thread) */
static consumer_message *new_message(pulsar_consumer *c, const Pulsar__CommandMessage *m, const char *key,
                                     size_t key_len, const uint8_t *payload, size_t payload_len)
{
    if (payload_len > SIZE_MAX / 2 || key_len > SIZE_MAX / 4)
        return NULL;
    consumer_message *msg = malloc(sizeof *msg + key_len + 1 + payload_len + 1);
    if (!msg)
        return NULL;
    memset(msg, 0, sizeof *msg);
    char *k = msg->data;
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    char *p = k + key_len + 1;
    if (payload_len)
        memcpy(p, payload, payload_len);
    p[payload_len] = '\0';
    msg->consumer = c;
    msg->pub.key = k;
    msg->pub.payload = p;
    msg->pub.payload_len = payload_len;
    msg->pub.topic = c->h.topic;
    msg->pub.redelivery_count = m->has_redelivery_count ? m->redelivery_count : 0;
    msg->pub.id.ledger = m->message_id->ledgerid;
    msg->pub.id.entry = m->message_id->entryid;
    msg->pub.id.batch_index = -1;
    return msg;
}

static void key_of(const char *partition_key, const ProtobufCBinaryData *ordering_key, bool has_ordering_key,
                   const char **key, size_t *len)
{
    if (partition_key) {
        *key = partition_key;
        *len = strlen(partition_key);
    } else if (has_ordering_key) {
        *key = (const char *)ordering_key->data;
        *len = ordering_key->len;
    } else {
        *key = "";
        *len = 0;
    }
}

static void enqueue(pulsar_consumer *c, consumer_message *first, consumer_message *last)
{
    pthread_mutex_lock(&c->mu);
    for (consumer_message *m = first; m; m = m->next)
        m->pub.session = c->session;
    if (c->tail)
        c->tail->next = first;
    else
        c->head = first;
    c->tail = last;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

static void discard_entry(pulsar_consumer *c, const Pulsar__CommandMessage *m, int validation_error, uint32_t permits,
                          const char *why)
{
    char id[64];
    snprintf(id, sizeof id, "%llu:%llu", (unsigned long long)m->message_id->ledgerid,
             (unsigned long long)m->message_id->entryid);
    oms_log(OMS_LOG_ERROR, "pulsar_message_discarded", "topic", c->h.topic, "message_id", id, "reason", why, NULL);
    send_ack(c, m->message_id->ledgerid, m->message_id->entryid, validation_error);
    give_permits(c, permits);
}

static void deliver_batch(pulsar_consumer *c, const Pulsar__CommandMessage *m, const Pulsar__MessageMetadata *md,
                          const pulsar_frame *frame)
{
    size_t count = (size_t)(md->num_messages_in_batch > 0 ? md->num_messages_in_batch : 0);
    pulsar_batch_item *items = count && count <= PULSAR_MAX_BATCH_MESSAGES ? calloc(count, sizeof *items) : NULL;
    if (!items ||
        pulsar_batch_parse(frame->payload, frame->payload_len, count, m->ack_set, m->n_ack_set, items) != OMS_OK) {
        free(items);
        discard_entry(c, m, PULSAR__COMMAND_ACK__VALIDATION_ERROR__BatchDeSerializeError, count ? (uint32_t)count : 1,
                      "batch does not parse");
        return;
    }
    batch_tracker *t = calloc(1, sizeof *t);
    consumer_message *first = NULL, *last = NULL;
    uint32_t dropped = 0;
    int delivered = 0;
    /* A message that could not be kept must come back: the entry is then
     * redelivered, never acknowledged, once the others are resolved. */
    bool lost = false;
    for (size_t i = 0; i < count; i++) {
        if (items[i].acknowledged) {
            dropped++;
            continue;
        }
        consumer_message *msg = NULL;
        if (t) {
            const char *key;
            size_t key_len;
            key_of(items[i].meta->partition_key, &items[i].meta->ordering_key, items[i].meta->has_ordering_key, &key,
                   &key_len);
            msg = new_message(c, m, key, key_len, items[i].payload, items[i].payload_len);
        }
        if (!msg) {
            dropped++;
            lost = true;
            continue;
        }
        msg->pub.id.batch_index = items[i].index;
        msg->pub.publish_time_ms = md->publish_time;
        msg->batch = t;
        delivered++;
        if (last)
            last->next = msg;
        else
            first = msg;
        last = msg;
    }
    pulsar_batch_free(items, count);
    free(items);
    if (lost)
        oms_log(OMS_LOG_ERROR, "pulsar_out_of_memory", "topic", c->h.topic, "action",
                "the batch entry will be redelivered", NULL);
    if (t) {
        atomic_init(&t->refs, delivered);
        atomic_init(&t->unresolved, delivered);
        atomic_init(&t->nacked, lost);
        atomic_init(&t->nack_delay_ms, lost ? OUT_OF_MEMORY_RETRY_MS : 0);
        t->ledger = m->message_id->ledgerid;
        t->entry = m->message_id->entryid;
    }
    if (delivered == 0) {
        free(t);
        if (lost)
            add_nack(c, m->message_id->ledgerid, m->message_id->entryid, OUT_OF_MEMORY_RETRY_MS);
    }
    if (first)
        enqueue(c, first, last);
    if (dropped)
        give_permits(c, dropped);
}

void pulsar_consumer_on_message(pulsar_handle *h, pulsar_conn *conn, const Pulsar__CommandMessage *m,
                                const pulsar_frame *frame)
{
    pulsar_consumer *c = (pulsar_consumer *)h;
    if (!frame->has_payload || !m->message_id) {
        pulsar_conn_fail(conn, "MESSAGE without payload");
        return;
    }
    if (!frame->checksum_ok) {
        oms_log(OMS_LOG_WARN, "pulsar_checksum_mismatch", "topic", h->topic, NULL);
        send_redeliver(c, &(nack_entry){m->message_id->ledgerid, m->message_id->entryid, 0}, 1);
        give_permits(c, 1);
        return;
    }
    Pulsar__MessageMetadata *md = pulsar__message_metadata__unpack(NULL, frame->metadata_len, frame->metadata);
    if (!md) {
        discard_entry(c, m, PULSAR__COMMAND_ACK__VALIDATION_ERROR__BatchDeSerializeError, 1,
                      "message metadata does not parse");
        return;
    }
    bool compressed = md->has_compression && md->compression != PULSAR__COMPRESSION_TYPE__NONE;
    if (md->has_num_messages_in_batch && !compressed) {
        deliver_batch(c, m, md, frame);
    } else {
        const char *key;
        size_t key_len;
        key_of(md->partition_key, &md->ordering_key, md->has_ordering_key, &key, &key_len);
        consumer_message *msg = new_message(c, m, key, key_len, frame->payload, frame->payload_len);
        if (msg) {
            msg->pub.publish_time_ms = md->publish_time;
            msg->compression = compressed ? (int)md->compression : 0;
            enqueue(c, msg, msg);
        } else {
            oms_log(OMS_LOG_ERROR, "pulsar_out_of_memory", "topic", c->h.topic, "action",
                    "the message will be redelivered", NULL);
            add_nack(c, m->message_id->ledgerid, m->message_id->entryid, OUT_OF_MEMORY_RETRY_MS);
        }
        uint32_t extra = md->has_num_messages_in_batch && md->num_messages_in_batch > 1
                             ? (uint32_t)md->num_messages_in_batch - 1
                             : 0;
        if (!msg || extra)
            give_permits(c, msg ? extra : extra + 1);
    }
    pulsar__message_metadata__free_unpacked(md, NULL);
}

/* ---- the application's side */
static void resolve_batch(pulsar_consumer *c, batch_tracker *t, bool nacked, int delay_ms)
{
    if (nacked) {
        atomic_store(&t->nacked, true);
        int old = atomic_load(&t->nack_delay_ms);
        while (old < delay_ms && !atomic_compare_exchange_weak(&t->nack_delay_ms, &old, delay_ms)) {
        }
    }
    if (atomic_fetch_sub(&t->unresolved, 1) != 1)
        return;
    if (atomic_load(&t->nacked))
        add_nack(c, t->ledger, t->entry, atomic_load(&t->nack_delay_ms));
    else
        send_ack(c, t->ledger, t->entry, -1);
}

oms_err pulsar_consumer_ack(pulsar_consumer *c, pulsar_message *pub)
{
    consumer_message *m = container(pub);
    if (m->resolved)
        return OMS_OK;
    m->resolved = true;
    if (m->batch) {
        resolve_batch(c, m->batch, false, 0);
        return OMS_OK;
    }
    return send_ack(c, pub->id.ledger, pub->id.entry, -1);
}

oms_err pulsar_consumer_nack(pulsar_consumer *c, pulsar_message *pub, int delay_ms)
{
    consumer_message *m = container(pub);
    if (m->resolved)
        return OMS_OK;
    if (c->has_dlq && pub->redelivery_count >= (uint32_t)c->max_redeliveries &&
        pulsar_consumer_dead_letter(c, pub, "max redeliveries reached") == OMS_OK)
        return OMS_OK;
    m->resolved = true;
    if (m->batch)
        resolve_batch(c, m->batch, true, delay_ms);
    else
        add_nack(c, pub->id.ledger, pub->id.entry, delay_ms);
    return OMS_OK;
}

static pulsar_producer *dead_letter_producer(pulsar_consumer *c, oms_error *err)
{
    pthread_mutex_lock(&c->dlq_mu);
    if (!c->dlq)
        c->dlq = pulsar_producer_create(c->h.client, c->dlq_topic, NULL, err);
    pulsar_producer *p = c->dlq;
    pthread_mutex_unlock(&c->dlq_mu);
    return p;
}

oms_err pulsar_consumer_dead_letter(pulsar_consumer *c, pulsar_message *pub, const char *reason)
{
    consumer_message *m = container(pub);
    if (m->resolved)
        return OMS_OK;
    if (!c->has_dlq)
        return OMS_EINVAL;
    oms_error err;
    oms_error_clear(&err);
    pulsar_producer *p = dead_letter_producer(c, &err);
    if (!p) {
        oms_log(OMS_LOG_ERROR, "pulsar_dead_letter_failed", "topic", c->dlq_topic, "error", err.message, NULL);
        return OMS_EUNAVAILABLE;
    }
    char id[80];
    snprintf(id, sizeof id, "%llu:%llu:%d", (unsigned long long)pub->id.ledger, (unsigned long long)pub->id.entry,
             pub->id.batch_index);
    pulsar_property props[4] = {{"REAL_TOPIC", c->h.topic},
                                {"REAL_SUBSCRIPTION", c->subscription},
                                {"ORIGIN_MESSAGE_ID", id},
                                {"REASON", reason ? reason : ""}};
    oms_err rc = pulsar_producer_send(p, pub->key, pub->payload, pub->payload_len, props, 4, 0, NULL, &err);
    if (rc != OMS_OK) {
        oms_log(OMS_LOG_ERROR, "pulsar_dead_letter_failed", "topic", c->dlq_topic, "error", err.message, NULL);
        return rc;
    }
    oms_log(OMS_LOG_WARN, "pulsar_dead_lettered", "topic", c->h.topic, "message_id", id, "reason", reason ? reason : "",
            NULL);
    /* Stored in the DLQ: if the ack is lost the broker redelivers it and it
     * is dead-lettered again (at least once). */
    pulsar_consumer_ack(c, pub);
    return OMS_OK;
}

/* A compressed entry cannot be decoded here: dead-letter it as it is (or,
 * without a DLQ, nack it and say so). */
static void handle_undecodable(pulsar_consumer *c, consumer_message *m)
{
    char reason[96];
    snprintf(reason, sizeof reason, "compression type %d is not supported by this client", m->compression);
    oms_log(OMS_LOG_ERROR, "pulsar_compressed_message", "topic", c->h.topic, "reason", reason, NULL);
    if (pulsar_consumer_dead_letter(c, &m->pub, reason) != OMS_OK)
        pulsar_consumer_nack(c, &m->pub, 1000);
    pulsar_message_free(&m->pub);
}

oms_err pulsar_consumer_receive(pulsar_consumer *c, int timeout_ms, pulsar_message **out)
{
    int64_t deadline = pulsar_now_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        while (!c->head && !c->closed && pulsar_now_ms() < deadline)
            pulsar_cond_wait_until(&c->cond, &c->mu, deadline);
        consumer_message *m = c->closed ? NULL : c->head;
        if (m) {
            c->head = m->next;
            if (!c->head)
                c->tail = NULL;
            m->next = NULL;
        }
        bool closed = c->closed;
        pthread_mutex_unlock(&c->mu);
        if (!m)
            return closed ? OMS_EUNAVAILABLE : OMS_ETIMEOUT;
        give_permits(c, 1);
        if (!m->compression) {
            *out = &m->pub;
            return OMS_OK;
        }
        handle_undecodable(c, m);
    }
}

void pulsar_message_free(pulsar_message *pub)
{
    if (!pub)
        return;
    consumer_message *m = container(pub);
    if (m->batch && atomic_fetch_sub(&m->batch->refs, 1) == 1)
        free(m->batch);
    free(m);
}

uint64_t pulsar_consumer_session(pulsar_consumer *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t session = c->session;
    pthread_mutex_unlock(&c->mu);
    return session;
}

bool pulsar_consumer_connected(pulsar_consumer *c)
{
    pulsar_conn *conn;
    uint64_t generation;
    current_conn(c, &conn, &generation);
    return conn && pulsar_conn_generation(conn) == generation;
}

void pulsar_consumer_on_detached(pulsar_handle *h)
{
    pulsar_consumer *c = (pulsar_consumer *)h;
    pthread_mutex_lock(&c->mu);
    c->conn = NULL;
    pthread_mutex_unlock(&c->mu);
}

/* ---- attach (worker thread) */
static void drop_queue(pulsar_consumer *c)
{
    pthread_mutex_lock(&c->mu);
    consumer_message *m = c->head;
    c->head = c->tail = NULL;
    c->permits_owed = 0;
    c->conn = NULL;
    pthread_mutex_unlock(&c->mu);
    while (m) {
        consumer_message *next = m->next;
        pulsar_message_free(&m->pub);
        m = next;
    }
}

oms_err pulsar_consumer_attach(pulsar_handle *h, pulsar_conn *conn, uint64_t generation, oms_error *err)
{
    pulsar_consumer *c = (pulsar_consumer *)h;
    /* What was queued from the last session is redelivered by the broker. */
    drop_queue(c);
    Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
    Pulsar__CommandSubscribe sub = PULSAR__COMMAND_SUBSCRIBE__INIT;
    Pulsar__KeySharedMeta ks = PULSAR__KEY_SHARED_META__INIT;
    cmd.type = PULSAR__BASE_COMMAND__TYPE__SUBSCRIBE;
    cmd.subscribe = &sub;
    sub.topic = h->topic;
    sub.subscription = c->subscription;
    sub.subtype = c->type == PULSAR_KEY_SHARED ? PULSAR__COMMAND_SUBSCRIBE__SUB_TYPE__Key_Shared
                                               : PULSAR__COMMAND_SUBSCRIBE__SUB_TYPE__Shared;
    sub.consumer_id = h->id;
    sub.request_id = pulsar_client_next_request_id(h->client);
    sub.consumer_name = c->name;
    sub.has_durable = true;
    sub.durable = true;
    sub.has_initialposition = true;
    sub.initialposition = PULSAR__COMMAND_SUBSCRIBE__INITIAL_POSITION__Earliest;
    if (c->type == PULSAR_KEY_SHARED) {
        ks.keysharedmode = PULSAR__KEY_SHARED_META__KEY_SHARED_MODE__AUTO_SPLIT;
        sub.keysharedmeta = &ks;
    }
    Pulsar__BaseCommand *resp = NULL;
    oms_err rc = pulsar_conn_request(conn, sub.request_id, &cmd, pulsar_client_operation_timeout(h->client), &resp,
                                     err);
    if (rc != OMS_OK)
        return rc;
    pulsar__base_command__free_unpacked(resp, NULL);
    pthread_mutex_lock(&c->mu);
    c->conn = conn;
    c->generation = generation;
    c->session++;
    pthread_mutex_unlock(&c->mu);
    send_flow(c, conn, generation, c->queue_size);
    return OMS_OK;
}

pulsar_consumer *pulsar_consumer_create(pulsar_client *client, const char *topic, const char *subscription,
                                        const pulsar_consumer_options *o, oms_error *err)
{
    pulsar_consumer *c = calloc(1, sizeof *c);
    if (!c) {
        oms_error_set(err, OMS_ENOMEM, NULL, "pulsar: out of memory");
        return NULL;
    }
    c->h.kind = PULSAR_HANDLE_CONSUMER;
    c->h.id = pulsar_client_next_id(client);
    pulsar_topic_full_name(topic, c->h.topic, sizeof c->h.topic);
    snprintf(c->subscription, sizeof c->subscription, "%s", subscription);
    char uuid[OMS_UUID_LEN + 1];
    oms_uuid_new(uuid);
    snprintf(c->name, sizeof c->name, "%s-%s", o && o->name_prefix ? o->name_prefix : "oms-c", uuid);
    c->type = o ? o->type : PULSAR_SHARED;
    c->queue_size = o && o->receiver_queue_size ? o->receiver_queue_size : DEFAULT_QUEUE_SIZE;
    if (c->queue_size < 2)
        c->queue_size = 2;
    c->max_redeliveries = o && o->max_redeliveries > 0 ? o->max_redeliveries : DEFAULT_MAX_REDELIVERIES;
    if (o && o->dead_letter_topic) {
        c->has_dlq = true;
        pulsar_topic_full_name(o->dead_letter_topic, c->dlq_topic, sizeof c->dlq_topic);
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->dlq_mu, NULL);
    pulsar_cond_init(&c->cond);
    if (pulsar_handle_open(client, &c->h, err) != OMS_OK) {
        drop_queue(c);
        pthread_mutex_destroy(&c->mu);
        pthread_mutex_destroy(&c->dlq_mu);
        pthread_cond_destroy(&c->cond);
        free(c);
        return NULL;
    }
    return c;
}

void pulsar_consumer_close(pulsar_consumer *c)
{
    if (!c)
        return;
    flush_acks(c);
    pthread_mutex_lock(&c->mu);
    c->closed = true;
    pulsar_conn *conn = c->conn;
    uint64_t generation = c->generation;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    if (conn && pulsar_conn_generation(conn) == generation) {
        Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
        Pulsar__CommandCloseConsumer close_cmd = PULSAR__COMMAND_CLOSE_CONSUMER__INIT;
        cmd.type = PULSAR__BASE_COMMAND__TYPE__CLOSE_CONSUMER;
        cmd.close_consumer = &close_cmd;
        close_cmd.consumer_id = c->h.id;
        close_cmd.request_id = pulsar_client_next_request_id(c->h.client);
        Pulsar__BaseCommand *resp = NULL;
        oms_error ignored;
        if (pulsar_conn_request(conn, close_cmd.request_id, &cmd, CLOSE_TIMEOUT_MS, &resp, &ignored) == OMS_OK)
            pulsar__base_command__free_unpacked(resp, NULL);
    }
    pulsar_handle_unregister(&c->h);
    drop_queue(c);
    pulsar_producer_close(c->dlq);
    free(c->nacks);
    free(c->acks);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->dlq_mu);
    pthread_cond_destroy(&c->cond);
    free(c);
}
