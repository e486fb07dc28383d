/* saga.h -- the order saga of SPEC section 3, as data.
 *
 * A saga is in a state (the order's status) and waits for one step (the
 * command whose reply it needs). An event (a reply, a cancel, a passed
 * deadline) is looked up in a transition table of rows
 *   {from_state, current_step, event, guard}
 *     -> {to_state, next_step, target, actions, log_kind, default_reason}
 * and the decision says what to do; saga_apply then moves the saga. The
 * application carries out the actions (messages, reasons) and writes the log.
 * Nothing here does I/O. */
#ifndef ORDER_SAGA_H
#define ORDER_SAGA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/order.h"
#include "oms/util.h"

typedef enum {
    SAGA_STEP_NONE = 0,  /* waiting for nothing */
    SAGA_STEP_PAYMENT,   /* PaymentRequested sent */
    SAGA_STEP_INVENTORY, /* InventoryRequested sent */
    SAGA_STEP_RELEASE,   /* InventoryReleaseRequested sent (compensation) */
    SAGA_STEP_REFUND,    /* RefundRequested sent (compensation) */
    SAGA_STEP_COUNT
} saga_step;

typedef enum {
    SAGA_EV_START = 0, /* the order was stored: ask for payment */
    SAGA_EV_PAYMENT_SUCCEEDED,
    SAGA_EV_PAYMENT_FAILED,
    SAGA_EV_PAYMENT_REFUNDED,
    SAGA_EV_INVENTORY_ALLOCATED,
    SAGA_EV_INVENTORY_FAILED,
    SAGA_EV_INVENTORY_RELEASED,
    SAGA_EV_CANCEL_REQUESTED,
    SAGA_EV_STEP_DEADLINE_PASSED,
    /* An operator's actions on one saga (issue 12 item 2): each is a row
     * below; where no row matches, the action is refused (CONFLICT). */
    SAGA_EV_RETRY_NOW, /* resend the pending command, same command_id, now */
    SAGA_EV_PAUSE,     /* no command leaves, no deadline fires; replies are held */
    SAGA_EV_RESUME,
    SAGA_EV_COMPENSATE,       /* give back what was taken, as a client's cancel */
    SAGA_EV_EXTEND_DEADLINE,  /* the pending command waits longer before it is resent */
    SAGA_EV_RESOLVE_MANUALLY, /* a blocked compensation's obligation was settled by hand (admin) */
    SAGA_EV_COUNT
} saga_event;

/* What the application must do; a row holds several. */
enum {
    SAGA_ACT_SEND_PAYMENT_REQUEST = 1u << 0,
    SAGA_ACT_SEND_INVENTORY_REQUEST = 1u << 1,
    SAGA_ACT_SEND_INVENTORY_RELEASE = 1u << 2,
    SAGA_ACT_SEND_REFUND = 1u << 3,
    SAGA_ACT_RECORD_FAILURE_REASON = 1u << 4,
    SAGA_ACT_RECORD_CANCELLATION_REASON = 1u << 5,
    SAGA_ACT_MARK_PAYMENT_CAPTURED = 1u << 6,
    SAGA_ACT_MARK_PAYMENT_REFUNDED = 1u << 7,
    SAGA_ACT_MARK_STOCK_RESERVED = 1u << 8,
    SAGA_ACT_MARK_STOCK_RELEASED = 1u << 9,
    SAGA_ACT_PAUSE = 1u << 10,
    SAGA_ACT_RESUME = 1u << 11,                 /* and apply the replies held while paused */
    SAGA_ACT_EXTEND_DEADLINE = 1u << 12,        /* by the decision's extend_ms (default one step timeout) */
    SAGA_ACT_MARK_RESOLVED_MANUALLY = 1u << 13, /* the current step's obligation was settled by hand */
};
#define SAGA_ACT_SEND_ANY                                                                                              \
    (SAGA_ACT_SEND_PAYMENT_REQUEST | SAGA_ACT_SEND_INVENTORY_REQUEST | SAGA_ACT_SEND_INVENTORY_RELEASE |               \
     SAGA_ACT_SEND_REFUND)

/* Kinds of saga_step_log rows (SPEC section 5). */
typedef enum {
    SAGA_LOG_COMMAND_SENT = 0,
    SAGA_LOG_REPLY_RECEIVED,
    SAGA_LOG_RETRY,
    SAGA_LOG_TIMEOUT,
    SAGA_LOG_COMPENSATION_SENT,
    SAGA_LOG_COMPENSATION_DONE,
    SAGA_LOG_IGNORED_REPLY,
    SAGA_LOG_STATE_CHANGED,
    SAGA_LOG_REJECTED_REPLY,    /* a reply that answers no command of the saga (or not its amount): not applied */
    SAGA_LOG_INCONSISTENT,      /* a participant's answer contradicts what the saga did on an earlier one */
    SAGA_LOG_OPERATOR_ACTION,   /* an operator paused, resumed or extended it (who, why in the detail) */
    SAGA_LOG_REPLY_HELD,        /* a reply that came while paused: applied on resume */
    SAGA_LOG_MANUAL_RESOLUTION, /* an admin settled an obligation by hand (what, evidence, who, why) */
    SAGA_LOG_KIND_COUNT
} saga_log_kind;

/* What a row needs of the saga besides its state, step and event. */
typedef enum {
    SAGA_GUARD_NONE = 0,
    SAGA_GUARD_ATTEMPTS_LEFT,       /* the current step may be sent again (deadlines) */
    SAGA_GUARD_ATTEMPTS_EXHAUSTED,  /* it may not: compensate (deadlines) */
    SAGA_GUARD_TARGET_FAILED,       /* compensating towards FAILED (a cancel then ends it CANCELLED) */
    SAGA_GUARD_PAUSED,              /* paused by an operator: the only rows a paused saga matches */
    SAGA_GUARD_COMPENSATION_BLOCKED /* the compensation was sent saga_compensation_limit() times */
} saga_guard;

#define SAGA_INCONSISTENCY_MAX 200
#define SAGA_LAST_ERROR_MAX 200

/* Why an unfinished saga needs an operator's eye (issue 12 item 1), as the
 * read model derives it (order_read_model.h states the rule); NONE for a
 * saga that is fine or ended. */
typedef enum {
    SAGA_STUCK_NONE = 0,
    SAGA_STUCK_RETRYING,               /* its current command was sent more than once */
    SAGA_STUCK_DEADLINE_EXCEEDED,      /* its deadline passed and nothing acted on it yet */
    SAGA_STUCK_COMPENSATION_BLOCKED,   /* a compensation failed SAGA_COMPENSATION_MAX_ATTEMPTS times */
    SAGA_STUCK_PAUSED,                 /* an operator paused it */
    SAGA_STUCK_WAITING_ON_DEAD_LETTER, /* a message of it sits in a dead-letter queue */
    SAGA_STUCK_COUNT
} saga_stuck_reason;

/* to_state of a row that ends compensation: the saga's remembered target. */
#define SAGA_TO_TARGET ORDER_STATUS_COUNT

typedef struct saga_transition {
    order_status from_state;
    saga_step current_step;
    saga_event event;
    saga_guard guard;
    order_status to_state; /* or SAGA_TO_TARGET */
    saga_step next_step;
    order_status target; /* compensation's end when entering COMPENSATING, else unused */
    unsigned actions;
    saga_log_kind log_kind;
    const char *default_reason; /* for RECORD_*_REASON when the event carries none */
} saga_transition;

typedef struct saga {
    char id[OMS_UUID_LEN + 1];
    char order_id[OMS_UUID_LEN + 1];
    order_status state;
    saga_step step;
    order_status target;               /* FAILED or CANCELLED while COMPENSATING */
    char command_id[OMS_UUID_LEN + 1]; /* of the current step; kept on resend */
    int attempts;                      /* sends of the current step */
    int64_t deadline_ms;               /* 0 when waiting for nothing */
    int64_t version;                   /* incremented on each change */
    bool payment_captured;
    bool stock_reserved;
    /* The command_id each step's command carried when first sent ("" when
     * never sent): a reply must answer one of them (saga_check_reply). */
    char sent[SAGA_STEP_COUNT][OMS_UUID_LEN + 1];
    /* Why a participant's answer contradicted the saga ("" when none): the
     * saga is then inconsistent, for an operator to look into. */
    char inconsistency[SAGA_INCONSISTENCY_MAX + 1];
    /* Paused by an operator: no command leaves and no deadline fires. */
    bool paused;
    /* Why the current step is not done yet ("" when nothing failed): the
     * deadline it missed, or the participant's refusal of a compensation. */
    char last_error[SAGA_LAST_ERROR_MAX + 1];
    int64_t created_ms;
    /* Steps whose obligation an admin settled by hand (bit 1 << step). */
    unsigned resolved_manually;
    /* Derived by the read model when it lists or reads a saga (never stored). */
    saga_stuck_reason stuck;
    int64_t total_cents; /* the order's */
    char customer_id[ORDER_CUSTOMER_ID_MAX + 1];
} saga;

typedef struct saga_settings {
    int step_timeout_s; /* SAGA_STEP_TIMEOUT_S */
    int max_attempts;   /* SAGA_MAX_ATTEMPTS: sends of a forward step before compensating */
    /* SAGA_COMPENSATION_MAX_ATTEMPTS: sends of a compensation before the saga
     * shows compensation_blocked (it is still retried); 0: max_attempts. */
    int compensation_max_attempts;
} saga_settings;

typedef enum {
    SAGA_DECISION_APPLY,   /* a row matched: apply it */
    SAGA_DECISION_IGNORED, /* late, duplicate or unknown for this state: log it, change nothing */
    SAGA_DECISION_CONFLICT /* a cancel of an ended or paused saga; an operator's action without a row */
} saga_decision_kind;

typedef struct saga_decision {
    saga_decision_kind kind;
    const saga_transition *row; /* NULL unless APPLY */
    order_status from_state, to_state;
    saga_step from_step, to_step;
    unsigned actions;
    saga_log_kind log_kind; /* IGNORED_REPLY for IGNORED */
    bool state_changed;
    bool step_changed;        /* a new command_id is needed when to_step != NONE */
    int64_t extend_ms;        /* EXTEND_DEADLINE: by how much (0: one step timeout); set by the caller */
    const char *refusal;      /* CONFLICT: why, one sentence (static) */
    const char *refusal_code; /* CONFLICT: "order_ended", "saga_paused", "action_not_allowed" */
} saga_decision;

const char *saga_step_name(saga_step s);
/* "retrying", "deadline_exceeded", ...; NULL for SAGA_STUCK_NONE. */
const char *saga_stuck_reason_name(saga_stuck_reason r);
bool saga_stuck_reason_parse(const char *name, saga_stuck_reason *out);
/* Sends of a compensation after which it shows compensation_blocked. */
int saga_compensation_limit(const saga_settings *cfg);
bool saga_step_parse(const char *name, saga_step *out);
const char *saga_event_name(saga_event e);
bool saga_event_parse(const char *name, saga_event *out);
/* An operator's action by its API name ("retry_now", "pause", "resume",
 * "compensate", "extend_deadline"); false for any other. */
bool saga_action_parse(const char *name, saga_event *out);
const char *saga_action_name(saga_event e); /* NULL for an event that is no action */
const char *saga_log_kind_name(saga_log_kind k);
bool saga_log_kind_parse(const char *name, saga_log_kind *out);

/* The table, for tests and docs. */
const saga_transition *saga_table(size_t *count);

/* A new saga in CREATED. */
void saga_init(saga *s, const char *saga_id, const char *order_id);

/* Looks the event up for the saga as it is now. Never changes the saga. A
 * paused saga matches only the rows guarded PAUSED (resume). Without a row:
 * CONFLICT for an operator's action and for a cancel of an ended or paused
 * saga (refusal says why), else IGNORED. */
saga_decision saga_decide(const saga *s, saga_event ev, const saga_settings *cfg);

/* Applies an APPLY decision: state, step, target, flags, attempts, deadline,
 * version. `new_command_id` is used when the step changes to a waiting step
 * (may be NULL otherwise). Does nothing for other kinds. */
void saga_apply(saga *s, const saga_decision *d, const saga_settings *cfg, int64_t now_ms, const char *new_command_id);

/* What a reply claims, to be checked against the saga before it is applied
 * (the bus is not trusted: a reply may be forged or sent astray). */
typedef struct saga_reply_claim {
    saga_step step;         /* the step whose command it answers (PaymentProcessed: PAYMENT, ...) */
    const char *command_id; /* NULL when the reply has none */
    bool success;           /* PaymentProcessed, InventoryAllocated */
    bool has_amount;        /* PaymentProcessed (success), PaymentRefunded */
    int64_t amount_cents;
} saga_reply_claim;

typedef enum {
    SAGA_REPLY_GENUINE = 0, /* answers a command of the saga: decide on it */
    SAGA_REPLY_REJECTED,    /* answers no command of the saga, or not with the order's amount */
    SAGA_REPLY_CONTRADICTS, /* genuine, but says the opposite of an answer the saga acted on */
} saga_reply_verdict;

/* Checks a reply against the saga and the order's total: its command_id
 * must be the one the saga's command of that step carried (resends keep
 * it); a captured payment must be the total; a refund the total or 0. A
 * genuine failure for a step whose success the saga holds (a payment still
 * captured, stock still reserved: a decline after a forged confirmation)
 * contradicts it. `why` gets one sentence for the log. */
saga_reply_verdict saga_check_reply(const saga *s, const saga_reply_claim *c, int64_t total_cents, char *why,
                                    size_t why_len);

/* What a compensation owes, in business terms (issue 12 item 3). */
typedef enum { SAGA_OBLIGATION_STOCK_RELEASE = 0, SAGA_OBLIGATION_REFUND } saga_obligation_kind;
typedef enum {
    SAGA_OBLIGATION_PENDING = 0, /* not asked yet, or asked and waiting */
    SAGA_OBLIGATION_FAILING,     /* asked compensation_limit times or more, still open */
    SAGA_OBLIGATION_DONE,
    SAGA_OBLIGATION_RESOLVED_MANUALLY
} saga_obligation_status;
typedef struct saga_obligation {
    saga_obligation_kind kind;
    saga_obligation_status status;
} saga_obligation;

const char *saga_obligation_name(saga_obligation_kind k); /* "stock_release", "refund" */
const char *saga_obligation_status_name(saga_obligation_status s);
/* The obligation the current step settles; false when it settles none. */
bool saga_current_obligation(const saga *s, saga_obligation_kind *out);
/* The saga's obligations once it compensates (release before refund), into
 * out[2]; 0 for a saga that never compensated. An obligation is open while
 * PENDING or FAILING; the order ends only when none is. */
size_t saga_obligations(const saga *s, const saga_settings *cfg, saga_obligation out[2]);

/* The deadline of attempt `attempt` (1-based) of a step started now:
 * now + step_timeout * 2^(attempt-1), the factor capped at 16. */
int64_t saga_deadline_for(const saga_settings *cfg, int attempt, int64_t now_ms);

#endif
