/* internal.h -- what the client's files share: connections, handles (the
 * common part of producers and consumers), timing helpers. Not for users of
 * the library (they include pulsar.h). */
#ifndef PULSAR_INTERNAL_H
#define PULSAR_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pulsar/frame.h"
#include "pulsar/pulsar.h"
#include "pulsar/stream.h"

#define PULSAR_PROTOCOL_VERSION 19
#define PULSAR_CLIENT_VERSION "oms-c"
#define PULSAR_KEEPALIVE_MS 30000
#define PULSAR_BACKOFF_FIRST_MS 100
#define PULSAR_BACKOFF_MAX_MS 10000
#define PULSAR_MAX_REDIRECTS 20
#define PULSAR_TOPIC_MAX 512

typedef struct pulsar_conn pulsar_conn;

/* ---- time (monotonic) and condition variables that wait on it */
int64_t pulsar_now_ms(void);
void pulsar_cond_init(pthread_cond_t *cond);
/* Waits until signalled or deadline_ms (monotonic); false on timeout. */
bool pulsar_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t deadline_ms);

/* ---- connections (connection.c) */

/* Queues an encoded frame for the connection of `generation` (the one a
 * handle attached to). OMS_EUNAVAILABLE when that connection is gone: the
 * caller keeps what it must resend. */
oms_err pulsar_conn_send(pulsar_conn *conn, uint64_t generation, const uint8_t *data, size_t len);
oms_err pulsar_conn_send_command(pulsar_conn *conn, uint64_t generation, const Pulsar__BaseCommand *cmd);

/* Sends a command carrying request_id and waits for the answer with the same
 * request_id (or ERROR). *response is the unpacked answer, to be freed with
 * pulsar__base_command__free_unpacked; on OMS_OK its type is not ERROR. A
 * broker ERROR returns OMS_EUNAVAILABLE for retryable errors (ServiceNotReady,
 * ProducerBusy, ConsumerBusy, TooManyRequests, MetadataError, PersistenceError)
 * and OMS_EINVAL otherwise, with the broker's message in err. */
oms_err pulsar_conn_request(pulsar_conn *conn, uint64_t request_id, Pulsar__BaseCommand *cmd, int timeout_ms,
                            Pulsar__BaseCommand **response, oms_error *err);

/* Waits for the handshake; returns the connection's generation, or 0 on
 * timeout. */
uint64_t pulsar_conn_wait_ready(pulsar_conn *conn, int timeout_ms);

/* Drops the connection (a protocol violation seen above the framing). */
void pulsar_conn_fail(pulsar_conn *conn, const char *why);

/* Why the connection is down: its last connect, TLS or handshake failure;
 * "" while it is up. */
void pulsar_conn_last_error(pulsar_conn *conn, char *out, size_t out_len);

pulsar_conn *pulsar_conn_start(pulsar_client *client, const char *host, int port);
void pulsar_conn_stop(pulsar_conn *conn);
bool pulsar_conn_ready(pulsar_conn *conn);
/* The current generation when ready, else 0. */
uint64_t pulsar_conn_generation(pulsar_conn *conn);
const char *pulsar_conn_host(const pulsar_conn *conn);
int pulsar_conn_port(const pulsar_conn *conn);

/* ---- handles (client.c) */
typedef enum { PULSAR_HANDLE_PRODUCER, PULSAR_HANDLE_CONSUMER } pulsar_handle_kind;

typedef struct pulsar_handle {
    pulsar_handle_kind kind;
    uint64_t id; /* producer_id or consumer_id, unique in the client */
    char topic[PULSAR_TOPIC_MAX];
    pulsar_client *client;
    /* Protected by the client's mutex. */
    bool attached;
    bool needs_attach;
    bool attaching;
    bool closing;
    bool failed; /* a non-retryable error on the first attach */
    bool ever_attached;
    int backoff_ms;
    int64_t next_attempt_ms;
    pulsar_conn *conn; /* the connection of the last successful attach */
    oms_error last_error;
    atomic_int refs; /* threads using the handle outside the client's mutex */
    struct pulsar_handle *next;
} pulsar_handle;

/* Registers a handle and has the worker attach it; waits for the first
 * attach up to the operation timeout. On failure the handle is unregistered. */
oms_err pulsar_handle_open(pulsar_client *c, pulsar_handle *h, oms_error *err);
/* Unregisters and waits until no thread uses it. */
void pulsar_handle_unregister(pulsar_handle *h);
/* The broker closed it or its connection broke: attach again soon. */
void pulsar_handle_detach(pulsar_handle *h);

uint64_t pulsar_client_next_id(pulsar_client *c);
uint64_t pulsar_client_next_request_id(pulsar_client *c);
int pulsar_client_operation_timeout(pulsar_client *c);
int pulsar_client_connect_timeout(pulsar_client *c);
/* The client's TLS settings; NULL: plain TCP. */
pulsar_tls_config *pulsar_client_tls(pulsar_client *c);
/* The token to send now (from the file when one is set, read again at each
 * call): *token is a malloc'd copy, or NULL without authentication.
 * OMS_EINVAL with `why` when the file cannot be read or holds no token. */
oms_err pulsar_client_auth_token(pulsar_client *c, char **token, char *why, size_t why_len);

/* Called by a connection's I/O thread. */
void pulsar_client_on_conn_ready(pulsar_client *c, pulsar_conn *conn);
void pulsar_client_on_conn_lost(pulsar_client *c, pulsar_conn *conn);
/* Finds a registered handle by kind and id and takes a reference (release
 * with pulsar_handle_release), or NULL. */
pulsar_handle *pulsar_client_find_handle(pulsar_client *c, pulsar_handle_kind kind, uint64_t id);
void pulsar_handle_release(pulsar_handle *h);

/* ---- what the connection dispatches to producers and consumers */
void pulsar_producer_on_receipt(pulsar_handle *h, pulsar_conn *conn, const Pulsar__CommandSendReceipt *r);
void pulsar_producer_on_send_error(pulsar_handle *h, pulsar_conn *conn, const Pulsar__CommandSendError *e);
void pulsar_consumer_on_message(pulsar_handle *h, pulsar_conn *conn, const Pulsar__CommandMessage *m,
                                const pulsar_frame *frame);

/* The broker closed it (CLOSE_PRODUCER/CLOSE_CONSUMER): stop writing to the
 * old id until the worker has attached it again. */
void pulsar_producer_on_detached(pulsar_handle *h);
void pulsar_consumer_on_detached(pulsar_handle *h);

/* Attach steps run by the client's worker thread on a ready connection. */
oms_err pulsar_producer_attach(pulsar_handle *h, pulsar_conn *conn, uint64_t generation, oms_error *err);
oms_err pulsar_consumer_attach(pulsar_handle *h, pulsar_conn *conn, uint64_t generation, oms_error *err);
/* Periodic work (every <= 20 ms): a consumer's due negative
 * acknowledgements and grouped acks, a producer's batch past its delay. */
void pulsar_consumer_tick(pulsar_handle *h, int64_t now_ms);
void pulsar_producer_tick(pulsar_handle *h, int64_t now_ms);

#endif
