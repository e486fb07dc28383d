/* pg.h -- PostgreSQL access for adapters: connection settings and a pool
 * (pg_pool.c), the oms_tx adapter (pg_tx.c), parameterised statements with
 * SQLSTATE mapping and the conversions every adapter needs (pg_exec.c), and
 * migrations (pg_migrate.c).
 *
 * Every statement is parameterised ($1, $2, ...); no SQL is ever built from
 * outside text. */
#ifndef OMS_PG_H
#define OMS_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "config.h"
#include "err.h"
#include "tx.h"

/* Connection settings (POSTGRES_*), as text for libpq. sslmode and
 * sslrootcert may be NULL or empty: libpq's defaults (prefer,
 * ~/.postgresql/root.crt). */
typedef struct oms_pg_settings {
    const char *host, *port, *user, *password, *dbname;
    const char *sslmode, *sslrootcert;
    /* Session limits of a pool's connections, in ms (0: the server's, none):
     * statement_timeout and lock_timeout, so that a request blocked behind a
     * row lock fails with nothing applied instead of waiting. The service
     * pools get them from DB_STATEMENT_TIMEOUT_MS and DB_LOCK_TIMEOUT_MS;
     * migrations run without them. */
    int statement_timeout_ms, lock_timeout_ms;
} oms_pg_settings;

#define OMS_PG_SETTING_ROWS 7
/* Contributes the rows of a database's connection settings, loaded into `s`:
 * POSTGRES_HOST (localhost), POSTGRES_PORT (5432, 1..65535), POSTGRES_USER
 * (postgres), POSTGRES_PASSWORD (empty; never echoed), `db_var` (e.g.
 * "POSTGRES_DB", default `db_default`; required when that is NULL),
 * POSTGRES_SSLMODE (prefer; verify-full checks the server's certificate and
 * name) and POSTGRES_SSLROOTCERT (the CA file, which must be readable). */
void oms_pg_settings_add(oms_settings *t, const char *db_var, const char *db_default, oms_pg_settings *s);

/* The values libpq accepts for sslmode, NULL-terminated: for rows of other
 * pools' settings (READ_POSTGRES_SSLMODE). */
extern const char *const oms_pg_sslmodes[];

/* Parses a CA file setting: the file must be readable (a PARSED row's parser). */
oms_err oms_pg_parse_ca_file(const char *value, void *target, oms_error *err);

/* The same rows, loaded at once from the environment: for tests and tools.
 * Exits(2) on a bad value, as a process's table does. */
oms_pg_settings oms_pg_settings_from_env(const char *db_var, const char *db_default);

/* Copies the strings of `s` (NULL as empty) into one allocation that
 * `out` then points into, and the limits; free it with oms_pg_settings_free. OMS_ENOMEM
 * leaves *out empty. */
oms_err oms_pg_settings_copy(const oms_pg_settings *s, oms_pg_settings *out);
void oms_pg_settings_free(oms_pg_settings *s);

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

/* A deadline, on oms_monotonic_ms, for the transactions the calling thread
 * begins from now on (0: none): such a transaction still open at the
 * deadline is rolled back instead of committed, and its commit answers
 * OMS_ETIMEOUT ("nothing was applied"). The service sets it per HTTP request
 * (DB_COMMIT_DEADLINE_MS after the request is admitted), so that a request
 * the gateway may have given up on (504) is never committed later. */
void oms_pg_commit_deadline_set(int64_t deadline_ms);

/* The oms_tx_manager adapter over a pool. Its transactions are READ COMMITTED
 * unless stated otherwise by the caller's statements. Valid as long as the pool. */
oms_tx_manager *oms_pg_tx_manager(oms_pg_pool *p);

/* Runs a parameterised statement (text parameters; NULL entries are SQL NULL).
 * Returns the result (owned by the arena) when its status is COMMAND_OK or
 * TUPLES_OK, else NULL with err mapped from SQLSTATE:
 *   23505 unique_violation, 23P01 -> OMS_ECONFLICT;
 *   40001, 40P01, 55P03 -> OMS_EBUSY;
 *   08xxx, 57P01-57P03, connection loss -> OMS_EUNAVAILABLE;
 *   57014 (statement timeout) -> OMS_ETIMEOUT;
 *   22xxx, 23xxx (other) -> OMS_EINVAL; else OMS_EINTERNAL.
 * The message in err is a fixed sentence per code, never PostgreSQL's text
 * (which names hosts, constraints and values): that goes to a log line. `a` may be NULL: the
 * caller then owns the result and PQclears it. */
PGresult *oms_pg_exec(oms_arena *a, PGconn *c, const char *sql, int nparams, const char *const *params, oms_error *err);

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
oms_err oms_pg_tx_exec_deferred(oms_tx *tx, const char *sql, int nparams, const char *const *params, oms_error *err);

/* Runs `sql` as it is (no parameters; several statements allowed: our own
 * text only, such as "BEGIN; SET LOCAL ..."); OMS_OK, or the first
 * failure mapped as above (err may be NULL). */
oms_err oms_pg_run(PGconn *c, const char *sql, oms_error *err);

/* ---- parameters and values: what every pg adapter converts ---- */

/* Value of row/col as text, or NULL when SQL NULL (or out of range). */
const char *oms_pg_value(const PGresult *r, int row, int col);

/* A copy in the arena of the text at row/col; NULL for SQL NULL or when
 * memory is exhausted. */
const char *oms_pg_text_value(oms_arena *a, const PGresult *r, int row, int col);

/* The integer at row/col into *out; OMS_EINTERNAL (naming the column) for
 * SQL NULL or text that is not an integer: the schema promised one. */
oms_err oms_pg_int_value(const PGresult *r, int row, int col, int64_t *out, oms_error *err);

/* The decimal text of v, for a parameter; NULL when memory is exhausted. */
const char *oms_pg_int_param(oms_arena *a, int64_t v);

/* An array literal ({"a","b"}) of the n strings, each double-quoted with '"'
 * and '\' escaped, for a `$1::text[]` (or `$1::bigint[]`, `$1::uuid[]`)
 * parameter. `lens` gives their lengths (NULL: NUL-terminated). NULL when
 * memory is exhausted. */
const char *oms_pg_array_param(oms_arena *a, const char *const *items, const size_t *lens, size_t n);

/* ---- migrations ---- */

/* One migration built into a library (the outbox's, the pg bus's). */
typedef struct oms_pg_migration {
    const char *name; /* recorded in schema_migrations, e.g. "000_oms_outbox_inbox" */
    const char *sql;
} oms_pg_migration;

/* Applies `builtins` (in the given order; builtin_count may be 0), then, in
 * name order, every *.sql file of each directory in `dirs` (NULL-terminated;
 * NULL: none), each in its own transaction and only when it is not yet
 * recorded in the table schema_migrations, under an advisory lock so that
 * concurrent starters do not race. Creates the database `s->dbname` first
 * when it does not exist (connecting to "postgres"). Logs each one applied.
 * Only the database's owner (or a member of its role, or a superuser)
 * changes the schema: any other role gets OMS_OK when every migration is
 * applied already, else OMS_EUNAVAILABLE ("not set up yet") so that it may
 * wait for the owner. */
oms_err oms_pg_migrate(const oms_pg_settings *s, const oms_pg_migration *builtins, size_t builtin_count,
                       const char *const *dirs, oms_error *err);

#endif
