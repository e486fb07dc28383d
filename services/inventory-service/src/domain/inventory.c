/* inventory.c -- the stock and reservation rules (see inventory.h). */
#include "domain/inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oms/ident.h"

oms_err inventory_validate_product_id(const char *product_id, const char *field, oms_error *err)
{
    return oms_ident_check(product_id, INVENTORY_ID_MAX, field, err);
}

oms_err inventory_validate_new_product(const product *p, oms_error *err)
{
    oms_err rc = inventory_validate_product_id(p->product_id, "product_id", err);
    if (rc != OMS_OK)
        return rc;
    if (!p->name || p->name[0] == '\0')
        return oms_error_set(err, OMS_EINVAL, "name", "name must be a non-empty string");
    if (strnlen(p->name, INVENTORY_NAME_MAX + 1) > INVENTORY_NAME_MAX)
        return oms_error_set(err, OMS_EINVAL, "name", "name must be at most %d characters", INVENTORY_NAME_MAX);
    if (p->stock < 0 || p->stock > INVENTORY_STOCK_MAX)
        return oms_error_set(err, OMS_EINVAL, "stock", "stock must be an integer from 0 to %lld", INVENTORY_STOCK_MAX);
    if (p->reserved != 0)
        return oms_error_set(err, OMS_EINVAL, "reserved", "a new product holds no reservation");
    return inventory_validate_price(p->price_cents, err);
}

oms_err inventory_validate_price(int64_t price_cents, oms_error *err)
{
    if (price_cents < 0 || price_cents > INVENTORY_PRICE_MAX_CENTS)
        return oms_error_set(err, OMS_EINVAL, "price", "price must be from 0 to 1000000.00");
    return OMS_OK;
}

oms_err inventory_validate_restock(const product *current, int64_t quantity, oms_error *err)
{
    if (quantity < 1 || quantity > INVENTORY_QUANTITY_MAX)
        return oms_error_set(err, OMS_EINVAL, "quantity", "quantity must be an integer from 1 to %lld",
                             INVENTORY_QUANTITY_MAX);
    /* Each term is bounded by INVENTORY_TOTAL_MAX, so the sum cannot overflow. */
    if (current->stock + current->reserved + quantity > INVENTORY_TOTAL_MAX)
        return oms_error_set(err, OMS_EINVAL, "quantity", "quantity would raise the product's units above %lld",
                             INVENTORY_TOTAL_MAX);
    return OMS_OK;
}

static const char *const state_names[] = {
    [RESERVATION_RESERVED] = "RESERVED",
    [RESERVATION_RELEASED] = "RELEASED",
    [RESERVATION_FAILED] = "FAILED",
};

const char *reservation_state_name(reservation_state s)
{
    if ((unsigned)s >= sizeof state_names / sizeof state_names[0])
        return "UNKNOWN";
    return state_names[s];
}

bool reservation_state_parse(const char *text, reservation_state *out)
{
    for (size_t i = 0; text && i < sizeof state_names / sizeof state_names[0]; i++) {
        if (strcmp(text, state_names[i]) == 0) {
            *out = (reservation_state)i;
            return true;
        }
    }
    return false;
}

bool reservation_can_transition(reservation_state from, reservation_state to)
{
    return from == RESERVATION_RESERVED && to == RESERVATION_RELEASED;
}

const char *stock_change_kind_name(stock_change_kind k)
{
    static const char *const names[] = {
        [STOCK_INITIAL] = "INITIAL",
        [STOCK_RESTOCK] = "RESTOCK",
        [STOCK_RESERVE] = "RESERVE",
        [STOCK_RELEASE] = "RELEASE",
    };
    if ((unsigned)k >= sizeof names / sizeof names[0])
        return "UNKNOWN";
    return names[k];
}

static int compare_lines(const void *a, const void *b)
{
    const reservation_line *x = a, *y = b;
    return strcmp(x->product_id, y->product_id);
}

static oms_err validate_line(const reservation_line *line, size_t index, oms_error *err)
{
    char field[64];
    snprintf(field, sizeof field, "items[%zu].product_id", index);
    oms_err rc = inventory_validate_product_id(line->product_id, field, err);
    if (rc != OMS_OK)
        return rc;
    if (line->quantity < 1 || line->quantity > INVENTORY_QUANTITY_MAX) {
        snprintf(field, sizeof field, "items[%zu].quantity", index);
        return oms_error_set(err, OMS_EINVAL, field, "%s must be an integer from 1 to %lld", field,
                             INVENTORY_QUANTITY_MAX);
    }
    return OMS_OK;
}

oms_err inventory_merge_lines(const reservation_line *in, size_t n, reservation_line *out, size_t *out_n,
                              oms_error *err)
{
    if (n == 0)
        return oms_error_set(err, OMS_EINVAL, "items", "items must hold at least one item");
    if (n > INVENTORY_LINES_MAX)
        return oms_error_set(err, OMS_EINVAL, "items", "items must hold at most %d items", INVENTORY_LINES_MAX);
    for (size_t i = 0; i < n; i++) {
        oms_err rc = validate_line(&in[i], i, err);
        if (rc != OMS_OK)
            return rc;
    }
    memcpy(out, in, n * sizeof *in);
    qsort(out, n, sizeof *out, compare_lines);
    /* At most 100 lines of at most 10^9 each: the sums cannot overflow. */
    size_t merged = 0;
    for (size_t i = 0; i < n; i++) {
        if (merged > 0 && strcmp(out[merged - 1].product_id, out[i].product_id) == 0)
            out[merged - 1].quantity += out[i].quantity;
        else
            out[merged++] = out[i];
    }
    *out_n = merged;
    return OMS_OK;
}

bool inventory_can_reserve_all(const stock_check *lines, size_t n, char *reason, size_t reason_len)
{
    for (size_t i = 0; i < n; i++) {
        const stock_check *c = &lines[i];
        if (!c->known) {
            snprintf(reason, reason_len, "unknown product %s", c->product_id);
            return false;
        }
        if (c->available < c->requested) {
            snprintf(reason, reason_len, "insufficient stock for product %s: requested %lld, available %lld",
                     c->product_id, (long long)c->requested, (long long)c->available);
            return false;
        }
    }
    if (reason_len > 0)
        reason[0] = '\0';
    return true;
}

reserve_plan inventory_plan_reserve(bool exists, reservation_state existing)
{
    if (!exists)
        return RESERVE_ATTEMPT;
    return existing == RESERVATION_RESERVED ? RESERVE_ANSWER_SUCCESS : RESERVE_ANSWER_FAILURE;
}

const char *inventory_repeated_failure_reason(reservation_state existing, const char *stored_reason)
{
    if (existing == RESERVATION_FAILED && stored_reason && stored_reason[0] != '\0')
        return stored_reason;
    return existing == RESERVATION_RELEASED ? "released" : "reservation failed";
}

release_plan inventory_plan_release(bool exists, reservation_state existing)
{
    if (!exists)
        return RELEASE_TOMBSTONE;
    return existing == RESERVATION_RESERVED ? RELEASE_GIVE_BACK : RELEASE_ANSWER;
}

bool inventory_repeated_release_flag(reservation_state existing, size_t line_count)
{
    return existing == RESERVATION_RELEASED && line_count > 0;
}
