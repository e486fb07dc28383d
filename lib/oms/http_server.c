/* http_server.c -- the HTTP server over libmicrohttpd: event loops that never
 * block, a bounded set of handler threads, and parking.
 *
 * libmicrohttpd runs `io_threads` epoll loops (MHD_USE_EPOLL_INTERNAL_THREAD
 * with a thread pool). They read a request, and when it is complete the
 * connection is suspended (MHD_suspend_connection) and the request queued for
 * the handler threads; a handler thread answers it (or parks it) and resumes
 * the connection, and libmicrohttpd calls the access handler once more on
 * its loop, where the answer is queued. So an idle or slow connection costs
 * no thread, and a blocking handler holds one handler thread, never a loop.
 *
 * Each request gets an arena, made when its headers are in and destroyed when
 * libmicrohttpd says the answer is done; between the loop and a handler
 * thread, the request is handed over through the queue's lock and
 * libmicrohttpd's resume, so only one thread touches it at a time. */
#include "http_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "process.h"
#include "util.h"

#define REQUEST_ID_MAX 128
#define FIRST_BODY_BUFFER 1024
/* The request's arena starts small: 10,000 requests waiting for their body
 * hold 10,000 of these (the state, the strings, a small body fit). */
#define REQUEST_FIRST_BLOCK 2048
#define STOP_LOG_EVERY_MS 5000
/* Bytes libmicrohttpd may use per connection for the request line, headers
 * and its buffers: the largest request head is a little under this. Measured
 * (docs/architecture.md): what a connection costs in resident memory is the
 * pages actually touched, not this bound. */
#define CONNECTION_MEMORY (16 * 1024)
#define FILE_LIMIT_RESERVE 256 /* descriptors kept for everything but clients */

struct oms_http_server {
    oms_http_config cfg; /* cfg.routes points at routes */
    oms_http_route *routes;
    struct MHD_Daemon *daemon;
    http_conns *conns;
    http_tls *tls;
    int port;
    pthread_mutex_t lock; /* the queue, the parked list and the flags below */
    pthread_cond_t work;
    http_request_state *queue_head, *queue_tail;
    http_request_state *parked;
    bool refusing;     /* stopping: a complete request is answered 503 at once */
    bool handlers_end; /* stopping: handler threads end when the queue is empty */
    pthread_t *handlers;
    int handler_count;
    _Atomic int in_flight; /* requests begun and not completed */
    _Atomic int uploads;   /* requests whose body is still arriving */
    oms_counter *uploads_refused;
    _Atomic int waiting; /* suspended connections: queued, in a handler, parked, resuming */
};

/* Set by oms_http_park on the handler thread that runs the handler. */
static _Thread_local bool handler_parked;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the request's start ---- */

static bool valid_request_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-';
        if (!ok)
            return false;
    }
    return true;
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

static http_conn *tracked_connection(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

/* The request id, and the client's apart when the server makes its own. */
static bool set_request_ids(oms_http_server *srv, http_request_state *st)
{
    oms_arena *a = st->req.arena;
    const char *given = MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, "X-Request-Id");
    if (!valid_request_id(given))
        given = NULL;
    char made[OMS_UUID_LEN + 1];
    if (!given || srv->cfg.make_request_ids) {
        oms_uuid_new(made);
        st->req.request_id = oms_arena_strdup(a, made);
    } else {
        st->req.request_id = oms_arena_strdup(a, given);
    }
    if (given && srv->cfg.make_request_ids && !(st->req.client_request_id = oms_arena_strdup(a, given)))
        return false;
    return st->req.request_id != NULL;
}

/* A declared body over the bound is refused before it is read. */
static void check_declared_length(http_request_state *st)
{
    const char *declared = MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!declared)
        return;
    char *end = NULL;
    unsigned long long n = strtoull(declared, &end, 10);
    if (end == declared || n > OMS_HTTP_MAX_BODY)
        st->too_large = true;
    else if (n > 0)
        st->body_cap = (size_t)n + 1; /* the first buffer: exactly what was announced */
}

static http_request_state *begin_request(oms_http_server *srv, struct MHD_Connection *conn, const char *url,
                                         const char *method)
{
    oms_arena *a = oms_arena_create(REQUEST_FIRST_BLOCK);
    http_request_state *st = a ? oms_arena_calloc(a, 1, sizeof *st) : NULL;
    if (!st) {
        oms_arena_destroy(a);
        return NULL;
    }
    st->server = srv;
    st->conn = conn;
    st->tracked = tracked_connection(conn);
    st->start_s = now_seconds();
    st->route_name = "unknown";
    st->req.arena = a;
    st->req.internal = st;
    st->req.method = oms_arena_strdup(a, method);
    st->req.path = oms_arena_strdup(a, url);
    st->req.body = "";
    st->req.client_ip = client_ip(a, conn);
    st->res.content_type = "application/json";
    if (!st->req.method || !st->req.path || !set_request_ids(srv, st)) {
        oms_arena_destroy(a);
        return NULL;
    }
    check_declared_length(st);
    atomic_fetch_add(&srv->in_flight, 1);
    return st;
}

/* Keeps the body in a buffer that grows (doubling, from what was announced
 * or 1 KiB) up to the bound: a slow client that sent a few bytes holds a few
 * bytes, not the bound. */
static void append_body(http_request_state *st, const char *data, size_t n)
{
    if (st->too_large)
        return;
    if (n > OMS_HTTP_MAX_BODY - st->body_len) {
        st->too_large = true;
        return;
    }
    size_t need = st->body_len + n + 1;
    if (!st->body || need > st->body_cap) {
        size_t cap = st->body_cap ? st->body_cap : FIRST_BODY_BUFFER;
        while (cap < need)
            cap *= 2;
        if (cap > OMS_HTTP_MAX_BODY + 1)
            cap = OMS_HTTP_MAX_BODY + 1;
        char *grown = oms_arena_alloc(st->req.arena, cap);
        if (!grown) {
            st->too_large = true;
            return;
        }
        if (st->body_len)
            memcpy(grown, st->body, st->body_len);
        st->body = grown;
        st->body_cap = cap;
    }
    memcpy(st->body + st->body_len, data, n);
    st->body_len += n;
}

/* ---- the answer ---- */

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

static void record(http_request_state *st, int status)
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

/* ---- requests waiting for their body ---- */

static bool announces_body(const http_request_state *st)
{
    return st->body_cap > 0 || MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, "Transfer-Encoding") != NULL;
}

/* Counts a request whose body is to arrive; false when the server already
 * waits for as many bodies as it may (see max_uploads). */
static bool start_upload(oms_http_server *srv, http_request_state *st)
{
    if (!announces_body(st))
        return true;
    if (atomic_fetch_add(&srv->uploads, 1) >= srv->cfg.limits.max_uploads) {
        atomic_fetch_sub(&srv->uploads, 1);
        oms_counter_add(srv->uploads_refused, 1);
        return false;
    }
    st->uploading = true;
    return true;
}

static void end_upload(http_request_state *st)
{
    if (st->uploading) {
        st->uploading = false;
        atomic_fetch_sub(&st->server->uploads, 1);
    }
}

/* Queues the answer on the connection (on its event loop). */
static enum MHD_Result send_answer(http_request_state *st)
{
    oms_http_response *res = &st->res;
    if (atomic_exchange(&st->ready, false))
        atomic_fetch_sub(&st->server->waiting, 1);
    if (res->status == 0) {
        oms_http_respond_error(&st->req, res, 500, "internal", "the handler gave no answer", NULL);
        if (res->status == 0)
            http_respond_out_of_memory(res);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(res->body_len, (void *)(res->body ? res->body : ""),
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            res->content_type ? res->content_type : "application/json");
    MHD_add_response_header(r, "X-Request-Id", st->req.request_id);
    for (const oms_http_header_field *h = res->headers; h; h = h->next)
        MHD_add_response_header(r, h->name, h->value);
    http_add_security_headers(r, res, st->server->tls != NULL);
    enum MHD_Result rc = MHD_queue_response(st->conn, (unsigned)res->status, r);
    MHD_destroy_response(r);
    st->answered = true;
    http_conn_enter(st->tracked, HTTP_CONN_SENDING);
    record(st, res->status);
    return rc;
}

/* Answers on the event loop: what cannot block. */
static enum MHD_Result answer_here(http_request_state *st)
{
    http_dispatch(&st->server->cfg, st);
    return send_answer(st);
}

/* 503 at once to a request whose body the server will not wait for. */
static enum MHD_Result answer_busy(http_request_state *st)
{
    st->route_name = "busy";
    oms_http_add_header(&st->req, &st->res, "Retry-After", "1");
    oms_http_respond_error(&st->req, &st->res, 503, "service_unavailable",
                           "the server is waiting for too many request bodies; retry", NULL);
    return send_answer(st);
}

/* Hands the connection back to its event loop with the answer made. */
static void resume(http_request_state *st)
{
    struct MHD_Connection *conn = st->conn; /* st is the loop's again once resumed */
    atomic_store(&st->ready, true);
    MHD_resume_connection(conn);
}

/* ---- handler threads ---- */

static enum MHD_Result hand_to_handlers(oms_http_server *srv, http_request_state *st)
{
    pthread_mutex_lock(&srv->lock);
    if (srv->refusing) {
        pthread_mutex_unlock(&srv->lock);
        st->route_name = "stopping";
        oms_http_respond_error(&st->req, &st->res, 503, "service_unavailable", "the server is stopping", NULL);
        return send_answer(st);
    }
    MHD_suspend_connection(st->conn);
    atomic_fetch_add(&srv->waiting, 1);
    http_conn_enter(st->tracked, HTTP_CONN_WORKING);
    st->next = NULL;
    if (srv->queue_tail)
        srv->queue_tail->next = st;
    else
        srv->queue_head = st;
    srv->queue_tail = st;
    pthread_cond_signal(&srv->work);
    pthread_mutex_unlock(&srv->lock);
    return MHD_YES;
}

/* The next queued request, or NULL when the threads are to end. */
static http_request_state *next_request(oms_http_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    while (!srv->queue_head && !srv->handlers_end)
        pthread_cond_wait(&srv->work, &srv->lock);
    http_request_state *st = srv->queue_head;
    if (st) {
        srv->queue_head = st->next;
        if (!srv->queue_head)
            srv->queue_tail = NULL;
    }
    pthread_mutex_unlock(&srv->lock);
    return st;
}

static void *handler_main(void *arg)
{
    oms_http_server *srv = arg;
    http_request_state *st;
    while ((st = next_request(srv)) != NULL) {
        oms_log_set_request_id(st->req.request_id);
        handler_parked = false;
        http_dispatch(&srv->cfg, st);
        oms_log_set_request_id(NULL);
        if (!handler_parked)
            resume(st); /* after a park, st may be gone already */
    }
    return NULL;
}

static bool start_handlers(oms_http_server *srv, int count)
{
    srv->handlers = calloc((size_t)count, sizeof *srv->handlers);
    if (!srv->handlers)
        return false;
    for (; srv->handler_count < count; srv->handler_count++) {
        if (pthread_create(&srv->handlers[srv->handler_count], NULL, handler_main, srv) != 0)
            return false;
    }
    return true;
}

static void end_handlers(oms_http_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    srv->handlers_end = true;
    pthread_cond_broadcast(&srv->work);
    pthread_mutex_unlock(&srv->lock);
    for (int i = 0; i < srv->handler_count; i++)
        pthread_join(srv->handlers[i], NULL);
    free(srv->handlers);
    srv->handlers = NULL;
    srv->handler_count = 0;
}

/* ---- parking ---- */

void oms_http_park(oms_http_request *req, oms_http_on_stop on_stop, void *ctx)
{
    http_request_state *st = req->internal;
    oms_http_server *srv = st->server;
    pthread_mutex_lock(&srv->lock);
    st->on_stop = on_stop;
    st->on_stop_ctx = ctx;
    st->prev = NULL;
    st->next = srv->parked;
    if (srv->parked)
        srv->parked->prev = st;
    srv->parked = st;
    st->in_parked_list = true;
    pthread_mutex_unlock(&srv->lock);
    handler_parked = true;
}

void oms_http_finish(oms_http_request *req)
{
    http_request_state *st = req->internal;
    oms_http_server *srv = st->server;
    pthread_mutex_lock(&srv->lock);
    if (st->in_parked_list) {
        if (st->prev)
            st->prev->next = st->next;
        else
            srv->parked = st->next;
        if (st->next)
            st->next->prev = st->prev;
        st->in_parked_list = false;
    }
    pthread_mutex_unlock(&srv->lock);
    resume(st);
}

typedef struct stop_call {
    oms_http_on_stop fn;
    void *ctx;
    oms_http_request *req;
} stop_call;

/* Calls on_stop for each parked request; what is read of a request is read
 * under the lock, since another thread may finish it as soon as it drops. */
static void stop_parked(oms_http_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    size_t n = 0;
    for (http_request_state *st = srv->parked; st; st = st->next)
        n++;
    stop_call *calls = n ? calloc(n, sizeof *calls) : NULL;
    size_t i = 0;
    for (http_request_state *st = srv->parked; st && calls; st = st->next)
        calls[i++] = (stop_call){.fn = st->on_stop, .ctx = st->on_stop_ctx, .req = &st->req};
    pthread_mutex_unlock(&srv->lock);
    if (n && !calls)
        oms_log(OMS_LOG_ERROR, "http_stop", "error", "out of memory: parked requests not told to stop", NULL);
    for (i = 0; calls && i < n; i++)
        calls[i].fn(calls[i].ctx, calls[i].req);
    free(calls);
}

/* ---- libmicrohttpd callbacks ---- */

/* Every call after the first, on the connection's event loop. */
static enum MHD_Result continue_request(oms_http_server *srv, http_request_state *st, const char *upload_data,
                                        size_t *upload_data_size)
{
    if (atomic_load(&st->ready))
        return send_answer(st); /* resumed by a handler thread */
    if (st->answered) {
        *upload_data_size = 0; /* discard what still arrives */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /* Past the bound, the rest is read and dropped (libmicrohttpd 0.9.75
         * takes no answer in the middle of a body), within the body deadline;
         * the 413 goes when the body ends. */
        append_body(st, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    end_upload(st);
    if (st->body) {
        st->body[st->body_len] = '\0';
        st->req.body = st->body;
        st->req.body_len = st->body_len;
    }
    return http_answers_at_once(st) ? answer_here(st) : hand_to_handlers(srv, st);
}

/* The first call: the headers are in. */
static enum MHD_Result first_call(oms_http_server *srv, http_request_state *st)
{
    http_conn_enter(st->tracked, HTTP_CONN_BODY);
    if (st->too_large)
        return answer_here(st); /* 413 now, without reading the body */
    return start_upload(srv, st) ? MHD_YES : answer_busy(st);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    oms_http_server *srv = cls;
    http_request_state *st = *con_cls;
    bool first = st == NULL;
    if (first) {
        st = begin_request(srv, conn, url, method);
        if (!st)
            return MHD_NO;
        *con_cls = st;
    }
    oms_log_set_request_id(st->req.request_id); /* what the loop logs now is this request's */
    enum MHD_Result rc = first ? first_call(srv, st) : continue_request(srv, st, upload_data, upload_data_size);
    oms_log_set_request_id(NULL);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    oms_http_server *srv = cls;
    http_request_state *st = *con_cls;
    if (!st)
        return;
    *con_cls = NULL;
    end_upload(st);
    if (atomic_exchange(&st->ready, false))
        atomic_fetch_sub(&srv->waiting, 1);          /* resumed, but the client had gone */
    http_conn_enter(st->tracked, HTTP_CONN_HEADERS); /* the next request's clock starts */
    oms_arena_destroy(st->req.arena);
    atomic_fetch_sub(&srv->in_flight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    oms_http_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = http_conn_opened(srv->conns, conn);
    } else {
        http_conn_closed(srv->conns, *socket_context);
        *socket_context = NULL;
    }
}

/* libmicrohttpd writes a line per refused or broken connection: under an
 * attack, one per attempt. At most MHD_LOG_PER_S lines a second go out; the
 * next line that does says how many were left out. */
#define MHD_LOG_PER_S 10

static pthread_mutex_t mhd_log_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t mhd_log_second;
static int mhd_log_count;
static long mhd_log_dropped;

/* Whether a line may go out now; *dropped: lines left out before it. */
static bool mhd_log_allowed(long *dropped)
{
    int64_t second = oms_monotonic_ms() / 1000;
    pthread_mutex_lock(&mhd_log_lock);
    if (second != mhd_log_second) {
        mhd_log_second = second;
        mhd_log_count = 0;
    }
    bool allowed = mhd_log_count < MHD_LOG_PER_S;
    if (allowed) {
        mhd_log_count++;
        *dropped = mhd_log_dropped;
        mhd_log_dropped = 0;
    } else {
        mhd_log_dropped++;
    }
    pthread_mutex_unlock(&mhd_log_lock);
    return allowed;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    long dropped = 0;
    if (!mhd_log_allowed(&dropped))
        return;
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '\n')
        text[--n] = '\0';
    if (dropped == 0) {
        oms_log(OMS_LOG_WARN, "http_server", "message", text, NULL);
        return;
    }
    char left_out[24];
    snprintf(left_out, sizeof left_out, "%ld", dropped);
    oms_log(OMS_LOG_WARN, "http_server", "message", text, "lines_left_out_before", left_out, NULL);
}

http_tls *http_server_tls_of(struct MHD_Connection *conn)
{
    http_conn *h = tracked_connection(conn);
    oms_http_server *srv = h ? http_conn_owner(h) : NULL;
    return srv ? srv->tls : NULL;
}

/* ---- start and stop ---- */

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

static int default_if_zero(int value, int fallback) { return value ? value : fallback; }

/* The soft open-file limit raised to the hard one, and the connection limit
 * kept under it (each connection is a descriptor). */
static int connections_allowed(int wanted)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return wanted;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
        getrlimit(RLIMIT_NOFILE, &lim);
    }
    if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur >= (rlim_t)wanted + FILE_LIMIT_RESERVE)
        return wanted;
    int allowed = lim.rlim_cur > 2 * FILE_LIMIT_RESERVE ? (int)lim.rlim_cur - FILE_LIMIT_RESERVE : 1;
    char text[64];
    snprintf(text, sizeof text, "%d", allowed);
    oms_log(OMS_LOG_WARN, "http_connection_limit_lowered", "max_connections", text, "reason",
            "the open-file limit (ulimit -n) is lower", NULL);
    return allowed;
}

/* Fills the defaults of every limit left 0. */
static oms_http_limits effective_limits(const oms_http_limits *given)
{
    oms_http_limits l = *given;
    l.threads = default_if_zero(l.threads, 16);
    l.io_threads = default_if_zero(l.io_threads, 2);
    l.max_connections = connections_allowed(default_if_zero(l.max_connections, 16384));
    l.header_timeout_s = default_if_zero(l.header_timeout_s, 10);
    l.body_timeout_s = default_if_zero(l.body_timeout_s, 30);
    l.send_timeout_s = default_if_zero(l.send_timeout_s, 30);
    l.max_uploads = default_if_zero(l.max_uploads, 1024);
    return l;
}

static int longest(int a, int b, int c)
{
    int m = a > b ? a : b;
    return m > c ? m : c;
}

static struct MHD_Daemon *start_daemon(oms_http_server *srv, const struct sockaddr_storage *addr,
                                       unsigned int family_flag)
{
    const oms_http_limits *l = &srv->cfg.limits;
    struct MHD_OptionItem tls_options[HTTP_TLS_OPTIONS + 1] = {{0}};
    size_t n = srv->tls ? http_tls_options(tls_options) : 0;
    tls_options[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | family_flag |
                         (srv->tls ? MHD_USE_TLS : 0);
    /* libmicrohttpd's inactivity timeout only backs up the deadlines of
     * http_conn.c, which are shorter or equal. */
    unsigned int inactivity_s = (unsigned int)longest(l->header_timeout_s, l->body_timeout_s, l->send_timeout_s);
    return MHD_start_daemon(
        flags, (uint16_t)srv->cfg.port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)l->io_threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)l->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)(l->per_ip_connections > 0 ? l->per_ip_connections : 0), MHD_OPTION_CONNECTION_TIMEOUT,
        inactivity_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY, MHD_OPTION_ARRAY, tls_options,
        MHD_OPTION_END);
}

static void reload_on_sighup(void *arg)
{
    oms_http_server *srv = arg;
    oms_error err;
    oms_error_clear(&err);
    if (oms_http_server_reload_tls(srv, &err) == OMS_OK)
        oms_log(OMS_LOG_INFO, "tls_reloaded", "certificate", srv->cfg.tls.cert_file, NULL);
    else
        oms_log(OMS_LOG_ERROR, "tls_reload_failed", "error", err.message, NULL);
}

static void free_server(oms_http_server *srv)
{
    if (srv->handlers)
        end_handlers(srv);
    http_conns_stop(srv->conns);
    http_tls_free(srv->tls);
    pthread_cond_destroy(&srv->work);
    pthread_mutex_destroy(&srv->lock);
    free(srv->routes);
    free(srv);
}

static oms_http_server *start_failed(oms_http_server *srv, oms_error *err, oms_err code, const char *field,
                                     const char *message)
{
    free_server(srv);
    if (err->code == OMS_OK)
        oms_error_set(err, code, field, "%s", message);
    return NULL;
}

/* The parts that do not listen yet: routes, limits, TLS, threads. */
static oms_http_server *prepare(const oms_http_config *cfg, oms_error *err)
{
    oms_http_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->work, NULL);
    srv->cfg = *cfg;
    srv->cfg.limits = effective_limits(&cfg->limits);
    srv->uploads_refused = oms_metrics_counter("http_uploads_refused_total",
                                               "Requests answered 503 because too many bodies were arriving.", NULL);
    if (cfg->route_count && !(srv->routes = calloc(cfg->route_count, sizeof *srv->routes)))
        return start_failed(srv, err, OMS_ENOMEM, NULL, "out of memory");
    if (cfg->route_count)
        memcpy(srv->routes, cfg->routes, cfg->route_count * sizeof *srv->routes);
    srv->cfg.routes = srv->routes;
    if (cfg->tls.cert_file && !(srv->tls = http_tls_load(&cfg->tls, err)))
        return start_failed(srv, err, OMS_EINVAL, "TLS_CERT_FILE", "cannot load the certificate");
    const oms_http_limits *l = &srv->cfg.limits;
    srv->conns = http_conns_start(srv, l->header_timeout_s, l->body_timeout_s, l->send_timeout_s);
    if (!srv->conns || !start_handlers(srv, l->threads))
        return start_failed(srv, err, OMS_ENOMEM, NULL, "cannot start the HTTP server's threads");
    return srv;
}

oms_http_server *oms_http_server_start(const oms_http_config *cfg, oms_error *err)
{
    if (!cfg || cfg->port < 0 || cfg->port > 65535 || (cfg->route_count && !cfg->routes)) {
        oms_error_set(err, OMS_EINVAL, "PORT", "bad HTTP server configuration");
        return NULL;
    }
    if (cfg->tls.cert_file && !cfg->tls.key_file) {
        oms_error_set(err, OMS_EINVAL, "TLS_KEY_FILE", "TLS_CERT_FILE is set but TLS_KEY_FILE is not");
        return NULL;
    }
    struct sockaddr_storage addr;
    unsigned int family_flag = 0;
    if (!listen_address(cfg->bind_address, cfg->port, &addr, &family_flag)) {
        oms_error_set(err, OMS_EINVAL, "bind_address", "not an IP address: %s", cfg->bind_address);
        return NULL;
    }
    oms_error_clear(err);
    oms_http_server *srv = prepare(cfg, err);
    if (!srv)
        return NULL;
    srv->daemon = start_daemon(srv, &addr, family_flag);
    if (!srv->daemon) {
        char message[64];
        snprintf(message, sizeof message, "cannot listen on port %d (in use?)", cfg->port);
        return start_failed(srv, err, OMS_EUNAVAILABLE, "PORT", message);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : cfg->port;
    if (srv->tls && !oms_process_on_reload(reload_on_sighup, srv))
        oms_log(OMS_LOG_WARN, "tls_reload_unavailable", "reason", "no place left for a SIGHUP hook", NULL);
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", srv->port);
    oms_log(OMS_LOG_INFO, "http_listening", "port", port_text, "tls", srv->tls ? "on" : "off", NULL);
    return srv;
}

/* Waits until `counter` is 0, at most until `deadline_ms` (monotonic; 0: no
 * limit, saying every few seconds what it waits for). */
static bool wait_for_zero(_Atomic int *counter, int64_t deadline_ms, const char *what)
{
    int64_t next_log = oms_monotonic_ms() + STOP_LOG_EVERY_MS;
    while (atomic_load(counter) > 0) {
        int64_t now = oms_monotonic_ms();
        if (deadline_ms && now >= deadline_ms)
            return false;
        if (!deadline_ms && now >= next_log) {
            char count[16];
            snprintf(count, sizeof count, "%d", atomic_load(counter));
            oms_log(OMS_LOG_WARN, "http_stop_waiting", "for", what, "count", count, NULL);
            next_log = now + STOP_LOG_EVERY_MS;
        }
        usleep(10 * 1000);
    }
    return true;
}

void oms_http_server_stop(oms_http_server *s, int grace_ms)
{
    if (!s)
        return;
    oms_process_forget_reload(s);
    /* Stop accepting first, so that no new request starts; then let requests
     * in flight finish. The listening socket is ours once quiesced, but each
     * epoll thread removes it from its own set when it next wakes: closing it
     * before they have (before MHD_stop_daemon) makes that removal fail, which
     * libmicrohttpd treats as fatal (abort). New clients wait in the backlog
     * until it is closed below, and are refused from then on. */
    MHD_socket listener = MHD_quiesce_daemon(s->daemon);
    stop_parked(s);
    wait_for_zero(&s->in_flight, oms_monotonic_ms() + (grace_ms > 0 ? grace_ms : 0) + 1, NULL);
    /* A suspended connection cannot be closed under its handler (and
     * libmicrohttpd refuses to stop with one): wait for the handlers. */
    wait_for_zero(&s->waiting, 0, "requests in handlers or parked");
    pthread_mutex_lock(&s->lock);
    s->refusing = true;
    pthread_mutex_unlock(&s->lock);
    end_handlers(s);
    wait_for_zero(&s->waiting, 0, "answers to queue");
    MHD_stop_daemon(s->daemon);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
    free_server(s);
}

oms_err oms_http_server_reload_tls(oms_http_server *s, oms_error *err)
{
    if (!s->tls)
        return oms_error_set(err, OMS_EINVAL, "TLS_CERT_FILE", "the server does not use TLS");
    return http_tls_reload(s->tls, err);
}

int oms_http_server_port(const oms_http_server *s) { return s->port; }
