/* saga_runner.c -- see saga_runner.h. */
#include "application/saga_runner.h"

#include <stdio.h>
#include <string.h>

#include "oms/log.h"
#include "oms/metrics.h"
#include "oms/money.h"

/* ---- the log of a step: a row now, a line and a count at commit ---- */

/* What the commit hook writes; copied into the transaction (no pointers). */
typedef struct step_line {
    char order_id[OMS_UUID_LEN + 1], saga_id[OMS_UUID_LEN + 1];
    order_status from, to;
    saga_step step;
    saga_log_kind kind;
} step_line;

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

static void write_step_line(void *ctx)
{
    const step_line *l = ctx;
    count_saga_step(l->kind);
    oms_log(OMS_LOG_INFO, "saga_step", "order_id", l->order_id, "saga_id", l->saga_id, "from",
            order_status_name(l->from), "to", order_status_name(l->to), "step", saga_step_name(l->step), "kind",
            saga_log_kind_name(l->kind), NULL);
}

static oms_err append_row(order_app *app, oms_tx *tx, oms_arena *a, const saga *s, saga_log_kind kind,
                          order_status from, const char *event_id, const char *detail, oms_error *err)
{
    saga_log_entry e = {
        .at_ms = oms_clock_now_ms(app->clock),
        .kind = kind,
        .step = s->step,
        .from_state = from,
        .to_state = s->state,
        .event_id = event_id,
        .detail = detail,
    };
    return saga_repo_append_log(app->sagas, tx, a, s->id, &e, err);
}

/* A log row, and its line and count once tx commits. */
static oms_err log_step(order_app *app, oms_tx *tx, oms_arena *a, const saga *s, saga_log_kind kind, order_status from,
                        const char *event_id, const char *detail, oms_error *err)
{
    oms_err rc = append_row(app, tx, a, s, kind, from, event_id, detail, err);
    if (rc != OMS_OK)
        return rc;
    step_line l = {.from = from, .to = s->state, .step = s->step, .kind = kind};
    memcpy(l.order_id, s->order_id, sizeof l.order_id);
    memcpy(l.saga_id, s->id, sizeof l.saga_id);
    return oms_tx_on_commit_copy(app->tx, tx, write_step_line, &l, sizeof l, err);
}

/* ---- replies nobody waits for (issue 12 item 8) ---- */

/* Counted once the transaction that recorded it commits. */
static void count_orphan(void *ctx)
{
    static oms_counter *counters[2];
    bool unknown = *(const bool *)ctx;
    oms_counter *c = __atomic_load_n(&counters[unknown], __ATOMIC_ACQUIRE);
    if (!c) {
        c = oms_metrics_counter("oms_orphan_replies_total",
                                "Replies nobody waits for: an unknown saga, or one that has ended.",
                                unknown ? "why=\"unknown_saga\"" : "why=\"finished_saga\"");
        __atomic_store_n(&counters[unknown], c, __ATOMIC_RELEASE);
    }
    oms_counter_add(c, 1);
}

static oms_err count_orphan_at_commit(order_app *app, oms_tx *tx, bool unknown, oms_error *err)
{
    return oms_tx_on_commit_copy(app->tx, tx, count_orphan, &unknown, sizeof unknown, err);
}

oms_err saga_runner_record_orphan(order_app *app, oms_tx *tx, oms_arena *a, const saga_orphan_reply *o, oms_error *err)
{
    oms_err rc = saga_repo_record_orphan(app->sagas, tx, a, o, err);
    if (rc == OMS_OK)
        rc = count_orphan_at_commit(app, tx, true, err);
    return rc;
}

/* ---- sagas in flight, for admission control ---- */

/* What the commit hook adds; copied into the transaction. */
typedef struct in_flight_change {
    saga_admission *adm;
    long delta;
} in_flight_change;

static void add_in_flight(void *ctx)
{
    const in_flight_change *c = ctx;
    saga_admission_add(c->adm, c->delta);
}

/* After a commit, +1 when the step put the saga in flight (its first
 * command) and -1 when it ended it (step NONE): admission.h. */
static oms_err count_in_flight(order_app *app, oms_tx *tx, saga_step before, saga_step after, oms_error *err)
{
    long delta = (long)(after != SAGA_STEP_NONE) - (long)(before != SAGA_STEP_NONE);
    if (!app->admission || delta == 0)
        return OMS_OK;
    in_flight_change c = {.adm = app->admission, .delta = delta};
    return oms_tx_on_commit_copy(app->tx, tx, add_in_flight, &c, sizeof c, err);
}

/* ---- writing a decision ---- */

/* The commands a decision's actions send, in the order they go to the
 * outbox (so a release goes out before a refund: stock back, then money). */
typedef struct send_spec {
    unsigned action;
    oms_msg_type type;
    bool compensation;
    saga_step step; /* whose reply answers it */
} send_spec;

static const send_spec sends[] = {
    {SAGA_ACT_SEND_PAYMENT_REQUEST, OMS_MSG_PAYMENT_REQUESTED, false, SAGA_STEP_PAYMENT},
    {SAGA_ACT_SEND_INVENTORY_REQUEST, OMS_MSG_INVENTORY_REQUESTED, false, SAGA_STEP_INVENTORY},
    {SAGA_ACT_SEND_INVENTORY_RELEASE, OMS_MSG_INVENTORY_RELEASE_REQUESTED, true, SAGA_STEP_RELEASE},
    {SAGA_ACT_SEND_REFUND, OMS_MSG_REFUND_REQUESTED, true, SAGA_STEP_REFUND},
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

/* Sends the commands the decision asks for and logs each; remembers the
 * command_id each step's command first carried (its replies must name it). */
static oms_err send_commands(order_app *app, oms_tx *tx, oms_arena *a, const saga_outcome *r, saga *s,
                             const char *correlation_id, const saga_event_context *ev, oms_error *err)
{
    const saga_decision *d = &r->decision;
    for (size_t i = 0; i < sizeof sends / sizeof sends[0]; i++) {
        if (!(d->actions & sends[i].action))
            continue;
        if (!s->sent[sends[i].step][0])
            memcpy(s->sent[sends[i].step], s->command_id, sizeof s->sent[0]);
        outbound_message m = {
            .type = sends[i].type,
            .order = &r->order,
            .command_id = s->command_id,
            .reason = reason_of(&r->order),
            .correlation_id = correlation_id,
        };
        char event_id[OMS_UUID_LEN + 1];
        oms_err rc = order_outbox_send(app->outbox, tx, a, &m, event_id, err);
        if (rc != OMS_OK)
            return rc;
        saga_log_kind kind = sends[i].compensation ? SAGA_LOG_COMPENSATION_SENT : SAGA_LOG_COMMAND_SENT;
        if (kind_is_a_send(d->log_kind))
            kind = d->log_kind;
        const char *detail = oms_arena_sprintf(a, "%s sent (command %s, attempt %d)%s%s", oms_msg_name(sends[i].type),
                                               s->command_id, s->attempts, ev->detail ? ": " : "",
                                               ev->detail ? ev->detail : "");
        rc = log_step(app, tx, a, s, kind, d->from_state, event_id, detail, err);
        if (rc != OMS_OK)
            return rc;
    }
    return OMS_OK;
}

static void record_reasons(order *o, const saga_decision *d, const saga_event_context *ev)
{
    const char *fallback = d->row->default_reason;
    const char *reason = ev->reason && ev->reason[0] ? ev->reason : fallback;
    if ((d->actions & SAGA_ACT_RECORD_FAILURE_REASON) && !o->failure_reason)
        o->failure_reason = reason;
    if ((d->actions & SAGA_ACT_RECORD_CANCELLATION_REASON) && !o->cancellation_reason)
        o->cancellation_reason = reason;
}

/* STATE_CHANGED in the log and OrderStatusChanged on order-events. */
static oms_err announce_state_change(order_app *app, oms_tx *tx, oms_arena *a, const saga_outcome *r, const saga *s,
                                     const char *correlation_id, oms_error *err)
{
    const saga_decision *d = &r->decision;
    const char *detail = oms_arena_sprintf(a, "%s -> %s", order_status_name(d->from_state),
                                           order_status_name(d->to_state));
    oms_err rc = log_step(app, tx, a, s, SAGA_LOG_STATE_CHANGED, d->from_state, NULL, detail, err);
    if (rc != OMS_OK)
        return rc;
    outbound_message changed = {
        .type = OMS_MSG_ORDER_STATUS_CHANGED,
        .order = &r->order,
        .reason = reason_of(&r->order),
        .previous_status = d->from_state,
        .correlation_id = correlation_id,
    };
    char event_id[OMS_UUID_LEN + 1];
    return order_outbox_send(app->outbox, tx, a, &changed, event_id, err);
}

/* Why the step the saga stays on is not done (shown as last_error while it
 * is retried): the deadline it missed, or a participant's refusal. A new
 * step starts with none (saga_apply). */
static void note_last_error(saga *s, const saga_decision *d, const saga_event_context *ev)
{
    if (d->step_changed || s->step == SAGA_STEP_NONE)
        return;
    if (d->row->event == SAGA_EV_STEP_DEADLINE_PASSED)
        snprintf(s->last_error, sizeof s->last_error, "no reply to the %s command before its deadline (attempt %d)",
                 saga_step_name(s->step), s->attempts - 1);
    else if (ev->claim && !ev->claim->success)
        snprintf(s->last_error, sizeof s->last_error, "%s refused: %s", saga_step_name(ev->claim->step),
                 ev->reason && ev->reason[0] ? ev->reason : "no reason given");
}

/* Writes an APPLY decision: logs, outbox, saga, order, read model. */
static oms_err write_applied(order_app *app, oms_tx *tx, oms_arena *a, saga_outcome *r, saga *s,
                             const char *correlation_id, const saga_event_context *ev, oms_error *err)
{
    const saga_decision *d = &r->decision;
    int64_t now = oms_clock_now_ms(app->clock);
    int64_t expected_version = s->version;
    char command_id[OMS_UUID_LEN + 1] = "";
    if (d->step_changed && d->to_step != SAGA_STEP_NONE)
        id_generator_new(app->ids, command_id);
    saga_step step_before = s->step;
    saga_apply(s, d, &app->saga, now, command_id);
    note_last_error(s, d, ev);
    record_reasons(&r->order, d, ev);
    r->order.status = s->state;
    r->order.modified_at_ms = now;

    oms_err rc = count_in_flight(app, tx, step_before, s->step, err);
    if (rc == OMS_OK && !kind_is_a_send(d->log_kind))
        rc = log_step(app, tx, a, s, d->log_kind, d->from_state, ev->event_id, ev->detail, err);
    if (rc == OMS_OK && d->state_changed)
        rc = announce_state_change(app, tx, a, r, s, correlation_id, err);
    if (rc == OMS_OK)
        rc = send_commands(app, tx, a, r, s, correlation_id, ev, err);
    if (rc == OMS_OK)
        rc = saga_repo_update(app->sagas, tx, a, s, expected_version, err);
    if (rc == OMS_OK)
        rc = order_repo_update(app->orders, tx, a, &r->order, err);
    if (rc == OMS_OK)
        rc = order_read_model_project(app->read_model, tx, a, &r->order, err);
    return rc;
}

/* An IGNORED_REPLY row; a reply to a saga that has ended is also counted
 * as an orphan (the row is its record). */
static oms_err write_ignored(order_app *app, oms_tx *tx, oms_arena *a, const saga *s, saga_event event,
                             const saga_event_context *ev, oms_error *err)
{
    if (ev->claim && order_status_is_final(s->state)) {
        oms_err rc = count_orphan_at_commit(app, tx, false, err);
        if (rc != OMS_OK)
            return rc;
    }
    const char *detail = oms_arena_sprintf(a, "%s ignored in %s/%s%s%s", saga_event_name(event),
                                           order_status_name(s->state), saga_step_name(s->step), ev->detail ? ": " : "",
                                           ev->detail ? ev->detail : "");
    return log_step(app, tx, a, s, SAGA_LOG_IGNORED_REPLY, s->state, ev->event_id, detail, err);
}

static bool deadline_passed(const saga *s, int64_t now_ms) { return s->deadline_ms != 0 && s->deadline_ms < now_ms; }

/* A reply whose claim fails its check: one REJECTED_REPLY row, nothing else. */
static oms_err write_rejected(order_app *app, oms_tx *tx, oms_arena *a, saga_outcome *out, const saga *s,
                              const saga_event_context *ev, const char *why, oms_error *err)
{
    out->rejected = true;
    out->why = oms_arena_strdup(a, why);
    const char *detail = oms_arena_sprintf(a, "%s%s%s", why, ev->detail ? ": " : "", ev->detail ? ev->detail : "");
    return log_step(app, tx, a, s, SAGA_LOG_REJECTED_REPLY, s->state, ev->event_id, detail, err);
}

/* A genuine answer that contradicts the saga: it becomes inconsistent (the
 * first why is kept), an INCONSISTENT row is written (counted at commit as
 * order_saga_steps_total{kind="INCONSISTENT"}, which an alert watches), and
 * the saga row is written now unless the decision will write it. */
static oms_err mark_inconsistent(order_app *app, oms_tx *tx, oms_arena *a, saga *s, bool decision_writes,
                                 const saga_event_context *ev, const char *why, oms_error *err)
{
    if (!s->inconsistency[0])
        snprintf(s->inconsistency, sizeof s->inconsistency, "%s", why);
    oms_err rc = log_step(app, tx, a, s, SAGA_LOG_INCONSISTENT, s->state, ev->event_id, why, err);
    if (rc != OMS_OK || decision_writes)
        return rc;
    int64_t expected_version = s->version++;
    return saga_repo_update(app->sagas, tx, a, s, expected_version, err);
}

/* ---- a paused saga (issue 12 item 2) ---- */

/* A genuine reply to a paused saga: kept with a REPLY_HELD row; the saga
 * does not move (its version neither) until it is resumed. */
static oms_err hold_reply(order_app *app, oms_tx *tx, oms_arena *a, saga_outcome *out, const saga *s, saga_event event,
                          const saga_event_context *ev, oms_error *err)
{
    out->held = true;
    out->decision = (saga_decision){.kind = SAGA_DECISION_IGNORED};
    saga_held_reply h = {
        .event = event, .claim = *ev->claim, .reason = ev->reason, .event_id = ev->event_id, .detail = ev->detail};
    oms_err rc = saga_repo_hold_reply(app->sagas, tx, a, s->id, &h, err);
    if (rc != OMS_OK)
        return rc;
    const char *detail = oms_arena_sprintf(a, "%s held while paused%s%s", saga_event_name(event),
                                           ev->detail ? ": " : "", ev->detail ? ev->detail : "");
    return log_step(app, tx, a, s, SAGA_LOG_REPLY_HELD, s->state, ev->event_id, detail, err);
}

/* After a resume: the replies held while paused, in the order they came,
 * each decided on as if it came now. */
static oms_err apply_held(order_app *app, oms_tx *tx, oms_arena *a, const saga *s, oms_error *err)
{
    saga_held_reply *held = NULL;
    size_t count = 0;
    oms_err rc = saga_repo_take_held(app->sagas, tx, a, s->id, &held, &count, err);
    for (size_t i = 0; rc == OMS_OK && i < count; i++) {
        saga_event_context ev = {
            .event_id = held[i].event_id, .claim = &held[i].claim, .reason = held[i].reason, .detail = held[i].detail};
        saga_outcome r;
        rc = saga_runner_apply(app, tx, a, s->order_id, held[i].event, &ev, &r, err);
    }
    return rc;
}

const char *saga_obligation_describe(oms_arena *a, saga_obligation_kind k, int64_t total_cents, const char *customer_id,
                                     const char *order_id)
{
    char amount[OMS_MONEY_TEXT_MAX];
    if (k == SAGA_OBLIGATION_REFUND)
        return oms_arena_sprintf(a, "refund of %s to customer %s", oms_money_format(total_cents, amount), customer_id);
    return oms_arena_sprintf(a, "release of the stock reserved for order %s", order_id);
}

/* A manual resolution names the obligation that is open now (issue 12 item
 * 3); its log row says which, in business words, before the operator's. */
static oms_err check_obligation(oms_arena *a, const saga *s, const order *o, const saga_event_context *ev,
                                const char **detail, oms_error *err)
{
    saga_obligation_kind open;
    if (!saga_current_obligation(s, &open))
        return OMS_OK; /* the table refuses it */
    if (!ev->obligation || strcmp(ev->obligation, saga_obligation_name(open)) != 0) {
        oms_err rc = oms_error_set(err, OMS_ECONFLICT, "obligation", "the open obligation is %s",
                                   saga_obligation_name(open));
        return oms_error_reason(err, rc, "obligation_mismatch");
    }
    *detail = oms_arena_sprintf(a, "%s resolved manually: %s",
                                saga_obligation_describe(a, open, o->total_cents, o->customer_id, o->id),
                                ev->detail ? ev->detail : "");
    return *detail ? OMS_OK : oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
}

static oms_err refuse(const saga_decision *d, const saga *s, oms_error *err)
{
    oms_err rc = d->refusal_code && strcmp(d->refusal_code, "order_ended") != 0
                     ? oms_error_set(err, OMS_ECONFLICT, NULL, "%s (%s/%s)", d->refusal, order_status_name(s->state),
                                     saga_step_name(s->step))
                     : oms_error_set(err, OMS_ECONFLICT, NULL, "order %s already ended in %s", s->order_id,
                                     order_status_name(s->state));
    return oms_error_reason(err, rc, d->refusal_code ? d->refusal_code : "order_ended");
}

/* ---- the entry points ---- */

oms_err saga_runner_apply(order_app *app, oms_tx *tx, oms_arena *a, const char *order_id, saga_event event,
                          const saga_event_context *ev, saga_outcome *out, oms_error *err)
{
    out->rejected = false;
    out->why = NULL;
    saga s;
    const char *correlation_id = "";
    oms_err rc = saga_repo_load_for_update(app->sagas, tx, a, order_id, &s, &correlation_id, err);
    if (rc != OMS_OK)
        return rc;
    out->before = s;
    out->held = false;
    if (ev->check_version && ev->expected_version != s.version) {
        rc = oms_error_set(err, OMS_ECONFLICT, "If-Match", "the saga moved on: its version is %lld, not %lld",
                           (long long)s.version, (long long)ev->expected_version);
        return oms_error_reason(err, rc, "version_mismatch");
    }
    if (event == SAGA_EV_STEP_DEADLINE_PASSED && !deadline_passed(&s, oms_clock_now_ms(app->clock))) {
        out->decision = (saga_decision){.kind = SAGA_DECISION_IGNORED};
        return OMS_OK; /* handled meanwhile by another process: nothing to do, nothing to log */
    }
    rc = order_repo_load(app->orders, tx, a, order_id, &out->order, err);
    if (rc != OMS_OK)
        return rc;
    char why[SAGA_INCONSISTENCY_MAX + 1] = "";
    saga_reply_verdict verdict = ev->claim ? saga_check_reply(&s, ev->claim, out->order.total_cents, why, sizeof why)
                                           : SAGA_REPLY_GENUINE;
    if (verdict == SAGA_REPLY_REJECTED)
        return write_rejected(app, tx, a, out, &s, ev, why, err);
    if (s.paused && ev->claim)
        return hold_reply(app, tx, a, out, &s, event, ev, err);
    saga_event_context resolved;
    if (event == SAGA_EV_RESOLVE_MANUALLY) {
        resolved = *ev;
        rc = check_obligation(a, &s, &out->order, ev, &resolved.detail, err);
        if (rc != OMS_OK)
            return rc;
        ev = &resolved;
    }
    out->decision = saga_decide(&s, event, &app->saga);
    out->decision.extend_ms = ev->extend_ms;
    if (verdict == SAGA_REPLY_CONTRADICTS) {
        rc = mark_inconsistent(app, tx, a, &s, out->decision.kind == SAGA_DECISION_APPLY, ev, why, err);
        if (rc != OMS_OK)
            return rc;
    }
    switch (out->decision.kind) {
    case SAGA_DECISION_CONFLICT: return refuse(&out->decision, &s, err);
    case SAGA_DECISION_IGNORED: out->after = s; return write_ignored(app, tx, a, &s, event, ev, err);
    case SAGA_DECISION_APPLY: break;
    }
    if (ev->correlation_id && ev->correlation_id[0])
        correlation_id = ev->correlation_id;
    rc = write_applied(app, tx, a, out, &s, correlation_id ? correlation_id : "", ev, err);
    out->after = s;
    if (rc == OMS_OK && (out->decision.actions & SAGA_ACT_RESUME))
        rc = apply_held(app, tx, a, &s, err);
    return rc;
}

oms_err saga_runner_create(order_app *app, oms_tx *tx, oms_arena *a, const order *o, const char *correlation_id,
                           saga *s, oms_error *err)
{
    saga_init(s, o->saga_id, o->id);
    s->created_ms = o->created_at_ms;
    oms_err rc = saga_repo_insert(app->sagas, tx, a, s, correlation_id, err);
    if (rc != OMS_OK)
        return rc;
    return append_row(app, tx, a, s, SAGA_LOG_STATE_CHANGED, ORDER_CREATED, NULL, "saga started", err);
}

oms_err saga_runner_start(order_app *app, oms_tx *tx, oms_arena *a, saga *s, const order *o, const char *correlation_id,
                          saga_outcome *out, oms_error *err)
{
    saga_event_context ev = {.detail = "order stored"};
    out->order = *o;
    out->decision = saga_decide(s, SAGA_EV_START, &app->saga);
    if (out->decision.kind != SAGA_DECISION_APPLY)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "a new saga did not start");
    return write_applied(app, tx, a, out, s, correlation_id ? correlation_id : "", &ev, err);
}

oms_err saga_runner_ignore_message(order_app *app, oms_tx *tx, oms_arena *a, const char *order_id, const char *event_id,
                                   const char *event_type, oms_error *err)
{
    saga s;
    const char *correlation_id = NULL;
    oms_err rc = saga_repo_load_for_update(app->sagas, tx, a, order_id, &s, &correlation_id, err);
    if (rc == OMS_ENOTFOUND)
        return OMS_OK;
    if (rc != OMS_OK)
        return rc;
    const char *detail = oms_arena_sprintf(a, "unknown event_type %s ignored", event_type);
    return log_step(app, tx, a, &s, SAGA_LOG_IGNORED_REPLY, s.state, event_id, detail, err);
}
