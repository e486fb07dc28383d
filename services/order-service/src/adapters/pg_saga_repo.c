/* pg_saga_repo.c -- the saga record (sagas, saga_step_log) in PostgreSQL. */
#include <stdio.h>
#include <string.h>

#include "adapters/pg_adapters.h"

oms_err pg_saga_from_row(const PGresult *r, int row, saga *out, oms_error *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", oms_pg_value(r, row, 0));
    snprintf(out->order_id, sizeof out->order_id, "%s", oms_pg_value(r, row, 1));
    snprintf(out->command_id, sizeof out->command_id, "%s", oms_pg_value(r, row, 5));
    if (!order_status_parse(oms_pg_value(r, row, 2), &out->state) ||
        !saga_step_parse(oms_pg_value(r, row, 3), &out->step) ||
        !order_status_parse(oms_pg_value(r, row, 4), &out->target))
        return oms_error_set(err, OMS_EINTERNAL, NULL, "saga %s has an unknown state or step", out->id);
    int64_t attempts = 0;
    oms_err rc = oms_pg_int_value(r, row, 6, &attempts, err);
    if (rc == OMS_OK)
        rc = oms_pg_int_value(r, row, 7, &out->deadline_ms, err);
    if (rc == OMS_OK)
        rc = oms_pg_int_value(r, row, 8, &out->version, err);
    out->attempts = (int)attempts;
    out->payment_captured = strcmp(oms_pg_value(r, row, 9), "t") == 0;
    out->stock_reserved = strcmp(oms_pg_value(r, row, 10), "t") == 0;
    /* Columns 12-15: the command_id each step's command carried (PG_SAGA_COLUMNS). */
    const saga_step steps[] = {SAGA_STEP_PAYMENT, SAGA_STEP_INVENTORY, SAGA_STEP_RELEASE, SAGA_STEP_REFUND};
    for (int i = 0; i < 4; i++)
        snprintf(out->sent[steps[i]], sizeof out->sent[0], "%s", oms_pg_value(r, row, 12 + i));
    snprintf(out->inconsistency, sizeof out->inconsistency, "%s", oms_pg_value(r, row, 16));
    out->paused = strcmp(oms_pg_value(r, row, 17), "t") == 0;
    snprintf(out->last_error, sizeof out->last_error, "%s", oms_pg_value(r, row, 18));
    if (rc == OMS_OK)
        rc = oms_pg_int_value(r, row, 19, &out->created_ms, err);
    int64_t resolved = 0;
    if (rc == OMS_OK)
        rc = oms_pg_int_value(r, row, 20, &resolved, err);
    out->resolved_manually = (unsigned)resolved;
    return rc;
}

static const char *sent_param(const saga *s, saga_step step) { return s->sent[step][0] ? s->sent[step] : NULL; }

static const char *deadline_param(oms_arena *a, const saga *s)
{
    return s->deadline_ms ? oms_pg_int_param(a, s->deadline_ms) : NULL;
}

static const char *target_param(const saga *s)
{
    return order_status_is_final(s->target) ? order_status_name(s->target) : NULL;
}

/* Deferred: a new saga's id conflicts with nothing. */
static oms_err insert_saga(saga_repo *r, oms_tx *tx, oms_arena *a, const saga *s, const char *correlation_id,
                           oms_error *err)
{
    (void)r;
    const char *params[] = {s->id,
                            s->order_id,
                            order_status_name(s->state),
                            saga_step_name(s->step),
                            target_param(s),
                            s->command_id[0] ? s->command_id : NULL,
                            oms_pg_int_param(a, s->attempts),
                            deadline_param(a, s),
                            oms_pg_int_param(a, s->version),
                            s->payment_captured ? "t" : "f",
                            s->stock_reserved ? "t" : "f",
                            correlation_id ? correlation_id : "",
                            s->created_ms ? oms_pg_int_param(a, s->created_ms) : NULL};
    return oms_pg_tx_exec_deferred(
        tx,
        "INSERT INTO sagas (id, order_id, state, current_step, target_state, command_id,"
        " attempts, deadline, version, payment_captured, stock_reserved, correlation_id,"
        " created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, " PG_MS_TO_TS("$8") ", $9, $10, $11, $12,"
                                                                  " coalesce(" PG_MS_TO_TS("$13") ", now()))",
        13, params, err);
}

static oms_err load_for_update(saga_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, saga *out,
                               const char **correlation_id_out, oms_error *err)
{
    (void)r;
    PGresult *res = oms_pg_tx_exec(a, tx, "SELECT " PG_SAGA_COLUMNS " FROM sagas WHERE order_id = $1 FOR UPDATE", 1,
                                   (const char *[]){order_id}, err);
    if (!res)
        return err->code;
    if (PQntuples(res) == 0)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "no saga for order %s", order_id);
    if (correlation_id_out)
        *correlation_id_out = oms_pg_value(res, 0, 11);
    return pg_saga_from_row(res, 0, out, err);
}

static oms_err update_saga(saga_repo *r, oms_tx *tx, oms_arena *a, const saga *s, int64_t expected_version,
                           oms_error *err)
{
    (void)r;
    const char *params[] = {s->id,
                            order_status_name(s->state),
                            saga_step_name(s->step),
                            target_param(s),
                            s->command_id[0] ? s->command_id : NULL,
                            oms_pg_int_param(a, s->attempts),
                            deadline_param(a, s),
                            oms_pg_int_param(a, s->version),
                            s->payment_captured ? "t" : "f",
                            s->stock_reserved ? "t" : "f",
                            oms_pg_int_param(a, expected_version),
                            sent_param(s, SAGA_STEP_PAYMENT),
                            sent_param(s, SAGA_STEP_INVENTORY),
                            sent_param(s, SAGA_STEP_RELEASE),
                            sent_param(s, SAGA_STEP_REFUND),
                            s->inconsistency[0] ? s->inconsistency : NULL,
                            s->paused ? "t" : "f",
                            s->last_error[0] ? s->last_error : NULL,
                            oms_pg_int_param(a, s->resolved_manually)};
    PGresult *res = oms_pg_tx_exec(
        a, tx,
        "UPDATE sagas SET state = $2, current_step = $3, target_state = $4,"
        " command_id = $5, attempts = $6, deadline = " PG_MS_TO_TS(
            "$7") ","
                  " version = $8, payment_captured = $9, stock_reserved = $10, modified_at = now(),"
                  " payment_command_id = $12, inventory_command_id = $13, release_command_id = $14,"
                  " refund_command_id = $15, inconsistency = $16, paused = $17, last_error = $18,"
                  " resolved_manually = $19 WHERE id = $1 AND version = $11",
        19, params, err);
    if (!res)
        return err->code;
    if (strcmp(PQcmdTuples(res), "1") != 0)
        return oms_error_set(err, OMS_ECONFLICT, NULL, "saga %s changed meanwhile", s->id);
    return OMS_OK;
}

/* seq = last + 1: safe because the saga row is locked by the caller.
 * Deferred: sent with the saga's next read or update, or the commit. */
static oms_err append_log(saga_repo *r, oms_tx *tx, oms_arena *a, const char *saga_id, const saga_log_entry *e,
                          oms_error *err)
{
    (void)r;
    const char *params[] = {saga_id,
                            oms_pg_int_param(a, e->at_ms),
                            saga_log_kind_name(e->kind),
                            saga_step_name(e->step),
                            order_status_name(e->from_state),
                            order_status_name(e->to_state),
                            e->event_id,
                            e->detail};
    return oms_pg_tx_exec_deferred(tx,
                                   "INSERT INTO saga_step_log (saga_id, seq, at, kind, step, from_state, to_state,"
                                   " event_id, detail) SELECT $1, coalesce(max(seq), 0) + 1, " PG_MS_TO_TS(
                                       "$2") ", $3, $4, $5, $6, $7, $8 FROM saga_step_log WHERE saga_id = $1",
                                   8, params, err);
}

static oms_err lock_due(saga_repo *r, oms_tx *tx, oms_arena *a, int64_t now_ms, int limit,
                        char (**order_ids)[OMS_UUID_LEN + 1], size_t *count, oms_error *err)
{
    (void)r;
    *count = 0;
    const char *params[] = {oms_pg_int_param(a, now_ms), oms_pg_int_param(a, limit)};
    PGresult *res = oms_pg_tx_exec(
        a, tx,
        "SELECT order_id FROM sagas"
        " WHERE deadline IS NOT NULL AND state NOT IN ('FAILED', 'CANCELLED') AND NOT paused"
        " AND deadline < " PG_MS_TO_TS("$1") " ORDER BY deadline LIMIT $2 FOR UPDATE SKIP LOCKED",
        2, params, err);
    if (!res)
        return err->code;
    int n = PQntuples(res);
    *order_ids = oms_arena_calloc(a, n ? (size_t)n : 1, sizeof **order_ids);
    if (!*order_ids)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (int i = 0; i < n; i++)
        snprintf((*order_ids)[i], OMS_UUID_LEN + 1, "%s", oms_pg_value(res, i, 0));
    *count = (size_t)n;
    return OMS_OK;
}

static oms_err order_of(saga_repo *r, oms_tx *tx, oms_arena *a, const char *saga_id, char order_id[OMS_UUID_LEN + 1],
                        oms_error *err)
{
    (void)r;
    PGresult *res = oms_pg_tx_exec(a, tx, "SELECT order_id FROM sagas WHERE id = $1::uuid", 1,
                                   (const char *[]){saga_id}, err);
    if (!res)
        return err->code;
    if (PQntuples(res) == 0)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "saga %s not found", saga_id);
    snprintf(order_id, OMS_UUID_LEN + 1, "%s", oms_pg_value(res, 0, 0));
    return OMS_OK;
}

static oms_err hold_reply(saga_repo *r, oms_tx *tx, oms_arena *a, const char *saga_id, const saga_held_reply *h,
                          oms_error *err)
{
    (void)r;
    const char *params[] = {saga_id,
                            saga_event_name(h->event),
                            saga_step_name(h->claim.step),
                            h->claim.command_id && oms_uuid_valid(h->claim.command_id) ? h->claim.command_id : NULL,
                            h->claim.success ? "t" : "f",
                            h->claim.has_amount ? "t" : "f",
                            oms_pg_int_param(a, h->claim.amount_cents),
                            h->reason,
                            h->event_id,
                            h->detail};
    return oms_pg_tx_exec_deferred(tx,
                                   "INSERT INTO saga_held_replies (saga_id, event, step, command_id, success,"
                                   " has_amount, amount_cents, reason, event_id, detail)"
                                   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                                   10, params, err);
}

static oms_err held_from_row(const PGresult *res, int row, saga_held_reply *h, oms_error *err)
{
    memset(h, 0, sizeof *h);
    if (!saga_event_parse(oms_pg_value(res, row, 0), &h->event) ||
        !saga_step_parse(oms_pg_value(res, row, 1), &h->claim.step))
        return oms_error_set(err, OMS_EINTERNAL, NULL, "a held reply has an unknown event or step");
    h->claim.command_id = PQgetisnull(res, row, 2) ? NULL : oms_pg_value(res, row, 2);
    h->claim.success = strcmp(oms_pg_value(res, row, 3), "t") == 0;
    h->claim.has_amount = strcmp(oms_pg_value(res, row, 4), "t") == 0;
    h->reason = PQgetisnull(res, row, 6) ? NULL : oms_pg_value(res, row, 6);
    h->event_id = PQgetisnull(res, row, 7) ? NULL : oms_pg_value(res, row, 7);
    h->detail = PQgetisnull(res, row, 8) ? NULL : oms_pg_value(res, row, 8);
    return oms_pg_int_value(res, row, 5, &h->claim.amount_cents, err);
}

static oms_err take_held(saga_repo *r, oms_tx *tx, oms_arena *a, const char *saga_id, saga_held_reply **out,
                         size_t *count, oms_error *err)
{
    (void)r;
    *count = 0;
    PGresult *res = oms_pg_tx_exec(a, tx,
                                   "WITH taken AS (DELETE FROM saga_held_replies WHERE saga_id = $1 RETURNING *)"
                                   " SELECT event, step, command_id::text, success, has_amount, amount_cents, reason,"
                                   " event_id::text, detail FROM taken ORDER BY seq",
                                   1, (const char *[]){saga_id}, err);
    if (!res)
        return err->code;
    int n = PQntuples(res);
    *out = oms_arena_calloc(a, n ? (size_t)n : 1, sizeof **out);
    if (!*out)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (int i = 0; i < n; i++) {
        oms_err rc = held_from_row(res, i, &(*out)[i], err);
        if (rc != OMS_OK)
            return rc;
    }
    *count = (size_t)n;
    return OMS_OK;
}

static oms_err record_orphan(saga_repo *r, oms_tx *tx, oms_arena *a, const saga_orphan_reply *o, oms_error *err)
{
    (void)r;
    (void)a;
    const char *params[] = {o->event_id, o->event_type, o->order_id, o->command_id};
    return oms_pg_tx_exec_deferred(tx,
                                   "INSERT INTO orphan_replies (event_id, event_type, order_id, command_id)"
                                   " VALUES ($1::uuid, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
                                   4, params, err);
}

static oms_err replace_dead_lettered(saga_repo *r, oms_tx *tx, oms_arena *a, const char *const *order_ids,
                                     const char *const *counts, size_t n, oms_error *err)
{
    (void)r;
    const char *params[] = {oms_pg_array_param(a, order_ids, NULL, n), oms_pg_array_param(a, counts, NULL, n)};
    if (!params[0] || !params[1])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    if (!oms_pg_tx_exec(a, tx, "DELETE FROM saga_dead_letters", 0, NULL, err))
        return err->code;
    return oms_pg_tx_exec(a, tx,
                          "INSERT INTO saga_dead_letters (order_id, dead_letters)"
                          " SELECT * FROM unnest($1::uuid[], $2::int[])",
                          2, params, err)
               ? OMS_OK
               : err->code;
}

static const saga_repo_ops ops = {
    .insert = insert_saga,
    .load_for_update = load_for_update,
    .update = update_saga,
    .append_log = append_log,
    .lock_due = lock_due,
    .order_of = order_of,
    .hold_reply = hold_reply,
    .take_held = take_held,
    .record_orphan = record_orphan,
    .replace_dead_lettered = replace_dead_lettered,
};

saga_repo pg_saga_repo(void) { return (saga_repo){.ops = &ops, .self = NULL}; }

oms_retention_rule pg_saga_log_retention_rule(int64_t keep_s)
{
    return (oms_retention_rule){
        .table = "saga_step_log",
        .time_column = "at",
        .keep_s = keep_s,
        .condition = "saga_id IN (SELECT id FROM sagas WHERE state IN ('FAILED', 'CANCELLED'))"};
}
