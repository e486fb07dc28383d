/* saga_metrics.h -- the gauges of the sagas open now (issue 12 item 1):
 * oms_sagas_stuck{reason,step} and the histogram oms_saga_age_seconds, read
 * from the read model every SAGA_METRICS_INTERVAL_MS by a ticker thread. */
#ifndef ORDER_SAGA_METRICS_H
#define ORDER_SAGA_METRICS_H

#include "application/queries.h"

#define SAGA_METRICS_INTERVAL_MS 10000

typedef struct saga_metrics saga_metrics;

/* Reads once now (so the metrics exist from the start), then every
 * interval_ms. NULL with err when the thread cannot start. */
saga_metrics *saga_metrics_start(order_queries *q, int interval_ms, oms_error *err);

/* One read into the metrics (what each tick does). */
oms_err saga_metrics_refresh(order_queries *q, oms_arena *a, oms_error *err);

/* Stops and frees; NULL allowed. */
void saga_metrics_stop(saga_metrics *m);

#endif
