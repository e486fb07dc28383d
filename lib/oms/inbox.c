/* inbox.c -- handling a message exactly once: its event_id recorded in the
 * inbox table in the same transaction as the handler's writes, a batch in
 * one transaction and, when one of its messages fails, each on its own. */
#include "inbox.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"

static void log_handled(const oms_bus_message *m, const oms_envelope *env, const char *disposition, int64_t start_ms,
                        const char *reason)
{
    bool failed = strcmp(disposition, "retry") == 0 || strcmp(disposition, "dead") == 0;
    char trace_id[OMS_TRACE_ID_LEN + 1] = "";
    if (env && env->traceparent[0])
        snprintf(trace_id, sizeof trace_id, "%.32s", env->traceparent + 3);
    oms_log_num(failed ? OMS_LOG_WARN : OMS_LOG_INFO, "message_handled", "duration_ms",
                (double)(oms_monotonic_ms() - start_ms), "topic", m->topic, "event_type", env ? env->event_type : NULL,
                "order_id", env ? env->order_id : NULL, "event_id", env ? env->event_id : NULL, "trace_id",
                trace_id[0] ? trace_id : NULL, "disposition", disposition, "reason",
                reason && reason[0] ? reason : NULL, NULL);
}

static void set_reason(char *reason, size_t reason_len, const oms_error *err)
{
    if (!reason || !reason_len)
        return;
    /* A long message is cut: the reason is for people. */
    const char *what = err->reason[0] ? err->reason : oms_err_name(err->code);
    if (snprintf(reason, reason_len, "%s: %s", what, err->message) >= (int)reason_len)
        oms_utf8_trim_cut(reason); /* never half a character: the dead-letter row would be refused */
}

oms_err oms_inbox_refuse(oms_error *err, const char *fmt, ...)
{
    if (!err)
        return OMS_OK;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->code = OMS_OK;
    err->field[0] = '\0';
    snprintf(err->reason, sizeof err->reason, "%s", OMS_INBOX_REFUSED);
    return OMS_OK;
}

static bool refused(const oms_error *err) { return strcmp(err->reason, OMS_INBOX_REFUSED) == 0; }

/* Inside the transaction: inbox record, then the handler. ACK also for a
 * message the handler refused (*refuse set, the why in err): its record
 * commits, then the message is dead-lettered. */
static oms_bus_disposition handle_in_tx(oms_tx *tx, const char *consumer, const oms_envelope *env, oms_inbox_fn fn,
                                        void *ctx, oms_arena *a, bool *duplicate, bool *refuse, oms_error *err)
{
    oms_error_clear(err);
    *refuse = false;
    const char *params[] = {consumer, env->event_id};
    PGresult *r = oms_pg_tx_exec(a, tx, "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                                 2, params, err);
    if (!r)
        return OMS_BUS_RETRY;
    if (strcmp(PQcmdTuples(r), "0") == 0) {
        *duplicate = true;
        return OMS_BUS_ACK;
    }
    oms_err rc = fn(ctx, tx, env, a, err);
    if (rc == OMS_OK) {
        *refuse = refused(err);
        return OMS_BUS_ACK;
    }
    if (err->code == OMS_OK)
        oms_error_set(err, rc, NULL, "the handler failed");
    return rc == OMS_EINVAL ? OMS_BUS_DEAD : OMS_BUS_RETRY;
}

oms_bus_disposition oms_inbox_handle(oms_pg_pool *pool, const char *consumer, const oms_bus_message *m, oms_inbox_fn fn,
                                     void *ctx, oms_arena *a, char *reason, size_t reason_len)
{
    int64_t start = oms_monotonic_ms();
    oms_error err;
    oms_error_clear(&err);
    oms_envelope env;
    if (oms_envelope_parse(a, m->payload, m->payload_len, &env, &err) != OMS_OK) {
        set_reason(reason, reason_len, &err);
        log_handled(m, NULL, "dead", start, reason);
        return err.code == OMS_ENOMEM ? OMS_BUS_RETRY : OMS_BUS_DEAD;
    }
    char previous_id[129];
    snprintf(previous_id, sizeof previous_id, "%s", oms_log_request_id());
    oms_log_set_request_id(env.correlation_id);

    env.topic = m->topic;
    oms_tx_manager *tm = oms_pg_tx_manager(pool);
    oms_tx *tx = NULL;
    bool duplicate = false, refuse = false;
    oms_bus_disposition d = OMS_BUS_RETRY;
    if (oms_tx_begin(tm, &tx, &err) == OMS_OK) {
        d = handle_in_tx(tx, consumer, &env, fn, ctx, a, &duplicate, &refuse, &err);
        if (d == OMS_BUS_ACK && !duplicate) {
            oms_error why = err;
            if (oms_tx_commit(tm, tx, &err) != OMS_OK) {
                d = OMS_BUS_RETRY;
            } else if (refuse) {
                d = OMS_BUS_DEAD;
                err = why;
            }
        } else {
            oms_tx_rollback(tm, tx);
        }
    }
    if (d != OMS_BUS_ACK)
        set_reason(reason, reason_len, &err);
    const char *names[] = {"ack", "retry", "dead"};
    log_handled(m, &env, duplicate ? "duplicate" : names[d], start, d != OMS_BUS_ACK ? reason : NULL);
    oms_log_set_request_id(previous_id[0] ? previous_id : NULL);
    return d;
}

/* ---- a batch in one transaction ---- */

typedef struct batch_item {
    const oms_bus_message *m;
    oms_bus_outcome *out;
    oms_envelope env;
    bool duplicate;
    bool refused;  /* handled, then dead-lettered (oms_inbox_refuse) */
    oms_error why; /* of a refusal */
} batch_item;

/* Parses every envelope; an unparseable one is settled at once (DEAD, or
 * RETRY when out of memory) and left out. Returns the items kept. */
static size_t parse_batch(const oms_bus_message *msgs, size_t n, oms_arena *a, oms_bus_outcome *out, batch_item *items,
                          int64_t start)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        oms_error err;
        oms_error_clear(&err);
        out[i].reason[0] = '\0';
        batch_item *it = &items[kept];
        if (oms_envelope_parse(a, msgs[i].payload, msgs[i].payload_len, &it->env, &err) != OMS_OK) {
            set_reason(out[i].reason, sizeof out[i].reason, &err);
            out[i].disposition = err.code == OMS_ENOMEM ? OMS_BUS_RETRY : OMS_BUS_DEAD;
            log_handled(&msgs[i], NULL, "dead", start, out[i].reason);
            continue;
        }
        it->env.topic = msgs[i].topic;
        it->m = &msgs[i];
        it->out = &out[i];
        it->duplicate = false;
        it->refused = false;
        kept++;
    }
    return kept;
}

/* All items in one transaction; true only when every one was handled (or a
 * duplicate) and the commit succeeded. */
static bool handle_all_in_one_tx(oms_pg_pool *pool, const char *consumer, batch_item *items, size_t n, oms_inbox_fn fn,
                                 void *ctx, oms_arena *a)
{
    oms_tx_manager *tm = oms_pg_tx_manager(pool);
    oms_tx *tx = NULL;
    oms_error err;
    oms_error_clear(&err);
    if (oms_tx_begin(tm, &tx, &err) != OMS_OK)
        return false;
    for (size_t i = 0; i < n; i++) {
        oms_log_set_request_id(items[i].env.correlation_id);
        if (handle_in_tx(tx, consumer, &items[i].env, fn, ctx, a, &items[i].duplicate, &items[i].refused, &err) !=
            OMS_BUS_ACK) {
            oms_tx_rollback(tm, tx);
            return false;
        }
        items[i].why = err;
    }
    return oms_tx_commit(tm, tx, &err) == OMS_OK;
}

/* Whether a message before items[i] with the same key was not acknowledged. */
static bool earlier_of_key_failed(const batch_item *items, size_t i)
{
    const char *key = items[i].m->key;
    for (size_t j = 0; key && j < i; j++) {
        if (items[j].out->disposition != OMS_BUS_ACK && items[j].m->key && strcmp(items[j].m->key, key) == 0)
            return true;
    }
    return false;
}

void oms_inbox_handle_batch(oms_pg_pool *pool, const char *consumer, const oms_bus_message *msgs, size_t n,
                            oms_inbox_fn fn, void *ctx, oms_arena *a, oms_bus_outcome *out)
{
    int64_t start = oms_monotonic_ms();
    batch_item *items = oms_arena_calloc(a, n ? n : 1, sizeof *items);
    if (!items) {
        for (size_t i = 0; i < n; i++) {
            out[i].disposition = OMS_BUS_RETRY;
            snprintf(out[i].reason, sizeof out[i].reason, "out of memory");
        }
        return;
    }
    size_t kept = parse_batch(msgs, n, a, out, items, start);
    char previous_id[129];
    snprintf(previous_id, sizeof previous_id, "%s", oms_log_request_id());
    bool together = kept > 1 && handle_all_in_one_tx(pool, consumer, items, kept, fn, ctx, a);
    oms_log_set_request_id(previous_id[0] ? previous_id : NULL);
    if (together) {
        for (size_t i = 0; i < kept; i++) {
            bool dead = items[i].refused && !items[i].duplicate;
            items[i].out->disposition = dead ? OMS_BUS_DEAD : OMS_BUS_ACK;
            if (dead)
                set_reason(items[i].out->reason, sizeof items[i].out->reason, &items[i].why);
            log_handled(items[i].m, &items[i].env,
                        items[i].duplicate ? "duplicate"
                        : dead             ? "dead"
                                           : "ack",
                        start, dead ? items[i].out->reason : NULL);
        }
        return;
    }
    /* One message, or one of them failed (or the commit did): each on its
     * own, so that a failing message holds back only itself. */
    if (kept > 1)
        oms_log_num(OMS_LOG_INFO, "message_batch_split", "messages", (double)kept, "consumer", consumer, NULL);
    for (size_t i = 0; i < kept; i++) {
        batch_item *it = &items[i];
        if (earlier_of_key_failed(items, i)) {
            it->out->disposition = OMS_BUS_RETRY;
            snprintf(it->out->reason, sizeof it->out->reason, "an earlier message of key %s was not handled",
                     it->m->key ? it->m->key : "?");
            continue;
        }
        it->out->disposition = oms_inbox_handle(pool, consumer, it->m, fn, ctx, a, it->out->reason,
                                                sizeof it->out->reason);
    }
}

/* ---- reading ---- */

static oms_err read_rows(PGresult *r, oms_arena *a, oms_inbox_row **out, size_t *count, oms_error *err)
{
    size_t rows = (size_t)PQntuples(r);
    oms_inbox_row *list = rows ? oms_arena_calloc(a, rows, sizeof *list) : NULL;
    if (rows && !list)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < rows; i++) {
        list[i].consumer = oms_pg_text_value(a, r, (int)i, 0);
        list[i].event_id = oms_pg_text_value(a, r, (int)i, 1);
        if (!list[i].consumer || !list[i].event_id)
            return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        oms_err rc = oms_pg_int_value(r, (int)i, 2, &list[i].handled_at_ms, err);
        if (rc != OMS_OK)
            return rc;
    }
    *out = list;
    *count = rows;
    return OMS_OK;
}

oms_err oms_inbox_lookup(oms_pg_pool *pool, oms_arena *a, const char *const *event_ids, size_t n, oms_inbox_row **out,
                         size_t *count, oms_error *err)
{
    *out = NULL;
    *count = 0;
    if (n > OMS_INBOX_LOOKUP_MAX)
        return oms_error_set(err, OMS_EINVAL, "event_ids", "at most %d event ids", OMS_INBOX_LOOKUP_MAX);
    for (size_t i = 0; i < n; i++)
        if (!oms_uuid_valid(event_ids[i]))
            return oms_error_set(err, OMS_EINVAL, "event_ids", "an event id must be a UUID");
    if (n == 0)
        return OMS_OK;
    const char *ids = oms_pg_array_param(a, event_ids, NULL, n);
    if (!ids)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    PGconn *c = oms_pg_acquire(pool, 2000, err);
    if (!c)
        return err->code;
    const char *params[] = {ids};
    PGresult *r = oms_pg_exec(a, c,
                              "SELECT consumer, event_id::text, (extract(epoch FROM handled_at) * 1000)::bigint"
                              " FROM inbox WHERE event_id = ANY($1::uuid[]) ORDER BY handled_at, consumer",
                              1, params, err);
    oms_pg_release(pool, c, !r && err->code == OMS_EUNAVAILABLE);
    return r ? read_rows(r, a, out, count, err) : err->code;
}

oms_retention_rule oms_inbox_retention_rule(int64_t keep_s)
{
    return (oms_retention_rule){.table = "inbox", .time_column = "handled_at", .keep_s = keep_s};
}
