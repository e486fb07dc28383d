/* saga_metrics.h -- the gauges of the sagas open now (issue 12 item 1):
 * oms_sagas_stuck{reason,step} and the histogram oms_saga_age_seconds, read
 * from the read model every SAGA_METRICS_INTERVAL_MS by a ticker thread;
 * and, from the bus's dead letters (when the transport lists them), the
 * orders waiting on one (saga_dead_letters: stuck_reason
 * waiting_on_dead_letter). oms_dead_letters{topic} is the job runner's
 * (application/jobs.c). */
#ifndef ORDER_SAGA_METRICS_H
#define ORDER_SAGA_METRICS_H

#include "application/queries.h"
#include "oms/bus.h"

#define SAGA_METRICS_INTERVAL_MS 10000
#define SAGA_DEAD_LETTER_SCAN_MAX 10000 /* dead letters read per refresh */

typedef struct saga_metrics saga_metrics;

/* Reads once now (so the metrics exist from the start), then every
 * interval_ms. `bus` points at the process's bus (set once it subscribed;
 * NULL: no dead letters read). NULL with err when the thread cannot start. */
saga_metrics *saga_metrics_start(order_queries *q, order_app *app, oms_bus *const *bus, int interval_ms,
                                 oms_error *err);

/* One read of the bus's dead letters into the table of orders waiting on
 * one. OMS_EUNSUPPORTED when the transport does
 * not list them. */
oms_err saga_metrics_refresh_dead_letters(order_app *app, oms_bus *bus, oms_arena *a, oms_error *err);

/* One read into the metrics (what each tick does). */
oms_err saga_metrics_refresh(order_queries *q, oms_arena *a, oms_error *err);

/* Stops and frees; NULL allowed. */
void saga_metrics_stop(saga_metrics *m);

#endif
