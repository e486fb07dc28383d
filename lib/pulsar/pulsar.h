/* pulsar.h -- a lean client of Apache Pulsar's binary protocol.
 *
 * One pulsar_client holds the connections (one per broker, each with its own
 * I/O thread) and a worker thread that (re)attaches producers and consumers:
 * on a lost connection or a CLOSE_PRODUCER/CLOSE_CONSUMER from the broker it
 * looks the topic up again (backoff 100 ms doubling to 10 s), re-creates the
 * producer or consumer and resends the pending messages with their original
 * sequence ids. Delivery is at least once: a resend after a reconnect may
 * store a message twice.
 *
 * Security: token (JWT) authentication and TLS with verification of the
 * broker's certificate and host name (pulsar_client_options).
 *
 * Limits: non-partitioned topics only (a partitioned topic is refused with
 * OMS_EUNSUPPORTED); compressed messages are not decoded (dead-lettered, or
 * negatively acknowledged without a DLQ).
 *
 * Thread-safety: every function may be called from any thread; a message is
 * used by one thread at a time. */
#ifndef PULSAR_CLIENT_H
#define PULSAR_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oms/err.h"

typedef struct pulsar_client pulsar_client;
typedef struct pulsar_producer pulsar_producer;
typedef struct pulsar_consumer pulsar_consumer;

typedef struct pulsar_client_options {
    int connect_timeout_ms;   /* TCP connect, TLS and handshake; 0: 10 s */
    int operation_timeout_ms; /* lookup, create producer/consumer; 0: 30 s */
    /* Token authentication (auth method "token": a JWT the broker checks and
     * maps to a role). The file wins over the string: it is read at every
     * connect and again when the broker asks for fresh credentials
     * (AUTH_CHALLENGE, before a token expires), so a token rotated on disk
     * is used without a restart. Both NULL: no authentication. */
    const char *auth_token;
    const char *auth_token_file;
    /* TLS (pulsar+ssl://): the broker's certificate must chain to a CA of
     * tls_ca_file (PEM; NULL: the system's CAs) and name the host the client
     * dials. Lookups then follow the brokers' TLS URLs only. */
    bool tls;
    const char *tls_ca_file;
} pulsar_client_options;

/* A client for the broker at host:port (the service URL). Connects in the
 * background; returns NULL with err when resources fail (OMS_ENOMEM) or a
 * setting is unusable (OMS_EINVAL, err->field naming the option:
 * "auth_token_file" that cannot be read or holds no token, "tls_ca_file"
 * that holds no certificate). */
pulsar_client *pulsar_client_create(const char *host, int port, const pulsar_client_options *o, oms_error *err);

/* Splits "pulsar://host[:port][/]" or "pulsar+ssl://host[:port][/]" (an IPv6
 * host in brackets) into host, port (default 6650, 6651 with TLS) and tls.
 * OMS_EINVAL for anything else, or a host longer than host_len - 1. */
oms_err pulsar_parse_url(const char *url, char *host, size_t host_len, int *port, bool *tls);

/* Whether the service connection is up (handshake done). */
bool pulsar_client_connected(pulsar_client *c);

/* Why the service connection is not up (the last connect, TLS or handshake
 * failure, e.g. "TLS certificate verify failed: Hostname mismatch" or the
 * broker's refusal of the credentials); "" while connected or before the
 * first attempt ended. */
void pulsar_client_last_error(pulsar_client *c, char *out, size_t out_len);

/* Closes every producer and consumer still open, then the connections. */
void pulsar_client_destroy(pulsar_client *c);

/* "persistent://public/default/<name>" into out, unless name has a scheme. */
void pulsar_topic_full_name(const char *name, char *out, size_t out_len);

/* ---- producer */
typedef struct pulsar_producer_options {
    size_t max_pending;      /* sends awaiting a receipt; 0: 10000 */
    bool fail_when_full;     /* true: OMS_EBUSY when full; false: block */
    const char *name_prefix; /* producer names are "<prefix>-<uuid>"; NULL: "oms-c" */
    /* Batching (off when 0 or 1): messages with the same key go out as one
     * batch entry of up to batch_max_messages (and 128 KiB), sent when full,
     * on flush/synchronous send, or 10 ms after its first message. One key
     * per batch keeps Key_Shared routing right. Without batch_by_key a batch
     * holds consecutive messages only (it is sent when the key changes), so
     * the topic keeps the publish order; with it, each key fills its own
     * batch (order kept per key only, fewer and fuller batches). */
    size_t batch_max_messages;
    bool batch_by_key;
} pulsar_producer_options;

typedef struct pulsar_message_id {
    uint64_t ledger;
    uint64_t entry;
    int32_t batch_index; /* -1 when not in a batch */
} pulsar_message_id;

typedef struct pulsar_property {
    const char *key;
    const char *value;
} pulsar_property;

/* Called once per message, on the I/O thread (keep it short): OMS_OK with
 * the id of the stored message, or the error that ended it. */
typedef void (*pulsar_send_callback)(void *ctx, oms_err result, const pulsar_message_id *id);

/* Creates a producer on `topic` (short names get persistent://public/default/),
 * waiting for the broker's PRODUCER_SUCCESS (retrying ProducerBusy and
 * ServiceNotReady) up to the operation timeout. */
pulsar_producer *pulsar_producer_create(pulsar_client *c, const char *topic, const pulsar_producer_options *o,
                                        oms_error *err);

/* Queues one message (key: partition and ordering key, may be NULL) and
 * returns; cb (may be NULL) is called when the broker's receipt arrives.
 * OMS_EBUSY when the queue is full and fail_when_full; OMS_EUNAVAILABLE
 * once the producer is closed. The payload is copied. */
oms_err pulsar_producer_send_async(pulsar_producer *p, const char *key, const void *payload, size_t len,
                                   const pulsar_property *props, size_t n_props, pulsar_send_callback cb, void *ctx,
                                   oms_error *err);

/* Sends and waits for the receipt (timeout_ms, 0: the operation timeout). */
oms_err pulsar_producer_send(pulsar_producer *p, const char *key, const void *payload, size_t len,
                             const pulsar_property *props, size_t n_props, int timeout_ms, pulsar_message_id *id,
                             oms_error *err);

/* Waits until every message queued before the call has its receipt. */
oms_err pulsar_producer_flush(pulsar_producer *p, int timeout_ms, oms_error *err);

/* Sends CLOSE_PRODUCER and frees. Messages still pending fail with
 * OMS_EUNAVAILABLE (flush first to avoid that). NULL allowed. */
void pulsar_producer_close(pulsar_producer *p);

/* ---- consumer */
typedef enum { PULSAR_SHARED, PULSAR_KEY_SHARED } pulsar_subscription_type;

typedef struct pulsar_consumer_options {
    pulsar_subscription_type type;
    uint32_t receiver_queue_size;  /* flow permits; 0: 1000 */
    int max_redeliveries;          /* with dead_letter_topic: nack at this count dead-letters; 0: 5 */
    const char *dead_letter_topic; /* NULL: no dead-lettering */
    const char *name_prefix;       /* NULL: "oms-c" */
} pulsar_consumer_options;

typedef struct pulsar_message {
    pulsar_message_id id;
    const char *key;     /* "" when none */
    const char *payload; /* NUL-terminated copy */
    size_t payload_len;
    uint32_t redelivery_count;
    uint64_t publish_time_ms;
    const char *topic;
    uint64_t session; /* the consumer's session it arrived in (pulsar_consumer_session) */
} pulsar_message;

/* Subscribes (durable, initial position Earliest) and waits for SUCCESS. */
pulsar_consumer *pulsar_consumer_create(pulsar_client *c, const char *topic, const char *subscription,
                                        const pulsar_consumer_options *o, oms_error *err);

/* Waits up to timeout_ms for the next message: OMS_OK with *out (to be
 * resolved with ack/nack/dead_letter, then freed), OMS_ETIMEOUT, or
 * OMS_EUNAVAILABLE once closed. */
oms_err pulsar_consumer_receive(pulsar_consumer *c, int timeout_ms, pulsar_message **out);

/* Acknowledges (a batch is acknowledged as one entry once all its messages
 * are resolved). */
oms_err pulsar_consumer_ack(pulsar_consumer *c, pulsar_message *m);

/* Asks for redelivery after delay_ms. With a dead-letter topic and
 * redelivery_count >= max_redeliveries, dead-letters instead. */
oms_err pulsar_consumer_nack(pulsar_consumer *c, pulsar_message *m, int delay_ms);

/* Publishes the message to the dead-letter topic (with properties
 * REAL_TOPIC, REAL_SUBSCRIPTION, ORIGIN_MESSAGE_ID and REASON), then acks it.
 * OMS_EUNAVAILABLE (message left unresolved: nack it) when it could not. */
oms_err pulsar_consumer_dead_letter(pulsar_consumer *c, pulsar_message *m, const char *reason);

/* Whether the consumer is attached to a live connection. */
bool pulsar_consumer_connected(pulsar_consumer *c);

/* Counts the consumer's attachments: it grows when the consumer subscribes
 * again (a lost connection, the broker closing it). The broker then delivers
 * again, maybe to another consumer, every message of an earlier session that
 * was not acknowledged: a caller keeping such messages should let them go. */
uint64_t pulsar_consumer_session(pulsar_consumer *c);

void pulsar_message_free(pulsar_message *m);

/* Flushes grouped acknowledgements, sends CLOSE_CONSUMER and frees. No other
 * thread may be inside receive/ack/nack on it (join them first); messages
 * still held by the caller must be freed before. NULL allowed. */
void pulsar_consumer_close(pulsar_consumer *c);

#endif
