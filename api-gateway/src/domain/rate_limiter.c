/* rate_limiter.c -- open addressing with linear probing over a fixed table,
 * a doubly linked recency list threaded through the slots, and deletion by
 * backward shift (no tombstones), so the least recently seen client can be
 * forgotten in O(1) amortised. See rate_limiter.h for the policy. */
#include "rate_limiter.h"

#include <stdlib.h>
#include <string.h>

#define MIN_CLIENTS 12
#define MAX_SLOTS ((size_t)1 << 24)
#define NONE UINT32_MAX

oms_err rate_limiter_init(rate_limiter *rl, int64_t rate_per_s, size_t max_clients)
{
    if (rate_per_s < 1 || rate_per_s > TOKEN_BUCKET_MAX_RATE || max_clients > MAX_SLOTS / 4 * 3)
        return OMS_EINVAL;
    if (max_clients < MIN_CLIENTS)
        max_clients = MIN_CLIENTS;
    size_t cap = 16;
    while (cap / 4 * 3 < max_clients)
        cap *= 2;
    rate_limiter_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return OMS_ENOMEM;
    *rl = (rate_limiter){.rate_per_s = rate_per_s,
                         .capacity = cap,
                         .max_clients = max_clients,
                         .newest = NONE,
                         .oldest = NONE,
                         .slots = slots};
    return OMS_OK;
}

void rate_limiter_destroy(rate_limiter *rl)
{
    free(rl->slots);
    *rl = (rate_limiter){.newest = NONE, .oldest = NONE};
}

/* FNV-1a: the identities are short, and a collision costs one extra probe,
 * never a wrong answer. */
static size_t hash_id(const char *id)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

/* The slot holding `id`, or the free slot where it would go (there is
 * always one: the table is at most 3/4 full). */
static uint32_t probe(const rate_limiter *rl, const char *id, size_t hash)
{
    size_t mask = rl->capacity - 1;
    size_t i = hash & mask;
    while (rl->slots[i].id[0] != '\0' && strcmp(rl->slots[i].id, id) != 0)
        i = (i + 1) & mask;
    return (uint32_t)i;
}

static void unlink_slot(rate_limiter *rl, uint32_t i)
{
    rate_limiter_slot *s = &rl->slots[i];
    if (s->newer != NONE)
        rl->slots[s->newer].older = s->older;
    else
        rl->newest = s->older;
    if (s->older != NONE)
        rl->slots[s->older].newer = s->newer;
    else
        rl->oldest = s->newer;
}

static void link_newest(rate_limiter *rl, uint32_t i)
{
    rate_limiter_slot *s = &rl->slots[i];
    s->newer = NONE;
    s->older = rl->newest;
    if (rl->newest != NONE)
        rl->slots[rl->newest].newer = i;
    rl->newest = i;
    if (rl->oldest == NONE)
        rl->oldest = i;
}

/* Moves the client of slot `from` into the free slot `to`, list links
 * included. */
static void move_slot(rate_limiter *rl, uint32_t from, uint32_t to)
{
    rl->slots[to] = rl->slots[from];
    rate_limiter_slot *s = &rl->slots[to];
    if (s->newer != NONE)
        rl->slots[s->newer].older = to;
    else
        rl->newest = to;
    if (s->older != NONE)
        rl->slots[s->older].newer = to;
    else
        rl->oldest = to;
}

/* Whether `home` lies cyclically in (hole, at]: then the client at `at`
 * must stay where it is, since a probe from `home` never passes the hole. */
static bool stays(size_t home, size_t hole, size_t at)
{
    return hole <= at ? (hole < home && home <= at) : (hole < home || home <= at);
}

/* Frees slot `hole`, shifting back the clients after it that probed past. */
static void remove_slot(rate_limiter *rl, uint32_t hole)
{
    size_t mask = rl->capacity - 1;
    unlink_slot(rl, hole);
    for (size_t at = (hole + 1) & mask; rl->slots[at].id[0] != '\0'; at = (at + 1) & mask) {
        if (stays(rl->slots[at].hash & mask, hole, at))
            continue;
        move_slot(rl, (uint32_t)at, hole);
        hole = (uint32_t)at;
    }
    memset(&rl->slots[hole], 0, sizeof rl->slots[hole]);
    rl->used--;
}

static uint32_t insert(rate_limiter *rl, const char *id, size_t hash, int64_t now_ms)
{
    if (rl->used == rl->max_clients)
        remove_slot(rl, rl->oldest);
    uint32_t i = probe(rl, id, hash); /* again: the removal may have moved the free slot */
    rate_limiter_slot *s = &rl->slots[i];
    strcpy(s->id, id);
    s->hash = hash;
    token_bucket_init(&s->bucket, rl->rate_per_s, now_ms);
    link_newest(rl, i);
    rl->used++;
    return i;
}

bool rate_limiter_admit(rate_limiter *rl, const char *client_id, int64_t now_ms, int64_t *retry_after_ms)
{
    char id[RATE_LIMITER_ID_MAX];
    size_t n = strnlen(client_id, sizeof id - 1);
    memcpy(id, client_id, n);
    id[n] = '\0';
    size_t hash = hash_id(id);
    uint32_t i = probe(rl, id, hash);
    if (rl->slots[i].id[0] == '\0') {
        i = insert(rl, id, hash, now_ms);
    } else {
        unlink_slot(rl, i);
        link_newest(rl, i);
    }
    int64_t wait_ms = 0;
    if (token_bucket_take(&rl->slots[i].bucket, rl->rate_per_s, now_ms, &wait_ms))
        return true;
    *retry_after_ms = wait_ms > 0 ? wait_ms : 1;
    return false;
}
