/* deadline_scanner.c -- the deadline thread.
 *
 * Recovery after a crash or restart needs nothing else: the saga row holds
 * its state, step, command_id and deadline, so a saga whose process died
 * mid-step is found here when its deadline passes and its command is sent
 * again (same command_id, new event_id) through the outbox; messages already
 * committed to the outbox are published by the relay when it starts again,
 * and replies already in the durable bus are delivered to the consumers. So
 * every unfinished saga resumes (tests/integration/test_order_pg.c proves it). */
#include "adapters/deadline_scanner.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "oms/log.h"
#include "oms/wait.h"

struct deadline_scanner {
    order_app *app;
    int interval_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};

static void scan_until_idle(deadline_scanner *s, oms_arena *a)
{
    for (;;) {
        size_t handled = 0;
        oms_error err;
        oms_error_clear(&err);
        oms_err rc = order_on_step_deadlines(s->app, a, DEADLINE_SCAN_BATCH, &handled, &err);
        oms_arena_reset(a);
        if (rc != OMS_OK) {
            oms_log(OMS_LOG_WARN, "deadline_scan_failed", "error", err.message, NULL);
            return;
        }
        if (handled < DEADLINE_SCAN_BATCH)
            return;
    }
}

/* Sleeps interval_ms (on the monotonic clock: a wall-clock jump neither
 * stretches nor cuts it) unless stopped; returns false once stopping. */
static bool wait_interval(deadline_scanner *s)
{
    struct timespec until = oms_deadline_in(s->interval_ms);
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        if (pthread_cond_timedwait(&s->wake, &s->lock, &until) == ETIMEDOUT)
            break;
    }
    bool go_on = !s->stopping;
    pthread_mutex_unlock(&s->lock);
    return go_on;
}

static void *scanner_main(void *arg)
{
    deadline_scanner *s = arg;
    oms_arena *a = oms_arena_create(0);
    if (!a) {
        oms_log(OMS_LOG_ERROR, "deadline_scanner_no_memory", NULL);
        return NULL;
    }
    while (wait_interval(s))
        scan_until_idle(s, a);
    oms_arena_destroy(a);
    return NULL;
}

deadline_scanner *deadline_scanner_start(order_app *app, int interval_ms, oms_error *err)
{
    deadline_scanner *s = calloc(1, sizeof *s);
    if (!s) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    s->app = app;
    s->interval_ms = interval_ms > 0 ? interval_ms : DEADLINE_SCAN_INTERVAL_MS;
    pthread_mutex_init(&s->lock, NULL);
    oms_cond_init_monotonic(&s->wake);
    if (pthread_create(&s->thread, NULL, scanner_main, s) != 0) {
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->wake);
        free(s);
        oms_error_set(err, OMS_EINTERNAL, NULL, "cannot start the deadline scanner thread");
        return NULL;
    }
    return s;
}

void deadline_scanner_stop(deadline_scanner *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(s);
}
