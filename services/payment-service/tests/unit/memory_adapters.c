/* memory_adapters.c -- the in-memory ports (see memory_adapters.h). */
#include "memory_adapters.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define WORLD_OF(x) ((memory_world *)(x)->self)
/* Every oms_tx is the working mem_state of the world's memory_tx. */
#define STATE(tx) ((mem_state *)(tx))

/* ---- accounts ---- */

static mem_account *account_named(mem_state *s, const char *id)
{
    for (size_t i = 0; i < s->account_count; i++)
        if (strcmp(s->accounts[i].customer_id, id) == 0)
            return &s->accounts[i];
    return NULL;
}

static oms_err ledger_append(mem_state *s, const char *id, int64_t delta, account_change_kind kind, oms_error *err)
{
    if (s->ledger_count == MEM_LEDGER)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "memory ledger full");
    mem_ledger_entry *e = &s->ledger[s->ledger_count++];
    snprintf(e->customer_id, sizeof e->customer_id, "%s", id);
    e->delta = delta;
    e->kind = kind;
    return OMS_OK;
}

static oms_err a_open(account_repo *r, oms_tx *tx, oms_arena *a, const account *acct, bool must_be_new, bool *opened,
                      oms_error *err)
{
    (void)r;
    (void)a;
    mem_state *s = STATE(tx);
    *opened = false;
    if (account_named(s, acct->customer_id))
        return must_be_new ? oms_error_set(err, OMS_ECONFLICT, "customer_id", "exists") : OMS_OK;
    if (s->account_count == MEM_ACCOUNTS)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "memory accounts full");
    mem_account *m = &s->accounts[s->account_count++];
    snprintf(m->customer_id, sizeof m->customer_id, "%s", acct->customer_id);
    m->balance_cents = acct->balance_cents;
    *opened = true;
    return ledger_append(s, acct->customer_id, acct->balance_cents, ACCOUNT_OPENING, err);
}

static oms_err a_find(account_repo *r, oms_tx *tx, oms_arena *a, const char *id, account *out, oms_error *err)
{
    (void)r;
    const mem_account *m = account_named(STATE(tx), id);
    if (!m)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "account %s not found", id);
    *out = (account){.customer_id = oms_arena_strdup(a, m->customer_id), .balance_cents = m->balance_cents};
    return OMS_OK;
}

static oms_err a_change(account_repo *r, oms_tx *tx, oms_arena *a, const char *id, int64_t delta,
                        account_change_kind kind, const char *order_id, oms_error *err)
{
    (void)r;
    (void)a;
    (void)order_id;
    mem_state *s = STATE(tx);
    mem_account *m = account_named(s, id);
    if (!m)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "account %s not found", id);
    if (m->balance_cents + delta < 0)
        return oms_error_set(err, OMS_EINVAL, NULL, "check constraint: balance would go negative");
    m->balance_cents += delta;
    return ledger_append(s, id, delta, kind, err);
}

static const account_repo_ops account_ops = {
    .open = a_open, .find = a_find, .find_for_update = a_find, .change_balance = a_change};

/* ---- payments ---- */

static mem_payment *payment_of(mem_state *s, const char *order_id)
{
    for (size_t i = 0; i < s->payment_count; i++)
        if (strcmp(s->payments[i].order_id, order_id) == 0)
            return &s->payments[i];
    return NULL;
}

static oms_err p_find(payment_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, payment *out, oms_error *err)
{
    (void)r;
    const mem_payment *m = payment_of(STATE(tx), order_id);
    if (!m)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "no payment for order %s", order_id);
    *out = (payment){.payment_id = oms_arena_strdup(a, m->payment_id),
                     .order_id = oms_arena_strdup(a, m->order_id),
                     .customer_id = oms_arena_strdup(a, m->customer_id),
                     .amount_cents = m->amount_cents,
                     .status = m->status,
                     .reason = m->has_reason ? oms_arena_strdup(a, m->reason) : NULL};
    return OMS_OK;
}

static oms_err p_insert(payment_repo *r, oms_tx *tx, oms_arena *a, const payment *p, oms_error *err)
{
    (void)r;
    (void)a;
    mem_state *s = STATE(tx);
    if (payment_of(s, p->order_id))
        return oms_error_set(err, OMS_ECONFLICT, NULL, "order has a payment");
    if (s->payment_count == MEM_PAYMENTS)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "memory payments full");
    mem_payment *m = &s->payments[s->payment_count++];
    snprintf(m->payment_id, sizeof m->payment_id, "%s", p->payment_id);
    snprintf(m->order_id, sizeof m->order_id, "%s", p->order_id);
    snprintf(m->customer_id, sizeof m->customer_id, "%s", p->customer_id);
    m->amount_cents = p->amount_cents;
    m->status = p->status;
    m->has_reason = p->reason != NULL;
    snprintf(m->reason, sizeof m->reason, "%s", p->reason ? p->reason : "");
    return OMS_OK;
}

static oms_err p_set_status(payment_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, payment_status status,
                            oms_error *err)
{
    (void)r;
    (void)a;
    mem_payment *m = payment_of(STATE(tx), order_id);
    if (!m)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "no payment");
    m->status = status;
    return OMS_OK;
}

static const payment_repo_ops payment_ops = {
    .find_for_update = p_find, .find = p_find, .insert = p_insert, .set_status = p_set_status};

void memory_world_init(memory_world *w, int64_t default_credit_cents)
{
    memset(w, 0, sizeof *w);
    memory_tx_init(&w->tx, &w->committed, &w->working, sizeof w->committed);
    w->accounts = (account_repo){.ops = &account_ops, .self = w};
    w->payments = (payment_repo){.ops = &payment_ops, .self = w};
    test_reply_outbox_init(&w->replies, offsetof(mem_state, replies), &w->fail_events);
    test_audit_log_init(&w->audit, offsetof(mem_state, audit));
    w->app = (payment_app){.tx = &w->tx.manager,
                           .accounts = &w->accounts,
                           .payments = &w->payments,
                           .replies = &w->replies.port,
                           .audit = &w->audit.port,
                           .default_credit_cents = default_credit_cents};
}
