/* order_waits.c -- see order_waits.h. The first look is on the handler's
 * thread (most waits are over at once: an order that already ended, events
 * the client has not seen); only then is the request parked. */
#include "adapters/order_waits.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/order_json.h"
#include "oms/json.h"
#include "oms/service_auth.h"

#define SSE_RETRY_MS 500
#define EVENT_ID_MAX 1000000000L

/* What one parked request waits for; in its arena. */
typedef struct order_waiter {
    order_queries *queries;
    const oms_principal *who;
    const char *order_id;
    long after_id;            /* events: the last id the client has; -1: none */
    int64_t seen_modified_ms; /* events: the order's modified_at at the last look */
} order_waiter;

/* 0..max whole seconds from `name`, default `fallback`; else answers 400. */
static bool seconds_param(oms_http_request *req, oms_http_response *res, const char *name, int fallback, int *out)
{
    const char *text = oms_http_query(req, name);
    *out = fallback;
    if (!text)
        return true;
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || text[0] == '+' || v > ORDER_WAIT_MAX_S) {
        char message[96];
        snprintf(message, sizeof message, "%s must be a whole number of seconds from 0 to %d", name, ORDER_WAIT_MAX_S);
        oms_http_respond_error(req, res, 400, "invalid_argument", message, name);
        return false;
    }
    *out = (int)v;
    return true;
}

static order_waiter *new_waiter(order_queries *q, oms_http_request *req, oms_http_response *res)
{
    const oms_principal *who = oms_request_principal(req, res);
    if (!who)
        return NULL;
    order_waiter *w = oms_arena_calloc(req->arena, 1, sizeof *w);
    if (!w) {
        oms_http_respond_error(req, res, 503, "service_unavailable", "out of memory", NULL);
        return NULL;
    }
    *w = (order_waiter){.queries = q, .who = who, .order_id = req->params[0], .after_id = -1};
    return w;
}

/* Reads the order; on failure answers the error (404 for another's). */
static bool read_order(order_waiter *w, oms_http_request *req, oms_http_response *res, oms_arena *a, order *o)
{
    oms_error err;
    oms_error_clear(&err);
    if (order_query_get(w->queries, a, w->who, w->order_id, o, &err) == OMS_OK)
        return true;
    oms_http_respond_oms_error(req, res, &err);
    return false;
}

/* ---- ?wait=final ---- */

static bool settled(order_status s) { return s == ORDER_INVENTORY_CONFIRMED || order_status_is_final(s); }

static bool check_final(void *state, oms_http_request *req, oms_http_response *res, bool expired, oms_arena *a)
{
    order_waiter *w = state;
    order o;
    if (!read_order(w, req, res, a, &o))
        return true;
    if (!settled(o.status) && !expired)
        return false;
    oms_http_respond_doc(req, res, 200, order_document_json(&o));
    return true;
}

void order_wait_final(order_queries *q, oms_http_waits *room, oms_http_request *req, oms_http_response *res)
{
    const char *wait = oms_http_query(req, "wait");
    if (strcmp(wait, "final") != 0) {
        oms_http_respond_error(req, res, 400, "invalid_argument", "wait must be \"final\"", "wait");
        return;
    }
    int timeout_s = 0;
    if (!seconds_param(req, res, "timeout_s", ORDER_WAIT_MAX_S, &timeout_s))
        return;
    order_waiter *w = new_waiter(q, req, res);
    if (!w)
        return;
    if (check_final(w, req, res, timeout_s == 0, req->arena))
        return;
    oms_http_wait(room, req, res, timeout_s * 1000, check_final, w);
}

/* ---- /events ---- */

/* One status change as an SSE event, appended to *out (NULL: out of memory). */
static char *append_event(oms_arena *a, char *out, long id, const char *order_id, order_status from, order_status to,
                          int64_t at_ms)
{
    char at[40];
    json_t *data = json_pack("{s:s, s:s, s:o, s:s, s:b}", "order_id", order_id, "status", order_status_name(to),
                             "previous_status", id == 0 ? json_null() : json_string(order_status_name(from)), "at",
                             oms_time_format(at_ms, at, sizeof at), "final", order_status_is_final(to));
    char *text = data ? oms_json_dump(a, data, NULL) : NULL;
    json_decref(data);
    return text && out ? oms_arena_sprintf(a, "%sid: %ld\nevent: status\ndata: %s\n\n", out, id, text) : NULL;
}

/* The stream's text: the status changes after w->after_id, each once, in the
 * log's order (`count` of them); then `end` when the order has ended. NULL
 * when out of memory. */
static char *status_events(order_waiter *w, oms_arena *a, const order *o, const saga_history *h, size_t *count)
{
    char *out = oms_arena_sprintf(a, "retry: %d\n\n", SSE_RETRY_MS);
    *count = 0;
    if (w->after_id < 0) {
        out = append_event(a, out, 0, o->id, ORDER_CREATED, ORDER_CREATED, o->created_at_ms);
        (*count)++;
    }
    /* A move is logged by several rows (the state change, the command it
     * sends): the event is the first row that reaches a new status. */
    order_status current = ORDER_CREATED;
    for (size_t i = 0; i < h->step_count; i++) {
        const saga_log_entry *e = &h->steps[i];
        if (e->to_state == current)
            continue;
        if (e->seq > w->after_id) {
            out = append_event(a, out, e->seq, o->id, current, e->to_state, e->at_ms);
            (*count)++;
        }
        current = e->to_state;
    }
    if (out && order_status_is_final(o->status))
        out = oms_arena_sprintf(a, "%sevent: end\ndata: {\"status\":\"%s\"}\n\n", out, order_status_name(o->status));
    return out;
}

static void respond_stream(oms_http_request *req, oms_http_response *res, const char *body)
{
    oms_http_add_header(req, res, "Cache-Control", "no-cache");
    oms_http_add_header(req, res, "X-Accel-Buffering", "no"); /* for a proxy in front: pass it on at once */
    oms_http_respond_text(req, res, 200, "text/event-stream", body, strlen(body));
}

static bool check_events(void *state, oms_http_request *req, oms_http_response *res, bool expired, oms_arena *a)
{
    order_waiter *w = state;
    order o;
    if (!read_order(w, req, res, a, &o))
        return true;
    /* The log is read only when the order moved since the last look. */
    if (!expired && w->after_id >= 0 && o.modified_at_ms == w->seen_modified_ms)
        return false;
    w->seen_modified_ms = o.modified_at_ms;
    saga_history h;
    oms_error err;
    oms_error_clear(&err);
    if (order_query_saga(w->queries, a, w->who, w->order_id, &h, &err) != OMS_OK) {
        oms_http_respond_oms_error(req, res, &err);
        return true;
    }
    size_t count = 0;
    char *body = status_events(w, a, &o, &h, &count);
    if (!body) {
        oms_http_respond_error(req, res, 503, "service_unavailable", "out of memory", NULL);
        return true;
    }
    if (count == 0 && !order_status_is_final(o.status) && !expired)
        return false;
    respond_stream(req, res, body);
    return true;
}

/* The client's last event id: the Last-Event-ID header (an EventSource's
 * reconnect) or ?last_event_id; -1 when none. */
static bool last_event_id(oms_http_request *req, oms_http_response *res, long *out)
{
    const char *text = oms_http_header(req, "Last-Event-ID");
    const char *field = "Last-Event-ID";
    if (!text || !*text) {
        text = oms_http_query(req, "last_event_id");
        field = "last_event_id";
    }
    *out = -1;
    if (!text || !*text)
        return true;
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || text[0] == '-' || text[0] == '+' || v > EVENT_ID_MAX) {
        oms_http_respond_error(req, res, 400, "invalid_argument", "the last event id must be an event's id", field);
        return false;
    }
    *out = v;
    return true;
}

void order_events(order_queries *q, oms_http_waits *room, oms_http_request *req, oms_http_response *res)
{
    int timeout_s = 0;
    long after = -1;
    if (!seconds_param(req, res, "timeout_s", ORDER_WAIT_MAX_S, &timeout_s) || !last_event_id(req, res, &after))
        return;
    order_waiter *w = new_waiter(q, req, res);
    if (!w)
        return;
    w->after_id = after;
    if (check_events(w, req, res, timeout_s == 0, req->arena))
        return;
    oms_http_wait(room, req, res, timeout_s * 1000, check_events, w);
}
