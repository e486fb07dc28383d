/* http.c -- the HTTP server of every process, over libmicrohttpd.
 *
 * Thread per connection (MHD_USE_THREAD_PER_CONNECTION): handlers block on
 * the database, and one slow request must not stall the others. Each request
 * gets an arena, created at its first callback and destroyed when MHD says
 * the response is done; the response body is copied into MHD (MUST_COPY) so
 * the arena may go before the bytes are on the wire. */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define REQUEST_ID_MAX 128
#define ALLOW_MAX 128
#define MAX_SEGMENTS 32

static const char fallback_500_body[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\",\"field\":null}}";

struct oms_http_server {
    oms_http_config cfg;
    oms_http_route *routes; /* a copy of cfg.routes */
    struct MHD_Daemon *daemon;
    _Atomic int in_flight;
};

/* Per request; lives in its arena. */
typedef struct request_state {
    oms_http_server *server;
    struct MHD_Connection *conn;
    oms_http_request req;
    oms_http_response res;
    char *body;
    size_t body_len;
    size_t body_cap;
    bool too_large;
    bool answered; /* a response was queued (maybe early, e.g. 413) */
    int64_t start_ms_mono;
    double start_s;
    const char *route_name;
} request_state;

/* ---- small helpers ---- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool valid_request_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

int oms_http_status_of(oms_err code)
{
    switch (code) {
    case OMS_OK: return 200;
    case OMS_EINVAL: return 400;
    case OMS_ENOTFOUND: return 404;
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
    const request_state *st = req->internal;
    return MHD_lookup_connection_value(st->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *oms_http_header(const oms_http_request *req, const char *name)
{
    const request_state *st = req->internal;
    return MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, name);
}

/* ---- response builders ---- */

static void respond_out_of_memory(oms_http_response *res)
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
        respond_out_of_memory(res);
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
        respond_out_of_memory(res);
        return;
    }
    res->status = status;
    res->content_type = "application/json";
    res->body = text;
    res->body_len = len;
}

/* Whether s is valid UTF-8, as jansson judges it (JSON strings must be). */
static bool is_utf8(const char *s)
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
        respond_out_of_memory(res);
        return;
    }
    oms_http_respond_json(req, res, status, doc);
    json_decref(doc);
}

void oms_http_respond_oms_error(oms_http_request *req, oms_http_response *res, const oms_error *err)
{
    oms_err code = err ? err->code : OMS_EINTERNAL;
    const char *message = err && err->message[0] ? err->message : oms_err_name(code);
    oms_http_respond_error(req, res, oms_http_status_of(code), oms_err_name(code), message, err ? err->field : NULL);
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
        respond_out_of_memory(res);
        return NULL;
    }
    if (rc != OMS_OK) {
        oms_http_respond_error(req, res, 400, "invalid_json", err.message, NULL);
        return NULL;
    }
    return doc;
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

static const oms_http_route *find_route(oms_http_server *srv, request_state *st, char *allow, size_t allow_len,
                                        bool *path_known)
{
    *path_known = false;
    allow[0] = '\0';
    for (size_t i = 0; i < srv->cfg.route_count; i++) {
        const oms_http_route *r = &srv->routes[i];
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

static void serve_ready(oms_http_server *srv, oms_http_request *req, oms_http_response *res)
{
    char why[256] = "";
    bool ready = srv->cfg.ready ? srv->cfg.ready(srv->cfg.ctx, why, sizeof why) : true;
    json_t *doc = ready ? json_pack("{s:s}", "status", "ready")
                        : json_pack("{s:s, s:s}", "status", "unavailable", "reason", why[0] ? why : "not ready");
    if (!doc) {
        respond_out_of_memory(res);
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
        respond_out_of_memory(res);
        return;
    }
    res->status = 200;
    res->content_type = "text/plain; version=0.0.4";
    res->body = text;
    res->body_len = len;
}

/* Answers a built-in path; false when `path` is not one. */
static bool serve_builtin(oms_http_server *srv, request_state *st)
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
        serve_ready(srv, &st->req, &st->res);
    else
        serve_metrics(&st->req, &st->res);
    return true;
}

static void dispatch(oms_http_server *srv, request_state *st)
{
    oms_http_request *req = &st->req;
    oms_http_response *res = &st->res;
    if (st->too_large) {
        st->route_name = "body_too_large";
        oms_http_respond_error(req, res, 413, "payload_too_large", "the request body exceeds 64 KiB", NULL);
        return;
    }
    if (!is_utf8(req->path)) {
        st->route_name = "invalid_path";
        oms_http_respond_error(req, res, 400, "invalid_path", "the path must be valid UTF-8", NULL);
        return;
    }
    if (srv->cfg.admit && !srv->cfg.admit(srv->cfg.ctx, req, res)) {
        st->route_name = "admission";
        return;
    }
    if (serve_builtin(srv, st))
        return;
    char allow[ALLOW_MAX];
    bool path_known = false;
    const oms_http_route *route = find_route(srv, st, allow, sizeof allow, &path_known);
    if (!route) {
        if (path_known) {
            st->route_name = "method_not_allowed";
            oms_http_add_header(req, res, "Allow", allow);
            oms_http_respond_error(req, res, 405, "method_not_allowed", "method not allowed", NULL);
        } else {
            st->route_name = "not_found";
            oms_http_respond_error(req, res, 404, "not_found", "no such resource", NULL);
        }
        return;
    }
    st->route_name = route->name ? route->name : route->pattern;
    if (req->body_len > 0 && !is_json_content_type(oms_http_header(req, "Content-Type"))) {
        oms_http_respond_error(req, res, 415, "unsupported_media_type", "the body must be application/json", NULL);
        return;
    }
    route->handler(srv->cfg.ctx, req, res);
}

/* ---- MHD glue ---- */

/* Methods as metric labels: a fixed set, so a client cannot grow the registry. */
static const char *method_label(const char *method)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", NULL};
    for (int i = 0; known[i]; i++) {
        if (strcmp(method, known[i]) == 0)
            return known[i];
    }
    return "OTHER";
}

static void record(request_state *st, int status)
{
    double seconds = now_seconds() - st->start_s;
    char labels[256];
    snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\",status=\"%d\"", st->route_name,
             method_label(st->req.method), status);
    oms_counter_add(oms_metrics_counter("http_requests_total", "HTTP requests by route, method and status.", labels),
                    1);
    snprintf(labels, sizeof labels, "route=\"%s\"", st->route_name);
    oms_histogram_observe(
        oms_metrics_histogram("http_request_duration_seconds", "HTTP request latency by route.", labels), seconds);
    oms_log_access(&(oms_log_access_line){.status = status,
                                          .client_ip = st->req.client_ip,
                                          .method = st->req.method,
                                          .route = st->route_name,
                                          .path = st->req.path,
                                          .duration_ms = seconds * 1000.0,
                                          .client_request_id = st->req.client_request_id});
}

static enum MHD_Result queue(request_state *st)
{
    oms_http_response *res = &st->res;
    if (res->status == 0) {
        oms_http_respond_error(&st->req, res, 500, "internal", "the handler gave no answer", NULL);
        if (res->status == 0)
            respond_out_of_memory(res);
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(res->body_len, (void *)(res->body ? res->body : ""), MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type ? res->content_type : "application/json");
    MHD_add_response_header(r, "X-Request-Id", st->req.request_id);
    for (const oms_http_header_field *h = res->headers; h; h = h->next)
        MHD_add_response_header(r, h->name, h->value);
    enum MHD_Result rc = MHD_queue_response(st->conn, (unsigned)res->status, r);
    MHD_destroy_response(r);
    st->answered = true;
    record(st, res->status);
    oms_log_set_request_id(NULL);
    return rc;
}

static const char *client_ip(oms_arena *a, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char text[INET6_ADDRSTRLEN] = "unknown";
    if (info && info->client_addr) {
        const struct sockaddr *sa = info->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, text, sizeof text);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, text, sizeof text);
    }
    const char *copy = oms_arena_strdup(a, text);
    return copy ? copy : "unknown";
}

static request_state *begin_request(oms_http_server *srv, struct MHD_Connection *conn, const char *url,
                                    const char *method)
{
    oms_arena *a = oms_arena_create(0);
    if (!a)
        return NULL;
    request_state *st = oms_arena_calloc(a, 1, sizeof *st);
    if (!st) {
        oms_arena_destroy(a);
        return NULL;
    }
    st->server = srv;
    st->conn = conn;
    st->start_s = now_seconds();
    st->route_name = "unknown";
    st->req.arena = a;
    st->req.internal = st;
    st->req.method = oms_arena_strdup(a, method);
    st->req.path = oms_arena_strdup(a, url);
    st->req.body = "";
    st->req.client_ip = client_ip(a, conn);
    const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (!valid_request_id(given))
        given = NULL;
    char made[OMS_UUID_LEN + 1];
    if (!given || srv->cfg.make_request_ids) {
        oms_uuid_new(made);
        st->req.request_id = oms_arena_strdup(a, made);
    } else {
        st->req.request_id = oms_arena_strdup(a, given);
    }
    if (given && srv->cfg.make_request_ids && !(st->req.client_request_id = oms_arena_strdup(a, given))) {
        oms_arena_destroy(a);
        return NULL;
    }
    st->res.content_type = "application/json";
    if (!st->req.method || !st->req.path || !st->req.request_id) {
        oms_arena_destroy(a);
        return NULL;
    }
    const char *declared = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (declared) {
        char *end = NULL;
        unsigned long long n = strtoull(declared, &end, 10);
        if (end == declared || n > OMS_HTTP_MAX_BODY)
            st->too_large = true;
    }
    atomic_fetch_add(&srv->in_flight, 1);
    return st;
}

static void append_body(request_state *st, const char *data, size_t n)
{
    if (st->too_large)
        return;
    if (st->body_len + n > OMS_HTTP_MAX_BODY) {
        st->too_large = true;
        return;
    }
    if (!st->body) {
        /* One buffer of the maximum size: simpler than growing, and bounded. */
        st->body = oms_arena_alloc(st->req.arena, OMS_HTTP_MAX_BODY + 1);
        if (!st->body) {
            st->too_large = true;
            return;
        }
        st->body_cap = OMS_HTTP_MAX_BODY + 1;
    }
    memcpy(st->body + st->body_len, data, n);
    st->body_len += n;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    oms_http_server *srv = cls;
    request_state *st = *con_cls;
    if (!st) {
        st = begin_request(srv, conn, url, method);
        if (!st)
            return MHD_NO;
        *con_cls = st;
        oms_log_set_request_id(st->req.request_id);
        if (st->too_large) {
            dispatch(srv, st); /* 413 now, without reading the body */
            return queue(st);
        }
        return MHD_YES;
    }
    if (st->answered) {
        *upload_data_size = 0; /* discard what still arrives */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        append_body(st, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    oms_log_set_request_id(st->req.request_id);
    if (st->body) {
        st->body[st->body_len] = '\0';
        st->req.body = st->body;
        st->req.body_len = st->body_len;
    }
    dispatch(srv, st);
    return queue(st);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    oms_http_server *srv = cls;
    request_state *st = *con_cls;
    if (!st)
        return;
    *con_cls = NULL;
    oms_arena_destroy(st->req.arena);
    atomic_fetch_sub(&srv->in_flight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '\n')
        text[--n] = '\0';
    oms_log(OMS_LOG_WARN, "http_server", "message", text, NULL);
}

/* The address to listen on: all IPv4 interfaces when `text` is NULL, else an
 * IPv4 or IPv6 literal. */
static bool listen_address(const char *text, int port, struct sockaddr_storage *out, unsigned int *family_flag)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    v4->sin_addr.s_addr = htonl(INADDR_ANY);
    if (!text || inet_pton(AF_INET, text, &v4->sin_addr) == 1)
        return true;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    memset(out, 0, sizeof *out);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    *family_flag = MHD_USE_IPv6;
    return inet_pton(AF_INET6, text, &v6->sin6_addr) == 1;
}

oms_http_server *oms_http_server_start(const oms_http_config *cfg, oms_error *err)
{
    if (!cfg || cfg->port < 0 || cfg->port > 65535 || (cfg->route_count && !cfg->routes)) {
        oms_error_set(err, OMS_EINVAL, "PORT", "bad HTTP server configuration");
        return NULL;
    }
    oms_http_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    srv->cfg = *cfg;
    if (cfg->route_count) {
        srv->routes = calloc(cfg->route_count, sizeof *srv->routes);
        if (!srv->routes) {
            free(srv);
            oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
            return NULL;
        }
        memcpy(srv->routes, cfg->routes, cfg->route_count * sizeof *srv->routes);
    }
    struct sockaddr_storage addr;
    unsigned int family_flag = 0;
    if (!listen_address(cfg->bind_address, cfg->port, &addr, &family_flag)) {
        free(srv->routes);
        free(srv);
        oms_error_set(err, OMS_EINVAL, "bind_address", "not an IP address: %s", cfg->bind_address);
        return NULL;
    }
    unsigned int flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                         MHD_USE_ITC | MHD_USE_ERROR_LOG | family_flag;
    srv->daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, srv,
                                   MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                                   MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                   MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
                                   MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1000,
                                   MHD_OPTION_END);
    if (!srv->daemon) {
        free(srv->routes);
        free(srv);
        oms_error_set(err, OMS_EUNAVAILABLE, "PORT", "cannot listen on port %d (in use?)", cfg->port);
        return NULL;
    }
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", cfg->port);
    oms_log(OMS_LOG_INFO, "http_listening", "port", port_text, NULL);
    return srv;
}

void oms_http_server_stop(oms_http_server *s, int grace_ms)
{
    if (!s)
        return;
    /* Stop accepting first, so new clients get "connection refused" rather than
     * a request cut in the middle; then let requests in flight finish. */
    MHD_socket listener = MHD_quiesce_daemon(s->daemon);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
    int64_t deadline = oms_monotonic_ms() + (grace_ms > 0 ? grace_ms : 0);
    while (atomic_load(&s->in_flight) > 0 && oms_monotonic_ms() < deadline)
        usleep(10 * 1000);
    MHD_stop_daemon(s->daemon);
    free(s->routes);
    free(s);
}
