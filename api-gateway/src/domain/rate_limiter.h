/* rate_limiter.h -- one token bucket per client, in a bounded table.
 *
 * Pure C, not thread-safe (the caller holds a lock). A client is named by a
 * short identity string ("key:3", "ip:127.0.0.1"). Memory is bounded: when
 * the table fills up, clients whose bucket has refilled completely are
 * forgotten (they are indistinguishable from new ones); if every slot still
 * belongs to an active client, a new client is refused until one refills. */
#ifndef GATEWAY_RATE_LIMITER_H
#define GATEWAY_RATE_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oms/err.h"
#include "token_bucket.h"

#define RATE_LIMITER_ID_MAX 80

typedef struct rate_limiter_slot {
    char id[RATE_LIMITER_ID_MAX]; /* "" when the slot is free */
    token_bucket bucket;
} rate_limiter_slot;

typedef struct rate_limiter {
    int64_t rate_per_s;
    size_t capacity; /* slots, a power of two */
    size_t used;
    rate_limiter_slot *slots;
} rate_limiter;

/* A limiter of `rate_per_s` (1..TOKEN_BUCKET_MAX_RATE) for at most
 * `max_clients` concurrently active clients (rounded up to a power of two,
 * at least 16). OMS_ENOMEM or OMS_EINVAL; nothing to free on failure. */
oms_err rate_limiter_init(rate_limiter *rl, int64_t rate_per_s, size_t max_clients);
void rate_limiter_destroy(rate_limiter *rl);

/* Admits one request of `client_id` (truncated to RATE_LIMITER_ID_MAX-1
 * bytes) at `now_ms`. On refusal returns false with *retry_after_ms set to the
 * wait until the client may send again (at least 1). */
bool rate_limiter_admit(rate_limiter *rl, const char *client_id, int64_t now_ms, int64_t *retry_after_ms);

#endif
