/* payment_app.h -- the application layer of payment-service: the ports it is
 * plugged into (by main.c or a test), its commands and its queries.
 *
 * Commands change state. HTTP commands run their own unit of work; message
 * commands run inside the caller's (the inbox transaction of oms_inbox_handle),
 * so that "message handled", the state change and the reply commit together.
 * Queries only read. */
#ifndef PAYMENT_APP_H
#define PAYMENT_APP_H

#include <stdint.h>

#include "application/ports/account_repo.h"
#include "application/ports/payment_repo.h"
#include "domain/payment.h"
#include "oms/arena.h"
#include "oms/audit.h"
#include "oms/principal.h"
#include "oms/saga_messages.h"
#include "oms/tx.h"

typedef struct payment_app {
    oms_tx_manager *tx;
    account_repo *accounts;
    payment_repo *payments;
    oms_reply_outbox *replies;    /* PaymentProcessed, PaymentRefunded */
    oms_audit_log *audit;         /* one row per admin write (account.open) */
    int64_t default_credit_cents; /* opening balance of an account opened by a payment request */
} payment_app;

/* ---- commands ---- */

/* Opens an account (validated by the domain) for `who`, which must be an
 * admin: an opening balance is money (SPEC 7). OMS_EFORBIDDEN, OMS_EINVAL,
 * OMS_ECONFLICT when it exists, or a store error. Appends its audit row
 * (account.open) in its transaction. */
oms_err payment_open_account(payment_app *app, oms_arena *a, const oms_principal *who, const account *acct,
                             oms_error *err);

/* PaymentRequested: charges the order once. The first request captures or
 * declines (opening the customer's account with the default credit when it
 * has none); a repeated one answers the recorded outcome. Invalid input is
 * answered with a failure and records nothing. Queues PaymentProcessed. Runs
 * in `tx`. */
oms_err payment_charge(payment_app *app, oms_tx *tx, oms_arena *a, const oms_command_origin *o, const char *customer_id,
                       int64_t amount_cents, oms_error *err);

/* RefundRequested: gives a CAPTURED payment back, or records a tombstone
 * (DECLINED "cancelled before payment", amount 0) when the order has no
 * payment, so a late request never charges. Queues PaymentRefunded. Runs in
 * `tx`. */
oms_err payment_refund(payment_app *app, oms_tx *tx, oms_arena *a, const oms_command_origin *o, const char *customer_id,
                       oms_error *err);

/* ---- queries ---- */

/* The account of `customer_id` as `who` may see it: a customer reads its
 * own only (another's is OMS_ENOTFOUND, as an unknown one: SPEC 7). */
oms_err payment_get_account(payment_app *app, oms_arena *a, const oms_principal *who, const char *customer_id,
                            account *out, oms_error *err);
/* The order's payment, or OMS_ENOTFOUND (also when it is another customer's
 * and `who` is a customer). */
oms_err payment_get_payment(payment_app *app, oms_arena *a, const oms_principal *who, const char *order_id,
                            payment *out, oms_error *err);

#endif
