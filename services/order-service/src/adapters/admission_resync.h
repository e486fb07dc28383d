/* admission_resync.h -- keeps admission control's count of sagas in flight
 * (application/admission.h) true to the database: every
 * ADMISSION_RESYNC_INTERVAL_MS a ticker thread counts the sagas with a step
 * in flight (the deadline scanner's partial index, sagas_due) on the write
 * pool and replaces the in-memory estimate with it. */
#ifndef ORDER_ADMISSION_RESYNC_H
#define ORDER_ADMISSION_RESYNC_H

#include "application/admission.h"
#include "oms/pg.h"

#define ADMISSION_RESYNC_INTERVAL_MS 1000

typedef struct admission_resync admission_resync;

/* Counts once now (so the bound holds from the first request after a
 * restart), then every interval_ms (0: the default). NULL with err when the
 * thread cannot start; a failed count only logs and keeps the estimate. */
admission_resync *admission_resync_start(saga_admission *adm, oms_pg_pool *pool, int interval_ms, oms_error *err);

/* Counts once now; OMS_OK or the database's error. */
oms_err admission_resync_now(saga_admission *adm, oms_pg_pool *pool, oms_arena *a, oms_error *err);

/* Stops the thread and frees. NULL allowed. */
void admission_resync_stop(admission_resync *r);

#endif
