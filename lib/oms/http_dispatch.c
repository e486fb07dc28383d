/* http_dispatch.c -- what the server does with a complete request before and
 * around its handler: refuse what no handler should see (bad header values,
 * paths with dot or empty segments), the built-in endpoints, admission,
 * routing; and the security headers of every answer. */
#include "http_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "metrics.h"

#define ALLOW_MAX 128

/* ---- requests refused early ---- */

static enum MHD_Result check_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                    const char *value, size_t value_size)
{
    (void)kind;
    bool *bad = cls;
    if (strcspn(key, "\r\n") != key_size || (value && strcspn(value, "\r\n") != value_size)) {
        *bad = true;
        return MHD_NO;
    }
    return MHD_YES;
}

/* A header name or value holding CR, LF or NUL (libmicrohttpd 0.9.75 keeps a
 * bare CR inside a value): a proxy that splits on it would see a header the
 * client smuggled in. strcspn stops at the first NUL too, so an embedded NUL
 * shows as a length that falls short. */
static bool has_bad_header(struct MHD_Connection *conn)
{
    bool bad = false;
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, check_header, &bad);
    return bad;
}

/* A path every route can be matched against as it is: segments neither empty
 * ("//", a trailing "/") nor "." or "..", which a proxy or client library
 * would resolve into another path than the one routed (review M5). "/" alone
 * is fine. */
static bool is_plain_path(const char *path)
{
    if (path[0] != '/')
        return false;
    if (path[1] == '\0')
        return true;
    for (const char *s = path + 1;;) {
        size_t n = strcspn(s, "/");
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        if (s[n] == '\0')
            return true;
        s += n + 1;
    }
}

/* ---- routing ---- */

/* Matches `path` against `pattern` segment by segment; captures `{}` segments
 * (copied into the arena) when params is not NULL. */
static bool route_matches(oms_arena *a, const char *pattern, const char *path, const char **params, int *count)
{
    int n = 0;
    const char *p = pattern, *s = path;
    for (;;) {
        if (*p != '/' || *s != '/')
            return *p == '\0' && *s == '\0';
        p++;
        s++;
        size_t plen = strcspn(p, "/");
        size_t slen = strcspn(s, "/");
        if (plen == 2 && strncmp(p, "{}", 2) == 0) {
            if (slen == 0 || n >= OMS_HTTP_MAX_PARAMS)
                return false;
            if (params) {
                params[n] = oms_arena_strndup(a, s, slen);
                if (!params[n])
                    return false;
            }
            n++;
        } else if (plen != slen || strncmp(p, s, plen) != 0) {
            return false;
        }
        p += plen;
        s += slen;
        if (count)
            *count = n;
    }
}

static const oms_http_route *find_route(const oms_http_config *cfg, http_request_state *st, char *allow,
                                        size_t allow_len, bool *path_known)
{
    *path_known = false;
    allow[0] = '\0';
    for (size_t i = 0; i < cfg->route_count; i++) {
        const oms_http_route *r = &cfg->routes[i];
        if (!route_matches(NULL, r->pattern, st->req.path, NULL, NULL))
            continue;
        if (strcmp(r->method, st->req.method) == 0) {
            int count = 0;
            if (!route_matches(st->req.arena, r->pattern, st->req.path, st->req.params, &count))
                return NULL;
            st->req.param_count = count;
            st->req.route_data = r->data;
            return r;
        }
        *path_known = true;
        if (!strstr(allow, r->method)) {
            size_t used = strlen(allow);
            snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", r->method);
        }
    }
    return NULL;
}

static bool is_json_content_type(const char *type)
{
    if (!type)
        return false;
    while (*type == ' ')
        type++;
    size_t n = strlen("application/json");
    if (strncasecmp(type, "application/json", n) != 0)
        return false;
    char after = type[n];
    return after == '\0' || after == ';' || after == ' ';
}

/* ---- built-in endpoints ---- */

static void serve_health(oms_http_request *req, oms_http_response *res)
{
    static const char body[] = "{\"status\":\"ok\"}";
    oms_http_respond_text(req, res, 200, "application/json", body, sizeof body - 1);
}

static void serve_ready(const oms_http_config *cfg, oms_http_request *req, oms_http_response *res)
{
    char why[256] = "";
    bool ready = cfg->ready ? cfg->ready(cfg->ctx, why, sizeof why) : true;
    json_t *doc = ready ? json_pack("{s:s}", "status", "ready")
                        : json_pack("{s:s, s:s}", "status", "unavailable", "reason", why[0] ? why : "not ready");
    if (!doc) {
        http_respond_out_of_memory(res);
        return;
    }
    oms_http_respond_json(req, res, ready ? 200 : 503, doc);
    json_decref(doc);
}

static void serve_metrics(oms_http_request *req, oms_http_response *res)
{
    size_t len = 0;
    char *text = oms_metrics_render(req->arena, &len);
    if (!text) {
        http_respond_out_of_memory(res);
        return;
    }
    res->status = 200;
    res->content_type = "text/plain; version=0.0.4";
    res->body = text;
    res->body_len = len;
}

/* Answers a built-in path; false when `path` is not one. */
static bool serve_builtin(const oms_http_config *cfg, http_request_state *st)
{
    const char *path = st->req.path;
    bool health = strcmp(path, "/health") == 0;
    bool ready = strcmp(path, "/ready") == 0;
    bool metrics = strcmp(path, "/metrics") == 0;
    if (!health && !ready && !metrics)
        return false;
    st->route_name = health ? "health" : ready ? "ready" : "metrics";
    if (strcmp(st->req.method, "GET") != 0 && strcmp(st->req.method, "HEAD") != 0) {
        oms_http_add_header(&st->req, &st->res, "Allow", "GET");
        oms_http_respond_error(&st->req, &st->res, 405, "method_not_allowed", "method not allowed", NULL);
        return true;
    }
    if (health)
        serve_health(&st->req, &st->res);
    else if (ready)
        serve_ready(cfg, &st->req, &st->res);
    else
        serve_metrics(&st->req, &st->res);
    return true;
}

bool http_answers_at_once(const http_request_state *st)
{
    return st->too_large || strcmp(st->req.path, "/health") == 0;
}

/* ---- dispatch ---- */

static void refuse(http_request_state *st, int status, const char *route_name, const char *code, const char *message)
{
    st->route_name = route_name;
    oms_http_respond_error(&st->req, &st->res, status, code, message, NULL);
}

/* One of cfg->slash_redirects: 308 to the path without its trailing '/'. */
static bool redirected(const oms_http_config *cfg, http_request_state *st)
{
    for (const char *const *p = cfg->slash_redirects; p && *p; p++) {
        size_t n = strlen(*p);
        if (n < 2 || strcmp(st->req.path, *p) != 0)
            continue;
        st->route_name = "slash_redirect";
        oms_http_add_header(&st->req, &st->res, "Location", oms_arena_sprintf(st->req.arena, "%.*s", (int)(n - 1), *p));
        oms_http_respond_text(&st->req, &st->res, 308, "text/plain", "", 0);
        return true;
    }
    return false;
}

/* The answers that need no route; true when one was made. */
static bool refused_before_routing(const oms_http_config *cfg, http_request_state *st)
{
    oms_http_request *req = &st->req;
    if (st->too_large) {
        refuse(st, 413, "body_too_large", "payload_too_large", "the request body exceeds 64 KiB");
        return true;
    }
    if (st->conn && has_bad_header(st->conn)) {
        refuse(st, 400, "invalid_header", "invalid_header", "a header name or value holds CR, LF or NUL");
        return true;
    }
    if (!http_is_utf8(req->path)) {
        refuse(st, 400, "invalid_path", "invalid_path", "the path must be valid UTF-8");
        return true;
    }
    if (redirected(cfg, st))
        return true;
    if (!is_plain_path(req->path)) {
        refuse(st, 400, "invalid_path", "invalid_path", "the path has an empty, \".\" or \"..\" segment");
        return true;
    }
    /* Admission first, so that the built-ins are rate-limited too. */
    if (cfg->admit && !cfg->admit(cfg->ctx, req, &st->res)) {
        st->route_name = "admission";
        return true;
    }
    return serve_builtin(cfg, st);
}

void http_dispatch(const oms_http_config *cfg, http_request_state *st)
{
    oms_http_request *req = &st->req;
    oms_http_response *res = &st->res;
    if (refused_before_routing(cfg, st))
        return;
    char allow[ALLOW_MAX];
    bool path_known = false;
    const oms_http_route *route = find_route(cfg, st, allow, sizeof allow, &path_known);
    if (!route && path_known) {
        oms_http_add_header(req, res, "Allow", allow);
        refuse(st, 405, "method_not_allowed", "method_not_allowed", "method not allowed");
        return;
    }
    if (!route) {
        refuse(st, 404, "not_found", "not_found", "no such resource");
        return;
    }
    st->route_name = route->name ? route->name : route->pattern;
    if (req->body_len > 0 && !is_json_content_type(oms_http_header(req, "Content-Type"))) {
        oms_http_respond_error(req, res, 415, "unsupported_media_type", "the body must be application/json", NULL);
        return;
    }
    route->handler(cfg->ctx, req, res);
}

/* ---- security headers ---- */

static bool has_header(const oms_http_response *res, const char *name)
{
    for (const oms_http_header_field *h = res->headers; h; h = h->next) {
        if (strcasecmp(h->name, name) == 0)
            return true;
    }
    return false;
}

void http_add_security_headers(struct MHD_Response *r, const oms_http_response *res, bool tls)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    /* API answers are per client and per moment: never stored. A static file
     * (a console page, later) sets its own caching and its own policy. */
    if (!has_header(res, "Cache-Control"))
        MHD_add_response_header(r, "Cache-Control", "no-store");
    if (!has_header(res, "Content-Security-Policy"))
        MHD_add_response_header(r, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    if (tls)
        MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
}
