/* payment.c -- the account and payment rules (see payment.h). */
#include "domain/payment.h"

#include <string.h>

#include "oms/ident.h"

oms_err payment_validate_customer_id(const char *customer_id, const char *field, oms_error *err)
{
    return oms_ident_check(customer_id, PAYMENT_CUSTOMER_ID_MAX, field, err);
}

oms_err payment_validate_new_account(const account *a, oms_error *err)
{
    oms_err rc = payment_validate_customer_id(a->customer_id, "customer_id", err);
    if (rc != OMS_OK)
        return rc;
    if (a->balance_cents < 0 || a->balance_cents > PAYMENT_BALANCE_MAX_CENTS)
        return oms_error_set(err, OMS_EINVAL, "balance", "balance must be from 0.00 to 1000000000.00");
    return OMS_OK;
}

oms_err payment_validate_amount(int64_t amount_cents, oms_error *err)
{
    if (amount_cents < 0)
        return oms_error_set(err, OMS_EINVAL, "amount_cents", "amount_cents must not be negative");
    return OMS_OK;
}

static const char *const status_names[] = {
    [PAYMENT_CAPTURED] = "CAPTURED",
    [PAYMENT_DECLINED] = "DECLINED",
    [PAYMENT_REFUNDED] = "REFUNDED",
};

const char *payment_status_name(payment_status s)
{
    if ((unsigned)s >= sizeof status_names / sizeof status_names[0])
        return "UNKNOWN";
    return status_names[s];
}

bool payment_status_parse(const char *text, payment_status *out)
{
    for (size_t i = 0; text && i < sizeof status_names / sizeof status_names[0]; i++) {
        if (strcmp(text, status_names[i]) == 0) {
            *out = (payment_status)i;
            return true;
        }
    }
    return false;
}

bool payment_can_transition(payment_status from, payment_status to)
{
    return from == PAYMENT_CAPTURED && to == PAYMENT_REFUNDED;
}

const char *account_change_kind_name(account_change_kind k)
{
    static const char *const names[] = {
        [ACCOUNT_OPENING] = "OPENING",
        [ACCOUNT_CAPTURE] = "CAPTURE",
        [ACCOUNT_REFUND] = "REFUND",
    };
    if ((unsigned)k >= sizeof names / sizeof names[0])
        return "UNKNOWN";
    return names[k];
}

payment_status payment_decide(int64_t balance_cents, int64_t amount_cents, const char **reason)
{
    if (balance_cents >= amount_cents) {
        *reason = NULL;
        return PAYMENT_CAPTURED;
    }
    *reason = PAYMENT_REASON_INSUFFICIENT_FUNDS;
    return PAYMENT_DECLINED;
}

bool payment_repeated_answer(payment_status status, const char *stored_reason, const char **reason)
{
    switch (status) {
    case PAYMENT_CAPTURED: *reason = NULL; return true;
    case PAYMENT_REFUNDED: *reason = PAYMENT_REASON_REFUNDED; return false;
    case PAYMENT_DECLINED: break;
    }
    *reason = stored_reason && stored_reason[0] ? stored_reason : PAYMENT_REASON_INSUFFICIENT_FUNDS;
    return false;
}

refund_plan payment_plan_refund(bool exists, payment_status status)
{
    if (!exists)
        return REFUND_TOMBSTONE;
    return status == PAYMENT_CAPTURED ? REFUND_GIVE_BACK : REFUND_ANSWER;
}

int64_t payment_repeated_refund_amount(payment_status status, int64_t amount_cents)
{
    return status == PAYMENT_REFUNDED ? amount_cents : 0;
}
