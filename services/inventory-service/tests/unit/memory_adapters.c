/* memory_adapters.c -- the in-memory ports (see memory_adapters.h). */
#include "memory_adapters.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every oms_tx is the working mem_state of the world's memory_tx. */

/* ---- products ---- */

static mem_product *product_named(mem_state *s, const char *id)
{
    for (size_t i = 0; i < s->product_count; i++)
        if (strcmp(s->products[i].id, id) == 0)
            return &s->products[i];
    return NULL;
}

static void to_product(oms_arena *a, const mem_product *m, product *out)
{
    *out = (product){.product_id = oms_arena_strdup(a, m->id),
                     .name = oms_arena_strdup(a, m->name),
                     .stock = m->stock,
                     .reserved = m->reserved,
                     .price_cents = m->price_cents,
                     .price_version = m->price_version};
}

static oms_err ledger_append(mem_state *s, const char *id, int64_t delta, stock_change_kind kind, oms_error *err)
{
    if (s->ledger_count == MEM_LEDGER)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "memory ledger full");
    mem_ledger_entry *e = &s->ledger[s->ledger_count++];
    snprintf(e->product_id, sizeof e->product_id, "%s", id);
    e->delta = delta;
    e->kind = kind;
    return OMS_OK;
}

static oms_err p_insert(product_repo *r, oms_tx *tx, oms_arena *a, const product *p, oms_error *err)
{
    (void)r;
    (void)a;
    mem_state *s = (mem_state *)tx;
    if (product_named(s, p->product_id))
        return oms_error_set(err, OMS_ECONFLICT, "product_id", "exists");
    if (s->product_count == MEM_PRODUCTS)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "memory products full");
    mem_product *m = &s->products[s->product_count++];
    snprintf(m->id, sizeof m->id, "%s", p->product_id);
    snprintf(m->name, sizeof m->name, "%s", p->name);
    m->stock = p->stock;
    m->reserved = 0;
    m->price_cents = p->price_cents;
    m->price_version = p->price_version;
    return ledger_append(s, p->product_id, p->stock, STOCK_INITIAL, err);
}

static oms_err p_set_price(product_repo *r, oms_tx *tx, oms_arena *a, const char *id, int64_t price_cents, product *out,
                           oms_error *err)
{
    (void)r;
    mem_product *m = product_named((mem_state *)tx, id);
    if (!m)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "product %s not found", id);
    m->price_cents = price_cents;
    m->price_version++;
    to_product(a, m, out);
    return OMS_OK;
}

static oms_err p_find(product_repo *r, oms_tx *tx, oms_arena *a, const char *id, product *out, oms_error *err)
{
    (void)r;
    const mem_product *m = product_named((mem_state *)tx, id);
    if (!m)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "product %s not found", id);
    to_product(a, m, out);
    return OMS_OK;
}

static int by_id(const void *x, const void *y)
{
    return strcmp(((const product *)x)->product_id, ((const product *)y)->product_id);
}

static oms_err p_list(product_repo *r, oms_tx *tx, oms_arena *a, size_t limit, product **out, size_t *count,
                      oms_error *err)
{
    (void)r;
    (void)err;
    mem_state *s = (mem_state *)tx;
    product *list = oms_arena_calloc(a, MEM_PRODUCTS, sizeof *list);
    for (size_t i = 0; i < s->product_count; i++)
        to_product(a, &s->products[i], &list[i]);
    qsort(list, s->product_count, sizeof *list, by_id);
    *out = list;
    *count = limit && limit < s->product_count ? limit : s->product_count;
    return OMS_OK;
}

static oms_err p_lock(product_repo *r, oms_tx *tx, oms_arena *a, const char *const *ids, size_t n, product **out,
                      size_t *count, oms_error *err)
{
    (void)r;
    (void)err;
    mem_state *s = (mem_state *)tx;
    product *list = oms_arena_calloc(a, n, sizeof *list);
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        const mem_product *m = product_named(s, ids[i]);
        if (m)
            to_product(a, m, &list[found++]);
    }
    *out = list;
    *count = found;
    return OMS_OK;
}

static oms_err p_change(product_repo *r, oms_tx *tx, oms_arena *a, const char *id, int64_t stock_delta,
                        int64_t reserved_delta, stock_change_kind kind, const char *order_id, oms_error *err)
{
    (void)r;
    (void)a;
    (void)order_id;
    mem_state *s = (mem_state *)tx;
    mem_product *m = product_named(s, id);
    if (!m)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "product %s not found", id);
    if (m->stock + stock_delta < 0 || m->reserved + reserved_delta < 0)
        return oms_error_set(err, OMS_EINVAL, NULL, "check constraint: stock would go negative");
    m->stock += stock_delta;
    m->reserved += reserved_delta;
    return ledger_append(s, id, stock_delta, kind, err);
}

static const product_repo_ops product_ops = {.insert = p_insert,
                                             .set_price = p_set_price,
                                             .find = p_find,
                                             .list = p_list,
                                             .lock = p_lock,
                                             .change_stock = p_change};

/* ---- reservations ---- */

static mem_reservation *reservation_of(mem_state *s, const char *order_id)
{
    for (size_t i = 0; i < s->reservation_count; i++)
        if (strcmp(s->reservations[i].order_id, order_id) == 0)
            return &s->reservations[i];
    return NULL;
}

static oms_err r_find(reservation_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, reservation *out,
                      oms_error *err)
{
    (void)r;
    const mem_reservation *m = reservation_of((mem_state *)tx, order_id);
    if (!m)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "no reservation for order %s", order_id);
    *out = (reservation){.order_id = oms_arena_strdup(a, m->order_id),
                         .state = m->state,
                         .reason = m->has_reason ? oms_arena_strdup(a, m->reason) : NULL,
                         .line_count = m->line_count};
    out->lines = oms_arena_calloc(a, MEM_LINES, sizeof *out->lines);
    for (size_t i = 0; i < m->line_count; i++)
        out->lines[i] = (reservation_line){oms_arena_strdup(a, m->line_ids[i]), m->quantities[i]};
    return OMS_OK;
}

static oms_err r_insert(reservation_repo *r, oms_tx *tx, oms_arena *a, const reservation *res, oms_error *err)
{
    (void)r;
    (void)a;
    mem_state *s = (mem_state *)tx;
    if (reservation_of(s, res->order_id))
        return oms_error_set(err, OMS_ECONFLICT, NULL, "order has a reservation");
    if (s->reservation_count == MEM_RESERVATIONS || res->line_count > MEM_LINES)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "memory reservations full");
    mem_reservation *m = &s->reservations[s->reservation_count++];
    memset(m, 0, sizeof *m);
    snprintf(m->order_id, sizeof m->order_id, "%s", res->order_id);
    m->state = res->state;
    m->has_reason = res->reason != NULL;
    snprintf(m->reason, sizeof m->reason, "%s", res->reason ? res->reason : "");
    m->line_count = res->line_count;
    for (size_t i = 0; i < res->line_count; i++) {
        snprintf(m->line_ids[i], sizeof m->line_ids[i], "%s", res->lines[i].product_id);
        m->quantities[i] = res->lines[i].quantity;
    }
    return OMS_OK;
}

static oms_err r_set_state(reservation_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, reservation_state state,
                           oms_error *err)
{
    (void)r;
    (void)a;
    mem_reservation *m = reservation_of((mem_state *)tx, order_id);
    if (!m)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "no reservation");
    m->state = state;
    return OMS_OK;
}

static const reservation_repo_ops reservation_ops = {
    .find_for_update = r_find, .find = r_find, .insert = r_insert, .set_state = r_set_state};

void memory_world_init(memory_world *w)
{
    memset(w, 0, sizeof *w);
    memory_tx_init(&w->tx, &w->committed, &w->working, sizeof w->committed);
    w->products = (product_repo){.ops = &product_ops, .self = w};
    w->reservations = (reservation_repo){.ops = &reservation_ops, .self = w};
    test_reply_outbox_init(&w->replies, offsetof(mem_state, replies), &w->fail_events);
    test_audit_log_init(&w->audit, offsetof(mem_state, audit));
    w->app = (inventory_app){.tx = &w->tx.manager,
                             .products = &w->products,
                             .reservations = &w->reservations,
                             .replies = &w->replies.port,
                             .audit = &w->audit.port};
}
