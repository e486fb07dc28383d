/* pg_reservation_repo.c -- reservations and their lines in PostgreSQL. */
#include "adapters/pg_adapters.h"

static oms_err read_lines(oms_tx *tx, oms_arena *a, reservation *out, oms_error *err)
{
    static const char sql[] = "SELECT product_id, quantity FROM reservation_items WHERE order_id = $1::uuid"
                              " ORDER BY product_id COLLATE \"C\"";
    const char *params[] = {out->order_id};
    PGresult *r = oms_pg_tx_exec(a, tx, sql, 1, params, err);
    if (!r)
        return err->code;
    int rows = PQntuples(r);
    out->lines = oms_arena_calloc(a, rows > 0 ? (size_t)rows : 1, sizeof *out->lines);
    if (!out->lines)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (int i = 0; i < rows; i++) {
        out->lines[i].product_id = oms_pg_text_value(a, r, i, 0);
        if (!out->lines[i].product_id)
            return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        oms_err rc = oms_pg_int_value(r, i, 1, &out->lines[i].quantity, err);
        if (rc != OMS_OK)
            return rc;
    }
    out->line_count = (size_t)rows;
    return OMS_OK;
}

static oms_err find_with(const char *sql, oms_tx *tx, oms_arena *a, const char *order_id, reservation *out,
                         oms_error *err)
{
    const char *params[] = {order_id};
    PGresult *r = oms_pg_tx_exec(a, tx, sql, 1, params, err);
    if (!r)
        return err->code;
    if (PQntuples(r) == 0)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "no reservation for order %s", order_id);
    *out = (reservation){0};
    out->order_id = oms_pg_text_value(a, r, 0, 0);
    if (!out->order_id)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    if (!reservation_state_parse(oms_pg_value(r, 0, 1), &out->state))
        return oms_error_set(err, OMS_EINTERNAL, NULL, "unknown reservation state %s", oms_pg_value(r, 0, 1));
    out->reason = oms_pg_text_value(a, r, 0, 2);
    oms_err rc = oms_pg_int_value(r, 0, 3, &out->created_at_ms, err);
    if (rc == OMS_OK)
        rc = oms_pg_int_value(r, 0, 4, &out->modified_at_ms, err);
    return rc == OMS_OK ? read_lines(tx, a, out, err) : rc;
}

#define RESERVATION_SELECT                                                                                             \
    "SELECT order_id, state, reason, (extract(epoch FROM created_at) * 1000)::bigint,"                                 \
    " (extract(epoch FROM modified_at) * 1000)::bigint FROM reservations WHERE order_id = $1::uuid"

static oms_err find_for_update(reservation_repo *repo, oms_tx *tx, oms_arena *a, const char *order_id, reservation *out,
                               oms_error *err)
{
    (void)repo;
    return find_with(RESERVATION_SELECT " FOR UPDATE", tx, a, order_id, out, err);
}

static oms_err find(reservation_repo *repo, oms_tx *tx, oms_arena *a, const char *order_id, reservation *out,
                    oms_error *err)
{
    (void)repo;
    return find_with(RESERVATION_SELECT, tx, a, order_id, out, err);
}

static oms_err insert_line(oms_tx *tx, oms_arena *a, const char *order_id, const reservation_line *l, oms_error *err)
{
    static const char
        sql[] = "INSERT INTO reservation_items (order_id, product_id, quantity) VALUES ($1::uuid, $2, $3::bigint)";
    const char *params[] = {order_id, l->product_id, oms_pg_int_param(a, l->quantity)};
    if (!params[2])
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    /* Deferred: the lines travel with the transaction's next statement. */
    return oms_pg_tx_exec_deferred(tx, sql, 3, params, err);
}

static oms_err insert(reservation_repo *repo, oms_tx *tx, oms_arena *a, const reservation *res, oms_error *err)
{
    (void)repo;
    static const char sql[] = "INSERT INTO reservations (order_id, state, reason) VALUES ($1::uuid, $2, $3)";
    const char *params[] = {res->order_id, reservation_state_name(res->state), res->reason};
    if (!oms_pg_tx_exec(a, tx, sql, 3, params, err)) {
        if (err->code == OMS_ECONFLICT)
            oms_error_set(err, OMS_ECONFLICT, NULL, "order %s has a reservation already", res->order_id);
        return err->code;
    }
    for (size_t i = 0; i < res->line_count; i++) {
        oms_err rc = insert_line(tx, a, res->order_id, &res->lines[i], err);
        if (rc != OMS_OK)
            return rc;
    }
    return OMS_OK;
}

static oms_err set_state(reservation_repo *repo, oms_tx *tx, oms_arena *a, const char *order_id,
                         reservation_state state, oms_error *err)
{
    (void)repo;
    static const char sql[] = "UPDATE reservations SET state = $2, modified_at = now() WHERE order_id = $1::uuid";
    const char *params[] = {order_id, reservation_state_name(state)};
    PGresult *r = oms_pg_tx_exec(a, tx, sql, 2, params, err);
    if (!r)
        return err->code;
    if (PQcmdTuples(r)[0] == '0')
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "no reservation for order %s", order_id);
    return OMS_OK;
}

static const reservation_repo_ops ops = {
    .find_for_update = find_for_update,
    .find = find,
    .insert = insert,
    .set_state = set_state,
};

reservation_repo pg_reservation_repo(void) { return (reservation_repo){.ops = &ops, .self = NULL}; }
