/* pg.c -- PostgreSQL: a lazy connection pool, the oms_tx adapter,
 * parameterised statements with SQLSTATE mapping, and migrations. */
#include "pg.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "pg_internal.h"
#include "tx_hooks.h"
#include "util.h"
#include "wait.h"

#define MIGRATION_LOCK_KEY "7243019845"  /* pg_advisory_lock key for migrations */
#define MIGRATION_FILE_MAX (4 * 1024 * 1024)
#define PING_TIMEOUT_MS 2000
#define BEGIN_TIMEOUT_MS 5000

struct oms_tx {
    oms_pg_pool *pool;
    PGconn *conn;
    bool broken;
    int queued; /* statements sent in pipeline mode, results not read yet */
    oms_tx_hooks hooks;
};

struct oms_pg_pool {
    char *name;
    char *host, *port, *user, *password, *dbname;
    int size;
    int open;      /* connections that exist, idle or borrowed */
    int idle_count;
    PGconn **idle; /* `size` slots */
    pthread_mutex_t lock;
    pthread_cond_t freed;
    oms_tx_manager tx_manager;
};

/* ---- settings ---- */

void oms_pg_settings_add(oms_settings *t, const char *db_var, const char *db_default, oms_pg_settings *s)
{
    const oms_setting rows[OMS_PG_SETTING_ROWS] = {
        {.name = "POSTGRES_HOST", .kind = OMS_SETTING_TEXT, .fallback = "localhost", .target = &s->host,
         .doc = "Host of the PostgreSQL server."},
        {.name = "POSTGRES_PORT", .kind = OMS_SETTING_INT_TEXT, .fallback = "5432", .min = 1, .max = 65535,
         .target = &s->port, .doc = "Port of the PostgreSQL server."},
        {.name = "POSTGRES_USER", .kind = OMS_SETTING_TEXT, .fallback = "postgres", .target = &s->user,
         .doc = "PostgreSQL user."},
        {.name = "POSTGRES_PASSWORD", .kind = OMS_SETTING_TEXT, .fallback = "", .target = &s->password,
         .flags = OMS_SETTING_SECRET, .doc = "PostgreSQL password (empty: none)."},
        {.name = db_var, .kind = OMS_SETTING_TEXT, .fallback = db_default, .target = &s->dbname,
         .flags = db_default ? 0 : OMS_SETTING_REQUIRED, .doc = "The database (created at start when missing)."},
    };
    oms_settings_add(t, "pg", rows, OMS_PG_SETTING_ROWS);
}

oms_pg_settings oms_pg_settings_from_env(const char *db_var, const char *db_default)
{
    static oms_settings table; /* large; callers are single-threaded start-up code and tests */
    oms_pg_settings s = {0};
    oms_settings_init(&table, NULL);
    oms_pg_settings_add(&table, db_var, db_default, &s);
    oms_settings_load(&table, NULL);
    return s;
}

static PGconn *connect_to(const oms_pg_settings *s, const char *dbname, const char *app_name)
{
    const char *keys[] = {"host", "port", "user", "password", "dbname", "connect_timeout", "application_name", NULL};
    const char *values[] = {s->host, s->port, s->user, s->password && *s->password ? s->password : NULL,
                            dbname, "5", app_name, NULL};
    /* A NULL value ends the list early in libpq, so drop an absent password instead. */
    if (!values[3]) {
        keys[3] = "connect_timeout";
        values[3] = "5";
    }
    return PQconnectdbParams(keys, values, 0);
}

static void first_line(const char *text, char *out, size_t len)
{
    snprintf(out, len, "%s", text ? text : "");
    out[strcspn(out, "\n")] = '\0';
}

/* ---- pool ---- */

static const oms_tx_manager_ops pg_tx_ops;

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

oms_pg_pool *oms_pg_pool_create(const char *name, const oms_pg_settings *s, int size, oms_error *err)
{
    if (!s || size < 1) {
        oms_error_set(err, OMS_EINVAL, "DB_POOL_SIZE", "a pool needs settings and a size of at least 1");
        return NULL;
    }
    oms_pg_pool *p = calloc(1, sizeof *p);
    if (!p) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    p->name = dup_or_empty(name);
    p->host = dup_or_empty(s->host);
    p->port = dup_or_empty(s->port);
    p->user = dup_or_empty(s->user);
    p->password = dup_or_empty(s->password);
    p->dbname = dup_or_empty(s->dbname);
    p->idle = calloc((size_t)size, sizeof *p->idle);
    if (!p->name || !p->host || !p->port || !p->user || !p->password || !p->dbname || !p->idle) {
        oms_pg_pool_destroy(p);
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    p->size = size; /* from here on destroy may tear down the lock */
    p->tx_manager.ops = &pg_tx_ops;
    p->tx_manager.self = p;
    pthread_mutex_init(&p->lock, NULL);
    oms_cond_init_monotonic(&p->freed);
    return p;
}

void oms_pg_pool_destroy(oms_pg_pool *p)
{
    if (!p)
        return;
    if (p->idle) {
        for (int i = 0; i < p->idle_count; i++)
            PQfinish(p->idle[i]);
        if (p->size > 0) {
            pthread_mutex_destroy(&p->lock);
            pthread_cond_destroy(&p->freed);
        }
    }
    free(p->idle);
    free(p->name);
    free(p->host);
    free(p->port);
    free(p->user);
    free(p->password);
    free(p->dbname);
    free(p);
}

static oms_pg_settings pool_settings(const oms_pg_pool *p)
{
    oms_pg_settings s = {p->host, p->port, p->user, p->password, p->dbname};
    return s;
}

/* Whether an idle connection still works: a server that ended the session
 * (pg_terminate_backend, restart) has left its goodbye on the socket. */
static bool connection_alive(PGconn *c)
{
    if (PQstatus(c) != CONNECTION_OK)
        return false;
    struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
    if (pfd.fd < 0)
        return false;
    /* The goodbye (a FATAL message) and the end of the stream may need two
     * reads before libpq marks the connection bad. */
    for (int i = 0; i < 4 && poll(&pfd, 1, 0) > 0; i++) {
        if (!PQconsumeInput(c))
            return false;
        for (PGnotify *n = PQnotifies(c); n; n = PQnotifies(c))
            PQfreemem(n);
    }
    return PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE;
}

/* Gives the slot of a connection that could not be had back to the pool. */
static void forget_connection(oms_pg_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->open--;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

static PGconn *open_connection(oms_pg_pool *p, oms_error *err)
{
    oms_pg_settings s = pool_settings(p);
    PGconn *c = connect_to(&s, p->dbname, p->name);
    if (!c) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory connecting to the database");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        char why[200];
        first_line(PQerrorMessage(c), why, sizeof why);
        oms_error_set(err, OMS_EUNAVAILABLE, NULL, "database %s: %s", p->dbname, why);
        PQfinish(c);
        return NULL;
    }
    /* Without a cache (out of memory) statements still run, unnamed. */
    (void)oms_pg_stmt_cache_attach(c);
    return c;
}

static PGconn *open_connection_or_forget(oms_pg_pool *p, oms_error *err)
{
    PGconn *c = open_connection(p, err);
    if (!c)
        forget_connection(p);
    return c;
}

PGconn *oms_pg_acquire(oms_pg_pool *p, int timeout_ms, oms_error *err)
{
    struct timespec deadline = oms_deadline_in(timeout_ms);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (p->idle_count > 0) {
            PGconn *c = p->idle[--p->idle_count];
            pthread_mutex_unlock(&p->lock);
            if (connection_alive(c))
                return c;
            /* Broken while idle: reset it in place (the slot stays ours). */
            PQreset(c);
            if (PQstatus(c) == CONNECTION_OK)
                return c;
            PQfinish(c);
            return open_connection_or_forget(p, err);
        }
        if (p->open < p->size) {
            p->open++;
            pthread_mutex_unlock(&p->lock);
            return open_connection_or_forget(p, err);
        }
        if (pthread_cond_timedwait(&p->freed, &p->lock, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->lock);
            oms_error_set(err, OMS_ETIMEOUT, NULL, "no free database connection in %d ms (pool %s)", timeout_ms,
                          p->name);
            return NULL;
        }
    }
}

void oms_pg_release(oms_pg_pool *p, PGconn *c, bool broken)
{
    if (!c)
        return;
    if (!broken && PQstatus(c) == CONNECTION_OK) {
        PGTransactionStatusType ts = PQtransactionStatus(c);
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            /* Never hand out a connection inside somebody's transaction. */
            PGresult *r = PQexec(c, "ROLLBACK");
            PQclear(r);
            ts = PQtransactionStatus(c);
        }
        broken = ts != PQTRANS_IDLE;
    } else {
        broken = true;
    }
    if (broken)
        PQfinish(c);
    pthread_mutex_lock(&p->lock);
    if (broken)
        p->open--;
    else
        p->idle[p->idle_count++] = c;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

bool oms_pg_ping(oms_pg_pool *p, char *why, size_t why_len)
{
    oms_error err;
    oms_error_clear(&err);
    PGconn *c = oms_pg_acquire(p, PING_TIMEOUT_MS, &err);
    if (!c) {
        snprintf(why, why_len, "%s", err.message); /* acquire names the database already */
        return false;
    }
    PGresult *r = PQexec(c, "SELECT 1");
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) {
        char line[200];
        first_line(PQerrorMessage(c), line, sizeof line);
        snprintf(why, why_len, "database %s: %s", p->dbname, line);
    }
    PQclear(r);
    oms_pg_release(p, c, !ok);
    return ok;
}

/* ---- statements ---- */

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static oms_err code_of_sqlstate(const char *state)
{
    if (strcmp(state, "23505") == 0 || strcmp(state, "23P01") == 0)
        return OMS_ECONFLICT;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
        return OMS_EBUSY;
    if (starts_with(state, "08") || strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
        strcmp(state, "57P03") == 0)
        return OMS_EUNAVAILABLE;
    if (strcmp(state, "57014") == 0)
        return OMS_ETIMEOUT;
    if (starts_with(state, "22") || starts_with(state, "23"))
        return OMS_EINVAL;
    return OMS_EINTERNAL;
}

/* Fills err from a failed result (r may be NULL: out of memory or no connection). */
static oms_err map_failure(PGconn *c, const PGresult *r, oms_error *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char line[200];
    first_line(primary ? primary : PQerrorMessage(c), line, sizeof line);
    oms_err code;
    if (state)
        code = code_of_sqlstate(state);
    else if (PQstatus(c) != CONNECTION_OK)
        code = OMS_EUNAVAILABLE;
    else if (!r)
        code = OMS_ENOMEM;
    else
        code = OMS_EINTERNAL;
    if (code == OMS_EUNAVAILABLE && !line[0])
        snprintf(line, sizeof line, "connection to the database lost");
    return oms_error_set(err, code, NULL, "%s", line);
}

static void clear_result(void *r)
{
    PQclear(r);
}

PGresult *oms_pg_exec(oms_arena *a, PGconn *c, const char *sql, int nparams, const char *const *params,
                      oms_error *err)
{
    PGresult *r = oms_pg_stmt_exec(c, sql, nparams, params);
    ExecStatusType st = PQresultStatus(r);
    if (r && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
        if (a && oms_arena_on_reset(a, clear_result, r) != 0) {
            oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
            return NULL; /* r was cleared by the arena */
        }
        return r;
    }
    map_failure(c, r, err);
    PQclear(r);
    return NULL;
}

const char *oms_pg_value(const PGresult *r, int row, int col)
{
    if (!r || row < 0 || row >= PQntuples(r) || col < 0 || col >= PQnfields(r) || PQgetisnull(r, row, col))
        return NULL;
    return PQgetvalue(r, row, col);
}

/* ---- the oms_tx adapter ---- */

oms_tx_manager *oms_pg_tx_manager(oms_pg_pool *p)
{
    return &p->tx_manager;
}

/* ---- deferred writes: libpq pipeline mode ----
 *
 * A deferred statement is sent at once into the connection's output buffer
 * and its result read later, together with the next statement that needs
 * an answer (or the COMMIT): one round trip for all of them, where each
 * used to cost its own (two scheduler wake-ups and a send on each side). */

/* Queues one statement (its prepare first, the first time on this connection). */
static bool pipeline_send(oms_tx *tx, const char *sql, int nparams, const char *const *params, oms_error *err)
{
    PGconn *c = tx->conn;
    if (PQpipelineStatus(c) == PQ_PIPELINE_OFF && !PQenterPipelineMode(c)) {
        map_failure(c, NULL, err);
        return false;
    }
    bool must_prepare = false;
    const char *name = oms_pg_stmt_name(c, sql, &must_prepare);
    if (name && must_prepare) {
        if (!PQsendPrepare(c, name, sql, nparams, NULL))
            goto failed;
        tx->queued++;
    }
    int sent = name ? PQsendQueryPrepared(c, name, nparams, params, NULL, NULL, 0)
                    : PQsendQueryParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!sent)
        goto failed;
    tx->queued++;
    return true;
failed:
    /* Nothing reaches the server on its own: the caller's next step drains. */
    map_failure(c, NULL, err);
    oms_pg_stmt_forget_all(c);
    tx->broken = true;
    return false;
}

/* Reads the results of one queued statement: the result, then libpq's NULL. */
static PGresult *next_result(PGconn *c)
{
    PGresult *r = PQgetResult(c);
    if (r) {
        PGresult *extra;
        while ((extra = PQgetResult(c)) != NULL)
            PQclear(extra);
    }
    return r;
}

/* Syncs and reads every queued result. Returns the last one when it and all
 * before it succeeded (the caller owns it), else NULL with the first error
 * in err. Leaves pipeline mode. */
static PGresult *pipeline_drain(oms_tx *tx, oms_error *err)
{
    PGconn *c = tx->conn;
    PGresult *last = NULL;
    bool ok = PQpipelineSync(c) == 1;
    if (!ok)
        map_failure(c, NULL, err);
    for (int i = 0; ok && i < tx->queued; i++) {
        PGresult *r = next_result(c);
        ExecStatusType st = PQresultStatus(r);
        if (!r || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)) {
            /* The first failure is the one to tell; the rest were skipped
             * (PIPELINE_ABORTED) because of it. */
            map_failure(c, st == PGRES_PIPELINE_ABORTED ? NULL : r, err);
            ok = false;
            for (int j = i + 1; r && j < tx->queued; j++)
                PQclear(next_result(c));
        }
        if (ok && i == tx->queued - 1)
            last = r;
        else
            PQclear(r);
    }
    tx->queued = 0;
    /* The sync point, then back to normal mode; anything left is dropped. */
    for (int i = 0; i < 4 && PQpipelineStatus(c) != PQ_PIPELINE_OFF && !PQexitPipelineMode(c); i++)
        PQclear(PQgetResult(c));
    if (PQpipelineStatus(c) != PQ_PIPELINE_OFF || PQstatus(c) != CONNECTION_OK)
        tx->broken = true;
    if (!ok) {
        oms_pg_stmt_forget_all(c);
        PQclear(last);
        return NULL;
    }
    return last;
}

/* Runs sql after whatever is queued, in the same round trip. */
static PGresult *pipeline_run(oms_tx *tx, const char *sql, int nparams, const char *const *params, oms_error *err)
{
    if (!pipeline_send(tx, sql, nparams, params, err)) {
        oms_error ignored;
        if (!tx->broken)
            PQclear(pipeline_drain(tx, &ignored));
        return NULL;
    }
    return pipeline_drain(tx, err);
}

oms_err oms_pg_tx_exec_deferred(oms_tx *tx, const char *sql, int nparams, const char *const *params,
                                oms_error *err)
{
    if (!pipeline_send(tx, sql, nparams, params, err))
        return err ? err->code : OMS_EINTERNAL;
    return OMS_OK;
}

/* Reads what is queued, for a caller about to use the connection directly. */
static void settle_queued(oms_tx *tx)
{
    if (tx->queued == 0)
        return;
    oms_error ignored;
    /* A failure aborted the transaction on the server: the caller's next
     * statement or commit says so. */
    PQclear(pipeline_drain(tx, &ignored));
}

PGconn *oms_pg_tx_conn(oms_tx *tx)
{
    settle_queued(tx);
    return tx->conn;
}

void oms_pg_tx_mark_broken(oms_tx *tx)
{
    tx->broken = true;
}

oms_pg_pool *oms_pg_tx_pool(oms_tx *tx)
{
    return tx->pool;
}

PGresult *oms_pg_tx_exec(oms_arena *a, oms_tx *tx, const char *sql, int nparams, const char *const *params,
                         oms_error *err)
{
    if (tx->queued > 0) {
        PGresult *r = pipeline_run(tx, sql, nparams, params, err);
        if (r && a && oms_arena_on_reset(a, clear_result, r) != 0) {
            oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
            return NULL; /* r was cleared by the arena */
        }
        return r;
    }
    PGresult *r = oms_pg_exec(a, tx->conn, sql, nparams, params, err);
    if (!r && PQstatus(tx->conn) != CONNECTION_OK)
        tx->broken = true;
    return r;
}

/* Runs a command without parameters, mapping failure; for BEGIN/COMMIT/ROLLBACK. */
static oms_err run_command(PGconn *c, const char *sql, oms_error *err)
{
    PGresult *r = oms_pg_exec(NULL, c, sql, 0, NULL, err);
    if (!r)
        return err ? err->code : OMS_EINTERNAL;
    PQclear(r);
    return OMS_OK;
}

/* Gives the connection back, runs the commit hooks when `committed`, and
 * frees the tx with its hooks (dropped, when not committed). */
static void release_tx(oms_tx *tx, bool committed)
{
    oms_pg_release(tx->pool, tx->conn, tx->broken);
    if (committed)
        oms_tx_hooks_run(&tx->hooks);
    else
        oms_tx_hooks_drop(&tx->hooks);
    free(tx);
}

static oms_err pg_tx_on_commit(oms_tx_manager *m, oms_tx *tx, oms_tx_hook fn, void *ctx, size_t ctx_size,
                               oms_error *err)
{
    (void)m;
    return oms_tx_hooks_add(&tx->hooks, fn, ctx, ctx_size, err);
}

static oms_err pg_tx_begin(oms_tx_manager *m, oms_tx **out, oms_error *err)
{
    oms_pg_pool *p = m->self;
    oms_tx *tx = calloc(1, sizeof *tx);
    if (!tx)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    oms_error local;
    oms_error_clear(&local);
    tx->pool = p;
    tx->conn = oms_pg_acquire(p, BEGIN_TIMEOUT_MS, &local);
    if (!tx->conn) {
        free(tx);
        /* No connection, whatever the reason, means the database is not usable now. */
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "%s", local.message);
    }
    /* Deferred: BEGIN travels with the transaction's first statement. The
     * connection was idle and alive when acquired; a failure shows there. */
    if (!pipeline_send(tx, "BEGIN", 0, NULL, &local)) {
        release_tx(tx, false);
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "%s", local.message);
    }
    *out = tx;
    return OMS_OK;
}

static oms_err pg_tx_commit(oms_tx_manager *m, oms_tx *tx, oms_error *err)
{
    (void)m;
    if (PQtransactionStatus(tx->conn) == PQTRANS_INERROR) {
        /* COMMIT of a failed transaction silently rolls back: say so. */
        release_tx(tx, false);
        return oms_error_set(err, OMS_EINTERNAL, NULL, "commit of a failed transaction");
    }
    oms_err rc = OMS_OK;
    oms_error queued_err;
    oms_error_clear(&queued_err);
    PGresult *r;
    if (tx->queued > 0) {
        /* The deferred writes and the COMMIT in one round trip. */
        r = pipeline_run(tx, "COMMIT", 0, NULL, &queued_err);
        if (!r) {
            oms_error_set(err, queued_err.code, queued_err.field[0] ? queued_err.field : NULL, "%s",
                          queued_err.message);
            release_tx(tx, false);
            return queued_err.code;
        }
    } else {
        r = PQexec(tx->conn, "COMMIT");
    }
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = map_failure(tx->conn, r, err);
        if (PQstatus(tx->conn) != CONNECTION_OK)
            tx->broken = true;
    } else if (strcmp(PQcmdStatus(r), "ROLLBACK") == 0) {
        rc = oms_error_set(err, OMS_EINTERNAL, NULL, "the transaction was rolled back");
    }
    PQclear(r);
    release_tx(tx, rc == OMS_OK);
    return rc;
}

static void pg_tx_rollback(oms_tx_manager *m, oms_tx *tx)
{
    (void)m;
    if (!tx)
        return;
    settle_queued(tx);
    if (PQstatus(tx->conn) == CONNECTION_OK && PQtransactionStatus(tx->conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(tx->conn, "ROLLBACK");
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            tx->broken = true;
        PQclear(r);
    }
    release_tx(tx, false);
}

static const oms_tx_manager_ops pg_tx_ops = {
    .begin = pg_tx_begin,
    .commit = pg_tx_commit,
    .rollback = pg_tx_rollback,
    .on_commit = pg_tx_on_commit,
};

/* ---- migrations ---- */

/* Creates the database when missing. CREATE DATABASE takes no parameters, so
 * this is the one statement built as text: the name is quoted with
 * PQescapeIdentifier, and it comes from our own settings anyway. */
static oms_err ensure_database(const oms_pg_settings *s, oms_error *err)
{
    PGconn *c = connect_to(s, "postgres", "oms-migrate");
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char why[200];
        first_line(c ? PQerrorMessage(c) : "out of memory", why, sizeof why);
        PQfinish(c);
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "database server %s:%s: %s", s->host, s->port, why);
    }
    const char *params[] = {s->dbname};
    oms_err rc = OMS_OK;
    PGresult *r = oms_pg_exec(NULL, c, "SELECT 1 FROM pg_database WHERE datname = $1", 1, params, err);
    if (!r) {
        rc = err ? err->code : OMS_EINTERNAL;
    } else if (PQntuples(r) == 0) {
        char *ident = PQescapeIdentifier(c, s->dbname, strlen(s->dbname));
        char *sql = ident ? malloc(strlen(ident) + 32) : NULL;
        if (!sql) {
            rc = oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        } else {
            sprintf(sql, "CREATE DATABASE %s", ident);
            PGresult *cr = PQexec(c, sql);
            const char *state = PQresultErrorField(cr, PG_DIAG_SQLSTATE);
            /* 42P04/23505: another process created it just now; that is fine. */
            bool raced = state && (strcmp(state, "42P04") == 0 || strcmp(state, "23505") == 0);
            if (PQresultStatus(cr) != PGRES_COMMAND_OK && !raced)
                rc = map_failure(c, cr, err);
            else if (!raced)
                oms_log(OMS_LOG_INFO, "database_created", "database", s->dbname, NULL);
            PQclear(cr);
        }
        free(sql);
        PQfreemem(ident);
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

static oms_err already_applied(PGconn *c, const char *name, bool *applied, oms_error *err)
{
    const char *params[] = {name};
    PGresult *r = oms_pg_exec(NULL, c, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, params, err);
    if (!r)
        return err ? err->code : OMS_EINTERNAL;
    *applied = PQntuples(r) > 0;
    PQclear(r);
    return OMS_OK;
}

/* Applies one migration in its own transaction. PQexec runs the whole text,
 * several statements at once: migration files are ours, not outside input. */
static oms_err apply_migration(PGconn *c, const char *dbname, const char *name, const char *sql, oms_error *err)
{
    bool applied = false;
    oms_err rc = already_applied(c, name, &applied, err);
    if (rc != OMS_OK || applied)
        return rc;
    rc = run_command(c, "BEGIN", err);
    if (rc != OMS_OK)
        return rc;
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        map_failure(c, r, err);
        PQclear(r);
        PGresult *rb = PQexec(c, "ROLLBACK");
        PQclear(rb);
        if (err) {
            char msg[sizeof err->message];
            snprintf(msg, sizeof msg, "%s", err->message);
            oms_error_set(err, err->code, NULL, "migration %s failed: %s", name, msg);
        }
        return err ? err->code : OMS_EINTERNAL;
    }
    PQclear(r);
    const char *params[] = {name};
    r = oms_pg_exec(NULL, c, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, params, err);
    if (!r) {
        PGresult *rb = PQexec(c, "ROLLBACK");
        PQclear(rb);
        return err ? err->code : OMS_EINTERNAL;
    }
    PQclear(r);
    rc = run_command(c, "COMMIT", err);
    if (rc == OMS_OK)
        oms_log(OMS_LOG_INFO, "migration_applied", "database", dbname, "name", name, NULL);
    return rc;
}

static char *read_file(const char *path, oms_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        oms_error_set(err, OMS_EINVAL, NULL, "cannot open migration %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MIGRATION_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, MIGRATION_FILE_MAX + 1, f) : 0;
    bool failed = ferror(f);
    fclose(f);
    if (!buf) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    if (failed || n > MIGRATION_FILE_MAX) {
        free(buf);
        oms_error_set(err, OMS_EINVAL, NULL, "migration %s is unreadable or over 4 MiB", path);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static int is_sql_file(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 4 && strcmp(d->d_name + n - 4, ".sql") == 0;
}

static oms_err apply_directory(PGconn *c, const char *dbname, const char *dir, oms_error *err)
{
    struct dirent **names = NULL;
    int count = scandir(dir, &names, is_sql_file, alphasort);
    if (count < 0)
        return oms_error_set(err, OMS_EINVAL, "MIGRATIONS_DIR", "cannot read migrations directory %s: %s", dir,
                             strerror(errno));
    oms_err rc = OMS_OK;
    for (int i = 0; i < count; i++) {
        if (rc == OMS_OK) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
            char *sql = read_file(path, err);
            rc = sql ? apply_migration(c, dbname, names[i]->d_name, sql, err) : (err ? err->code : OMS_EINVAL);
            free(sql);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

static oms_err migrate_locked(PGconn *c, const char *dbname, const oms_pg_migration *builtins, size_t n,
                              const char *const *dirs, oms_error *err)
{
    oms_err rc = run_command(c,
                             "CREATE TABLE IF NOT EXISTS schema_migrations ("
                             " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                             err);
    for (size_t i = 0; rc == OMS_OK && i < n; i++)
        rc = apply_migration(c, dbname, builtins[i].name, builtins[i].sql, err);
    for (size_t i = 0; rc == OMS_OK && dirs && dirs[i]; i++)
        rc = apply_directory(c, dbname, dirs[i], err);
    return rc;
}

oms_err oms_pg_migrate_with(const oms_pg_settings *s, const oms_pg_migration *builtins, size_t builtin_count,
                            const char *const *dirs, oms_error *err)
{
    oms_err rc = ensure_database(s, err);
    if (rc != OMS_OK)
        return rc;
    PGconn *c = connect_to(s, s->dbname, "oms-migrate");
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char why[200];
        first_line(c ? PQerrorMessage(c) : "out of memory", why, sizeof why);
        PQfinish(c);
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "database %s: %s", s->dbname, why);
    }
    PGresult *quiet = PQexec(c, "SET client_min_messages = warning");
    PQclear(quiet);
    rc = run_command(c, "SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")", err);
    if (rc == OMS_OK) {
        rc = migrate_locked(c, s->dbname, builtins, builtin_count, dirs, err);
        PGresult *r = PQexec(c, "SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")");
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

oms_err oms_pg_migrate(const oms_pg_settings *s, const char *const *dirs, oms_error *err)
{
    return oms_pg_migrate_with(s, oms_outbox_migrations, OMS_OUTBOX_MIGRATIONS, dirs, err);
}
