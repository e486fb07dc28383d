/* commands.c -- what changes accounts and payments: account opening, and the
 * saga's charge and refund commands. The decisions are the domain's; this
 * file sequences them over the ports. */
#include "application/payment_app.h"
#include "oms/util.h"

/* The audit row of an account an admin opened. */
static oms_err audit_open(payment_app *app, oms_tx *tx, oms_arena *a, const oms_principal *who, const account *acct,
                          oms_error *err)
{
    const char *target = oms_arena_sprintf(a, "account:%s", acct->customer_id);
    if (!target)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    const oms_audit_field fields[] = {OMS_AUDIT_TEXT_FIELD("customer_id", acct->customer_id),
                                      OMS_AUDIT_MONEY_FIELD("balance", acct->balance_cents)};
    const oms_audit_state after = {fields, 2};
    oms_audit_entry e = {.by = who, .action = "account.open", .target = target, .after = &after};
    return oms_audit_append(app->audit, tx, a, &e, err);
}

oms_err payment_open_account(payment_app *app, oms_arena *a, const oms_principal *who, const account *acct,
                             oms_error *err)
{
    if (!oms_principal_is_at_least(who, OMS_ROLE_ADMIN))
        return oms_error_set(err, OMS_EFORBIDDEN, NULL, "only an admin opens an account");
    oms_err rc = payment_validate_new_account(acct, err);
    if (rc != OMS_OK)
        return rc;
    oms_tx *tx;
    rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    bool opened;
    rc = account_repo_open(app->accounts, tx, a, acct, true, &opened, err);
    if (rc == OMS_OK)
        rc = audit_open(app, tx, a, who, acct, err);
    return oms_tx_finish(app->tx, tx, rc, err);
}

/* PaymentProcessed for the order of `o`. */
static oms_err answer_charge(payment_app *app, oms_tx *tx, oms_arena *a, const oms_command_origin *o, bool success,
                             const char *payment_id, int64_t amount_cents, const char *reason, oms_error *err)
{
    oms_msg reply = {.type = OMS_MSG_PAYMENT_PROCESSED,
                     .as.payment_processed = {success, payment_id, amount_cents, reason}};
    return oms_reply_outbox_append(app->replies, tx, a, o, &reply, err);
}

/* The customer's account locked, opened first with the default credit when
 * the customer has none. */
static oms_err lock_or_open_account(payment_app *app, oms_tx *tx, oms_arena *a, const char *customer_id, account *out,
                                    oms_error *err)
{
    account fresh = {.customer_id = customer_id, .balance_cents = app->default_credit_cents};
    bool opened;
    oms_err rc = account_repo_open(app->accounts, tx, a, &fresh, false, &opened, err);
    if (rc != OMS_OK)
        return rc;
    return account_repo_find_for_update(app->accounts, tx, a, customer_id, out, err);
}

/* First request for an order: capture or decline, record it, answer. */
static oms_err first_charge(payment_app *app, oms_tx *tx, oms_arena *a, const oms_command_origin *o,
                            const char *customer_id, int64_t amount_cents, oms_error *err)
{
    account acct;
    oms_err rc = lock_or_open_account(app, tx, a, customer_id, &acct, err);
    if (rc != OMS_OK)
        return rc;
    char payment_id[OMS_UUID_LEN + 1];
    oms_uuid_new(payment_id);
    payment p = {
        .payment_id = payment_id, .order_id = o->order_id, .customer_id = customer_id, .amount_cents = amount_cents};
    p.status = payment_decide(acct.balance_cents, amount_cents, &p.reason);
    if (p.status == PAYMENT_CAPTURED)
        rc = account_repo_change_balance(app->accounts, tx, a, customer_id, -amount_cents, ACCOUNT_CAPTURE, o->order_id,
                                         err);
    if (rc == OMS_OK)
        rc = payment_repo_insert(app->payments, tx, a, &p, err);
    if (rc != OMS_OK)
        return rc;
    return answer_charge(app, tx, a, o, p.status == PAYMENT_CAPTURED, payment_id, amount_cents, p.reason, err);
}

oms_err payment_charge(payment_app *app, oms_tx *tx, oms_arena *a, const oms_command_origin *o, const char *customer_id,
                       int64_t amount_cents, oms_error *err)
{
    payment existing = {0};
    oms_err rc = payment_repo_find_for_update(app->payments, tx, a, o->order_id, &existing, err);
    if (rc == OMS_OK) {
        const char *reason;
        bool success = payment_repeated_answer(existing.status, existing.reason, &reason);
        return answer_charge(app, tx, a, o, success, existing.payment_id, existing.amount_cents, reason, err);
    }
    if (rc != OMS_ENOTFOUND)
        return rc;
    oms_error invalid;
    oms_error_clear(&invalid);
    if (payment_validate_customer_id(customer_id, "customer_id", &invalid) != OMS_OK ||
        payment_validate_amount(amount_cents, &invalid) != OMS_OK) {
        const char *reason = oms_arena_sprintf(a, "invalid request: %s", invalid.message);
        return answer_charge(app, tx, a, o, false, NULL, amount_cents, reason ? reason : "invalid request", err);
    }
    return first_charge(app, tx, a, o, customer_id, amount_cents, err);
}

static oms_err give_back(payment_app *app, oms_tx *tx, oms_arena *a, const payment *p, oms_error *err)
{
    if (!payment_can_transition(p->status, PAYMENT_REFUNDED))
        return oms_error_set(err, OMS_EINTERNAL, NULL, "payment is not CAPTURED");
    oms_err rc = account_repo_change_balance(app->accounts, tx, a, p->customer_id, p->amount_cents, ACCOUNT_REFUND,
                                             p->order_id, err);
    if (rc != OMS_OK)
        return rc;
    return payment_repo_set_status(app->payments, tx, a, p->order_id, PAYMENT_REFUNDED, err);
}

static oms_err record_tombstone(payment_app *app, oms_tx *tx, oms_arena *a, const oms_command_origin *o,
                                const char *customer_id, const char **payment_id, oms_error *err)
{
    char *id = oms_arena_alloc(a, OMS_UUID_LEN + 1);
    if (!id)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    oms_uuid_new(id);
    payment tombstone = {.payment_id = id,
                         .order_id = o->order_id,
                         .customer_id = customer_id,
                         .amount_cents = 0,
                         .status = PAYMENT_DECLINED,
                         .reason = PAYMENT_REASON_CANCELLED_BEFORE_PAYMENT};
    *payment_id = id;
    return payment_repo_insert(app->payments, tx, a, &tombstone, err);
}

oms_err payment_refund(payment_app *app, oms_tx *tx, oms_arena *a, const oms_command_origin *o, const char *customer_id,
                       oms_error *err)
{
    payment existing = {0};
    oms_err rc = payment_repo_find_for_update(app->payments, tx, a, o->order_id, &existing, err);
    if (rc != OMS_OK && rc != OMS_ENOTFOUND)
        return rc;
    const char *payment_id = existing.payment_id;
    int64_t refunded = 0;
    switch (payment_plan_refund(rc == OMS_OK, existing.status)) {
    case REFUND_GIVE_BACK:
        rc = give_back(app, tx, a, &existing, err);
        refunded = existing.amount_cents;
        break;
    case REFUND_TOMBSTONE:
        rc = payment_validate_customer_id(customer_id, "payload.customer_id", err);
        if (rc == OMS_OK)
            rc = record_tombstone(app, tx, a, o, customer_id, &payment_id, err);
        break;
    case REFUND_ANSWER:
        rc = OMS_OK;
        refunded = payment_repeated_refund_amount(existing.status, existing.amount_cents);
        break;
    }
    if (rc != OMS_OK)
        return rc;
    oms_msg reply = {.type = OMS_MSG_PAYMENT_REFUNDED, .as.payment_refunded = {payment_id, refunded}};
    return oms_reply_outbox_append(app->replies, tx, a, o, &reply, err);
}
