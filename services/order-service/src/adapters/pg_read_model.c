/* pg_read_model.c -- the read model (order_view) and saga reads.
 *
 * project() runs on the command's write transaction, so the view never lags
 * the order; every read borrows a connection of the read pool (READ_POSTGRES_*,
 * by default the same database), so heavy reads never hold write connections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/pg_adapters.h"
#include "oms/json.h"

#define READ_ACQUIRE_TIMEOUT_MS 5000
#define VIEW_COLUMNS                                                                                                   \
    "id, customer_id, status, total_cents, saga_id, failure_reason, cancellation_reason, " PG_TS_TO_MS(                \
        "created_at") ", " PG_TS_TO_MS("modified_at") ", items::text"

static oms_err project(order_read_model *m, oms_tx *tx, oms_arena *a, const order *o, oms_error *err)
{
    (void)m;
    json_t *items = order_items_storage_json(o);
    char *items_text = items ? oms_json_dump(a, items, NULL) : NULL;
    json_decref(items);
    const char *params[] = {o->id,
                            o->customer_id,
                            order_status_name(o->status),
                            oms_pg_int_param(a, o->total_cents),
                            o->saga_id,
                            o->failure_reason,
                            o->cancellation_reason,
                            oms_pg_int_param(a, o->created_at_ms),
                            oms_pg_int_param(a, o->modified_at_ms),
                            items_text};
    if (!items_text || !params[3] || !params[7] || !params[8])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    return oms_pg_tx_exec_deferred(tx,
                                   "INSERT INTO order_view (id, customer_id, status, total_cents, saga_id,"
                                   " failure_reason, cancellation_reason, created_at, modified_at, items)"
                                   " VALUES ($1, $2, $3, $4, $5, $6, $7, " PG_MS_TO_TS("$8") ", " PG_MS_TO_TS(
                                       "$9") ", $10::jsonb)"
                                             " ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,"
                                             " failure_reason = EXCLUDED.failure_reason,"
                                             " cancellation_reason = EXCLUDED.cancellation_reason,"
                                             " modified_at = EXCLUDED.modified_at",
                                   10, params, err);
}

/* Runs one read on a borrowed connection of the read pool. */
static PGresult *read_query(order_read_model *m, oms_arena *a, const char *sql, int n, const char *const *params,
                            oms_error *err)
{
    oms_pg_pool *pool = m->self;
    PGconn *c = oms_pg_acquire(pool, READ_ACQUIRE_TIMEOUT_MS, err);
    if (!c)
        return NULL;
    PGresult *r = oms_pg_exec(a, c, sql, n, params, err);
    oms_pg_release(pool, c, !r && err->code == OMS_EUNAVAILABLE);
    return r;
}

static oms_err order_from_row(oms_arena *a, const PGresult *r, int row, order *out, oms_error *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", oms_pg_value(r, row, 0));
    out->customer_id = oms_pg_value(r, row, 1);
    if (!order_status_parse(oms_pg_value(r, row, 2), &out->status))
        return oms_error_set(err, OMS_EINTERNAL, NULL, "order %s has an unknown status", out->id);
    snprintf(out->saga_id, sizeof out->saga_id, "%s", oms_pg_value(r, row, 4));
    out->failure_reason = oms_pg_value(r, row, 5);
    out->cancellation_reason = oms_pg_value(r, row, 6);
    oms_err rc = oms_pg_int_value(r, row, 3, &out->total_cents, err);
    if (rc == OMS_OK)
        rc = oms_pg_int_value(r, row, 7, &out->created_at_ms, err);
    if (rc == OMS_OK)
        rc = oms_pg_int_value(r, row, 8, &out->modified_at_ms, err);
    if (rc == OMS_OK)
        rc = order_items_from_storage_json(a, oms_pg_value(r, row, 9), out, err);
    return rc;
}

static oms_err get_order(order_read_model *m, oms_arena *a, const char *order_id, order *out, oms_error *err)
{
    PGresult *r = read_query(m, a, "SELECT " VIEW_COLUMNS " FROM order_view WHERE id = $1", 1,
                             (const char *[]){order_id}, err);
    if (!r)
        return err->code;
    if (PQntuples(r) == 0)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "order %s not found", order_id);
    return order_from_row(a, r, 0, out, err);
}

static oms_err list_orders(order_read_model *m, oms_arena *a, const order_list_filter *f, order **out, size_t *count,
                           oms_error *err)
{
    *count = 0;
    const char *params[] = {f->customer_id, f->has_status ? order_status_name(f->status) : NULL,
                            f->has_cursor ? oms_pg_int_param(a, f->cursor_created_ms) : NULL,
                            f->has_cursor ? f->cursor_id : NULL, oms_pg_int_param(a, f->limit)};
    PGresult *r = read_query(m, a,
                             "SELECT " VIEW_COLUMNS " FROM order_view"
                             " WHERE ($1::text IS NULL OR customer_id = $1)"
                             " AND ($2::text IS NULL OR status = $2)"
                             " AND ($3::bigint IS NULL OR (created_at, id) < (" PG_MS_TO_TS(
                                 "$3") ", $4::uuid))"
                                       " ORDER BY created_at DESC, id DESC LIMIT $5",
                             5, params, err);
    if (!r)
        return err->code;
    int n = PQntuples(r);
    *out = oms_arena_calloc(a, n ? (size_t)n : 1, sizeof **out);
    if (!*out)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (int i = 0; i < n; i++) {
        oms_err rc = order_from_row(a, r, i, &(*out)[i], err);
        if (rc != OMS_OK)
            return rc;
    }
    *count = (size_t)n;
    return OMS_OK;
}

static oms_err count_by_customer(order_read_model *m, oms_arena *a, const char *customer_id, int64_t *count,
                                 oms_error *err)
{
    PGresult *r = read_query(m, a, "SELECT count(*) FROM order_view WHERE customer_id = $1", 1,
                             (const char *[]){customer_id}, err);
    return r ? oms_pg_int_value(r, 0, 0, count, err) : err->code;
}

static oms_err step_from_row(const PGresult *r, int row, saga_log_entry *e, oms_error *err)
{
    int64_t seq = 0;
    oms_err rc = oms_pg_int_value(r, row, 0, &seq, err);
    if (rc == OMS_OK)
        rc = oms_pg_int_value(r, row, 1, &e->at_ms, err);
    if (rc != OMS_OK)
        return rc;
    e->seq = (int)seq;
    if (!saga_log_kind_parse(oms_pg_value(r, row, 2), &e->kind) ||
        !saga_step_parse(oms_pg_value(r, row, 3), &e->step) ||
        !order_status_parse(oms_pg_value(r, row, 4), &e->from_state) ||
        !order_status_parse(oms_pg_value(r, row, 5), &e->to_state))
        return oms_error_set(err, OMS_EINTERNAL, NULL, "saga log row %d is malformed", (int)seq);
    e->event_id = oms_pg_value(r, row, 6);
    e->detail = oms_pg_value(r, row, 7);
    return OMS_OK;
}

static oms_err saga_steps(order_read_model *m, oms_arena *a, const char *saga_id, saga_log_entry **out, size_t *count,
                          oms_error *err)
{
    *count = 0;
    PGresult *r = read_query(
        m, a,
        "SELECT seq, " PG_TS_TO_MS("at") ", kind, step, from_state, to_state, event_id,"
                                         " detail FROM saga_step_log WHERE saga_id = $1 ORDER BY seq",
        1, (const char *[]){saga_id}, err);
    if (!r)
        return err->code;
    int n = PQntuples(r);
    *out = oms_arena_calloc(a, n ? (size_t)n : 1, sizeof **out);
    if (!*out)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (int i = 0; i < n; i++) {
        oms_err rc = step_from_row(r, i, &(*out)[i], err);
        if (rc != OMS_OK)
            return rc;
    }
    *count = (size_t)n;
    return OMS_OK;
}

/* A saga row with its derived stuck reason and customer (saga_list_filter
 * in order_read_model.h states the rule; $3 now, $10 the compensation
 * limit), and the WHERE of every filter: $1 state, $2 stuck only, $4
 * inconsistent only, $5 step, $6 stuck reason, $7 customer, $8 order,
 * $9 created before. */
#define SAGA_STUCK_SQL                                                                                                 \
    "CASE WHEN s.state IN ('FAILED', 'CANCELLED') THEN NULL"                                                           \
    " WHEN s.paused THEN 'paused'"                                                                                     \
    " WHEN s.state = 'COMPENSATING' AND s.attempts >= $10::int THEN 'compensation_blocked'"                            \
    " WHEN EXISTS (SELECT 1 FROM saga_dead_letters d WHERE d.order_id = s.order_id)"                                   \
    " THEN 'waiting_on_dead_letter'"                                                                                   \
    " WHEN s.deadline < " PG_MS_TO_TS("$3") " THEN 'deadline_exceeded'"                                                \
                                            " WHEN s.attempts > 1 THEN 'retrying' END"
#define SAGA_FILTERED_SQL                                                                                              \
    " FROM (SELECT s.*, " SAGA_STUCK_SQL " AS stuck_reason, v.customer_id, v.total_cents"                              \
    " FROM sagas s LEFT JOIN order_view v ON v.id = s.order_id) f"                                                     \
    " WHERE ($1::text IS NULL OR state = $1)"                                                                          \
    " AND (NOT $2::boolean OR (state NOT IN ('FAILED', 'CANCELLED') AND (state = 'COMPENSATING'"                       \
    " OR deadline < " PG_MS_TO_TS("$3") " OR stuck_reason IS NOT NULL)))"                                              \
                                        " AND (NOT $4::boolean OR inconsistency IS NOT NULL)"                          \
                                        " AND ($5::text IS NULL OR current_step = $5)"                                 \
                                        " AND ($6::text IS NULL OR stuck_reason = $6)"                                 \
                                        " AND ($7::text IS NULL OR customer_id = $7)"                                  \
                                        " AND ($8::uuid IS NULL OR order_id = $8::uuid)"                               \
                                        " AND ($9::bigint IS NULL OR created_at < " PG_MS_TO_TS("$9") ")"
#define SAGA_FILTER_PARAMS 10

/* The sort key of a page: oldest first, or nearest deadline first (none last). */
#define SAGA_SORT_KEY_SQL                                                                                              \
    "(CASE WHEN $11::text = 'age' THEN date_trunc('milliseconds', created_at)"                                         \
    " ELSE coalesce(deadline, 'infinity') END)"

static void filter_params(oms_arena *a, const saga_list_filter *f, const char **params)
{
    params[0] = f->has_state ? order_status_name(f->state) : NULL;
    params[1] = f->stuck_only ? "t" : "f";
    params[2] = oms_pg_int_param(a, f->now_ms);
    params[3] = f->inconsistent_only ? "t" : "f";
    params[4] = f->has_step ? saga_step_name(f->step) : NULL;
    params[5] = f->has_stuck_reason ? saga_stuck_reason_name(f->stuck_reason) : NULL;
    params[6] = f->customer_id;
    params[7] = f->order_id;
    params[8] = f->created_before_ms ? oms_pg_int_param(a, f->created_before_ms) : NULL;
    params[9] = oms_pg_int_param(a, f->compensation_limit);
}

static oms_err list_sagas(order_read_model *m, oms_arena *a, const saga_list_filter *f, saga **out, size_t *count,
                          oms_error *err)
{
    *count = 0;
    const char *params[SAGA_FILTER_PARAMS + 4];
    filter_params(a, f, params);
    params[10] = f->sort == SAGA_SORT_AGE ? "age" : "urgency";
    params[11] = f->has_cursor ? oms_pg_int_param(a, f->cursor_key_ms) : NULL;
    params[12] = f->has_cursor ? f->cursor_id : NULL;
    params[13] = oms_pg_int_param(a, f->limit);
    /* A cursor key of 0 is "no deadline" (sorted last as infinity). */
    PGresult *r = read_query(
        m, a,
        "SELECT " PG_SAGA_COLUMNS
        ", coalesce(stuck_reason, ''), coalesce(customer_id, ''), coalesce(total_cents, 0)" SAGA_FILTERED_SQL
        " AND ($12::bigint IS NULL OR (" SAGA_SORT_KEY_SQL ", id) > (CASE WHEN $12::bigint = 0"
        " THEN 'infinity'::timestamptz ELSE " PG_MS_TO_TS("$12") " END, $13::uuid))"
                                                                 " ORDER BY " SAGA_SORT_KEY_SQL ", id LIMIT $14",
        SAGA_FILTER_PARAMS + 4, params, err);
    if (!r)
        return err->code;
    int n = PQntuples(r);
    *out = oms_arena_calloc(a, n ? (size_t)n : 1, sizeof **out);
    if (!*out)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (int i = 0; i < n; i++) {
        saga *s = &(*out)[i];
        oms_err rc = pg_saga_from_row(r, i, s, err);
        if (rc != OMS_OK)
            return rc;
        const char *reason = oms_pg_value(r, i, PG_SAGA_COLUMN_COUNT);
        if (reason[0] && !saga_stuck_reason_parse(reason, &s->stuck))
            return oms_error_set(err, OMS_EINTERNAL, NULL, "unknown stuck reason %s", reason);
        snprintf(s->customer_id, sizeof s->customer_id, "%s", oms_pg_value(r, i, PG_SAGA_COLUMN_COUNT + 1));
        rc = oms_pg_int_value(r, i, PG_SAGA_COLUMN_COUNT + 2, &s->total_cents, err);
        if (rc != OMS_OK)
            return rc;
    }
    *count = (size_t)n;
    return OMS_OK;
}

static oms_err count_sagas(order_read_model *m, oms_arena *a, const saga_list_filter *f, int64_t *count, oms_error *err)
{
    const char *params[SAGA_FILTER_PARAMS];
    filter_params(a, f, params);
    PGresult *r = read_query(m, a, "SELECT count(*)" SAGA_FILTERED_SQL, SAGA_FILTER_PARAMS, params, err);
    return r ? oms_pg_int_value(r, 0, 0, count, err) : err->code;
}

/* The age buckets' bounds as a PostgreSQL array literal. */
static const char *age_bounds_param(oms_arena *a)
{
    static const double bounds[SAGA_AGE_BUCKETS] = SAGA_AGE_BOUNDS_S;
    char text[160];
    size_t len = 0;
    for (int i = 0; i < SAGA_AGE_BUCKETS && len < sizeof text; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%s%g", i ? "," : "{", bounds[i]);
    return oms_arena_sprintf(a, "%s}", text);
}

/* One row per (stuck reason, step) with its count, then the age buckets
 * (width_bucket over the bounds: 0 below the first, n past the last). */
static oms_err saga_stats_read(order_read_model *m, oms_arena *a, int64_t now_ms, int compensation_limit,
                               saga_stats *out, oms_error *err)
{
    memset(out, 0, sizeof *out);
    const saga_list_filter open = {.now_ms = now_ms, .compensation_limit = compensation_limit};
    const char *params[SAGA_FILTER_PARAMS + 1];
    filter_params(a, &open, params);
    params[SAGA_FILTER_PARAMS] = age_bounds_param(a);
    PGresult *r = read_query(m, a,
                             "SELECT 's', coalesce(stuck_reason, ''), current_step, count(*), 0" SAGA_FILTERED_SQL
                             " AND state NOT IN ('FAILED', 'CANCELLED') AND stuck_reason IS NOT NULL"
                             " GROUP BY 2, 3"
                             " UNION ALL SELECT 'a', '', width_bucket(age, $11::float8[])::text, count(*), sum(age)"
                             " FROM (SELECT extract(epoch from " PG_MS_TO_TS(
                                 "$3") " - created_at)::float8 AS age" SAGA_FILTERED_SQL
                                       " AND state NOT IN ('FAILED', 'CANCELLED')) ages GROUP BY 3",
                             SAGA_FILTER_PARAMS + 1, params, err);
    if (!r)
        return err->code;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t n = 0;
        oms_err rc = oms_pg_int_value(r, i, 3, &n, err);
        if (rc != OMS_OK)
            return rc;
        saga_stuck_reason reason;
        saga_step step;
        if (oms_pg_value(r, i, 0)[0] == 's') {
            if (saga_stuck_reason_parse(oms_pg_value(r, i, 1), &reason) &&
                saga_step_parse(oms_pg_value(r, i, 2), &step))
                out->stuck[reason][step] += n;
            continue;
        }
        int bucket = atoi(oms_pg_value(r, i, 2));
        if (bucket < 0 || bucket > SAGA_AGE_BUCKETS)
            continue;
        out->age_bucket[bucket] += n;
        out->open += n;
        out->age_sum_s += atof(oms_pg_value(r, i, 4));
    }
    return OMS_OK;
}

static const order_read_model_ops ops = {
    .project = project,
    .get = get_order,
    .list = list_orders,
    .count_by_customer = count_by_customer,
    .saga_steps = saga_steps,
    .list_sagas = list_sagas,
    .count_sagas = count_sagas,
    .saga_stats = saga_stats_read,
};

order_read_model pg_read_model(oms_pg_pool *read_pool) { return (order_read_model){.ops = &ops, .self = read_pool}; }
