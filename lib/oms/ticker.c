/* ticker.c -- see ticker.h. */
#include "ticker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "log.h"
#include "wait.h"

struct oms_ticker {
    int interval_ms;
    oms_tick_fn fn;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};

/* Sleeps interval_ms (on the monotonic clock: a wall-clock jump neither
 * stretches nor cuts it) unless stopped; returns false once stopping. */
static bool wait_interval(oms_ticker *t)
{
    struct timespec until = oms_deadline_in(t->interval_ms);
    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        if (pthread_cond_timedwait(&t->wake, &t->lock, &until) == ETIMEDOUT)
            break;
    }
    bool go_on = !t->stopping;
    pthread_mutex_unlock(&t->lock);
    return go_on;
}

static void *ticker_main(void *arg)
{
    oms_ticker *t = arg;
    oms_arena *a = oms_arena_create(0);
    if (!a) {
        oms_log(OMS_LOG_ERROR, "ticker_no_memory", NULL);
        return NULL;
    }
    while (wait_interval(t)) {
        t->fn(t->ctx, a);
        oms_arena_reset(a);
    }
    oms_arena_destroy(a);
    return NULL;
}

oms_ticker *oms_ticker_start(int interval_ms, oms_tick_fn fn, void *ctx, oms_error *err)
{
    oms_ticker *t = calloc(1, sizeof *t);
    if (!t) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    t->interval_ms = interval_ms > 0 ? interval_ms : 1;
    t->fn = fn;
    t->ctx = ctx;
    pthread_mutex_init(&t->lock, NULL);
    oms_cond_init_monotonic(&t->wake);
    if (pthread_create(&t->thread, NULL, ticker_main, t) != 0) {
        pthread_mutex_destroy(&t->lock);
        pthread_cond_destroy(&t->wake);
        free(t);
        oms_error_set(err, OMS_EINTERNAL, NULL, "cannot start a background thread");
        return NULL;
    }
    return t;
}

void oms_ticker_stop(oms_ticker *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->wake);
    free(t);
}
