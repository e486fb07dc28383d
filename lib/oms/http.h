/* http.h -- the HTTP server every process uses, over libmicrohttpd.
 *
 * The server owns what every endpoint shares, so that handlers only decide:
 *  - routing by method and path pattern ("/orders/{}/cancel"; `{}` matches one
 *    non-empty segment, captured in order into req->params); 404 for no path,
 *    405 with an Allow header when the path exists for other methods; a path
 *    with an empty, "." or ".." segment (decoded: %2e counts) is 400;
 *  - bodies bounded to 64 KiB (413 as soon as the declared or received length
 *    exceeds it), 415 when a request with a body is not application/json;
 *    header values with CR, LF or NUL are 400;
 *  - X-Request-Id: taken from the request (1..128 chars of [A-Za-z0-9._-]) or
 *    made (a UUID; always on a listener with make_request_ids), echoed in the
 *    response, set as the thread's log request id;
 *  - one JSON access line per request (oms_log_access: status and client
 *    address first, the path cut at 512 bytes); request counters and latency
 *    histograms;
 *  - security headers on every answer (nosniff, frame DENY, no referrer,
 *    Cache-Control no-store and a strict Content-Security-Policy unless the
 *    handler set its own, HSTS over TLS);
 *  - GET /health, GET /ready (through the `ready` callback) and GET /metrics;
 *  - a per-request arena reset when the response is queued.
 *
 * Threads (bounded, whatever the number of connections): `io_threads` event
 * loops (epoll) read requests and write answers and never block; a complete
 * request is handed to one of `threads` handler threads, which may block
 * (database calls), while its connection waits without a thread. A handler
 * that would wait for something else (a long poll) parks its request instead
 * (oms_http_park) and frees its thread. Slow or idle clients are bounded by
 * deadlines, a per-address and a global connection cap, and a small memory
 * pool per connection (see oms_http_limits).
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
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* without the query string, decoded */
    const char *body;   /* NUL-terminated copy in the arena; "" when none */
    size_t body_len;
    const char *request_id;                  /* never NULL */
    const char *client_request_id;           /* the client's X-Request-Id when the server
                                    * made request_id (make_request_ids); else NULL */
    const char *client_ip;                   /* textual peer address */
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
    int status;               /* 0 until set: the server answers 500 then */
    const char *content_type; /* default "application/json" */
    const char *body;         /* arena-owned (or static) */
    size_t body_len;
    oms_http_header_field *headers;
} oms_http_response;

/* Response builders; all copy into req->arena. On memory exhaustion they
 * degrade to a fixed 500 body (the only 500 the server makes by itself). */
void oms_http_respond_json(oms_http_request *req, oms_http_response *res, int status, const json_t *doc);
/* The same for a document a handler just built (http_doc.c): takes its
 * reference (NULL, a failed build, answers 500 out of memory). */
void oms_http_respond_doc(oms_http_request *req, oms_http_response *res, int status, json_t *doc);
void oms_http_respond_text(oms_http_request *req, oms_http_response *res, int status, const char *content_type,
                           const char *body, size_t len);
/* The SPEC error body {"error":{"code","message","field"}} with `field` null
 * when NULL or empty. */
void oms_http_respond_error(oms_http_request *req, oms_http_response *res, int status, const char *code,
                            const char *message, const char *field);
/* Maps err->code once (EINVAL 400, EFORBIDDEN 403, ENOTFOUND 404, ECONFLICT/EBUSY 409, ETOOLARGE 413,
 * EUNSUPPORTED 415, EUNAVAILABLE 503, ETIMEOUT 504, else 500) and answers with
 * the error body made of err (its code is err->reason when set, else the
 * name of err->code). */
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

/* Parking: a handler that must wait for something other than its own work
 * (an order reaching a final status, the next server-sent event) parks the
 * request and returns without answering; its handler thread goes on to other
 * requests and the connection waits without a thread. Later, any thread fills
 * `res` (with the oms_http_respond_* builders) and calls oms_http_finish once;
 * the answer is then sent. After oms_http_park returns, the handler must not
 * touch req or res again (another thread may finish it at once). The
 * deadlines of oms_http_limits do not apply to a parked request: its owner
 * bounds the wait.
 *
 * `on_stop` (required) is called when the server stops, once for each request
 * that was still parked when the stop began, on the stopping thread. By then
 * another thread of the owner may have finished the request (and it may be
 * gone): on_stop must look `req` up in the owner's own records, under the
 * owner's lock, and finish it (answering 503, say) only if it is still there,
 * never dereferencing it otherwise. The server waits until every parked
 * request is finished. */
typedef void (*oms_http_on_stop)(void *ctx, oms_http_request *req);
void oms_http_park(oms_http_request *req, oms_http_on_stop on_stop, void *ctx);
void oms_http_finish(oms_http_request *req);

typedef struct oms_http_route {
    const char *method;
    const char *pattern; /* "/orders/{}"; matched segment by segment */
    oms_http_handler handler;
    const char *name; /* label for logs and metrics, e.g. "get_order" */
    const void *data; /* the caller's, handed to the handler as req->route_data */
} oms_http_route;

/* Whether the process can serve: fills `why` ("database: connection refused")
 * and returns false when not. Called for GET /ready. */
typedef bool (*oms_http_ready_fn)(void *ctx, char *why, size_t why_len);

/* How much a server may take. Every 0 but per_ip_connections' means the
 * default in parentheses; oms_http_settings_add reads them from the
 * settings named. */
typedef struct oms_http_limits {
    int threads;            /* HTTP_THREADS: threads running handlers (16;
                             * the gateway's default is 64) */
    int io_threads;         /* HTTP_IO_THREADS: event-loop threads (2) */
    int max_connections;    /* HTTP_MAX_CONNECTIONS (16384); lowered, with a
                             * warning, to what the open-file limit allows
                             * after raising its soft limit to the hard one */
    int per_ip_connections; /* HTTP_PER_IP_CONNECTIONS (256 by the setting;
                             * 0: no cap, for a listener behind a proxy that
                             * hides client addresses) */
    int header_timeout_s;   /* HTTP_HEADER_TIMEOUT_S (10): the request line and
                             * headers must arrive within it, counted from the
                             * connection's start or its previous answer (so
                             * it is also how long a kept-alive connection may
                             * stay idle) */
    int body_timeout_s;     /* HTTP_BODY_TIMEOUT_S (30): the body must arrive
                             * within it of the headers */
    int send_timeout_s;     /* HTTP_SEND_TIMEOUT_S (30): the answer must be
                             * taken by the client within it */
    int max_uploads;        /* HTTP_MAX_UPLOADS (1024): requests whose body is
                             * still arriving, at once; one more is answered
                             * 503 with Retry-After at once. A connection
                             * waiting for a body holds about 7 KiB, one
                             * waiting for headers about 5 KiB: this keeps
                             * 10,000 slow connections under 64 MiB */
} oms_http_limits;

/* TLS: certificate chain and private key files (PEM). Read at start (a bad
 * file stops the start) and again on SIGHUP (a bad file keeps the current
 * ones, with an error line): new connections get the new certificate, open
 * ones keep theirs, the listener stays. */
typedef struct oms_http_tls {
    const char *cert_file; /* TLS_CERT_FILE; NULL: plain HTTP */
    const char *key_file;  /* TLS_KEY_FILE */
} oms_http_tls;

/* Adds the HTTP_* and TLS_* rows of the settings above to a process's table
 * (config.h), loaded into `limits` and `tls`. `default_threads` is
 * HTTP_THREADS's default for this process (a service's handlers wait on its
 * database pool, the gateway's on other services). */
typedef struct oms_settings oms_settings;
void oms_http_settings_add(oms_settings *t, oms_http_limits *limits, oms_http_tls *tls, const char *default_threads);

typedef struct oms_http_config {
    const char *bind_address; /* NULL: all interfaces */
    int port;
    oms_http_limits limits;
    oms_http_tls tls;
    const oms_http_route *routes;
    size_t route_count;
    void *ctx;               /* passed to handlers and ready */
    oms_http_ready_fn ready; /* NULL: always ready */
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
    /* Paths answered 308 Permanent Redirect to themselves without their one
     * trailing '/', NULL-terminated (the gateway: "/console/", the address a
     * person types for the console); NULL: none. Any other trailing '/' is an
     * empty segment, refused with 400. */
    const char *const *slash_redirects;
} oms_http_config;

typedef struct oms_http_server oms_http_server;

/* Starts listening; NULL with err filled (port in use, bad config). */
oms_http_server *oms_http_server_start(const oms_http_config *cfg, oms_error *err);

/* Stops accepting, asks parked requests to finish (their on_stop), lets
 * requests in flight finish (up to `grace_ms`; a handler still running after
 * that is waited for, since its connection cannot be dropped under it), then
 * closes every connection and frees. */
void oms_http_server_stop(oms_http_server *s, int grace_ms);

/* Reads the certificate and key files again (what SIGHUP does); OMS_OK, or
 * the error with the current certificate kept. OMS_EINVAL without TLS. */
oms_err oms_http_server_reload_tls(oms_http_server *s, oms_error *err);

/* The port the server listens on (useful after asking for port 0). */
int oms_http_server_port(const oms_http_server *s);

#endif
