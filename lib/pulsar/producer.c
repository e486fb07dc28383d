/* producer.c -- PRODUCER/SEND/SEND_RECEIPT with a bounded queue of pending
 * sends. A send (one message, or one batch of messages with the same key) is
 * encoded once, with its sequence id, and kept until its receipt: after a
 * reconnect the whole queue is written again, in order, with the original
 * sequence ids. Receipts arrive in order; a receipt for a sequence id beyond
 * the head means the stream is out of step, and the connection is dropped to
 * resynchronise by resending. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "oms/log.h"
#include "oms/util.h"
#include "pulsar/internal.h"

#define DEFAULT_MAX_PENDING 10000
#define CLOSE_TIMEOUT_MS 5000
#define BATCH_MAX_BYTES (128 * 1024)
#define BATCH_DELAY_MS 10
#define MAX_PROPERTIES 16
#define MAX_OPEN_BATCHES 128

typedef struct send_callback {
    pulsar_send_callback cb;
    void *ctx;
} send_callback;

/* One SEND on the wire: a single message or a batch of n_messages. */
typedef struct pending_send {
    uint64_t sequence_id; /* the first message's */
    pulsar_buf frame;
    send_callback *callbacks; /* n_messages of them */
    size_t n_messages;
    struct pending_send *next;
} pending_send;

/* A batch being filled (batching on): one per key, like the official
 * clients' key-based batching, so each batch entry has one key. */
typedef struct open_batch {
    pulsar_buf payload;
    send_callback *callbacks;
    size_t count, cap;
    uint64_t first_sequence_id;
    char *key; /* NULL: no key */
    int64_t started_ms;
} open_batch;

struct pulsar_producer {
    pulsar_handle h; /* first: a handle is its producer */
    pthread_mutex_t mu;
    pthread_cond_t cond; /* room in the queue, receipts */
    char name[128];
    uint64_t next_sequence_id;
    pending_send *head, *tail;
    size_t n_pending; /* messages queued or in the open batch */
    size_t max_pending;
    bool fail_when_full;
    size_t batch_max;
    bool batch_by_key;
    open_batch batches[MAX_OPEN_BATCHES];
    size_t n_batches;
    uint64_t sends_enqueued;  /* SENDs queued so far; with sends_completed, */
    uint64_t sends_completed; /* what flush waits for (receipts come in queue order) */
    pulsar_conn *conn;        /* where SENDs go; with `generation`, NULL until attached */
    uint64_t generation;
    bool closed;
};

static uint64_t wall_clock_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static void free_pending(pending_send *s)
{
    pulsar_buf_free(&s->frame);
    free(s->callbacks);
    free(s);
}

static void complete_pending(pending_send *s, oms_err result, const pulsar_message_id *first)
{
    for (size_t i = 0; i < s->n_messages; i++) {
        if (!s->callbacks[i].cb)
            continue;
        pulsar_message_id id = first ? *first : (pulsar_message_id){0, 0, -1};
        if (first && s->n_messages > 1)
            id.batch_index = (int32_t)i;
        s->callbacks[i].cb(s->callbacks[i].ctx, result, first ? &id : NULL);
    }
}

/* ---- attach (worker thread) */
oms_err pulsar_producer_attach(pulsar_handle *h, pulsar_conn *conn, uint64_t generation, oms_error *err)
{
    pulsar_producer *p = (pulsar_producer *)h;
    Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
    Pulsar__CommandProducer producer = PULSAR__COMMAND_PRODUCER__INIT;
    cmd.type = PULSAR__BASE_COMMAND__TYPE__PRODUCER;
    cmd.producer = &producer;
    producer.topic = h->topic;
    producer.producer_id = h->id;
    producer.request_id = pulsar_client_next_request_id(h->client);
    producer.producer_name = p->name;
    Pulsar__BaseCommand *resp = NULL;
    oms_err rc = pulsar_conn_request(conn, producer.request_id, &cmd, pulsar_client_operation_timeout(h->client), &resp,
                                     err);
    if (rc != OMS_OK)
        return rc;
    pulsar__base_command__free_unpacked(resp, NULL);

    /* Everything still pending goes out again, in order, in one write. */
    pthread_mutex_lock(&p->mu);
    p->conn = conn;
    p->generation = generation;
    pulsar_buf all = {0};
    size_t resent = 0;
    for (pending_send *s = p->head; s && rc == OMS_OK; s = s->next, resent++)
        rc = pulsar_buf_append(&all, s->frame.data, s->frame.len);
    if (rc == OMS_OK && all.len)
        pulsar_conn_send(conn, generation, all.data, all.len);
    pthread_mutex_unlock(&p->mu);
    pulsar_buf_free(&all);
    if (rc != OMS_OK)
        return oms_error_set(err, rc, NULL, "pulsar: out of memory resending");
    if (resent)
        oms_log_num(OMS_LOG_INFO, "pulsar_producer_resent", "sends", (double)resent, "topic", h->topic, NULL);
    return OMS_OK;
}

void pulsar_producer_on_detached(pulsar_handle *h)
{
    pulsar_producer *p = (pulsar_producer *)h;
    pthread_mutex_lock(&p->mu);
    p->conn = NULL; /* new sends wait in the queue; the attach resends them */
    pthread_mutex_unlock(&p->mu);
}

/* ---- receipts (I/O thread) */
void pulsar_producer_on_receipt(pulsar_handle *h, pulsar_conn *conn, const Pulsar__CommandSendReceipt *r)
{
    pulsar_producer *p = (pulsar_producer *)h;
    pthread_mutex_lock(&p->mu);
    pending_send *s = p->head;
    if (!s || r->sequence_id != s->sequence_id) {
        /* Receipts come in the order of the queue: one for a later send means
         * the stream is out of step; one for no queued send is a duplicate. */
        bool later = false;
        for (pending_send *t = s; t && !later; t = t->next)
            later = t->sequence_id == r->sequence_id;
        pthread_mutex_unlock(&p->mu);
        if (later)
            pulsar_conn_fail(conn, "send receipt out of order");
        return;
    }
    p->head = s->next;
    if (!p->head)
        p->tail = NULL;
    p->n_pending -= s->n_messages;
    p->sends_completed++;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
    pulsar_message_id id = {0, 0, -1};
    if (r->message_id) {
        id.ledger = r->message_id->ledgerid;
        id.entry = r->message_id->entryid;
    }
    complete_pending(s, OMS_OK, &id);
    free_pending(s);
}

void pulsar_producer_on_send_error(pulsar_handle *h, pulsar_conn *conn, const Pulsar__CommandSendError *e)
{
    char seq[32];
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)e->sequence_id);
    oms_log(OMS_LOG_WARN, "pulsar_send_error", "topic", h->topic, "sequence_id", seq, "message", e->message, NULL);
    /* Reconnecting resends everything pending from the failed one on. */
    pulsar_conn_fail(conn, "send error");
}

/* ---- encoding */
static void set_key(Pulsar__MessageMetadata *md, const char *key)
{
    if (key && *key) {
        md->partition_key = (char *)key;
        md->has_ordering_key = true;
        md->ordering_key.data = (uint8_t *)key;
        md->ordering_key.len = strlen(key);
    }
}

static oms_err fill_properties(Pulsar__KeyValue *kv, Pulsar__KeyValue **kvp, const pulsar_property *props,
                               size_t n_props)
{
    if (n_props > MAX_PROPERTIES)
        return OMS_EINVAL;
    for (size_t i = 0; i < n_props; i++) {
        pulsar__key_value__init(&kv[i]);
        kv[i].key = (char *)props[i].key;
        kv[i].value = (char *)props[i].value;
        kvp[i] = &kv[i];
    }
    return OMS_OK;
}

/* The SEND frame of one message (batch == NULL) or of a batch of `count`. */
static oms_err encode_send(pulsar_producer *p, uint64_t sequence_id, size_t count, const char *key, const void *payload,
                           size_t len, const pulsar_property *props, size_t n_props, bool batch, pulsar_buf *out)
{
    Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
    Pulsar__CommandSend send = PULSAR__COMMAND_SEND__INIT;
    cmd.type = PULSAR__BASE_COMMAND__TYPE__SEND;
    cmd.send = &send;
    send.producer_id = p->h.id;
    send.sequence_id = sequence_id;
    Pulsar__MessageMetadata md = PULSAR__MESSAGE_METADATA__INIT;
    md.producer_name = p->name;
    md.sequence_id = sequence_id;
    md.publish_time = wall_clock_ms();
    set_key(&md, key);
    if (batch) {
        /* Only a batch carries num_messages_in_batch: its presence says "batch". */
        send.has_num_messages = true;
        send.num_messages = (int32_t)count;
        send.has_highest_sequence_id = true;
        send.highest_sequence_id = sequence_id + count - 1;
        md.has_num_messages_in_batch = true;
        md.num_messages_in_batch = (int32_t)count;
        md.has_highest_sequence_id = true;
        md.highest_sequence_id = sequence_id + count - 1;
    }
    Pulsar__KeyValue kv[MAX_PROPERTIES];
    Pulsar__KeyValue *kvp[MAX_PROPERTIES];
    if (fill_properties(kv, kvp, props, n_props) != OMS_OK)
        return OMS_EINVAL;
    md.n_properties = n_props;
    md.properties = kvp;
    return pulsar_frame_encode_message(out, &cmd, &md, payload, len);
}

/* ---- the queue (p->mu held) */
static bool same_key(const char *a, const char *b)
{
    if (!a || !*a)
        return !b || !*b;
    return b && strcmp(a, b) == 0;
}

static void enqueue_locked(pulsar_producer *p, pending_send *s)
{
    if (p->tail)
        p->tail->next = s;
    else
        p->head = s;
    p->tail = s;
    p->sends_enqueued++;
    if (p->conn) /* not connected: it goes out when the producer attaches */
        pulsar_conn_send(p->conn, p->generation, s->frame.data, s->frame.len);
}

/* Turns an open batch into a pending SEND. On failure (no memory) its
 * messages fail. */
static void send_batch_locked(pulsar_producer *p, open_batch *b)
{
    if (b->count == 0)
        return;
    pending_send *s = calloc(1, sizeof *s);
    oms_err rc = s ? encode_send(p, b->first_sequence_id, b->count, b->key, b->payload.data, b->payload.len, NULL, 0,
                                 true, &s->frame)
                   : OMS_ENOMEM;
    if (rc == OMS_OK) {
        s->sequence_id = b->first_sequence_id;
        s->callbacks = b->callbacks;
        s->n_messages = b->count;
        enqueue_locked(p, s);
    } else {
        oms_log(OMS_LOG_ERROR, "pulsar_batch_lost", "topic", p->h.topic, "reason", "out of memory", NULL);
        pending_send failed = {.callbacks = b->callbacks, .n_messages = b->count};
        complete_pending(&failed, OMS_ENOMEM, NULL);
        p->n_pending -= b->count;
        free(b->callbacks);
        if (s)
            free_pending(s);
    }
    free(b->key);
    pulsar_buf_free(&b->payload);
    memset(b, 0, sizeof *b);
}

/* Sends the open batches started before `older_than_ms` (INT64_MAX: all),
 * oldest first. */
static void close_batches_locked(pulsar_producer *p, int64_t older_than_ms)
{
    for (;;) {
        open_batch *oldest = NULL;
        for (size_t i = 0; i < p->n_batches; i++) {
            open_batch *b = &p->batches[i];
            if (b->count && b->started_ms < older_than_ms &&
                (!oldest || b->first_sequence_id < oldest->first_sequence_id))
                oldest = b;
        }
        if (!oldest)
            break;
        send_batch_locked(p, oldest);
    }
    size_t kept = 0;
    for (size_t i = 0; i < p->n_batches; i++) {
        if (p->batches[i].count)
            p->batches[kept++] = p->batches[i];
    }
    p->n_batches = kept;
}

static void close_batch_locked(pulsar_producer *p) { close_batches_locked(p, INT64_MAX); }

/* The open batch for `key`, a new one, or NULL when every slot is taken. */
static open_batch *batch_for_key(pulsar_producer *p, const char *key)
{
    if (!p->batch_by_key) {
        open_batch *b = &p->batches[0];
        if (p->n_batches == 0) {
            memset(b, 0, sizeof *b);
            p->n_batches = 1;
        }
        if (b->count && !same_key(b->key, key))
            send_batch_locked(p, b); /* publish order across keys */
        return b;
    }
    for (size_t i = 0; i < p->n_batches; i++) {
        if (p->batches[i].count && same_key(p->batches[i].key, key))
            return &p->batches[i];
    }
    for (size_t i = 0; i < p->n_batches; i++) {
        if (p->batches[i].count == 0)
            return &p->batches[i]; /* a slot whose batch was sent */
    }
    if (p->n_batches == MAX_OPEN_BATCHES)
        return NULL;
    open_batch *b = &p->batches[p->n_batches++];
    memset(b, 0, sizeof *b);
    return b;
}

static oms_err add_to_batch_locked(pulsar_producer *p, uint64_t sequence_id, const char *key, const void *payload,
                                   size_t len, const pulsar_property *props, size_t n_props, send_callback cb)
{
    open_batch *b = batch_for_key(p, key);
    if (!b) { /* more keys than slots: send them all and start again */
        close_batch_locked(p);
        b = batch_for_key(p, key);
    }
    if (b->count && b->payload.len + len > BATCH_MAX_BYTES)
        send_batch_locked(p, b);
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        send_callback *grown = realloc(b->callbacks, cap * sizeof *grown);
        if (!grown)
            return OMS_ENOMEM;
        b->callbacks = grown;
        b->cap = cap;
    }
    if (b->count == 0) {
        b->key = key && *key ? strdup(key) : NULL;
        if (key && *key && !b->key)
            return OMS_ENOMEM;
        b->first_sequence_id = sequence_id;
        b->started_ms = pulsar_now_ms();
    }
    Pulsar__SingleMessageMetadata m = PULSAR__SINGLE_MESSAGE_METADATA__INIT;
    m.payload_size = (int32_t)len;
    m.has_sequence_id = true;
    m.sequence_id = sequence_id;
    if (key && *key) {
        m.partition_key = (char *)key;
        m.has_ordering_key = true;
        m.ordering_key.data = (uint8_t *)key;
        m.ordering_key.len = strlen(key);
    }
    Pulsar__KeyValue kv[MAX_PROPERTIES];
    Pulsar__KeyValue *kvp[MAX_PROPERTIES];
    if (fill_properties(kv, kvp, props, n_props) != OMS_OK)
        return OMS_EINVAL;
    m.n_properties = n_props;
    m.properties = kvp;
    oms_err rc = pulsar_batch_append(&b->payload, &m, payload, len);
    if (rc != OMS_OK)
        return rc;
    b->callbacks[b->count++] = cb;
    if (b->count >= p->batch_max)
        send_batch_locked(p, b); /* its slot is reused by the key's next message */
    return OMS_OK;
}

static oms_err add_single_locked(pulsar_producer *p, uint64_t sequence_id, const char *key, const void *payload,
                                 size_t len, const pulsar_property *props, size_t n_props, send_callback cb)
{
    pending_send *s = calloc(1, sizeof *s);
    send_callback *cbs = malloc(sizeof *cbs);
    oms_err rc = s && cbs ? encode_send(p, sequence_id, 1, key, payload, len, props, n_props, false, &s->frame)
                          : OMS_ENOMEM;
    if (rc != OMS_OK) {
        free(cbs);
        if (s)
            free_pending(s);
        return rc;
    }
    cbs[0] = cb;
    s->sequence_id = sequence_id;
    s->callbacks = cbs;
    s->n_messages = 1;
    enqueue_locked(p, s);
    return OMS_OK;
}

/* ---- sending */
static oms_err send_locked(pulsar_producer *p, const char *key, const void *payload, size_t len,
                           const pulsar_property *props, size_t n_props, send_callback cb, oms_error *err)
{
    while (!p->closed && p->n_pending >= p->max_pending && !p->fail_when_full) {
        close_batch_locked(p); /* a full queue must be able to drain */
        pthread_cond_wait(&p->cond, &p->mu);
    }
    if (p->closed)
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "pulsar: producer closed");
    if (p->n_pending >= p->max_pending)
        return oms_error_set(err, OMS_EBUSY, NULL, "pulsar: %zu sends pending", p->n_pending);
    uint64_t sequence_id = p->next_sequence_id;
    oms_err rc = p->batch_max > 1 ? add_to_batch_locked(p, sequence_id, key, payload, len, props, n_props, cb)
                                  : add_single_locked(p, sequence_id, key, payload, len, props, n_props, cb);
    if (rc != OMS_OK)
        return oms_error_set(err, rc, NULL, "pulsar: cannot encode the message");
    p->next_sequence_id++;
    p->n_pending++;
    return OMS_OK;
}

oms_err pulsar_producer_send_async(pulsar_producer *p, const char *key, const void *payload, size_t len,
                                   const pulsar_property *props, size_t n_props, pulsar_send_callback cb, void *ctx,
                                   oms_error *err)
{
    if (len > PULSAR_DEFAULT_MAX_MESSAGE_SIZE)
        return oms_error_set(err, OMS_ETOOLARGE, "payload", "pulsar: message of %zu bytes exceeds 5 MiB", len);
    if (n_props > MAX_PROPERTIES)
        return oms_error_set(err, OMS_EINVAL, "properties", "pulsar: more than %d properties", MAX_PROPERTIES);
    pthread_mutex_lock(&p->mu);
    oms_err rc = send_locked(p, key, payload, len, props, n_props, (send_callback){cb, ctx}, err);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* Closes a batch older than the batching delay (worker thread). */
void pulsar_producer_tick(pulsar_handle *h, int64_t now_ms)
{
    pulsar_producer *p = (pulsar_producer *)h;
    pthread_mutex_lock(&p->mu);
    close_batches_locked(p, now_ms - BATCH_DELAY_MS + 1);
    pthread_mutex_unlock(&p->mu);
}

/* One synchronous send; shared by the caller and the callback, freed by the
 * last one to let go. */
typedef struct sync_send {
    pulsar_producer *p;
    atomic_int refs;
    bool done;
    oms_err result;
    pulsar_message_id id;
} sync_send;

static void sync_send_release(sync_send *w)
{
    if (atomic_fetch_sub(&w->refs, 1) == 1)
        free(w);
}

static void sync_send_done(void *ctx, oms_err result, const pulsar_message_id *id)
{
    sync_send *w = ctx;
    pthread_mutex_lock(&w->p->mu);
    w->done = true;
    w->result = result;
    if (id)
        w->id = *id;
    pthread_cond_broadcast(&w->p->cond);
    pthread_mutex_unlock(&w->p->mu);
    sync_send_release(w);
}

oms_err pulsar_producer_send(pulsar_producer *p, const char *key, const void *payload, size_t len,
                             const pulsar_property *props, size_t n_props, int timeout_ms, pulsar_message_id *id,
                             oms_error *err)
{
    if (len > PULSAR_DEFAULT_MAX_MESSAGE_SIZE || n_props > MAX_PROPERTIES)
        return oms_error_set(err, OMS_EINVAL, "payload", "pulsar: message too large or too many properties");
    sync_send *w = calloc(1, sizeof *w);
    if (!w)
        return oms_error_set(err, OMS_ENOMEM, NULL, "pulsar: out of memory");
    w->p = p;
    atomic_init(&w->refs, 2);
    int64_t deadline = pulsar_now_ms() + (timeout_ms > 0 ? timeout_ms : pulsar_client_operation_timeout(p->h.client));
    pthread_mutex_lock(&p->mu);
    oms_err rc = send_locked(p, key, payload, len, props, n_props, (send_callback){sync_send_done, w}, err);
    if (rc != OMS_OK) {
        pthread_mutex_unlock(&p->mu);
        free(w);
        return rc;
    }
    close_batch_locked(p); /* someone waits for it: no batching delay */
    while (!w->done && pulsar_now_ms() < deadline)
        pulsar_cond_wait_until(&p->cond, &p->mu, deadline);
    bool done = w->done;
    rc = w->result;
    if (done && id)
        *id = w->id;
    pthread_mutex_unlock(&p->mu);
    sync_send_release(w);
    if (!done)
        return oms_error_set(err, OMS_ETIMEOUT, NULL, "pulsar: no receipt for a message to %s", p->h.topic);
    if (rc != OMS_OK)
        return oms_error_set(err, rc, NULL, "pulsar: message to %s failed", p->h.topic);
    return OMS_OK;
}

oms_err pulsar_producer_flush(pulsar_producer *p, int timeout_ms, oms_error *err)
{
    int64_t deadline = pulsar_now_ms() + (timeout_ms > 0 ? timeout_ms : pulsar_client_operation_timeout(p->h.client));
    pthread_mutex_lock(&p->mu);
    close_batch_locked(p);
    uint64_t target = p->sends_enqueued; /* everything queued before the call */
    while (p->sends_completed < target && !p->closed && pulsar_now_ms() < deadline)
        pulsar_cond_wait_until(&p->cond, &p->mu, deadline);
    bool flushed = p->sends_completed >= target;
    size_t left = p->n_pending;
    pthread_mutex_unlock(&p->mu);
    if (!flushed)
        return oms_error_set(err, OMS_ETIMEOUT, NULL, "pulsar: %zu messages to %s still without receipt", left,
                             p->h.topic);
    return OMS_OK;
}

pulsar_producer *pulsar_producer_create(pulsar_client *c, const char *topic, const pulsar_producer_options *o,
                                        oms_error *err)
{
    pulsar_producer *p = calloc(1, sizeof *p);
    if (!p) {
        oms_error_set(err, OMS_ENOMEM, NULL, "pulsar: out of memory");
        return NULL;
    }
    p->h.kind = PULSAR_HANDLE_PRODUCER;
    p->h.id = pulsar_client_next_id(c);
    pulsar_topic_full_name(topic, p->h.topic, sizeof p->h.topic);
    char uuid[OMS_UUID_LEN + 1];
    oms_uuid_new(uuid);
    snprintf(p->name, sizeof p->name, "%s-%s", o && o->name_prefix ? o->name_prefix : "oms-c", uuid);
    p->max_pending = o && o->max_pending ? o->max_pending : DEFAULT_MAX_PENDING;
    p->fail_when_full = o && o->fail_when_full;
    p->batch_max = o && o->batch_max_messages > 1 ? o->batch_max_messages : 1;
    p->batch_by_key = o && o->batch_by_key;
    if (p->batch_max > PULSAR_MAX_BATCH_MESSAGES)
        p->batch_max = PULSAR_MAX_BATCH_MESSAGES;
    pthread_mutex_init(&p->mu, NULL);
    pulsar_cond_init(&p->cond);
    if (pulsar_handle_open(c, &p->h, err) != OMS_OK) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cond);
        free(p);
        return NULL;
    }
    return p;
}

void pulsar_producer_close(pulsar_producer *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    close_batch_locked(p);
    p->closed = true;
    pulsar_conn *conn = p->conn;
    uint64_t generation = p->generation;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
    if (conn && pulsar_conn_generation(conn) == generation) {
        Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
        Pulsar__CommandCloseProducer close_cmd = PULSAR__COMMAND_CLOSE_PRODUCER__INIT;
        cmd.type = PULSAR__BASE_COMMAND__TYPE__CLOSE_PRODUCER;
        cmd.close_producer = &close_cmd;
        close_cmd.producer_id = p->h.id;
        close_cmd.request_id = pulsar_client_next_request_id(p->h.client);
        Pulsar__BaseCommand *resp = NULL;
        oms_error ignored;
        if (pulsar_conn_request(conn, close_cmd.request_id, &cmd, CLOSE_TIMEOUT_MS, &resp, &ignored) == OMS_OK)
            pulsar__base_command__free_unpacked(resp, NULL);
    }
    pulsar_handle_unregister(&p->h);
    pending_send *s = p->head;
    while (s) {
        pending_send *next = s->next;
        complete_pending(s, OMS_EUNAVAILABLE, NULL);
        free_pending(s);
        s = next;
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cond);
    free(p);
}
