/* reconcile.h -- a service's side of the reconciliation (issue 12 item 6;
 * SPEC section 6): named, read-only SQL queries over its own database that
 * the gateway's reconciliation asks for on POST /internal/reconciliation/{name}
 * (a built-in route of service.c, viewer and above, reached by the gateway
 * only, like every route of a service).
 *
 * A query takes one parameter, $1: the request's JSON object body as jsonb
 * text (e.g. {"ids": [...]} or {"after": "<uuid>"}), and returns one json
 * column per row, the row as the gateway reads it. The answer is
 * {"rows": [...]}. One statement: one snapshot of the database, so a local
 * invariant (a ledger against its balance) is never judged half-way through
 * a transaction. */
#ifndef OMS_RECONCILE_H
#define OMS_RECONCILE_H

#include <stddef.h>

#include "http.h"
#include "pg.h"

typedef struct oms_reconcile_query {
    const char *name; /* the {name} of the route: [a-z_]+ */
    const char *sql;  /* $1 = the body (jsonb); one json column per row */
} oms_reconcile_query;

/* Answers POST /internal/reconciliation/{name} with the query of that name
 * among `queries` run on `pool`: 404 for an unknown name, 400 for a body
 * that is not a JSON object or that the query refuses (a malformed id),
 * 200 {"rows": [...]}. The caller checked the principal. */
void oms_reconcile_answer(oms_pg_pool *pool, const oms_reconcile_query *queries, size_t count, oms_http_request *req,
                          oms_http_response *res);

#endif
