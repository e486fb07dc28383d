/* envelope.c -- the SPEC section 4 message envelope, parsed and built. */
#include "envelope.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "sha256.h"

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

bool oms_trace_id_of_saga(const char *saga_id, char out[OMS_TRACE_ID_LEN + 1])
{
    size_t n = 0;
    out[0] = '\0';
    if (!saga_id || !oms_uuid_valid(saga_id))
        return false;
    for (const char *p = saga_id; *p && n < OMS_TRACE_ID_LEN; p++) {
        if (*p != '-')
            out[n++] = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
    }
    out[n] = '\0';
    return n == OMS_TRACE_ID_LEN;
}

bool oms_traceparent_of(const char *saga_id, const char *event_id, char out[OMS_TRACEPARENT_LEN + 1])
{
    char trace[OMS_TRACE_ID_LEN + 1];
    char digest[OMS_SHA256_HEX_LEN + 1];
    out[0] = '\0';
    if (!oms_trace_id_of_saga(saga_id, trace) || !event_id || !oms_uuid_valid(event_id) ||
        !oms_sha256_hex(event_id, strlen(event_id), digest))
        return false;
    snprintf(out, OMS_TRACEPARENT_LEN + 1, "00-%s-%.16s-01", trace, digest);
    return true;
}

/* version 00, 32 and 16 lower-case hex digits, neither all zeros, flags */
static bool valid_traceparent(const char *s)
{
    if (strlen(s) != OMS_TRACEPARENT_LEN || strncmp(s, "00-", 3) != 0 || s[35] != '-' || s[52] != '-')
        return false;
    bool trace_zero = true, span_zero = true;
    for (size_t i = 3; i < OMS_TRACEPARENT_LEN; i++) {
        if (i == 35 || i == 52)
            continue;
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        if (i < 35 && c != '0')
            trace_zero = false;
        if (i > 35 && i < 52 && c != '0')
            span_zero = false;
    }
    return !trace_zero && !span_zero;
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
    /* W3C: a traceparent that is not valid is ignored, never a reason to refuse the message */
    const char *traceparent = json_string_value(json_object_get(doc, "traceparent"));
    if (traceparent && valid_traceparent(traceparent))
        memcpy(env.traceparent, traceparent, OMS_TRACEPARENT_LEN + 1);
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
    char traceparent[OMS_TRACEPARENT_LEN + 1];
    if (oms_traceparent_of(saga_id, event_id, traceparent))
        failed |= json_object_set_new(doc, "traceparent", json_string(traceparent));
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
