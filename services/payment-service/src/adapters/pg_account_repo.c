/* pg_account_repo.c -- accounts and the account ledger in PostgreSQL. Every
 * balance change and its ledger entry are one statement, so they cannot part. */
#include <stdlib.h>
#include <unistd.h>

#include "adapters/pg_adapters.h"

static oms_err open_account(account_repo *repo, oms_tx *tx, oms_arena *a, const account *acct, bool must_be_new,
                            bool *opened, oms_error *err)
{
    (void)repo;
    /* ON CONFLICT DO NOTHING keeps the transaction usable when a concurrent
     * opener won; the ledger row follows only a row actually inserted. */
    static const char sql[] = "WITH n AS (INSERT INTO accounts (customer_id, balance_cents) VALUES ($1, $2::bigint)"
                              " ON CONFLICT (customer_id) DO NOTHING RETURNING customer_id)"
                              " INSERT INTO account_ledger (customer_id, delta_cents, kind) SELECT customer_id, "
                              "$2::bigint, 'OPENING' FROM n";
    const char *params[] = {acct->customer_id, oms_pg_int_param(a, acct->balance_cents)};
    if (!params[1])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    PGresult *r = oms_pg_tx_exec(a, tx, sql, 2, params, err);
    if (!r)
        return err->code;
    *opened = atoi(PQcmdTuples(r)) == 1;
    if (!*opened && must_be_new)
        return oms_error_set(err, OMS_ECONFLICT, "customer_id", "account %s already exists", acct->customer_id);
    return OMS_OK;
}

static oms_err find_with(const char *sql, oms_tx *tx, oms_arena *a, const char *customer_id, account *out,
                         oms_error *err)
{
    const char *params[] = {customer_id};
    PGresult *r = oms_pg_tx_exec(a, tx, sql, 1, params, err);
    if (!r)
        return err->code;
    if (PQntuples(r) == 0)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "account %s not found", customer_id);
    out->customer_id = oms_pg_text_value(a, r, 0, 0);
    if (!out->customer_id)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    return oms_pg_int_value(r, 0, 1, &out->balance_cents, err);
}

#define ACCOUNT_SELECT "SELECT customer_id, balance_cents FROM accounts WHERE customer_id = $1"

static oms_err find(account_repo *repo, oms_tx *tx, oms_arena *a, const char *customer_id, account *out, oms_error *err)
{
    (void)repo;
    return find_with(ACCOUNT_SELECT, tx, a, customer_id, out, err);
}

static oms_err find_for_update(account_repo *repo, oms_tx *tx, oms_arena *a, const char *customer_id, account *out,
                               oms_error *err)
{
    (void)repo;
    return find_with(ACCOUNT_SELECT " FOR UPDATE", tx, a, customer_id, out, err);
}

static oms_err change_balance(account_repo *repo, oms_tx *tx, oms_arena *a, const char *customer_id, int64_t delta,
                              account_change_kind kind, const char *order_id, oms_error *err)
{
    const char *flag_file = repo->self;
    if (kind == ACCOUNT_REFUND && flag_file && access(flag_file, F_OK) == 0)
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL,
                             "refunds fail: the test switch PAYMENT_TEST_FAIL_REFUNDS_FILE (%s) is on", flag_file);
    static const char
        sql[] = "WITH u AS (UPDATE accounts SET balance_cents = balance_cents + $2::bigint, modified_at = now()"
                " WHERE customer_id = $1 RETURNING customer_id)"
                " INSERT INTO account_ledger (customer_id, delta_cents, kind, order_id)"
                " SELECT customer_id, $2::bigint, $3, $4::uuid FROM u";
    const char *params[] = {customer_id, oms_pg_int_param(a, delta), account_change_kind_name(kind), order_id};
    if (!params[1])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    PGresult *r = oms_pg_tx_exec(a, tx, sql, 4, params, err);
    if (!r)
        return err->code;
    if (atoi(PQcmdTuples(r)) == 0)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "account %s not found", customer_id);
    return OMS_OK;
}

static const account_repo_ops ops = {
    .open = open_account,
    .find = find,
    .find_for_update = find_for_update,
    .change_balance = change_balance,
};

account_repo pg_account_repo(void) { return pg_account_repo_with_refund_switch(NULL); }

account_repo pg_account_repo_with_refund_switch(const char *flag_file)
{
    return (account_repo){.ops = &ops, .self = (void *)flag_file};
}
