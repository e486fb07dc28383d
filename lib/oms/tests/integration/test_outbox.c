/* Integration tests of oms/outbox.c and oms/inbox.c: the relay,
 * oms_inbox_handle and oms_inbox_handle_batch, over a real PostgreSQL and
 * the real pg bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <cmocka.h>

#include "it_common.h"
#include "oms/json.h"
#include "oms/inbox.h"
#include "oms/outbox.h"
#include "oms/tests/support/test_bus.h"
#include "oms/util.h"

#define SAGA "0b8f5a9e-2c1d-4e5f-8a7b-6c5d4e3f2a1b"
#define ORDER "1c9e6b0f-3d2e-4f60-9b8c-7d6e5f4a3b2c"

static char dbname[64], bus_dbname[64];
static oms_pg_settings settings, bus_settings;
static oms_pg_pool *pool;

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static int seen_count;
static char seen[16][64];

static oms_bus_disposition collect(void *ctx, const oms_bus_message *m, oms_arena *a, char *reason, size_t len)
{
    (void)ctx;
    (void)a;
    (void)reason;
    (void)len;
    pthread_mutex_lock(&seen_lock);
    if (seen_count < 16)
        snprintf(seen[seen_count++], sizeof seen[0], "%s", m->payload);
    pthread_mutex_unlock(&seen_lock);
    return OMS_BUS_ACK;
}

static int setup(void **state)
{
    (void)state;
    settings = it_settings(dbname, sizeof dbname, "oms_it_outbox");
    bus_settings = it_settings(bus_dbname, sizeof bus_dbname, "oms_it_outbox_bus");
    it_drop_database(&settings);
    it_drop_database(&bus_settings);
    oms_error err;
    if (oms_pg_migrate(&settings, oms_outbox_migrations, OMS_OUTBOX_MIGRATION_COUNT, NULL, &err) != OMS_OK)
        return -1;
    pool = oms_pg_pool_create("outbox-test", &settings, 4, &err);
    /* What the batch tests' handler writes; `note` is checked at commit. */
    PGconn *c = it_connect(&settings, dbname);
    PGresult *r = PQexec(c, "CREATE TABLE effect (event_id uuid PRIMARY KEY,"
                            " note text UNIQUE DEFERRABLE INITIALLY DEFERRED)");
    bool created = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(c);
    return pool && created ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    oms_pg_pool_destroy(pool);
    it_drop_database(&settings);
    it_drop_database(&bus_settings);
    return 0;
}

/* Rows of the outbox not yet sent; -1 on error. */
static long outbox_pending(void)
{
    oms_error err;
    PGconn *c = oms_pg_acquire(pool, 5000, &err);
    if (!c)
        return -1;
    PGresult *r = oms_pg_exec(NULL, c, "SELECT count(*) FROM outbox", 0, NULL, &err);
    long n = r ? atol(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    oms_pg_release(pool, c, !r && PQstatus(c) != CONNECTION_OK);
    return n;
}

static void append_in_tx(const char *payload, bool commit)
{
    oms_tx_manager *tm = oms_pg_tx_manager(pool);
    oms_tx *tx = NULL;
    oms_error err;
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    assert_int_equal(oms_outbox_append(tx, "t-outbox", ORDER, payload, &err), OMS_OK);
    if (commit)
        assert_int_equal(oms_tx_commit(tm, tx, &err), OMS_OK);
    else
        oms_tx_rollback(tm, tx);
}

static void the_relay_publishes_committed_rows_in_order_and_never_rolled_back_ones(void **state)
{
    (void)state;
    oms_error err;
    oms_bus_options o = {.consumer_threads = 1};
    oms_bus *bus = oms_bus_pg_create(&bus_settings, &o, &err);
    assert_non_null(bus);
    assert_int_equal(test_bus_subscribe_each(bus, "t-outbox", "test", collect, NULL, &err), OMS_OK);
    assert_int_equal(oms_bus_start(bus, &err), OMS_OK);

    append_in_tx("first", true);
    append_in_tx("rolled-back", false);
    append_in_tx("second", true);
    assert_int_equal(outbox_pending(), 2);

    oms_outbox_relay *relay = oms_outbox_relay_start(pool, bus, &err);
    assert_non_null(relay);
    for (int i = 0; i < 250 && seen_count < 2; i++)
        it_sleep_ms(20);
    /* A row appended while the relay runs wakes it (the tx's commit hook). */
    append_in_tx("third", true);
    for (int i = 0; i < 250 && seen_count < 3; i++)
        it_sleep_ms(20);
    it_sleep_ms(400);
    oms_outbox_relay_stop(relay, 2000);
    oms_bus_stop(bus);
    oms_bus_destroy(bus);

    assert_int_equal(seen_count, 3);
    assert_string_equal(seen[0], "first");
    assert_string_equal(seen[1], "second");
    assert_string_equal(seen[2], "third");
    assert_int_equal(outbox_pending(), 0);
}

static void stopping_the_relay_flushes_what_is_pending(void **state)
{
    (void)state;
    oms_error err;
    oms_bus_options o = {.consumer_threads = 1};
    oms_bus *bus = oms_bus_pg_create(&bus_settings, &o, &err);
    assert_non_null(bus);
    oms_outbox_relay *relay = oms_outbox_relay_start(pool, bus, &err);
    append_in_tx("late", true);
    oms_outbox_relay_stop(relay, 3000);
    assert_int_equal(outbox_pending(), 0);
    PGconn *c = it_connect(&bus_settings, bus_dbname);
    /* The subscription recorded by the first test received it. */
    assert_int_equal(it_long(c, "SELECT count(*) FROM bus_queue WHERE payload = 'late'"), 1);
    PQfinish(c);
    oms_bus_destroy(bus);
}

static bool was_seen(const char *payload)
{
    bool found = false;
    pthread_mutex_lock(&seen_lock);
    for (int i = 0; i < seen_count; i++)
        found = found || strcmp(seen[i], payload) == 0;
    pthread_mutex_unlock(&seen_lock);
    return found;
}

static void the_relay_recovers_when_its_connection_is_killed(void **state)
{
    (void)state;
    oms_error err;
    oms_bus_options o = {.consumer_threads = 1};
    oms_bus *bus = oms_bus_pg_create(&bus_settings, &o, &err);
    assert_non_null(bus);
    assert_int_equal(test_bus_subscribe_each(bus, "t-outbox", "test", collect, NULL, &err), OMS_OK);
    assert_int_equal(oms_bus_start(bus, &err), OMS_OK);
    oms_outbox_relay *relay = oms_outbox_relay_start(pool, bus, &err);
    it_sleep_ms(300);

    PGconn *c = it_connect(&settings, "postgres");
    const char *params[] = {dbname};
    PQclear(PQexecParams(c,
                         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = $1 AND pid <> pg_backend_pid()",
                         1, NULL, params, NULL, NULL, 0));
    PQfinish(c);
    it_sleep_ms(200);
    append_in_tx("after-kill", true);
    for (int i = 0; i < 500 && !was_seen("after-kill"); i++)
        it_sleep_ms(20);
    oms_outbox_relay_stop(relay, 2000);
    oms_bus_stop(bus);
    oms_bus_destroy(bus);
    assert_true(was_seen("after-kill"));
}

static int handled;

static oms_err count_handling(void *ctx, oms_tx *tx, const oms_envelope *env, oms_arena *a, oms_error *err)
{
    oms_err answer = ctx ? *(oms_err *)ctx : OMS_OK;
    assert_string_equal(env->order_id, ORDER);
    assert_string_equal(env->event_type, "PaymentRequested");
    const char *params[] = {env->event_id};
    if (!oms_pg_tx_exec(a, tx, "SELECT $1::uuid", 1, params, err))
        return err->code;
    handled++;
    if (answer != OMS_OK)
        return oms_error_set(err, answer, NULL, "told to fail");
    return OMS_OK;
}

static oms_bus_message message_of(const char *payload)
{
    oms_bus_message m = {.topic = "payment-commands",
                         .subscription = "payment-service",
                         .key = ORDER,
                         .payload = payload,
                         .payload_len = strlen(payload),
                         .message_id = "1"};
    return m;
}

static void handle_once_skips_an_event_id_seen_before(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    json_t *payload = json_pack("{s:s}", "command_id", "c");
    char *text = oms_envelope_build(a, "PaymentRequested", SAGA, ORDER, "corr-1", payload, NULL);
    json_decref(payload);
    oms_bus_message m = message_of(text);
    char reason[256] = "";
    handled = 0;
    assert_int_equal(oms_inbox_handle(pool, "payment-service", &m, count_handling, NULL, a, reason, sizeof reason),
                     OMS_BUS_ACK);
    assert_int_equal(oms_inbox_handle(pool, "payment-service", &m, count_handling, NULL, a, reason, sizeof reason),
                     OMS_BUS_ACK);
    assert_int_equal(handled, 1);
    /* Another consumer has its own inbox. */
    assert_int_equal(oms_inbox_handle(pool, "audit", &m, count_handling, NULL, a, reason, sizeof reason), OMS_BUS_ACK);
    assert_int_equal(handled, 2);
    oms_arena_destroy(a);
}

static void a_failing_handler_is_retried_and_leaves_no_inbox_record(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    json_t *payload = json_object();
    char *text = oms_envelope_build(a, "PaymentRequested", SAGA, ORDER, "", payload, NULL);
    json_decref(payload);
    oms_bus_message m = message_of(text);
    char reason[256] = "";
    handled = 0;
    oms_err busy = OMS_EBUSY;
    assert_int_equal(oms_inbox_handle(pool, "payment-service", &m, count_handling, &busy, a, reason, sizeof reason),
                     OMS_BUS_RETRY);
    assert_non_null(strstr(reason, "told to fail"));
    assert_int_equal(oms_inbox_handle(pool, "payment-service", &m, count_handling, NULL, a, reason, sizeof reason),
                     OMS_BUS_ACK);
    assert_int_equal(handled, 2);
    oms_arena_destroy(a);
}

static void invalid_input_and_bad_envelopes_are_dead(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    json_t *payload = json_object();
    char *text = oms_envelope_build(a, "PaymentRequested", SAGA, ORDER, "", payload, NULL);
    json_decref(payload);
    oms_bus_message m = message_of(text);
    char reason[256] = "";
    oms_err invalid = OMS_EINVAL;
    assert_int_equal(oms_inbox_handle(pool, "payment-service", &m, count_handling, &invalid, a, reason, sizeof reason),
                     OMS_BUS_DEAD);
    oms_bus_message junk = message_of("{not json");
    assert_int_equal(oms_inbox_handle(pool, "payment-service", &junk, count_handling, NULL, a, reason, sizeof reason),
                     OMS_BUS_DEAD);
    assert_true(reason[0] != '\0');
    oms_arena_destroy(a);
}

/* ---- oms_inbox_handle_batch ---- */

#define BATCH_CONSUMER "batch-consumer"

/* The event_ids the batch handler was called with, in order. */
static int effect_calls;
static char effect_called[64][OMS_UUID_LEN + 1];

/* Writes an effect row for the message; its payload may ask for a note (a
 * deferred unique column: two equal notes fail only at commit) or a failure
 * ("busy" after the write, "invalid"). */
/* The event_ids whose handling committed, as the commit hooks tell. */
static int committed_calls;
static char committed_ids[64][OMS_UUID_LEN + 1];

static void note_committed(void *event_id)
{
    if (committed_calls < 64)
        snprintf(committed_ids[committed_calls++], sizeof committed_ids[0], "%s", (const char *)event_id);
}

static int committed_for(const char *event_id)
{
    int n = 0;
    for (int i = 0; i < committed_calls; i++)
        n += strcmp(committed_ids[i], event_id) == 0;
    return n;
}

static oms_err write_effect(void *ctx, oms_tx *tx, const oms_envelope *env, oms_arena *a, oms_error *err)
{
    (void)ctx;
    if (effect_calls < 64)
        snprintf(effect_called[effect_calls++], sizeof effect_called[0], "%s", env->event_id);
    char id[OMS_UUID_LEN + 1];
    snprintf(id, sizeof id, "%s", env->event_id);
    if (oms_tx_on_commit_copy(oms_pg_tx_manager(pool), tx, note_committed, id, sizeof id, err) != OMS_OK)
        return err->code;
    json_t *note = json_object_get(env->payload, "note");
    const char *fail = json_string_value(json_object_get(env->payload, "fail"));
    const char *params[] = {env->event_id, json_is_string(note) ? json_string_value(note) : NULL};
    if (!oms_pg_tx_exec(a, tx, "INSERT INTO effect (event_id, note) VALUES ($1, $2)", 2, params, err))
        return err->code;
    if (fail && strcmp(fail, "busy") == 0)
        return oms_error_set(err, OMS_EBUSY, NULL, "told to fail");
    if (fail && strcmp(fail, "invalid") == 0)
        return oms_error_set(err, OMS_EINVAL, "fail", "told it is invalid");
    if (fail && strcmp(fail, "refuse") == 0)
        return oms_inbox_refuse(err, "told to refuse it on %s", env->topic ? env->topic : "(no topic)");
    return OMS_OK;
}

static int calls_for(const char *event_id)
{
    int n = 0;
    for (int i = 0; i < effect_calls; i++)
        n += strcmp(effect_called[i], event_id) == 0;
    return n;
}

/* An envelope with `payload_json` (an object) as its payload; its event_id in `id`. */
static oms_bus_message batch_message(oms_arena *a, const char *payload_json, char id[OMS_UUID_LEN + 1])
{
    json_t *payload = json_loads(payload_json, 0, NULL);
    assert_non_null(payload);
    char *text = oms_envelope_build(a, "PaymentRequested", SAGA, ORDER, "batch-corr", payload, id);
    json_decref(payload);
    assert_non_null(text);
    oms_bus_message m = message_of(text);
    m.key = id; /* a key per message, as the pg bus hands a batch over */
    return m;
}

/* count(*) of `sql` with the one parameter `param` ($1). */
static long count_with(PGconn *c, const char *sql, const char *param)
{
    const char *params[] = {param};
    PGresult *r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
    long v = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0)) : -1;
    if (v < 0)
        fprintf(stderr, "it: %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    return v;
}

static long effects_of(PGconn *c, const char *event_id)
{
    return count_with(c, "SELECT count(*) FROM effect WHERE event_id = $1", event_id);
}

static long inbox_rows_of(PGconn *c, const char *event_id)
{
    return count_with(c, "SELECT count(*) FROM inbox WHERE consumer = '" BATCH_CONSUMER "' AND event_id = $1",
                      event_id);
}

/* The transactions (xmin) that wrote the effect and inbox rows of the ids. */
static long transactions_of(PGconn *c, const char *id1, const char *id2, const char *id3)
{
    char ids[3 * (OMS_UUID_LEN + 1) + 4];
    snprintf(ids, sizeof ids, "{%s,%s%s%s}", id1, id2, id3 ? "," : "", id3 ? id3 : "");
    return count_with(c,
                      "SELECT count(DISTINCT x) FROM ("
                      " SELECT xmin::text AS x FROM effect WHERE event_id = ANY($1::uuid[])"
                      " UNION ALL SELECT xmin::text FROM inbox WHERE consumer = '" BATCH_CONSUMER "'"
                      "   AND event_id = ANY($1::uuid[])) t",
                      ids);
}

static void handle_batch_commits_a_good_batch_in_one_transaction(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    char id[3][OMS_UUID_LEN + 1];
    oms_bus_message msgs[3];
    for (int i = 0; i < 3; i++)
        msgs[i] = batch_message(a, "{}", id[i]);
    oms_bus_outcome out[3];
    memset(out, 0xA5, sizeof out); /* whatever was there: every outcome is written */
    effect_calls = 0;
    oms_inbox_handle_batch(pool, BATCH_CONSUMER, msgs, 3, write_effect, NULL, a, out);
    PGconn *c = it_connect(&settings, dbname);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(out[i].disposition, OMS_BUS_ACK);
        assert_int_equal(effects_of(c, id[i]), 1);
        assert_int_equal(inbox_rows_of(c, id[i]), 1);
        /* Once each, in batch order. */
        assert_string_equal(effect_called[i], id[i]);
    }
    assert_int_equal(effect_calls, 3);
    /* All six rows (three effects, three inbox records) in one transaction. */
    assert_int_equal(transactions_of(c, id[0], id[1], id[2]), 1);
    /* Handled again (a redelivery): duplicates, the handler is not called. */
    oms_inbox_handle_batch(pool, BATCH_CONSUMER, msgs, 3, write_effect, NULL, a, out);
    for (int i = 0; i < 3; i++)
        assert_int_equal(out[i].disposition, OMS_BUS_ACK);
    assert_int_equal(effect_calls, 3);
    PQfinish(c);
    oms_arena_destroy(a);
}

/* A batch of three whose middle message fails ("busy"), as handled. */
typedef struct split_batch {
    oms_arena *a;
    char id[3][OMS_UUID_LEN + 1];
    oms_bus_message msgs[3];
    oms_bus_outcome out[3];
} split_batch;

/* Handles a split_batch and checks that only its middle message is retried. */
static void handle_good_busy_good(split_batch *b)
{
    b->a = oms_arena_create(0);
    b->msgs[0] = batch_message(b->a, "{}", b->id[0]);
    b->msgs[1] = batch_message(b->a, "{\"fail\": \"busy\"}", b->id[1]);
    b->msgs[2] = batch_message(b->a, "{}", b->id[2]);
    memset(b->out, 0, sizeof b->out);
    effect_calls = 0;
    committed_calls = 0;
    oms_inbox_handle_batch(pool, BATCH_CONSUMER, b->msgs, 3, write_effect, NULL, b->a, b->out);
    assert_int_equal(b->out[0].disposition, OMS_BUS_ACK);
    assert_int_equal(b->out[1].disposition, OMS_BUS_RETRY);
    assert_int_equal(b->out[2].disposition, OMS_BUS_ACK);
}

static void handle_batch_retries_only_the_failing_message_and_commits_the_others(void **state)
{
    (void)state;
    split_batch b;
    handle_good_busy_good(&b);
    assert_non_null(strstr(b.out[1].reason, "told to fail"));
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(effects_of(c, b.id[0]), 1);
    assert_int_equal(effects_of(c, b.id[1]), 0); /* written, then rolled back */
    assert_int_equal(effects_of(c, b.id[2]), 1);
    assert_int_equal(inbox_rows_of(c, b.id[0]), 1);
    assert_int_equal(inbox_rows_of(c, b.id[1]), 0);
    assert_int_equal(inbox_rows_of(c, b.id[2]), 1);
    /* The third was handled even though the second failed before it. */
    assert_true(calls_for(b.id[2]) >= 1);
    /* The whole batch delivered again: the committed two are duplicates (no
     * handler call), the failing one fails again on its own. */
    effect_calls = 0;
    memset(b.out, 0, sizeof b.out);
    oms_inbox_handle_batch(pool, BATCH_CONSUMER, b.msgs, 3, write_effect, NULL, b.a, b.out);
    assert_int_equal(b.out[0].disposition, OMS_BUS_ACK);
    assert_int_equal(b.out[1].disposition, OMS_BUS_RETRY);
    assert_int_equal(b.out[2].disposition, OMS_BUS_ACK);
    assert_int_equal(calls_for(b.id[0]), 0);
    assert_int_equal(calls_for(b.id[2]), 0);
    assert_true(calls_for(b.id[1]) >= 1);
    assert_int_equal(effects_of(c, b.id[1]), 0);
    PQfinish(c);
    oms_arena_destroy(b.a);
}

/* A batch rolled back and handled again message by message runs the commit
 * hooks of what committed, once per message: a handler's log lines and
 * counters kept as hooks are neither lost nor doubled. */
static void handle_batch_runs_the_commit_hooks_of_each_committed_message_once(void **state)
{
    (void)state;
    split_batch b;
    handle_good_busy_good(&b);
    /* The handler ran twice for the good ones (together, then alone)... */
    assert_int_equal(calls_for(b.id[0]), 2);
    /* ...and their hooks ran once; the failing one's never. */
    assert_int_equal(committed_for(b.id[0]), 1);
    assert_int_equal(committed_for(b.id[1]), 0);
    assert_int_equal(committed_for(b.id[2]), 1);
    assert_int_equal(committed_calls, 2);
    oms_arena_destroy(b.a);
}

/* Pulsar batches may hold several messages of one key: once one of them
 * fails, the ones after it on that key are not handled (they come back
 * after it), while other keys go on. */
static void handle_batch_keeps_a_key_in_order_when_one_of_its_messages_fails(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    char id[4][OMS_UUID_LEN + 1];
    oms_bus_message msgs[4] = {batch_message(a, "{\"fail\": \"busy\"}", id[0]), batch_message(a, "{}", id[1]),
                               batch_message(a, "{}", id[2]), batch_message(a, "{}", id[3])};
    msgs[0].key = "key-a";
    msgs[1].key = "key-b";
    msgs[2].key = "key-a"; /* behind the failing one */
    msgs[3].key = "key-b";
    oms_bus_outcome out[4];
    memset(out, 0, sizeof out);
    effect_calls = 0;
    oms_inbox_handle_batch(pool, BATCH_CONSUMER, msgs, 4, write_effect, NULL, a, out);
    assert_int_equal(out[0].disposition, OMS_BUS_RETRY);
    assert_int_equal(out[1].disposition, OMS_BUS_ACK);
    assert_int_equal(out[2].disposition, OMS_BUS_RETRY);
    assert_non_null(strstr(out[2].reason, "earlier message of key key-a"));
    assert_int_equal(out[3].disposition, OMS_BUS_ACK);
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(effects_of(c, id[0]), 0);
    assert_int_equal(effects_of(c, id[1]), 1);
    assert_int_equal(effects_of(c, id[2]), 0);
    assert_int_equal(inbox_rows_of(c, id[2]), 0);
    assert_int_equal(effects_of(c, id[3]), 1);
    PQfinish(c);
    oms_arena_destroy(a);
}

static void handle_batch_acks_a_duplicate_without_calling_the_handler(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    char seen_id[OMS_UUID_LEN + 1], id[2][OMS_UUID_LEN + 1];
    oms_bus_message seen_before = batch_message(a, "{}", seen_id);
    char reason[256] = "";
    assert_int_equal(oms_inbox_handle(pool, BATCH_CONSUMER, &seen_before, write_effect, NULL, a, reason, sizeof reason),
                     OMS_BUS_ACK);
    oms_bus_message msgs[3] = {batch_message(a, "{}", id[0]), seen_before, batch_message(a, "{}", id[1])};
    oms_bus_outcome out[3];
    memset(out, 0, sizeof out);
    effect_calls = 0;
    oms_inbox_handle_batch(pool, BATCH_CONSUMER, msgs, 3, write_effect, NULL, a, out);
    for (int i = 0; i < 3; i++)
        assert_int_equal(out[i].disposition, OMS_BUS_ACK);
    assert_int_equal(calls_for(seen_id), 0);
    assert_int_equal(effect_calls, 2);
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(effects_of(c, seen_id), 1);
    assert_int_equal(effects_of(c, id[0]), 1);
    assert_int_equal(effects_of(c, id[1]), 1);
    /* The two new ones committed together. */
    assert_int_equal(transactions_of(c, id[0], id[1], NULL), 1);

    /* The same event twice in one batch: handled once. */
    char twice_id[OMS_UUID_LEN + 1];
    oms_bus_message twice = batch_message(a, "{}", twice_id);
    oms_bus_message pair[2] = {twice, twice};
    effect_calls = 0;
    oms_inbox_handle_batch(pool, BATCH_CONSUMER, pair, 2, write_effect, NULL, a, out);
    assert_int_equal(out[0].disposition, OMS_BUS_ACK);
    assert_int_equal(out[1].disposition, OMS_BUS_ACK);
    assert_int_equal(effect_calls, 1);
    assert_int_equal(effects_of(c, twice_id), 1);
    assert_int_equal(inbox_rows_of(c, twice_id), 1);
    PQfinish(c);
    oms_arena_destroy(a);
}

static void handle_batch_dead_letters_an_unparseable_or_invalid_message_and_commits_the_rest(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    char id[2][OMS_UUID_LEN + 1];
    oms_bus_message msgs[3] = {batch_message(a, "{}", id[0]), message_of("{not json"), batch_message(a, "{}", id[1])};
    oms_bus_outcome out[3];
    memset(out, 0, sizeof out);
    effect_calls = 0;
    oms_inbox_handle_batch(pool, BATCH_CONSUMER, msgs, 3, write_effect, NULL, a, out);
    assert_int_equal(out[0].disposition, OMS_BUS_ACK);
    assert_int_equal(out[1].disposition, OMS_BUS_DEAD);
    assert_true(out[1].reason[0] != '\0');
    assert_int_equal(out[2].disposition, OMS_BUS_ACK);
    assert_int_equal(effect_calls, 2);
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(effects_of(c, id[0]), 1);
    assert_int_equal(effects_of(c, id[1]), 1);
    /* The unparseable one did not break the batch up. */
    assert_int_equal(transactions_of(c, id[0], id[1], NULL), 1);

    /* A handler's OMS_EINVAL: DEAD for that one, nothing of it kept. */
    char vid[3][OMS_UUID_LEN + 1];
    oms_bus_message more[3] = {batch_message(a, "{}", vid[0]), batch_message(a, "{\"fail\": \"invalid\"}", vid[1]),
                               batch_message(a, "{}", vid[2])};
    oms_inbox_handle_batch(pool, BATCH_CONSUMER, more, 3, write_effect, NULL, a, out);
    assert_int_equal(out[0].disposition, OMS_BUS_ACK);
    assert_int_equal(out[1].disposition, OMS_BUS_DEAD);
    assert_non_null(strstr(out[1].reason, "told it is invalid"));
    assert_int_equal(out[2].disposition, OMS_BUS_ACK);
    assert_int_equal(effects_of(c, vid[0]), 1);
    assert_int_equal(effects_of(c, vid[1]), 0);
    assert_int_equal(inbox_rows_of(c, vid[1]), 0);
    assert_int_equal(effects_of(c, vid[2]), 1);
    PQfinish(c);
    oms_arena_destroy(a);
}

/* A refusal (oms_inbox_refuse): what the handler wrote and the inbox record
 * commit, the message is dead-lettered with the why; a redelivery (a redrive
 * of the dead letter) is a duplicate. In a batch and alone. */
static void a_refused_message_is_kept_as_handled_and_dead_lettered(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    char id[3][OMS_UUID_LEN + 1];
    oms_bus_message msgs[3] = {batch_message(a, "{}", id[0]), batch_message(a, "{\"fail\": \"refuse\"}", id[1]),
                               batch_message(a, "{}", id[2])};
    oms_bus_outcome out[3];
    memset(out, 0, sizeof out);
    effect_calls = 0;
    oms_inbox_handle_batch(pool, BATCH_CONSUMER, msgs, 3, write_effect, NULL, a, out);
    assert_int_equal(out[0].disposition, OMS_BUS_ACK);
    assert_int_equal(out[1].disposition, OMS_BUS_DEAD);
    assert_non_null(strstr(out[1].reason, "refused: told to refuse it on payment-commands"));
    assert_int_equal(out[2].disposition, OMS_BUS_ACK);
    PGconn *c = it_connect(&settings, dbname);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(effects_of(c, id[i]), 1);
        assert_int_equal(inbox_rows_of(c, id[i]), 1);
    }
    assert_int_equal(transactions_of(c, id[0], id[1], id[2]), 1); /* the batch stayed whole */
    oms_inbox_handle_batch(pool, BATCH_CONSUMER, &msgs[1], 1, write_effect, NULL, a, out);
    assert_int_equal(out[0].disposition, OMS_BUS_ACK);
    assert_int_equal(effect_calls, 3);

    char alone_id[OMS_UUID_LEN + 1];
    oms_bus_message alone = batch_message(a, "{\"fail\": \"refuse\"}", alone_id);
    char reason[256] = "";
    assert_int_equal(oms_inbox_handle(pool, BATCH_CONSUMER, &alone, write_effect, NULL, a, reason, sizeof reason),
                     OMS_BUS_DEAD);
    assert_non_null(strstr(reason, "told to refuse it"));
    assert_int_equal(effects_of(c, alone_id), 1);
    assert_int_equal(inbox_rows_of(c, alone_id), 1);
    assert_int_equal(oms_inbox_handle(pool, BATCH_CONSUMER, &alone, write_effect, NULL, a, reason, sizeof reason),
                     OMS_BUS_ACK);
    PQfinish(c);
    oms_arena_destroy(a);
}

static void handle_batch_handles_each_message_alone_when_the_commit_fails(void **state)
{
    (void)state;
    oms_arena *a = oms_arena_create(0);
    /* Two equal notes: each statement passes, the batch's COMMIT fails
     * (deferred unique constraint). Alone, the first commits and the second
     * fails at its own commit. */
    char id[3][OMS_UUID_LEN + 1];
    oms_bus_message msgs[3] = {batch_message(a, "{\"note\": \"same\"}", id[0]),
                               batch_message(a, "{\"note\": \"same\"}", id[1]), batch_message(a, "{}", id[2])};
    oms_bus_outcome out[3];
    memset(out, 0, sizeof out);
    oms_inbox_handle_batch(pool, BATCH_CONSUMER, msgs, 3, write_effect, NULL, a, out);
    assert_int_equal(out[0].disposition, OMS_BUS_ACK);
    assert_int_equal(out[1].disposition, OMS_BUS_RETRY);
    assert_true(out[1].reason[0] != '\0');
    assert_int_equal(out[2].disposition, OMS_BUS_ACK);
    PGconn *c = it_connect(&settings, dbname);
    assert_int_equal(effects_of(c, id[0]), 1);
    assert_int_equal(effects_of(c, id[1]), 0);
    assert_int_equal(inbox_rows_of(c, id[1]), 0);
    assert_int_equal(effects_of(c, id[2]), 1);
    PQfinish(c);
    oms_arena_destroy(a);
}

/* ---- the relay's in-process wake ---- */

static void append_to(const char *topic, const char *payload)
{
    oms_tx_manager *tm = oms_pg_tx_manager(pool);
    oms_tx *tx = NULL;
    oms_error err;
    assert_int_equal(oms_tx_begin(tm, &tx, &err), OMS_OK);
    assert_int_equal(oms_outbox_append(tx, topic, ORDER, payload, &err), OMS_OK);
    assert_int_equal(oms_tx_commit(tm, tx, &err), OMS_OK);
}

static int compare_ms(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

#define WAKE_TRIES 5

static void a_commit_that_appended_rows_wakes_the_relay_at_once(void **state)
{
    (void)state;
    oms_error err;
    oms_bus_options o = {.consumer_threads = 1};
    oms_bus *bus = oms_bus_pg_create(&bus_settings, &o, &err);
    assert_non_null(bus);
    assert_int_equal(test_bus_subscribe_each(bus, "t-wake", "test", collect, NULL, &err), OMS_OK);
    assert_int_equal(oms_bus_start(bus, &err), OMS_OK);
    oms_outbox_relay *relay = oms_outbox_relay_start(pool, bus, &err);
    assert_non_null(relay);
    for (int i = 0; i < 250 && outbox_pending() != 0; i++)
        it_sleep_ms(20);
    assert_int_equal(outbox_pending(), 0);

    /* Each row is appended 30 ms after the relay found the outbox empty and
     * went to sleep: polling alone (every 200 ms) would take some 170 ms. */
    int64_t latency[WAKE_TRIES];
    for (int t = 0; t < WAKE_TRIES; t++) {
        it_sleep_ms(30);
        char payload[16];
        snprintf(payload, sizeof payload, "wake-%d", t);
        append_to("t-wake", payload);
        int64_t committed = oms_monotonic_ms();
        while (outbox_pending() != 0 && oms_monotonic_ms() - committed < 2000)
            it_sleep_ms(1);
        latency[t] = oms_monotonic_ms() - committed;
    }
    for (int i = 0; i < 250 && !was_seen("wake-4"); i++)
        it_sleep_ms(20);
    oms_outbox_relay_stop(relay, 2000);
    oms_bus_stop(bus);
    oms_bus_destroy(bus);

    for (int t = 0; t < WAKE_TRIES; t++) {
        char payload[16];
        snprintf(payload, sizeof payload, "wake-%d", t);
        assert_true(was_seen(payload));
    }
    qsort(latency, WAKE_TRIES, sizeof latency[0], compare_ms);
    /* The median: a slow machine may lose a try or two to scheduling. */
    if (latency[WAKE_TRIES / 2] >= 80)
        fail_msg("relay latency after commit: median %lld ms (min %lld, max %lld); the poll alone takes ~170 ms",
                 (long long)latency[WAKE_TRIES / 2], (long long)latency[0], (long long)latency[WAKE_TRIES - 1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_relay_publishes_committed_rows_in_order_and_never_rolled_back_ones),
        cmocka_unit_test(stopping_the_relay_flushes_what_is_pending),
        cmocka_unit_test(the_relay_recovers_when_its_connection_is_killed),
        cmocka_unit_test(handle_once_skips_an_event_id_seen_before),
        cmocka_unit_test(a_failing_handler_is_retried_and_leaves_no_inbox_record),
        cmocka_unit_test(invalid_input_and_bad_envelopes_are_dead),
        cmocka_unit_test(handle_batch_commits_a_good_batch_in_one_transaction),
        cmocka_unit_test(handle_batch_retries_only_the_failing_message_and_commits_the_others),
        cmocka_unit_test(handle_batch_runs_the_commit_hooks_of_each_committed_message_once),
        cmocka_unit_test(handle_batch_keeps_a_key_in_order_when_one_of_its_messages_fails),
        cmocka_unit_test(handle_batch_acks_a_duplicate_without_calling_the_handler),
        cmocka_unit_test(handle_batch_dead_letters_an_unparseable_or_invalid_message_and_commits_the_rest),
        cmocka_unit_test(a_refused_message_is_kept_as_handled_and_dead_lettered),
        cmocka_unit_test(handle_batch_handles_each_message_alone_when_the_commit_fails),
        cmocka_unit_test(a_commit_that_appended_rows_wakes_the_relay_at_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
