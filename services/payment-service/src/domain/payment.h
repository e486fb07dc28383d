/* payment.h -- the rules of accounts and payments. Pure C, no I/O.
 *
 * A payment is keyed by its order: CAPTURED (money taken), DECLINED (not
 * enough money, or a tombstone recorded when a refund came before any
 * payment, so a late request never charges) or REFUNDED (given back). The
 * only move is CAPTURED -> REFUNDED. Money is integer cents. */
#ifndef PAYMENT_DOMAIN_H
#define PAYMENT_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oms/err.h"

#define PAYMENT_CUSTOMER_ID_MAX 64
#define PAYMENT_BALANCE_MAX_CENTS 100000000000LL /* 1,000,000,000.00 */
#define PAYMENT_REASON_MAX 256
#define PAYMENT_REASON_INSUFFICIENT_FUNDS "insufficient funds"
#define PAYMENT_REASON_CANCELLED_BEFORE_PAYMENT "cancelled before payment"
#define PAYMENT_REASON_REFUNDED "refunded"

typedef struct account {
    const char *customer_id;
    int64_t balance_cents;
} account;

/* A customer id of 1..64 bytes; `field` names it in err. */
oms_err payment_validate_customer_id(const char *customer_id, const char *field, oms_error *err);

/* A new account: valid id, balance 0..1,000,000,000.00. */
oms_err payment_validate_new_account(const account *a, oms_error *err);

/* An amount to charge: 0 or more cents (an order may cost nothing). */
oms_err payment_validate_amount(int64_t amount_cents, oms_error *err);

typedef enum { PAYMENT_CAPTURED, PAYMENT_DECLINED, PAYMENT_REFUNDED } payment_status;

/* "CAPTURED", "DECLINED", "REFUNDED". */
const char *payment_status_name(payment_status s);
/* false for any other text. */
bool payment_status_parse(const char *text, payment_status *out);

/* The only move a payment makes: CAPTURED -> REFUNDED. */
bool payment_can_transition(payment_status from, payment_status to);

/* Why a balance moved: the account's opening, a capture, a refund. */
typedef enum { ACCOUNT_OPENING, ACCOUNT_CAPTURE, ACCOUNT_REFUND } account_change_kind;
const char *account_change_kind_name(account_change_kind k);

/* The first charge of an order: CAPTURED when the balance covers the amount,
 * else DECLINED with reason "insufficient funds" (*reason set, else NULL). */
payment_status payment_decide(int64_t balance_cents, int64_t amount_cents, const char **reason);

/* The answer repeated to a second request for an order that has a payment:
 * CAPTURED succeeds; DECLINED fails with its stored reason; REFUNDED fails
 * with "refunded". */
bool payment_repeated_answer(payment_status status, const char *stored_reason, const char **reason);

/* What to do with a refund request, given what is recorded for the order. */
typedef enum {
    REFUND_GIVE_BACK, /* CAPTURED: credit the amount back, then REFUNDED */
    REFUND_TOMBSTONE, /* nothing recorded: record DECLINED "cancelled before payment", amount 0 */
    REFUND_ANSWER     /* REFUNDED or DECLINED: answer again, change nothing */
} refund_plan;
refund_plan payment_plan_refund(bool exists, payment_status status);

/* The refunded amount repeated for REFUND_ANSWER: the amount of a REFUNDED
 * payment, 0 for a DECLINED one (nothing was taken). */
int64_t payment_repeated_refund_amount(payment_status status, int64_t amount_cents);

#endif
