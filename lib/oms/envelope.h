/* envelope.h -- the message envelope of SPEC section 4:
 *   {"event_id": uuid, "event_type": str, "saga_id": uuid, "order_id": uuid,
 *    "occurred_at": time, "correlation_id": str, "payload": {...}}
 * Adapters only (jansson). */
#ifndef OMS_ENVELOPE_H
#define OMS_ENVELOPE_H

#include <jansson.h>

#include "arena.h"
#include "err.h"
#include "util.h"

typedef struct oms_envelope {
    char event_id[OMS_UUID_LEN + 1];
    const char *event_type;
    char saga_id[OMS_UUID_LEN + 1];  /* "" for a message about no order (a catalog price) */
    char order_id[OMS_UUID_LEN + 1]; /* likewise */
    const char *occurred_at;
    const char *correlation_id; /* the X-Request-Id that started it; "" when none */
    json_t *payload;            /* an object; owned by the arena */
    const char *topic;          /* the bus topic it came on (the consumer's, not in the JSON); NULL when unknown */
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
