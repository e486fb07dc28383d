/* memory_adapters.c -- see memory_adapters.h. */
#include "memory_adapters.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mem_store *store_of(void *self) { return self; }

/* ---- tx ---- */

static oms_err tx_begin(oms_tx_manager *t, oms_tx **out, oms_error *err)
{
    mem_store *m = store_of(t->self);
    if (m->in_tx)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "nested transaction");
    m->snapshot = m->data;
    m->in_tx = true;
    *out = (oms_tx *)m;
    return OMS_OK;
}

static oms_err tx_commit(oms_tx_manager *t, oms_tx *tx, oms_error *err)
{
    (void)tx;
    (void)err;
    mem_store *m = store_of(t->self);
    m->in_tx = false;
    m->commits++;
    oms_tx_hooks_run(&m->commit_hooks);
    return OMS_OK;
}

static void tx_rollback(oms_tx_manager *t, oms_tx *tx)
{
    (void)tx;
    mem_store *m = store_of(t->self);
    m->data = m->snapshot;
    m->in_tx = false;
    m->rollbacks++;
    oms_tx_hooks_drop(&m->commit_hooks);
}

static oms_err tx_on_commit(oms_tx_manager *t, oms_tx *tx, oms_tx_hook fn, void *ctx, size_t ctx_size, oms_error *err)
{
    (void)tx;
    return oms_tx_hooks_add(&store_of(t->self)->commit_hooks, fn, ctx, ctx_size, err);
}

static const oms_tx_manager_ops tx_ops = {tx_begin, tx_commit, tx_rollback, tx_on_commit};

/* ---- orders ---- */

static mem_order *find_in(mem_order *table, const char *id)
{
    for (int i = 0; i < MEM_ORDERS; i++)
        if (table[i].used && strcmp(table[i].id, id) == 0)
            return &table[i];
    return NULL;
}

static void copy_order_in(mem_order *row, const order *o)
{
    memset(row, 0, sizeof *row);
    row->used = true;
    snprintf(row->id, sizeof row->id, "%s", o->id);
    snprintf(row->saga_id, sizeof row->saga_id, "%s", o->saga_id);
    snprintf(row->customer_id, sizeof row->customer_id, "%s", o->customer_id);
    row->status = o->status;
    row->total_cents = o->total_cents;
    row->created_at_ms = o->created_at_ms;
    row->modified_at_ms = o->modified_at_ms;
    row->has_failure = o->failure_reason != NULL;
    row->has_cancellation = o->cancellation_reason != NULL;
    snprintf(row->failure_reason, MEM_TEXT, "%s", o->failure_reason ? o->failure_reason : "");
    snprintf(row->cancellation_reason, MEM_TEXT, "%s", o->cancellation_reason ? o->cancellation_reason : "");
    row->item_count = o->item_count < MEM_ITEMS ? o->item_count : MEM_ITEMS;
    for (size_t i = 0; i < row->item_count; i++) {
        snprintf(row->items[i].product_id, 65, "%s", o->items[i].product_id);
        row->items[i].quantity = o->items[i].quantity;
        row->items[i].unit_price_cents = o->items[i].unit_price_cents;
    }
}

static oms_err copy_order_out(oms_arena *a, const mem_order *row, order *o, oms_error *err)
{
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", row->id);
    snprintf(o->saga_id, sizeof o->saga_id, "%s", row->saga_id);
    o->customer_id = oms_arena_strdup(a, row->customer_id);
    o->status = row->status;
    o->total_cents = row->total_cents;
    o->created_at_ms = row->created_at_ms;
    o->modified_at_ms = row->modified_at_ms;
    o->failure_reason = row->has_failure ? oms_arena_strdup(a, row->failure_reason) : NULL;
    o->cancellation_reason = row->has_cancellation ? oms_arena_strdup(a, row->cancellation_reason) : NULL;
    order_item *items = oms_arena_calloc(a, MEM_ITEMS, sizeof *items);
    if (!items || !o->customer_id)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < row->item_count; i++) {
        items[i].product_id = oms_arena_strdup(a, row->items[i].product_id);
        items[i].quantity = row->items[i].quantity;
        items[i].unit_price_cents = row->items[i].unit_price_cents;
    }
    o->items = items;
    o->item_count = row->item_count;
    return OMS_OK;
}

static mem_order *free_slot(mem_order *table)
{
    for (int i = 0; i < MEM_ORDERS; i++)
        if (!table[i].used)
            return &table[i];
    return NULL;
}

static oms_err order_insert(order_repo *r, oms_tx *tx, oms_arena *a, const order *o, oms_error *err)
{
    (void)tx;
    (void)a;
    mem_store *m = store_of(r->self);
    if (find_in(m->data.orders, o->id))
        return oms_error_set(err, OMS_ECONFLICT, NULL, "order exists");
    mem_order *row = free_slot(m->data.orders);
    if (!row)
        return oms_error_set(err, OMS_ENOMEM, NULL, "store full");
    copy_order_in(row, o);
    return OMS_OK;
}

static oms_err order_load(order_repo *r, oms_tx *tx, oms_arena *a, const char *id, order *out, oms_error *err)
{
    (void)tx;
    mem_order *row = find_in(store_of(r->self)->data.orders, id);
    if (!row)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "order not found");
    return copy_order_out(a, row, out, err);
}

static oms_err order_update(order_repo *r, oms_tx *tx, oms_arena *a, const order *o, oms_error *err)
{
    (void)tx;
    (void)a;
    mem_order *row = find_in(store_of(r->self)->data.orders, o->id);
    if (!row)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "order not found");
    copy_order_in(row, o);
    return OMS_OK;
}

static mem_key *find_key(mem_store *m, const order_idempotency_key *key)
{
    for (int i = 0; i < MEM_ORDERS; i++) {
        mem_key *k = &m->data.keys[i];
        if (k->used && strcmp(k->principal, key->principal) == 0 && strcmp(k->key, key->key) == 0)
            return k;
    }
    return NULL;
}

static oms_err key_find(order_repo *r, oms_tx *tx, oms_arena *a, const order_idempotency_key *key,
                        char fp[ORDER_FINGERPRINT_LEN + 1], char order_id[OMS_UUID_LEN + 1], oms_error *err)
{
    (void)tx;
    (void)a;
    mem_key *k = find_key(store_of(r->self), key);
    if (!k)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "unused");
    memcpy(fp, k->fingerprint, sizeof k->fingerprint);
    memcpy(order_id, k->order_id, OMS_UUID_LEN + 1);
    return OMS_OK;
}

static oms_err key_claim(order_repo *r, oms_tx *tx, oms_arena *a, const order_idempotency_key *key, const char *fp,
                         const char *order_id, oms_error *err)
{
    (void)tx;
    (void)a;
    mem_store *m = store_of(r->self);
    if (find_key(m, key))
        return oms_error_set(err, OMS_ECONFLICT, NULL, "key taken");
    for (int i = 0; i < MEM_ORDERS; i++) {
        mem_key *k = &m->data.keys[i];
        if (!k->used) {
            k->used = true;
            snprintf(k->principal, sizeof k->principal, "%s", key->principal);
            snprintf(k->key, sizeof k->key, "%s", key->key);
            snprintf(k->fingerprint, sizeof k->fingerprint, "%s", fp);
            snprintf(k->order_id, sizeof k->order_id, "%s", order_id);
            return OMS_OK;
        }
    }
    return oms_error_set(err, OMS_ENOMEM, NULL, "store full");
}

static const order_repo_ops order_ops = {order_insert, order_load, order_update, key_find, key_claim};

/* ---- sagas ---- */

static mem_saga *find_saga(mem_store *m, const char *order_id)
{
    for (int i = 0; i < MEM_ORDERS; i++)
        if (m->data.sagas[i].used && strcmp(m->data.sagas[i].s.order_id, order_id) == 0)
            return &m->data.sagas[i];
    return NULL;
}

static oms_err saga_insert(saga_repo *r, oms_tx *tx, oms_arena *a, const saga *s, const char *correlation_id,
                           oms_error *err)
{
    (void)tx;
    (void)a;
    mem_store *m = store_of(r->self);
    if (find_saga(m, s->order_id))
        return oms_error_set(err, OMS_ECONFLICT, NULL, "saga exists");
    for (int i = 0; i < MEM_ORDERS; i++) {
        mem_saga *row = &m->data.sagas[i];
        if (!row->used) {
            row->used = true;
            row->s = *s;
            snprintf(row->correlation_id, sizeof row->correlation_id, "%s", correlation_id ? correlation_id : "");
            return OMS_OK;
        }
    }
    return oms_error_set(err, OMS_ENOMEM, NULL, "store full");
}

static oms_err saga_load(saga_repo *r, oms_tx *tx, oms_arena *a, const char *order_id, saga *out,
                         const char **correlation_id, oms_error *err)
{
    (void)tx;
    mem_saga *row = find_saga(store_of(r->self), order_id);
    if (!row)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "no saga");
    *out = row->s;
    if (correlation_id)
        *correlation_id = oms_arena_strdup(a, row->correlation_id);
    return OMS_OK;
}

static oms_err saga_update(saga_repo *r, oms_tx *tx, oms_arena *a, const saga *s, int64_t expected_version,
                           oms_error *err)
{
    (void)tx;
    (void)a;
    mem_saga *row = find_saga(store_of(r->self), s->order_id);
    if (!row)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "no saga");
    if (row->s.version != expected_version)
        return oms_error_set(err, OMS_ECONFLICT, NULL, "version moved");
    row->s = *s;
    return OMS_OK;
}

static oms_err saga_append(saga_repo *r, oms_tx *tx, oms_arena *a, const char *saga_id, const saga_log_entry *e,
                           oms_error *err)
{
    (void)tx;
    (void)a;
    mem_store *m = store_of(r->self);
    if (m->data.log_count >= MEM_LOG)
        return oms_error_set(err, OMS_ENOMEM, NULL, "log full");
    int seq = 0;
    for (size_t i = 0; i < m->data.log_count; i++)
        if (strcmp(m->data.log[i].saga_id, saga_id) == 0)
            seq = m->data.log[i].e.seq;
    mem_log *row = &m->data.log[m->data.log_count++];
    memset(row, 0, sizeof *row);
    snprintf(row->saga_id, sizeof row->saga_id, "%s", saga_id);
    row->e = *e;
    row->e.seq = seq + 1;
    row->has_event_id = e->event_id != NULL;
    snprintf(row->event_id, sizeof row->event_id, "%s", e->event_id ? e->event_id : "");
    snprintf(row->detail, sizeof row->detail, "%s", e->detail ? e->detail : "");
    row->e.event_id = NULL;
    row->e.detail = NULL;
    return OMS_OK;
}

static oms_err saga_lock_due(saga_repo *r, oms_tx *tx, oms_arena *a, int64_t now_ms, int limit,
                             char (**order_ids)[OMS_UUID_LEN + 1], size_t *count, oms_error *err)
{
    (void)tx;
    mem_store *m = store_of(r->self);
    *order_ids = oms_arena_calloc(a, MEM_ORDERS, sizeof **order_ids);
    if (!*order_ids)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    *count = 0;
    bool taken[MEM_ORDERS] = {0};
    while ((int)*count < limit) {
        int best = -1;
        for (int i = 0; i < MEM_ORDERS; i++) {
            const saga *s = &m->data.sagas[i].s;
            if (!m->data.sagas[i].used || taken[i] || order_status_is_final(s->state) || s->paused || !s->deadline_ms ||
                s->deadline_ms >= now_ms)
                continue;
            if (best < 0 || s->deadline_ms < m->data.sagas[best].s.deadline_ms)
                best = i;
        }
        if (best < 0)
            break;
        taken[best] = true;
        memcpy((*order_ids)[(*count)++], m->data.sagas[best].s.order_id, OMS_UUID_LEN + 1);
    }
    return OMS_OK;
}

static oms_err saga_order_of(saga_repo *r, oms_tx *tx, oms_arena *a, const char *saga_id,
                             char order_id[OMS_UUID_LEN + 1], oms_error *err)
{
    (void)tx;
    (void)a;
    mem_store *m = store_of(r->self);
    for (int i = 0; i < MEM_ORDERS; i++) {
        if (m->data.sagas[i].used && strcmp(m->data.sagas[i].s.id, saga_id) == 0) {
            memcpy(order_id, m->data.sagas[i].s.order_id, OMS_UUID_LEN + 1);
            return OMS_OK;
        }
    }
    return oms_error_set(err, OMS_ENOTFOUND, NULL, "no saga %s", saga_id);
}

static void copy_text(char *dst, size_t cap, bool *has, const char *src)
{
    *has = src != NULL;
    snprintf(dst, cap, "%s", src ? src : "");
}

static oms_err saga_hold(saga_repo *r, oms_tx *tx, oms_arena *a, const char *saga_id, const saga_held_reply *h,
                         oms_error *err)
{
    (void)tx;
    (void)a;
    mem_store *m = store_of(r->self);
    if (m->data.held_count >= MEM_HELD)
        return oms_error_set(err, OMS_ENOMEM, NULL, "held replies full");
    mem_held *row = &m->data.held[m->data.held_count++];
    snprintf(row->saga_id, sizeof row->saga_id, "%s", saga_id);
    row->h = *h;
    copy_text(row->command_id, sizeof row->command_id, &row->has_command_id, h->claim.command_id);
    copy_text(row->reason, sizeof row->reason, &row->has_reason, h->reason);
    copy_text(row->event_id, sizeof row->event_id, &row->has_event_id, h->event_id);
    bool has_detail;
    copy_text(row->detail, sizeof row->detail, &has_detail, h->detail);
    return OMS_OK;
}

static oms_err saga_take_held(saga_repo *r, oms_tx *tx, oms_arena *a, const char *saga_id, saga_held_reply **out,
                              size_t *count, oms_error *err)
{
    (void)tx;
    mem_store *m = store_of(r->self);
    *out = oms_arena_calloc(a, MEM_HELD, sizeof **out);
    if (!*out)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    *count = 0;
    size_t kept = 0;
    for (size_t i = 0; i < m->data.held_count; i++) {
        mem_held *row = &m->data.held[i];
        if (strcmp(row->saga_id, saga_id) != 0) {
            m->data.held[kept++] = *row;
            continue;
        }
        saga_held_reply *h = &(*out)[(*count)++];
        *h = row->h;
        h->claim.command_id = row->has_command_id ? oms_arena_strdup(a, row->command_id) : NULL;
        h->reason = row->has_reason ? oms_arena_strdup(a, row->reason) : NULL;
        h->event_id = row->has_event_id ? oms_arena_strdup(a, row->event_id) : NULL;
        h->detail = oms_arena_strdup(a, row->detail);
    }
    m->data.held_count = kept;
    return OMS_OK;
}

static oms_err saga_record_orphan(saga_repo *r, oms_tx *tx, oms_arena *a, const saga_orphan_reply *o, oms_error *err)
{
    (void)tx;
    (void)a;
    (void)o;
    (void)err;
    store_of(r->self)->data.orphan_count++;
    return OMS_OK;
}

/* Not modelled: waiting_on_dead_letter is derived in SQL only. */
static oms_err saga_replace_dead_lettered(saga_repo *r, oms_tx *tx, oms_arena *a, const char *const *order_ids,
                                          const char *const *counts, size_t n, oms_error *err)
{
    (void)r, (void)tx, (void)a, (void)order_ids, (void)counts, (void)n, (void)err;
    return OMS_OK;
}

static const saga_repo_ops saga_ops = {.insert = saga_insert,
                                       .load_for_update = saga_load,
                                       .update = saga_update,
                                       .append_log = saga_append,
                                       .lock_due = saga_lock_due,
                                       .order_of = saga_order_of,
                                       .hold_reply = saga_hold,
                                       .take_held = saga_take_held,
                                       .record_orphan = saga_record_orphan,
                                       .replace_dead_lettered = saga_replace_dead_lettered};

/* ---- read model ---- */

static oms_err view_project(order_read_model *rm, oms_tx *tx, oms_arena *a, const order *o, oms_error *err)
{
    (void)tx;
    (void)a;
    mem_store *m = store_of(rm->self);
    mem_order *row = find_in(m->data.view, o->id);
    if (!row)
        row = free_slot(m->data.view);
    if (!row)
        return oms_error_set(err, OMS_ENOMEM, NULL, "store full");
    copy_order_in(row, o);
    return OMS_OK;
}

static oms_err view_get(order_read_model *rm, oms_arena *a, const char *id, order *out, oms_error *err)
{
    mem_order *row = find_in(store_of(rm->self)->data.view, id);
    if (!row)
        return oms_error_set(err, OMS_ENOTFOUND, NULL, "order not found");
    return copy_order_out(a, row, out, err);
}

/* Newer first: created_at, then id, descending. */
static bool newer(const mem_order *x, const mem_order *y)
{
    if (x->created_at_ms != y->created_at_ms)
        return x->created_at_ms > y->created_at_ms;
    return strcmp(x->id, y->id) > 0;
}

static bool matches(const mem_order *row, const order_list_filter *f)
{
    if (!row->used)
        return false;
    if (f->customer_id && strcmp(row->customer_id, f->customer_id) != 0)
        return false;
    if (f->has_status && row->status != f->status)
        return false;
    if (f->has_cursor) {
        mem_order cursor = {.created_at_ms = f->cursor_created_ms};
        memcpy(cursor.id, f->cursor_id, sizeof cursor.id);
        if (!newer(&cursor, row))
            return false;
    }
    return true;
}

static oms_err view_list(order_read_model *rm, oms_arena *a, const order_list_filter *f, order **out, size_t *count,
                         oms_error *err)
{
    mem_store *m = store_of(rm->self);
    *out = oms_arena_calloc(a, MEM_ORDERS, sizeof **out);
    if (!*out)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    *count = 0;
    bool taken[MEM_ORDERS] = {0};
    while ((int)*count < f->limit) {
        int best = -1;
        for (int i = 0; i < MEM_ORDERS; i++)
            if (!taken[i] && matches(&m->data.view[i], f) && (best < 0 || newer(&m->data.view[i], &m->data.view[best])))
                best = i;
        if (best < 0)
            break;
        taken[best] = true;
        oms_err rc = copy_order_out(a, &m->data.view[best], &(*out)[(*count)++], err);
        if (rc != OMS_OK)
            return rc;
    }
    return OMS_OK;
}

static oms_err view_count(order_read_model *rm, oms_arena *a, const char *customer_id, int64_t *count, oms_error *err)
{
    (void)a;
    (void)err;
    mem_store *m = store_of(rm->self);
    *count = 0;
    for (int i = 0; i < MEM_ORDERS; i++)
        if (m->data.view[i].used && strcmp(m->data.view[i].customer_id, customer_id) == 0)
            (*count)++;
    return OMS_OK;
}

static oms_err view_steps(order_read_model *rm, oms_arena *a, const char *saga_id, saga_log_entry **out, size_t *count,
                          oms_error *err)
{
    mem_store *m = store_of(rm->self);
    *out = oms_arena_calloc(a, m->data.log_count + 1, sizeof **out);
    if (!*out)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    *count = 0;
    for (size_t i = 0; i < m->data.log_count; i++) {
        mem_log *row = &m->data.log[i];
        if (strcmp(row->saga_id, saga_id) != 0)
            continue;
        saga_log_entry *e = &(*out)[(*count)++];
        *e = row->e;
        e->event_id = row->has_event_id ? oms_arena_strdup(a, row->event_id) : NULL;
        e->detail = oms_arena_strdup(a, row->detail);
    }
    return OMS_OK;
}

/* The read model's rules for stuck_only and the stuck reason
 * (order_read_model.h), this fake's own copy. */
static saga_stuck_reason stuck_reason_of(const saga *s, const saga_list_filter *f)
{
    if (order_status_is_final(s->state))
        return SAGA_STUCK_NONE;
    if (s->paused)
        return SAGA_STUCK_PAUSED;
    if (s->state == ORDER_COMPENSATING && s->attempts >= f->compensation_limit)
        return SAGA_STUCK_COMPENSATION_BLOCKED;
    if (s->deadline_ms != 0 && s->deadline_ms < f->now_ms)
        return SAGA_STUCK_DEADLINE_EXCEEDED;
    return s->attempts > 1 ? SAGA_STUCK_RETRYING : SAGA_STUCK_NONE;
}

static bool stuck(const saga *s, const saga_list_filter *f)
{
    if (order_status_is_final(s->state))
        return false;
    return s->state == ORDER_COMPENSATING || (s->deadline_ms != 0 && s->deadline_ms < f->now_ms) ||
           stuck_reason_of(s, f) != SAGA_STUCK_NONE;
}

/* Sort, cursor and created_before are not modelled: slot order. */
static bool saga_matches(const mem_store *m, const saga *s, const saga_list_filter *f)
{
    const mem_order *o = NULL;
    for (int i = 0; i < MEM_ORDERS && !o; i++)
        if (m->data.view[i].used && strcmp(m->data.view[i].id, s->order_id) == 0)
            o = &m->data.view[i];
    return (!f->has_state || s->state == f->state) && (!f->has_step || s->step == f->step) &&
           (!f->has_stuck_reason || stuck_reason_of(s, f) == f->stuck_reason) &&
           (!f->order_id || strcmp(f->order_id, s->order_id) == 0) &&
           (!f->customer_id || (o && strcmp(o->customer_id, f->customer_id) == 0)) && (!f->stuck_only || stuck(s, f)) &&
           (!f->inconsistent_only || s->inconsistency[0]);
}

static oms_err view_sagas(order_read_model *rm, oms_arena *a, const saga_list_filter *f, saga **out, size_t *count,
                          oms_error *err)
{
    mem_store *m = store_of(rm->self);
    *out = oms_arena_calloc(a, MEM_ORDERS, sizeof **out);
    if (!*out)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    *count = 0;
    for (int i = 0; i < MEM_ORDERS && (int)*count < f->limit; i++) {
        const mem_saga *row = &m->data.sagas[i];
        if (!row->used || !saga_matches(m, &row->s, f))
            continue;
        saga *s = &(*out)[(*count)++];
        *s = row->s;
        s->stuck = stuck_reason_of(s, f);
        const mem_order *o = mem_find_view(m, s->order_id);
        if (o) {
            snprintf(s->customer_id, sizeof s->customer_id, "%s", o->customer_id);
            s->total_cents = o->total_cents;
        }
    }
    return OMS_OK;
}

static oms_err view_count_sagas(order_read_model *rm, oms_arena *a, const saga_list_filter *f, int64_t *count,
                                oms_error *err)
{
    (void)a;
    (void)err;
    mem_store *m = store_of(rm->self);
    *count = 0;
    for (int i = 0; i < MEM_ORDERS; i++)
        *count += m->data.sagas[i].used && saga_matches(m, &m->data.sagas[i].s, f);
    return OMS_OK;
}

/* Ages are not modelled: every open saga is in the first bucket. */
static oms_err view_saga_stats(order_read_model *rm, oms_arena *a, int64_t now_ms, int compensation_limit,
                               saga_stats *out, oms_error *err)
{
    (void)a;
    (void)err;
    mem_store *m = store_of(rm->self);
    const saga_list_filter f = {.now_ms = now_ms, .compensation_limit = compensation_limit};
    memset(out, 0, sizeof *out);
    for (int i = 0; i < MEM_ORDERS; i++) {
        const saga *s = &m->data.sagas[i].s;
        if (!m->data.sagas[i].used || order_status_is_final(s->state))
            continue;
        out->stuck[stuck_reason_of(s, &f)][s->step]++;
        out->age_bucket[0]++;
        out->open++;
    }
    return OMS_OK;
}

static const order_read_model_ops view_ops = {.project = view_project,
                                              .get = view_get,
                                              .list = view_list,
                                              .count_by_customer = view_count,
                                              .saga_steps = view_steps,
                                              .list_sagas = view_sagas,
                                              .count_sagas = view_count_sagas,
                                              .saga_stats = view_saga_stats};

/* ---- outbox, clock, ids ---- */

static oms_err outbox_send(order_outbox *o, oms_tx *tx, oms_arena *a, const outbound_message *msg,
                           char event_id_out[OMS_UUID_LEN + 1], oms_error *err)
{
    (void)tx;
    (void)a;
    mem_store *m = store_of(o->self);
    if (m->fail_outbox_after > 0 && --m->fail_outbox_after == 0)
        return oms_error_set(err, OMS_EUNAVAILABLE, NULL, "outbox down (injected)");
    if (m->poison_order_id[0] && strcmp(m->poison_order_id, msg->order->id) == 0)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "poisoned order (injected)");
    if (m->data.message_count >= MEM_MESSAGES)
        return oms_error_set(err, OMS_ENOMEM, NULL, "outbox full");
    mem_message *row = &m->data.messages[m->data.message_count++];
    memset(row, 0, sizeof *row);
    row->type = msg->type;
    snprintf(row->order_id, sizeof row->order_id, "%s", msg->order->id);
    snprintf(row->command_id, sizeof row->command_id, "%s", msg->command_id ? msg->command_id : "");
    snprintf(row->reason, sizeof row->reason, "%s", msg->reason ? msg->reason : "");
    snprintf(row->correlation_id, sizeof row->correlation_id, "%s", msg->correlation_id ? msg->correlation_id : "");
    row->status = msg->order->status;
    row->previous_status = msg->previous_status;
    row->amount_cents = msg->order->total_cents;
    row->item_count = msg->order->item_count;
    snprintf(row->event_id, sizeof row->event_id, "eeeeeeee-0000-4000-8000-%012u", ++m->next_id);
    memcpy(event_id_out, row->event_id, OMS_UUID_LEN + 1);
    return OMS_OK;
}

static const order_outbox_ops outbox_ops = {outbox_send};

static int64_t mem_now(oms_clock *c) { return store_of(c->self)->now_ms; }

static void mem_new_id(id_generator *g, char out[OMS_UUID_LEN + 1])
{
    mem_store *m = store_of(g->self);
    snprintf(out, OMS_UUID_LEN + 1, "00000000-0000-4000-8000-%012u", ++m->next_id);
}

/* ---- the catalog's prices ---- */

static mem_price *price_entry(mem_data *d, const char *product_id)
{
    for (size_t i = 0; i < d->catalog_count; i++)
        if (strcmp(d->catalog[i].product_id, product_id) == 0)
            return &d->catalog[i];
    return NULL;
}

static oms_err catalog_prices_of(catalog *c, oms_tx *tx, oms_arena *a, const char *const *ids, size_t n,
                                 int64_t *prices, oms_error *err)
{
    (void)tx, (void)a, (void)err;
    mem_store *m = store_of(c->self);
    for (size_t i = 0; i < n; i++) {
        const mem_price *e = price_entry(&m->data, ids[i]);
        prices[i] = e ? e->price_cents : ORDER_NO_CATALOG_PRICE;
    }
    return OMS_OK;
}

static oms_err catalog_apply_price(catalog *c, oms_tx *tx, oms_arena *a, const char *product_id, int64_t price_cents,
                                   int64_t version, oms_error *err)
{
    (void)tx, (void)a;
    mem_data *d = &store_of(c->self)->data;
    mem_price *e = price_entry(d, product_id);
    if (!e && d->catalog_count == MEM_CATALOG)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "memory catalog full");
    if (!e) {
        e = &d->catalog[d->catalog_count++];
        snprintf(e->product_id, sizeof e->product_id, "%s", product_id);
    } else if (e->version >= version) {
        return OMS_OK;
    }
    e->price_cents = price_cents;
    e->version = version;
    return OMS_OK;
}

static const catalog_ops catalog_port_ops = {catalog_prices_of, catalog_apply_price};

void mem_set_price(mem_store *m, const char *product_id, int64_t price_cents)
{
    const mem_price *e = price_entry(&m->data, product_id);
    catalog_apply_price(&m->catalog, NULL, NULL, product_id, price_cents, e ? e->version + 1 : 1, NULL);
}

bool mem_price_of(const mem_store *m, const char *product_id, int64_t *price_cents, int64_t *version)
{
    const mem_price *e = price_entry((mem_data *)&m->data, product_id);
    if (e) {
        *price_cents = e->price_cents;
        *version = e->version;
    }
    return e != NULL;
}

static const oms_clock_ops clock_ops = {mem_now};
static const id_generator_ops id_ops = {mem_new_id};

mem_store *mem_store_create(const saga_settings *cfg)
{
    mem_store *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->now_ms = 1700000000000;
    m->tx = (oms_tx_manager){&tx_ops, m};
    m->orders = (order_repo){&order_ops, m};
    m->sagas = (saga_repo){&saga_ops, m};
    m->read_model = (order_read_model){&view_ops, m};
    m->outbox = (order_outbox){&outbox_ops, m};
    m->clock = (oms_clock){&clock_ops, m};
    m->ids = (id_generator){&id_ops, m};
    m->catalog = (catalog){&catalog_port_ops, m};
    test_audit_log_init(&m->audit, offsetof(mem_store, data) + offsetof(mem_data, audit));
    m->app = (order_app){&m->tx,  &m->orders, &m->sagas,   &m->read_model, &m->outbox, &m->clock,
                         &m->ids, *cfg,       &m->catalog, &m->audit.port, NULL};
    m->queries = (order_queries){&m->read_model, &m->clock, &m->app.saga};
    mem_set_price(m, "product-1", 1050);
    mem_set_price(m, "product-2", 99);
    return m;
}

const mem_saga *mem_find_saga(const mem_store *m, const char *order_id) { return find_saga((mem_store *)m, order_id); }

const mem_order *mem_find_order(const mem_store *m, const char *order_id)
{
    return find_in((mem_order *)m->data.orders, order_id);
}

const mem_order *mem_find_view(const mem_store *m, const char *order_id)
{
    return find_in((mem_order *)m->data.view, order_id);
}

size_t mem_order_count(const mem_store *m)
{
    size_t n = 0;
    for (int i = 0; i < MEM_ORDERS; i++)
        n += m->data.orders[i].used;
    return n;
}

const mem_message *mem_last_message(const mem_store *m, const char *order_id, oms_msg_type type)
{
    for (size_t i = m->data.message_count; i-- > 0;)
        if (m->data.messages[i].type == type && strcmp(m->data.messages[i].order_id, order_id) == 0)
            return &m->data.messages[i];
    return NULL;
}

size_t mem_message_count(const mem_store *m, const char *order_id, oms_msg_type type)
{
    size_t n = 0;
    for (size_t i = 0; i < m->data.message_count; i++)
        n += m->data.messages[i].type == type && strcmp(m->data.messages[i].order_id, order_id) == 0;
    return n;
}

size_t mem_log_count(const mem_store *m, const char *saga_id, saga_log_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < m->data.log_count; i++)
        n += m->data.log[i].e.kind == kind && strcmp(m->data.log[i].saga_id, saga_id) == 0;
    return n;
}
