/* commands.c -- the write side's use cases: create, cancel, replies and
 * deadlines. Each picks the saga event and owns the unit of work (message
 * commands run in the inbox's); the saga runner (saga_runner.h) is the only
 * place that turns a decision into writes. */
#include "application/commands.h"

#include <string.h>

#include "application/saga_runner.h"
#include "oms/ident.h"
#include "oms/log.h"
#include "oms/money.h"
#include "oms/sha256.h"

bool order_idempotency_key_valid(const char *key) { return oms_ident_valid(key, ORDER_IDEMPOTENCY_KEY_MAX); }

/* ---- create ------------------------------------------------------------ */

/* Looks the key up; OMS_OK with *out when it names an earlier order. */
static oms_err replay_idempotent(order_app *app, oms_arena *a, const order_idempotency_key *key,
                                 const char *fingerprint, order *out, oms_error *err)
{
    oms_tx *tx = NULL;
    oms_err rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    char stored_fp[ORDER_FINGERPRINT_LEN + 1];
    char order_id[OMS_UUID_LEN + 1];
    rc = order_repo_find_idempotency_key(app->orders, tx, a, key, stored_fp, order_id, err);
    if (rc == OMS_OK && strcmp(stored_fp, fingerprint) != 0) {
        rc = oms_error_set(err, OMS_ECONFLICT, "Idempotency-Key",
                           "this Idempotency-Key was used for a request with another body");
        oms_error_reason(err, rc, ORDER_REASON_KEY_REUSED);
    } else if (rc == OMS_OK) {
        rc = order_repo_load(app->orders, tx, a, order_id, out, err);
    }
    oms_tx_rollback(app->tx, tx);
    return rc;
}

static oms_err insert_new_order(order_app *app, oms_tx *tx, oms_arena *a, const order *o,
                                const order_idempotency_key *key, const char *fingerprint, const char *correlation_id,
                                saga_outcome *r, oms_error *err)
{
    oms_err rc = OMS_OK;
    if (key)
        rc = order_repo_claim_idempotency_key(app->orders, tx, a, key, fingerprint, o->id, err);
    if (rc == OMS_OK)
        rc = order_repo_insert(app->orders, tx, a, o, err);
    saga s;
    if (rc == OMS_OK)
        rc = saga_runner_create(app, tx, a, o, correlation_id, &s, err);
    if (rc == OMS_OK) {
        outbound_message created = {.type = OMS_MSG_ORDER_CREATED, .order = o, .correlation_id = correlation_id};
        char event_id[OMS_UUID_LEN + 1];
        rc = order_outbox_send(app->outbox, tx, a, &created, event_id, err);
    }
    if (rc == OMS_OK)
        rc = order_read_model_project(app->read_model, tx, a, o, err);
    if (rc != OMS_OK)
        return rc;
    /* The saga starts in the same transaction. */
    return saga_runner_start(app, tx, a, &s, o, correlation_id, r, err);
}

/* The request's items priced from the catalog's copy (in `tx`, so taking
 * an order never waits for inventory-service), into *priced (in `a`) with
 * the total. A product the catalog does not know, or a unit_price that is
 * not the catalog's, is OMS_ECONFLICT naming the item. */
static oms_err price_items(order_app *app, oms_tx *tx, oms_arena *a, const order_create_request *req,
                           order_create_request *priced, int64_t *total, oms_error *err)
{
    const char **ids = oms_arena_calloc(a, req->item_count, sizeof *ids);
    int64_t *prices = oms_arena_calloc(a, req->item_count, sizeof *prices);
    order_item *items = oms_arena_calloc(a, req->item_count, sizeof *items);
    if (!ids || !prices || !items)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < req->item_count; i++)
        ids[i] = req->items[i].product_id;
    oms_err rc = catalog_prices(app->catalog, tx, a, ids, req->item_count, prices, err);
    if (rc != OMS_OK)
        return rc;
    size_t at = 0;
    char price[OMS_MONEY_TEXT_MAX];
    switch (order_price_items(req->items, prices, req->item_count, items, &at)) {
    case ORDER_PRICE_UNKNOWN_PRODUCT:
        rc = oms_error_set(err, OMS_ECONFLICT, oms_arena_sprintf(a, "items[%zu].product_id", at),
                           "product %s is not in the catalog (a new product can be ordered a moment after it is "
                           "created)",
                           ids[at]);
        return oms_error_reason(err, rc, ORDER_REASON_UNKNOWN_PRODUCT);
    case ORDER_PRICE_CHANGED:
        rc = oms_error_set(err, OMS_ECONFLICT, oms_arena_sprintf(a, "items[%zu].unit_price", at),
                           "the price of product %s is %s now", ids[at], oms_money_format(prices[at], price));
        return oms_error_reason(err, rc, ORDER_REASON_PRICE_CHANGED);
    case ORDER_PRICED: break;
    }
    *priced = *req;
    priced->items = items;
    return order_total_cents(items, req->item_count, total, err);
}

/* One attempt: prices the request from the catalog and stores the new
 * order in one transaction. OMS_ECONFLICT from the key claim means another
 * request with the same key committed first. */
static oms_err try_create(order_app *app, oms_arena *a, const order_create_request *req,
                          const order_idempotency_key *key, const char *fingerprint, const char *correlation_id,
                          order *out, oms_error *err)
{
    oms_tx *tx = NULL;
    oms_err rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    order_create_request priced;
    int64_t total = 0;
    rc = price_items(app, tx, a, req, &priced, &total, err);
    saga_outcome r;
    if (rc == OMS_OK) {
        order o;
        char order_id[OMS_UUID_LEN + 1], saga_id[OMS_UUID_LEN + 1];
        id_generator_new(app->ids, order_id);
        id_generator_new(app->ids, saga_id);
        order_init(&o, &priced, order_id, saga_id, total, oms_clock_now_ms(app->clock));
        rc = insert_new_order(app, tx, a, &o, key, fingerprint, correlation_id, &r, err);
    }
    rc = oms_tx_finish(app->tx, tx, rc, err);
    if (rc == OMS_OK)
        *out = r.order;
    return rc;
}

/* The SHA-256 of the request's canonical body (SPEC 7): what tells a
 * retry from another request under the same Idempotency-Key. */
static oms_err request_fingerprint(const order_create_request *req, oms_arena *a, char out[ORDER_FINGERPRINT_LEN + 1],
                                   oms_error *err)
{
    size_t len = order_request_canonical(req, NULL, 0);
    char *canonical = oms_arena_alloc(a, len + 1);
    if (!canonical)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    order_request_canonical(req, canonical, len + 1);
    if (!oms_sha256_hex(canonical, len, out))
        return oms_error_set(err, OMS_EINTERNAL, NULL, "SHA-256 failed");
    return OMS_OK;
}

oms_err order_authorize_create(const oms_principal *who, order_create_request *req, oms_error *err)
{
    if (oms_principal_is_customer(who)) {
        if (!req->customer_id)
            req->customer_id = who->subject;
        else if (strcmp(req->customer_id, who->subject) != 0)
            return oms_error_set(err, OMS_EFORBIDDEN, "customer_id", "a customer orders for itself only");
        return OMS_OK;
    }
    if (!oms_principal_is_at_least(who, OMS_ROLE_ADMIN))
        return oms_error_set(err, OMS_EFORBIDDEN, NULL, "role %s may not create orders", oms_role_name(who->role));
    if (!req->customer_id)
        return oms_error_set(err, OMS_EINVAL, "customer_id", "customer_id is required");
    return OMS_OK;
}

oms_err order_create(order_app *app, oms_arena *a, const oms_principal *who, const order_create_request *req,
                     const char *idempotency_key, const char *correlation_id, order *out, order_create_outcome *outcome,
                     oms_error *err)
{
    *outcome = ORDER_CREATE_NEW;
    order_create_request own = *req;
    oms_err authorized = order_authorize_create(who, &own, err);
    if (authorized != OMS_OK)
        return authorized;
    req = &own;
    oms_err rc = order_validate_create(req, err);
    if (rc != OMS_OK)
        return rc;
    char fingerprint[ORDER_FINGERPRINT_LEN + 1];
    rc = request_fingerprint(req, a, fingerprint, err);
    if (rc != OMS_OK)
        return rc;
    const order_idempotency_key scoped = {.principal = who->id, .key = idempotency_key};
    const order_idempotency_key *key = idempotency_key ? &scoped : NULL;
    if (key) {
        rc = replay_idempotent(app, a, key, fingerprint, out, err);
        if (rc == OMS_OK)
            *outcome = ORDER_CREATE_REPLAYED;
        if (rc != OMS_ENOTFOUND)
            return rc;
    }
    /* After the replay, so that the retry of an order already taken still
     * gets it; before any write, so that a refusal leaves nothing behind. */
    if (!saga_admission_reserve(app->admission)) {
        rc = oms_error_set(err, OMS_EUNAVAILABLE, NULL,
                           "too many orders are in progress; nothing was stored, retry after %d s",
                           SAGA_ADMISSION_RETRY_AFTER_S);
        return oms_error_reason(err, rc, ORDER_REASON_OVERLOADED);
    }
    rc = try_create(app, a, req, key, fingerprint, correlation_id ? correlation_id : "", out, err);
    saga_admission_release(app->admission);
    /* A conflict without a reason is the key's claim: a concurrent request
     * with the same key committed while we waited. */
    if (rc == OMS_ECONFLICT && !(err && err->reason[0]) && key) {
        rc = replay_idempotent(app, a, key, fingerprint, out, err);
        if (rc == OMS_OK)
            *outcome = ORDER_CREATE_REPLAYED;
        else if (rc == OMS_ENOTFOUND)
            rc = OMS_EBUSY;
    }
    if (rc == OMS_EBUSY && key) {
        rc = oms_error_set(err, OMS_EBUSY, "Idempotency-Key", "a request with this Idempotency-Key is in progress");
        oms_error_reason(err, rc, ORDER_REASON_REQUEST_IN_PROGRESS);
    }
    return rc;
}

oms_err order_on_product_price_changed(order_app *app, oms_tx *tx, oms_arena *a, const char *product_id,
                                       int64_t price_cents, int64_t version, oms_error *err)
{
    if (price_cents < 0 || price_cents > ORDER_UNIT_PRICE_MAX_CENTS || version < 1)
        return oms_error_set(err, OMS_EINVAL, "payload", "a price of 0 to 1000000.00 and a version of 1 or more");
    return catalog_apply(app->catalog, tx, a, product_id, price_cents, version, err);
}

/* ---- cancel and replies --------------------------------------------------- */

/* Whether `who` may cancel the order: its own for a customer (another's
 * answers as unknown), any for an operator or admin. */
static oms_err authorize_cancel(order_app *app, oms_tx *tx, oms_arena *a, const oms_principal *who,
                                const char *order_id, oms_error *err)
{
    if (!oms_principal_is_customer(who) && !oms_principal_is_at_least(who, OMS_ROLE_OPERATOR))
        return oms_error_set(err, OMS_EFORBIDDEN, NULL, "role %s may not cancel orders", oms_role_name(who->role));
    if (!oms_principal_is_customer(who))
        return OMS_OK;
    order o;
    oms_err rc = order_repo_load(app->orders, tx, a, order_id, &o, err);
    if (rc == OMS_OK && !oms_principal_may_see(who, o.customer_id))
        rc = oms_error_set(err, OMS_ENOTFOUND, NULL, "order %s not found", order_id);
    return rc;
}

/* The audit row of a cancel: the order's status before and after. */
static oms_err audit_cancel(order_app *app, oms_tx *tx, oms_arena *a, const oms_principal *who, const order *before,
                            const order *after, const char *reason, oms_error *err)
{
    const char *target = oms_arena_sprintf(a, "order:%s", after->id);
    if (!target)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    const oms_audit_field was_fields[] = {OMS_AUDIT_TEXT_FIELD("status", order_status_name(before->status))};
    const oms_audit_field is_fields[] = {OMS_AUDIT_TEXT_FIELD("status", order_status_name(after->status))};
    const oms_audit_state was = {was_fields, 1}, is = {is_fields, 1};
    oms_audit_entry e = {.by = who,
                         .action = "order.cancel",
                         .target = target,
                         .saga_id = after->saga_id[0] ? after->saga_id : NULL,
                         .reason = reason,
                         .before = &was,
                         .after = &is};
    return oms_audit_append(app->audit, tx, a, &e, err);
}

oms_err order_cancel(order_app *app, oms_arena *a, const oms_principal *who, const char *order_id, const char *reason,
                     const char *correlation_id, order *out, oms_error *err)
{
    if (reason && strnlen(reason, ORDER_REASON_MAX + 1) > ORDER_REASON_MAX)
        return oms_error_set(err, OMS_EINVAL, "reason", "reason must be at most %d characters", ORDER_REASON_MAX);
    oms_tx *tx = NULL;
    oms_err rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    order before;
    rc = authorize_cancel(app, tx, a, who, order_id, err);
    if (rc == OMS_OK)
        rc = order_repo_load(app->orders, tx, a, order_id, &before, err);
    if (rc != OMS_OK) {
        oms_tx_rollback(app->tx, tx);
        return rc;
    }
    saga_event_context ev = {
        .reason = reason,
        .detail = reason ? oms_arena_sprintf(a, "cancel: %s", reason) : "cancel",
        .correlation_id = correlation_id,
    };
    saga_outcome r;
    memset(&r, 0, sizeof r);
    rc = saga_runner_apply(app, tx, a, order_id, SAGA_EV_CANCEL_REQUESTED, &ev, &r, err);
    if (rc != OMS_OK) {
        oms_tx_rollback(app->tx, tx);
        if (rc == OMS_ENOTFOUND)
            oms_error_set(err, OMS_ENOTFOUND, NULL, "order %s not found", order_id);
        return rc;
    }
    rc = audit_cancel(app, tx, a, who, &before, &r.order, reason, err);
    rc = oms_tx_finish(app->tx, tx, rc, err);
    if (rc == OMS_OK)
        *out = r.order;
    return rc;
}

/* A reply, checked against the saga before it is decided on (the claim:
 * the step whose command it answers, its command_id and amount). A
 * rejected one is reported as OMS_OK with reason ORDER_REASON_REPLY_REJECTED
 * (the consumer keeps the log row and dead-letters the message). */
static oms_err on_reply(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *reply, saga_event event,
                        saga_step step, const char *what, oms_error *err)
{
    saga_reply_claim claim = {.step = step,
                              .command_id = reply->command_id,
                              .success = reply->success,
                              .has_amount = step == SAGA_STEP_PAYMENT || step == SAGA_STEP_REFUND,
                              .amount_cents = reply->amount_cents};
    saga_event_context ev = {
        .event_id = reply->event_id,
        .claim = &claim,
        .reason = reply->reason,
        .detail = oms_arena_sprintf(a, "%s (command %s)%s%s", what, reply->command_id ? reply->command_id : "-",
                                    reply->reason ? ": " : "", reply->reason ? reply->reason : ""),
    };
    saga_outcome r;
    oms_err rc = saga_runner_apply(app, tx, a, reply->order_id, event, &ev, &r, err);
    if (rc != OMS_OK || !r.rejected)
        return rc;
    oms_error_set(err, OMS_OK, NULL, "%s: %s", what, r.why ? r.why : "rejected");
    return oms_error_reason(err, OMS_OK, ORDER_REASON_REPLY_REJECTED);
}

oms_err order_on_payment_processed(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *r, oms_error *err)
{
    if (r->success)
        return on_reply(app, tx, a, r, SAGA_EV_PAYMENT_SUCCEEDED, SAGA_STEP_PAYMENT, "PaymentProcessed success", err);
    return on_reply(app, tx, a, r, SAGA_EV_PAYMENT_FAILED, SAGA_STEP_PAYMENT, "PaymentProcessed failure", err);
}

oms_err order_on_payment_refunded(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *r, oms_error *err)
{
    const char *what = oms_arena_sprintf(a, "PaymentRefunded %lld cents", (long long)r->amount_cents);
    return on_reply(app, tx, a, r, SAGA_EV_PAYMENT_REFUNDED, SAGA_STEP_REFUND, what ? what : "PaymentRefunded", err);
}

oms_err order_on_inventory_allocated(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *r, oms_error *err)
{
    if (r->success)
        return on_reply(app, tx, a, r, SAGA_EV_INVENTORY_ALLOCATED, SAGA_STEP_INVENTORY, "InventoryAllocated success",
                        err);
    return on_reply(app, tx, a, r, SAGA_EV_INVENTORY_FAILED, SAGA_STEP_INVENTORY, "InventoryAllocated failure", err);
}

oms_err order_on_inventory_released(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *r, oms_error *err)
{
    return on_reply(app, tx, a, r, SAGA_EV_INVENTORY_RELEASED, SAGA_STEP_RELEASE, "InventoryReleased", err);
}

oms_err order_on_orphan_reply(order_app *app, oms_tx *tx, oms_arena *a, const saga_reply *r, const char *event_type,
                              oms_error *err)
{
    const saga_orphan_reply o = {
        .event_id = r->event_id, .event_type = event_type, .order_id = r->order_id, .command_id = r->command_id};
    return saga_runner_record_orphan(app, tx, a, &o, err);
}

oms_err order_on_unknown_message(order_app *app, oms_tx *tx, oms_arena *a, const char *order_id, const char *event_id,
                                 const char *event_type, oms_error *err)
{
    return saga_runner_ignore_message(app, tx, a, order_id, event_id, event_type, err);
}

/* ---- an operator's actions (issue 12 item 2) -------------------------------- */

/* The version an If-Match names: digits, quoted or not (an ETag is quoted). */
static bool parse_version(const char *text, int64_t *out)
{
    size_t len = text ? strlen(text) : 0;
    if (len >= 2 && text[0] == '"' && text[len - 1] == '"') {
        text++;
        len -= 2;
    }
    if (len == 0 || len > 18)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        v = v * 10 + (text[i] - '0');
    }
    *out = v;
    return true;
}

/* resolve_manually: an admin's, naming the obligation and the evidence. */
static oms_err check_resolution(const oms_principal *who, const saga_action_request *req, oms_error *err)
{
    if (!oms_principal_is_at_least(who, OMS_ROLE_ADMIN))
        return oms_error_set(err, OMS_EFORBIDDEN, NULL, "only an admin resolves an obligation by hand");
    if (!req->obligation || (strcmp(req->obligation, "refund") != 0 && strcmp(req->obligation, "stock_release") != 0))
        return oms_error_set(err, OMS_EINVAL, "obligation", "obligation must be refund or stock_release");
    size_t len = req->evidence ? strnlen(req->evidence, ORDER_REASON_MAX + 1) : 0;
    if (len == 0 || len > ORDER_REASON_MAX)
        return oms_error_set(err, OMS_EINVAL, "evidence", "evidence is required, at most %d characters",
                             ORDER_REASON_MAX);
    return OMS_OK;
}

static oms_err check_action(const oms_principal *who, const saga_action_request *req, saga_event *event,
                            int64_t *version, oms_error *err)
{
    if (!oms_principal_is_at_least(who, OMS_ROLE_OPERATOR))
        return oms_error_set(err, OMS_EFORBIDDEN, NULL, "role %s may not act on sagas", oms_role_name(who->role));
    if (!saga_action_parse(req->action, event))
        return oms_error_set(err, OMS_EINVAL, "action",
                             "action must be retry_now, pause, resume, compensate, extend_deadline or "
                             "resolve_manually");
    if (*event == SAGA_EV_RESOLVE_MANUALLY) {
        oms_err rc = check_resolution(who, req, err);
        if (rc != OMS_OK)
            return rc;
    }
    size_t reason_len = req->reason ? strnlen(req->reason, ORDER_REASON_MAX + 1) : 0;
    if (reason_len == 0 || reason_len > ORDER_REASON_MAX)
        return oms_error_set(err, OMS_EINVAL, "reason", "reason is required, at most %d characters", ORDER_REASON_MAX);
    if (req->extend_s < 0 || req->extend_s > SAGA_ACTION_EXTEND_MAX_S ||
        (req->extend_s && *event != SAGA_EV_EXTEND_DEADLINE))
        return oms_error_set(err, OMS_EINVAL, "extend_s", "extend_s is 1 to %d seconds, for extend_deadline only",
                             SAGA_ACTION_EXTEND_MAX_S);
    if (!req->if_match)
        return oms_error_reason(
            err,
            oms_error_set(err, OMS_ECONFLICT, "If-Match", "an action needs If-Match: the saga's version (its ETag)"),
            ORDER_REASON_IF_MATCH_REQUIRED);
    if (!parse_version(req->if_match, version))
        return oms_error_set(err, OMS_EINVAL, "If-Match", "If-Match must be the saga's version, e.g. \"7\"");
    return OMS_OK;
}

/* The saga as an audit row records it. */
static oms_audit_state saga_audit_state(oms_audit_field fields[5], const saga *s)
{
    fields[0] = OMS_AUDIT_TEXT_FIELD("state", order_status_name(s->state));
    fields[1] = OMS_AUDIT_TEXT_FIELD("step", saga_step_name(s->step));
    fields[2] = OMS_AUDIT_INT_FIELD("attempts", s->attempts);
    fields[3] = OMS_AUDIT_TEXT_FIELD("paused", s->paused ? "true" : "false");
    fields[4] = OMS_AUDIT_INT_FIELD("version", s->version);
    return (oms_audit_state){fields, 5};
}

/* The audit row of an action (issue 12 item 7): "saga.<action>" on
 * saga:<id>, the saga before and after. */
static oms_err audit_saga_action(order_app *app, oms_tx *tx, oms_arena *a, const oms_principal *who, saga_event event,
                                 const char *reason, const saga_outcome *out, oms_error *err)
{
    const char *action = oms_arena_sprintf(a, "saga.%s", saga_action_name(event));
    const char *target = oms_arena_sprintf(a, "saga:%s", out->after.id);
    if (!action || !target)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    oms_audit_field was_fields[5], is_fields[5];
    const oms_audit_state was = saga_audit_state(was_fields, &out->before);
    const oms_audit_state is = saga_audit_state(is_fields, &out->after);
    oms_audit_entry e = {.by = who,
                         .action = action,
                         .target = target,
                         .saga_id = out->after.id,
                         .reason = reason,
                         .before = &was,
                         .after = &is};
    return oms_audit_append(app->audit, tx, a, &e, err);
}

oms_err order_saga_action(order_app *app, oms_arena *a, const oms_principal *who, const char *saga_id,
                          const saga_action_request *req, const char *request_id, saga_outcome *out, oms_error *err)
{
    memset(out, 0, sizeof *out);
    saga_event event;
    int64_t version = 0;
    oms_err rc = check_action(who, req, &event, &version, err);
    if (rc != OMS_OK)
        return rc;
    if (!oms_uuid_valid(saga_id))
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "saga not found");
    oms_tx *tx = NULL;
    rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    char order_id[OMS_UUID_LEN + 1];
    rc = saga_repo_order_of(app->sagas, tx, a, saga_id, order_id, err);
    saga_event_context ev = {
        .reason = req->reason,
        .detail = req->evidence ? oms_arena_sprintf(a, "%s by %s (%s): %s; evidence: %s", saga_action_name(event),
                                                    who->id, oms_role_name(who->role), req->reason, req->evidence)
                                : oms_arena_sprintf(a, "%s by %s (%s): %s", saga_action_name(event), who->id,
                                                    oms_role_name(who->role), req->reason),
        .obligation = req->obligation,
        .correlation_id = request_id,
        .check_version = true,
        .expected_version = version,
        .extend_ms = req->extend_s * 1000,
    };
    if (rc == OMS_OK)
        rc = saga_runner_apply(app, tx, a, order_id, event, &ev, out, err);
    if (rc == OMS_OK)
        rc = audit_saga_action(app, tx, a, who, event, req->reason, out, err);
    return oms_tx_finish(app->tx, tx, rc, err);
}

/* ---- deadlines ------------------------------------------------------------ */

static const saga_event_context deadline_passed = {.detail = "step deadline passed"};

/* One saga's deadline in its own transaction (the fallback of a failed batch). */
static oms_err step_deadline_alone(order_app *app, oms_arena *a, const char *order_id, oms_error *err)
{
    oms_tx *tx = NULL;
    oms_err rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    saga_outcome r;
    rc = saga_runner_apply(app, tx, a, order_id, SAGA_EV_STEP_DEADLINE_PASSED, &deadline_passed, &r, err);
    return oms_tx_finish(app->tx, tx, rc, err);
}

/* The batch failed as a whole: try each saga alone so one that keeps failing
 * (it is logged) never holds the others back. */
static size_t step_deadlines_one_by_one(order_app *app, oms_arena *a, char (*order_ids)[OMS_UUID_LEN + 1], size_t count)
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
    rc = saga_repo_lock_due(app->sagas, tx, a, oms_clock_now_ms(app->clock), limit, &order_ids, &count, err);
    if (rc != OMS_OK) {
        oms_tx_rollback(app->tx, tx);
        return rc;
    }
    for (size_t i = 0; rc == OMS_OK && i < count; i++) {
        saga_outcome r;
        rc = saga_runner_apply(app, tx, a, order_ids[i], SAGA_EV_STEP_DEADLINE_PASSED, &deadline_passed, &r, err);
    }
    rc = oms_tx_finish(app->tx, tx, rc, err);
    if (rc == OMS_OK) {
        *handled = count;
        return OMS_OK;
    }
    if (count == 0)
        return rc;
    *handled = step_deadlines_one_by_one(app, a, order_ids, count);
    return OMS_OK;
}
