/* client.c -- the client: its connections, topic lookup, and the worker
 * thread that attaches producers and consumers (first time and after every
 * lost connection or broker-side close) and runs consumer timers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oms/log.h"
#include "pulsar/internal.h"

#define MAX_CONNECTIONS 16
/* A JWT is a few hundred bytes; anything near this is not a token. */
#define AUTH_TOKEN_MAX (64 * 1024)

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
    char *auth_token;       /* NULL: none, or auth_token_file instead */
    char *auth_token_file;  /* read at each connect and AUTH_CHALLENGE */
    pulsar_tls_config *tls; /* NULL: plain TCP */
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

void pulsar_client_last_error(pulsar_client *c, char *out, size_t out_len)
{
    pulsar_conn_last_error(c->service, out, out_len);
}

pulsar_tls_config *pulsar_client_tls(pulsar_client *c) { return c->tls; }

/* ---- credentials */

/* The token in `path`, without the line end a file usually has. */
static char *read_token_file(const char *path, char *why, size_t why_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(why, why_len, "cannot read the token file %.200s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char *token = NULL;
    if (st.st_size <= 0 || st.st_size > AUTH_TOKEN_MAX) {
        snprintf(why, why_len, "the token file %.200s is %s", path, st.st_size <= 0 ? "empty" : "too large");
    } else if (!(token = malloc((size_t)st.st_size + 1))) {
        snprintf(why, why_len, "out of memory");
    } else {
        ssize_t n = read(fd, token, (size_t)st.st_size);
        size_t len = n > 0 ? (size_t)n : 0;
        while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r' || token[len - 1] == ' '))
            len--;
        token[len] = '\0';
        if (len == 0 || memchr(token, '\0', len)) {
            snprintf(why, why_len, "the token file %.200s holds no token", path);
            free(token);
            token = NULL;
        }
    }
    close(fd);
    return token;
}

oms_err pulsar_client_auth_token(pulsar_client *c, char **token, char *why, size_t why_len)
{
    *token = NULL;
    if (c->auth_token_file) {
        *token = read_token_file(c->auth_token_file, why, why_len);
        return *token ? OMS_OK : OMS_EINVAL;
    }
    if (c->auth_token) {
        *token = strdup(c->auth_token);
        if (!*token) {
            snprintf(why, why_len, "out of memory");
            return OMS_ENOMEM;
        }
    }
    return OMS_OK;
}

/* ---- connections by broker URL */
static pulsar_conn *conn_for_url(pulsar_client *c, const char *url, oms_error *err)
{
    char host[256];
    int port = 0;
    bool tls = false;
    if (pulsar_parse_url(url, host, sizeof host, &port, &tls) != OMS_OK || tls != (c->tls != NULL)) {
        oms_error_set(err, OMS_EUNSUPPORTED, NULL, "pulsar: unsupported broker URL '%s'%s", url ? url : "",
                      c->tls ? " (TLS required)" : "");
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

/* A refusal of the credentials or of the role is not cured by asking again
 * soon; the handle's first attach then fails at once. */
static oms_err lookup_failure_code(bool has_error, Pulsar__ServerError e)
{
    bool refused = has_error &&
                   (e == PULSAR__SERVER_ERROR__AuthenticationError || e == PULSAR__SERVER_ERROR__AuthorizationError);
    return refused ? OMS_EINVAL : OMS_EUNAVAILABLE;
}

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
    if (!r ||
        (r->has_response && r->response == PULSAR__COMMAND_PARTITIONED_TOPIC_METADATA_RESPONSE__LOOKUP_TYPE__Failed))
        rc = oms_error_set(err, lookup_failure_code(r && r->has_error, r ? r->error : 0), NULL,
                           "pulsar: partitioned metadata of %s failed: %s", topic,
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
        rc = oms_error_set(err, lookup_failure_code(r && r->has_error, r ? r->error : 0), NULL,
                           "pulsar: lookup of %s failed: %s", topic, r && r->message ? r->message : "no answer");
    } else if (r->proxy_through_service_url) {
        /* Behind a proxy the service connection is the way in; naming the
         * broker in CONNECT (field 6) is not implemented. */
        *next = c->service;
        *done = true;
    } else {
        *next = conn_for_url(c, c->tls ? r->brokerserviceurltls : r->brokerserviceurl, err);
        rc = *next ? OMS_OK : err->code;
        *done = r->response == PULSAR__COMMAND_LOOKUP_TOPIC_RESPONSE__LOOKUP_TYPE__Connect;
        *authoritative = r->authoritative;
    }
    pulsar__base_command__free_unpacked(resp, NULL);
    return rc;
}

/* "broker H:P unreachable: <why>" for a connection that is not up. */
static oms_err unreachable(pulsar_conn *conn, const char *what, oms_error *err)
{
    char why[256];
    pulsar_conn_last_error(conn, why, sizeof why);
    return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "pulsar: %s %s:%d unreachable%s%s", what, pulsar_conn_host(conn),
                         pulsar_conn_port(conn), why[0] ? ": " : "", why);
}

static oms_err lookup_topic(pulsar_client *c, const char *topic, pulsar_conn **out, oms_error *err)
{
    if (!pulsar_conn_wait_ready(c->service, c->operation_timeout_ms))
        return unreachable(c->service, "broker", err);
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
            return unreachable(conn, "redirected broker", err);
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
    char why[256];
    pulsar_conn_last_error(c->service, why, sizeof why);
    return oms_error_set(err, OMS_ETIMEOUT, NULL, "pulsar: %s not ready within %d ms%s%s", h->topic,
                         c->operation_timeout_ms, why[0] ? ": " : "", why);
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
        return unreachable(conn, "broker", err);
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

static void free_settings(pulsar_client *c)
{
    free(c->auth_token);
    free(c->auth_token_file);
    pulsar_tls_config_free(c->tls);
}

/* Copies the credentials and loads the CAs; a token file that cannot be
 * read now is a bad setting, not a broker to wait for. */
static oms_err take_settings(pulsar_client *c, const pulsar_client_options *o, oms_error *err)
{
    if (!o)
        return OMS_OK;
    if ((o->auth_token_file && !(c->auth_token_file = strdup(o->auth_token_file))) ||
        (o->auth_token && !(c->auth_token = strdup(o->auth_token))))
        return oms_error_set(err, OMS_ENOMEM, NULL, "pulsar: out of memory");
    char why[300];
    char *token = NULL;
    oms_err rc = pulsar_client_auth_token(c, &token, why, sizeof why);
    free(token);
    if (rc != OMS_OK)
        return oms_error_set(err, rc, "auth_token_file", "pulsar: %s", why);
    if (o->tls && !(c->tls = pulsar_tls_config_create(o->tls_ca_file, err)))
        return err->code;
    return OMS_OK;
}

pulsar_client *pulsar_client_create(const char *host, int port, const pulsar_client_options *o, oms_error *err)
{
    pulsar_client *c = calloc(1, sizeof *c);
    if (!c) {
        oms_error_set(err, OMS_ENOMEM, NULL, "pulsar: out of memory");
        return NULL;
    }
    if (take_settings(c, o, err) != OMS_OK) {
        free_settings(c);
        free(c);
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
        free_settings(c);
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
    free_settings(c);
    free(c);
}
