/* commands.c -- the write side: create, cancel, replies and deadlines.
 *
 * Every path ends in apply_event(), which is the only place that turns a
 * domain decision into writes; so the order status, the saga row, its log,
 * the outbox and the read model can never disagree. */
#include "application/commands.h"

#include <stdio.h>
#include <string.h>

#include "oms/log.h"
#include "oms/metrics.h"

/* What the event brings besides its kind. */
typedef struct event_context {
    const char *event_id;       /* incoming message, or NULL (HTTP, deadline) */
    const char *reason;         /* reply's or client's reason; may be NULL */
    const char *detail;         /* for the log row */
    const char *correlation_id; /* for the messages sent; NULL: the saga's (its creating request) */
} event_context;

/* One step of one saga, as decided and written. */
typedef struct step_result {
    order order;
    saga_decision decision;
} step_result;

bool order_idempotency_key_valid(const char *key)
{
    if (!key)
        return false;
    size_t len = strnlen(key, ORDER_IDEMPOTENCY_KEY_MAX + 1);
    if (len == 0 || len > ORDER_IDEMPOTENCY_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x21 || c > 0x7e)
            return false;
    }
    return true;
}

static oms_err append_log(order_app *app, oms_tx *tx, oms_arena *a, const saga *s, saga_log_kind kind,
                          order_status from, const char *event_id, const char *detail, oms_error *err)
{
    saga_log_entry e = {
        .at_ms = clock_now_ms(app->clock),
        .kind = kind,
        .step = s->step,
        .from_state = from,
        .to_state = s->state,
        .event_id = event_id,
        .detail = detail,
    };
    return saga_repo_append_log(app->sagas, tx, a, s->id, &e, err);
}

static void count_saga_step(saga_log_kind kind)
{
    static oms_counter *counters[SAGA_LOG_KIND_COUNT];
    oms_counter *c = __atomic_load_n(&counters[kind], __ATOMIC_ACQUIRE);
    if (!c) {
        char labels[64];
        snprintf(labels, sizeof labels, "kind=\"%s\"", saga_log_kind_name(kind));
        c = oms_metrics_counter("order_saga_steps_total", "Saga log rows written, by kind.", labels);
        __atomic_store_n(&counters[kind], c, __ATOMIC_RELEASE);
    }
    oms_counter_add(c, 1);
}

/* The "saga_step" log lines of the unit of work in progress on this thread.
 * They are written only once the work is known to have succeeded (after
 * commit, or for message commands once every write succeeded), so a rolled
 * back step never shows in the log. */
#define PENDING_STEP_LINES 512
typedef struct step_line {
    char order_id[OMS_UUID_LEN + 1], saga_id[OMS_UUID_LEN + 1];
    order_status from, to;
    saga_step step;
    saga_log_kind kind;
} step_line;
static _Thread_local struct {
    step_line lines[PENDING_STEP_LINES];
    size_t count;
} pending;

static void write_step_line(const step_line *l)
{
    count_saga_step(l->kind);
    oms_log(OMS_LOG_INFO, "saga_step", "order_id", l->order_id, "saga_id", l->saga_id, "from",
            order_status_name(l->from), "to", order_status_name(l->to), "step", saga_step_name(l->step), "kind",
            saga_log_kind_name(l->kind), NULL);
}

static void discard_step_lines(void)
{
    pending.count = 0;
}

static void flush_step_lines(void)
{
    for (size_t i = 0; i < pending.count; i++)
        write_step_line(&pending.lines[i]);
    pending.count = 0;
}

static void log_saga_step(const saga *s, order_status from, saga_log_kind kind)
{
    step_line l = {.from = from, .to = s->state, .step = s->step, .kind = kind};
    memcpy(l.order_id, s->order_id, sizeof l.order_id);
    memcpy(l.saga_id, s->id, sizeof l.saga_id);
    if (pending.count == PENDING_STEP_LINES)
        flush_step_lines(); /* an enormous batch: better early than never */
    pending.lines[pending.count++] = l;
}

typedef struct send_spec {
    unsigned action;
    oms_msg_type type;
    bool compensation;
} send_spec;

static const send_spec sends[] = {
    {SAGA_ACT_SEND_PAYMENT_REQUEST, OMS_MSG_PAYMENT_REQUESTED, false},
    {SAGA_ACT_SEND_INVENTORY_REQUEST, OMS_MSG_INVENTORY_REQUESTED, false},
    {SAGA_ACT_SEND_INVENTORY_RELEASE, OMS_MSG_INVENTORY_RELEASE_REQUESTED, true},
    {SAGA_ACT_SEND_REFUND, OMS_MSG_REFUND_REQUESTED, true},
};

/* Whether the row's own log kind is about the send itself (then the send's
 * event_id goes into that row instead of a separate one). */
static bool kind_is_a_send(saga_log_kind k)
{
    return k == SAGA_LOG_COMMAND_SENT || k == SAGA_LOG_COMPENSATION_SENT || k == SAGA_LOG_RETRY;
}

static const char *reason_of(const order *o)
{
    if (o->status == ORDER_COMPENSATING || order_status_is_final(o->status))
        return o->cancellation_reason ? o->cancellation_reason : o->failure_reason;
    return o->failure_reason;
}

/* Sends the commands the decision asks for and logs each. */
static oms_err send_commands(order_app *app, oms_tx *tx, oms_arena *a, const step_result *r, const saga *s,
                             const char *correlation_id, const event_context *ev, oms_error *err)
{
    const saga_decision *d = &r->decision;
    for (size_t i = 0; i < sizeof sends / sizeof sends[0]; i++) {
        if (!(d->actions & sends[i].action))
            continue;
        outbound_message m = {
            .type = sends[i].type,
            .order = &r->order,
            .command_id = s->command_id,
            .reason = reason_of(&r->order),
            .correlation_id = correlation_id,
        };
        char event_id[OMS_UUID_LEN + 1];
        oms_err rc = message_outbox_send(app->outbox, tx, a, &m, event_id, err);
        if (rc != OMS_OK)
            return rc;
        saga_log_kind kind = sends[i].compensation ? SAGA_LOG_COMPENSATION_SENT : SAGA_LOG_COMMAND_SENT;
        if (kind_is_a_send(d->log_kind))
            kind = d->log_kind;
        const char *detail = oms_arena_sprintf(a, "%s sent (command %s, attempt %d)%s%s",
                                               oms_msg_name(sends[i].type), s->command_id, s->attempts,
                                               ev->detail ? ": " : "", ev->detail ? ev->detail : "");
        rc = append_log(app, tx, a, s, kind, d->from_state, event_id, detail, err);
        if (rc != OMS_OK)
            return rc;
        log_saga_step(s, d->from_state, kind);
    }
    return OMS_OK;
}

static void record_reasons(order *o, const saga_decision *d, const event_context *ev)
{
    const char *fallback = d->row->default_reason;
    const char *reason = ev->reason && ev->reason[0] ? ev->reason : fallback;
    if ((d->actions & SAGA_ACT_RECORD_FAILURE_REASON) && !o->failure_reason)
        o->failure_reason = reason;
    if ((d->actions & SAGA_ACT_RECORD_CANCELLATION_REASON) && !o->cancellation_reason)
        o->cancellation_reason = reason;
}

/* STATE_CHANGED in the log and OrderStatusChanged on order-events. */
static oms_err announce_state_change(order_app *app, oms_tx *tx, oms_arena *a, const step_result *r, const saga *s,
                                     const char *correlation_id, oms_error *err)
{
    const saga_decision *d = &r->decision;
    const char *detail =
        oms_arena_sprintf(a, "%s -> %s", order_status_name(d->from_state), order_status_name(d->to_state));
    oms_err rc = append_log(app, tx, a, s, SAGA_LOG_STATE_CHANGED, d->from_state, NULL, detail, err);
    if (rc != OMS_OK)
        return rc;
    log_saga_step(s, d->from_state, SAGA_LOG_STATE_CHANGED);
    outbound_message changed = {
        .type = OMS_MSG_ORDER_STATUS_CHANGED,
        .order = &r->order,
        .reason = reason_of(&r->order),
        .previous_status = d->from_state,
        .correlation_id = correlation_id,
    };
    char event_id[OMS_UUID_LEN + 1];
    return message_outbox_send(app->outbox, tx, a, &changed, event_id, err);
}

/* Writes an APPLY decision: logs, outbox, saga, order, read model. */
static oms_err write_applied(order_app *app, oms_tx *tx, oms_arena *a, step_result *r, saga *s,
                             const char *correlation_id, const event_context *ev, oms_error *err)
{
    const saga_decision *d = &r->decision;
    int64_t now = clock_now_ms(app->clock);
    int64_t expected_version = s->version;
    char command_id[OMS_UUID_LEN + 1] = "";
    if (d->step_changed && d->to_step != SAGA_STEP_NONE)
        id_generator_new(app->ids, command_id);
    saga_apply(s, d, &app->saga, now, command_id);
    record_reasons(&r->order, d, ev);
    r->order.status = s->state;
    r->order.modified_at_ms = now;

    oms_err rc = OMS_OK;
    if (!kind_is_a_send(d->log_kind)) {
        rc = append_log(app, tx, a, s, d->log_kind, d->from_state, ev->event_id, ev->detail, err);
        if (rc != OMS_OK)
            return rc;
        log_saga_step(s, d->from_state, d->log_kind);
    }
    if (d->state_changed) {
        rc = announce_state_change(app, tx, a, r, s, correlation_id, err);
        if (rc != OMS_OK)
            return rc;
    }
    rc = send_commands(app, tx, a, r, s, correlation_id, ev, err);
    if (rc == OMS_OK)
        rc = saga_repo_update(app->sagas, tx, a, s, expected_version, err);
    if (rc == OMS_OK)
        rc = order_repo_update(app->orders, tx, a, &r->order, err);
    if (rc == OMS_OK)
        rc = order_read_model_project(app->read_model, tx, a, &r->order, err);
    return rc;
}

static oms_err write_ignored(order_app *app, oms_tx *tx, oms_arena *a, const saga *s, saga_event event,
                             const event_context *ev, oms_error *err)
{
    const char *detail = oms_arena_sprintf(a, "%s ignored in %s/%s%s%s", saga_event_name(event),
                                           order_status_name(s->state), saga_step_name(s->step),
                                           ev->detail ? ": " : "", ev->detail ? ev->detail : "");
    oms_err rc = append_log(app, tx, a, s, SAGA_LOG_IGNORED_REPLY, s->state, ev->event_id, detail, err);
    if (rc == OMS_OK)
        log_saga_step(s, s->state, SAGA_LOG_IGNORED_REPLY);
    return rc;
}

static bool deadline_passed(const saga *s, int64_t now_ms)
{
    return s->deadline_ms != 0 && s->deadline_ms < now_ms;
}

/* The heart of every command: lock, decide, write. Runs inside tx. */
static oms_err apply_event(order_app *app, oms_tx *tx, oms_arena *a, const char *order_id, saga_event event,
                           const event_context *ev, step_result *out, oms_error *err)
{
    saga s;
    const char *correlation_id = "";
    oms_err rc = saga_repo_load_for_update(app->sagas, tx, a, order_id, &s, &correlation_id, err);
    if (rc != OMS_OK)
        return rc;
    if (event == SAGA_EV_STEP_DEADLINE_PASSED && !deadline_passed(&s, clock_now_ms(app->clock))) {
        out->decision = (saga_decision){.kind = SAGA_DECISION_IGNORED};
        return OMS_OK; /* handled meanwhile by another process: nothing to do, nothing to log */
    }
    rc = order_repo_load(app->orders, tx, a, order_id, &out->order, err);
    if (rc != OMS_OK)
        return rc;
    out->decision = saga_decide(&s, event, &app->saga);
    switch (out->decision.kind) {
    case SAGA_DECISION_CONFLICT:
        return oms_error_set(err, OMS_ECONFLICT, NULL, "order %s already ended in %s", order_id,
                             order_status_name(s.state));
    case SAGA_DECISION_IGNORED:
        return write_ignored(app, tx, a, &s, event, ev, err);
    case SAGA_DECISION_APPLY:
        break;
    }
    if (ev->correlation_id && ev->correlation_id[0])
        correlation_id = ev->correlation_id;
    return write_applied(app, tx, a, out, &s, correlation_id ? correlation_id : "", ev, err);
}

/* ---- create ------------------------------------------------------------ */

/* Looks the key up; OMS_OK with *out when it names an earlier order. */
static oms_err replay_idempotent(order_app *app, oms_arena *a, const char *key, const char *fingerprint, order *out,
                                 order_conflict *conflict, oms_error *err)
{
    oms_tx *tx = NULL;
    oms_err rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    char stored_fp[ORDER_FINGERPRINT_LEN + 1];
    char order_id[OMS_UUID_LEN + 1];
    rc = order_repo_find_idempotency_key(app->orders, tx, a, key, stored_fp, order_id, err);
    if (rc == OMS_OK && strcmp(stored_fp, fingerprint) != 0) {
        *conflict = ORDER_CONFLICT_KEY_REUSED;
        rc = oms_error_set(err, OMS_ECONFLICT, "Idempotency-Key",
                           "this Idempotency-Key was used for a different request");
    } else if (rc == OMS_OK) {
        rc = order_repo_load(app->orders, tx, a, order_id, out, err);
    }
    oms_tx_rollback(app->tx, tx);
    return rc;
}

static oms_err insert_new_order(order_app *app, oms_tx *tx, oms_arena *a, const order *o, const char *key,
                                const char *fingerprint, const char *correlation_id, step_result *r,
                                oms_error *err)
{
    oms_err rc = OMS_OK;
    if (key)
        rc = order_repo_claim_idempotency_key(app->orders, tx, a, key, fingerprint, o->id, err);
    if (rc == OMS_OK)
        rc = order_repo_insert(app->orders, tx, a, o, err);
    saga s;
    saga_init(&s, o->saga_id, o->id);
    if (rc == OMS_OK)
        rc = saga_repo_insert(app->sagas, tx, a, &s, correlation_id, err);
    if (rc == OMS_OK)
        rc = append_log(app, tx, a, &s, SAGA_LOG_STATE_CHANGED, ORDER_CREATED, NULL, "saga started", err);
    if (rc == OMS_OK) {
        outbound_message created = {.type = OMS_MSG_ORDER_CREATED, .order = o, .correlation_id = correlation_id};
        char event_id[OMS_UUID_LEN + 1];
        rc = message_outbox_send(app->outbox, tx, a, &created, event_id, err);
    }
    if (rc == OMS_OK)
        rc = order_read_model_project(app->read_model, tx, a, o, err);
    if (rc != OMS_OK)
        return rc;
    /* The saga starts in the same transaction. What apply_event would read
     * back (and lock) is what was just written: decide on it as it is. */
    event_context ev = {.detail = "order stored"};
    r->order = *o;
    r->decision = saga_decide(&s, SAGA_EV_START, &app->saga);
    if (r->decision.kind != SAGA_DECISION_APPLY)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "a new saga did not start");
    return write_applied(app, tx, a, r, &s, correlation_id ? correlation_id : "", &ev, err);
}

/* One attempt: OMS_ECONFLICT from the key claim means another request with
 * the same key committed first. */
static oms_err try_create(order_app *app, oms_arena *a, const order *o, const char *key, const char *fingerprint,
                          const char *correlation_id, order *out, oms_error *err)
{
    oms_tx *tx = NULL;
    oms_err rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    step_result r;
    discard_step_lines();
    rc = insert_new_order(app, tx, a, o, key, fingerprint, correlation_id, &r, err);
    if (rc != OMS_OK) {
        oms_tx_rollback(app->tx, tx);
        return rc;
    }
    rc = oms_tx_commit(app->tx, tx, err);
    if (rc == OMS_OK) {
        flush_step_lines();
        *out = r.order;
    }
    return rc;
}

oms_err order_create(order_app *app, oms_arena *a, const order_create_request *req, const char *idempotency_key,
                     const char *correlation_id, order *out, order_create_outcome *outcome,
                     order_conflict *conflict, oms_error *err)
{
    *conflict = ORDER_CONFLICT_NONE;
    *outcome = ORDER_CREATE_NEW;
    int64_t total = 0;
    oms_err rc = order_validate_create(req, &total, err);
    if (rc != OMS_OK)
        return rc;
    char fingerprint[ORDER_FINGERPRINT_LEN + 1];
    order_request_fingerprint(req, fingerprint);
    if (idempotency_key) {
        rc = replay_idempotent(app, a, idempotency_key, fingerprint, out, conflict, err);
        if (rc == OMS_OK)
            *outcome = ORDER_CREATE_REPLAYED;
        if (rc != OMS_ENOTFOUND)
            return rc;
    }
    order o;
    char order_id[OMS_UUID_LEN + 1], saga_id[OMS_UUID_LEN + 1];
    id_generator_new(app->ids, order_id);
    id_generator_new(app->ids, saga_id);
    order_init(&o, req, order_id, saga_id, total, clock_now_ms(app->clock));
    rc = try_create(app, a, &o, idempotency_key, fingerprint, correlation_id ? correlation_id : "", out, err);
    if (rc == OMS_ECONFLICT && idempotency_key) {
        /* A concurrent request with the same key committed while we waited. */
        rc = replay_idempotent(app, a, idempotency_key, fingerprint, out, conflict, err);
        if (rc == OMS_OK)
            *outcome = ORDER_CREATE_REPLAYED;
        else if (rc == OMS_ENOTFOUND)
            rc = OMS_EBUSY;
    }
    if (rc == OMS_EBUSY && idempotency_key) {
        *conflict = ORDER_CONFLICT_REQUEST_IN_PROGRESS;
        rc = oms_error_set(err, OMS_EBUSY, "Idempotency-Key", "a request with this Idempotency-Key is in progress");
    }
    return rc;
}

/* ---- cancel and replies --------------------------------------------------- */

oms_err order_cancel(order_app *app, oms_arena *a, const char *order_id, const char *reason,
                     const char *correlation_id, order *out, order_conflict *conflict, oms_error *err)
{
    *conflict = ORDER_CONFLICT_NONE;
    if (reason && strnlen(reason, ORDER_REASON_MAX + 1) > ORDER_REASON_MAX)
        return oms_error_set(err, OMS_EINVAL, "reason", "reason must be at most %d characters", ORDER_REASON_MAX);
    oms_tx *tx = NULL;
    oms_err rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    event_context ev = {
        .reason = reason,
        .detail = reason ? oms_arena_sprintf(a, "cancel: %s", reason) : "cancel",
        .correlation_id = correlation_id,
    };
    step_result r;
    memset(&r, 0, sizeof r);
    discard_step_lines();
    rc = apply_event(app, tx, a, order_id, SAGA_EV_CANCEL_REQUESTED, &ev, &r, err);
    if (rc != OMS_OK) {
        oms_tx_rollback(app->tx, tx);
        if (rc == OMS_ECONFLICT && r.decision.kind == SAGA_DECISION_CONFLICT)
            *conflict = ORDER_CONFLICT_ORDER_ENDED;
        if (rc == OMS_ENOTFOUND)
            oms_error_set(err, OMS_ENOTFOUND, NULL, "order %s not found", order_id);
        return rc;
    }
    rc = oms_tx_commit(app->tx, tx, err);
    if (rc == OMS_OK) {
        flush_step_lines();
        *out = r.order;
    }
    return rc;
}

/* Message commands: the inbox transaction commits after us, so the lines are
 * written once every write of the command succeeded. */
static oms_err finish_message_command(oms_err rc)
{
    if (rc == OMS_OK)
        flush_step_lines();
    else
        discard_step_lines();
    return rc;
}

static oms_err on_reply(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *reply, saga_event event,
                        const char *what, oms_error *err)
{
    event_context ev = {
        .event_id = reply->event_id,
        .reason = reply->reason,
        .detail = oms_arena_sprintf(a, "%s (command %s)%s%s", what, reply->command_id ? reply->command_id : "-",
                                    reply->reason ? ": " : "", reply->reason ? reply->reason : ""),
    };
    step_result r;
    discard_step_lines();
    return finish_message_command(apply_event(app, tx, a, reply->order_id, event, &ev, &r, err));
}

oms_err order_on_payment_processed(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *r, oms_error *err)
{
    if (r->success)
        return on_reply(app, tx, a, r, SAGA_EV_PAYMENT_SUCCEEDED, "PaymentProcessed success", err);
    return on_reply(app, tx, a, r, SAGA_EV_PAYMENT_FAILED, "PaymentProcessed failure", err);
}

oms_err order_on_payment_refunded(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *r, oms_error *err)
{
    const char *what = oms_arena_sprintf(a, "PaymentRefunded %lld cents", (long long)r->amount_cents);
    return on_reply(app, tx, a, r, SAGA_EV_PAYMENT_REFUNDED, what ? what : "PaymentRefunded", err);
}

oms_err order_on_inventory_allocated(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *r,
                                     oms_error *err)
{
    if (r->success)
        return on_reply(app, tx, a, r, SAGA_EV_INVENTORY_ALLOCATED, "InventoryAllocated success", err);
    return on_reply(app, tx, a, r, SAGA_EV_INVENTORY_FAILED, "InventoryAllocated failure", err);
}

oms_err order_on_inventory_released(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *r,
                                    oms_error *err)
{
    return on_reply(app, tx, a, r, SAGA_EV_INVENTORY_RELEASED, "InventoryReleased", err);
}

oms_err order_on_unknown_message(order_app *app, oms_tx *tx, oms_arena *a, const char *order_id,
                                 const char *event_id, const char *event_type, oms_error *err)
{
    saga s;
    const char *correlation_id = NULL;
    oms_err rc = saga_repo_load_for_update(app->sagas, tx, a, order_id, &s, &correlation_id, err);
    if (rc == OMS_ENOTFOUND)
        return OMS_OK;
    if (rc != OMS_OK)
        return rc;
    const char *detail = oms_arena_sprintf(a, "unknown event_type %s ignored", event_type);
    discard_step_lines();
    rc = append_log(app, tx, a, &s, SAGA_LOG_IGNORED_REPLY, s.state, event_id, detail, err);
    if (rc == OMS_OK)
        log_saga_step(&s, s.state, SAGA_LOG_IGNORED_REPLY);
    return finish_message_command(rc);
}

/* ---- deadlines ------------------------------------------------------------ */

/* One saga's deadline in its own transaction (the fallback of a failed batch). */
static oms_err step_deadline_alone(order_app *app, oms_arena *a, const char *order_id, oms_error *err)
{
    oms_tx *tx = NULL;
    oms_err rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    event_context ev = {.detail = "step deadline passed"};
    step_result r;
    discard_step_lines();
    rc = apply_event(app, tx, a, order_id, SAGA_EV_STEP_DEADLINE_PASSED, &ev, &r, err);
    if (rc != OMS_OK) {
        oms_tx_rollback(app->tx, tx);
        return rc;
    }
    rc = oms_tx_commit(app->tx, tx, err);
    if (rc == OMS_OK)
        flush_step_lines();
    return rc;
}

/* The batch failed as a whole: try each saga alone so one that keeps failing
 * (it is logged) never holds the others back. */
static size_t step_deadlines_one_by_one(order_app *app, oms_arena *a, char (*order_ids)[OMS_UUID_LEN + 1],
                                        size_t count)
{
    size_t handled = 0;
    for (size_t i = 0; i < count; i++) {
        oms_error err;
        oms_error_clear(&err);
        if (step_deadline_alone(app, a, order_ids[i], &err) == OMS_OK) {
            handled++;
            continue;
        }
        oms_log(OMS_LOG_WARN, "saga_deadline_failed", "order_id", order_ids[i], "error", err.message, NULL);
    }
    return handled;
}

oms_err order_on_step_deadlines(order_app *app, oms_arena *a, int limit, size_t *handled, oms_error *err)
{
    *handled = 0;
    oms_tx *tx = NULL;
    oms_err rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    char(*order_ids)[OMS_UUID_LEN + 1] = NULL;
    size_t count = 0;
    rc = saga_repo_lock_due(app->sagas, tx, a, clock_now_ms(app->clock), limit, &order_ids, &count, err);
    if (rc != OMS_OK) {
        oms_tx_rollback(app->tx, tx);
        return rc;
    }
    event_context ev = {.detail = "step deadline passed"};
    discard_step_lines();
    for (size_t i = 0; rc == OMS_OK && i < count; i++) {
        step_result r;
        rc = apply_event(app, tx, a, order_ids[i], SAGA_EV_STEP_DEADLINE_PASSED, &ev, &r, err);
    }
    if (rc == OMS_OK)
        rc = oms_tx_commit(app->tx, tx, err);
    else
        oms_tx_rollback(app->tx, tx);
    if (rc == OMS_OK) {
        flush_step_lines();
        *handled = count;
        return OMS_OK;
    }
    discard_step_lines();
    if (count == 0)
        return rc;
    *handled = step_deadlines_one_by_one(app, a, order_ids, count);
    return OMS_OK;
}
