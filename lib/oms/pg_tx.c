/* pg_tx.c -- the oms_tx adapter over a pool: a transaction holds one
 * connection from BEGIN to COMMIT or ROLLBACK, sends its deferred writes in
 * libpq pipeline mode, and runs its commit hooks (tx.h) after a successful
 * COMMIT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg.h"
#include "pg_internal.h"
#include "tx_hooks.h"
#include "util.h"

#define BEGIN_TIMEOUT_MS 5000

struct oms_tx {
    oms_pg_pool *pool;
    PGconn *conn;
    bool broken;
    int queued;                 /* statements sent in pipeline mode, results not read yet */
    int64_t commit_deadline_ms; /* oms_monotonic_ms; 0: none (oms_pg_commit_deadline_set) */
    oms_tx_hooks hooks;
};

/* The deadline of the request the thread serves: a thread-local because the
 * HTTP server's worker threads serve one request at a time and the
 * application's ports, which sit between the handler and the transaction,
 * have no reason to carry it. */
static _Thread_local int64_t thread_commit_deadline_ms;

void oms_pg_commit_deadline_set(int64_t deadline_ms) { thread_commit_deadline_ms = deadline_ms; }

/* ---- deferred writes: libpq pipeline mode ----
 *
 * A deferred statement is sent at once into the connection's output buffer
 * and its result read later, together with the next statement that needs
 * an answer (or the COMMIT): one round trip for all of them. */

/* Queues one statement (its prepare first, the first time on this connection). */
static bool pipeline_send(oms_tx *tx, const char *sql, int nparams, const char *const *params, oms_error *err)
{
    PGconn *c = tx->conn;
    if (PQpipelineStatus(c) == PQ_PIPELINE_OFF && !PQenterPipelineMode(c)) {
        oms_pg_map_failure(c, NULL, err);
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
    oms_pg_map_failure(c, NULL, err);
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
        oms_pg_map_failure(c, NULL, err);
    for (int i = 0; ok && i < tx->queued; i++) {
        PGresult *r = next_result(c);
        ExecStatusType st = PQresultStatus(r);
        if (!r || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)) {
            /* The first failure is the one to tell; the rest were skipped
             * (PIPELINE_ABORTED) because of it. */
            oms_pg_map_failure(c, st == PGRES_PIPELINE_ABORTED ? NULL : r, err);
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

oms_err oms_pg_tx_exec_deferred(oms_tx *tx, const char *sql, int nparams, const char *const *params, oms_error *err)
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

oms_pg_pool *oms_pg_tx_pool(oms_tx *tx) { return tx->pool; }

PGresult *oms_pg_tx_exec(oms_arena *a, oms_tx *tx, const char *sql, int nparams, const char *const *params,
                         oms_error *err)
{
    if (tx->queued > 0) {
        PGresult *r = pipeline_run(tx, sql, nparams, params, err);
        return r ? oms_pg_own_result(a, r, err) : NULL;
    }
    PGresult *r = oms_pg_exec(a, tx->conn, sql, nparams, params, err);
    if (!r && PQstatus(tx->conn) != CONNECTION_OK)
        tx->broken = true;
    return r;
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
    tx->commit_deadline_ms = thread_commit_deadline_ms;
    tx->conn = oms_pg_acquire(p, BEGIN_TIMEOUT_MS, &local);
    if (!tx->conn) {
        free(tx);
        /* No connection, whatever the reason, means the database is not
         * usable now; libpq's text names hosts and ports: the log has it. */
        oms_log(OMS_LOG_WARN, "database_unavailable", "error", local.message, NULL);
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "the database is unavailable");
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

static void pg_tx_rollback(oms_tx_manager *m, oms_tx *tx);

static oms_err pg_tx_commit(oms_tx_manager *m, oms_tx *tx, oms_error *err)
{
    if (tx->commit_deadline_ms > 0 && oms_monotonic_ms() >= tx->commit_deadline_ms) {
        /* Whoever asked may have stopped waiting (the gateway's 504): a
         * commit now would apply what they were told timed out. */
        pg_tx_rollback(m, tx);
        return oms_error_set(err, OMS_ETIMEOUT, NULL, "%s", OMS_PG_TIMEOUT_MESSAGE);
    }
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
        rc = oms_pg_map_failure(tx->conn, r, err);
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

const oms_tx_manager_ops oms_pg_tx_ops = {
    .begin = pg_tx_begin,
    .commit = pg_tx_commit,
    .rollback = pg_tx_rollback,
    .on_commit = pg_tx_on_commit,
};
