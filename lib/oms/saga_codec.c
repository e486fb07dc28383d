/* saga_codec.c -- the payload codec (see saga_codec.h). One encoder and one
 * decoder per field kind; which members a message has is the table's. */
#include "saga_codec.h"

#include <stdio.h>

#include "json.h"

#define PATH_MAX_LEN 96

static void *slot_of(oms_msg *m, const oms_msg_field *f) { return (char *)m + f->offset; }

static const void *const_slot_of(const oms_msg *m, const oms_msg_field *f) { return (const char *)m + f->offset; }

/* ---- encode ---- */

static json_t *encode_lines(const oms_inventory_lines *items)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < items->count; i++) {
        json_t *line = json_pack("{s:s, s:I}", "product_id", items->lines[i].product_id, "quantity",
                                 (json_int_t)items->lines[i].quantity);
        if (!line || json_array_append_new(array, line) != 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

/* The JSON value of one member; NULL with err set when it cannot be made. */
static json_t *encode_field(const oms_msg *m, const oms_msg_field *f, oms_error *err)
{
    const void *slot = const_slot_of(m, f);
    json_t *v = NULL;
    switch (f->kind) {
    case OMS_FIELD_STRING: {
        const char *s = *(const char *const *)slot;
        if (!s && f->required) {
            oms_error_set(err, OMS_EINVAL, f->name, "%s needs %s", oms_msg_name(m->type), f->name);
            return NULL;
        }
        v = s ? json_string(s) : json_null();
        if (!v)
            oms_error_set(err, OMS_EINVAL, f->name, "%s.%s is not UTF-8", oms_msg_name(m->type), f->name);
        return v;
    }
    case OMS_FIELD_INT: v = json_integer((json_int_t) * (const int64_t *)slot); break;
    case OMS_FIELD_BOOL: v = json_boolean(*(const bool *)slot); break;
    case OMS_FIELD_LINES: v = encode_lines(slot); break;
    case OMS_FIELD_OBJECT: {
        json_t *o = *(json_t *const *)slot;
        if (!o) {
            oms_error_set(err, OMS_EINVAL, f->name, "%s needs %s", oms_msg_name(m->type), f->name);
            return NULL;
        }
        return json_incref(o);
    }
    }
    if (!v)
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory encoding %s", oms_msg_name(m->type));
    return v;
}

oms_err oms_msg_encode(const oms_msg *m, json_t **out, oms_error *err)
{
    *out = NULL;
    const oms_msg_def *def = oms_msg_def_of(m->type);
    if (!def)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "message type %d is unknown", (int)m->type);
    json_t *payload = json_object();
    if (!payload)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory encoding %s", def->event_type);
    for (size_t i = 0; i < def->field_count; i++) {
        json_t *v = encode_field(m, &def->fields[i], err);
        if (!v) {
            json_decref(payload);
            return err->code;
        }
        if (json_object_set_new(payload, def->fields[i].name, v) != 0) {
            json_decref(payload);
            return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory encoding %s", def->event_type);
        }
    }
    *out = payload;
    return OMS_OK;
}

/* ---- decode ---- */

/* The member, or NULL when absent or null (then OMS_EINVAL if required). */
static oms_err present(const json_t *payload, const oms_msg_field *f, const char *path, json_t **v, oms_error *err)
{
    *v = json_object_get(payload, f->name);
    if (json_is_null(*v))
        *v = NULL;
    if (!*v && f->required)
        return oms_error_set(err, OMS_EINVAL, path, "%s is required", path);
    return OMS_OK;
}

static oms_err decode_lines(oms_arena *a, const json_t *v, const char *path, oms_inventory_lines *out, oms_error *err)
{
    if (!json_is_array(v))
        return oms_error_set(err, OMS_EINVAL, path, "%s must be an array", path);
    size_t count = json_array_size(v);
    oms_inventory_line *lines = oms_arena_calloc(a, count ? count : 1, sizeof *lines);
    if (!lines)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const json_t *item = json_array_get(v, i);
        const json_t *id = json_object_get(item, "product_id");
        const json_t *quantity = json_object_get(item, "quantity");
        if (!json_is_string(id) || !json_is_integer(quantity))
            return oms_error_set(err, OMS_EINVAL, path, "item %zu needs product_id and quantity", i);
        lines[i] = (oms_inventory_line){json_string_value(id), (int64_t)json_integer_value(quantity)};
    }
    *out = (oms_inventory_lines){lines, count};
    return OMS_OK;
}

/* A member that is present (v not NULL) into its slot. */
static oms_err decode_value(oms_arena *a, const json_t *v, const oms_msg_field *f, const char *path, void *slot,
                            oms_error *err)
{
    switch (f->kind) {
    case OMS_FIELD_STRING:
        if (!json_is_string(v))
            return oms_error_set(err, OMS_EINVAL, path, "%s must be a string", path);
        *(const char **)slot = json_string_value(v);
        return OMS_OK;
    case OMS_FIELD_INT:
        if (!json_is_integer(v))
            return oms_error_set(err, OMS_EINVAL, path, "%s must be an integer", path);
        *(int64_t *)slot = (int64_t)json_integer_value(v);
        return OMS_OK;
    case OMS_FIELD_BOOL:
        if (!json_is_boolean(v))
            return oms_error_set(err, OMS_EINVAL, path, "%s must be a boolean", path);
        *(bool *)slot = json_is_true(v);
        return OMS_OK;
    case OMS_FIELD_LINES: return decode_lines(a, v, path, slot, err);
    case OMS_FIELD_OBJECT:
        if (!json_is_object(v))
            return oms_error_set(err, OMS_EINVAL, path, "%s must be an object", path);
        *(json_t **)slot = (json_t *)v;
        return OMS_OK;
    }
    return oms_error_set(err, OMS_EINTERNAL, path, "%s has an unknown kind", path);
}

static oms_err decode_field(oms_arena *a, const json_t *payload, const oms_msg_field *f, oms_msg *out, oms_error *err)
{
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "payload.%s", f->name);
    void *slot = slot_of(out, f);
    /* A bounded string: 1..max_len bytes, no control characters. */
    if (f->kind == OMS_FIELD_STRING && f->max_len > 0)
        return oms_json_string(payload, f->name, path, f->max_len, f->required, slot, err);
    json_t *v = NULL;
    oms_err rc = present(payload, f, path, &v, err);
    if (rc != OMS_OK || !v)
        return rc;
    return decode_value(a, v, f, path, slot, err);
}

oms_err oms_msg_decode(oms_arena *a, oms_msg_type t, const json_t *payload, oms_msg *out, oms_error *err)
{
    const oms_msg_def *def = oms_msg_def_of(t);
    if (!def)
        return oms_error_set(err, OMS_EINTERNAL, NULL, "message type %d is unknown", (int)t);
    *out = (oms_msg){.type = t};
    if (!json_is_object(payload))
        return oms_error_set(err, OMS_EINVAL, "payload", "payload must be an object");
    for (size_t i = 0; i < def->field_count; i++) {
        oms_err rc = decode_field(a, payload, &def->fields[i], out, err);
        if (rc != OMS_OK)
            return rc;
    }
    return OMS_OK;
}
