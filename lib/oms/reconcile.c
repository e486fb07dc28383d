/* reconcile.c -- see reconcile.h. */
#include "reconcile.h"

#include <string.h>

#include "json.h"

#define RECONCILE_ACQUIRE_TIMEOUT_MS 5000

static const oms_reconcile_query *find(const oms_reconcile_query *queries, size_t count, const char *name)
{
    for (size_t i = 0; name && i < count; i++)
        if (strcmp(queries[i].name, name) == 0)
            return &queries[i];
    return NULL;
}

/* The rows' json column as one array (tied to `a`); NULL when memory is
 * exhausted or a row is not JSON (the query's own text: an internal error). */
static json_t *rows_of(oms_arena *a, const PGresult *r)
{
    json_t *rows = oms_json_own(a, json_array());
    for (int i = 0; rows && i < PQntuples(r); i++) {
        const char *text = oms_pg_value(r, i, 0);
        json_t *row = text ? json_loads(text, JSON_DECODE_ANY, NULL) : json_null();
        if (!row || json_array_append_new(rows, row) != 0)
            return NULL;
    }
    return rows;
}

void oms_reconcile_answer(oms_pg_pool *pool, const oms_reconcile_query *queries, size_t count, oms_http_request *req,
                          oms_http_response *res)
{
    const oms_reconcile_query *q = find(queries, count, req->param_count > 0 ? req->params[0] : NULL);
    if (!q) {
        oms_http_respond_error(req, res, 404, "not_found", "no such reconciliation query", NULL);
        return;
    }
    json_t *body = oms_http_json_body(req, res);
    if (!body)
        return;
    if (!json_is_object(body)) {
        oms_http_respond_error(req, res, 400, "invalid_argument", "the body must be a JSON object", NULL);
        return;
    }
    oms_error err;
    oms_error_clear(&err);
    PGconn *c = oms_pg_acquire(pool, RECONCILE_ACQUIRE_TIMEOUT_MS, &err);
    if (!c) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    const char *params[] = {req->body};
    PGresult *r = oms_pg_exec(req->arena, c, q->sql, 1, params, &err);
    oms_pg_release(pool, c, !r && err.code == OMS_EUNAVAILABLE);
    if (!r) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    json_t *rows = rows_of(req->arena, r);
    oms_http_respond_doc(req, res, rows ? 200 : 500, rows ? json_pack("{s:O}", "rows", rows) : NULL);
}
