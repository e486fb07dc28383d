/* pg_job_repo.c -- jobs and job_items in PostgreSQL (pg_job_repo.h). */
#include "adapters/pg_job_repo.h"

#include <stdio.h>
#include <string.h>

#include "adapters/pg_adapters.h"

#define JOB_ACQUIRE_TIMEOUT_MS 5000

#define JOB_COLUMNS                                                                                                    \
    "id, kind, state, filter_topic, filter_event_type, filter_order_id, filter_since, rate_per_s, total, done,"        \
    " failed, skipped, reason, created_by, " PG_TS_TO_MS("created_at") ", " PG_TS_TO_MS(                               \
        "updated_at") ","                                                                                              \
                      " coalesce(" PG_TS_TO_MS("finished_at") ", 0), " PG_TS_TO_MS(                                    \
                          "next_due_at") ", filter_state, filter_step,"                                                \
                                         " filter_stuck_reason, filter_customer_id, filter_older_than, filter_stuck, " \
                                         "created_role"

static oms_err int_column(const PGresult *r, int row, int col, int *out, oms_error *err)
{
    int64_t v = 0;
    oms_err rc = oms_pg_int_value(r, row, col, &v, err);
    *out = (int)v;
    return rc;
}

static bool role_parse(const char *name, oms_role *out)
{
    for (int r = OMS_ROLE_CUSTOMER; name && r <= OMS_ROLE_ADMIN; r++) {
        if (strcmp(oms_role_name((oms_role)r), name) == 0) {
            *out = (oms_role)r;
            return true;
        }
    }
    return false;
}

static oms_err job_from_row(oms_arena *a, const PGresult *r, int row, job *j, oms_error *err)
{
    memset(j, 0, sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", oms_pg_value(r, row, 0));
    if (!job_kind_parse(oms_pg_value(r, row, 1), &j->kind) || !job_state_parse(oms_pg_value(r, row, 2), &j->state))
        return oms_error_set(err, OMS_EINTERNAL, NULL, "job %s has an unknown kind or state", j->id);
    j->filter = (job_filter){.topic = oms_pg_text_value(a, r, row, 3),
                             .event_type = oms_pg_text_value(a, r, row, 4),
                             .order_id = oms_pg_text_value(a, r, row, 5),
                             .since = oms_pg_text_value(a, r, row, 6)};
    j->reason = oms_pg_text_value(a, r, row, 12);
    j->created_by = oms_pg_text_value(a, r, row, 13);
    oms_err rc = int_column(r, row, 7, &j->rate_per_s, err);
    const int int_cols[] = {8, 9, 10, 11};
    int *int_targets[] = {&j->total, &j->done, &j->failed, &j->skipped};
    for (size_t i = 0; rc == OMS_OK && i < 4; i++)
        rc = int_column(r, row, int_cols[i], int_targets[i], err);
    const int ms_cols[] = {14, 15, 16, 17};
    int64_t *ms_targets[] = {&j->created_ms, &j->updated_ms, &j->finished_ms, &j->next_due_ms};
    for (size_t i = 0; rc == OMS_OK && i < 4; i++)
        rc = oms_pg_int_value(r, row, ms_cols[i], ms_targets[i], err);
    j->filter.state = oms_pg_text_value(a, r, row, 18);
    j->filter.step = oms_pg_text_value(a, r, row, 19);
    j->filter.stuck_reason = oms_pg_text_value(a, r, row, 20);
    j->filter.customer_id = oms_pg_text_value(a, r, row, 21);
    j->filter.older_than = oms_pg_text_value(a, r, row, 22);
    j->filter.stuck = oms_pg_text_value(a, r, row, 23);
    if (rc == OMS_OK && !role_parse(oms_pg_value(r, row, 24), &j->created_role))
        rc = oms_error_set(err, OMS_EINTERNAL, NULL, "job %s has an unknown role", j->id);
    if (rc == OMS_OK && !j->created_by)
        rc = oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    return rc;
}

static oms_err jobs_from_result(oms_arena *a, const PGresult *r, job **out, size_t *count, oms_error *err)
{
    int n = PQntuples(r);
    *out = oms_arena_calloc(a, n ? (size_t)n : 1, sizeof **out);
    if (!*out)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (int i = 0; i < n; i++) {
        oms_err rc = job_from_row(a, r, i, &(*out)[i], err);
        if (rc != OMS_OK)
            return rc;
    }
    *count = (size_t)n;
    return OMS_OK;
}

static oms_err insert_job(job_repo *repo, oms_tx *tx, oms_arena *a, const job *j, const char *const *targets, size_t n,
                          oms_error *err)
{
    (void)repo;
    const char *ids = oms_pg_array_param(a, targets, NULL, n);
    const char *params[] = {j->id,
                            job_kind_name(j->kind),
                            n ? "running" : "done",
                            j->filter.topic,
                            j->filter.event_type,
                            j->filter.order_id,
                            j->filter.since,
                            oms_pg_int_param(a, j->rate_per_s),
                            oms_pg_int_param(a, (int64_t)n),
                            j->reason,
                            j->created_by,
                            oms_pg_int_param(a, j->next_due_ms),
                            ids,
                            j->filter.state,
                            j->filter.step,
                            j->filter.stuck_reason,
                            j->filter.customer_id,
                            j->filter.older_than,
                            j->filter.stuck,
                            oms_role_name(j->created_role)};
    if (!ids || !params[7] || !params[8] || !params[11])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    PGresult *r = oms_pg_tx_exec(a, tx,
                                 "WITH j AS (INSERT INTO jobs (id, kind, state, filter_topic, filter_event_type,"
                                 "   filter_order_id, filter_since, rate_per_s, total, reason, created_by,"
                                 "   next_due_at, finished_at, filter_state, filter_step, filter_stuck_reason,"
                                 "   filter_customer_id, filter_older_than, filter_stuck, created_role)"
                                 "   VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8::int, $9::int, $10, $11,"
                                 "   " PG_MS_TO_TS("$12") ", CASE WHEN $3 = 'done' THEN now() END,"
                                                          "   $14, $15, $16, $17, $18, $19, $20) RETURNING id)"
                                                          " INSERT INTO job_items (job_id, seq, target)"
                                                          " SELECT j.id, t.n, t.target FROM j,"
                                                          "   unnest($13::text[]) WITH ORDINALITY AS t (target, n)",
                                 20, params, err);
    return r ? OMS_OK : err->code;
}

static oms_err get_job(job_repo *repo, oms_tx *tx, oms_arena *a, const char *id, job *out, oms_error *err)
{
    (void)repo;
    const char *params[] = {id};
    PGresult *r = oms_pg_tx_exec(a, tx, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = $1::uuid", 1, params, err);
    if (!r)
        return err->code;
    if (PQntuples(r) == 0)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "job not found");
    return job_from_row(a, r, 0, out, err);
}

static oms_err list_jobs(job_repo *repo, oms_tx *tx, oms_arena *a, int state, int limit, job **out, size_t *count,
                         oms_error *err)
{
    (void)repo;
    *count = 0;
    const char *params[] = {state >= 0 ? job_state_name((job_state)state) : NULL, oms_pg_int_param(a, limit)};
    PGresult *r = oms_pg_tx_exec(a, tx,
                                 "SELECT " JOB_COLUMNS " FROM jobs WHERE ($1::text IS NULL OR state = $1)"
                                 " ORDER BY created_at DESC, id LIMIT $2::int",
                                 2, params, err);
    return r ? jobs_from_result(a, r, out, count, err) : err->code;
}

static oms_err item_from_row(oms_arena *a, const PGresult *r, int row, job_item *it, oms_error *err)
{
    memset(it, 0, sizeof *it);
    oms_err rc = int_column(r, row, 0, &it->seq, err);
    if (rc == OMS_OK)
        rc = oms_pg_int_value(r, row, 4, &it->acted_ms, err);
    if (rc == OMS_OK)
        rc = oms_pg_int_value(r, row, 5, &it->attempt_version, err);
    it->target = oms_pg_text_value(a, r, row, 1);
    it->reason = oms_pg_text_value(a, r, row, 3);
    if (rc == OMS_OK && !job_item_outcome_parse(oms_pg_value(r, row, 2), &it->outcome))
        rc = oms_error_set(err, OMS_EINTERNAL, NULL, "a job item has an unknown outcome");
    if (rc == OMS_OK && !it->target)
        rc = oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    return rc;
}

#define ITEM_COLUMNS                                                                                                   \
    "seq, target, outcome, reason, coalesce(" PG_TS_TO_MS("acted_at") ", 0), coalesce(attempt_version, -1)"

static oms_err list_items(job_repo *repo, oms_tx *tx, oms_arena *a, const char *id, int after, int limit,
                          job_item **out, size_t *count, oms_error *err)
{
    (void)repo;
    *count = 0;
    const char *params[] = {id, oms_pg_int_param(a, after), oms_pg_int_param(a, limit)};
    PGresult *r = oms_pg_tx_exec(a, tx,
                                 "SELECT " ITEM_COLUMNS " FROM job_items WHERE job_id = $1::uuid AND seq > $2::int"
                                 " ORDER BY seq LIMIT $3::int",
                                 3, params, err);
    if (!r)
        return err->code;
    int n = PQntuples(r);
    *out = oms_arena_calloc(a, n ? (size_t)n : 1, sizeof **out);
    if (!*out)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (int i = 0; i < n; i++) {
        oms_err rc = item_from_row(a, r, i, &(*out)[i], err);
        if (rc != OMS_OK)
            return rc;
    }
    *count = (size_t)n;
    return OMS_OK;
}

static oms_err lock_due(job_repo *repo, oms_tx *tx, oms_arena *a, int64_t now_ms, job *out, bool *found, oms_error *err)
{
    (void)repo;
    *found = false;
    const char *params[] = {oms_pg_int_param(a, now_ms)};
    PGresult *r = oms_pg_tx_exec(
        a, tx,
        "SELECT " JOB_COLUMNS " FROM jobs WHERE state = 'running'"
        " AND next_due_at <= " PG_MS_TO_TS("$1") " ORDER BY next_due_at LIMIT 1 FOR UPDATE SKIP LOCKED",
        1, params, err);
    if (!r)
        return err->code;
    if (PQntuples(r) == 0)
        return OMS_OK;
    *found = true;
    return job_from_row(a, r, 0, out, err);
}

static oms_err next_item(job_repo *repo, oms_tx *tx, oms_arena *a, const char *id, job_item *out, bool *found,
                         oms_error *err)
{
    (void)repo;
    *found = false;
    const char *params[] = {id};
    PGresult *r = oms_pg_tx_exec(a, tx,
                                 "SELECT " ITEM_COLUMNS " FROM job_items WHERE job_id = $1::uuid"
                                 " AND outcome = 'pending' ORDER BY seq LIMIT 1",
                                 1, params, err);
    if (!r)
        return err->code;
    if (PQntuples(r) == 0)
        return OMS_OK;
    *found = true;
    return item_from_row(a, r, 0, out, err);
}

/* The item and its job's count in one statement; then the job is done when
 * nothing is pending. */
static oms_err settle(job_repo *repo, oms_tx *tx, oms_arena *a, const char *id, int seq, job_item_outcome outcome,
                      const char *reason, int64_t now_ms, int64_t next_due_ms, oms_error *err)
{
    (void)repo;
    const char *params[] = {id,     oms_pg_int_param(a, seq),    job_item_outcome_name(outcome),
                            reason, oms_pg_int_param(a, now_ms), oms_pg_int_param(a, next_due_ms)};
    if (!params[1] || !params[4] || !params[5])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    PGresult *r = oms_pg_tx_exec(
        a, tx,
        "WITH i AS (UPDATE job_items SET outcome = $3, reason = $4,"
        "   acted_at = " PG_MS_TO_TS(
            "$5") "   WHERE job_id = $1::uuid AND seq = $2::int AND outcome = 'pending'"
                  "   RETURNING outcome)"
                  " UPDATE jobs SET done = done + (SELECT count(*) FROM i WHERE outcome = 'done'),"
                  "   failed = failed + (SELECT count(*) FROM i WHERE outcome = 'failed'),"
                  "   skipped = skipped + (SELECT count(*) FROM i WHERE outcome = 'skipped'),"
                  "   updated_at = " PG_MS_TO_TS("$5") ", next_due_at = " PG_MS_TO_TS("$6") " WHERE id = $1::uuid",
        6, params, err);
    if (!r)
        return err->code;
    r = oms_pg_tx_exec(a, tx,
                       "UPDATE jobs SET state = 'done', finished_at = " PG_MS_TO_TS(
                           "$2") " WHERE id = $1::uuid AND state = 'running' AND done + failed + skipped >= total",
                       2, (const char *const[]){id, params[4]}, err);
    return r ? OMS_OK : err->code;
}

static oms_err stop_job(job_repo *repo, oms_tx *tx, oms_arena *a, const char *id, int64_t now_ms, oms_error *err)
{
    (void)repo;
    const char *params[] = {id, oms_pg_int_param(a, now_ms)};
    PGresult *r = oms_pg_tx_exec(
        a, tx,
        "UPDATE jobs SET state = 'stopped', finished_at = " PG_MS_TO_TS("$2") ", updated_at = " PG_MS_TO_TS(
            "$2") " WHERE id = $1::uuid AND state = 'running' RETURNING id",
        2, params, err);
    if (!r)
        return err->code;
    if (PQntuples(r) == 1)
        return OMS_OK;
    job j;
    oms_err rc = get_job(repo, tx, a, id, &j, err);
    if (rc != OMS_OK)
        return rc;
    return oms_error_reason(err, oms_error_set(err, OMS_ECONFLICT, NULL, "the job is %s", job_state_name(j.state)),
                            "job_ended");
}

static oms_err mark_attempt(job_repo *repo, oms_arena *a, const char *id, int seq, int64_t version, oms_error *err)
{
    oms_error local;
    oms_error_clear(&local);
    PGconn *c = oms_pg_acquire(repo->self, JOB_ACQUIRE_TIMEOUT_MS, &local);
    if (!c)
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "orders database: %s", local.message);
    const char *params[] = {id, oms_pg_int_param(a, seq), oms_pg_int_param(a, version)};
    PGresult *r = params[1] && params[2] ? oms_pg_exec(a, c,
                                                       "UPDATE job_items SET attempt_version = $3::bigint"
                                                       " WHERE job_id = $1::uuid AND seq = $2::int",
                                                       3, params, err)
                                         : NULL;
    oms_pg_release(repo->self, c, PQstatus(c) != CONNECTION_OK);
    return r ? OMS_OK : (err ? err->code : OMS_EINTERNAL);
}

static const job_repo_ops ops = {
    .insert = insert_job,
    .get = get_job,
    .list = list_jobs,
    .items = list_items,
    .lock_due = lock_due,
    .next_item = next_item,
    .settle = settle,
    .stop = stop_job,
    .mark_attempt = mark_attempt,
};

job_repo pg_job_repo(oms_pg_pool *pool) { return (job_repo){.ops = &ops, .self = pool}; }
