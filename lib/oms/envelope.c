/* envelope.c -- the SPEC section 4 message envelope, parsed and built. */
#include "envelope.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

#define ENVELOPE_TEXT_MAX 128

static oms_err read_uuid(const json_t *doc, const char *key, char out[OMS_UUID_LEN + 1], oms_error *err)
{
    const char *s = NULL;
    oms_err rc = oms_json_string(doc, key, key, OMS_UUID_LEN, true, &s, err);
    if (rc != OMS_OK)
        return rc;
    if (!oms_uuid_valid(s))
        return oms_error_set(err, OMS_EINVAL, key, "%s must be a UUID", key);
    memcpy(out, s, OMS_UUID_LEN + 1);
    return OMS_OK;
}

oms_err oms_envelope_parse(oms_arena *a, const char *text, size_t len, oms_envelope *out, oms_error *err)
{
    json_t *doc = NULL;
    oms_err rc = oms_json_parse(a, text, len, &doc, err);
    if (rc != OMS_OK)
        return rc;
    if (!json_is_object(doc))
        return oms_error_set(err, OMS_EINVAL, NULL, "the envelope must be a JSON object");
    oms_envelope env;
    memset(&env, 0, sizeof env);
    rc = read_uuid(doc, "event_id", env.event_id, err);
    if (rc == OMS_OK)
        rc = oms_json_string(doc, "event_type", "event_type", ENVELOPE_TEXT_MAX, true, &env.event_type, err);
    bool about_an_order = json_object_get(doc, "saga_id") || json_object_get(doc, "order_id");
    if (rc == OMS_OK && about_an_order)
        rc = read_uuid(doc, "saga_id", env.saga_id, err);
    if (rc == OMS_OK && about_an_order)
        rc = read_uuid(doc, "order_id", env.order_id, err);
    if (rc == OMS_OK)
        rc = oms_json_string(doc, "occurred_at", "occurred_at", ENVELOPE_TEXT_MAX, true, &env.occurred_at, err);
    if (rc != OMS_OK)
        return rc;
    json_t *corr = json_object_get(doc, "correlation_id");
    bool empty_string = json_is_string(corr) && json_string_length(corr) == 0;
    if (corr && !json_is_null(corr) && !empty_string) {
        rc = oms_json_string(doc, "correlation_id", "correlation_id", ENVELOPE_TEXT_MAX, false, &env.correlation_id,
                             err);
        if (rc != OMS_OK)
            return rc;
    }
    if (!env.correlation_id)
        env.correlation_id = "";
    env.payload = json_object_get(doc, "payload");
    if (!json_is_object(env.payload))
        return oms_error_set(err, OMS_EINVAL, "payload", "payload must be an object");
    *out = env;
    return OMS_OK;
}

char *oms_envelope_build(oms_arena *a, const char *event_type, const char *saga_id, const char *order_id,
                         const char *correlation_id, const json_t *payload, char event_id_out[OMS_UUID_LEN + 1])
{
    char event_id[OMS_UUID_LEN + 1];
    char occurred_at[32];
    oms_uuid_new(event_id);
    oms_time_format(oms_now_ms(), occurred_at, sizeof occurred_at);
    json_t *doc = json_object();
    if (!doc)
        return NULL;
    int failed = 0;
    failed |= json_object_set_new(doc, "event_id", json_string(event_id));
    failed |= json_object_set_new(doc, "event_type", json_string(event_type ? event_type : ""));
    if (saga_id || order_id) {
        failed |= json_object_set_new(doc, "saga_id", json_string(saga_id ? saga_id : ""));
        failed |= json_object_set_new(doc, "order_id", json_string(order_id ? order_id : ""));
    }
    failed |= json_object_set_new(doc, "occurred_at", json_string(occurred_at));
    failed |= json_object_set_new(doc, "correlation_id", json_string(correlation_id ? correlation_id : ""));
    /* json_object_set (not _new) takes its own reference: the payload stays the caller's. */
    if (payload)
        failed |= json_object_set(doc, "payload", (json_t *)payload);
    else
        failed |= json_object_set_new(doc, "payload", json_object());
    char *text = failed ? NULL : oms_json_dump(a, doc, NULL);
    json_decref(doc);
    if (text && event_id_out)
        memcpy(event_id_out, event_id, OMS_UUID_LEN + 1);
    return text;
}
