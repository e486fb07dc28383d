/* test_bus.h -- one message at a time over the bus's one handler type (a
 * batch handler), for tests whose handler looks at a single message. */
#ifndef OMS_TEST_BUS_H
#define OMS_TEST_BUS_H

#include <stdbool.h>
#include <stddef.h>

#include "oms/bus.h"

/* Handles one message; `reason` (reason_len bytes) says why on RETRY/DEAD. */
typedef oms_bus_disposition (*test_bus_fn)(void *ctx, const oms_bus_message *m, oms_arena *a, char *reason,
                                           size_t reason_len);

/* Whether a message before msgs[i] of the batch, of the same key, was not
 * acknowledged (out[j] already set): then msgs[i] must be retried without
 * being handled, as the inbox does, for the key's order. */
bool test_bus_earlier_of_key_failed(const oms_bus_message *msgs, const oms_bus_outcome *out, size_t i);

/* oms_bus_subscribe with a batch handler that calls fn(ctx, ...) for each
 * message of a batch in order; a message after one of the same key that was
 * not acknowledged is retried without a call (the key's order). With the
 * pulsar transport, pass batch_size 1 for the bus to hand over one message
 * at a time. At most 64 such subscriptions per test program. */
oms_err test_bus_subscribe_each(oms_bus *b, const char *topic, const char *subscription, test_bus_fn fn, void *ctx,
                                oms_error *err);

#endif
