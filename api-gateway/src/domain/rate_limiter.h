/* rate_limiter.h -- one token bucket per client, in a bounded table.
 *
 * Pure C, not thread-safe (the caller holds a lock). A client is named by a
 * short identity string ("key:ab12...", "ip:127.0.0.1"). Memory is bounded:
 * when `max_clients` clients are known, a new one takes the place of the
 * client that was seen least recently, whose bucket is forgotten (it starts
 * full again if that client comes back). So no client is ever refused
 * because the table is full: an attacker with many addresses can only make
 * the limiter forget buckets, which never refuses anyone else. */
#ifndef GATEWAY_RATE_LIMITER_H
#define GATEWAY_RATE_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oms/err.h"
#include "token_bucket.h"

#define RATE_LIMITER_ID_MAX 96

typedef struct rate_limiter_slot {
    char id[RATE_LIMITER_ID_MAX]; /* "" when the slot is free */
    size_t hash;
    token_bucket bucket;
    uint32_t newer, older; /* the recency list, by slot index */
} rate_limiter_slot;

typedef struct rate_limiter {
    int64_t rate_per_s;
    size_t capacity;    /* slots, a power of two */
    size_t max_clients; /* at most 3/4 of the slots, so probes stay short */
    size_t used;
    uint32_t newest, oldest; /* ends of the recency list */
    rate_limiter_slot *slots;
} rate_limiter;

/* A limiter of `rate_per_s` (1..TOKEN_BUCKET_MAX_RATE) remembering at most
 * `max_clients` (at least 12) clients. OMS_ENOMEM or OMS_EINVAL; nothing to
 * free on failure. */
oms_err rate_limiter_init(rate_limiter *rl, int64_t rate_per_s, size_t max_clients);
void rate_limiter_destroy(rate_limiter *rl);

/* Admits one request of `client_id` (truncated to RATE_LIMITER_ID_MAX-1
 * bytes) at `now_ms`. On refusal returns false with *retry_after_ms set to the
 * wait until the client may send again (at least 1). */
bool rate_limiter_admit(rate_limiter *rl, const char *client_id, int64_t now_ms, int64_t *retry_after_ms);

#endif
