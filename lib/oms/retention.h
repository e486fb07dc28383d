/* retention.h -- rows a service keeps for a while, then removes (order-
 * service's idempotency keys; any table with a time column): a sweep
 * deletes the rows of each rule that are older than its retention, and a
 * background job runs the sweep at an interval. */
#ifndef OMS_RETENTION_H
#define OMS_RETENTION_H

#include <stdint.h>

#include "pg.h"

/* What one table keeps. `table` and `time_column` come from code (never
 * from input); `table` is also the metrics' label. */
typedef struct oms_retention_rule {
    const char *table;
    const char *time_column; /* timestamptz */
    int64_t keep_s;          /* rows older than this are removed */
    const char *condition;   /* NULL, or an SQL condition from code the rows must meet too
                              * (order-service: the saga log of ended sagas only) */
} oms_retention_rule;

/* Rows removed per statement: each batch commits on its own, so a sweep
 * never holds many row locks or one long transaction. */
#define OMS_RETENTION_BATCH 1000

/* One sweep over `rules` on `pool`: removes each rule's old rows in batches
 * until none is left. Counts oms_retention_removed_total{table} and, once a
 * rule's sweep completes, sets oms_retention_last_sweep_seconds{table} (Unix
 * time) so an alert can tell a stalled job. *removed (may be NULL) gets the
 * total. Stops at the first failure (OMS_EUNAVAILABLE, ...). */
oms_err oms_retention_sweep(oms_pg_pool *pool, oms_arena *a, const oms_retention_rule *rules, size_t n,
                            int64_t *removed, oms_error *err);

typedef struct oms_retention oms_retention;

/* Starts the background job: a sweep every interval_s (the first one
 * interval_s after start), failures logged (retention_sweep_failed) and
 * retried at the next one. `rules` is copied. NULL with err when the thread
 * cannot start. */
oms_retention *oms_retention_start(oms_pg_pool *pool, const oms_retention_rule *rules, size_t n, int interval_s,
                                   oms_error *err);

/* Stops the job (after the sweep in progress) and frees. NULL allowed. */
void oms_retention_stop(oms_retention *r);

#endif
