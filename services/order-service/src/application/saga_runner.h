/* saga_runner.h -- the saga engine of order-service. Every event (the start,
 * a cancel, a reply, a passed deadline) goes through saga_runner_apply: lock
 * the saga, ask the domain's transition table (domain/saga.h) what to do,
 * and write that decision -- the order's status and reasons, the saga row,
 * its log, the commands and the status event in the outbox, the read model
 * -- all in the caller's unit of work, so they can never disagree. The use
 * cases (commands.c) pick the event and own the transaction, as Eventuate
 * keeps SagaManagerImpl apart from CreateOrderSaga.
 *
 * Each log row of a step is also a "saga_step" log line and one count of
 * order_saga_steps_total, emitted by a commit hook of the unit of work
 * (oms_tx_on_commit): once the step is durable, never for a step rolled
 * back, once however often a batch is re-run. */
#ifndef ORDER_SAGA_RUNNER_H
#define ORDER_SAGA_RUNNER_H

#include "application/order_app.h"

/* What the event brings besides its kind. */
typedef struct saga_event_context {
    const char *event_id;          /* incoming message, or NULL (HTTP, deadline) */
    const saga_reply_claim *claim; /* a reply's: checked against the saga before anything (NULL: not a reply) */
    const char *reason;            /* reply's or client's reason; may be NULL */
    const char *detail;            /* for the log row */
    const char *correlation_id;    /* for the messages sent; NULL or "": the saga's (its creating request) */
    bool check_version;            /* an operator's If-Match: the saga must be at expected_version */
    int64_t expected_version;
    int64_t extend_ms;      /* EXTEND_DEADLINE: by how much (0: one step timeout) */
    const char *obligation; /* RESOLVE_MANUALLY: the obligation named ("refund", "stock_release") */
} saga_event_context;

/* One step of one saga, as decided and written. */
typedef struct saga_outcome {
    order order;            /* as written (strings in the caller's arena) */
    saga_decision decision; /* IGNORED also when a deadline was handled meanwhile */
    bool rejected;          /* the reply's claim failed its check: logged REJECTED_REPLY, nothing applied */
    const char *why;        /* why it was rejected (in the caller's arena) */
    bool held;              /* a reply to a paused saga: kept (REPLY_HELD), applied on resume */
    saga before, after;     /* the saga as it was and as written (for an audit row) */
} saga_outcome;

/* Applies `event` to the saga of `order_id` inside tx: an APPLY decision is
 * written as above, an IGNORED one as an IGNORED_REPLY log row (a deadline
 * that is no longer due writes nothing). A reply (ev->claim) is checked
 * first (saga_check_reply): a rejected one is only logged (REJECTED_REPLY,
 * out->rejected); one that contradicts the saga marks it inconsistent
 * (INCONSISTENT) and is then decided on as any. A genuine reply to a paused
 * saga is held (out->held, REPLY_HELD) and applied, in order, when an
 * operator resumes it. OMS_ENOTFOUND when the order has no saga;
 * OMS_ECONFLICT with reason "version_mismatch" when ev->check_version and
 * expected_version is not the saga's; OMS_ECONFLICT (decision CONFLICT in *out, its
 * refusal_code as the reason) for what the table refuses; else a store
 * error. */
oms_err saga_runner_apply(order_app *app, oms_tx *tx, oms_arena *a, const char *order_id, saga_event event,
                          const saga_event_context *ev, saga_outcome *out, oms_error *err);

/* An obligation in business words, in `a`: "refund of 42.10 to customer
 * c1", "release of the stock reserved for order <id>". */
const char *saga_obligation_describe(oms_arena *a, saga_obligation_kind k, int64_t total_cents, const char *customer_id,
                                     const char *order_id);

/* Stores the saga of a new order (CREATED, its first log row "saga started")
 * into *s. */
oms_err saga_runner_create(order_app *app, oms_tx *tx, oms_arena *a, const order *o, const char *correlation_id,
                           saga *s, oms_error *err);

/* Applies START to the saga saga_runner_create just stored, deciding on it
 * as written instead of reading it back. */
oms_err saga_runner_start(order_app *app, oms_tx *tx, oms_arena *a, saga *s, const order *o, const char *correlation_id,
                          saga_outcome *out, oms_error *err);

/* Keeps a reply that names an order without a saga (orphan_replies) and
 * counts it in oms_orphan_replies_total{why="unknown_saga"} at commit. A
 * reply to an ended saga is counted {why="finished_saga"} by
 * saga_runner_apply, its IGNORED_REPLY row being its record (issue 12 item 8). */
oms_err saga_runner_record_orphan(order_app *app, oms_tx *tx, oms_arena *a, const saga_orphan_reply *o, oms_error *err);

/* Records in the order's saga log a message of a type the saga does not know
 * (IGNORED_REPLY). OMS_OK, nothing written, when the order has no saga. */
oms_err saga_runner_ignore_message(order_app *app, oms_tx *tx, oms_arena *a, const char *order_id, const char *event_id,
                                   const char *event_type, oms_error *err);

#endif
