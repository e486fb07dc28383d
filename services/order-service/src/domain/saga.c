/* saga.c -- the transition table of the order saga and its interpreter.
 *
 * Every decision is a row below; saga_decide only finds the row. Anything
 * without a row is a late, duplicate or out-of-place event: IGNORED, which the
 * application records in the saga log and which changes nothing. */
#include "saga.h"

#include <stdio.h>
#include <string.h>

/* Short names for the columns' values: an order status, a step, an event,
 * an action, a log kind; NOTARGET fills the target column of a row that does
 * not start a compensation (any status would do: it is not read). */
#define S(x) ORDER_##x
#define ST(x) SAGA_STEP_##x
#define EV(x) SAGA_EV_##x
#define A(x) SAGA_ACT_##x
#define LOG(x) SAGA_LOG_##x
#define NOTARGET ORDER_CREATED

/* The columns of a row (saga_transition, saga.h), in order:
 *   from state, current step, event, guard
 *     -> to state, next step, target (where a compensation it starts ends),
 *        actions, log kind, default reason (when the event brings none). */
static const saga_transition table[] = {
    /* The order is stored: ask for the payment. */
    {S(CREATED), ST(NONE), EV(START), SAGA_GUARD_NONE, S(PENDING_PAYMENT), ST(PAYMENT), NOTARGET,
     A(SEND_PAYMENT_REQUEST), LOG(COMMAND_SENT), NULL},
    /* Cancel before anything was asked: a refund request all the same (payment
     * remembers it, so a late PaymentRequested never charges). */
    {S(CREATED), ST(NONE), EV(CANCEL_REQUESTED), SAGA_GUARD_NONE, S(COMPENSATING), ST(REFUND), S(CANCELLED),
     A(SEND_REFUND) | A(RECORD_CANCELLATION_REASON), LOG(COMPENSATION_SENT), "cancelled by the client"},

    /* PENDING_PAYMENT */
    {S(PENDING_PAYMENT), ST(PAYMENT), EV(PAYMENT_SUCCEEDED), SAGA_GUARD_NONE, S(PAYMENT_CONFIRMED), ST(INVENTORY),
     NOTARGET, A(MARK_PAYMENT_CAPTURED) | A(SEND_INVENTORY_REQUEST), LOG(REPLY_RECEIVED), NULL},
    /* Declined: nothing was taken, nothing to give back. */
    {S(PENDING_PAYMENT), ST(PAYMENT), EV(PAYMENT_FAILED), SAGA_GUARD_NONE, S(FAILED), ST(NONE), NOTARGET,
     A(RECORD_FAILURE_REASON), LOG(REPLY_RECEIVED), "payment declined"},
    /* Cancel while the payment may still be captured: refund (0 if none). */
    {S(PENDING_PAYMENT), ST(PAYMENT), EV(CANCEL_REQUESTED), SAGA_GUARD_NONE, S(COMPENSATING), ST(REFUND), S(CANCELLED),
     A(SEND_REFUND) | A(RECORD_CANCELLATION_REASON), LOG(COMPENSATION_SENT), "cancelled by the client"},
    {S(PENDING_PAYMENT), ST(PAYMENT), EV(STEP_DEADLINE_PASSED), SAGA_GUARD_ATTEMPTS_LEFT, S(PENDING_PAYMENT),
     ST(PAYMENT), NOTARGET, A(SEND_PAYMENT_REQUEST), LOG(RETRY), NULL},
    /* No answer after every attempt: treat as failed, but the payment may
     * have been captured unseen, so refund (0 if none) before FAILED. */
    {S(PENDING_PAYMENT), ST(PAYMENT), EV(STEP_DEADLINE_PASSED), SAGA_GUARD_ATTEMPTS_EXHAUSTED, S(COMPENSATING),
     ST(REFUND), S(FAILED), A(SEND_REFUND) | A(RECORD_FAILURE_REASON), LOG(TIMEOUT),
     "payment service did not answer in time"},

    /* PAYMENT_CONFIRMED */
    {S(PAYMENT_CONFIRMED), ST(INVENTORY), EV(INVENTORY_ALLOCATED), SAGA_GUARD_NONE, S(INVENTORY_CONFIRMED), ST(NONE),
     NOTARGET, A(MARK_STOCK_RESERVED), LOG(REPLY_RECEIVED), NULL},
    /* Stock refused: give the money back, then FAILED. */
    {S(PAYMENT_CONFIRMED), ST(INVENTORY), EV(INVENTORY_FAILED), SAGA_GUARD_NONE, S(COMPENSATING), ST(REFUND), S(FAILED),
     A(SEND_REFUND) | A(RECORD_FAILURE_REASON), LOG(REPLY_RECEIVED), "inventory refused"},
    /* Cancel: reverse order, stock first (released even if not yet reserved). */
    {S(PAYMENT_CONFIRMED), ST(INVENTORY), EV(CANCEL_REQUESTED), SAGA_GUARD_NONE, S(COMPENSATING), ST(RELEASE),
     S(CANCELLED), A(SEND_INVENTORY_RELEASE) | A(RECORD_CANCELLATION_REASON), LOG(COMPENSATION_SENT),
     "cancelled by the client"},
    {S(PAYMENT_CONFIRMED), ST(INVENTORY), EV(STEP_DEADLINE_PASSED), SAGA_GUARD_ATTEMPTS_LEFT, S(PAYMENT_CONFIRMED),
     ST(INVENTORY), NOTARGET, A(SEND_INVENTORY_REQUEST), LOG(RETRY), NULL},
    /* Inventory silent: as if refused, but stock may be reserved unseen, so
     * release it before refunding. */
    {S(PAYMENT_CONFIRMED), ST(INVENTORY), EV(STEP_DEADLINE_PASSED), SAGA_GUARD_ATTEMPTS_EXHAUSTED, S(COMPENSATING),
     ST(RELEASE), S(FAILED), A(SEND_INVENTORY_RELEASE) | A(RECORD_FAILURE_REASON), LOG(TIMEOUT),
     "inventory service did not answer in time"},

    /* INVENTORY_CONFIRMED: only a cancel moves it. */
    {S(INVENTORY_CONFIRMED), ST(NONE), EV(CANCEL_REQUESTED), SAGA_GUARD_NONE, S(COMPENSATING), ST(RELEASE),
     S(CANCELLED), A(SEND_INVENTORY_RELEASE) | A(RECORD_CANCELLATION_REASON), LOG(COMPENSATION_SENT),
     "cancelled by the client"},

    /* COMPENSATING, releasing stock. */
    {S(COMPENSATING), ST(RELEASE), EV(INVENTORY_RELEASED), SAGA_GUARD_NONE, S(COMPENSATING), ST(REFUND), NOTARGET,
     A(MARK_STOCK_RELEASED) | A(SEND_REFUND), LOG(COMPENSATION_DONE), NULL},
    /* A late allocation is honoured: the release queued behind it frees it. */
    {S(COMPENSATING), ST(RELEASE), EV(INVENTORY_ALLOCATED), SAGA_GUARD_NONE, S(COMPENSATING), ST(RELEASE), NOTARGET,
     A(MARK_STOCK_RESERVED), LOG(REPLY_RECEIVED), NULL},
    {S(COMPENSATING), ST(RELEASE), EV(INVENTORY_FAILED), SAGA_GUARD_NONE, S(COMPENSATING), ST(RELEASE), NOTARGET, 0,
     LOG(REPLY_RECEIVED), NULL},
    /* A compensation is retried for ever (visible as stuck). */
    {S(COMPENSATING), ST(RELEASE), EV(STEP_DEADLINE_PASSED), SAGA_GUARD_NONE, S(COMPENSATING), ST(RELEASE), NOTARGET,
     A(SEND_INVENTORY_RELEASE), LOG(RETRY), NULL},

    /* COMPENSATING, refunding. */
    {S(COMPENSATING), ST(REFUND), EV(PAYMENT_REFUNDED), SAGA_GUARD_NONE, SAGA_TO_TARGET, ST(NONE), NOTARGET,
     A(MARK_PAYMENT_REFUNDED), LOG(COMPENSATION_DONE), NULL},
    /* A late capture is honoured: the refund queued behind it gives it back. */
    {S(COMPENSATING), ST(REFUND), EV(PAYMENT_SUCCEEDED), SAGA_GUARD_NONE, S(COMPENSATING), ST(REFUND), NOTARGET,
     A(MARK_PAYMENT_CAPTURED), LOG(REPLY_RECEIVED), NULL},
    {S(COMPENSATING), ST(REFUND), EV(PAYMENT_FAILED), SAGA_GUARD_NONE, S(COMPENSATING), ST(REFUND), NOTARGET, 0,
     LOG(REPLY_RECEIVED), NULL},
    {S(COMPENSATING), ST(REFUND), EV(STEP_DEADLINE_PASSED), SAGA_GUARD_NONE, S(COMPENSATING), ST(REFUND), NOTARGET,
     A(SEND_REFUND), LOG(RETRY), NULL},

    /* A cancel while already giving back towards FAILED: the client asked
     * before the order ended, so it ends CANCELLED (SPEC 3); what is being
     * given back is already on its way, nothing more to send. A cancel while
     * compensating towards CANCELLED has no row: ignored. */
    {S(COMPENSATING), ST(RELEASE), EV(CANCEL_REQUESTED), SAGA_GUARD_TARGET_FAILED, S(COMPENSATING), ST(RELEASE),
     S(CANCELLED), A(RECORD_CANCELLATION_REASON), LOG(STATE_CHANGED), "cancelled by the client"},
    {S(COMPENSATING), ST(REFUND), EV(CANCEL_REQUESTED), SAGA_GUARD_TARGET_FAILED, S(COMPENSATING), ST(REFUND),
     S(CANCELLED), A(RECORD_CANCELLATION_REASON), LOG(STATE_CHANGED), "cancelled by the client"},

    /* ---- an operator's actions (issue 12 item 2); no row, no action ---- */

    /* retry_now: the pending command again, now, with its command_id. There
     * is no row that skips a step: a money step is never skipped. */
    {S(PENDING_PAYMENT), ST(PAYMENT), EV(RETRY_NOW), SAGA_GUARD_NONE, S(PENDING_PAYMENT), ST(PAYMENT), NOTARGET,
     A(SEND_PAYMENT_REQUEST), LOG(RETRY), NULL},
    {S(PAYMENT_CONFIRMED), ST(INVENTORY), EV(RETRY_NOW), SAGA_GUARD_NONE, S(PAYMENT_CONFIRMED), ST(INVENTORY), NOTARGET,
     A(SEND_INVENTORY_REQUEST), LOG(RETRY), NULL},
    {S(COMPENSATING), ST(RELEASE), EV(RETRY_NOW), SAGA_GUARD_NONE, S(COMPENSATING), ST(RELEASE), NOTARGET,
     A(SEND_INVENTORY_RELEASE), LOG(RETRY), NULL},
    {S(COMPENSATING), ST(REFUND), EV(RETRY_NOW), SAGA_GUARD_NONE, S(COMPENSATING), ST(REFUND), NOTARGET, A(SEND_REFUND),
     LOG(RETRY), NULL},

    /* pause / resume: only a saga waiting for a reply (nothing else moves). */
    {S(PENDING_PAYMENT), ST(PAYMENT), EV(PAUSE), SAGA_GUARD_NONE, S(PENDING_PAYMENT), ST(PAYMENT), NOTARGET, A(PAUSE),
     LOG(OPERATOR_ACTION), NULL},
    {S(PAYMENT_CONFIRMED), ST(INVENTORY), EV(PAUSE), SAGA_GUARD_NONE, S(PAYMENT_CONFIRMED), ST(INVENTORY), NOTARGET,
     A(PAUSE), LOG(OPERATOR_ACTION), NULL},
    {S(COMPENSATING), ST(RELEASE), EV(PAUSE), SAGA_GUARD_NONE, S(COMPENSATING), ST(RELEASE), NOTARGET, A(PAUSE),
     LOG(OPERATOR_ACTION), NULL},
    {S(COMPENSATING), ST(REFUND), EV(PAUSE), SAGA_GUARD_NONE, S(COMPENSATING), ST(REFUND), NOTARGET, A(PAUSE),
     LOG(OPERATOR_ACTION), NULL},
    {S(PENDING_PAYMENT), ST(PAYMENT), EV(RESUME), SAGA_GUARD_PAUSED, S(PENDING_PAYMENT), ST(PAYMENT), NOTARGET,
     A(RESUME), LOG(OPERATOR_ACTION), NULL},
    {S(PAYMENT_CONFIRMED), ST(INVENTORY), EV(RESUME), SAGA_GUARD_PAUSED, S(PAYMENT_CONFIRMED), ST(INVENTORY), NOTARGET,
     A(RESUME), LOG(OPERATOR_ACTION), NULL},
    {S(COMPENSATING), ST(RELEASE), EV(RESUME), SAGA_GUARD_PAUSED, S(COMPENSATING), ST(RELEASE), NOTARGET, A(RESUME),
     LOG(OPERATOR_ACTION), NULL},
    {S(COMPENSATING), ST(REFUND), EV(RESUME), SAGA_GUARD_PAUSED, S(COMPENSATING), ST(REFUND), NOTARGET, A(RESUME),
     LOG(OPERATOR_ACTION), NULL},

    /* compensate: as a client's cancel, from wherever one is allowed
     * (a saga past its deadline included); the order ends CANCELLED. */
    {S(CREATED), ST(NONE), EV(COMPENSATE), SAGA_GUARD_NONE, S(COMPENSATING), ST(REFUND), S(CANCELLED),
     A(SEND_REFUND) | A(RECORD_CANCELLATION_REASON), LOG(COMPENSATION_SENT), "compensated by an operator"},
    {S(PENDING_PAYMENT), ST(PAYMENT), EV(COMPENSATE), SAGA_GUARD_NONE, S(COMPENSATING), ST(REFUND), S(CANCELLED),
     A(SEND_REFUND) | A(RECORD_CANCELLATION_REASON), LOG(COMPENSATION_SENT), "compensated by an operator"},
    {S(PAYMENT_CONFIRMED), ST(INVENTORY), EV(COMPENSATE), SAGA_GUARD_NONE, S(COMPENSATING), ST(RELEASE), S(CANCELLED),
     A(SEND_INVENTORY_RELEASE) | A(RECORD_CANCELLATION_REASON), LOG(COMPENSATION_SENT), "compensated by an operator"},
    {S(INVENTORY_CONFIRMED), ST(NONE), EV(COMPENSATE), SAGA_GUARD_NONE, S(COMPENSATING), ST(RELEASE), S(CANCELLED),
     A(SEND_INVENTORY_RELEASE) | A(RECORD_CANCELLATION_REASON), LOG(COMPENSATION_SENT), "compensated by an operator"},

    /* extend_deadline: the pending command waits longer. */
    {S(PENDING_PAYMENT), ST(PAYMENT), EV(EXTEND_DEADLINE), SAGA_GUARD_NONE, S(PENDING_PAYMENT), ST(PAYMENT), NOTARGET,
     A(EXTEND_DEADLINE), LOG(OPERATOR_ACTION), NULL},
    {S(PAYMENT_CONFIRMED), ST(INVENTORY), EV(EXTEND_DEADLINE), SAGA_GUARD_NONE, S(PAYMENT_CONFIRMED), ST(INVENTORY),
     NOTARGET, A(EXTEND_DEADLINE), LOG(OPERATOR_ACTION), NULL},
    {S(COMPENSATING), ST(RELEASE), EV(EXTEND_DEADLINE), SAGA_GUARD_NONE, S(COMPENSATING), ST(RELEASE), NOTARGET,
     A(EXTEND_DEADLINE), LOG(OPERATOR_ACTION), NULL},
    {S(COMPENSATING), ST(REFUND), EV(EXTEND_DEADLINE), SAGA_GUARD_NONE, S(COMPENSATING), ST(REFUND), NOTARGET,
     A(EXTEND_DEADLINE), LOG(OPERATOR_ACTION), NULL},

    /* resolve_manually (issue 12 item 3): only a compensation that keeps
     * failing; the stock released by hand, the refund goes on; the refund
     * settled by hand, the saga ends where its compensation was going. */
    {S(COMPENSATING), ST(RELEASE), EV(RESOLVE_MANUALLY), SAGA_GUARD_COMPENSATION_BLOCKED, S(COMPENSATING), ST(REFUND),
     NOTARGET, A(MARK_STOCK_RELEASED) | A(MARK_RESOLVED_MANUALLY) | A(SEND_REFUND), LOG(MANUAL_RESOLUTION), NULL},
    {S(COMPENSATING), ST(REFUND), EV(RESOLVE_MANUALLY), SAGA_GUARD_COMPENSATION_BLOCKED, SAGA_TO_TARGET, ST(NONE),
     NOTARGET, A(MARK_PAYMENT_REFUNDED) | A(MARK_RESOLVED_MANUALLY), LOG(MANUAL_RESOLUTION), NULL},
};

static const char *const step_names[SAGA_STEP_COUNT] = {
    [SAGA_STEP_NONE] = "none",       [SAGA_STEP_PAYMENT] = "payment", [SAGA_STEP_INVENTORY] = "inventory",
    [SAGA_STEP_RELEASE] = "release", [SAGA_STEP_REFUND] = "refund",
};

static const char *const event_names[SAGA_EV_COUNT] = {
    [SAGA_EV_START] = "START",
    [SAGA_EV_PAYMENT_SUCCEEDED] = "PAYMENT_SUCCEEDED",
    [SAGA_EV_PAYMENT_FAILED] = "PAYMENT_FAILED",
    [SAGA_EV_PAYMENT_REFUNDED] = "PAYMENT_REFUNDED",
    [SAGA_EV_INVENTORY_ALLOCATED] = "INVENTORY_ALLOCATED",
    [SAGA_EV_INVENTORY_FAILED] = "INVENTORY_FAILED",
    [SAGA_EV_INVENTORY_RELEASED] = "INVENTORY_RELEASED",
    [SAGA_EV_CANCEL_REQUESTED] = "CANCEL_REQUESTED",
    [SAGA_EV_STEP_DEADLINE_PASSED] = "STEP_DEADLINE_PASSED",
    [SAGA_EV_RETRY_NOW] = "RETRY_NOW",
    [SAGA_EV_PAUSE] = "PAUSE",
    [SAGA_EV_RESUME] = "RESUME",
    [SAGA_EV_COMPENSATE] = "COMPENSATE",
    [SAGA_EV_EXTEND_DEADLINE] = "EXTEND_DEADLINE",
    [SAGA_EV_RESOLVE_MANUALLY] = "RESOLVE_MANUALLY",
};

static const char *const action_names[SAGA_EV_COUNT] = {
    [SAGA_EV_RETRY_NOW] = "retry_now",
    [SAGA_EV_PAUSE] = "pause",
    [SAGA_EV_RESUME] = "resume",
    [SAGA_EV_COMPENSATE] = "compensate",
    [SAGA_EV_EXTEND_DEADLINE] = "extend_deadline",
    [SAGA_EV_RESOLVE_MANUALLY] = "resolve_manually",
};

static const char *const log_kind_names[SAGA_LOG_KIND_COUNT] = {
    [SAGA_LOG_COMMAND_SENT] = "COMMAND_SENT",
    [SAGA_LOG_REPLY_RECEIVED] = "REPLY_RECEIVED",
    [SAGA_LOG_RETRY] = "RETRY",
    [SAGA_LOG_TIMEOUT] = "TIMEOUT",
    [SAGA_LOG_COMPENSATION_SENT] = "COMPENSATION_SENT",
    [SAGA_LOG_COMPENSATION_DONE] = "COMPENSATION_DONE",
    [SAGA_LOG_IGNORED_REPLY] = "IGNORED_REPLY",
    [SAGA_LOG_STATE_CHANGED] = "STATE_CHANGED",
    [SAGA_LOG_REJECTED_REPLY] = "REJECTED_REPLY",
    [SAGA_LOG_INCONSISTENT] = "INCONSISTENT",
    [SAGA_LOG_OPERATOR_ACTION] = "OPERATOR_ACTION",
    [SAGA_LOG_REPLY_HELD] = "REPLY_HELD",
    [SAGA_LOG_MANUAL_RESOLUTION] = "MANUAL_RESOLUTION",
};

static const char *const stuck_names[SAGA_STUCK_COUNT] = {
    [SAGA_STUCK_NONE] = NULL,
    [SAGA_STUCK_RETRYING] = "retrying",
    [SAGA_STUCK_DEADLINE_EXCEEDED] = "deadline_exceeded",
    [SAGA_STUCK_COMPENSATION_BLOCKED] = "compensation_blocked",
    [SAGA_STUCK_PAUSED] = "paused",
    [SAGA_STUCK_WAITING_ON_DEAD_LETTER] = "waiting_on_dead_letter",
};

const char *saga_stuck_reason_name(saga_stuck_reason r)
{
    return (unsigned)r < SAGA_STUCK_COUNT ? stuck_names[r] : NULL;
}

bool saga_stuck_reason_parse(const char *name, saga_stuck_reason *out)
{
    for (int i = 1; name && i < SAGA_STUCK_COUNT; i++) {
        if (strcmp(name, stuck_names[i]) == 0) {
            *out = (saga_stuck_reason)i;
            return true;
        }
    }
    return false;
}

int saga_compensation_limit(const saga_settings *cfg)
{
    return cfg->compensation_max_attempts > 0 ? cfg->compensation_max_attempts : cfg->max_attempts;
}

const char *saga_step_name(saga_step s) { return (unsigned)s < SAGA_STEP_COUNT ? step_names[s] : "unknown"; }

bool saga_step_parse(const char *name, saga_step *out)
{
    for (int i = 0; name && i < SAGA_STEP_COUNT; i++) {
        if (strcmp(name, step_names[i]) == 0) {
            *out = (saga_step)i;
            return true;
        }
    }
    return false;
}

const char *saga_event_name(saga_event e) { return (unsigned)e < SAGA_EV_COUNT ? event_names[e] : "UNKNOWN"; }

bool saga_event_parse(const char *name, saga_event *out)
{
    for (int i = 0; name && i < SAGA_EV_COUNT; i++) {
        if (strcmp(name, event_names[i]) == 0) {
            *out = (saga_event)i;
            return true;
        }
    }
    return false;
}

const char *saga_action_name(saga_event e) { return (unsigned)e < SAGA_EV_COUNT ? action_names[e] : NULL; }

bool saga_action_parse(const char *name, saga_event *out)
{
    for (int i = 0; name && i < SAGA_EV_COUNT; i++) {
        if (action_names[i] && strcmp(name, action_names[i]) == 0) {
            *out = (saga_event)i;
            return true;
        }
    }
    return false;
}

const char *saga_log_kind_name(saga_log_kind k)
{
    return (unsigned)k < SAGA_LOG_KIND_COUNT ? log_kind_names[k] : "UNKNOWN";
}

bool saga_log_kind_parse(const char *name, saga_log_kind *out)
{
    for (int i = 0; name && i < SAGA_LOG_KIND_COUNT; i++) {
        if (strcmp(name, log_kind_names[i]) == 0) {
            *out = (saga_log_kind)i;
            return true;
        }
    }
    return false;
}

const saga_transition *saga_table(size_t *count)
{
    *count = sizeof table / sizeof table[0];
    return table;
}

void saga_init(saga *s, const char *saga_id, const char *order_id)
{
    memset(s, 0, sizeof *s);
    memcpy(s->id, saga_id, OMS_UUID_LEN);
    memcpy(s->order_id, order_id, OMS_UUID_LEN);
    s->state = ORDER_CREATED;
    s->step = SAGA_STEP_NONE;
    s->target = ORDER_CREATED;
}

static bool guard_holds(saga_guard g, const saga *s, const saga_settings *cfg)
{
    if (s->paused != (g == SAGA_GUARD_PAUSED))
        return false; /* a paused saga moves only by resume, and resume moves only a paused one */
    switch (g) {
    case SAGA_GUARD_ATTEMPTS_LEFT: return s->attempts < cfg->max_attempts;
    case SAGA_GUARD_ATTEMPTS_EXHAUSTED: return s->attempts >= cfg->max_attempts;
    case SAGA_GUARD_TARGET_FAILED: return s->target == ORDER_FAILED;
    case SAGA_GUARD_COMPENSATION_BLOCKED: return s->attempts >= saga_compensation_limit(cfg);
    default: return true;
    }
}

static const saga_transition *find_row(const saga *s, saga_event ev, const saga_settings *cfg)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const saga_transition *t = &table[i];
        if (t->from_state == s->state && t->current_step == s->step && t->event == ev && guard_holds(t->guard, s, cfg))
            return t;
    }
    return NULL;
}

/* What an event without a row means: a cancel of an ended or paused saga
 * and any operator's action are refused with why; the rest is ignored. */
static void refuse(const saga *s, saga_event ev, saga_decision *d)
{
    bool action = saga_action_name(ev) != NULL;
    if (!action && ev != SAGA_EV_CANCEL_REQUESTED)
        return;
    if (order_status_is_final(s->state)) {
        d->refusal = "the saga has ended";
        d->refusal_code = "order_ended";
    } else if (s->paused && ev != SAGA_EV_RESUME) {
        d->refusal = "the saga is paused: resume it first";
        d->refusal_code = "saga_paused";
    } else if (!action) {
        return; /* a cancel while compensating towards CANCELLED: ignored */
    } else if (ev == SAGA_EV_RESUME) {
        d->refusal = "the saga is not paused";
        d->refusal_code = "action_not_allowed";
    } else if (ev == SAGA_EV_RESOLVE_MANUALLY) {
        d->refusal = "only a compensation that keeps failing is resolved by hand";
        d->refusal_code = "action_not_allowed";
    } else if (s->step == SAGA_STEP_NONE) {
        d->refusal = "the saga waits for no command";
        d->refusal_code = "action_not_allowed";
    } else {
        d->refusal = "the saga's transition table has no such step from here";
        d->refusal_code = "action_not_allowed";
    }
    d->kind = SAGA_DECISION_CONFLICT;
}

saga_decision saga_decide(const saga *s, saga_event ev, const saga_settings *cfg)
{
    saga_decision d = {
        .kind = SAGA_DECISION_IGNORED,
        .from_state = s->state,
        .to_state = s->state,
        .from_step = s->step,
        .to_step = s->step,
        .log_kind = SAGA_LOG_IGNORED_REPLY,
    };
    const saga_transition *row = find_row(s, ev, cfg);
    if (!row) {
        refuse(s, ev, &d);
        return d;
    }
    d.kind = SAGA_DECISION_APPLY;
    d.row = row;
    d.to_state = row->to_state == SAGA_TO_TARGET ? s->target : row->to_state;
    d.to_step = row->next_step;
    d.actions = row->actions;
    d.log_kind = row->log_kind;
    d.state_changed = d.to_state != s->state;
    d.step_changed = d.to_step != s->step;
    return d;
}

int64_t saga_deadline_for(const saga_settings *cfg, int attempt, int64_t now_ms)
{
    int64_t factor = 1;
    for (int i = 1; i < attempt && factor < 16; i++)
        factor *= 2;
    return now_ms + (int64_t)cfg->step_timeout_s * 1000 * factor;
}

static void apply_flags(saga *s, unsigned actions)
{
    if (actions & SAGA_ACT_MARK_PAYMENT_CAPTURED)
        s->payment_captured = true;
    if (actions & SAGA_ACT_MARK_PAYMENT_REFUNDED)
        s->payment_captured = false;
    if (actions & SAGA_ACT_MARK_STOCK_RESERVED)
        s->stock_reserved = true;
    if (actions & SAGA_ACT_MARK_STOCK_RELEASED)
        s->stock_reserved = false;
    if (actions & SAGA_ACT_PAUSE)
        s->paused = true;
    if (actions & SAGA_ACT_RESUME)
        s->paused = false;
}

/* Before the step moves on: the obligation of the step it leaves. */
static void mark_resolved(saga *s, unsigned actions)
{
    if (actions & SAGA_ACT_MARK_RESOLVED_MANUALLY)
        s->resolved_manually |= 1u << s->step;
}

void saga_apply(saga *s, const saga_decision *d, const saga_settings *cfg, int64_t now_ms, const char *new_command_id)
{
    if (d->kind != SAGA_DECISION_APPLY)
        return;
    apply_flags(s, d->actions);
    mark_resolved(s, d->actions);
    /* A row names a target when it enters COMPENSATING, or when a cancel
     * turns a compensation's end from FAILED into CANCELLED. */
    if (d->to_state == ORDER_COMPENSATING && d->row->target != NOTARGET)
        s->target = d->row->target;
    s->state = d->to_state;
    if (d->step_changed) {
        s->step = d->to_step;
        s->attempts = 0;
        memset(s->command_id, 0, sizeof s->command_id);
        s->last_error[0] = '\0'; /* a new step has failed nothing yet */
        if (d->to_step != SAGA_STEP_NONE && new_command_id)
            memcpy(s->command_id, new_command_id, OMS_UUID_LEN);
    }
    if (d->actions & SAGA_ACT_SEND_ANY) {
        s->attempts++;
        s->deadline_ms = saga_deadline_for(cfg, s->attempts, now_ms);
    } else if (d->actions & SAGA_ACT_EXTEND_DEADLINE) {
        int64_t from = s->deadline_ms > now_ms ? s->deadline_ms : now_ms;
        s->deadline_ms = from + (d->extend_ms > 0 ? d->extend_ms : (int64_t)cfg->step_timeout_s * 1000);
    } else if (s->step == SAGA_STEP_NONE) {
        s->deadline_ms = 0;
    }
    s->version++;
}

/* ---- obligations (issue 12 item 3) ---- */

const char *saga_obligation_name(saga_obligation_kind k)
{
    return k == SAGA_OBLIGATION_REFUND ? "refund" : "stock_release";
}

const char *saga_obligation_status_name(saga_obligation_status st)
{
    static const char *const names[] = {"pending", "failing", "done", "resolved_manually"};
    return (unsigned)st < 4 ? names[st] : "unknown";
}

bool saga_current_obligation(const saga *s, saga_obligation_kind *out)
{
    if (s->state != ORDER_COMPENSATING || (s->step != SAGA_STEP_RELEASE && s->step != SAGA_STEP_REFUND))
        return false;
    *out = s->step == SAGA_STEP_REFUND ? SAGA_OBLIGATION_REFUND : SAGA_OBLIGATION_STOCK_RELEASE;
    return true;
}

/* The status of the obligation of `step`: open while the saga is on it,
 * else done or settled by hand. */
static saga_obligation_status obligation_status(const saga *s, saga_step step, const saga_settings *cfg)
{
    if (s->state == ORDER_COMPENSATING && s->step == step)
        return s->attempts >= saga_compensation_limit(cfg) ? SAGA_OBLIGATION_FAILING : SAGA_OBLIGATION_PENDING;
    if (s->resolved_manually & (1u << step))
        return SAGA_OBLIGATION_RESOLVED_MANUALLY;
    /* a refund still ahead of a release in progress */
    if (s->state == ORDER_COMPENSATING && step == SAGA_STEP_REFUND)
        return SAGA_OBLIGATION_PENDING;
    return SAGA_OBLIGATION_DONE;
}

size_t saga_obligations(const saga *s, const saga_settings *cfg, saga_obligation out[2])
{
    bool compensating = s->state == ORDER_COMPENSATING;
    size_t n = 0;
    if (s->sent[SAGA_STEP_RELEASE][0])
        out[n++] = (saga_obligation){SAGA_OBLIGATION_STOCK_RELEASE, obligation_status(s, SAGA_STEP_RELEASE, cfg)};
    if (s->sent[SAGA_STEP_REFUND][0] || (compensating && n > 0))
        out[n++] = (saga_obligation){SAGA_OBLIGATION_REFUND, obligation_status(s, SAGA_STEP_REFUND, cfg)};
    return n;
}

/* ---- replies the bus brought ---- */

static bool answers_its_command(const saga *s, const saga_reply_claim *c, char *why, size_t why_len)
{
    const char *sent = (unsigned)c->step < SAGA_STEP_COUNT ? s->sent[c->step] : "";
    if (!sent[0]) {
        snprintf(why, why_len, "the saga sent no %s command", saga_step_name(c->step));
        return false;
    }
    if (!c->command_id || strcmp(c->command_id, sent) != 0) {
        /* The expected id stays out of the sentence: it goes to logs and dead letters. */
        snprintf(why, why_len, "command_id %s is not the saga's %s command", c->command_id ? c->command_id : "(none)",
                 saga_step_name(c->step));
        return false;
    }
    return true;
}

static bool has_the_orders_amount(const saga_reply_claim *c, int64_t total_cents, char *why, size_t why_len)
{
    bool captured = c->step == SAGA_STEP_PAYMENT && c->success;
    bool refunded = c->step == SAGA_STEP_REFUND;
    if (!captured && !refunded)
        return true;
    bool right = c->has_amount && (c->amount_cents == total_cents || (refunded && c->amount_cents == 0));
    if (!right)
        snprintf(why, why_len, "amount %lld is not the order's total %lld", (long long)c->amount_cents,
                 (long long)total_cents);
    return right;
}

saga_reply_verdict saga_check_reply(const saga *s, const saga_reply_claim *c, int64_t total_cents, char *why,
                                    size_t why_len)
{
    if (!answers_its_command(s, c, why, why_len) || !has_the_orders_amount(c, total_cents, why, why_len))
        return SAGA_REPLY_REJECTED;
    bool held = (c->step == SAGA_STEP_PAYMENT && s->payment_captured) ||
                (c->step == SAGA_STEP_INVENTORY && s->stock_reserved);
    if (held && !c->success) {
        snprintf(why, why_len, "a failure of the %s step, whose success the saga acted on", saga_step_name(c->step));
        return SAGA_REPLY_CONTRADICTS;
    }
    return SAGA_REPLY_GENUINE;
}
