/* outbox.c -- the transactional outbox and its relay thread.
 *
 * The relay holds one connection of the pool for its life and publishes
 * pending rows in id order. A commit that appended rows wakes it in-process
 * (a commit hook of that transaction): no NOTIFY, whose cluster-wide lock would be held
 * through every such commit's fsync and serialise them. Rows appended by
 * another instance of the service are found by that instance's relay, or by
 * the poll every RELAY_WAIT_MS. Each batch runs in a
 * transaction that first takes a transaction-scoped advisory lock, so only
 * one relay per database publishes at a time and per-key order holds across
 * instances; rows are deleted only after the bus said they are durable
 * (at least once: a crash between publish and commit re-sends, and the
 * receiver's inbox drops the duplicate). */
#include "outbox.h"

#include "audit_pg.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pg_internal.h"
#include "util.h"
#include "wait.h"

#define RELAY_LOCK_KEY "7243019846" /* pg_try_advisory_xact_lock key: one relay per database */
#define RELAY_BATCH 256             /* rows per batch */
#define TEXT_OF(x) #x
#define TEXT_OF_VALUE(x) TEXT_OF(x)
#define RELAY_WAIT_MS 200
#define RELAY_LOCKED_RETRY_MS 20 /* another instance's relay held the lock */
#define RELAY_BACKOFF_MIN_MS 100
#define RELAY_BACKOFF_MAX_MS 5000
#define RELAY_ACQUIRE_TIMEOUT_MS 5000

const oms_pg_migration oms_outbox_migrations[OMS_OUTBOX_MIGRATION_COUNT] = {
    {
        .name = "000_oms_outbox_inbox",
        .sql = "CREATE TABLE IF NOT EXISTS outbox ("
               "  id bigserial PRIMARY KEY,"
               "  topic text NOT NULL,"
               "  key text NOT NULL,"
               "  payload text NOT NULL,"
               "  created_at timestamptz NOT NULL DEFAULT now());"
               "CREATE TABLE IF NOT EXISTS inbox ("
               "  consumer text NOT NULL,"
               "  event_id uuid NOT NULL,"
               "  handled_at timestamptz NOT NULL DEFAULT now(),"
               "  PRIMARY KEY (consumer, event_id));",
    },
    /* The outbox is a queue: every row is deleted within milliseconds. The
 * default autovacuum trigger (20 % of the live rows) hardly ever fires on a
 * table that holds a few rows, so its dead rows piled up by the ten
 * thousand and the relay's read walked past all of them. */
    {
        .name = "001_oms_outbox_autovacuum",
        .sql = "ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,"
               "  autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000);",
    },
    /* For a service's own migrations: SELECT oms_make_append_only('t') makes
 * table t append-only for the role that runs it (its owner): that role
 * gives up UPDATE, DELETE and TRUNCATE, and a trigger refuses them to
 * anyone but a superuser (an owner may grant itself rights again). For the
 * ledgers the invariants are checked against (review H5). */
    {
        .name = "002_oms_append_only",
        .sql = "CREATE OR REPLACE FUNCTION oms_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
               "BEGIN"
               "  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN"
               "    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;"
               "  END IF;"
               "  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP"
               "    USING ERRCODE = 'insufficient_privilege';"
               "END $$;"
               "CREATE OR REPLACE FUNCTION oms_make_append_only(t regclass) RETURNS void LANGUAGE plpgsql AS $$"
               "DECLARE name text := (SELECT relname FROM pg_class WHERE oid = t);"
               "BEGIN"
               "  EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %s FROM CURRENT_USER', t);"
               "  EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %s"
               "    FOR EACH ROW EXECUTE FUNCTION oms_append_only()', name || '_append_only', t);"
               "  EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %s"
               "    FOR EACH STATEMENT EXECUTE FUNCTION oms_append_only()', name || '_no_truncate', t);"
               "END $$;",
    },
    /* The audit trail (audit.h): one row per requested write, in that write's
 * transaction; append-only like the ledgers. */
    {
        .name = "003_oms_audit_log",
        .sql = OMS_AUDIT_MIGRATION_SQL,
    },
    /* The order timeline reads who handled a message by its event id alone
 * (oms_inbox_lookup); the key leads with the consumer. */
    {
        .name = "004_oms_inbox_event_id",
        .sql = "CREATE INDEX IF NOT EXISTS inbox_event_id ON inbox (event_id);",
    },
    /* The retention job removes inbox records older than INBOX_RETENTION_H
 * (service.c): by this index, not by a scan of the whole inbox per batch. */
    {
        .name = "005_oms_inbox_handled_at",
        .sql = "CREATE INDEX IF NOT EXISTS inbox_handled_at ON inbox (handled_at);",
    }};

/* ---- the relay ---- */

struct oms_outbox_relay {
    oms_outbox_relay *next; /* in `relays` */
    oms_pg_pool *pool;
    oms_bus *bus;
    pthread_t thread;
    PGconn *conn;
    oms_arena *arena;
    atomic_bool stopping;
    _Atomic int64_t flush_deadline_ms; /* monotonic; set by stop */
    pthread_mutex_t wake_lock;
    pthread_cond_t wake;
    bool woken; /* a commit appended rows since the relay last looked */
    int last_batch_rows;
};

/* The running relays, so that a commit can wake the one of its pool. A wake
 * happens under the lock: once a relay is off the list, none is in flight. */
static pthread_mutex_t relays_lock = PTHREAD_MUTEX_INITIALIZER;
static oms_outbox_relay *relays;

static void wake_relay(oms_outbox_relay *r)
{
    pthread_mutex_lock(&r->wake_lock);
    r->woken = true;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->wake_lock);
}

/* A commit hook: the transaction appended rows on `pool`. */
static void wake_relays_of(void *pool)
{
    pthread_mutex_lock(&relays_lock);
    for (oms_outbox_relay *r = relays; r; r = r->next) {
        if (r->pool == pool)
            wake_relay(r);
    }
    pthread_mutex_unlock(&relays_lock);
}

static void relay_register(oms_outbox_relay *r)
{
    pthread_mutex_lock(&relays_lock);
    r->next = relays;
    relays = r;
    pthread_mutex_unlock(&relays_lock);
}

static void relay_unregister(oms_outbox_relay *r)
{
    pthread_mutex_lock(&relays_lock);
    for (oms_outbox_relay **p = &relays; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    pthread_mutex_unlock(&relays_lock);
}

oms_err oms_outbox_append(oms_tx *tx, const char *topic, const char *key, const char *payload, oms_error *err)
{
    if (!topic || !*topic || !key || !payload)
        return oms_error_set(err, OMS_EINVAL, NULL, "an outbox message needs a topic, a key and a payload");
    const char *params[] = {topic, key, payload};
    /* Deferred: it travels with the transaction's next statement or its commit. */
    if (oms_pg_tx_exec_deferred(tx, "INSERT INTO outbox (topic, key, payload) VALUES ($1, $2, $3)", 3, params, err) !=
        OMS_OK)
        return err ? err->code : OMS_EINTERNAL;
    /* The relay wakes after the commit, when the row is visible (once per
     * transaction: the same hook is recorded once). */
    oms_pg_pool *pool = oms_pg_tx_pool(tx);
    return oms_tx_on_commit(oms_pg_tx_manager(pool), tx, wake_relays_of, pool, err);
}

typedef enum { BATCH_SENT, BATCH_EMPTY, BATCH_LOCKED, BATCH_FAILED } batch_result;

/* rows: (got_lock, id, topic, key, payload), see relay_batch. */
static batch_result publish_rows(oms_outbox_relay *r, PGresult *rows)
{
    int n = PQntuples(rows);
    oms_bus_outgoing *msgs = oms_arena_calloc(r->arena, (size_t)n, sizeof *msgs);
    const char **row_ids = oms_arena_calloc(r->arena, (size_t)n, sizeof *row_ids);
    if (!msgs || !row_ids)
        return BATCH_FAILED;
    for (int i = 0; i < n; i++) {
        row_ids[i] = PQgetvalue(rows, i, 1);
        msgs[i].topic = PQgetvalue(rows, i, 2);
        msgs[i].key = PQgetvalue(rows, i, 3);
        msgs[i].payload = PQgetvalue(rows, i, 4);
        msgs[i].payload_len = (size_t)PQgetlength(rows, i, 4);
    }
    const char *ids = oms_pg_array_param(r->arena, row_ids, NULL, (size_t)n);
    if (!ids)
        return BATCH_FAILED;
    oms_error err;
    oms_error_clear(&err);
    r->last_batch_rows = n;
    if (oms_bus_publish(r->bus, msgs, (size_t)n, &err) != OMS_OK) {
        oms_log(OMS_LOG_WARN, "outbox_publish_failed", "error", err.message, NULL);
        return BATCH_FAILED;
    }
    const char *params[] = {ids};
    if (!oms_pg_exec(r->arena, r->conn, "DELETE FROM outbox WHERE id = ANY($1::bigint[])", 1, params, &err)) {
        oms_log(OMS_LOG_WARN, "outbox_delete_failed", "error", err.message, NULL);
        return BATCH_FAILED;
    }
    return BATCH_SENT;
}

/* One batch: lock, read, publish, delete, commit. */
static batch_result relay_batch(oms_outbox_relay *r)
{
    oms_error err;
    oms_error_clear(&err);
    /* The delete need not wait for the disk: the messages are already durable
     * on the bus, so losing this commit in a crash only publishes them again,
     * and every consumer drops a repeated event_id (inbox). */
    /* Two commands, no parameters: one round trip. */
    if (oms_pg_run(r->conn, "BEGIN; SET LOCAL synchronous_commit = off", NULL) != OMS_OK) {
        oms_pg_run(r->conn, "ROLLBACK", NULL);
        return BATCH_FAILED;
    }
    /* The lock and the read in one statement. The CTE calls a volatile
     * function, so it runs once; the first column says whether the lock was
     * had, and an empty outbox is one row with NULLs. */
    batch_result result = BATCH_FAILED;
    PGresult *rows = oms_pg_exec(r->arena, r->conn,
                                 "WITH l AS (SELECT pg_try_advisory_xact_lock(" RELAY_LOCK_KEY ") AS got)"
                                 " SELECT l.got, o.id, o.topic, o.key, o.payload FROM l LEFT JOIN LATERAL"
                                 " (SELECT id, topic, key, payload FROM outbox WHERE l.got"
                                 "  ORDER BY id LIMIT " TEXT_OF_VALUE(RELAY_BATCH) ") o ON true ORDER BY o.id",
                                 0, NULL, &err);
    if (rows && PQntuples(rows) > 0 && strcmp(PQgetvalue(rows, 0, 0), "t") != 0)
        result = BATCH_LOCKED; /* another relay publishes for this database */
    else if (rows && (PQntuples(rows) == 0 || PQgetisnull(rows, 0, 1)))
        result = BATCH_EMPTY;
    else if (rows)
        result = publish_rows(r, rows);
    if (result == BATCH_SENT && oms_pg_run(r->conn, "COMMIT", NULL) != OMS_OK)
        result = BATCH_FAILED;
    if (result != BATCH_SENT)
        oms_pg_run(r->conn, "ROLLBACK", NULL);
    oms_arena_reset(r->arena);
    return result;
}

/* Sleeps until a commit appends rows or `timeout_ms` passes. */
static void wait_for_rows(oms_outbox_relay *r, int timeout_ms)
{
    struct timespec deadline = oms_deadline_in(timeout_ms);
    pthread_mutex_lock(&r->wake_lock);
    while (!r->woken && !atomic_load(&r->stopping)) {
        if (pthread_cond_timedwait(&r->wake, &r->wake_lock, &deadline) != 0)
            break;
    }
    r->woken = false;
    pthread_mutex_unlock(&r->wake_lock);
}

static bool relay_connect(oms_outbox_relay *r)
{
    oms_error err;
    oms_error_clear(&err);
    r->conn = oms_pg_acquire(r->pool, RELAY_ACQUIRE_TIMEOUT_MS, &err);
    if (!r->conn) {
        oms_log(OMS_LOG_WARN, "outbox_relay_no_connection", "error", err.message, NULL);
        return false;
    }
    return true;
}

static void relay_disconnect(oms_outbox_relay *r, bool broken)
{
    if (!r->conn)
        return;
    oms_pg_release(r->pool, r->conn, broken);
    r->conn = NULL;
}

static void sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

static bool flush_time_left(oms_outbox_relay *r) { return oms_monotonic_ms() < atomic_load(&r->flush_deadline_ms); }

/* Runs until stopped, then flushes what is pending until the grace deadline. */
static void *relay_main(void *arg)
{
    oms_outbox_relay *r = arg;
    int backoff = RELAY_BACKOFF_MIN_MS;
    for (;;) {
        bool stopping = atomic_load(&r->stopping);
        if (stopping && !flush_time_left(r))
            break;
        if (!r->conn && !relay_connect(r)) {
            sleep_ms(stopping ? 50 : backoff);
            backoff = backoff * 2 > RELAY_BACKOFF_MAX_MS ? RELAY_BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        batch_result result = relay_batch(r);
        if (result == BATCH_SENT) {
            backoff = RELAY_BACKOFF_MIN_MS;
            /* A short batch took all there was: rows committed since then
             * have set `woken`, so waiting costs nothing, where reading
             * again at once mostly found nothing (a transaction each). */
            if (!stopping && r->last_batch_rows < RELAY_BATCH)
                wait_for_rows(r, RELAY_WAIT_MS);
            continue;
        }
        if (result == BATCH_EMPTY) {
            backoff = RELAY_BACKOFF_MIN_MS;
            if (stopping)
                break; /* flushed */
            wait_for_rows(r, RELAY_WAIT_MS);
            continue;
        }
        if (result == BATCH_LOCKED) {
            /* The other relay may have read before our rows committed. */
            sleep_ms(RELAY_LOCKED_RETRY_MS);
            continue;
        }
        if (PQstatus(r->conn) != CONNECTION_OK) {
            oms_log(OMS_LOG_WARN, "outbox_relay_connection_lost", NULL);
            relay_disconnect(r, true);
        }
        sleep_ms(stopping ? 50 : backoff);
        backoff = backoff * 2 > RELAY_BACKOFF_MAX_MS ? RELAY_BACKOFF_MAX_MS : backoff * 2;
    }
    relay_disconnect(r, false);
    return NULL;
}

oms_outbox_relay *oms_outbox_relay_start(oms_pg_pool *pool, oms_bus *bus, oms_error *err)
{
    oms_outbox_relay *r = calloc(1, sizeof *r);
    if (!r) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    r->pool = pool;
    r->bus = bus;
    r->arena = oms_arena_create(0);
    atomic_init(&r->stopping, false);
    atomic_init(&r->flush_deadline_ms, 0);
    if (!r->arena) {
        free(r);
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&r->wake_lock, NULL);
    oms_cond_init_monotonic(&r->wake);
    relay_register(r);
    if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
        relay_unregister(r);
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->wake_lock);
        oms_arena_destroy(r->arena);
        free(r);
        oms_error_set(err, OMS_EINTERNAL, NULL, "cannot start the outbox relay thread");
        return NULL;
    }
    return r;
}

void oms_outbox_relay_stop(oms_outbox_relay *r, int grace_ms)
{
    if (!r)
        return;
    atomic_store(&r->flush_deadline_ms, oms_monotonic_ms() + (grace_ms > 0 ? grace_ms : 0));
    atomic_store(&r->stopping, true);
    wake_relay(r);
    pthread_join(r->thread, NULL);
    relay_unregister(r);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->wake_lock);
    oms_arena_destroy(r->arena);
    free(r);
}
