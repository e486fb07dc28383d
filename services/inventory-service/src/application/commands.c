/* commands.c -- what changes inventory: products, restocks, and the saga's
 * reserve and release commands. The decisions are the domain's; this file
 * sequences them over the ports. */
#include <string.h>

#include "application/inventory_app.h"

/* ProductPriceChanged: a catalog event, about no order (saga_messages.h:
 * keyed by product_id), sent through the reply port's outbox. */
static oms_err announce_price(inventory_app *app, oms_tx *tx, oms_arena *a, const product *p, oms_error *err)
{
    static const oms_command_origin no_order = {.saga_id = NULL, .order_id = NULL, .correlation_id = ""};
    oms_msg event = {.type = OMS_MSG_PRODUCT_PRICE_CHANGED,
                     .as.product_price_changed = {p->product_id, p->price_cents, p->price_version}};
    return oms_reply_outbox_append(app->replies, tx, a, &no_order, &event, err);
}

#define PRODUCT_STATE_FIELDS 5

/* A product's state as the audit trail keeps it, in `fields`. */
static oms_audit_state product_state(const product *p, oms_audit_field fields[PRODUCT_STATE_FIELDS])
{
    fields[0] = OMS_AUDIT_TEXT_FIELD("product_id", p->product_id);
    fields[1] = OMS_AUDIT_TEXT_FIELD("name", p->name);
    fields[2] = p->price_cents == INVENTORY_NO_PRICE ? OMS_AUDIT_TEXT_FIELD("price", NULL)
                                                     : OMS_AUDIT_MONEY_FIELD("price", p->price_cents);
    fields[3] = OMS_AUDIT_INT_FIELD("stock", p->stock);
    fields[4] = OMS_AUDIT_INT_FIELD("reserved", p->reserved);
    return (oms_audit_state){fields, PRODUCT_STATE_FIELDS};
}

/* The audit row of an admin's change of product `after` (`before` NULL: created). */
static oms_err audit_product(inventory_app *app, oms_tx *tx, oms_arena *a, const oms_principal *who, const char *action,
                             const product *before, const product *after, oms_error *err)
{
    const char *target = oms_arena_sprintf(a, "product:%s", after->product_id);
    if (!target)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    oms_audit_field was_fields[PRODUCT_STATE_FIELDS], is_fields[PRODUCT_STATE_FIELDS];
    oms_audit_state was = before ? product_state(before, was_fields) : (oms_audit_state){0};
    oms_audit_state is = product_state(after, is_fields);
    oms_audit_entry e = {.by = who, .action = action, .target = target, .before = before ? &was : NULL, .after = &is};
    return oms_audit_append(app->audit, tx, a, &e, err);
}

oms_err inventory_create_product(inventory_app *app, oms_arena *a, const oms_principal *who, const product *p,
                                 product *out, oms_error *err)
{
    oms_err rc = inventory_validate_new_product(p, err);
    if (rc != OMS_OK)
        return rc;
    product stored = *p;
    stored.price_version = 1;
    oms_tx *tx;
    rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    rc = product_repo_insert(app->products, tx, a, &stored, err);
    if (rc == OMS_OK)
        rc = announce_price(app, tx, a, &stored, err);
    if (rc == OMS_OK)
        rc = audit_product(app, tx, a, who, "product.create", NULL, &stored, err);
    rc = oms_tx_finish(app->tx, tx, rc, err);
    if (rc == OMS_OK)
        *out = stored;
    return rc;
}

/* The product locked in tx, as it is before a change. */
static oms_err lock_product(inventory_app *app, oms_tx *tx, oms_arena *a, const char *product_id, product *out,
                            oms_error *err)
{
    product *found;
    size_t count;
    oms_err rc = product_repo_lock(app->products, tx, a, &product_id, 1, &found, &count, err);
    if (rc != OMS_OK)
        return rc;
    if (count == 0)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "product %s not found", product_id);
    *out = found[0];
    return OMS_OK;
}

static oms_err set_price_in(inventory_app *app, oms_tx *tx, oms_arena *a, const oms_principal *who,
                            const char *product_id, int64_t price_cents, product *out, oms_error *err)
{
    product before;
    oms_err rc = lock_product(app, tx, a, product_id, &before, err);
    if (rc == OMS_OK)
        rc = product_repo_set_price(app->products, tx, a, product_id, price_cents, out, err);
    if (rc == OMS_OK)
        rc = announce_price(app, tx, a, out, err);
    if (rc == OMS_OK)
        rc = audit_product(app, tx, a, who, "product.set_price", &before, out, err);
    return rc;
}

oms_err inventory_set_price(inventory_app *app, oms_arena *a, const oms_principal *who, const char *product_id,
                            int64_t price_cents, product *out, oms_error *err)
{
    oms_err rc = inventory_validate_product_id(product_id, "product_id", err);
    if (rc == OMS_OK)
        rc = inventory_validate_price(price_cents, err);
    if (rc != OMS_OK)
        return rc;
    oms_tx *tx;
    rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    rc = set_price_in(app, tx, a, who, product_id, price_cents, out, err);
    return oms_tx_finish(app->tx, tx, rc, err);
}

static oms_err restock_in(inventory_app *app, oms_tx *tx, oms_arena *a, const oms_principal *who,
                          const char *product_id, int64_t quantity, product *out, oms_error *err)
{
    product before;
    oms_err rc = lock_product(app, tx, a, product_id, &before, err);
    if (rc != OMS_OK)
        return rc;
    rc = inventory_validate_restock(&before, quantity, err);
    if (rc != OMS_OK)
        return rc;
    rc = product_repo_change_stock(app->products, tx, a, product_id, quantity, 0, STOCK_RESTOCK, NULL, err);
    if (rc != OMS_OK)
        return rc;
    *out = before;
    out->stock += quantity;
    return audit_product(app, tx, a, who, "product.restock", &before, out, err);
}

oms_err inventory_restock(inventory_app *app, oms_arena *a, const oms_principal *who, const char *product_id,
                          int64_t quantity, product *out, oms_error *err)
{
    oms_err rc = inventory_validate_product_id(product_id, "product_id", err);
    if (rc != OMS_OK)
        return rc;
    oms_tx *tx;
    rc = oms_tx_begin(app->tx, &tx, err);
    if (rc != OMS_OK)
        return rc;
    rc = restock_in(app, tx, a, who, product_id, quantity, out, err);
    return oms_tx_finish(app->tx, tx, rc, err);
}

/* Finds the locked product of `product_id` among `found` (sorted by the
 * store, so looked up by name rather than by position). */
static const product *locked_product(const product *found, size_t count, const char *product_id)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(found[i].product_id, product_id) == 0)
            return &found[i];
    return NULL;
}

/* Locks the lines' products in id order and checks them all. true when every
 * line can be met; else false with the reason. */
static oms_err check_stock(inventory_app *app, oms_tx *tx, oms_arena *a, const reservation_line *lines, size_t n,
                           bool *ok, char *reason, size_t reason_len, oms_error *err)
{
    const char **ids = oms_arena_calloc(a, n, sizeof *ids);
    stock_check *checks = oms_arena_calloc(a, n, sizeof *checks);
    if (!ids || !checks)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++)
        ids[i] = lines[i].product_id;
    product *found;
    size_t count;
    oms_err rc = product_repo_lock(app->products, tx, a, ids, n, &found, &count, err);
    if (rc != OMS_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const product *p = locked_product(found, count, lines[i].product_id);
        checks[i] = (stock_check){.product_id = lines[i].product_id,
                                  .requested = lines[i].quantity,
                                  .known = p != NULL,
                                  .available = p ? p->stock : 0};
    }
    *ok = inventory_can_reserve_all(checks, n, reason, reason_len);
    return OMS_OK;
}

static oms_err take_stock(inventory_app *app, oms_tx *tx, oms_arena *a, const char *order_id,
                          const reservation_line *lines, size_t n, oms_error *err)
{
    for (size_t i = 0; i < n; i++) {
        oms_err rc = product_repo_change_stock(app->products, tx, a, lines[i].product_id, -lines[i].quantity,
                                               lines[i].quantity, STOCK_RESERVE, order_id, err);
        if (rc != OMS_OK)
            return rc;
    }
    return OMS_OK;
}

/* InventoryAllocated for the order of `o`. */
static oms_err answer_reserve(inventory_app *app, oms_tx *tx, oms_arena *a, const oms_command_origin *o, bool success,
                              const char *reason, oms_error *err)
{
    oms_msg reply = {.type = OMS_MSG_INVENTORY_ALLOCATED, .as.inventory_allocated = {success, reason}};
    return oms_reply_outbox_append(app->replies, tx, a, o, &reply, err);
}

/* First attempt for an order: reserve all or record the failure. */
static oms_err attempt_reservation(inventory_app *app, oms_tx *tx, oms_arena *a, const oms_command_origin *o,
                                   reservation_line *lines, size_t n, oms_error *err)
{
    char reason[INVENTORY_REASON_MAX];
    bool ok = false;
    oms_err rc = check_stock(app, tx, a, lines, n, &ok, reason, sizeof reason, err);
    if (rc != OMS_OK)
        return rc;
    reservation res = {.order_id = o->order_id};
    if (ok) {
        rc = take_stock(app, tx, a, o->order_id, lines, n, err);
        res.state = RESERVATION_RESERVED;
        res.lines = lines;
        res.line_count = n;
    } else {
        res.state = RESERVATION_FAILED;
        res.reason = reason;
    }
    if (rc == OMS_OK)
        rc = reservation_repo_insert(app->reservations, tx, a, &res, err);
    if (rc != OMS_OK)
        return rc;
    return answer_reserve(app, tx, a, o, ok, ok ? NULL : reason, err);
}

oms_err inventory_reserve(inventory_app *app, oms_tx *tx, oms_arena *a, const oms_command_origin *o,
                          const reservation_line *lines, size_t n, oms_error *err)
{
    reservation existing = {0};
    oms_err rc = reservation_repo_find_for_update(app->reservations, tx, a, o->order_id, &existing, err);
    if (rc != OMS_OK && rc != OMS_ENOTFOUND)
        return rc;
    switch (inventory_plan_reserve(rc == OMS_OK, existing.state)) {
    case RESERVE_ANSWER_SUCCESS: return answer_reserve(app, tx, a, o, true, NULL, err);
    case RESERVE_ANSWER_FAILURE:
        return answer_reserve(app, tx, a, o, false, inventory_repeated_failure_reason(existing.state, existing.reason),
                              err);
    case RESERVE_ATTEMPT: break;
    }
    reservation_line *merged = oms_arena_calloc(a, n ? n : 1, sizeof *merged);
    if (!merged)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    size_t merged_n = 0;
    oms_error invalid;
    oms_error_clear(&invalid);
    if (inventory_merge_lines(lines, n, merged, &merged_n, &invalid) != OMS_OK) {
        const char *reason = oms_arena_sprintf(a, "invalid request: %s", invalid.message);
        return answer_reserve(app, tx, a, o, false, reason ? reason : "invalid request", err);
    }
    return attempt_reservation(app, tx, a, o, merged, merged_n, err);
}

static oms_err give_back(inventory_app *app, oms_tx *tx, oms_arena *a, const reservation *res, oms_error *err)
{
    /* The lines come ordered by product id, so the row locks taken here are
     * taken in the same order as a reservation takes them. */
    for (size_t i = 0; i < res->line_count; i++) {
        const reservation_line *l = &res->lines[i];
        oms_err rc = product_repo_change_stock(app->products, tx, a, l->product_id, l->quantity, -l->quantity,
                                               STOCK_RELEASE, res->order_id, err);
        if (rc != OMS_OK)
            return rc;
    }
    if (!reservation_can_transition(res->state, RESERVATION_RELEASED))
        return oms_error_set(err, OMS_EINTERNAL, NULL, "reservation is not RESERVED");
    return reservation_repo_set_state(app->reservations, tx, a, res->order_id, RESERVATION_RELEASED, err);
}

oms_err inventory_release(inventory_app *app, oms_tx *tx, oms_arena *a, const oms_command_origin *o, oms_error *err)
{
    reservation existing = {0};
    oms_err rc = reservation_repo_find_for_update(app->reservations, tx, a, o->order_id, &existing, err);
    if (rc != OMS_OK && rc != OMS_ENOTFOUND)
        return rc;
    bool released = false;
    switch (inventory_plan_release(rc == OMS_OK, existing.state)) {
    case RELEASE_GIVE_BACK:
        rc = give_back(app, tx, a, &existing, err);
        released = true;
        break;
    case RELEASE_TOMBSTONE: {
        reservation tombstone = {.order_id = o->order_id, .state = RESERVATION_RELEASED};
        rc = reservation_repo_insert(app->reservations, tx, a, &tombstone, err);
        break;
    }
    case RELEASE_ANSWER:
        rc = OMS_OK;
        released = inventory_repeated_release_flag(existing.state, existing.line_count);
        break;
    }
    if (rc != OMS_OK)
        return rc;
    oms_msg reply = {.type = OMS_MSG_INVENTORY_RELEASED, .as.inventory_released = {released}};
    return oms_reply_outbox_append(app->replies, tx, a, o, &reply, err);
}
