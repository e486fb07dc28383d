/* pg_internal.h -- what the pg modules of lib/oms share among themselves
 * (pg_pool.c, pg_exec.c, pg_tx.c, pg_migrate.c, pg_stmt.c, and the outbox
 * and the pg bus, which run on raw connections). Not for services. */
#ifndef OMS_PG_INTERNAL_H
#define OMS_PG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "pg.h"

/* A new connection to `dbname` on the server of `s`, labelled `app_name`
 * (application_name); check PQstatus. */
PGconn *oms_pg_connect(const oms_pg_settings *s, const char *dbname, const char *app_name);

/* The first line of `text` (NULL as empty) into out. */
void oms_pg_first_line(const char *text, char *out, size_t len);

/* The answer to a transaction stopped by a time limit: the statement
 * timeout, or the commit deadline (oms_pg_commit_deadline_set). */
#define OMS_PG_TIMEOUT_MESSAGE "the database did not finish in time; nothing was applied, the request may be retried"

/* Fills err from a failed result (r may be NULL: out of memory or no
 * connection), mapping its SQLSTATE as oms_pg_exec documents; returns the code. */
oms_err oms_pg_map_failure(PGconn *c, const PGresult *r, oms_error *err);

/* Ties a successful result to `a` (PQclear at reset; a NULL: the caller
 * keeps it). NULL with OMS_ENOMEM when that fails (r is then cleared). */
PGresult *oms_pg_own_result(oms_arena *a, PGresult *r, oms_error *err);

/* The transaction manager's ops (pg_tx.c), installed by every pool. */
extern const oms_tx_manager_ops oms_pg_tx_ops;

/* The pool an oms_tx of oms_pg_tx_manager runs on (the outbox wakes that
 * pool's relay when the tx commits). */
oms_pg_pool *oms_pg_tx_pool(oms_tx *tx);

/* The prepared-statement cache (pg_stmt.c). attach gives a connection its
 * cache (false, and none, when out of memory); stmt_exec runs `sql` as a
 * named prepared statement when the connection has a cache, else unnamed,
 * and returns what PQexecParams would. */
bool oms_pg_stmt_cache_attach(PGconn *conn);
PGresult *oms_pg_stmt_exec(PGconn *conn, const char *sql, int nparams, const char *const *params);
/* For pipeline mode: the name `sql` runs under, with *must_prepare set when
 * the caller has to queue its PQsendPrepare first; NULL (send it unnamed)
 * without a cache or when the cache is full. */
const char *oms_pg_stmt_name(PGconn *conn, const char *sql, bool *must_prepare);
/* Empties the cache: after a failed pipeline, whose prepares may not have run. */
void oms_pg_stmt_forget_all(PGconn *conn);

#endif
