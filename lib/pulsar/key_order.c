/* key_order.c -- see key_order.h.
 *
 * Held keys are a list in the order they were first held; each holds its
 * messages in an array, head first. A worker holds few keys at a time (a
 * key is held only while its head fails), so lookups walk the list. */
#include "pulsar/key_order.h"

#include <stdlib.h>
#include <string.h>

typedef struct held_key {
    char *key;
    pulsar_message **msgs; /* msgs[0] is the head */
    size_t n, cap;
    uint32_t head_failures; /* failures of msgs[0] seen here */
    int64_t due_ms;         /* when msgs[0] may be tried */
    /* During key_order_settle: the key's head failed in this round, and
     * where the round's later messages of the key go (before the messages
     * held from earlier rounds, which came after them). */
    bool failed_in_round;
    size_t insert_at;
    struct held_key *next;
} held_key;

struct key_order {
    key_order_ops ops;
    void *ctx;
    key_order_options opt;
    held_key *keys;
    size_t n_held;
    uint64_t session;
};

int key_order_retry_delay(const key_order_options *o, uint32_t attempt)
{
    int64_t delay = o->retry_base_delay_ms;
    for (uint32_t i = 0; i < attempt && delay < o->retry_max_delay_ms; i++)
        delay *= 2;
    return (int)(delay > o->retry_max_delay_ms ? o->retry_max_delay_ms : delay);
}

key_order *key_order_create(const key_order_ops *ops, void *ctx, const key_order_options *opt)
{
    key_order *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->ops = *ops;
    o->ctx = ctx;
    o->opt = *opt;
    return o;
}

static void free_key(held_key *h)
{
    free(h->key);
    free(h->msgs);
    free(h);
}

/* Unlinks and frees the keys that hold nothing. */
static void drop_empty_keys(key_order *o)
{
    for (held_key **p = &o->keys; *p;) {
        held_key *h = *p;
        if (h->n == 0) {
            *p = h->next;
            free_key(h);
        } else {
            p = &h->next;
        }
    }
}

void key_order_destroy(key_order *o)
{
    if (!o)
        return;
    for (held_key *h = o->keys; h; h = h->next) {
        for (size_t i = 0; i < h->n; i++)
            o->ops.release(o->ctx, h->msgs[i]);
        h->n = 0;
    }
    drop_empty_keys(o);
    free(o);
}

static held_key *find_key(const key_order *o, const char *key)
{
    held_key *h = o->keys;
    while (h && strcmp(h->key, key) != 0)
        h = h->next;
    return h;
}

/* A new, empty key at the end of the list; NULL when out of memory. */
static held_key *add_key(key_order *o, const char *key)
{
    held_key *h = calloc(1, sizeof *h);
    if (!h || !(h->key = strdup(key))) {
        free(h);
        return NULL;
    }
    held_key **p = &o->keys;
    while (*p)
        p = &(*p)->next;
    *p = h;
    return h;
}

/* Puts m at position `at` of the key's messages; false when out of memory. */
static bool insert_message(key_order *o, held_key *h, size_t at, pulsar_message *m)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 4;
        pulsar_message **grown = realloc(h->msgs, cap * sizeof *grown);
        if (!grown)
            return false;
        h->msgs = grown;
        h->cap = cap;
    }
    memmove(h->msgs + at + 1, h->msgs + at, (h->n - at) * sizeof *h->msgs);
    h->msgs[at] = m;
    h->n++;
    o->n_held++;
    return true;
}

/* Without memory to keep m, the broker delivers it again later: its
 * order may then suffer, but it is not lost. */
static void give_back(key_order *o, pulsar_message *m)
{
    o->ops.give_back(o->ctx, m, o->opt.retry_base_delay_ms);
    o->ops.release(o->ctx, m);
}


void key_order_new_session(key_order *o, uint64_t session)
{
    if (session <= o->session)
        return;
    o->session = session;
    for (held_key *h = o->keys; h; h = h->next) {
        size_t kept = 0;
        for (size_t i = 0; i < h->n; i++) {
            if (h->msgs[i]->session >= session) {
                h->msgs[kept++] = h->msgs[i];
                continue;
            }
            if (i == 0) {
                h->head_failures = 0;
                h->due_ms = 0;
            }
            o->ops.release(o->ctx, h->msgs[i]);
            o->n_held--;
        }
        h->n = kept;
    }
    drop_empty_keys(o);
}

size_t key_order_take_due(key_order *o, int64_t now_ms, pulsar_message **out, uint32_t *attempts, size_t max)
{
    size_t n = 0;
    for (held_key *h = o->keys; h && n < max; h = h->next) {
        if (h->due_ms > now_ms)
            continue;
        size_t take = h->n < max - n ? h->n : max - n;
        for (size_t i = 0; i < take; i++) {
            out[n] = h->msgs[i];
            attempts[n] = h->msgs[i]->redelivery_count + (i == 0 ? h->head_failures : 0);
            n++;
        }
        memmove(h->msgs, h->msgs + take, (h->n - take) * sizeof *h->msgs);
        h->n -= take;
        o->n_held -= take;
        /* What did not fit goes next round; its first message has not failed. */
        h->head_failures = 0;
    }
    drop_empty_keys(o);
    return n;
}

int64_t key_order_next_due_in(const key_order *o, int64_t now_ms)
{
    int64_t soonest = -1;
    for (const held_key *h = o->keys; h; h = h->next) {
        int64_t in = h->due_ms > now_ms ? h->due_ms - now_ms : 0;
        if (soonest < 0 || in < soonest)
            soonest = in;
    }
    return soonest;
}

bool key_order_full(const key_order *o) { return o->n_held >= o->opt.max_held; }

bool key_order_hold_if_waiting(key_order *o, pulsar_message *m)
{
    held_key *h = find_key(o, m->key);
    if (!h)
        return false;
    if (!insert_message(o, h, h->n, m))
        give_back(o, m);
    return true;
}

/* The first message of its key in the round that was not acknowledged. */
static void settle_head(key_order *o, held_key *h, int64_t now_ms, pulsar_message *m, uint32_t attempt,
                        const oms_bus_outcome *out)
{
    h->failed_in_round = true;
    bool exhausted = out->disposition == OMS_BUS_DEAD || attempt >= o->opt.max_redeliveries;
    const char *reason = out->reason[0] ? out->reason : "max redeliveries reached";
    if (exhausted && o->ops.dead_letter(o->ctx, m, reason)) {
        o->ops.release(o->ctx, m);
        /* Whatever waits behind it goes on at once. */
        h->head_failures = 0;
        h->due_ms = now_ms;
        return;
    }
    if (!insert_message(o, h, h->insert_at, m)) {
        give_back(o, m);
        h->due_ms = now_ms + o->opt.retry_base_delay_ms;
        return;
    }
    h->insert_at++;
    h->head_failures = attempt - m->redelivery_count + 1;
    h->due_ms = now_ms + key_order_retry_delay(&o->opt, attempt);
}

void key_order_settle(key_order *o, int64_t now_ms, pulsar_message **ms, const uint32_t *attempts,
                      const oms_bus_outcome *out, size_t n)
{
    for (held_key *h = o->keys; h; h = h->next) {
        h->failed_in_round = false;
        h->insert_at = 0;
    }
    for (size_t i = 0; i < n; i++) {
        pulsar_message *m = ms[i];
        bool acked = out[i].disposition == OMS_BUS_ACK;
        if (acked)
            o->ops.ack(o->ctx, m);
        if (acked || m->session < o->session) {
            /* Handled, or of an earlier session: the broker has it again. */
            o->ops.release(o->ctx, m);
            continue;
        }
        held_key *h = find_key(o, m->key);
        if (h && h->failed_in_round) {
            if (insert_message(o, h, h->insert_at, m))
                h->insert_at++;
            else
                give_back(o, m);
            continue;
        }
        if (!h && !(h = add_key(o, m->key))) {
            give_back(o, m);
            continue;
        }
        settle_head(o, h, now_ms, m, attempts[i], &out[i]);
    }
    drop_empty_keys(o);
}
