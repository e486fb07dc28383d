/* audit_pg.h -- the audit trail in PostgreSQL (audit.h is the port): the
 * adapter, the built-in migration of audit_log, reading a service's rows
 * for its GET /audit, and merging several services' pages (the gateway). */
#ifndef OMS_AUDIT_PG_H
#define OMS_AUDIT_PG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "audit.h"
#include "http.h"
#include "pg.h"

#define OMS_AUDIT_LIMIT_DEFAULT 100
#define OMS_AUDIT_LIMIT_MAX 1000

/* The adapter: an INSERT into audit_log on the tx's connection (deferred:
 * it travels with the commit, no round trip of its own). */
oms_audit_log oms_pg_audit_log(void);

/* The built-in migration's text (outbox.c lists it as 003_oms_audit_log):
 * the row of audit.h, `at` from the clock at the insert, append-only. */
#define OMS_AUDIT_MIGRATION_SQL                                                                                        \
    "CREATE TABLE IF NOT EXISTS audit_log ("                                                                           \
    "  id bigserial PRIMARY KEY,"                                                                                      \
    "  at timestamptz NOT NULL DEFAULT clock_timestamp(),"                                                             \
    "  actor text NOT NULL,"                                                                                           \
    "  role text NOT NULL,"                                                                                            \
    "  action text NOT NULL,"                                                                                          \
    "  target text NOT NULL,"                                                                                          \
    "  saga_id uuid,"                                                                                                  \
    "  reason text,"                                                                                                   \
    "  state_before jsonb,"                                                                                            \
    "  state_after jsonb,"                                                                                             \
    "  request_id text);"                                                                                              \
    "CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at, id);"                                                   \
    "CREATE INDEX IF NOT EXISTS audit_log_saga ON audit_log (saga_id) WHERE saga_id IS NOT NULL;"                      \
    "SELECT oms_make_append_only('audit_log');"

/* What GET /audit filters on; NULL members: no filter. `cursor` is the
 * "<at_us>:<service>:<id>" of the last row a client saw (the gateway's
 * next_cursor): rows come after it in the merged order (at, service, id). */
typedef struct oms_audit_filter {
    const char *actor, *saga_id, *target;
    const char *since; /* an RFC 3339 time: rows at or after it */
    const char *cursor;
    size_t limit; /* 1..OMS_AUDIT_LIMIT_MAX */
} oms_audit_filter;

/* Reads the filter from the request's query (actor, saga_id, target, since,
 * cursor, limit); answers 400 naming the parameter and returns false when
 * one is malformed. */
bool oms_audit_filter_parse(oms_http_request *req, oms_http_response *res, oms_audit_filter *out);

/* The rows of `service`'s database matching `f`, oldest first, as a JSON
 * array (tied to `a`) of {id, service, at, at_us, actor, role, action,
 * target, saga_id, reason, before, after, request_id}. OMS_EINVAL for a
 * malformed cursor or since; a store error. */
oms_err oms_audit_list(oms_pg_pool *pool, oms_arena *a, const char *service, const oms_audit_filter *f, json_t **out,
                       oms_error *err);

/* Rewrites each real member of a state object as an exact money value
 * (oms_json_money_value): a fraction in a state is only ever money with at
 * most two decimals (OMS_AUDIT_MONEY), which jansson reads into a double;
 * oms_json_dump then writes it as 10.50, not 10.5. Anything else is left. */
void oms_audit_exact_money(json_t *state);

/* Merges several services' pages (each oldest first, as oms_audit_list
 * gives them) into one page of at most `limit` rows in the order (at_us,
 * service, id), the money of their states exact (oms_audit_exact_money);
 * *next_cursor (in `a`) is the last row's cursor when more rows may
 * follow, else NULL. `pages` are borrowed (their states' money rewritten in
 * place); the result is new (the caller's reference). NULL when memory is
 * exhausted. */
json_t *oms_audit_merge(json_t *const *pages, size_t page_count, size_t limit, oms_arena *a, const char **next_cursor);

#endif
