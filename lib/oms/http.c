/* http.c -- the handlers' side of the HTTP server: request accessors and
 * answers (http_server.c is the server itself). Answers are built in the
 * request's arena; the server copies the body into libmicrohttpd when it
 * queues it, so the arena may go before the bytes are on the wire. */
#include "http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"

static const char
    fallback_500_body[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\",\"field\":null}}";

int oms_http_status_of(oms_err code)
{
    switch (code) {
    case OMS_OK: return 200;
    case OMS_EINVAL: return 400;
    case OMS_ENOTFOUND: return 404;
    case OMS_EFORBIDDEN: return 403;
    case OMS_ECONFLICT:
    case OMS_EBUSY: return 409;
    case OMS_ETOOLARGE: return 413;
    case OMS_EUNSUPPORTED: return 415;
    case OMS_EUNAVAILABLE: return 503;
    case OMS_ETIMEOUT: return 504;
    default: return 500;
    }
}

const char *oms_http_query(const oms_http_request *req, const char *name)
{
    const http_request_state *st = req->internal;
    return MHD_lookup_connection_value(st->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *oms_http_header(const oms_http_request *req, const char *name)
{
    const http_request_state *st = req->internal;
    return MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, name);
}

/* ---- response builders ---- */

void http_respond_out_of_memory(oms_http_response *res)
{
    res->status = 500;
    res->content_type = "application/json";
    res->body = fallback_500_body;
    res->body_len = sizeof fallback_500_body - 1;
}

void oms_http_respond_text(oms_http_request *req, oms_http_response *res, int status, const char *content_type,
                           const char *body, size_t len)
{
    char *copy = oms_arena_alloc(req->arena, len + 1);
    const char *type = oms_arena_strdup(req->arena, content_type ? content_type : "text/plain");
    if (!copy || !type) {
        http_respond_out_of_memory(res);
        return;
    }
    if (len)
        memcpy(copy, body, len);
    copy[len] = '\0';
    res->status = status;
    res->content_type = type;
    res->body = copy;
    res->body_len = len;
}

void oms_http_respond_json(oms_http_request *req, oms_http_response *res, int status, const json_t *doc)
{
    size_t len = 0;
    char *text = oms_json_dump(req->arena, doc, &len);
    if (!text) {
        http_respond_out_of_memory(res);
        return;
    }
    res->status = status;
    res->content_type = "application/json";
    res->body = text;
    res->body_len = len;
}

bool http_is_utf8(const char *s)
{
    json_t *probe = json_string(s);
    bool valid = probe != NULL;
    json_decref(probe);
    return valid;
}

/* A JSON string of s; bytes of an invalid UTF-8 sequence (a client's path
 * segment echoed in a message, a message cut in the middle of a character)
 * become '?', so an error body can always be written. */
static json_t *error_text(oms_arena *a, const char *s)
{
    json_t *v = json_string(s);
    if (v)
        return v;
    char *copy = oms_arena_strdup(a, s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    return json_string(copy);
}

void oms_http_respond_error(oms_http_request *req, oms_http_response *res, int status, const char *code,
                            const char *message, const char *field)
{
    json_t *field_value = (field && *field) ? error_text(req->arena, field) : json_null();
    json_t *inner = json_pack("{s:s, s:o, s:o}", "code", code ? code : "internal", "message",
                              error_text(req->arena, message ? message : ""), "field", field_value);
    json_t *doc = inner ? json_pack("{s:o}", "error", inner) : NULL;
    if (!doc) {
        http_respond_out_of_memory(res);
        return;
    }
    oms_http_respond_json(req, res, status, doc);
    json_decref(doc);
}

void oms_http_respond_oms_error(oms_http_request *req, oms_http_response *res, const oms_error *err)
{
    oms_err code = err ? err->code : OMS_EINTERNAL;
    const char *message = err && err->message[0] ? err->message : oms_err_name(code);
    const char *name = err && err->reason[0] ? err->reason : oms_err_name(code);
    int status = oms_http_status_of(code);
    if (status == 500) {
        /* An internal error's text is for the operator (a driver's message,
         * a file name): the log line has it, the client the request id. */
        oms_log(OMS_LOG_ERROR, "internal_error", "error", message, NULL);
        message = "internal error; the log line with this request's id says more";
    }
    oms_http_respond_error(req, res, status, name, message, err ? err->field : NULL);
}

void oms_http_add_header(oms_http_request *req, oms_http_response *res, const char *name, const char *value)
{
    oms_http_header_field *h = oms_arena_alloc(req->arena, sizeof *h);
    if (!h)
        return;
    h->name = oms_arena_strdup(req->arena, name);
    h->value = oms_arena_strdup(req->arena, value);
    if (!h->name || !h->value)
        return;
    h->next = res->headers;
    res->headers = h;
}

json_t *oms_http_json_body(oms_http_request *req, oms_http_response *res)
{
    json_t *doc = NULL;
    oms_error err;
    oms_error_clear(&err);
    oms_err rc = oms_json_parse_request(req->arena, req->body, req->body_len, &doc, &err);
    if (rc == OMS_ENOMEM) {
        http_respond_out_of_memory(res);
        return NULL;
    }
    if (rc != OMS_OK) {
        oms_http_respond_error(req, res, 400, "invalid_json", err.message, NULL);
        return NULL;
    }
    return doc;
}
