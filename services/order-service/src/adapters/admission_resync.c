/* admission_resync.c -- see admission_resync.h. */
#include "adapters/admission_resync.h"

#include <stdlib.h>

#include "oms/log.h"
#include "oms/ticker.h"

#define ACQUIRE_TIMEOUT_MS 1000

struct admission_resync {
    saga_admission *adm;
    oms_pg_pool *pool;
    oms_ticker *ticker;
};

/* The predicate of the partial index sagas_due, so the count reads that
 * small index only: a saga is in flight from its first command until a
 * step ends it (deadline NULL) or it fails or is cancelled. */
static const char count_sql[] = "SELECT count(*) FROM sagas"
                                " WHERE deadline IS NOT NULL AND state NOT IN ('FAILED', 'CANCELLED')";

oms_err admission_resync_now(saga_admission *adm, oms_pg_pool *pool, oms_arena *a, oms_error *err)
{
    PGconn *c = oms_pg_acquire(pool, ACQUIRE_TIMEOUT_MS, err);
    if (!c)
        return err->code;
    PGresult *r = oms_pg_exec(a, c, count_sql, 0, NULL, err);
    int64_t counted = 0;
    oms_err rc = r ? oms_pg_int_value(r, 0, 0, &counted, err) : err->code;
    oms_pg_release(pool, c, !r && PQstatus(c) != CONNECTION_OK);
    if (rc == OMS_OK)
        saga_admission_resync(adm, (long)counted);
    return rc;
}

static void tick(void *ctx, oms_arena *a)
{
    admission_resync *r = ctx;
    oms_error err;
    oms_error_clear(&err);
    if (admission_resync_now(r->adm, r->pool, a, &err) != OMS_OK)
        oms_log(OMS_LOG_WARN, "admission_resync_failed", "error", err.message, NULL);
}

admission_resync *admission_resync_start(saga_admission *adm, oms_pg_pool *pool, int interval_ms, oms_error *err)
{
    admission_resync *r = calloc(1, sizeof *r);
    if (!r) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    r->adm = adm;
    r->pool = pool;
    oms_arena *a = oms_arena_create(0);
    if (a) {
        tick(r, a);
        oms_arena_destroy(a);
    }
    r->ticker = oms_ticker_start(interval_ms > 0 ? interval_ms : ADMISSION_RESYNC_INTERVAL_MS, tick, r, err);
    if (!r->ticker) {
        free(r);
        return NULL;
    }
    return r;
}

void admission_resync_stop(admission_resync *r)
{
    if (!r)
        return;
    oms_ticker_stop(r->ticker);
    free(r);
}
