/* envelope.h -- the message envelope of SPEC section 4:
 *   {"event_id": uuid, "event_type": str, "saga_id": uuid, "order_id": uuid,
 *    "occurred_at": time, "correlation_id": str, "traceparent": str,
 *    "payload": {...}}
 * Adapters only (jansson).
 *
 * One trace per order (issue 13 item 2): a message about an order carries a
 * W3C traceparent "00-<trace id>-<span id>-01" whose trace id is the saga
 * id's 32 hex digits and whose span id is derived from the message's event
 * id (the first 16 hex digits of its SHA-256). Every process derives the
 * same ids without asking: a redelivery, or the relay publishing a row again
 * after a restart, carries the same span; a resend after a step deadline is
 * a new message (new event id), so each attempt is its own span and none is
 * doubled. The outbox row stores the envelope, so the traceparent is stored
 * and carried by both transports. */
#ifndef OMS_ENVELOPE_H
#define OMS_ENVELOPE_H

#include <jansson.h>
#include <stdbool.h>

#include "arena.h"
#include "err.h"
#include "util.h"

#define OMS_TRACE_ID_LEN 32
#define OMS_SPAN_ID_LEN 16
#define OMS_TRACEPARENT_LEN 55 /* "00-" 32 "-" 16 "-01" */

/* The trace id of a saga: its UUID's 32 hex digits, lower case; false
 * (out = "") when saga_id is not a UUID. */
bool oms_trace_id_of_saga(const char *saga_id, char out[OMS_TRACE_ID_LEN + 1]);

/* The traceparent of the message `event_id` of saga `saga_id`; false (out =
 * "") when either is not a UUID. */
bool oms_traceparent_of(const char *saga_id, const char *event_id, char out[OMS_TRACEPARENT_LEN + 1]);

typedef struct oms_envelope {
    char event_id[OMS_UUID_LEN + 1];
    const char *event_type;
    char saga_id[OMS_UUID_LEN + 1];  /* "" for a message about no order (a catalog price) */
    char order_id[OMS_UUID_LEN + 1]; /* likewise */
    const char *occurred_at;
    const char *correlation_id; /* the X-Request-Id that started it; "" when none */
    json_t *payload;            /* an object; owned by the arena */
    const char *topic;          /* the bus topic it came on (the consumer's, not in the JSON); NULL when unknown */
    char traceparent[OMS_TRACEPARENT_LEN + 1]; /* "" when absent or not a valid W3C traceparent (ignored) */
} oms_envelope;

/* Parses and validates (uuids, non-empty type, payload an object; saga_id
 * and order_id may both be absent, for a message about no order, which the
 * saga's consumers then refuse). OMS_EINVAL with the offending field on
 * anything malformed. */
oms_err oms_envelope_parse(oms_arena *a, const char *text, size_t len, oms_envelope *out, oms_error *err);

/* Serialises a new envelope with a fresh event_id (written to event_id_out
 * when not NULL) and occurred_at = now; `payload` is borrowed. saga_id and
 * order_id NULL: a message about no order, without them. Returns the JSON
 * text in the arena, NULL on exhaustion. */
char *oms_envelope_build(oms_arena *a, const char *event_type, const char *saga_id, const char *order_id,
                         const char *correlation_id, const json_t *payload, char event_id_out[OMS_UUID_LEN + 1]);

#endif
