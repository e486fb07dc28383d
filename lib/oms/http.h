/* http.h -- the HTTP server every process uses, over libmicrohttpd.
 *
 * The server owns what every endpoint shares, so that handlers only decide:
 *  - routing by method and path pattern ("/orders/{}/cancel"; `{}` matches one
 *    non-empty segment, captured in order into req->params); 404 for no path,
 *    405 with an Allow header when the path exists for other methods;
 *  - bodies bounded to 64 KiB (413 as soon as the declared or received length
 *    exceeds it), 415 when a request with a body is not application/json;
 *  - X-Request-Id: taken from the request (1..128 chars of [A-Za-z0-9._-]) or
 *    made (a UUID; always on a listener with make_request_ids), echoed in the
 *    response, set as the thread's log request id;
 *  - one JSON access line per request (oms_log_access: status and client
 *    address first, the path cut at 512 bytes); request counters and latency
 *    histograms;
 *  - GET /health, GET /ready (through the `ready` callback) and GET /metrics;
 *  - a per-request arena reset when the response is queued.
 * Handlers run on the server's worker threads and may block (database calls).
 */
#ifndef OMS_HTTP_H
#define OMS_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "err.h"

#define OMS_HTTP_MAX_BODY (64 * 1024)
#define OMS_HTTP_MAX_PARAMS 4

typedef struct oms_http_request {
    const char *method;     /* "GET", "POST", ... */
    const char *path;       /* without the query string, decoded */
    const char *body;       /* NUL-terminated copy in the arena; "" when none */
    size_t body_len;
    const char *request_id; /* never NULL */
    const char *client_request_id; /* the client's X-Request-Id when the server
                                    * made request_id (make_request_ids); else NULL */
    const char *client_ip;  /* textual peer address */
    const char *params[OMS_HTTP_MAX_PARAMS]; /* captured `{}` segments */
    int param_count;
    const void *route_data; /* the matched route's `data` */
    const void *auth;       /* set by the admit hook for the handler (the
                             * gateway's principal); NULL otherwise */
    oms_arena *arena;       /* lives until the response is sent */
    void *internal;         /* the server's; do not touch */
} oms_http_request;

/* Value of query parameter `name` (decoded), or NULL when absent. */
const char *oms_http_query(const oms_http_request *req, const char *name);

/* Value of request header `name` (case-insensitive), or NULL when absent. */
const char *oms_http_header(const oms_http_request *req, const char *name);

/* A response header list is kept in the arena; bodies too. */
typedef struct oms_http_header_field {
    const char *name;
    const char *value;
    struct oms_http_header_field *next;
} oms_http_header_field;

typedef struct oms_http_response {
    int status;                   /* 0 until set: the server answers 500 then */
    const char *content_type;     /* default "application/json" */
    const char *body;             /* arena-owned (or static) */
    size_t body_len;
    oms_http_header_field *headers;
} oms_http_response;

/* Response builders; all copy into req->arena. On memory exhaustion they
 * degrade to a fixed 500 body (the only 500 the server makes by itself). */
void oms_http_respond_json(oms_http_request *req, oms_http_response *res, int status, const json_t *doc);
void oms_http_respond_text(oms_http_request *req, oms_http_response *res, int status, const char *content_type,
                           const char *body, size_t len);
/* The SPEC error body {"error":{"code","message","field"}} with `field` null
 * when NULL or empty. */
void oms_http_respond_error(oms_http_request *req, oms_http_response *res, int status, const char *code,
                            const char *message, const char *field);
/* Maps err->code once (EINVAL 400, ENOTFOUND 404, ECONFLICT/EBUSY 409, ETOOLARGE 413,
 * EUNSUPPORTED 415, EUNAVAILABLE 503, ETIMEOUT 504, else 500) and answers with
 * the error body made of err. */
void oms_http_respond_oms_error(oms_http_request *req, oms_http_response *res, const oms_error *err);
int oms_http_status_of(oms_err code);
void oms_http_add_header(oms_http_request *req, oms_http_response *res, const char *name, const char *value);

/* Value of query parameter `name`, which must be present and a UUID; else
 * answers 400 naming the parameter and returns NULL. */
const char *oms_http_query_uuid(oms_http_request *req, oms_http_response *res, const char *name);

/* Parses the request body as JSON (released with the arena). On failure
 * answers 400 {"error":{"code":"invalid_json",...}} itself and returns NULL.
 * An empty body is invalid JSON. */
json_t *oms_http_json_body(oms_http_request *req, oms_http_response *res);

typedef void (*oms_http_handler)(void *ctx, oms_http_request *req, oms_http_response *res);

typedef struct oms_http_route {
    const char *method;
    const char *pattern;   /* "/orders/{}"; matched segment by segment */
    oms_http_handler handler;
    const char *name;      /* label for logs and metrics, e.g. "get_order" */
    const void *data;      /* the caller's, handed to the handler as req->route_data */
} oms_http_route;

/* Whether the process can serve: fills `why` ("database: connection refused")
 * and returns false when not. Called for GET /ready. */
typedef bool (*oms_http_ready_fn)(void *ctx, char *why, size_t why_len);

typedef struct oms_http_config {
    const char *bind_address; /* NULL: all interfaces */
    int port;
    int threads;              /* worker threads; 0: 8 */
    const oms_http_route *routes;
    size_t route_count;
    void *ctx;                /* passed to handlers and ready */
    oms_http_ready_fn ready;  /* NULL: always ready */
    /* Called before routing and before /health, /ready and /metrics, e.g.
     * for credentials and rate limits in the gateway (so the built-ins are
     * rate-limited too: an admit that requires a credential lets those paths
     * through itself): return false after filling `res` to answer without
     * routing. NULL: none. */
    bool (*admit)(void *ctx, oms_http_request *req, oms_http_response *res);
    /* A public listener (the gateway) does not let clients choose the request
     * id that follows the request through every process: it always makes one,
     * and keeps a valid client X-Request-Id as req->client_request_id (logged
     * as client_request_id). false: a valid X-Request-Id is the request id. */
    bool make_request_ids;
} oms_http_config;

typedef struct oms_http_server oms_http_server;

/* Starts listening; NULL with err filled (port in use, bad config). */
oms_http_server *oms_http_server_start(const oms_http_config *cfg, oms_error *err);

/* Stops accepting, lets requests in flight finish (up to `grace_ms`), frees. */
void oms_http_server_stop(oms_http_server *s, int grace_ms);

#endif
