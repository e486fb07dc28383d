/* bus_pg.c -- the pg message transport: queues in a PostgreSQL database.
 *
 * Publishing inserts one bus_queue row per subscription of the topic and
 * NOTIFYs "oms_bus_<topic>", all in one statement. A consumer thread claims
 * a message with a lease, in one short autocommit statement: it stamps
 * leased_until (now + lease, BUS_LEASE_S, default 60 s) and lease_owner on
 * the oldest row of its key (NOT EXISTS an older row with the same key) that
 * nobody holds. No transaction stays open while the handler runs, so a
 * blocked handler does not hold back the bus database's xmin horizon (which
 * would keep every deleted row as a dead tuple the claim has to walk past).
 * The leased row stays in the table until it is settled, so the NOT EXISTS
 * keeps the next message of its key back: one key is handled by one consumer
 * at a time, in publish order, across processes. Settling (delete, delay,
 * dead-letter) is one statement that only touches the row while this
 * consumer still owns the lease. A retried row keeps its place, so the rows
 * behind it wait.
 *
 * A consumer that dies (SIGKILL) or whose handler runs past the lease lets
 * another consumer take the message once the lease has expired: delivery is
 * at least once, and the inbox of the receiving service dedupes. The late
 * consumer's settlement then matches no row it owns and changes nothing. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "log.h"
#include "pg.h"
#include "pg_internal.h"
#include "saga_messages.h"

#define BUS_MAX_SUBSCRIPTIONS 16
#define BUS_PUBLISH_POOL 4
#define BUS_ACQUIRE_TIMEOUT_MS 5000
#define BUS_WAIT_MS 250
#define BUS_FOLLOW_UP_MS 20 /* after a partial batch, see consumer_main */
#define BUS_MAX_DELAY_MS 30000
#define BUS_CHANNEL_MAX 128
#define BUS_CHANNEL_PREFIX "oms_bus_" /* + topic: what consumers LISTEN on */
#define BUS_OWNER_MAX 160

/* Applied in order; an applied entry is never edited: add a new one. (The
 * first one lost its seed of bus_subscription rows, which every start now
 * writes from the table of saga_messages.h: see seed_topology.) */
static const oms_pg_migration bus_migrations[] = {
    {
        .name = "000_oms_bus",
        .sql = "CREATE TABLE IF NOT EXISTS bus_subscription ("
               "  topic text NOT NULL,"
               "  subscription text NOT NULL,"
               "  PRIMARY KEY (topic, subscription));"
               "CREATE TABLE IF NOT EXISTS bus_queue ("
               "  id bigserial PRIMARY KEY,"
               "  topic text NOT NULL,"
               "  subscription text NOT NULL,"
               "  key text NOT NULL,"
               "  payload text NOT NULL,"
               "  attempts int NOT NULL DEFAULT 0,"
               "  available_at timestamptz NOT NULL DEFAULT now(),"
               "  created_at timestamptz NOT NULL DEFAULT now());"
               "CREATE INDEX IF NOT EXISTS bus_queue_key_order ON bus_queue (topic, subscription, key, id);"
               "CREATE INDEX IF NOT EXISTS bus_queue_available ON bus_queue (topic, subscription, available_at, id);"
               "CREATE TABLE IF NOT EXISTS bus_dead_letter ("
               "  id bigserial PRIMARY KEY,"
               "  topic text NOT NULL,"
               "  subscription text NOT NULL,"
               "  key text NOT NULL,"
               "  payload text NOT NULL,"
               "  reason text,"
               "  attempts int NOT NULL DEFAULT 0,"
               "  created_at timestamptz NOT NULL DEFAULT now());",
    },
    /* Leases instead of row locks held for the handler's run (see the top), and
 * an index that serves the claim (topic, subscription, in id order) without
 * walking the rows of other topics. The claim orders by id, so the
 * available_at index is no longer used. */
    {
        .name = "001_oms_bus_lease",
        .sql = "ALTER TABLE bus_queue ADD COLUMN IF NOT EXISTS leased_until timestamptz,"
               "  ADD COLUMN IF NOT EXISTS lease_owner text;"
               "CREATE INDEX IF NOT EXISTS bus_queue_claim ON bus_queue (topic, subscription, id);"
               "DROP INDEX IF EXISTS bus_queue_available;",
    },
    /* A queue table: see 001_oms_outbox_autovacuum in outbox.c. */
    {
        .name = "002_oms_bus_autovacuum",
        .sql = "ALTER TABLE bus_queue SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,"
               "  autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000);",
    },
    /* Room on each page for the claim's new row version: the lease columns are
 * in no index, so the update stays on the page (HOT) and adds no index
 * entries for the next claims to walk past (docs/benchmarks.md has the
 * measurement). */
    {
        .name = "003_oms_bus_fillfactor",
        .sql = "ALTER TABLE bus_queue SET (fillfactor = 50);",
    },
    /* Each service publishes only to its own topics and handles only its own
 * subscriptions (docs/architecture.md, "PostgreSQL roles"). The database's
 * owner (the orchestrator, order-service) and superusers are trusted; any
 * other role is a participant, known by its role name, which is the name of
 * its service: it may publish a topic only when bus_producer names it
 * (oms_bus_publish, the only way into bus_queue), and it sees, leases,
 * settles and dead-letters only rows of the subscription named after it
 * (row-level security). The owner seeds bus_producer and bus_subscription
 * from the message table at every start (seed_topology). */
    {
        .name = "004_oms_bus_roles",
        .sql =
            "CREATE TABLE IF NOT EXISTS bus_producer ("
            "  topic text NOT NULL,"
            "  producer text NOT NULL,"
            "  PRIMARY KEY (topic, producer));"
            "CREATE OR REPLACE FUNCTION oms_bus_trusted() RETURNS boolean LANGUAGE sql STABLE AS $$"
            "  SELECT r.rolsuper OR pg_has_role(r.oid, d.datdba, 'USAGE') FROM pg_roles r, pg_database d"
            "  WHERE r.rolname = session_user AND d.datname = current_database() $$;"
            "CREATE OR REPLACE FUNCTION oms_bus_publish(topics text[], keys text[], payloads text[],"
            "    channel_prefix text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER"
            "    SET search_path = public, pg_temp AS $$"
            "DECLARE refused text;"
            "BEGIN"
            "  IF NOT oms_bus_trusted() THEN"
            "    SELECT t.topic INTO refused FROM unnest(topics) AS t (topic)"
            "    WHERE NOT EXISTS (SELECT 1 FROM bus_producer p WHERE p.topic = t.topic AND p.producer = session_user)"
            "    LIMIT 1;"
            "    IF FOUND THEN"
            "      RAISE EXCEPTION 'role % may not publish to topic %', session_user, refused"
            "        USING ERRCODE = 'insufficient_privilege';"
            "    END IF;"
            "  END IF;"
            "  INSERT INTO bus_queue (topic, subscription, key, payload)"
            "    SELECT m.topic, s.subscription, m.key, m.payload"
            "    FROM unnest(topics, keys, payloads) WITH ORDINALITY AS m (topic, key, payload, n)"
            "    JOIN bus_subscription s ON s.topic = m.topic ORDER BY m.n, s.subscription;"
            "  PERFORM pg_notify(channel_prefix || d.topic, '') FROM (SELECT DISTINCT unnest(topics) AS topic) d;"
            "END $$;"
            "REVOKE ALL ON bus_queue, bus_dead_letter, bus_subscription, bus_producer, schema_migrations FROM PUBLIC;"
            "GRANT SELECT ON bus_subscription, bus_producer, schema_migrations TO PUBLIC;"
            "GRANT SELECT, UPDATE, DELETE ON bus_queue TO PUBLIC;"
            "GRANT SELECT, INSERT ON bus_dead_letter TO PUBLIC;"
            "GRANT USAGE ON SEQUENCE bus_dead_letter_id_seq TO PUBLIC;"
            "ALTER TABLE bus_queue ENABLE ROW LEVEL SECURITY;"
            "ALTER TABLE bus_dead_letter ENABLE ROW LEVEL SECURITY;"
            "CREATE POLICY bus_queue_own_subscription ON bus_queue"
            "  USING (subscription = session_user);"
            "CREATE POLICY bus_dead_letter_own_subscription ON bus_dead_letter"
            "  USING (subscription = session_user) WITH CHECK (subscription = session_user);",
    },
    /* Dead letters for operators (docs/architecture.md, "Dead letters"): when
 * a message first failed (kept on its queue row, carried to the dead
 * letter), and what became of a dead letter: redriven or discarded (with
 * the reason and who), kept rather than deleted so that the record stays.
 * oms_bus_envelope_field reads a member of the payload, NULL when the
 * payload is no JSON object (a poison message), for the list's filters. */
    {
        .name = "005_oms_bus_dead_letter_ops",
        .sql = "ALTER TABLE bus_queue ADD COLUMN IF NOT EXISTS first_failed_at timestamptz;"
               "ALTER TABLE bus_dead_letter ADD COLUMN IF NOT EXISTS first_failed_at timestamptz,"
               "  ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'dead'"
               "    CHECK (status IN ('dead', 'redriven', 'discarded')),"
               "  ADD COLUMN IF NOT EXISTS settled_at timestamptz,"
               "  ADD COLUMN IF NOT EXISTS discard_reason text,"
               "  ADD COLUMN IF NOT EXISTS discarded_by text;"
               "CREATE INDEX IF NOT EXISTS bus_dead_letter_status ON bus_dead_letter (status, id);"
               "CREATE OR REPLACE FUNCTION oms_bus_envelope_field(payload text, field text) RETURNS text"
               "  LANGUAGE plpgsql IMMUTABLE AS $$"
               "BEGIN"
               "  RETURN payload::jsonb ->> field;"
               "EXCEPTION WHEN others THEN"
               "  RETURN NULL;"
               "END $$;",
    }};

typedef struct pg_bus pg_bus;

typedef struct bus_subscription {
    char *topic;
    char *subscription;
    oms_bus_batch_handler handler;
    void *ctx;
} bus_subscription;

typedef struct consumer {
    pg_bus *bus;
    const bus_subscription *sub;
    pthread_t thread;
    bool started;
    PGconn *conn;
    oms_arena *arena;
    char owner[BUS_OWNER_MAX]; /* lease_owner: unique per consumer thread */
} consumer;

struct pg_bus {
    oms_bus bus;
    oms_pg_pool *pool;          /* publishing and health */
    oms_pg_pool *consumer_pool; /* one held connection per consumer thread */
    oms_bus_options options;
    char *service_name;
    bus_subscription subs[BUS_MAX_SUBSCRIPTIONS];
    size_t sub_count;
    consumer *consumers;
    size_t consumer_count;
    atomic_bool stopping;
    bool started;
    bool trusted;             /* the bus database's owner or a superuser: see 004_oms_bus_roles */
    oms_pg_settings settings; /* owned copies (oms_pg_settings_copy) */
};

static void channel_of(const char *topic, char *out, size_t len) { snprintf(out, len, BUS_CHANNEL_PREFIX "%s", topic); }

/* ---- publish ---- */

/* Every message in one autocommit statement (one round trip, one durable
 * commit): one row per subscription of its topic, in message order (ids,
 * and so per-key order, follow it), and one NOTIFY per topic, delivered at
 * that commit. */
static oms_err publish_statement(PGconn *c, oms_arena *a, const oms_bus_outgoing *msgs, size_t n, oms_error *err)
{
    const char **topics = oms_arena_calloc(a, n, sizeof *topics);
    const char **keys = oms_arena_calloc(a, n, sizeof *keys);
    const char **payloads = oms_arena_calloc(a, n, sizeof *payloads);
    size_t *payload_lens = oms_arena_calloc(a, n, sizeof *payload_lens);
    if (!topics || !keys || !payloads || !payload_lens)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].topic || !msgs[i].key || !msgs[i].payload)
            return oms_error_set(err, OMS_EINVAL, NULL, "a message needs a topic, a key and a payload");
        if (memchr(msgs[i].payload, '\0', msgs[i].payload_len))
            return oms_error_set(err, OMS_EINVAL, NULL, "a payload cannot contain a NUL byte");
        topics[i] = msgs[i].topic;
        keys[i] = msgs[i].key;
        payloads[i] = msgs[i].payload;
        payload_lens[i] = msgs[i].payload_len;
    }
    const char *params[] = {oms_pg_array_param(a, topics, NULL, n), oms_pg_array_param(a, keys, NULL, n),
                            oms_pg_array_param(a, payloads, payload_lens, n), BUS_CHANNEL_PREFIX};
    if (!params[0] || !params[1] || !params[2])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    /* The channel is the one consumer_connect LISTENs on (channel_of); the
     * function refuses a topic the role may not publish (004_oms_bus_roles). */
    if (!oms_pg_exec(a, c, "SELECT oms_bus_publish($1::text[], $2::text[], $3::text[], $4)", 4, params, err))
        return err ? err->code : OMS_EINTERNAL;
    return OMS_OK;
}

static oms_err bus_publish(oms_bus *b, const oms_bus_outgoing *msgs, size_t n, oms_error *err)
{
    pg_bus *bus = b->self;
    if (n == 0)
        return OMS_OK;
    oms_arena *a = oms_arena_create(0);
    if (!a)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    oms_error local;
    oms_error_clear(&local);
    oms_err rc = OMS_OK;
    PGconn *c = oms_pg_acquire(bus->pool, BUS_ACQUIRE_TIMEOUT_MS, &local);
    if (!c) {
        rc = oms_error_set(err, OMS_EUNAVAILABLE, NULL, "bus database: %s", local.message);
    } else {
        rc = publish_statement(c, a, msgs, n, &local);
        if (rc != OMS_OK)
            oms_error_set(err, rc, NULL, "bus publish: %s", local.message[0] ? local.message : "connection lost");
        oms_pg_release(bus->pool, c, PQstatus(c) != CONNECTION_OK);
    }
    oms_arena_destroy(a);
    return rc;
}

/* ---- consuming ---- */

static int64_t retry_delay_ms(const pg_bus *bus, int attempts)
{
    int64_t delay = bus->options.retry_base_delay_ms;
    for (int i = 0; i < attempts && delay < BUS_MAX_DELAY_MS; i++)
        delay *= 2;
    return delay > BUS_MAX_DELAY_MS ? BUS_MAX_DELAY_MS : delay;
}

/* Runs one settling statement; false on failure. Matching no row (the lease
 * was lost to another consumer) is not a failure: there is nothing to undo. */
static bool settle_exec(consumer *cs, const char *sql, int n, const char *const *params, oms_error *err)
{
    PGresult *r = oms_pg_exec(cs->arena, cs->conn, sql, n, params, err);
    if (!r)
        return false;
    if (strcmp(PQcmdTuples(r), "0") == 0)
        oms_log(OMS_LOG_WARN, "bus_lease_lost", "topic", cs->sub->topic, "subscription", cs->sub->subscription,
                "message_id", params[0], NULL);
    return true;
}

/* Moves the row to the dead letters and deletes it, in one statement. */
static bool dead_letter(consumer *cs, const char *id, int attempts, const char *reason, oms_error *err)
{
    char attempts_text[16];
    snprintf(attempts_text, sizeof attempts_text, "%d", attempts);
    const char *params[] = {id, cs->owner, reason, attempts_text};
    return settle_exec(cs,
                       "WITH moved AS (DELETE FROM bus_queue WHERE id = $1 AND lease_owner = $2"
                       "   RETURNING topic, subscription, key, payload, first_failed_at)"
                       " INSERT INTO bus_dead_letter (topic, subscription, key, payload, reason, attempts,"
                       "   first_failed_at)"
                       " SELECT topic || '-DLQ', subscription, key, payload, $3, $4::int,"
                       "   COALESCE(first_failed_at, now()) FROM moved",
                       4, params, err);
}

/* Records a failed delivery (redeliver later, or dead-letter), if this
 * consumer still owns the lease. */
static bool settle_failure(consumer *cs, const char *id, int attempts, oms_bus_disposition d, const char *reason,
                           oms_error *err)
{
    pg_bus *bus = cs->bus;
    if (d == OMS_BUS_DEAD || attempts + 1 > bus->options.max_redeliveries) {
        oms_log(OMS_LOG_WARN, "message_dead_lettered", "topic", cs->sub->topic, "subscription", cs->sub->subscription,
                "message_id", id, "reason", reason, NULL);
        return dead_letter(cs, id, attempts + 1, reason, err);
    }
    char delay[32];
    snprintf(delay, sizeof delay, "%lld", (long long)retry_delay_ms(bus, attempts));
    const char *params[] = {id, cs->owner, delay};
    return settle_exec(cs,
                       "UPDATE bus_queue SET attempts = attempts + 1,"
                       " first_failed_at = COALESCE(first_failed_at, now()),"
                       " available_at = now() + make_interval(secs => $3::double precision / 1000),"
                       " leased_until = NULL, lease_owner = NULL WHERE id = $1 AND lease_owner = $2",
                       3, params, err);
}

static bool consumer_connect(consumer *cs);

static void consumer_disconnect(consumer *cs)
{
    /* Closed rather than returned: its LISTEN must not leak to another user. */
    oms_pg_release(cs->bus->consumer_pool, cs->conn, true);
    cs->conn = NULL;
}

/* A claimed batch: the claim's rows and what the handler made of each. */
typedef struct claimed_batch {
    PGresult *rows; /* id, key, payload, attempts; owned by the arena */
    int n;
    oms_bus_message *msgs;
    oms_bus_outcome *out;
} claimed_batch;

/* Deletes every acknowledged message of the batch in one statement. */
static bool settle_acks(consumer *cs, const claimed_batch *b, oms_error *err)
{
    const char **acked_ids = oms_arena_calloc(cs->arena, (size_t)b->n, sizeof *acked_ids);
    if (!acked_ids)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory"), false;
    int acked = 0;
    for (int i = 0; i < b->n; i++) {
        if (b->out[i].disposition == OMS_BUS_ACK)
            acked_ids[acked++] = PQgetvalue(b->rows, i, 0);
    }
    if (acked == 0)
        return true;
    const char *ids = oms_pg_array_param(cs->arena, acked_ids, NULL, (size_t)acked);
    if (!ids)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory"), false;
    const char *params[] = {ids, cs->owner};
    PGresult *r = oms_pg_exec(
        cs->arena, cs->conn, "DELETE FROM bus_queue WHERE id = ANY($1::bigint[]) AND lease_owner = $2", 2, params, err);
    if (!r)
        return false;
    if (atoi(PQcmdTuples(r)) < acked)
        oms_log_num(OMS_LOG_WARN, "bus_lease_lost", "messages", (double)(acked - atoi(PQcmdTuples(r))), "topic",
                    cs->sub->topic, "subscription", cs->sub->subscription, NULL);
    return true;
}

static bool settle_batch(consumer *cs, const claimed_batch *b, oms_error *err)
{
    if (!settle_acks(cs, b, err))
        return false;
    for (int i = 0; i < b->n; i++) {
        const oms_bus_outcome *o = &b->out[i];
        if (o->disposition == OMS_BUS_ACK)
            continue;
        const char *reason = o->reason[0]                     ? o->reason
                             : o->disposition == OMS_BUS_DEAD ? "rejected by the handler"
                                                              : "retry limit";
        if (!settle_failure(cs, PQgetvalue(b->rows, i, 0), atoi(PQgetvalue(b->rows, i, 3)), o->disposition, reason,
                            err))
            return false;
    }
    return true;
}

/* Settles; when the connection broke meanwhile (e.g. PostgreSQL restarted
 * while the handler ran), reconnects and tries once more, so that the keys
 * do not wait for their leases to expire. Settling again what was settled is
 * harmless: the statements only touch rows this consumer still owns. */
static bool settle_or_reconnect(consumer *cs, const claimed_batch *b, oms_error *err)
{
    if (settle_batch(cs, b, err))
        return true;
    if (PQstatus(cs->conn) == CONNECTION_OK)
        return false;
    consumer_disconnect(cs);
    return consumer_connect(cs) && settle_batch(cs, b, err);
}

/* HANDLED: a full batch (more may wait); SOME: fewer than batch_size. */
typedef enum { CLAIM_HANDLED, CLAIM_HANDLED_SOME, CLAIM_NONE, CLAIM_FAILED } claim_result;

/* Leases up to batch_size heads of distinct keys (a row with an older row of
 * its key waiting is not a head), oldest first, in one autocommit statement.
 * ARRAY(...) makes the locking subquery run once. Ordering by the claim
 * index's columns (the same order as by id, topic and subscription being
 * fixed) keeps the planner on that index: ordered by id alone, it walked the
 * primary key and filtered, through every other topic's rows. */
static PGresult *claim(consumer *cs, oms_error *err)
{
    char lease[32], limit[16];
    snprintf(lease, sizeof lease, "%d", cs->bus->options.lease_ms);
    snprintf(limit, sizeof limit, "%d", cs->bus->options.batch_size);
    const char *params[] = {cs->sub->topic, cs->sub->subscription, lease, cs->owner, limit};
    return oms_pg_exec(cs->arena, cs->conn,
                       "WITH c AS (UPDATE bus_queue"
                       "   SET leased_until = now() + make_interval(secs => $3::double precision / 1000),"
                       "   lease_owner = $4"
                       "   WHERE id = ANY(ARRAY(SELECT id FROM bus_queue q"
                       "     WHERE topic = $1 AND subscription = $2 AND available_at <= now()"
                       "     AND (leased_until IS NULL OR leased_until < now())"
                       "     AND NOT EXISTS (SELECT 1 FROM bus_queue p WHERE p.topic = q.topic"
                       "       AND p.subscription = q.subscription AND p.key = q.key AND p.id < q.id)"
                       "     ORDER BY topic, subscription, id LIMIT $5::int FOR UPDATE SKIP LOCKED))"
                       "   RETURNING id, key, payload, attempts)"
                       " SELECT id, key, payload, attempts FROM c ORDER BY id",
                       5, params, err);
}

static bool batch_from_rows(consumer *cs, PGresult *rows, claimed_batch *b)
{
    b->rows = rows;
    b->n = PQntuples(rows);
    b->msgs = oms_arena_calloc(cs->arena, (size_t)b->n, sizeof *b->msgs);
    b->out = oms_arena_calloc(cs->arena, (size_t)b->n, sizeof *b->out);
    if (!b->msgs || !b->out)
        return false;
    for (int i = 0; i < b->n; i++) {
        int attempts = atoi(PQgetvalue(rows, i, 3));
        b->msgs[i] = (oms_bus_message){
            .topic = cs->sub->topic,
            .subscription = cs->sub->subscription,
            .key = PQgetvalue(rows, i, 1),
            .payload = PQgetvalue(rows, i, 2),
            .payload_len = (size_t)PQgetlength(rows, i, 2),
            .redelivery_count = (uint32_t)(attempts < 0 ? 0 : attempts),
            .message_id = PQgetvalue(rows, i, 0),
        };
        b->out[i].disposition = OMS_BUS_RETRY;
    }
    return true;
}

static claim_result claim_and_handle(consumer *cs)
{
    oms_error err;
    oms_error_clear(&err);
    PGresult *rows = claim(cs, &err);
    claim_result result = CLAIM_FAILED;
    claimed_batch b;
    if (rows && PQntuples(rows) == 0) {
        result = CLAIM_NONE;
    } else if (rows && batch_from_rows(cs, rows, &b)) {
        cs->sub->handler(cs->sub->ctx, b.msgs, (size_t)b.n, cs->arena, b.out);
        if (settle_or_reconnect(cs, &b, &err))
            result = b.n < cs->bus->options.batch_size ? CLAIM_HANDLED_SOME : CLAIM_HANDLED;
        else
            oms_log(OMS_LOG_WARN, "bus_settle_failed", "topic", cs->sub->topic, "error", err.message, NULL);
    }
    /* Out of memory for the batch: its leases expire and it is delivered again. */
    oms_arena_reset(cs->arena);
    return result;
}

/* Frees the notifications libpq has read; how many there were. */
static int drain_notifies(PGconn *c)
{
    int n = 0;
    for (PGnotify *note = PQnotifies(c); note; note = PQnotifies(c)) {
        PQfreemem(note);
        n++;
    }
    return n;
}

/* Sleeps until a NOTIFY arrives or `timeout_ms` passes. One that libpq has
 * read already (it arrived while the last claim's answer was being read,
 * the claim having looked before that publish committed) counts as arrived:
 * polling the socket alone missed it and slept the whole timeout. */
static void wait_for_notify(PGconn *c, int timeout_ms)
{
    if (drain_notifies(c) > 0)
        return;
    struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
    if (pfd.fd < 0 || poll(&pfd, 1, timeout_ms) > 0)
        PQconsumeInput(c);
    drain_notifies(c);
}

static bool consumer_connect(consumer *cs)
{
    oms_error err;
    oms_error_clear(&err);
    cs->conn = oms_pg_acquire(cs->bus->consumer_pool, BUS_ACQUIRE_TIMEOUT_MS, &err);
    if (!cs->conn) {
        oms_log(OMS_LOG_WARN, "bus_consumer_no_connection", "topic", cs->sub->topic, "error", err.message, NULL);
        return false;
    }
    /* LISTEN takes an identifier, not a parameter: the channel name is ours
     * (BUS_CHANNEL_PREFIX + a topic from code) and quoted with PQescapeIdentifier. */
    char channel[BUS_CHANNEL_MAX];
    channel_of(cs->sub->topic, channel, sizeof channel);
    char *ident = PQescapeIdentifier(cs->conn, channel, strlen(channel));
    char sql[BUS_CHANNEL_MAX * 2 + 16];
    bool ok = ident != NULL;
    if (ok) {
        snprintf(sql, sizeof sql, "LISTEN %s", ident);
        ok = oms_pg_run(cs->conn, sql, NULL) == OMS_OK;
    }
    /* Claims and settlements need not wait for the disk: losing one in a
     * crash only delivers its messages again (the receiver's inbox drops a
     * repeat), and it never loses one, since publishing commits durably. */
    if (ok)
        ok = oms_pg_run(cs->conn, "SET synchronous_commit = off", NULL) == OMS_OK;
    /* The claim is planned once per connection: planned for each call
     * (PostgreSQL's default while a custom plan looks cheaper) it cost more
     * CPU than running it. Its generic plan walks the claim index. */
    if (ok)
        ok = oms_pg_run(cs->conn, "SET plan_cache_mode = force_generic_plan", NULL) == OMS_OK;
    PQfreemem(ident);
    if (!ok) {
        oms_pg_release(cs->bus->consumer_pool, cs->conn, true);
        cs->conn = NULL;
    }
    return ok;
}

static void *consumer_main(void *arg)
{
    consumer *cs = arg;
    int backoff = 100;
    while (!atomic_load(&cs->bus->stopping)) {
        if (!cs->conn && !consumer_connect(cs)) {
            usleep((useconds_t)backoff * 1000);
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
            continue;
        }
        claim_result result = claim_and_handle(cs);
        if (result == CLAIM_HANDLED) {
            backoff = 100;
            continue;
        }
        if (result == CLAIM_HANDLED_SOME) {
            /* The queue had no more free heads a moment ago: claiming again
             * at once mostly comes back empty. Wait for the next publish
             * instead, briefly: the row behind one of ours on its key gets
             * no NOTIFY of its own. */
            backoff = 100;
            wait_for_notify(cs->conn, BUS_FOLLOW_UP_MS);
            continue;
        }
        if (result == CLAIM_NONE) {
            wait_for_notify(cs->conn, BUS_WAIT_MS);
            continue;
        }
        if (cs->conn && PQstatus(cs->conn) != CONNECTION_OK) {
            oms_log(OMS_LOG_WARN, "bus_consumer_connection_lost", "topic", cs->sub->topic, NULL);
            consumer_disconnect(cs);
        }
        usleep((useconds_t)backoff * 1000);
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    if (cs->conn)
        consumer_disconnect(cs);
    return NULL;
}

static oms_err add_subscription(pg_bus *bus, const char *topic, const char *subscription, bool has_handler,
                                oms_error *err, bus_subscription **out)
{
    if (bus->started)
        return oms_error_set(err, OMS_EINVAL, NULL, "subscribe must come before start");
    if (!topic || !*topic || !subscription || !*subscription || !has_handler)
        return oms_error_set(err, OMS_EINVAL, NULL, "a subscription needs a topic, a name and a handler");
    if (strlen(topic) > 64)
        return oms_error_set(err, OMS_EINVAL, "topic", "topic names are at most 64 characters");
    if (bus->sub_count >= BUS_MAX_SUBSCRIPTIONS)
        return oms_error_set(err, OMS_EINVAL, NULL, "too many subscriptions");
    bus_subscription *s = &bus->subs[bus->sub_count];
    s->topic = strdup(topic);
    s->subscription = strdup(subscription);
    if (!s->topic || !s->subscription) {
        free(s->topic);
        free(s->subscription);
        s->topic = s->subscription = NULL;
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    }
    bus->sub_count++;
    *out = s;
    return OMS_OK;
}

static oms_err bus_subscribe(oms_bus *b, const char *topic, const char *subscription, oms_bus_batch_handler handler,
                             void *ctx, oms_error *err)
{
    bus_subscription *s = NULL;
    oms_err rc = add_subscription(b->self, topic, subscription, handler != NULL, err, &s);
    if (rc == OMS_OK) {
        s->handler = handler;
        s->ctx = ctx;
    }
    return rc;
}

/* Records (topic, name) pairs in `table` (bus_subscription or bus_producer);
 * known ones are left alone. Only a trusted role writes there (see
 * 004_oms_bus_roles): a participant's own subscriptions are in the table
 * the owner seeds. */
static oms_err record_pairs(pg_bus *bus, const char *sql, const oms_msg_subscription *pairs, size_t n, oms_error *err)
{
    if (!bus->trusted)
        return OMS_OK;
    oms_error local;
    oms_error_clear(&local);
    PGconn *c = oms_pg_acquire(bus->pool, BUS_ACQUIRE_TIMEOUT_MS, &local);
    if (!c)
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "bus database: %s", local.message);
    oms_err rc = OMS_OK;
    for (size_t i = 0; i < n && rc == OMS_OK; i++) {
        const char *params[] = {pairs[i].topic, pairs[i].subscription};
        PGresult *r = oms_pg_exec(NULL, c, sql, 2, params, err);
        if (!r)
            rc = err ? err->code : OMS_EINTERNAL;
        PQclear(r);
    }
    oms_pg_release(bus->pool, c, PQstatus(c) != CONNECTION_OK);
    return rc;
}

#define RECORD_SUBSCRIPTION "INSERT INTO bus_subscription (topic, subscription) VALUES ($1, $2) ON CONFLICT DO NOTHING"
#define RECORD_PRODUCER "INSERT INTO bus_producer (topic, producer) VALUES ($1, $2) ON CONFLICT DO NOTHING"

/* Whether the connected role owns the bus database or is a superuser. */
static oms_err read_trust(pg_bus *bus, oms_error *err)
{
    oms_error local;
    oms_error_clear(&local);
    PGconn *c = oms_pg_acquire(bus->pool, BUS_ACQUIRE_TIMEOUT_MS, &local);
    if (!c)
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "bus database: %s", local.message);
    PGresult *r = oms_pg_exec(NULL, c, "SELECT oms_bus_trusted()", 0, NULL, err);
    bus->trusted = r && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    oms_err rc = r ? OMS_OK : (err ? err->code : OMS_EINTERNAL);
    PQclear(r);
    oms_pg_release(bus->pool, c, PQstatus(c) != CONNECTION_OK);
    return rc;
}

/* Every subscription and producer of the system (saga_messages.h), recorded
 * when the bus is made, so that nothing published before a consumer first
 * starts is lost and each topic's producer may publish it. */
static oms_err seed_topology(pg_bus *bus, oms_error *err)
{
    oms_msg_subscription pairs[OMS_MSG_TYPE_COUNT];
    size_t n = oms_msg_subscriptions(pairs, OMS_MSG_TYPE_COUNT);
    oms_err rc = record_pairs(bus, RECORD_SUBSCRIPTION, pairs, n < OMS_MSG_TYPE_COUNT ? n : OMS_MSG_TYPE_COUNT, err);
    n = 0;
    for (int t = 0; t < OMS_MSG_TYPE_COUNT; t++) {
        const oms_msg_def *d = oms_msg_def_of((oms_msg_type)t);
        pairs[n++] = (oms_msg_subscription){d->topic, d->producer};
    }
    return rc == OMS_OK ? record_pairs(bus, RECORD_PRODUCER, pairs, n, err) : rc;
}

static oms_err record_own_subscriptions(pg_bus *bus, oms_error *err)
{
    oms_msg_subscription pairs[BUS_MAX_SUBSCRIPTIONS];
    for (size_t i = 0; i < bus->sub_count; i++)
        pairs[i] = (oms_msg_subscription){bus->subs[i].topic, bus->subs[i].subscription};
    return record_pairs(bus, RECORD_SUBSCRIPTION, pairs, bus->sub_count, err);
}

static void stop_consumers(pg_bus *bus)
{
    atomic_store(&bus->stopping, true);
    for (size_t i = 0; i < bus->consumer_count; i++) {
        if (bus->consumers[i].started)
            pthread_join(bus->consumers[i].thread, NULL);
        bus->consumers[i].started = false;
        oms_arena_destroy(bus->consumers[i].arena);
        bus->consumers[i].arena = NULL;
    }
    free(bus->consumers);
    bus->consumers = NULL;
    bus->consumer_count = 0;
    oms_pg_pool_destroy(bus->consumer_pool);
    bus->consumer_pool = NULL;
}

/* host:pid:bus-instance:thread -- unique across processes and buses. */
static void name_owner(consumer *cs, size_t index)
{
    static atomic_uint instances;
    char host[64] = "";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';
    snprintf(cs->owner, sizeof cs->owner, "%s:%ld:%u:%zu", host, (long)getpid(), atomic_fetch_add(&instances, 1),
             index);
}

static oms_err bus_start(oms_bus *b, oms_error *err)
{
    pg_bus *bus = b->self;
    if (bus->started)
        return oms_error_set(err, OMS_EINVAL, NULL, "the bus is started already");
    oms_err rc = record_own_subscriptions(bus, err);
    if (rc != OMS_OK)
        return rc;
    size_t count = bus->sub_count * (size_t)bus->options.consumer_threads;
    if (count == 0) {
        bus->started = true;
        return OMS_OK;
    }
    bus->consumer_pool = oms_pg_pool_create("bus-consumers", &bus->settings, (int)count, err);
    bus->consumers = calloc(count, sizeof *bus->consumers);
    if (!bus->consumer_pool || !bus->consumers) {
        free(bus->consumers);
        bus->consumers = NULL;
        oms_pg_pool_destroy(bus->consumer_pool);
        bus->consumer_pool = NULL;
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    }
    atomic_store(&bus->stopping, false);
    bus->consumer_count = count;
    for (size_t i = 0; i < count; i++) {
        consumer *cs = &bus->consumers[i];
        cs->bus = bus;
        cs->sub = &bus->subs[i / (size_t)bus->options.consumer_threads];
        cs->arena = oms_arena_create(0);
        name_owner(cs, i);
        if (!cs->arena || pthread_create(&cs->thread, NULL, consumer_main, cs) != 0) {
            stop_consumers(bus);
            return oms_error_set(err, OMS_EINTERNAL, NULL, "cannot start the bus consumer threads");
        }
        cs->started = true;
    }
    bus->started = true;
    return OMS_OK;
}

static bool bus_healthy(oms_bus *b, char *why, size_t why_len)
{
    pg_bus *bus = b->self;
    return oms_pg_ping(bus->pool, why, why_len);
}

static void bus_stop(oms_bus *b)
{
    pg_bus *bus = b->self;
    stop_consumers(bus);
}

static void bus_free(pg_bus *bus)
{
    for (size_t i = 0; i < bus->sub_count; i++) {
        free(bus->subs[i].topic);
        free(bus->subs[i].subscription);
    }
    oms_pg_pool_destroy(bus->pool);
    free(bus->service_name);
    oms_pg_settings_free(&bus->settings);
    free(bus);
}

static void bus_destroy(oms_bus *b)
{
    pg_bus *bus = b->self;
    stop_consumers(bus);
    bus_free(bus);
}

/* ---- dead letters (bus.h) ---- */

/* Runs one dead-letter statement on a publishing connection; the result
 * (in `a`) or NULL with err. */
static PGresult *dead_letter_exec(pg_bus *bus, oms_arena *a, const char *sql, int n, const char *const *params,
                                  oms_error *err)
{
    oms_error local;
    oms_error_clear(&local);
    PGconn *c = oms_pg_acquire(bus->pool, BUS_ACQUIRE_TIMEOUT_MS, &local);
    if (!c) {
        oms_error_set(err, OMS_EUNAVAILABLE, NULL, "bus database: %s", local.message);
        return NULL;
    }
    PGresult *r = oms_pg_exec(a, c, sql, n, params, err);
    oms_pg_release(bus->pool, c, PQstatus(c) != CONNECTION_OK);
    return r;
}

#define DEAD_LETTER_COLUMNS                                                                                            \
    "id, left(topic, -4), subscription, key, payload, COALESCE(reason, ''), attempts,"                                 \
    " (extract(epoch FROM COALESCE(first_failed_at, created_at)) * 1000)::bigint,"                                     \
    " (extract(epoch FROM created_at) * 1000)::bigint, status,"                                                        \
    " COALESCE((extract(epoch FROM settled_at) * 1000)::bigint, 0), discard_reason, discarded_by"

static oms_err dead_letter_from_row(const PGresult *r, int row, oms_arena *a, oms_dead_letter *d, oms_error *err)
{
    int64_t attempts = 0;
    memset(d, 0, sizeof *d);
    if (oms_pg_int_value(r, row, 0, &d->id, err) != OMS_OK || oms_pg_int_value(r, row, 6, &attempts, err) != OMS_OK ||
        oms_pg_int_value(r, row, 7, &d->first_failure_ms, err) != OMS_OK ||
        oms_pg_int_value(r, row, 8, &d->last_failure_ms, err) != OMS_OK ||
        oms_pg_int_value(r, row, 10, &d->settled_ms, err) != OMS_OK)
        return err ? err->code : OMS_EINTERNAL;
    d->attempts = (int)attempts;
    d->topic = oms_pg_text_value(a, r, row, 1);
    d->subscription = oms_pg_text_value(a, r, row, 2);
    d->key = oms_pg_text_value(a, r, row, 3);
    d->payload = oms_pg_text_value(a, r, row, 4);
    d->payload_len = (size_t)PQgetlength(r, row, 4);
    d->error = oms_pg_text_value(a, r, row, 5);
    d->discard_reason = oms_pg_text_value(a, r, row, 11);
    d->discarded_by = oms_pg_text_value(a, r, row, 12);
    if (!d->topic || !d->subscription || !d->key || !d->payload || !d->error ||
        !oms_dead_letter_status_parse(oms_pg_value(r, row, 9), &d->status))
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    oms_dead_letter_describe(d, a);
    return OMS_OK;
}

static oms_err bus_dead_letters(oms_bus *b, const oms_dead_letter_filter *f, oms_arena *a, oms_dead_letter **out,
                                size_t *count, oms_error *err)
{
    *out = NULL;
    *count = 0;
    int limit = f->limit > 0 && f->limit <= OMS_DEAD_LETTER_PAGE_MAX ? f->limit : 100;
    const char *ids = NULL;
    if (f->id_count > 0) {
        const char **texts = oms_arena_calloc(a, f->id_count, sizeof *texts);
        for (size_t i = 0; texts && i < f->id_count; i++)
            texts[i] = oms_pg_int_param(a, f->ids[i]);
        ids = texts ? oms_pg_array_param(a, texts, NULL, f->id_count) : NULL;
        if (!ids)
            return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    }
    const char *params[] = {f->topic,
                            f->event_type,
                            f->order_id,
                            f->since,
                            f->any_status ? NULL : oms_dead_letter_status_name(f->status),
                            ids,
                            oms_pg_int_param(a, f->after_id),
                            oms_pg_int_param(a, limit)};
    PGresult *r = dead_letter_exec(b->self, a,
                                   "SELECT " DEAD_LETTER_COLUMNS " FROM bus_dead_letter"
                                   " WHERE topic LIKE '%-DLQ' AND ($1::text IS NULL OR topic = $1 || '-DLQ')"
                                   " AND ($2::text IS NULL OR oms_bus_envelope_field(payload, 'event_type') = $2)"
                                   " AND ($3::text IS NULL OR key = $3"
                                   "   OR oms_bus_envelope_field(payload, 'order_id') = $3)"
                                   " AND ($4::timestamptz IS NULL OR created_at >= $4::timestamptz)"
                                   " AND ($5::text IS NULL OR status = $5)"
                                   " AND ($6::bigint[] IS NULL OR id = ANY($6::bigint[]))"
                                   " AND id > $7::bigint ORDER BY id LIMIT $8::int",
                                   8, params, err);
    if (!r)
        return err ? err->code : OMS_EINTERNAL;
    int n = PQntuples(r);
    oms_dead_letter *list = oms_arena_calloc(a, n > 0 ? (size_t)n : 1, sizeof *list);
    if (!list)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (int i = 0; i < n; i++) {
        oms_err rc = dead_letter_from_row(r, i, a, &list[i], err);
        if (rc != OMS_OK)
            return rc;
    }
    *out = list;
    *count = (size_t)n;
    return OMS_OK;
}

/* Why a settling statement touched no row: none with that id, or not dead. */
static oms_err not_settled(pg_bus *bus, oms_arena *a, const char *id, oms_error *err)
{
    const char *params[] = {id};
    PGresult *r = dead_letter_exec(bus, a, "SELECT status FROM bus_dead_letter WHERE id = $1::bigint", 1, params, err);
    if (!r)
        return err ? err->code : OMS_EINTERNAL;
    if (PQntuples(r) == 0)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "dead letter %s not found", id);
    return oms_error_reason(
        err, oms_error_set(err, OMS_ECONFLICT, NULL, "dead letter %s is %s already", id, oms_pg_value(r, 0, 0)),
        "not_dead");
}

static oms_err bus_count_dead_letters(oms_bus *b, oms_arena *a, oms_dead_letter_count **out, size_t *count,
                                      oms_error *err)
{
    *out = NULL;
    *count = 0;
    PGresult *r = dead_letter_exec(b->self, a,
                                   "SELECT left(topic, -4), count(*) FROM bus_dead_letter"
                                   " WHERE status = 'dead' AND topic LIKE '%-DLQ' GROUP BY 1 ORDER BY 1",
                                   0, NULL, err);
    if (!r)
        return err ? err->code : OMS_EINTERNAL;
    int n = PQntuples(r);
    oms_dead_letter_count *list = oms_arena_calloc(a, n > 0 ? (size_t)n : 1, sizeof *list);
    if (!list)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (int i = 0; i < n; i++) {
        list[i].topic = oms_pg_text_value(a, r, i, 0);
        oms_err rc = oms_pg_int_value(r, i, 1, &list[i].count, err);
        if (rc != OMS_OK)
            return rc;
        if (!list[i].topic)
            return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    }
    *out = list;
    *count = (size_t)n;
    return OMS_OK;
}

/* Runs a statement that settles dead letter $1 (extra parameters p2, p3)
 * and returns a row when it did; none: not found, or not dead. */
static oms_err settle_dead_letter(pg_bus *bus, const char *sql, int64_t id, int nparams, const char *p2, const char *p3,
                                  oms_error *err)
{
    oms_arena *a = oms_arena_create(0);
    if (!a)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    const char *params[] = {oms_pg_int_param(a, id), p2, p3};
    oms_err rc = OMS_OK;
    PGresult *r = params[0] ? dead_letter_exec(bus, a, sql, nparams, params, err) : NULL;
    if (!params[0])
        rc = oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    else if (!r)
        rc = err ? err->code : OMS_EINTERNAL;
    else if (PQntuples(r) == 0)
        rc = not_settled(bus, a, params[0], err);
    oms_arena_destroy(a);
    return rc;
}

/* Back on the queue of the subscription that failed it, behind what waits
 * on its key, and marked redriven, in one statement: a dead letter is
 * redriven at most once. The NOTIFY wakes that subscription's consumers. */
static oms_err bus_redrive(oms_bus *b, int64_t id, oms_error *err)
{
    return settle_dead_letter(b->self,
                              "WITH d AS (UPDATE bus_dead_letter SET status = 'redriven', settled_at = now()"
                              "   WHERE id = $1::bigint AND status = 'dead' AND topic LIKE '%-DLQ'"
                              "   RETURNING topic, subscription, key, payload),"
                              " q AS (INSERT INTO bus_queue (topic, subscription, key, payload)"
                              "   SELECT left(topic, -4), subscription, key, payload FROM d RETURNING topic)"
                              " SELECT pg_notify($2 || topic, '') FROM q",
                              id, 2, BUS_CHANNEL_PREFIX, NULL, err);
}

static oms_err bus_discard(oms_bus *b, int64_t id, const char *reason, const char *actor, oms_error *err)
{
    return settle_dead_letter(b->self,
                              "UPDATE bus_dead_letter SET status = 'discarded', settled_at = now(),"
                              " discard_reason = $2, discarded_by = $3"
                              " WHERE id = $1::bigint AND status = 'dead' RETURNING id",
                              id, 3, reason, actor, err);
}

static const oms_bus_ops pg_bus_ops = {
    .publish = bus_publish,
    .subscribe = bus_subscribe,
    .start = bus_start,
    .healthy = bus_healthy,
    .stop = bus_stop,
    .destroy = bus_destroy,
    .dead_letters = bus_dead_letters,
    .redrive = bus_redrive,
    .discard = bus_discard,
    .count_dead_letters = bus_count_dead_letters,
};

static oms_bus_options options_with_defaults(const oms_bus_options *o)
{
    oms_bus_options r = {.service_name = "oms",
                         .max_redeliveries = OMS_BUS_DEFAULT_MAX_REDELIVERIES,
                         .consumer_threads = OMS_BUS_DEFAULT_CONSUMER_THREADS,
                         .batch_size = OMS_BUS_DEFAULT_BATCH_SIZE,
                         .retry_base_delay_ms = OMS_BUS_DEFAULT_RETRY_BASE_DELAY_MS,
                         .lease_ms = OMS_BUS_DEFAULT_LEASE_S * 1000};
    if (o) {
        if (o->service_name)
            r.service_name = o->service_name;
        if (o->max_redeliveries > 0)
            r.max_redeliveries = o->max_redeliveries;
        if (o->consumer_threads > 0)
            r.consumer_threads = o->consumer_threads;
        if (o->batch_size > 0)
            r.batch_size = o->batch_size;
        if (o->retry_base_delay_ms > 0)
            r.retry_base_delay_ms = o->retry_base_delay_ms;
        if (o->lease_ms > 0)
            r.lease_ms = o->lease_ms;
    }
    return r;
}

oms_bus *oms_bus_pg_create(const struct oms_pg_settings *s, const oms_bus_options *o, oms_error *err)
{
    if (!s || !s->dbname || !*s->dbname) {
        oms_error_set(err, OMS_EINVAL, "BUS_POSTGRES_DB", "the bus needs a database name");
        return NULL;
    }
    oms_err rc = oms_pg_migrate(s, bus_migrations, sizeof bus_migrations / sizeof bus_migrations[0], NULL, err);
    if (rc != OMS_OK)
        return NULL;
    pg_bus *bus = calloc(1, sizeof *bus);
    if (!bus) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    bus->options = options_with_defaults(o);
    bus->service_name = strdup(bus->options.service_name);
    bus->options.service_name = bus->service_name;
    atomic_init(&bus->stopping, false);
    if (!bus->service_name || oms_pg_settings_copy(s, &bus->settings) != OMS_OK) {
        bus_free(bus);
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    bus->pool = oms_pg_pool_create("bus", &bus->settings, BUS_PUBLISH_POOL, err);
    if (!bus->pool || read_trust(bus, err) != OMS_OK || seed_topology(bus, err) != OMS_OK) {
        bus_free(bus);
        return NULL;
    }
    bus->bus.ops = &pg_bus_ops;
    bus->bus.self = bus;
    return &bus->bus;
}
