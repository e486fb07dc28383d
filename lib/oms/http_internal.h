/* http_internal.h -- what the parts of the HTTP server share: http.c (the
 * handlers' side: accessors, answers), http_server.c (libmicrohttpd, routing,
 * threads), http_conn.c (connections and their deadlines) and http_tls.c
 * (certificates). Not for use outside lib/oms/http*.c. */
#ifndef OMS_HTTP_INTERNAL_H
#define OMS_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "http.h"

/* ---- a request, from its headers to its answer (lives in its arena) ---- */

typedef struct http_conn http_conn;

typedef struct http_request_state {
    oms_http_server *server;
    struct MHD_Connection *conn;
    http_conn *tracked; /* NULL when the connection could not be tracked */
    oms_http_request req;
    oms_http_response res;
    char *body;
    size_t body_len;
    size_t body_cap;
    bool too_large;
    bool uploading;     /* counted in the server's uploads */
    bool answered;      /* a response was queued */
    _Atomic bool ready; /* the answer is made: queue it on the next call */
    double start_s;
    const char *route_name;
    /* the handler queue, then the parked list */
    struct http_request_state *next, *prev;
    bool in_parked_list;
    oms_http_on_stop on_stop;
    void *on_stop_ctx;
} http_request_state;

/* ---- answers (http.c) ---- */

/* The fixed 500 answer that needs no memory. */
void http_respond_out_of_memory(oms_http_response *res);

/* Whether s is valid UTF-8, as jansson judges it (JSON strings must be). */
bool http_is_utf8(const char *s);

/* ---- routing and the built-in endpoints (http_dispatch.c) ---- */

/* Answers the request: built-in endpoints, admission, routing, the route's
 * handler (which may park it). */
void http_dispatch(const oms_http_config *cfg, http_request_state *st);

/* Whether the request is answered on the event loop (it cannot block):
 * GET /health, so that a liveness probe sees the loop, not the handlers. */
bool http_answers_at_once(const http_request_state *st);
void http_answer_at_once(http_request_state *st);

/* The security headers every answer gets (the handler's own Cache-Control
 * and Content-Security-Policy win). */
void http_add_security_headers(struct MHD_Response *r, const oms_http_response *res, bool tls);

/* ---- connections and their deadlines (http_conn.c) ---- */

typedef enum {
    HTTP_CONN_HEADERS, /* waiting for a request line and headers */
    HTTP_CONN_BODY,    /* headers read, waiting for the body */
    HTTP_CONN_WORKING, /* a handler has it, or it is parked: no deadline */
    HTTP_CONN_SENDING, /* the answer is queued, waiting for the client to take it */
} http_conn_phase;

typedef struct http_conns http_conns;

/* Tracks connections and closes those past their phase's deadline (a thread
 * that looks once a second). NULL when out of memory. */
http_conns *http_conns_start(oms_http_server *owner, int header_timeout_s, int body_timeout_s, int send_timeout_s);
void http_conns_stop(http_conns *c);

/* From libmicrohttpd's connection notifications. http_conn_opened returns
 * NULL when out of memory (the connection is then served without deadlines
 * but still under libmicrohttpd's inactivity timeout). */
http_conn *http_conn_opened(http_conns *c, struct MHD_Connection *conn);
void http_conn_closed(http_conns *c, http_conn *h);
void http_conn_enter(http_conn *h, http_conn_phase phase);
oms_http_server *http_conn_owner(const http_conn *h);

/* ---- TLS (http_tls.c) ---- */

typedef struct http_tls http_tls;

/* Loads the certificate chain and key; NULL with err filled (the file that
 * failed and why). */
http_tls *http_tls_load(const oms_http_tls *files, oms_error *err);
/* Loads the files again; on failure the current ones stay. */
oms_err http_tls_reload(http_tls *t, oms_error *err);
void http_tls_free(http_tls *t);

/* The libmicrohttpd options of a TLS listener (certificate callback,
 * protocol versions), written into out; returns how many. */
#define HTTP_TLS_OPTIONS 2
size_t http_tls_options(struct MHD_OptionItem *out);

/* The TLS state of the server a connection belongs to (http_server.c; the
 * certificate callback finds it this way). */
http_tls *http_server_tls_of(struct MHD_Connection *conn);

#endif
