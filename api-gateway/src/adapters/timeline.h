/* timeline.h -- the gateway's part of GET /orders/{id}/timeline (issue 13
 * item 1): order-service answers the order's saga log, its own handling of
 * each message and the dead letters, with the messages' event ids; each
 * participant knows only its own inbox, which it serves on GET
 * /internal/inbox?event_ids=... (lib/oms/service.c). The gateway asks
 * payment-service and inventory-service for those ids (as itself: role
 * viewer, principal "api-gateway"; order-service already decided that the
 * caller may see the order), adds their HANDLED entries and keeps the
 * entries in time order. A participant that does not answer is named in
 * "participants" ("unavailable") and the rest is still answered. */
#ifndef GATEWAY_TIMELINE_H
#define GATEWAY_TIMELINE_H

#include <jansson.h>

#include "../application/proxy.h"

/* The completed document (a new reference), or NULL when order-service's
 * answer is not a timeline or memory ran out (the caller passes it on as
 * it came). */
json_t *gateway_timeline_complete(proxy *p, const char *internal_key, const char *request_id, oms_arena *arena,
                                  const upstream_response *order_part);

#endif
