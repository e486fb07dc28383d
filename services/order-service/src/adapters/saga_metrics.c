/* saga_metrics.c -- see saga_metrics.h. Every (reason, step) pair is
 * exported, 0 when none, so an alert's series never vanishes. */
#include "adapters/saga_metrics.h"

#include <stdio.h>
#include <stdlib.h>

#include "oms/log.h"
#include "oms/metrics.h"
#include "oms/ticker.h"

struct saga_metrics {
    order_queries *queries;
    oms_ticker *ticker;
};

static const double age_bounds[SAGA_AGE_BUCKETS] = SAGA_AGE_BOUNDS_S;

static void set_stuck(const saga_stats *st)
{
    for (int r = 1; r < SAGA_STUCK_COUNT; r++) {
        for (int step = 0; step < SAGA_STEP_COUNT; step++) {
            char labels[96];
            snprintf(labels, sizeof labels, "reason=\"%s\",step=\"%s\"", saga_stuck_reason_name((saga_stuck_reason)r),
                     saga_step_name((saga_step)step));
            oms_gauge_set(oms_metrics_gauge("oms_sagas_stuck", "Unfinished sagas by stuck reason and current step.",
                                            labels),
                          (double)st->stuck[r][step]);
        }
    }
}

oms_err saga_metrics_refresh(order_queries *q, oms_arena *a, oms_error *err)
{
    static const saga_settings defaults = {.step_timeout_s = 30, .max_attempts = 5};
    saga_stats st;
    oms_err rc = order_read_model_saga_stats(q->read_model, a, oms_clock_now_ms(q->clock),
                                             saga_compensation_limit(q->saga ? q->saga : &defaults), &st, err);
    if (rc != OMS_OK)
        return rc;
    set_stuck(&st);
    uint64_t per_bucket[SAGA_AGE_BUCKETS + 1];
    for (int i = 0; i <= SAGA_AGE_BUCKETS; i++)
        per_bucket[i] = (uint64_t)st.age_bucket[i];
    oms_histogram_set(oms_metrics_histogram_bounds("oms_saga_age_seconds", "Age of the sagas not ended, in seconds.",
                                                   NULL, age_bounds, SAGA_AGE_BUCKETS),
                      per_bucket, st.age_sum_s);
    return OMS_OK;
}

static void tick(void *ctx, oms_arena *a)
{
    saga_metrics *m = ctx;
    oms_error err;
    oms_error_clear(&err);
    if (saga_metrics_refresh(m->queries, a, &err) != OMS_OK)
        oms_log(OMS_LOG_WARN, "saga_metrics_failed", "error", err.message, NULL);
}

saga_metrics *saga_metrics_start(order_queries *q, int interval_ms, oms_error *err)
{
    saga_metrics *m = calloc(1, sizeof *m);
    if (!m) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    m->queries = q;
    oms_arena *a = oms_arena_create(0);
    if (a) {
        tick(m, a);
        oms_arena_destroy(a);
    }
    m->ticker = oms_ticker_start(interval_ms > 0 ? interval_ms : SAGA_METRICS_INTERVAL_MS, tick, m, err);
    if (!m->ticker) {
        free(m);
        return NULL;
    }
    return m;
}

void saga_metrics_stop(saga_metrics *m)
{
    if (!m)
        return;
    oms_ticker_stop(m->ticker);
    free(m);
}
