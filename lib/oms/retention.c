/* retention.c -- see retention.h. */
#include "retention.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "ticker.h"
#include "util.h"

#define ACQUIRE_TIMEOUT_MS 5000

static char *labels_of(oms_arena *a, const oms_retention_rule *rule)
{
    return oms_arena_sprintf(a, "table=\"%s\"", rule->table);
}

/* One batch: the number of rows it removed, or -1 with err. */
static long remove_batch(oms_arena *a, PGconn *c, const oms_retention_rule *rule, oms_error *err)
{
    const char *sql = oms_arena_sprintf(
        a,
        "DELETE FROM \"%s\" WHERE ctid = ANY (ARRAY("
        "SELECT ctid FROM \"%s\" WHERE \"%s\" < now() - $1::bigint * interval '1 second'"
        " AND (%s) LIMIT %d))",
        rule->table, rule->table, rule->time_column, rule->condition ? rule->condition : "true", OMS_RETENTION_BATCH);
    if (!sql) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return -1;
    }
    char keep[24];
    snprintf(keep, sizeof keep, "%" PRId64, rule->keep_s);
    PGresult *r = oms_pg_exec(a, c, sql, 1, (const char *[]){keep}, err);
    return r ? atol(PQcmdTuples(r)) : -1;
}

static oms_err sweep_rule(oms_arena *a, PGconn *c, const oms_retention_rule *rule, int64_t *removed, oms_error *err)
{
    oms_counter *counted = oms_metrics_counter("oms_retention_removed_total",
                                               "Rows removed for being older than their table's retention.",
                                               labels_of(a, rule));
    for (;;) {
        long n = remove_batch(a, c, rule, err);
        if (n < 0)
            return err->code;
        oms_counter_add(counted, (uint64_t)n);
        *removed += n;
        if (n < OMS_RETENTION_BATCH)
            break;
    }
    oms_gauge_set(oms_metrics_gauge("oms_retention_last_sweep_seconds",
                                    "Unix time of the last complete retention sweep of the table.", labels_of(a, rule)),
                  (double)oms_now_ms() / 1000.0);
    return OMS_OK;
}

oms_err oms_retention_sweep(oms_pg_pool *pool, oms_arena *a, const oms_retention_rule *rules, size_t n,
                            int64_t *removed, oms_error *err)
{
    int64_t total = 0;
    PGconn *c = oms_pg_acquire(pool, ACQUIRE_TIMEOUT_MS, err);
    if (!c)
        return err->code;
    oms_err rc = OMS_OK;
    for (size_t i = 0; i < n && rc == OMS_OK; i++)
        rc = sweep_rule(a, c, &rules[i], &total, err);
    oms_pg_release(pool, c, PQstatus(c) != CONNECTION_OK);
    if (removed)
        *removed = total;
    return rc;
}

struct oms_retention {
    oms_pg_pool *pool;
    oms_retention_rule *rules;
    size_t n;
    oms_ticker *ticker;
};

static void sweep_now(void *ctx, oms_arena *a)
{
    oms_retention *r = ctx;
    oms_error err;
    oms_error_clear(&err);
    int64_t removed = 0;
    if (oms_retention_sweep(r->pool, a, r->rules, r->n, &removed, &err) != OMS_OK)
        oms_log(OMS_LOG_WARN, "retention_sweep_failed", "error", err.message, NULL);
    else if (removed > 0)
        oms_log_num(OMS_LOG_INFO, "retention_swept", "removed", (double)removed, NULL);
}

oms_retention *oms_retention_start(oms_pg_pool *pool, const oms_retention_rule *rules, size_t n, int interval_s,
                                   oms_error *err)
{
    oms_retention *r = calloc(1, sizeof *r);
    oms_retention_rule *copy = calloc(n ? n : 1, sizeof *copy);
    if (!r || !copy) {
        free(r);
        free(copy);
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    memcpy(copy, rules, n * sizeof *copy);
    *r = (oms_retention){.pool = pool, .rules = copy, .n = n};
    r->ticker = oms_ticker_start(interval_s * 1000, sweep_now, r, err);
    if (!r->ticker) {
        free(copy);
        free(r);
        return NULL;
    }
    return r;
}

void oms_retention_stop(oms_retention *r)
{
    if (!r)
        return;
    oms_ticker_stop(r->ticker);
    free(r->rules);
    free(r);
}
