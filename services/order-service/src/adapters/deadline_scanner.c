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

#include <stdlib.h>

#include "oms/log.h"
#include "oms/ticker.h"

struct deadline_scanner {
    order_app *app;
    oms_ticker *ticker;
};

/* One tick: handles due sagas in batches until none is due. */
static void scan_until_idle(void *ctx, oms_arena *a)
{
    deadline_scanner *s = ctx;
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

deadline_scanner *deadline_scanner_start(order_app *app, int interval_ms, oms_error *err)
{
    deadline_scanner *s = calloc(1, sizeof *s);
    if (!s) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    s->app = app;
    s->ticker = oms_ticker_start(interval_ms > 0 ? interval_ms : DEADLINE_SCAN_INTERVAL_MS, scan_until_idle, s, err);
    if (!s->ticker) {
        free(s);
        return NULL;
    }
    return s;
}

void deadline_scanner_stop(deadline_scanner *s)
{
    if (!s)
        return;
    oms_ticker_stop(s->ticker);
    free(s);
}
