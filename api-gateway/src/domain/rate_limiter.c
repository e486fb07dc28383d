/* rate_limiter.c -- open addressing with linear probing over a fixed table;
 * see rate_limiter.h for the bounded-memory policy. */
#include "rate_limiter.h"

#include <stdlib.h>
#include <string.h>

#define MIN_SLOTS 16
#define MAX_SLOTS ((size_t)1 << 20)
#define TABLE_FULL_RETRY_MS 1000

oms_err rate_limiter_init(rate_limiter *rl, int64_t rate_per_s, size_t max_clients)
{
    if (rate_per_s < 1 || rate_per_s > TOKEN_BUCKET_MAX_RATE || max_clients > MAX_SLOTS)
        return OMS_EINVAL;
    size_t cap = MIN_SLOTS;
    while (cap < max_clients)
        cap *= 2;
    rate_limiter_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return OMS_ENOMEM;
    rl->rate_per_s = rate_per_s;
    rl->capacity = cap;
    rl->used = 0;
    rl->slots = slots;
    return OMS_OK;
}

void rate_limiter_destroy(rate_limiter *rl)
{
    free(rl->slots);
    rl->slots = NULL;
    rl->capacity = 0;
    rl->used = 0;
}

/* FNV-1a: the identities are short and not chosen to collide on purpose
 * (a collision costs one extra probe, never a wrong answer). */
static size_t hash_id(const char *id)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

/* The slot holding `id`, or the free slot where it would go, or NULL when
 * the table has no free slot. */
static rate_limiter_slot *probe(rate_limiter *rl, const char *id)
{
    size_t mask = rl->capacity - 1;
    size_t i = hash_id(id) & mask;
    for (size_t n = 0; n < rl->capacity; n++, i = (i + 1) & mask) {
        rate_limiter_slot *s = &rl->slots[i];
        if (s->id[0] == '\0' || strcmp(s->id, id) == 0)
            return s;
    }
    return NULL;
}

/* Rebuilds the table without the clients whose bucket is full again. */
static void forget_idle_clients(rate_limiter *rl, int64_t now_ms)
{
    size_t cap = rl->capacity;
    rate_limiter_slot *old = rl->slots;
    rate_limiter_slot *fresh = calloc(cap, sizeof *fresh);
    if (!fresh)
        return; /* keep the old table; a new client may be refused */
    rl->slots = fresh;
    rl->used = 0;
    for (size_t i = 0; i < cap; i++) {
        if (old[i].id[0] == '\0' || token_bucket_is_full(&old[i].bucket, rl->rate_per_s, now_ms))
            continue;
        rate_limiter_slot *s = probe(rl, old[i].id);
        *s = old[i];
        rl->used++;
    }
    free(old);
}

/* Keeps the load under 3/4 so that probes stay short. */
static bool table_crowded(const rate_limiter *rl)
{
    return (rl->used + 1) * 4 > rl->capacity * 3;
}

bool rate_limiter_admit(rate_limiter *rl, const char *client_id, int64_t now_ms, int64_t *retry_after_ms)
{
    char id[RATE_LIMITER_ID_MAX];
    size_t n = strnlen(client_id, sizeof id - 1);
    memcpy(id, client_id, n);
    id[n] = '\0';

    rate_limiter_slot *s = probe(rl, id);
    if (s && s->id[0] == '\0' && table_crowded(rl)) {
        forget_idle_clients(rl, now_ms);
        s = table_crowded(rl) ? NULL : probe(rl, id);
    }
    if (!s) {
        *retry_after_ms = TABLE_FULL_RETRY_MS;
        return false;
    }
    if (s->id[0] == '\0') {
        memcpy(s->id, id, n + 1);
        token_bucket_init(&s->bucket, rl->rate_per_s, now_ms);
        rl->used++;
    }
    int64_t wait_ms = 0;
    if (token_bucket_take(&s->bucket, rl->rate_per_s, now_ms, &wait_ms))
        return true;
    *retry_after_ms = wait_ms > 0 ? wait_ms : 1;
    return false;
}
