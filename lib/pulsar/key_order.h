/* key_order.h -- a consumer's per-key order when messages fail (review M8).
 *
 * A message whose handling failed (RETRY) is not handed back to the broker:
 * it stays here as its key's head and is tried again after its delay, and
 * every later message of its key waits behind it, in order: those the
 * handler held back in the same round and those that arrive meanwhile. When
 * the head is handled or dead-lettered, the ones behind it go on at once.
 * So a key's messages are handled in publish order, and a message's attempt
 * number counts its own failures only: one held back behind another is
 * never counted, never dead-lettered for it.
 *
 * Attempt numbers start at the broker's redelivery_count (deliveries before
 * this consumer had it) and grow by one per failure seen here; a failure of
 * attempt number max_redeliveries dead-letters the message, as if the broker
 * had redelivered it that many times. If the consumer subscribes again (a new
 * session), the broker delivers every unacknowledged message again, so the
 * messages held from an earlier session are let go.
 *
 * Pure C: the consumer's actions come through key_order_ops. One thread
 * uses a key_order (a bus worker's). */
#ifndef PULSAR_KEY_ORDER_H
#define PULSAR_KEY_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oms/bus.h"
#include "pulsar/pulsar.h"

typedef struct key_order key_order;

typedef struct key_order_ops {
    void (*ack)(void *ctx, pulsar_message *m);
    /* Stores m in the dead-letter topic and acknowledges it; false when it
     * could not (m is then kept and tried again later). */
    bool (*dead_letter)(void *ctx, pulsar_message *m, const char *reason);
    /* Cannot keep m (out of memory): have the broker deliver it again. */
    void (*give_back)(void *ctx, pulsar_message *m, int delay_ms);
    /* Done with m: free it. */
    void (*release)(void *ctx, pulsar_message *m);
} key_order_ops;

typedef struct key_order_options {
    uint32_t max_redeliveries; /* a failure of attempt number max_redeliveries (the first is 0) dead-letters */
    int retry_base_delay_ms;   /* after the first failure; doubling per attempt */
    int retry_max_delay_ms;    /* the cap */
    size_t max_held;           /* messages held at most; then key_order_full */
} key_order_options;

/* NULL when out of memory. */
key_order *key_order_create(const key_order_ops *ops, void *ctx, const key_order_options *o);

/* Releases every message still held. NULL allowed. */
void key_order_destroy(key_order *o);

/* Lets go of (releases) the messages that arrived in a session before
 * `session`; the broker delivers them again. */
void key_order_new_session(key_order *o, uint64_t session);

/* Takes up to max messages whose turn has come, in their order: the heads
 * whose retry time is past, with the messages behind them. attempts[i] is
 * the attempt number to hand to the handler. */
size_t key_order_take_due(key_order *o, int64_t now_ms, pulsar_message **out, uint32_t *attempts, size_t max);

/* Milliseconds until a held key is due (0: one is due now), or -1 when
 * nothing is held. */
int64_t key_order_next_due_in(const key_order *o, int64_t now_ms);

/* Whether max_held messages are held: take no new message until some go. */
bool key_order_full(const key_order *o);

/* A message just received. true: its key has messages waiting here, so it
 * waits behind them (owned here now); false: handle it now, with attempt
 * number m->redelivery_count. */
bool key_order_hold_if_waiting(key_order *o, pulsar_message *m);

/* What the handler made of a round: ms[0..n) in the order handed over (with
 * their attempt numbers), out[i] the outcome of ms[i]. Each message is then
 * acknowledged, dead-lettered or held here (ownership passes to the
 * key_order in every case: the caller must not free ms[]). Per key, the
 * first message not acknowledged is the head: RETRY holds it for its delay,
 * or dead-letters it at max_redeliveries; DEAD dead-letters it. Every later
 * message of that key in the round is held behind it whatever its outcome
 * (unless ACK: its effects are committed), without counting an attempt. */
void key_order_settle(key_order *o, int64_t now_ms, pulsar_message **ms, const uint32_t *attempts,
                      const oms_bus_outcome *out, size_t n);

/* The delay before attempt `attempt` + 1 after a failure of attempt
 * `attempt`: retry_base_delay_ms doubled per earlier attempt, capped. */
int key_order_retry_delay(const key_order_options *o, uint32_t attempt);

#endif
