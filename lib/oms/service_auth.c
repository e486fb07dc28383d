/* service_auth.c -- see service_auth.h. */
#include "service_auth.h"

#include <string.h>

static bool is_key_char(char c) { return c > 0x20 && c < 0x7f && c != ','; }

oms_err oms_internal_keys_parse(const char *value, void *target, oms_error *err)
{
    oms_internal_keys *keys = target;
    memset(keys, 0, sizeof *keys);
    if (!value)
        return OMS_OK;
    const char *p = value;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (keys->count == OMS_INTERNAL_KEYS_MAX)
            return oms_error_set(err, OMS_EINVAL, NULL, "at most %d keys (the current one and the next)",
                                 OMS_INTERNAL_KEYS_MAX);
        if (len < OMS_INTERNAL_KEY_MIN || len > OMS_INTERNAL_KEY_MAX)
            return oms_error_set(err, OMS_EINVAL, NULL, "each key must be %d to %d characters", OMS_INTERNAL_KEY_MIN,
                                 OMS_INTERNAL_KEY_MAX);
        for (size_t i = 0; i < len; i++)
            if (!is_key_char(p[i]))
                return oms_error_set(err, OMS_EINVAL, NULL, "a key may hold printable characters but ',' only");
        memcpy(keys->keys[keys->count++], p, len);
        if (p[len] == '\0')
            return OMS_OK;
        p += len + 1;
    }
}

/* Whether a and b are equal, in a time that depends on the lengths only. */
static bool same_bytes(const char *a, size_t a_len, const char *b, size_t b_len)
{
    unsigned char diff = a_len != b_len;
    for (size_t i = 0; i < b_len; i++)
        diff |= (unsigned char)(a[i % (a_len ? a_len : 1)] ^ b[i]);
    return diff == 0 && a_len > 0;
}

bool oms_internal_keys_match(const oms_internal_keys *keys, const char *presented)
{
    if (!presented)
        return false;
    size_t len = strnlen(presented, OMS_INTERNAL_KEY_MAX + 1);
    bool found = false;
    for (size_t i = 0; i < keys->count; i++)
        found |= same_bytes(presented, len, keys->keys[i], strlen(keys->keys[i]));
    return found;
}

static bool is_builtin(const char *path)
{
    return strcmp(path, "/health") == 0 || strcmp(path, "/ready") == 0 || strcmp(path, "/metrics") == 0;
}

static bool refuse(oms_http_request *req, oms_http_response *res, const char *message)
{
    oms_http_respond_error(req, res, 401, "unauthorized", message, NULL);
    return false;
}

bool oms_service_admit(const oms_internal_keys *keys, oms_http_request *req, oms_http_response *res)
{
    if (is_builtin(req->path))
        return true;
    if (keys->count > 0 && !oms_internal_keys_match(keys, oms_http_header(req, "X-OMS-Internal-Key")))
        return refuse(req, res, "this service answers the gateway only");
    const char *role = oms_http_header(req, "X-OMS-Role");
    oms_principal *p = oms_arena_alloc(req->arena, sizeof *p);
    if (!p) {
        oms_http_respond_error(req, res, 500, "internal", "out of memory", NULL);
        return false;
    }
    oms_error err;
    oms_error_clear(&err);
    if (!role && keys->count == 0)
        *p = *oms_principal_local_admin();
    else if (oms_principal_parse(role, oms_http_header(req, "X-OMS-Subject"), oms_http_header(req, "X-OMS-Principal"),
                                 p, &err) != OMS_OK)
        return refuse(req, res, err.message);
    p->request_id = req->request_id; /* the gateway's X-Request-Id: the audit trail's */
    req->auth = p;
    return true;
}

const oms_principal *oms_request_principal(oms_http_request *req, oms_http_response *res)
{
    if (!req->auth)
        refuse(req, res, "the request has no principal");
    return req->auth;
}

bool oms_principal_require(const oms_principal *p, oms_role role, const char *what, oms_http_request *req,
                           oms_http_response *res)
{
    if (oms_principal_is_at_least(p, role))
        return true;
    const char *message = oms_arena_sprintf(req->arena, "role %s may not %s", oms_role_name(p->role), what);
    oms_http_respond_error(req, res, 403, "forbidden", message ? message : "forbidden", NULL);
    return false;
}
