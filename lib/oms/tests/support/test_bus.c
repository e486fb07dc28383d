/* test_bus.c -- see test_bus.h. */
#include "test_bus.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_EACH 64

typedef struct each {
    test_bus_fn fn;
    void *ctx;
} each;

static each subscriptions[MAX_EACH];
static size_t used;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

bool test_bus_earlier_of_key_failed(const oms_bus_message *msgs, const oms_bus_outcome *out, size_t i)
{
    for (size_t j = 0; msgs[i].key && j < i; j++) {
        if (out[j].disposition != OMS_BUS_ACK && msgs[j].key && strcmp(msgs[j].key, msgs[i].key) == 0)
            return true;
    }
    return false;
}

static void each_message(void *ctx, const oms_bus_message *msgs, size_t n, oms_arena *a, oms_bus_outcome *out)
{
    const each *e = ctx;
    for (size_t i = 0; i < n; i++) {
        out[i].reason[0] = '\0';
        if (test_bus_earlier_of_key_failed(msgs, out, i)) {
            out[i].disposition = OMS_BUS_RETRY;
            snprintf(out[i].reason, sizeof out[i].reason, "an earlier message of its key was not handled");
            continue;
        }
        out[i].disposition = e->fn(e->ctx, &msgs[i], a, out[i].reason, sizeof out[i].reason);
    }
}

oms_err test_bus_subscribe_each(oms_bus *b, const char *topic, const char *subscription, test_bus_fn fn, void *ctx,
                                oms_error *err)
{
    pthread_mutex_lock(&lock);
    each *e = used < MAX_EACH ? &subscriptions[used++] : NULL;
    pthread_mutex_unlock(&lock);
    if (!e)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "test_bus: more than %d subscriptions", MAX_EACH);
    *e = (each){.fn = fn, .ctx = ctx};
    return oms_bus_subscribe(b, topic, subscription, each_message, e, err);
}
