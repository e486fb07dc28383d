/* pg.h -- PostgreSQL access for adapters: a connection pool, the oms_tx
 * adapter, parameterised statements, SQLSTATE mapping and migrations.
 *
 * Every statement is parameterised ($1, $2, ...); no SQL is ever built from
 * outside text. */
#ifndef OMS_PG_H
#define OMS_PG_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "arena.h"
#include "config.h"
#include "err.h"
#include "tx.h"

/* Connection settings (POSTGRES_*), as text for libpq. */
typedef struct oms_pg_settings {
    const char *host, *port, *user, *password, *dbname;
} oms_pg_settings;

#define OMS_PG_SETTING_ROWS 5
/* Contributes the rows of a database's connection settings, loaded into `s`:
 * POSTGRES_HOST (localhost), POSTGRES_PORT (5432, 1..65535), POSTGRES_USER
 * (postgres), POSTGRES_PASSWORD (empty; never echoed) and `db_var` (e.g.
 * "POSTGRES_DB", default `db_default`; required when that is NULL). */
void oms_pg_settings_add(oms_settings *t, const char *db_var, const char *db_default, oms_pg_settings *s);

/* The same rows, loaded at once from the environment: for tests and tools.
 * Exits(2) on a bad value, as a process's table does. */
oms_pg_settings oms_pg_settings_from_env(const char *db_var, const char *db_default);

typedef struct oms_pg_pool oms_pg_pool;

/* A pool of up to `size` connections, opened lazily; creation itself does not
 * connect, so a process can start while its database is down and report it
 * on /ready. `name` labels logs and metrics ("orders-write"). */
oms_pg_pool *oms_pg_pool_create(const char *name, const oms_pg_settings *s, int size, oms_error *err);
void oms_pg_pool_destroy(oms_pg_pool *p);

/* Borrows a healthy connection, waiting up to `timeout_ms` for a free one;
 * a broken connection is reset first. NULL with OMS_EUNAVAILABLE or
 * OMS_ETIMEOUT in err. */
PGconn *oms_pg_acquire(oms_pg_pool *p, int timeout_ms, oms_error *err);
/* Gives it back; `broken` discards it (after a connection error). */
void oms_pg_release(oms_pg_pool *p, PGconn *c, bool broken);

/* Whether a trivial query succeeds now (for /ready); fills why. */
bool oms_pg_ping(oms_pg_pool *p, char *why, size_t why_len);

/* The oms_tx_manager adapter over a pool. Its transactions are READ COMMITTED
 * unless stated otherwise by the caller's statements. Valid as long as the pool. */
oms_tx_manager *oms_pg_tx_manager(oms_pg_pool *p);

/* The connection behind an oms_tx made by oms_pg_tx_manager: for pg adapters only. */
PGconn *oms_pg_tx_conn(oms_tx *tx);
/* Marks the tx's connection broken, so it is discarded on release. */
void oms_pg_tx_mark_broken(oms_tx *tx);

/* Runs a parameterised statement (text parameters; NULL entries are SQL NULL).
 * Returns the result (owned by the arena) when its status is COMMAND_OK or
 * TUPLES_OK, else NULL with err mapped from SQLSTATE:
 *   23505 unique_violation, 23P01 -> OMS_ECONFLICT;
 *   40001, 40P01, 55P03 -> OMS_EBUSY;
 *   08xxx, 57P01-57P03, connection loss -> OMS_EUNAVAILABLE;
 *   57014 (statement timeout) -> OMS_ETIMEOUT;
 *   22xxx, 23xxx (other) -> OMS_EINVAL; else OMS_EINTERNAL.
 * The message in err is PostgreSQL's primary message. `a` may be NULL: the
 * caller then owns the result and PQclears it. */
PGresult *oms_pg_exec(oms_arena *a, PGconn *c, const char *sql, int nparams, const char *const *params,
                      oms_error *err);

/* Same on the tx's connection; a connection-level failure marks it broken. */
PGresult *oms_pg_tx_exec(oms_arena *a, oms_tx *tx, const char *sql, int nparams, const char *const *params,
                         oms_error *err);

/* Queues a write whose only outcome of interest is success or failure (no
 * rows, no count): it goes out with the next statement on the tx that needs
 * an answer, or with the commit, in one round trip (libpq pipeline mode).
 * A failure is reported by that later call instead (NULL, or the commit's
 * error, with this statement's SQLSTATE mapped as above); the transaction
 * is aborted either way. OMS_OK when queued. The parameters may be freed
 * on return. */
oms_err oms_pg_tx_exec_deferred(oms_tx *tx, const char *sql, int nparams, const char *const *params,
                                oms_error *err);

/* Value of row/col as text, or NULL when SQL NULL. */
const char *oms_pg_value(const PGresult *r, int row, int col);

/* Applies, in name order and each in its own transaction, every *.sql file of
 * each directory in `dirs` (NULL-terminated) not yet recorded in the table
 * schema_migrations, under an advisory lock so that concurrent starters do
 * not race. Creates the database `s->dbname` first when it does not exist
 * (connecting to "postgres"). Logs each file applied. */
oms_err oms_pg_migrate(const oms_pg_settings *s, const char *const *dirs, oms_error *err);

#endif
