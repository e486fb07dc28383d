/* saga_metrics.c -- see saga_metrics.h. Every (reason, step) pair is
 * exported, 0 when none, so an alert's series never vanishes. */
#include "adapters/saga_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oms/log.h"
#include "oms/metrics.h"
#include "oms/ticker.h"

struct saga_metrics {
    order_queries *queries;
    order_app *app;
    oms_bus *const *bus;
    oms_ticker *ticker;
};

/* Dead letters per order, while reading. */
typedef struct dl_count {
    const char *key;
    int64_t n;
} dl_count;

static void count_in(dl_count *list, size_t *len, size_t cap, const char *key)
{
    for (size_t i = 0; i < *len; i++) {
        if (strcmp(list[i].key, key) == 0) {
            list[i].n++;
            return;
        }
    }
    if (*len < cap)
        list[(*len)++] = (dl_count){key, 1};
}

/* The orders' counts into the table the stuck reason reads, in one tx. */
static oms_err store_dead_lettered(order_app *app, oms_arena *a, const dl_count *orders, size_t n, oms_error *err)
{
    const char **ids = oms_arena_calloc(a, n ? n : 1, sizeof *ids);
    const char **counts = oms_arena_calloc(a, n ? n : 1, sizeof *counts);
    if (!ids || !counts)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        ids[i] = orders[i].key;
        counts[i] = oms_arena_sprintf(a, "%lld", (long long)orders[i].n);
    }
    oms_tx *tx = NULL;
    oms_err rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    rc = saga_repo_replace_dead_lettered(app->sagas, tx, a, ids, counts, n, err);
    return oms_tx_finish(app->tx, tx, rc, err);
}

oms_err saga_metrics_refresh_dead_letters(order_app *app, oms_bus *bus, oms_arena *a, oms_error *err)
{
    size_t order_count = 0;
    dl_count *orders = oms_arena_calloc(a, SAGA_DEAD_LETTER_SCAN_MAX, sizeof *orders);
    if (!orders)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    oms_dead_letter_filter f = {.status = OMS_DEAD_LETTER_DEAD, .limit = OMS_DEAD_LETTER_PAGE_MAX};
    for (size_t read = 0; read < SAGA_DEAD_LETTER_SCAN_MAX;) {
        oms_dead_letter *page = NULL;
        size_t got = 0;
        oms_err rc = oms_bus_dead_letters(bus, &f, a, &page, &got, err);
        if (rc != OMS_OK)
            return rc;
        for (size_t i = 0; i < got; i++) {
            if (page[i].order_id && oms_uuid_valid(page[i].order_id))
                count_in(orders, &order_count, SAGA_DEAD_LETTER_SCAN_MAX, page[i].order_id);
        }
        read += got;
        if (got < (size_t)OMS_DEAD_LETTER_PAGE_MAX)
            break;
        f.after_id = page[got - 1].id;
    }
    return store_dead_lettered(app, a, orders, order_count, err);
}

static const double age_bounds[SAGA_AGE_BUCKETS] = SAGA_AGE_BOUNDS_S;

static void set_stuck(const saga_stats *st)
{
    for (int r = 1; r < SAGA_STUCK_COUNT; r++) {
        for (int step = 0; step < SAGA_STEP_COUNT; step++) {
            char labels[96];
            snprintf(labels, sizeof labels, "reason=\"%s\",step=\"%s\"", saga_stuck_reason_name((saga_stuck_reason)r),
                     saga_step_name((saga_step)step));
            oms_gauge_set(
                oms_metrics_gauge("oms_sagas_stuck", "Unfinished sagas by stuck reason and current step.", labels),
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
    oms_bus *bus = m->bus ? __atomic_load_n(m->bus, __ATOMIC_ACQUIRE) : NULL;
    oms_err rc = bus ? saga_metrics_refresh_dead_letters(m->app, bus, a, &err) : OMS_OK;
    if (rc != OMS_OK && rc != OMS_EUNSUPPORTED)
        oms_log(OMS_LOG_WARN, "dead_letter_scan_failed", "error", err.message, NULL);
    oms_error_clear(&err);
    if (saga_metrics_refresh(m->queries, a, &err) != OMS_OK)
        oms_log(OMS_LOG_WARN, "saga_metrics_failed", "error", err.message, NULL);
}

saga_metrics *saga_metrics_start(order_queries *q, order_app *app, oms_bus *const *bus, int interval_ms, oms_error *err)
{
    saga_metrics *m = calloc(1, sizeof *m);
    if (!m) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    m->queries = q;
    m->app = app;
    m->bus = bus;
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
