/* commands.h -- everything that changes an order or its saga.
 *
 * Each command is one unit of work: it locks the saga (FOR UPDATE), asks the
 * domain's transition table what to do, and writes the order status, the
 * saga row (version + 1), its log rows, the outbox messages and the read
 * model row in the same transaction (the saga runner, saga_runner.h, writes
 * them). Commands started by HTTP begin and commit their own transaction;
 * commands started by a message run inside the message's inbox transaction
 * (oms_saga_consume), which commits them. */
#ifndef ORDER_COMMANDS_H
#define ORDER_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "application/order_app.h"
#include "application/saga_runner.h"
#include "oms/principal.h"

#define ORDER_IDEMPOTENCY_KEY_MAX 128

typedef enum {
    ORDER_CREATE_NEW = 0,  /* 201: a new order */
    ORDER_CREATE_REPLAYED, /* 200: the first order of this Idempotency-Key */
} order_create_outcome;

/* The conflicts a client tells apart, as oms_error.reason (the error body's code). */
#define ORDER_REASON_KEY_REUSED "idempotency_key_reused"       /* same key, different request */
#define ORDER_REASON_REQUEST_IN_PROGRESS "request_in_progress" /* same key still being handled */
#define ORDER_REASON_ORDER_ENDED "order_ended"                 /* cancel of a FAILED/CANCELLED order */
#define ORDER_REASON_UNKNOWN_PRODUCT "unknown_product"         /* the catalog does not know a product (yet) */
#define ORDER_REASON_PRICE_CHANGED "price_changed"             /* a unit_price that is not the catalog's */
#define ORDER_REASON_REPLY_REJECTED "reply_rejected"           /* a reply that answers no command of its saga */

/* Whether an Idempotency-Key is acceptable: 1..128 of the plain id charset
 * (oms/ident.h: no '/', space, control or non-ASCII character). */
bool order_idempotency_key_valid(const char *key);

/* Who may order for whom (SPEC 7): a customer for itself only (a request
 * without customer_id is its own; another's is OMS_EFORBIDDEN), an admin for
 * anyone (customer_id required), no other role (OMS_EFORBIDDEN). `req` is
 * completed with the customer. */
oms_err order_authorize_create(const oms_principal *who, order_create_request *req, oms_error *err);

/* ProductPriceChanged: keeps the catalog's newest price of a product (an
 * older version changes nothing). Runs in `tx`. OMS_EINVAL for a payload
 * out of bounds (dead-lettered). */
oms_err order_on_product_price_changed(order_app *app, oms_tx *tx, oms_arena *a, const char *product_id,
                                       int64_t price_cents, int64_t version, oms_error *err);

/* For `who` (order_authorize_create): validates, prices from the catalog
 * (SPEC 7: a unit_price left out is the catalog's; a given one must be it,
 * else OMS_ECONFLICT with reason ORDER_REASON_PRICE_CHANGED and the current
 * price in the message; a product the catalog does not know is reason
 * ORDER_REASON_UNKNOWN_PRODUCT),
 * stores the order (CREATED), its saga and log, moves it to
 * PENDING_PAYMENT with PaymentRequested, OrderCreated and OrderStatusChanged
 * in the outbox, and the read model row -- all in one transaction. With an
 * idempotency key (may be NULL; it is `who`'s: another principal's same key
 * is another key) a repeat with the same canonical body returns the first
 * order. OMS_EINVAL (field in err), OMS_ECONFLICT (reason
 * ORDER_REASON_KEY_REUSED: the key's first request had another body; HTTP 422),
 * OMS_EBUSY (ORDER_REASON_REQUEST_IN_PROGRESS), OMS_EUNAVAILABLE (with
 * reason ORDER_REASON_OVERLOADED, nothing written, when app->admission
 * refuses a new saga: admission.h; a repeat of a stored key is still
 * answered). *out's strings live in `a`. */
oms_err order_create(order_app *app, oms_arena *a, const oms_principal *who, const order_create_request *req,
                     const char *idempotency_key, const char *correlation_id, order *out, order_create_outcome *outcome,
                     oms_error *err);

/* Cancels (reason may be NULL, at most 500 bytes) for `who`: a customer its
 * own orders (another's is OMS_ENOTFOUND), an operator or admin any; a
 * viewer none (OMS_EFORBIDDEN). A completed (INVENTORY_CONFIRMED) order may
 * be cancelled too (SPEC 3: any non-final status). The order becomes
 * COMPENSATING while something must be given back (or stays so).
 * OMS_ENOTFOUND, OMS_ECONFLICT (reason ORDER_REASON_ORDER_ENDED) when it ended,
 * "saga_paused" while an operator holds it paused. */
oms_err order_cancel(order_app *app, oms_arena *a, const oms_principal *who, const char *order_id, const char *reason,
                     const char *correlation_id, order *out, oms_error *err);

/* A reply from payment or inventory, decoded by the bus adapter. */
typedef struct saga_reply {
    const char *order_id;
    const char *event_id;   /* the message's event_id, for the saga log */
    const char *command_id; /* the command it answers, for the log */
    bool success;           /* PaymentProcessed / InventoryAllocated */
    const char *reason;     /* why it failed; may be NULL */
    int64_t amount_cents;   /* PaymentProcessed / PaymentRefunded */
} saga_reply;

/* Message commands: run inside `tx` (the caller commits). OMS_ENOTFOUND when
 * the order is unknown. A reply that does not fit is logged IGNORED_REPLY and
 * returns OMS_OK. A reply that answers no command of the saga (another
 * command_id, a payment not of the order's total) is logged REJECTED_REPLY,
 * applied never, and returns OMS_OK with err's reason
 * ORDER_REASON_REPLY_REJECTED (and why in its message): the consumer commits
 * the log row and dead-letters the message. One that contradicts what the
 * saga acted on marks the saga inconsistent (saga_runner.h). */
oms_err order_on_payment_processed(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *r, oms_error *err);
oms_err order_on_payment_refunded(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *r, oms_error *err);
oms_err order_on_inventory_allocated(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *r, oms_error *err);
oms_err order_on_inventory_released(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *r, oms_error *err);

/* A reply for an order without a saga: recorded and counted, never dropped
 * in silence (saga_runner_record_orphan). Runs in `tx`. */
oms_err order_on_orphan_reply(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *r, const char *event_type,
                              oms_error *err);

/* Records, in the order's saga log, a message of a type the saga does not
 * know (IGNORED_REPLY). OMS_OK (nothing written) when the order is unknown. */
oms_err order_on_unknown_message(order_app *app, oms_tx *tx, oms_arena *a, const char *order_id, const char *event_id,
                                 const char *event_type, oms_error *err);

/* An operator's action on one saga (issue 12 item 2), as the client sent it. */
#define SAGA_ACTION_EXTEND_MAX_S 86400
typedef struct saga_action_request {
    const char *action;     /* retry_now, pause, resume, compensate, extend_deadline */
    const char *reason;     /* required, 1..ORDER_REASON_MAX */
    const char *if_match;   /* the saga version the operator saw: "7" or "\"7\"" */
    int64_t extend_s;       /* extend_deadline: seconds (0: one step timeout), at most SAGA_ACTION_EXTEND_MAX_S */
    const char *obligation; /* resolve_manually: "refund" or "stock_release", the open one */
    const char *evidence;   /* resolve_manually: required, 1..ORDER_REASON_MAX (a bank reference, a ticket) */
} saga_action_request;

/* The reasons of an action's refusals (oms_error.reason). */
#define ORDER_REASON_VERSION_MISMATCH "version_mismatch"   /* 412: the saga moved on since the If-Match version */
#define ORDER_REASON_IF_MATCH_REQUIRED "if_match_required" /* 428 */

/* Applies an action to the saga `saga_id` for `who` (operator or admin, else
 * OMS_EFORBIDDEN; resolve_manually: admin only, with obligation and evidence) in one transaction: the action is a row of the saga's
 * transition table (domain/saga.h), logged in the saga log with who and
 * why. OMS_EINVAL (field "action", "reason", "If-Match" when it is not a
 * version, "extend_s"); OMS_ECONFLICT with reason
 * ORDER_REASON_IF_MATCH_REQUIRED (no If-Match), ORDER_REASON_VERSION_MISMATCH,
 * or the table's refusal code (order_ended, saga_paused,
 * action_not_allowed) and why; OMS_ENOTFOUND. One audit row ("saga.<action>",
 * the saga before and after) in the same transaction. */
oms_err order_saga_action(order_app *app, oms_arena *a, const oms_principal *who, const char *saga_id,
                          const saga_action_request *req, const char *request_id, saga_outcome *out, oms_error *err);

/* The deadline scan: in one transaction, locks up to `limit` sagas whose step
 * deadline passed (skipping those another process holds) and applies
 * STEP_DEADLINE_PASSED to each: resend with the same command_id and a new
 * event_id, or compensate after the last attempt. *handled counts them.
 * When the batch fails, each saga is retried in its own transaction, so one
 * saga that keeps failing (logged) never holds the others back. */
oms_err order_on_step_deadlines(order_app *app, oms_arena *a, int limit, size_t *handled, oms_error *err);

#endif
