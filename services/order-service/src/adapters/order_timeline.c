/* order_timeline.c -- see order_timeline.h. Every read is by key: the
 * order's view and saga rows, its saga log (primary key saga_id, seq), the
 * inbox by event id (index inbox_event_id) and the bus's dead letters of
 * the order; so the timeline costs the same with 100,000 orders as with
 * ten. */
#include "adapters/order_timeline.h"

#include <string.h>

#include "oms/audit_pg.h"
#include "oms/envelope.h"
#include "oms/inbox.h"
#include "oms/json.h"
#include "oms/service_auth.h"

#define DEAD_LETTERS_MAX 50
#define ACTIONS_MAX 100

static json_t *time_json(int64_t ms)
{
    char text[40];
    return ms ? json_string(oms_time_format(ms, text, sizeof text)) : json_null();
}

static json_t *string_or_null(const char *s) { return s ? json_string(s) : json_null(); }

/* ---- what the rows say ---- */

/* One entry of the merged list; `at_ms` orders it. */
static json_t *entry(int64_t at_ms, const char *service, const char *kind)
{
    return json_pack("{s:o, s:I, s:s, s:s}", "at", time_json(at_ms), "at_ms", (json_int_t)at_ms, "service", service,
                     "kind", kind);
}

static bool append(json_t *list, json_t *item) { return item && json_array_append_new(list, item) == 0; }

static bool log_entries(const saga_history *h, json_t *entries)
{
    for (size_t i = 0; i < h->step_count; i++) {
        const saga_log_entry *e = &h->steps[i];
        json_t *item = entry(e->at_ms, "order-service", saga_log_kind_name(e->kind));
        if (!item || json_object_set_new(item, "seq", json_integer(e->seq)) != 0 ||
            json_object_set_new(item, "step", json_string(saga_step_name(e->step))) != 0 ||
            json_object_set_new(item, "from_state", json_string(order_status_name(e->from_state))) != 0 ||
            json_object_set_new(item, "to_state", json_string(order_status_name(e->to_state))) != 0 ||
            json_object_set_new(item, "event_id", string_or_null(e->event_id)) != 0 ||
            json_object_set_new(item, "detail", string_or_null(e->detail)) != 0 || !append(entries, item)) {
            json_decref(item);
            return false;
        }
    }
    return true;
}

/* The distinct event ids of the log, for the inbox lookups. */
static const char **event_ids(oms_arena *a, const saga_history *h, size_t *n)
{
    const char **ids = oms_arena_calloc(a, h->step_count + 1, sizeof *ids);
    *n = 0;
    for (size_t i = 0; ids && i < h->step_count && *n < OMS_INBOX_LOOKUP_MAX; i++) {
        const char *id = h->steps[i].event_id;
        bool seen = !id;
        for (size_t j = 0; !seen && j < *n; j++)
            seen = strcmp(ids[j], id) == 0;
        if (!seen)
            ids[(*n)++] = id;
    }
    return ids;
}

static bool inbox_entries(const oms_inbox_row *rows, size_t count, json_t *entries)
{
    for (size_t i = 0; i < count; i++) {
        json_t *item = entry(rows[i].handled_at_ms, "order-service", "HANDLED");
        if (!item || json_object_set_new(item, "event_id", json_string(rows[i].event_id)) != 0 ||
            json_object_set_new(item, "consumer", json_string(rows[i].consumer)) != 0 || !append(entries, item)) {
            json_decref(item);
            return false;
        }
    }
    return true;
}

static bool dead_letter_entries(const oms_dead_letter *d, size_t count, json_t *entries)
{
    for (size_t i = 0; i < count; i++) {
        json_t *item = entry(d[i].last_failure_ms, d[i].subscription, "DEAD_LETTER");
        if (!item || json_object_set_new(item, "event_id", string_or_null(d[i].event_id)) != 0 ||
            json_object_set_new(item, "event_type", string_or_null(d[i].event_type)) != 0 ||
            json_object_set_new(item, "topic", json_string(d[i].topic)) != 0 ||
            json_object_set_new(item, "detail", json_string(d[i].error ? d[i].error : "")) != 0 ||
            json_object_set_new(item, "attempts", json_integer(d[i].attempts)) != 0 ||
            json_object_set_new(item, "dead_letter_id", json_integer(d[i].id)) != 0 ||
            json_object_set_new(item, "status", json_string(oms_dead_letter_status_name(d[i].status))) != 0 ||
            !append(entries, item)) {
            json_decref(item);
            return false;
        }
    }
    return true;
}

/* The operators' (and customers') requests that acted on the saga: its
 * audit rows (index audit_log_saga), e.g. order.cancel with its reason. */
static bool action_entries(const json_t *rows, json_t *entries)
{
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row)
    {
        json_int_t at_us = json_integer_value(json_object_get(row, "at_us"));
        json_t *item = entry(at_us / 1000, "order-service", "OPERATOR_ACTION");
        if (!item || json_object_set(item, "action", json_object_get(row, "action")) != 0 ||
            json_object_set(item, "actor", json_object_get(row, "actor")) != 0 ||
            json_object_set(item, "role", json_object_get(row, "role")) != 0 ||
            json_object_set(item, "detail", json_object_get(row, "reason")) != 0 || !append(entries, item)) {
            json_decref(item);
            return false;
        }
    }
    return true;
}

/* Per saga step, in the order the steps began: attempts (commands sent,
 * first and again), from its first row to the row that moved the saga on
 * (a log row names the step the saga is in after it, so the reply to a
 * step is the first row of another step), and the saga's state before and
 * after. A step still in progress has no end (null, and its duration so
 * far is not given). */
static bool is_send(saga_log_kind k)
{
    return k == SAGA_LOG_COMMAND_SENT || k == SAGA_LOG_RETRY || k == SAGA_LOG_COMPENSATION_SENT;
}

static json_t *step_json(const saga_history *h, saga_step s, size_t first)
{
    size_t last = first;
    int attempts = 0;
    for (size_t i = first; i < h->step_count; i++) {
        if (h->steps[i].step != s)
            continue;
        last = i;
        attempts += is_send(h->steps[i].kind);
    }
    const saga_log_entry *begin = &h->steps[first];
    const saga_log_entry *end = last + 1 < h->step_count ? &h->steps[last + 1] : NULL;
    return json_pack("{s:s, s:i, s:o, s:o, s:o, s:s, s:s, s:i}", "step", saga_step_name(s), "attempts", attempts,
                     "started_at", time_json(begin->at_ms), "ended_at", time_json(end ? end->at_ms : 0), "duration_ms",
                     end ? json_integer(end->at_ms - begin->at_ms) : json_null(), "state_before",
                     order_status_name(begin->from_state), "state_after",
                     order_status_name(end ? end->to_state : h->steps[last].to_state), "first_seq", begin->seq);
}

static json_t *steps_json(const saga_history *h)
{
    json_t *steps = json_array();
    bool seen[SAGA_STEP_COUNT] = {false};
    for (size_t i = 0; steps && i < h->step_count; i++) {
        saga_step s = h->steps[i].step;
        if (s == SAGA_STEP_NONE || (unsigned)s >= SAGA_STEP_COUNT || seen[s])
            continue;
        seen[s] = true;
        if (!append(steps, step_json(h, s, i))) {
            json_decref(steps);
            return NULL;
        }
    }
    return steps;
}

/* ---- the answer ---- */

static int by_time(const void *x, const void *y)
{
    const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    json_int_t ta = json_integer_value(json_object_get(a, "at_ms")),
               tb = json_integer_value(json_object_get(b, "at_ms"));
    return ta < tb ? -1 : ta > tb;
}

/* Sorts in time order, stably (the log's own order wins at equal times). */
static json_t *sorted(oms_arena *a, json_t *entries)
{
    size_t n = json_array_size(entries);
    json_t **items = n ? oms_arena_calloc(a, n, sizeof *items) : NULL;
    json_t *out = json_array();
    if ((n && !items) || !out) {
        json_decref(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(entries, i);
    for (size_t i = 1; i < n; i++) /* insertion sort: stable, and n is a few dozen */
        for (size_t j = i; j > 0 && by_time(&items[j - 1], &items[j]) > 0; j--) {
            json_t *t = items[j - 1];
            items[j - 1] = items[j];
            items[j] = t;
        }
    for (size_t i = 0; i < n; i++)
        if (json_array_append(out, items[i]) != 0) {
            json_decref(out);
            return NULL;
        }
    return out;
}

static json_t *ids_json(const char **ids, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        if (json_array_append_new(list, json_string(ids[i])) != 0) {
            json_decref(list);
            return NULL;
        }
    return list;
}

static json_t *timeline_doc(const order *o, const saga_history *h, json_t *entries, const char **ids, size_t n)
{
    char trace[OMS_TRACE_ID_LEN + 1] = "";
    oms_trace_id_of_saga(h->saga.id, trace);
    json_t *steps = steps_json(h);
    json_t *doc = steps ? json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:b, s:I}", "order_id", o->id,
                                    "customer_id", o->customer_id, "saga_id", h->saga.id, "trace_id", trace, "status",
                                    order_status_name(o->status), "entries", entries, "steps", steps, "event_ids",
                                    ids_json(ids, n), "payment_captured", h->saga.payment_captured, "stock_reserved",
                                    h->saga.stock_reserved, "saga_version", (json_int_t)h->saga.version)
                        : NULL;
    if (!doc)
        json_decref(entries);
    return doc;
}

/* The order's dead letters, any status; none when the transport keeps none
 * it can list (pulsar: OMS_EUNSUPPORTED). */
static oms_err dead_letters(const order_timeline_deps *d, oms_arena *a, const char *order_id, oms_dead_letter **out,
                            size_t *count, oms_error *err)
{
    *out = NULL;
    *count = 0;
    if (!d->bus)
        return OMS_OK;
    oms_dead_letter_filter f = {.order_id = order_id, .any_status = true, .limit = DEAD_LETTERS_MAX};
    oms_err rc = oms_bus_dead_letters(d->bus, &f, a, out, count, err);
    if (rc == OMS_EUNSUPPORTED) {
        oms_error_clear(err);
        return OMS_OK;
    }
    return rc;
}

void order_timeline(const order_timeline_deps *d, oms_http_request *req, oms_http_response *res)
{
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return;
    oms_error err;
    oms_error_clear(&err);
    order o;
    saga_history h;
    if (order_query_get(d->queries, req->arena, who, req->params[0], &o, &err) != OMS_OK ||
        order_query_saga(d->queries, req->arena, who, o.id, &h, &err) != OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    size_t n = 0;
    const char **ids = event_ids(req->arena, &h, &n);
    oms_inbox_row *rows = NULL;
    size_t row_count = 0;
    oms_dead_letter *dead = NULL;
    size_t dead_count = 0;
    if (!ids) {
        oms_http_respond_error(req, res, 503, "service_unavailable", "out of memory", NULL);
        return;
    }
    json_t *actions = NULL;
    const oms_audit_filter by_saga = {.saga_id = h.saga.id, .limit = ACTIONS_MAX};
    if (oms_inbox_lookup(d->read_pool, req->arena, ids, n, &rows, &row_count, &err) != OMS_OK ||
        dead_letters(d, req->arena, o.id, &dead, &dead_count, &err) != OMS_OK ||
        oms_audit_list(d->read_pool, req->arena, "order-service", &by_saga, &actions, &err) != OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return;
    }
    json_t *entries = json_array();
    bool ok = entries && log_entries(&h, entries) && inbox_entries(rows, row_count, entries) &&
              dead_letter_entries(dead, dead_count, entries) && action_entries(actions, entries);
    json_t *ordered = ok ? sorted(req->arena, entries) : NULL;
    json_decref(entries);
    oms_http_respond_doc(req, res, 200, ordered ? timeline_doc(&o, &h, ordered, ids, n) : NULL);
}
