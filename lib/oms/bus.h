/* bus.h -- the message port (SPEC section 4). Two transports implement it:
 * `pg` (queues in a PostgreSQL database, the embedded default; bus_pg.c) and
 * `pulsar` (Apache Pulsar's binary protocol; lib/pulsar). Selected at start
 * by MESSAGE_BUS; nothing above this header knows which one runs.
 *
 * Semantics both transports keep:
 *  - publish returns OMS_OK only when every message is durable (committed /
 *    acknowledged by the broker with a send receipt);
 *  - messages with the same key are delivered to one subscription in publish
 *    order, one at a time (Key_Shared), even across several consumer processes;
 *  - delivery is at least once: a message is removed only after its handler
 *    returned OMS_BUS_ACK;
 *  - OMS_BUS_RETRY redelivers later with a growing delay; after
 *    max_redeliveries the message goes to the dead-letter topic "<topic>-DLQ"
 *    and the ones behind it flow on; OMS_BUS_DEAD sends it there at once. */
#ifndef OMS_BUS_H
#define OMS_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "config.h"
#include "err.h"

typedef struct oms_bus_outgoing {
    const char *topic;
    const char *key;     /* the order_id */
    const char *payload; /* the JSON envelope */
    size_t payload_len;
} oms_bus_outgoing;

typedef struct oms_bus_message {
    const char *topic;
    const char *subscription;
    const char *key;
    const char *payload; /* NUL-terminated */
    size_t payload_len;
    uint32_t redelivery_count; /* 0 on first delivery */
    const char *message_id;    /* transport's id, for logs */
} oms_bus_message;

typedef enum {
    OMS_BUS_ACK,   /* handled (and committed): remove it */
    OMS_BUS_RETRY, /* failed for now: redeliver later, dead-letter after the limit */
    OMS_BUS_DEAD   /* can never succeed (unparseable): dead-letter now */
} oms_bus_disposition;

/* The outcome of one message of a batch. */
#define OMS_BUS_REASON_MAX 256
typedef struct oms_bus_outcome {
    oms_bus_disposition disposition;
    char reason[OMS_BUS_REASON_MAX]; /* why, on RETRY/DEAD (stored with a dead letter); may stay empty */
} oms_bus_outcome;

/* The one handler type: called on a consumer thread with 1 to batch_size
 * messages, in delivery order, and fills out[i] for each msgs[i]. The pg
 * transport hands over heads of distinct keys; Pulsar, what its consumer
 * has received (several of one key come in their order: a handler that
 * fails one must not acknowledge a later one of the same key). Handling a
 * batch in one transaction is what lets a consumer keep up under load: one
 * commit (one fsync) per batch instead of per message. A handler that wants
 * one message at a time loops (or runs with batch_size 1). `arena` is reset
 * after the call. */
typedef void (*oms_bus_batch_handler)(void *ctx, const oms_bus_message *msgs, size_t n, oms_arena *arena,
                                      oms_bus_outcome *out);

typedef struct oms_bus oms_bus;

/* ---- dead letters (SPEC 4; docs/architecture.md, "Dead letters") ----
 * What an operator sees of a message that went to "<topic>-DLQ", and the
 * two things done with it: redrive (back to the subscription that failed
 * it, same payload, so the same event_id: the receiver's inbox makes a
 * repeat harmless) and discard (kept, with the reason, never delivered). */
typedef enum {
    OMS_DEAD_LETTER_DEAD,      /* waiting for an operator */
    OMS_DEAD_LETTER_REDRIVEN,  /* sent back to its subscription */
    OMS_DEAD_LETTER_DISCARDED, /* set aside for good, with a reason */
} oms_dead_letter_status;

/* "dead", "redriven", "discarded"; NULL for another value. */
const char *oms_dead_letter_status_name(oms_dead_letter_status s);
/* The status of a name above; false when unknown. */
bool oms_dead_letter_status_parse(const char *name, oms_dead_letter_status *out);

#define OMS_DEAD_LETTER_PAGE_MAX 500
#define OMS_DEAD_LETTER_FINGERPRINT_LEN 16

typedef struct oms_dead_letter {
    int64_t id;               /* the transport's id of the dead letter (> 0) */
    const char *topic;        /* the topic it failed on (without -DLQ) */
    const char *subscription; /* the consumer that failed it */
    const char *key;
    const char *payload; /* the message as published, NUL-terminated */
    size_t payload_len;
    /* From the payload's envelope; NULL when it does not parse as one. */
    const char *event_id, *event_type, *saga_id, *order_id;
    const char *error; /* the handler's why; may be "" */
    int attempts;      /* deliveries that failed */
    int64_t first_failure_ms, last_failure_ms;
    oms_dead_letter_status status;
    int64_t settled_ms;                                    /* when redriven or discarded; 0 while dead */
    const char *discard_reason;                            /* NULL unless discarded */
    const char *discarded_by;                              /* the principal id; NULL unless discarded */
    char fingerprint[OMS_DEAD_LETTER_FINGERPRINT_LEN + 1]; /* oms_dead_letter_fingerprint */
} oms_dead_letter;

/* Which dead letters to list; every member is optional (NULL / 0: any). */
typedef struct oms_dead_letter_filter {
    const char *topic;      /* the original topic ("payment-commands") */
    const char *event_type; /* from the envelope */
    const char *order_id;   /* from the envelope, or the key */
    const char *since;      /* RFC 3339 time: last failure at or after it */
    bool any_status;        /* false: only `status` */
    oms_dead_letter_status status;
    const int64_t *ids; /* only these ids */
    size_t id_count;
    int64_t after_id; /* cursor: ids above this one */
    int limit;        /* 1..OMS_DEAD_LETTER_PAGE_MAX; 0: 100 */
} oms_dead_letter_filter;

typedef struct oms_dead_letter_count {
    const char *topic; /* the original topic */
    int64_t count;
} oms_dead_letter_count;

/* Groups dead letters that failed the same way: the first 16 hex digits of
 * the SHA-256 of topic, subscription, event type and the error with every
 * word that holds a digit (ids, amounts, counts) replaced by '#'. Pure. */
void oms_dead_letter_fingerprint(const char *topic, const char *subscription, const char *event_type, const char *error,
                                 char out[OMS_DEAD_LETTER_FINGERPRINT_LEN + 1]);

/* The envelope fields of a dead letter from its payload (NULL each when it
 * does not parse), copied into `a`, and its fingerprint. */
void oms_dead_letter_describe(oms_dead_letter *d, oms_arena *a);

typedef struct oms_bus_ops {
    oms_err (*publish)(oms_bus *b, const oms_bus_outgoing *msgs, size_t n, oms_error *err);
    /* Registers a handler for (topic, subscription) before start. */
    oms_err (*subscribe)(oms_bus *b, const char *topic, const char *subscription, oms_bus_batch_handler handler,
                         void *ctx, oms_error *err);
    /* Starts the consumer threads. Fails without calling any handler. */
    oms_err (*start)(oms_bus *b, oms_error *err);
    /* For /ready: whether the transport can publish and consume now. */
    bool (*healthy)(oms_bus *b, char *why, size_t why_len);
    /* Stops consuming: waits for handlers in flight, then returns. Publishing
     * still works until destroy (the outbox relay flushes after this). */
    void (*stop)(oms_bus *b);
    void (*destroy)(oms_bus *b);
    /* Dead letters, for the database's owner (order-service). A transport
     * that cannot do this leaves them NULL: the calls below then return
     * OMS_EUNSUPPORTED. */
    /* Up to filter->limit dead letters in id order, into `a` (described by
     * oms_dead_letter_describe); *count of them. */
    oms_err (*dead_letters)(oms_bus *b, const oms_dead_letter_filter *f, oms_arena *a, oms_dead_letter **out,
                            size_t *count, oms_error *err);
    /* Sends dead letter `id` back to its subscription and marks it
     * redriven, at most once: OMS_ENOTFOUND when there is none, OMS_ECONFLICT
     * (reason "not_dead") when it is redriven or discarded already. */
    oms_err (*redrive)(oms_bus *b, int64_t id, oms_error *err);
    /* Marks dead letter `id` discarded with `reason` by `actor`; errors as
     * for redrive. */
    oms_err (*discard)(oms_bus *b, int64_t id, const char *reason, const char *actor, oms_error *err);
    /* How many dead letters wait (status dead) per original topic, into `a`;
     * topics with none are left out. */
    oms_err (*count_dead_letters)(oms_bus *b, oms_arena *a, oms_dead_letter_count **out, size_t *count, oms_error *err);
} oms_bus_ops;

struct oms_bus {
    const oms_bus_ops *ops;
    void *self;
};

static inline oms_err oms_bus_publish(oms_bus *b, const oms_bus_outgoing *msgs, size_t n, oms_error *err)
{
    return b->ops->publish(b, msgs, n, err);
}
static inline oms_err oms_bus_subscribe(oms_bus *b, const char *topic, const char *subscription,
                                        oms_bus_batch_handler handler, void *ctx, oms_error *err)
{
    return b->ops->subscribe(b, topic, subscription, handler, ctx, err);
}
static inline oms_err oms_bus_start(oms_bus *b, oms_error *err) { return b->ops->start(b, err); }
static inline bool oms_bus_healthy(oms_bus *b, char *why, size_t len) { return b->ops->healthy(b, why, len); }
static inline void oms_bus_stop(oms_bus *b) { b->ops->stop(b); }
static inline void oms_bus_destroy(oms_bus *b)
{
    if (b)
        b->ops->destroy(b);
}

static inline oms_err oms_bus_dead_letters(oms_bus *b, const oms_dead_letter_filter *f, oms_arena *a,
                                           oms_dead_letter **out, size_t *count, oms_error *err)
{
    if (!b->ops->dead_letters)
        return oms_error_set(err, OMS_EUNSUPPORTED, NULL, "this message transport does not list dead letters");
    return b->ops->dead_letters(b, f, a, out, count, err);
}
static inline oms_err oms_bus_redrive(oms_bus *b, int64_t id, oms_error *err)
{
    if (!b->ops->redrive)
        return oms_error_set(err, OMS_EUNSUPPORTED, NULL, "this message transport does not redrive dead letters");
    return b->ops->redrive(b, id, err);
}
static inline oms_err oms_bus_discard(oms_bus *b, int64_t id, const char *reason, const char *actor, oms_error *err)
{
    if (!b->ops->discard)
        return oms_error_set(err, OMS_EUNSUPPORTED, NULL, "this message transport does not discard dead letters");
    return b->ops->discard(b, id, reason, actor, err);
}

static inline oms_err oms_bus_count_dead_letters(oms_bus *b, oms_arena *a, oms_dead_letter_count **out, size_t *count,
                                                 oms_error *err)
{
    if (!b->ops->count_dead_letters)
        return oms_error_set(err, OMS_EUNSUPPORTED, NULL, "this message transport does not count dead letters");
    return b->ops->count_dead_letters(b, a, out, count, err);
}

typedef struct oms_bus_options {
    const char *service_name; /* names consumers and producers */
    int max_redeliveries;     /* N of SPEC section 4; 0: OMS_BUS_DEFAULT_MAX_REDELIVERIES */
    int consumer_threads;     /* per subscription; 0: OMS_BUS_DEFAULT_CONSUMER_THREADS */
    int batch_size;           /* messages handed to a batch handler at once; 0: OMS_BUS_DEFAULT_BATCH_SIZE */
    int retry_base_delay_ms;  /* first redelivery delay, doubling, capped at 30 s; 0: the default */
    int lease_ms;             /* pg: how long a claimed message stays with its consumer; 0: the default */
} oms_bus_options;

/* The defaults of oms_bus_options (and of the settings below). */
#define OMS_BUS_DEFAULT_MAX_REDELIVERIES 5
#define OMS_BUS_DEFAULT_CONSUMER_THREADS 1
#define OMS_BUS_DEFAULT_BATCH_SIZE 64
#define OMS_BUS_DEFAULT_RETRY_BASE_DELAY_MS 200
#define OMS_BUS_DEFAULT_LEASE_S 60

/* Where the pulsar transport connects and with which credentials. */
typedef struct oms_bus_pulsar_settings {
    const char *url;             /* PULSAR_URL: pulsar://host:port, or pulsar+ssl:// for TLS; wins over: */
    const char *host;            /* PULSAR_HOST (plain TCP) */
    int port;                    /* PULSAR_PORT */
    const char *auth_token;      /* PULSAR_AUTH_TOKEN: a JWT (auth method "token"); NULL: none */
    const char *auth_token_file; /* PULSAR_AUTH_TOKEN_FILE: the same, read at each connect; wins */
    const char *tls_ca_file;     /* PULSAR_TLS_CA_FILE: CAs the broker's certificate must chain to */
} oms_bus_pulsar_settings;

/* A process's bus settings (bus.c). */
typedef struct oms_bus_settings {
    const char *transport;   /* MESSAGE_BUS: "pg" or "pulsar" */
    const char *pg_database; /* BUS_POSTGRES_DB */
    oms_bus_pulsar_settings pulsar;
    oms_bus_options options; /* BUS_MAX_REDELIVERIES, BUS_CONSUMER_THREADS, BUS_BATCH_SIZE,
                                BUS_RETRY_BASE_DELAY_MS (service_name and lease_ms: see create) */
    int lease_s;             /* BUS_LEASE_S */
} oms_bus_settings;

/* Contributes the bus's rows to a process's settings table, loaded into `s`. */
void oms_bus_settings_add(oms_settings *t, oms_bus_settings *s);

/* Builds the transport `s` chooses: pulsar, or pg on the database
 * `s->pg_database` of `server` (the service's POSTGRES_* server).
 * `service_name` names consumers and producers. NULL with err when it
 * cannot be made. */
struct oms_pg_settings;
oms_bus *oms_bus_create(const oms_bus_settings *s, const char *service_name, const struct oms_pg_settings *server,
                        oms_error *err);

/* The pg transport: queues in the database described by `s` (created and
 * migrated by this call: tables bus_subscription, bus_queue, bus_dead_letter). */
struct oms_pg_settings;
oms_bus *oms_bus_pg_create(const struct oms_pg_settings *s, const oms_bus_options *o, oms_error *err);

/* The pulsar transport (lib/pulsar/bus_pulsar.c): its rows of the settings
 * table, and the transport. A file it cannot use (an unreadable token file,
 * a CA file without a certificate) returns NULL with OMS_EINVAL, the
 * message naming the setting. */
void oms_bus_pulsar_settings_add(oms_settings *t, oms_bus_pulsar_settings *s);
oms_bus *oms_bus_pulsar_create(const oms_bus_pulsar_settings *s, const oms_bus_options *o, oms_error *err);

#endif
