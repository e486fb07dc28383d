/* pg_internal.h -- lib/oms only: migrations embedded in the library (the
 * outbox/inbox tables, the pg bus tables), applied by the same machinery as
 * a service's migration files. Not for services. */
#ifndef OMS_PG_INTERNAL_H
#define OMS_PG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "pg.h"

typedef struct oms_pg_migration {
    const char *name; /* recorded in schema_migrations, e.g. "000_oms_outbox_inbox" */
    const char *sql;
} oms_pg_migration;

/* oms_pg_migrate with `builtins` applied first (in the given order), then the
 * files of `dirs` (NULL allowed). */
oms_err oms_pg_migrate_with(const oms_pg_settings *s, const oms_pg_migration *builtins, size_t builtin_count,
                            const char *const *dirs, oms_error *err);

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

/* The pool an oms_tx of oms_pg_tx_manager runs on (the outbox wakes that
 * pool's relay when the tx commits). */
oms_pg_pool *oms_pg_tx_pool(oms_tx *tx);

/* The outbox/inbox migrations (outbox.c), applied before a service's own. */
#define OMS_OUTBOX_MIGRATIONS 2
extern const oms_pg_migration oms_outbox_migrations[OMS_OUTBOX_MIGRATIONS];

#endif
