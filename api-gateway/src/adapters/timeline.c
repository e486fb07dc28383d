/* timeline.c -- see timeline.h. */
#include "timeline.h"

#include <string.h>

#include "oms/json.h"

static const gateway_service participants[] = {GATEWAY_PAYMENT_SERVICE, GATEWAY_INVENTORY_SERVICE};

/* "a,b,c" of the document's event_ids; NULL when there are none. */
static const char *joined_ids(oms_arena *a, const json_t *ids)
{
    size_t n = json_array_size(ids), len = 0;
    for (size_t i = 0; i < n; i++)
        len += json_string_length(json_array_get(ids, i)) + 1;
    if (len == 0)
        return NULL;
    char *out = oms_arena_alloc(a, len);
    if (!out)
        return NULL;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        if (!id)
            continue;
        size_t l = strlen(id);
        memcpy(out + at, id, l);
        at += l;
        out[at++] = ',';
    }
    out[at ? at - 1 : 0] = '\0';
    return out;
}

/* One participant's HANDLED entries appended to `entries`; false when it
 * did not answer with its inbox rows. */
static bool add_participant(proxy *p, gateway_service s, const char *internal_key, const char *request_id, oms_arena *a,
                            const char *ids, json_t *entries)
{
    upstream_request rq = {.method = "GET",
                           .path = "/internal/inbox",
                           .query = {{.name = "event_ids", .value = ids}},
                           .query_count = 1,
                           .request_id = request_id,
                           .internal_key = internal_key,
                           .role = "viewer",
                           .subject = "",
                           .principal_id = "api-gateway"};
    upstream_response out;
    if (proxy_forward(p, s, &rq, a, &out) != PROXY_OK || out.status != 200)
        return false;
    json_t *doc = NULL;
    oms_error err;
    if (oms_json_parse_request(a, out.body, out.body_len, &doc, &err) != OMS_OK)
        return false;
    const json_t *rows = json_object_get(doc, "handled");
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row)
    {
        json_t *item = json_pack("{s:O, s:O, s:s, s:s, s:O, s:O}", "at", json_object_get(row, "handled_at"), "at_ms",
                                 json_object_get(row, "handled_at_ms"), "service", gateway_service_name(s), "kind",
                                 "HANDLED", "event_id", json_object_get(row, "event_id"), "consumer",
                                 json_object_get(row, "consumer"));
        if (!item || json_array_append_new(entries, item) != 0)
            return false;
    }
    return true;
}

static json_int_t at_ms(const json_t *entry) { return json_integer_value(json_object_get(entry, "at_ms")); }

/* Stable insertion sort by at_ms: a few dozen entries, already mostly in
 * order (order-service's own come sorted; the participants' are appended). */
static void sort_entries(json_t *entries)
{
    size_t n = json_array_size(entries);
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && at_ms(json_array_get(entries, j - 1)) > at_ms(json_array_get(entries, j)); j--) {
            json_t *earlier = json_incref(json_array_get(entries, j));
            json_array_set(entries, j, json_array_get(entries, j - 1));
            json_array_set_new(entries, j - 1, earlier);
        }
    }
}

json_t *gateway_timeline_complete(proxy *p, const char *internal_key, const char *request_id, oms_arena *arena,
                                  const upstream_response *order_part)
{
    json_error_t error;
    json_t *doc = json_loadb(order_part->body, order_part->body_len, 0, &error);
    json_t *entries = json_object_get(doc, "entries");
    json_t *status = json_object();
    if (!json_is_array(entries) || !status) {
        json_decref(status);
        json_decref(doc);
        return NULL;
    }
    const char *ids = joined_ids(arena, json_object_get(doc, "event_ids"));
    for (size_t i = 0; i < sizeof participants / sizeof participants[0]; i++) {
        bool ok = !ids || add_participant(p, participants[i], internal_key, request_id, arena, ids, entries);
        json_object_set_new(status, gateway_service_name(participants[i]), json_string(ok ? "ok" : "unavailable"));
    }
    sort_entries(entries);
    json_object_set_new(doc, "participants", status);
    return doc;
}
