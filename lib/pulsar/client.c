/* client.c -- the client: its connections, topic lookup, and the worker
 * thread that attaches producers and consumers (first time and after every
 * lost connection or broker-side close) and runs consumer timers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oms/log.h"
#include "pulsar/internal.h"

#define MAX_CONNECTIONS 16

struct pulsar_client {
    pthread_mutex_t mu;
    pthread_cond_t cond; /* handle attach results, worker wake-ups */
    pulsar_conn *service;
    pulsar_conn *conns[MAX_CONNECTIONS];
    size_t n_conns;
    pulsar_handle *handles;
    uint64_t next_id;
    uint64_t next_request_id;
    int connect_timeout_ms;
    int operation_timeout_ms;
    pthread_t worker;
    bool stopping;
};

uint64_t pulsar_client_next_id(pulsar_client *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t id = c->next_id++;
    pthread_mutex_unlock(&c->mu);
    return id;
}

uint64_t pulsar_client_next_request_id(pulsar_client *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t id = c->next_request_id++;
    pthread_mutex_unlock(&c->mu);
    return id;
}

int pulsar_client_operation_timeout(pulsar_client *c) { return c->operation_timeout_ms; }
int pulsar_client_connect_timeout(pulsar_client *c) { return c->connect_timeout_ms; }

void pulsar_topic_full_name(const char *name, char *out, size_t out_len)
{
    if (strstr(name, "://"))
        snprintf(out, out_len, "%s", name);
    else
        snprintf(out, out_len, "persistent://public/default/%s", name);
}

bool pulsar_client_connected(pulsar_client *c) { return pulsar_conn_ready(c->service); }

/* ---- connections by broker URL */
static oms_err parse_broker_url(const char *url, char *host, size_t host_len, int *port)
{
    const char *prefix = "pulsar://";
    if (!url || strncmp(url, prefix, strlen(prefix)) != 0)
        return OMS_EUNSUPPORTED;
    const char *h = url + strlen(prefix);
    const char *colon = strrchr(h, ':');
    if (!colon || colon == h || (size_t)(colon - h) >= host_len)
        return OMS_EINVAL;
    char *end = NULL;
    long p = strtol(colon + 1, &end, 10);
    if (p <= 0 || p > 65535 || (*end && *end != '/'))
        return OMS_EINVAL;
    memcpy(host, h, (size_t)(colon - h));
    host[colon - h] = '\0';
    *port = (int)p;
    return OMS_OK;
}

static pulsar_conn *conn_for_url(pulsar_client *c, const char *url, oms_error *err)
{
    char host[256];
    int port = 0;
    if (parse_broker_url(url, host, sizeof host, &port) != OMS_OK) {
        oms_error_set(err, OMS_EUNSUPPORTED, NULL, "pulsar: unsupported broker URL '%s'", url ? url : "");
        return NULL;
    }
    pthread_mutex_lock(&c->mu);
    pulsar_conn *found = NULL;
    for (size_t i = 0; i < c->n_conns && !found; i++) {
        if (strcmp(pulsar_conn_host(c->conns[i]), host) == 0 && pulsar_conn_port(c->conns[i]) == port)
            found = c->conns[i];
    }
    if (!found && c->n_conns < MAX_CONNECTIONS) {
        found = pulsar_conn_start(c, host, port);
        if (found)
            c->conns[c->n_conns++] = found;
    }
    pthread_mutex_unlock(&c->mu);
    if (!found)
        oms_error_set(err, OMS_ENOMEM, NULL, "pulsar: cannot open a connection to %s", url);
    return found;
}

/* ---- lookup */
static oms_err check_not_partitioned(pulsar_client *c, const char *topic, oms_error *err)
{
    Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
    Pulsar__CommandPartitionedTopicMetadata meta = PULSAR__COMMAND_PARTITIONED_TOPIC_METADATA__INIT;
    cmd.type = PULSAR__BASE_COMMAND__TYPE__PARTITIONED_METADATA;
    cmd.partitionmetadata = &meta;
    meta.topic = (char *)topic;
    meta.request_id = pulsar_client_next_request_id(c);
    Pulsar__BaseCommand *resp = NULL;
    oms_err rc = pulsar_conn_request(c->service, meta.request_id, &cmd, c->operation_timeout_ms, &resp, err);
    if (rc != OMS_OK)
        return rc;
    const Pulsar__CommandPartitionedTopicMetadataResponse *r = resp->partitionmetadataresponse;
    if (!r || (r->has_response && r->response == PULSAR__COMMAND_PARTITIONED_TOPIC_METADATA_RESPONSE__LOOKUP_TYPE__Failed))
        rc = oms_error_set(err, OMS_EUNAVAILABLE, NULL, "pulsar: partitioned metadata of %s failed: %s", topic,
                           r && r->message ? r->message : "no answer");
    else if (r->has_partitions && r->partitions > 0)
        rc = oms_error_set(err, OMS_EUNSUPPORTED, NULL,
                           "pulsar: %s has %u partitions; this client handles non-partitioned topics only", topic,
                           r->partitions);
    pulsar__base_command__free_unpacked(resp, NULL);
    return rc;
}

/* One LOOKUP on `conn`: OMS_OK with *next set (Connect: *done true). */
static oms_err lookup_once(pulsar_client *c, pulsar_conn *conn, const char *topic, bool *authoritative,
                           pulsar_conn **next, bool *done, oms_error *err)
{
    Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
    Pulsar__CommandLookupTopic lookup = PULSAR__COMMAND_LOOKUP_TOPIC__INIT;
    cmd.type = PULSAR__BASE_COMMAND__TYPE__LOOKUP;
    cmd.lookuptopic = &lookup;
    lookup.topic = (char *)topic;
    lookup.request_id = pulsar_client_next_request_id(c);
    lookup.has_authoritative = true;
    lookup.authoritative = *authoritative;
    Pulsar__BaseCommand *resp = NULL;
    oms_err rc = pulsar_conn_request(conn, lookup.request_id, &cmd, c->operation_timeout_ms, &resp, err);
    if (rc != OMS_OK)
        return rc;
    const Pulsar__CommandLookupTopicResponse *r = resp->lookuptopicresponse;
    if (!r || !r->has_response || r->response == PULSAR__COMMAND_LOOKUP_TOPIC_RESPONSE__LOOKUP_TYPE__Failed) {
        rc = oms_error_set(err, OMS_EUNAVAILABLE, NULL, "pulsar: lookup of %s failed: %s", topic,
                           r && r->message ? r->message : "no answer");
    } else if (r->proxy_through_service_url) {
        /* Behind a proxy the service connection is the way in; naming the
         * broker in CONNECT (field 6) is not implemented. */
        *next = c->service;
        *done = true;
    } else {
        *next = conn_for_url(c, r->brokerserviceurl, err);
        rc = *next ? OMS_OK : err->code;
        *done = r->response == PULSAR__COMMAND_LOOKUP_TOPIC_RESPONSE__LOOKUP_TYPE__Connect;
        *authoritative = r->authoritative;
    }
    pulsar__base_command__free_unpacked(resp, NULL);
    return rc;
}

static oms_err lookup_topic(pulsar_client *c, const char *topic, pulsar_conn **out, oms_error *err)
{
    if (!pulsar_conn_wait_ready(c->service, c->operation_timeout_ms))
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "pulsar: broker %s:%d unreachable",
                             pulsar_conn_host(c->service), pulsar_conn_port(c->service));
    oms_err rc = check_not_partitioned(c, topic, err);
    if (rc != OMS_OK)
        return rc;
    pulsar_conn *conn = c->service;
    bool authoritative = false;
    for (int i = 0; i <= PULSAR_MAX_REDIRECTS; i++) {
        bool done = false;
        pulsar_conn *next = NULL;
        rc = lookup_once(c, conn, topic, &authoritative, &next, &done, err);
        if (rc != OMS_OK)
            return rc;
        if (done) {
            *out = next;
            return OMS_OK;
        }
        conn = next;
        if (!pulsar_conn_wait_ready(conn, c->connect_timeout_ms))
            return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "pulsar: redirected broker %s:%d unreachable",
                                 pulsar_conn_host(conn), pulsar_conn_port(conn));
    }
    return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "pulsar: lookup of %s redirected more than %d times", topic,
                         PULSAR_MAX_REDIRECTS);
}

/* ---- handles */
pulsar_handle *pulsar_client_find_handle(pulsar_client *c, pulsar_handle_kind kind, uint64_t id)
{
    pthread_mutex_lock(&c->mu);
    pulsar_handle *h = c->handles;
    while (h && !(h->kind == kind && h->id == id))
        h = h->next;
    if (h)
        atomic_fetch_add(&h->refs, 1);
    pthread_mutex_unlock(&c->mu);
    return h;
}

void pulsar_handle_release(pulsar_handle *h) { atomic_fetch_sub(&h->refs, 1); }

static void schedule_attach_locked(pulsar_handle *h, int delay_ms)
{
    h->attached = false;
    h->needs_attach = true;
    h->next_attempt_ms = pulsar_now_ms() + delay_ms;
}

void pulsar_handle_detach(pulsar_handle *h)
{
    pulsar_client *c = h->client;
    if (h->kind == PULSAR_HANDLE_PRODUCER)
        pulsar_producer_on_detached(h);
    else
        pulsar_consumer_on_detached(h);
    pthread_mutex_lock(&c->mu);
    if (!h->closing) {
        oms_log(OMS_LOG_WARN, "pulsar_handle_closed_by_broker", "topic", h->topic, NULL);
        schedule_attach_locked(h, 0);
        pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->mu);
}

void pulsar_client_on_conn_lost(pulsar_client *c, pulsar_conn *conn)
{
    pthread_mutex_lock(&c->mu);
    for (pulsar_handle *h = c->handles; h; h = h->next) {
        if (h->conn == conn && h->attached && !h->closing)
            schedule_attach_locked(h, 0);
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

void pulsar_client_on_conn_ready(pulsar_client *c, pulsar_conn *conn)
{
    (void)conn;
    /* Whatever waits for a broker may try again now, not after its backoff. */
    int64_t now = pulsar_now_ms();
    pthread_mutex_lock(&c->mu);
    for (pulsar_handle *h = c->handles; h; h = h->next) {
        if (h->needs_attach && h->next_attempt_ms > now)
            h->next_attempt_ms = now;
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

oms_err pulsar_handle_open(pulsar_client *c, pulsar_handle *h, oms_error *err)
{
    h->client = c;
    h->backoff_ms = PULSAR_BACKOFF_FIRST_MS;
    atomic_init(&h->refs, 0);
    int64_t deadline = pulsar_now_ms() + c->operation_timeout_ms;
    pthread_mutex_lock(&c->mu);
    schedule_attach_locked(h, 0);
    h->next = c->handles;
    c->handles = h;
    pthread_cond_broadcast(&c->cond);
    while (!h->attached && !h->failed && pulsar_now_ms() < deadline)
        pulsar_cond_wait_until(&c->cond, &c->mu, deadline);
    bool ok = h->attached;
    oms_error last = h->last_error;
    pthread_mutex_unlock(&c->mu);
    if (ok)
        return OMS_OK;
    pulsar_handle_unregister(h);
    if (last.code != OMS_OK)
        return oms_error_set(err, last.code, NULL, "%s", last.message);
    return oms_error_set(err, OMS_ETIMEOUT, NULL, "pulsar: %s not ready within %d ms", h->topic,
                         c->operation_timeout_ms);
}

void pulsar_handle_unregister(pulsar_handle *h)
{
    pulsar_client *c = h->client;
    pthread_mutex_lock(&c->mu);
    h->closing = true;
    for (pulsar_handle **p = &c->handles; *p; p = &(*p)->next) {
        if (*p == h) {
            *p = h->next;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    while (atomic_load(&h->refs) > 0)
        usleep(1000);
}

/* Lookup, then the producer's or consumer's own attach. */
static oms_err attach_handle(pulsar_client *c, pulsar_handle *h, pulsar_conn **conn_out, uint64_t *generation_out,
                             oms_error *err)
{
    pulsar_conn *conn = NULL;
    oms_err rc = lookup_topic(c, h->topic, &conn, err);
    if (rc != OMS_OK)
        return rc;
    uint64_t generation = pulsar_conn_wait_ready(conn, 2000);
    if (!generation)
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "pulsar: broker %s:%d unreachable", pulsar_conn_host(conn),
                             pulsar_conn_port(conn));
    *conn_out = conn;
    *generation_out = generation;
    if (h->kind == PULSAR_HANDLE_PRODUCER)
        return pulsar_producer_attach(h, conn, generation, err);
    return pulsar_consumer_attach(h, conn, generation, err);
}

static void run_attach(pulsar_client *c, pulsar_handle *h)
{
    oms_error err;
    oms_error_clear(&err);
    pulsar_conn *conn = NULL;
    uint64_t generation = 0;
    oms_err rc = attach_handle(c, h, &conn, &generation, &err);
    pthread_mutex_lock(&c->mu);
    h->attaching = false;
    h->last_error = err;
    /* A connection lost during the attach is caught here: its generation moved. */
    if (rc == OMS_OK && pulsar_conn_generation(conn) != generation)
        rc = oms_error_set(&err, OMS_EUNAVAILABLE, NULL, "pulsar: connection lost while attaching");
    if (rc == OMS_OK && !h->needs_attach) {
        h->attached = true;
        h->ever_attached = true;
        h->conn = conn;
        h->backoff_ms = PULSAR_BACKOFF_FIRST_MS;
    } else if (rc != OMS_OK) {
        bool permanent = rc == OMS_EINVAL || rc == OMS_EUNSUPPORTED;
        if (!h->ever_attached && permanent)
            h->failed = true;
        schedule_attach_locked(h, h->backoff_ms);
        h->backoff_ms = h->backoff_ms * 2 > PULSAR_BACKOFF_MAX_MS ? PULSAR_BACKOFF_MAX_MS : h->backoff_ms * 2;
        if (!h->closing)
            oms_log(OMS_LOG_WARN, "pulsar_attach_failed", "topic", h->topic, "error", err.message, NULL);
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

/* The next handle due for an attach (with a reference), or NULL. */
static pulsar_handle *next_due_locked(pulsar_client *c, int64_t now)
{
    for (pulsar_handle *h = c->handles; h; h = h->next) {
        if (h->needs_attach && !h->attaching && !h->closing && !h->failed && h->next_attempt_ms <= now) {
            h->needs_attach = false;
            h->attaching = true;
            atomic_fetch_add(&h->refs, 1);
            return h;
        }
    }
    return NULL;
}

static void tick_handles(pulsar_client *c, int64_t now)
{
    pulsar_handle *batch[64];
    size_t n = 0;
    pthread_mutex_lock(&c->mu);
    for (pulsar_handle *h = c->handles; h && n < 64; h = h->next) {
        if (!h->closing) {
            atomic_fetch_add(&h->refs, 1);
            batch[n++] = h;
        }
    }
    pthread_mutex_unlock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        if (batch[i]->kind == PULSAR_HANDLE_CONSUMER)
            pulsar_consumer_tick(batch[i], now);
        else
            pulsar_producer_tick(batch[i], now);
        pulsar_handle_release(batch[i]);
    }
}

static void *worker_thread(void *arg)
{
    pulsar_client *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        int64_t now = pulsar_now_ms();
        pulsar_handle *h = next_due_locked(c, now);
        pthread_mutex_unlock(&c->mu);
        if (h) {
            run_attach(c, h);
            pulsar_handle_release(h);
        }
        tick_handles(c, pulsar_now_ms());
        pthread_mutex_lock(&c->mu);
        if (!h && !c->stopping)
            pulsar_cond_wait_until(&c->cond, &c->mu, pulsar_now_ms() + 20);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

pulsar_client *pulsar_client_create(const char *host, int port, const pulsar_client_options *o, oms_error *err)
{
    pulsar_client *c = calloc(1, sizeof *c);
    if (!c) {
        oms_error_set(err, OMS_ENOMEM, NULL, "pulsar: out of memory");
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    pulsar_cond_init(&c->cond);
    c->next_id = 1;
    c->next_request_id = 1;
    c->connect_timeout_ms = o && o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
    c->operation_timeout_ms = o && o->operation_timeout_ms > 0 ? o->operation_timeout_ms : 30000;
    c->service = pulsar_conn_start(c, host, port);
    if (c->service)
        c->conns[c->n_conns++] = c->service;
    if (!c->service || pthread_create(&c->worker, NULL, worker_thread, c) != 0) {
        pulsar_conn_stop(c->service);
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cond);
        free(c);
        oms_error_set(err, OMS_ENOMEM, NULL, "pulsar: cannot start the client threads");
        return NULL;
    }
    return c;
}

void pulsar_client_destroy(pulsar_client *c)
{
    if (!c)
        return;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        pulsar_handle *h = c->handles;
        pthread_mutex_unlock(&c->mu);
        if (!h)
            break;
        if (h->kind == PULSAR_HANDLE_PRODUCER)
            pulsar_producer_close((pulsar_producer *)h);
        else
            pulsar_consumer_close((pulsar_consumer *)h);
    }
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->worker, NULL);
    for (size_t i = 0; i < c->n_conns; i++)
        pulsar_conn_stop(c->conns[i]);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cond);
    free(c);
}
