/* connection.c -- one connection to a broker (TCP, or TLS over TCP) and its
 * I/O thread.
 *
 * The I/O thread owns the stream: it connects (non-blocking, with a timeout),
 * runs the TLS handshake when the client uses TLS, sends CONNECT with the
 * client's token, answers AUTH_CHALLENGE with the token read again, reads and
 * dispatches frames, writes whatever callers queued
 * (all queued frames go out in one send when several are waiting), answers
 * PING, sends its own PING every 30 s and drops a broker silent for 60 s.
 * When the connection breaks it fails the requests in flight, tells the
 * client (which re-attaches producers and consumers) and reconnects with a
 * backoff of 100 ms doubling to 10 s. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "oms/log.h"
#include "oms/wait.h"
#include "pulsar/internal.h"

typedef enum { CONN_DISCONNECTED, CONN_HANDSHAKING, CONN_READY } conn_state;

typedef struct request_waiter {
    uint64_t request_id;
    bool done;
    Pulsar__BaseCommand *response; /* NULL when the connection broke */
    struct request_waiter *next;
} request_waiter;

struct pulsar_conn {
    pulsar_client *client;
    char host[256];
    int port;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;   /* state changes and answered requests */
    pulsar_stream *stream; /* NULL while disconnected; set and closed by the I/O thread */
    int wake_read, wake_write;
    bool wake_pending;
    conn_state state;
    uint64_t generation; /* increases at each completed handshake */
    pulsar_buf out;
    size_t out_sent; /* bytes of `out` already written (compacted lazily) */
    size_t max_frame;
    request_waiter *waiters;
    atomic_bool stopping;
    char last_error[256]; /* why it is down; "" while up */
    /* Owned by the I/O thread. */
    short read_wait;  /* a read waits for this poll event (TLS may need POLLOUT) */
    short write_wait; /* the same for a write (TLS may need POLLIN) */
    char io_why[256]; /* the text of the last stream or protocol failure */
    pulsar_buf in;
    int64_t last_received_ms;
    int64_t last_ping_ms;
    int64_t handshake_deadline_ms;
    int backoff_ms;
};

/* ---- time */
int64_t pulsar_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pulsar_cond_init(pthread_cond_t *cond) { oms_cond_init_monotonic(cond); }

bool pulsar_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000};
    return pthread_cond_timedwait(cond, mu, &ts) != ETIMEDOUT;
}

const char *pulsar_conn_host(const pulsar_conn *conn) { return conn->host; }
int pulsar_conn_port(const pulsar_conn *conn) { return conn->port; }

void pulsar_conn_last_error(pulsar_conn *conn, char *out, size_t out_len)
{
    pthread_mutex_lock(&conn->mu);
    snprintf(out, out_len, "%s", conn->last_error);
    pthread_mutex_unlock(&conn->mu);
}

static void set_last_error(pulsar_conn *conn, const char *why)
{
    pthread_mutex_lock(&conn->mu);
    snprintf(conn->last_error, sizeof conn->last_error, "%s", why);
    pthread_mutex_unlock(&conn->mu);
}

/* ---- writing (any thread) */
static void wake_io_thread_locked(pulsar_conn *conn)
{
    if (conn->wake_pending)
        return;
    conn->wake_pending = true;
    char byte = 1;
    if (write(conn->wake_write, &byte, 1) < 0 && errno != EAGAIN)
        oms_log(OMS_LOG_WARN, "pulsar_wake_failed", "error", strerror(errno), NULL);
}

oms_err pulsar_conn_send(pulsar_conn *conn, uint64_t generation, const uint8_t *data, size_t len)
{
    pthread_mutex_lock(&conn->mu);
    oms_err rc = OMS_EUNAVAILABLE;
    if (conn->state == CONN_READY && (generation == 0 || generation == conn->generation)) {
        rc = pulsar_buf_append(&conn->out, data, len);
        if (rc == OMS_OK)
            wake_io_thread_locked(conn);
    }
    pthread_mutex_unlock(&conn->mu);
    return rc;
}

oms_err pulsar_conn_send_command(pulsar_conn *conn, uint64_t generation, const Pulsar__BaseCommand *cmd)
{
    pulsar_buf frame = {0};
    oms_err rc = pulsar_frame_encode_command(&frame, cmd);
    if (rc == OMS_OK)
        rc = pulsar_conn_send(conn, generation, frame.data, frame.len);
    pulsar_buf_free(&frame);
    return rc;
}

bool pulsar_conn_ready(pulsar_conn *conn)
{
    pthread_mutex_lock(&conn->mu);
    bool ready = conn->state == CONN_READY;
    pthread_mutex_unlock(&conn->mu);
    return ready;
}

uint64_t pulsar_conn_generation(pulsar_conn *conn)
{
    pthread_mutex_lock(&conn->mu);
    uint64_t generation = conn->state == CONN_READY ? conn->generation : 0;
    pthread_mutex_unlock(&conn->mu);
    return generation;
}

uint64_t pulsar_conn_wait_ready(pulsar_conn *conn, int timeout_ms)
{
    int64_t deadline = pulsar_now_ms() + timeout_ms;
    pthread_mutex_lock(&conn->mu);
    while (conn->state != CONN_READY && !conn->stopping && pulsar_now_ms() < deadline)
        pulsar_cond_wait_until(&conn->cond, &conn->mu, deadline);
    uint64_t generation = conn->state == CONN_READY ? conn->generation : 0;
    pthread_mutex_unlock(&conn->mu);
    return generation;
}

/* ---- requests */
static bool retryable_server_error(Pulsar__ServerError e)
{
    switch (e) {
    case PULSAR__SERVER_ERROR__ServiceNotReady:
    case PULSAR__SERVER_ERROR__ProducerBusy:
    case PULSAR__SERVER_ERROR__ConsumerBusy:
    case PULSAR__SERVER_ERROR__TooManyRequests:
    case PULSAR__SERVER_ERROR__MetadataError:
    case PULSAR__SERVER_ERROR__PersistenceError:
    case PULSAR__SERVER_ERROR__UnknownError: return true;
    default: return false;
    }
}

static void unlink_waiter(pulsar_conn *conn, request_waiter *w)
{
    for (request_waiter **p = &conn->waiters; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            return;
        }
    }
}

oms_err pulsar_conn_request(pulsar_conn *conn, uint64_t request_id, Pulsar__BaseCommand *cmd, int timeout_ms,
                            Pulsar__BaseCommand **response, oms_error *err)
{
    *response = NULL;
    pulsar_buf frame = {0};
    if (pulsar_frame_encode_command(&frame, cmd) != OMS_OK)
        return oms_error_set(err, OMS_ENOMEM, NULL, "pulsar: cannot encode a request");
    request_waiter w = {.request_id = request_id};
    int64_t deadline = pulsar_now_ms() + timeout_ms;
    pthread_mutex_lock(&conn->mu);
    oms_err rc = OMS_EUNAVAILABLE;
    if (conn->state == CONN_READY)
        rc = pulsar_buf_append(&conn->out, frame.data, frame.len);
    if (rc == OMS_OK) {
        wake_io_thread_locked(conn);
        w.next = conn->waiters;
        conn->waiters = &w;
        while (!w.done && pulsar_now_ms() < deadline)
            pulsar_cond_wait_until(&conn->cond, &conn->mu, deadline);
        if (!w.done)
            unlink_waiter(conn, &w);
    }
    pthread_mutex_unlock(&conn->mu);
    pulsar_buf_free(&frame);
    if (rc != OMS_OK)
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "pulsar: not connected to %s:%d", conn->host, conn->port);
    if (!w.done)
        return oms_error_set(err, OMS_ETIMEOUT, NULL, "pulsar: no answer from %s:%d within %d ms", conn->host,
                             conn->port, timeout_ms);
    if (!w.response)
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "pulsar: connection to %s:%d lost", conn->host, conn->port);
    if (w.response->type == PULSAR__BASE_COMMAND__TYPE__ERROR && w.response->error) {
        Pulsar__ServerError e = w.response->error->error;
        rc = oms_error_set(err, retryable_server_error(e) ? OMS_EUNAVAILABLE : OMS_EINVAL, NULL,
                           "pulsar: broker error %d: %s", (int)e, w.response->error->message);
        pulsar__base_command__free_unpacked(w.response, NULL);
        return rc;
    }
    *response = w.response;
    return OMS_OK;
}

/* Hands an answer to its waiter; false when nobody waits for it. */
static bool complete_request(pulsar_conn *conn, uint64_t request_id, Pulsar__BaseCommand *cmd)
{
    bool found = false;
    pthread_mutex_lock(&conn->mu);
    for (request_waiter *w = conn->waiters; w; w = w->next) {
        if (w->request_id == request_id) {
            unlink_waiter(conn, w);
            w->response = cmd;
            w->done = true;
            found = true;
            break;
        }
    }
    if (found)
        pthread_cond_broadcast(&conn->cond);
    pthread_mutex_unlock(&conn->mu);
    return found;
}

/* ---- the I/O thread */
static void queue_command_locked(pulsar_conn *conn, const Pulsar__BaseCommand *cmd)
{
    if (pulsar_frame_encode_command(&conn->out, cmd) != OMS_OK)
        oms_log(OMS_LOG_ERROR, "pulsar_out_of_memory", "host", conn->host, NULL);
}

static void queue_simple(pulsar_conn *conn, Pulsar__BaseCommand__Type type)
{
    Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
    Pulsar__CommandPing ping = PULSAR__COMMAND_PING__INIT;
    Pulsar__CommandPong pong = PULSAR__COMMAND_PONG__INIT;
    cmd.type = type;
    if (type == PULSAR__BASE_COMMAND__TYPE__PING)
        cmd.ping = &ping;
    else
        cmd.pong = &pong;
    pthread_mutex_lock(&conn->mu);
    queue_command_locked(conn, &cmd);
    pthread_mutex_unlock(&conn->mu);
}

/* Closes the socket and fails what waited on it. Runs on the I/O thread. */
static void drop_connection(pulsar_conn *conn, const char *why)
{
    pthread_mutex_lock(&conn->mu);
    bool was_ready = conn->state == CONN_READY;
    pulsar_stream_close(conn->stream);
    conn->stream = NULL;
    if (!conn->stopping)
        snprintf(conn->last_error, sizeof conn->last_error, "%s", why);
    conn->state = CONN_DISCONNECTED;
    conn->out.len = conn->out_sent = 0;
    for (request_waiter *w = conn->waiters; w; w = w->next)
        w->done = true; /* response NULL: connection lost */
    conn->waiters = NULL;
    pthread_cond_broadcast(&conn->cond);
    pthread_mutex_unlock(&conn->mu);
    conn->in.len = 0;
    conn->read_wait = conn->write_wait = 0;
    if (!conn->stopping) {
        char port[16];
        snprintf(port, sizeof port, "%d", conn->port);
        oms_log(was_ready ? OMS_LOG_WARN : OMS_LOG_INFO, "pulsar_connection_lost", "host", conn->host, "port", port,
                "reason", why, NULL);
    }
    pulsar_client_on_conn_lost(conn->client, conn);
}

void pulsar_conn_fail(pulsar_conn *conn, const char *why)
{
    /* Only the I/O thread closes the socket; shutting it down makes its next
     * read fail, which drops the connection there. */
    pthread_mutex_lock(&conn->mu);
    if (conn->stream)
        shutdown(conn->stream->fd, SHUT_RDWR);
    pthread_mutex_unlock(&conn->mu);
    oms_log(OMS_LOG_WARN, "pulsar_connection_failed", "host", conn->host, "reason", why, NULL);
}

/* TCP, then TLS when the client uses it; NULL with `why`. */
static pulsar_stream *open_stream(pulsar_conn *conn, char *why, size_t why_len)
{
    int timeout_ms = pulsar_client_connect_timeout(conn->client);
    int fd = pulsar_socket_connect(conn->host, conn->port, timeout_ms, why, why_len);
    if (fd < 0)
        return NULL;
    pulsar_tls_config *tls = pulsar_client_tls(conn->client);
    if (!tls) {
        pulsar_stream *s = pulsar_stream_plain(fd);
        if (!s)
            snprintf(why, why_len, "out of memory");
        return s;
    }
    return pulsar_stream_tls(tls, fd, conn->host, timeout_ms, why, why_len);
}

/* The token as CONNECT or AUTH_RESPONSE carries it (method "token"). */
static void set_token(char **method, ProtobufCBinaryData *data, protobuf_c_boolean *has_data, char *token)
{
    *method = "token";
    *has_data = true;
    data->data = (uint8_t *)token;
    data->len = strlen(token);
}

static bool start_handshake(pulsar_conn *conn)
{
    char why[256] = "";
    char *token = NULL;
    /* A broker not up yet is usual at start; a certificate refused or a
     * token file gone is a setting to fix, logged as an error. */
    bool bad_setting = false;
    pulsar_stream *stream = open_stream(conn, why, sizeof why);
    if (!stream) {
        bad_setting = strncmp(why, "TLS", 3) == 0;
    } else if (pulsar_client_auth_token(conn->client, &token, why, sizeof why) != OMS_OK) {
        pulsar_stream_close(stream);
        stream = NULL;
        bad_setting = true;
    }
    if (!stream) {
        char port[16];
        snprintf(port, sizeof port, "%d", conn->port);
        oms_log(bad_setting ? OMS_LOG_ERROR : OMS_LOG_INFO, "pulsar_connect_failed", "host", conn->host, "port", port,
                "reason", why, NULL);
        set_last_error(conn, why);
        return false;
    }
    Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
    Pulsar__CommandConnect connect_cmd = PULSAR__COMMAND_CONNECT__INIT;
    Pulsar__FeatureFlags flags = PULSAR__FEATURE_FLAGS__INIT;
    cmd.type = PULSAR__BASE_COMMAND__TYPE__CONNECT;
    cmd.connect = &connect_cmd;
    connect_cmd.client_version = PULSAR_CLIENT_VERSION;
    connect_cmd.has_protocol_version = true;
    connect_cmd.protocol_version = PULSAR_PROTOCOL_VERSION;
    if (token)
        set_token(&connect_cmd.auth_method_name, &connect_cmd.auth_data, &connect_cmd.has_auth_data, token);
    /* Without it a broker closes the connection when the token expires
     * instead of asking for a fresh one. */
    flags.has_supports_auth_refresh = true;
    flags.supports_auth_refresh = true;
    connect_cmd.feature_flags = &flags;
    pthread_mutex_lock(&conn->mu);
    conn->stream = stream;
    conn->state = CONN_HANDSHAKING;
    conn->out.len = conn->out_sent = 0;
    conn->max_frame = PULSAR_DEFAULT_MAX_MESSAGE_SIZE + PULSAR_FRAME_MARGIN;
    queue_command_locked(conn, &cmd);
    pthread_mutex_unlock(&conn->mu);
    free(token);
    conn->in.len = 0;
    conn->read_wait = conn->write_wait = 0;
    conn->last_received_ms = conn->last_ping_ms = pulsar_now_ms();
    conn->handshake_deadline_ms = conn->last_received_ms + pulsar_client_connect_timeout(conn->client);
    return true;
}

/* AUTH_CHALLENGE: the credentials again, read afresh (a rotated token file).
 * NULL, or why the connection must go. */
static const char *answer_auth_challenge(pulsar_conn *conn)
{
    char *token = NULL;
    if (pulsar_client_auth_token(conn->client, &token, conn->io_why, sizeof conn->io_why) != OMS_OK)
        return conn->io_why;
    if (!token)
        return "the broker asks for credentials and none is configured";
    Pulsar__BaseCommand cmd = PULSAR__BASE_COMMAND__INIT;
    Pulsar__CommandAuthResponse response = PULSAR__COMMAND_AUTH_RESPONSE__INIT;
    Pulsar__AuthData data = PULSAR__AUTH_DATA__INIT;
    cmd.type = PULSAR__BASE_COMMAND__TYPE__AUTH_RESPONSE;
    cmd.authresponse = &response;
    response.client_version = PULSAR_CLIENT_VERSION;
    response.has_protocol_version = true;
    response.protocol_version = PULSAR_PROTOCOL_VERSION;
    response.response = &data;
    set_token(&data.auth_method_name, &data.auth_data, &data.has_auth_data, token);
    pthread_mutex_lock(&conn->mu);
    queue_command_locked(conn, &cmd);
    pthread_mutex_unlock(&conn->mu);
    free(token);
    oms_log(OMS_LOG_INFO, "pulsar_credentials_refreshed", "host", conn->host, NULL);
    return NULL;
}

static void on_connected(pulsar_conn *conn, const Pulsar__CommandConnected *c)
{
    pthread_mutex_lock(&conn->mu);
    if (c && c->has_max_message_size && c->max_message_size > 0)
        conn->max_frame = (size_t)c->max_message_size + PULSAR_FRAME_MARGIN;
    conn->last_error[0] = '\0';
    conn->state = CONN_READY;
    conn->generation++;
    pthread_cond_broadcast(&conn->cond);
    pthread_mutex_unlock(&conn->mu);
    conn->backoff_ms = PULSAR_BACKOFF_FIRST_MS;
    char port[16];
    snprintf(port, sizeof port, "%d", conn->port);
    oms_log(OMS_LOG_INFO, "pulsar_connected", "host", conn->host, "port", port, "server", c ? c->server_version : "",
            NULL);
    pulsar_client_on_conn_ready(conn->client, conn);
}

static uint64_t answered_request_id(const Pulsar__BaseCommand *cmd)
{
    switch (cmd->type) {
    case PULSAR__BASE_COMMAND__TYPE__SUCCESS: return cmd->success ? cmd->success->request_id : UINT64_MAX;
    case PULSAR__BASE_COMMAND__TYPE__ERROR: return cmd->error ? cmd->error->request_id : UINT64_MAX;
    case PULSAR__BASE_COMMAND__TYPE__PRODUCER_SUCCESS:
        /* producer_ready false: an exclusive producer still queued; wait on. */
        if (cmd->producer_success && cmd->producer_success->has_producer_ready &&
            !cmd->producer_success->producer_ready)
            return UINT64_MAX;
        return cmd->producer_success ? cmd->producer_success->request_id : UINT64_MAX;
    case PULSAR__BASE_COMMAND__TYPE__LOOKUP_RESPONSE:
        return cmd->lookuptopicresponse ? cmd->lookuptopicresponse->request_id : UINT64_MAX;
    case PULSAR__BASE_COMMAND__TYPE__PARTITIONED_METADATA_RESPONSE:
        return cmd->partitionmetadataresponse ? cmd->partitionmetadataresponse->request_id : UINT64_MAX;
    default: return UINT64_MAX;
    }
}

/* Which producer or consumer a command is for; false when it is for none. */
static bool command_target(const Pulsar__BaseCommand *cmd, pulsar_handle_kind *kind, uint64_t *id)
{
    switch (cmd->type) {
    case PULSAR__BASE_COMMAND__TYPE__SEND_RECEIPT:
        *kind = PULSAR_HANDLE_PRODUCER;
        *id = cmd->send_receipt ? cmd->send_receipt->producer_id : 0;
        return cmd->send_receipt != NULL;
    case PULSAR__BASE_COMMAND__TYPE__SEND_ERROR:
        *kind = PULSAR_HANDLE_PRODUCER;
        *id = cmd->send_error ? cmd->send_error->producer_id : 0;
        return cmd->send_error != NULL;
    case PULSAR__BASE_COMMAND__TYPE__CLOSE_PRODUCER:
        *kind = PULSAR_HANDLE_PRODUCER;
        *id = cmd->close_producer ? cmd->close_producer->producer_id : 0;
        return cmd->close_producer != NULL;
    case PULSAR__BASE_COMMAND__TYPE__MESSAGE:
        *kind = PULSAR_HANDLE_CONSUMER;
        *id = cmd->message ? cmd->message->consumer_id : 0;
        return cmd->message != NULL;
    case PULSAR__BASE_COMMAND__TYPE__CLOSE_CONSUMER:
        *kind = PULSAR_HANDLE_CONSUMER;
        *id = cmd->close_consumer ? cmd->close_consumer->consumer_id : 0;
        return cmd->close_consumer != NULL;
    default: return false; /* REACHED_END_OF_TOPIC, ACTIVE_CONSUMER_CHANGE, unknown: nothing to do */
    }
}

static void dispatch_to_handle(pulsar_conn *conn, Pulsar__BaseCommand *cmd, const pulsar_frame *frame)
{
    pulsar_handle_kind kind;
    uint64_t id;
    if (!command_target(cmd, &kind, &id))
        return;
    pulsar_handle *h = pulsar_client_find_handle(conn->client, kind, id);
    if (!h)
        return; /* closed meanwhile */
    switch (cmd->type) {
    case PULSAR__BASE_COMMAND__TYPE__SEND_RECEIPT: pulsar_producer_on_receipt(h, conn, cmd->send_receipt); break;
    case PULSAR__BASE_COMMAND__TYPE__SEND_ERROR: pulsar_producer_on_send_error(h, conn, cmd->send_error); break;
    case PULSAR__BASE_COMMAND__TYPE__MESSAGE: pulsar_consumer_on_message(h, conn, cmd->message, frame); break;
    default: /* CLOSE_PRODUCER, CLOSE_CONSUMER */ pulsar_handle_detach(h); break;
    }
    pulsar_handle_release(h);
}

/* Handles one frame: NULL, or why the connection must close. */
static const char *dispatch(pulsar_conn *conn, const pulsar_frame *frame)
{
    Pulsar__BaseCommand *cmd = pulsar__base_command__unpack(NULL, frame->command_len, frame->command);
    if (!cmd)
        return "undecodable command";
    if (frame->has_payload && cmd->type != PULSAR__BASE_COMMAND__TYPE__MESSAGE) {
        pulsar__base_command__free_unpacked(cmd, NULL);
        return "payload on a command other than MESSAGE";
    }
    const char *why = NULL;
    uint64_t request_id = answered_request_id(cmd);
    if (cmd->type == PULSAR__BASE_COMMAND__TYPE__CONNECTED) {
        on_connected(conn, cmd->connected);
    } else if (cmd->type == PULSAR__BASE_COMMAND__TYPE__AUTH_CHALLENGE) {
        why = answer_auth_challenge(conn);
    } else if (conn->state == CONN_HANDSHAKING) {
        if (cmd->type == PULSAR__BASE_COMMAND__TYPE__ERROR) {
            snprintf(conn->io_why, sizeof conn->io_why, "the broker refused the connection: %s",
                     cmd->error && cmd->error->message ? cmd->error->message : "no reason given");
            oms_log(OMS_LOG_ERROR, "pulsar_handshake_refused", "host", conn->host, "message", conn->io_why, NULL);
            why = conn->io_why;
        }
    } else if (cmd->type == PULSAR__BASE_COMMAND__TYPE__PING) {
        queue_simple(conn, PULSAR__BASE_COMMAND__TYPE__PONG);
    } else if (request_id != UINT64_MAX) {
        if (complete_request(conn, request_id, cmd))
            return NULL; /* the waiter owns cmd now */
    } else {
        dispatch_to_handle(conn, cmd, frame);
    }
    pulsar__base_command__free_unpacked(cmd, NULL);
    return why;
}

/* Reads what the stream has and dispatches every complete frame: NULL, or
 * why the connection must close. */
static const char *read_frames(pulsar_conn *conn)
{
    size_t max_frame;
    pthread_mutex_lock(&conn->mu);
    max_frame = conn->max_frame;
    pthread_mutex_unlock(&conn->mu);
    if (conn->in.cap - conn->in.len < 65536 && pulsar_buf_reserve(&conn->in, 65536) != OMS_OK)
        return "out of memory";
    size_t n = 0;
    short wait = 0;
    pulsar_io r = pulsar_stream_read(conn->stream, conn->in.data + conn->in.len, conn->in.cap - conn->in.len, &n, &wait,
                                     conn->io_why, sizeof conn->io_why);
    conn->read_wait = r == PULSAR_IO_AGAIN ? wait : 0;
    if (r == PULSAR_IO_CLOSED)
        return "closed by the broker";
    if (r == PULSAR_IO_ERROR)
        return conn->io_why;
    if (r == PULSAR_IO_AGAIN)
        return NULL;
    conn->in.len += n;
    conn->last_received_ms = pulsar_now_ms();
    size_t pos = 0;
    const char *why = NULL;
    while (!why) {
        pulsar_frame frame;
        pulsar_frame_result fr = pulsar_frame_decode(conn->in.data + pos, conn->in.len - pos, max_frame, &frame);
        if (fr == PULSAR_FRAME_INCOMPLETE)
            break;
        if (fr == PULSAR_FRAME_TOO_LARGE)
            why = "frame larger than the broker's max_message_size";
        else if (fr == PULSAR_FRAME_MALFORMED)
            why = "malformed frame";
        else if (!(why = dispatch(conn, &frame)))
            pos += frame.frame_len;
    }
    pulsar_buf_consume(&conn->in, pos);
    return why;
}

static const char *write_queued(pulsar_conn *conn)
{
    const char *why = NULL;
    pthread_mutex_lock(&conn->mu);
    if (conn->out.len > conn->out_sent) {
        /* Everything queued goes in one write; a partial write moves an
         * offset rather than the remaining bytes. */
        size_t n = 0;
        short wait = 0;
        pulsar_io r = pulsar_stream_write(conn->stream, conn->out.data + conn->out_sent, conn->out.len - conn->out_sent,
                                          &n, &wait, conn->io_why, sizeof conn->io_why);
        conn->write_wait = r == PULSAR_IO_AGAIN ? wait : 0;
        if (r == PULSAR_IO_DONE)
            conn->out_sent += n;
        else if (r == PULSAR_IO_CLOSED)
            why = "closed by the broker";
        else if (r == PULSAR_IO_ERROR)
            why = conn->io_why;
        if (conn->out_sent == conn->out.len) {
            conn->out.len = conn->out_sent = 0;
        } else if (conn->out_sent > 1024 * 1024) {
            pulsar_buf_consume(&conn->out, conn->out_sent);
            conn->out_sent = 0;
        }
    }
    pthread_mutex_unlock(&conn->mu);
    return why;
}

static const char *keepalive(pulsar_conn *conn, int64_t now)
{
    if (conn->state == CONN_HANDSHAKING && now > conn->handshake_deadline_ms)
        return "handshake timed out";
    if (now - conn->last_received_ms > 2 * PULSAR_KEEPALIVE_MS)
        return "broker silent for 60 s";
    if (conn->state == CONN_READY && now - conn->last_ping_ms >= PULSAR_KEEPALIVE_MS) {
        conn->last_ping_ms = now;
        queue_simple(conn, PULSAR__BASE_COMMAND__TYPE__PING);
    }
    return NULL;
}

static void sleep_backoff(pulsar_conn *conn)
{
    int64_t deadline = pulsar_now_ms() + conn->backoff_ms;
    pthread_mutex_lock(&conn->mu);
    while (!conn->stopping && pulsar_now_ms() < deadline)
        pulsar_cond_wait_until(&conn->cond, &conn->mu, deadline);
    pthread_mutex_unlock(&conn->mu);
    conn->backoff_ms = conn->backoff_ms * 2 > PULSAR_BACKOFF_MAX_MS ? PULSAR_BACKOFF_MAX_MS : conn->backoff_ms * 2;
}

/* The events to poll the stream for: always input; output when there is
 * something to write (unless TLS waits for input to write) or when a TLS
 * read waits for output. */
static short stream_events(pulsar_conn *conn)
{
    pthread_mutex_lock(&conn->mu);
    bool to_write = conn->out.len > conn->out_sent;
    pthread_mutex_unlock(&conn->mu);
    bool want_out = (to_write && conn->write_wait != POLLIN) || conn->read_wait == POLLOUT;
    return POLLIN | (want_out ? POLLOUT : 0);
}

static void poll_once(pulsar_conn *conn)
{
    /* Decrypted bytes already inside the stream do not wake poll. */
    bool buffered = pulsar_stream_buffered(conn->stream);
    struct pollfd fds[2] = {{.fd = conn->stream->fd, .events = stream_events(conn)},
                            {.fd = conn->wake_read, .events = POLLIN}};
    int n = poll(fds, 2, buffered ? 0 : 1000);
    const char *why = NULL;
    if (n > 0 && (fds[1].revents & POLLIN)) {
        /* Drain first, then clear the flag: cleared first, a sender could
         * write its byte in between, the drain would swallow it and the
         * flag would stay set with the pipe empty, so that no later send
         * woke this thread again: every frame then waited for the next
         * read or for poll's one-second timeout (idle latency of ~1 s per
         * message after a burst). Data appended before the clear is
         * written just below. */
        char drain[256];
        while (read(conn->wake_read, drain, sizeof drain) > 0) {
        }
        pthread_mutex_lock(&conn->mu);
        conn->wake_pending = false;
        pthread_mutex_unlock(&conn->mu);
    }
    short ready = n > 0 ? fds[0].revents : 0;
    bool readable = buffered || (ready & (POLLIN | POLLERR | POLLHUP)) ||
                    (conn->read_wait == POLLOUT && (ready & POLLOUT));
    if (readable)
        why = read_frames(conn);
    if (!why)
        why = write_queued(conn);
    if (!why)
        why = keepalive(conn, pulsar_now_ms());
    if (why)
        drop_connection(conn, why);
}

static void *io_thread(void *arg)
{
    pulsar_conn *conn = arg;
    /* A TLS write to a closed socket must be an error, not a SIGPIPE that
     * ends the process (OpenSSL cannot pass MSG_NOSIGNAL). */
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
    while (!conn->stopping) {
        if (!conn->stream) {
            if (!start_handshake(conn)) {
                pulsar_client_on_conn_lost(conn->client, conn);
                sleep_backoff(conn);
                continue;
            }
        }
        poll_once(conn);
        if (!conn->stream && !conn->stopping)
            sleep_backoff(conn);
    }
    if (conn->stream) {
        write_queued(conn); /* the CLOSE_* commands queued at shutdown */
        drop_connection(conn, "client closed");
    }
    return NULL;
}

pulsar_conn *pulsar_conn_start(pulsar_client *client, const char *host, int port)
{
    pulsar_conn *conn = calloc(1, sizeof *conn);
    if (!conn)
        return NULL;
    int pipefd[2];
    if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) != 0) {
        free(conn);
        return NULL;
    }
    conn->client = client;
    snprintf(conn->host, sizeof conn->host, "%s", host);
    conn->port = port;
    conn->wake_read = pipefd[0];
    conn->wake_write = pipefd[1];
    conn->backoff_ms = PULSAR_BACKOFF_FIRST_MS;
    conn->max_frame = PULSAR_DEFAULT_MAX_MESSAGE_SIZE + PULSAR_FRAME_MARGIN;
    pthread_mutex_init(&conn->mu, NULL);
    pulsar_cond_init(&conn->cond);
    if (pthread_create(&conn->thread, NULL, io_thread, conn) != 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        pthread_mutex_destroy(&conn->mu);
        pthread_cond_destroy(&conn->cond);
        free(conn);
        return NULL;
    }
    return conn;
}

void pulsar_conn_stop(pulsar_conn *conn)
{
    if (!conn)
        return;
    pthread_mutex_lock(&conn->mu);
    conn->stopping = true;
    pthread_cond_broadcast(&conn->cond);
    wake_io_thread_locked(conn);
    pthread_mutex_unlock(&conn->mu);
    pthread_join(conn->thread, NULL);
    close(conn->wake_read);
    close(conn->wake_write);
    pulsar_buf_free(&conn->out);
    pulsar_buf_free(&conn->in);
    pthread_mutex_destroy(&conn->mu);
    pthread_cond_destroy(&conn->cond);
    free(conn);
}
